"""Fakes for the queue's collaborators, so queue tests run in milliseconds without nndeploy; and
:func:`queue_on`, the real TaskQueue on them.

:class:`FakeExecutor` is a real :class:`~nndeploy_jupyter.runtime.executor.Executor`, chosen like any other by
``NnDeployExtension.executor_class`` (``"mocks.FakeExecutor"``), with a ``slots`` trait. What each task does is
written in its graph, under ``fake_`` (see :func:`fake_graph`); tests open the gates a task waits at.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from traitlets import Int, Unicode

from nndeploy_jupyter.errors import BadRequest
from nndeploy_jupyter.runtime.executor import BaseExecutor, Emit, ExecutorContext, ExecutorTask, Started
from nndeploy_jupyter.schemas import (
    EventEnvelope,
    LogEvent,
    NodeProgress,
    NodeStatus,
    OutputFile,
    ProgressEvent,
    RunOutcome,
)
from nndeploy_jupyter.services.events import EventHub
from nndeploy_jupyter.services.parameters import NodeSchemas
from nndeploy_jupyter.services.parameters import build as build_schemas
from nndeploy_jupyter.services.tasks import TaskQueue
from nndeploy_jupyter.states import TaskState
from nndeploy_jupyter.store import Database
from nndeploy_jupyter.store.tasks import TaskStore
from nndeploy_jupyter.workspace import Workspace

LOG = logging.getLogger("nndeploy-tests")

FAKE_KEY = "nndeploy.image.CannyNumpy"  # a key the real catalogue knows too, so a real server accepts the graph


def fake_graph(name: str = "fake", **script: Any) -> dict[str, Any]:
    """A one-node graph whose run :class:`FakeExecutor` plays from ``script``:

    ``steps`` progress events (default 1) and ``logs`` lines; ``hold`` waits RUNNING, ``hold_start`` waits
    DISPATCHED, until :meth:`FakeExecutor.release` (or a cancel); ``error`` fails it; ``crash`` fails it as a
    dead worker does, its slot coming back a moment later; ``ignore_cancel`` makes it hang until the cancel
    grace kills it; ``outputs`` are files it reports.
    """
    return {"name_": name, "fake_": script,
            "node_repository_": [{"key_": FAKE_KEY, "name_": "Step", "node_type_": "Intermediate",
                                  "inputs_": [], "outputs_": []}]}


@dataclass
class _Run:
    task: ExecutorTask
    script: dict[str, Any]
    gate: asyncio.Event = field(default_factory=asyncio.Event)
    cancelled: asyncio.Event = field(default_factory=asyncio.Event)


class FakeExecutor(BaseExecutor):
    slots = Int(1, config=True, help="tasks it runs at once once started")
    start_error = Unicode("", config=True, help="when set, start() fails with this reason (as a failed probe would)")

    def __init__(self, context: ExecutorContext, **kwargs: Any):
        super().__init__(context, **kwargs)
        self.up = False
        self.runs: dict[str, _Run] = {}
        self.started: list[str] = []  # task ids, in the order run() began
        self.cancels: list[str] = []
        self.capacity_calls = 0

    async def start(self) -> None:
        if self.start_error:
            raise RuntimeError(self.start_error)
        self.up = True
        self.capacity_changed()

    async def stop(self) -> None:
        self.up = False

    def capacity(self) -> int:
        self.capacity_calls += 1
        return self.slots if self.up else 0

    def set_slots(self, slots: int) -> None:
        self.slots = slots
        self.capacity_changed()

    def release(self, task_id: str) -> None:
        self.runs[task_id].gate.set()

    async def run(self, task: ExecutorTask, emit: Emit) -> RunOutcome:
        run = self.runs[task.task_id] = _Run(task, dict(task.graph.get("fake_") or {}))
        self.started.append(task.task_id)
        if run.script.get("hold_start") and not await self._passed(run):
            return RunOutcome(state=TaskState.CANCELLED)
        emit(Started(task_id=task.task_id, pid=4242))
        self._play(run, emit)
        if run.script.get("hold") and not await self._passed(run):
            return await self._cancelled(run)
        if run.script.get("crash"):
            self._lose_a_slot()
            return RunOutcome(state=TaskState.FAILED, error="worker crashed: SIGSEGV while running node Step")
        if run.script.get("error"):
            return RunOutcome(state=TaskState.FAILED, error=run.script["error"], outputs=self._outputs(run))
        return RunOutcome(state=TaskState.SUCCEEDED, values={"Step": "done"}, outputs=self._outputs(run))

    async def cancel(self, task_id: str) -> bool:
        self.cancels.append(task_id)
        run = self.runs.get(task_id)
        if run is None:
            return False
        run.cancelled.set()
        return True

    async def _passed(self, run: _Run) -> bool:
        """Wait at the run's gate; False if a cancel came first."""
        gate, cancel = asyncio.ensure_future(run.gate.wait()), asyncio.ensure_future(run.cancelled.wait())
        await asyncio.wait({gate, cancel}, return_when=asyncio.FIRST_COMPLETED)
        gate.cancel()
        cancel.cancel()
        return not run.cancelled.is_set()

    async def _cancelled(self, run: _Run) -> RunOutcome:
        outputs = self._outputs(run)
        if run.script.get("ignore_cancel"):  # hangs: killed once the grace is over
            await asyncio.sleep(self.context.cancel_grace_seconds)
            return RunOutcome(state=TaskState.CANCELLED, error="worker killed after cancel grace", outputs=outputs)
        return RunOutcome(state=TaskState.CANCELLED, outputs=outputs)

    def _play(self, run: _Run, emit: Emit) -> None:
        steps = run.script.get("steps", 1)
        for done in range(1, steps + 1):
            status = "DONE" if done == steps else "RUNNING"
            emit(ProgressEvent(task_id=run.task.task_id, done=done, total=steps,
                               detail={"Step": NodeStatus(time=1.0, status=status)},
                               nodes={"Step": NodeProgress(done=done, total=steps, status=status)}))
        for line in run.script.get("logs", ()):
            emit(LogEvent(task_id=run.task.task_id, log=line))

    def _outputs(self, run: _Run) -> list[OutputFile]:
        return [OutputFile(**output) for output in run.script.get("outputs", ())]

    def _lose_a_slot(self) -> None:
        """A worker died: one slot fewer until it is restarted, a moment later."""
        self.set_slots(self.slots - 1)
        asyncio.get_running_loop().call_later(0.01, lambda: self.set_slots(self.slots + 1))


def _fake_schemas() -> NodeSchemas:
    return build_schemas({"dag": {"nodes": [{"nodeEntity": {"key_": FAKE_KEY}}]}, "node_keys": [FAKE_KEY]})


class FakeCatalogue:
    """The node catalogue without the nndeploy probe: it knows :data:`FAKE_KEY`."""

    async def schemas(self) -> NodeSchemas:
        return _fake_schemas()

    async def check(self, fn):
        return await asyncio.to_thread(fn, _fake_schemas())

    def if_current(self, fn):
        return True, fn(_fake_schemas())

    def invalidate(self) -> None:
        pass


class FakeDownloads:
    """A task's downloads, held until :meth:`finish`; ``fail`` makes them fail with that reason."""

    def __init__(self) -> None:
        self.done = asyncio.Event()
        self.failure: str | None = None
        self.fetched: list[str] = []

    def finish(self, failure: str | None = None) -> None:
        self.failure = failure
        self.done.set()

    async def fetch_for_graph(self, task_id: str, graph: dict[str, Any]) -> dict[str, str]:
        await self.done.wait()
        if self.failure:
            raise BadRequest(self.failure)
        self.fetched.append(task_id)
        return {}

    def knows(self, job_id: str) -> bool:
        return False


# -- the real queue on the fakes ---------------------------------------------------------------------------

@dataclass
class Harness:
    queue: TaskQueue
    executor: FakeExecutor
    downloads: FakeDownloads
    events: list[EventEnvelope] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def heard(self, envelope: EventEnvelope) -> None:
        self.events.append(envelope)
        self.changed.set()

    def of(self, task_id: str, kind: str | None = None) -> list:
        return [e.result for e in self.events if e.result.task_id == task_id and kind in (None, e.result.type)]

    def states(self, task_id: str) -> list[str]:
        return [s.state for s in self.of(task_id, "status")]

    async def until(self, check: Callable[[], bool], timeout: float = 10) -> None:
        """Wait for ``check()``: looked at after each event, and every few ms for what the executor alone sees."""
        async def waiting() -> None:
            while not check():
                self.changed.clear()
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self.changed.wait(), 0.005)

        await asyncio.wait_for(waiting(), timeout)

    async def reaches(self, task_id: str, state: TaskState) -> None:
        await self.until(lambda: state in self.states(task_id))

    async def ends(self, task_id: str) -> None:
        await self.until(lambda: any(e.result.type == "task_run_info" for e in self.events
                                     if e.result.task_id == task_id))


@contextlib.asynccontextmanager
async def queue_on(path: Path, slots: int = 1, started: bool = True, grace: float = 0.05,
                   database: Database | None = None) -> AsyncIterator[Harness]:
    workspace = Workspace(path / "ws")
    workspace.create()
    db = database or Database(workspace.database_path)
    hub = EventHub()
    hub.attach(asyncio.get_running_loop())
    executor = FakeExecutor(ExecutorContext(workspace, cancel_grace_seconds=grace), slots=slots, log=LOG)
    downloads = FakeDownloads()
    harness = Harness(TaskQueue(TaskStore(db, 100), hub, executor, workspace, FakeCatalogue(), downloads, LOG),
                      executor, downloads)
    hub.bind(hub.subscribe(harness.heard), "*")
    await harness.queue.start()
    if started:
        await executor.start()
    try:
        yield harness
    finally:
        await harness.queue.stop()
        await executor.stop()
        await harness.queue.drain(1)
        if database is None:
            await asyncio.to_thread(db.close)
