"""On a Dask worker: a resident pool of nndeploy worker processes, held by a Dask actor.

The server's :class:`~.dask.DaskExecutor` places one :class:`WorkerPool` on each Dask worker, pinned to it. The
pool *is* the local executor (``local.py``: pre-warmed child processes, crash reasons, cancel grace, restarts),
run on the Dask worker's event loop. So a graph that segfaults kills an nndeploy child, never the Dask worker,
and a task costs no nndeploy import. Every method is ``async``: they run on the worker's loop, never queued
behind a running task (an actor's sync methods share one thread, so a cancel would wait for the run).

Events (:class:`~.executor.Started`, progress, log) and capacity changes wait in a bounded buffer that the
server drains with :meth:`WorkerPool.events`, a long poll straight from the worker to the server (one hop;
nothing is kept on the scheduler). Each poll's cursor tells the pool what the server has; :meth:`WorkerPool.run`
answers with the outcome *and* the task's events the server may not have yet, so its end never waits for a poll
(each task's events are numbered: the server drops those it got twice).

Imported only on Dask workers (and by the tests); it never imports distributed itself.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import os
import socket
from pathlib import Path
from typing import Any

from ..schemas import RunOutcome, TaskState
from ..workspace import Workspace
from .executor import ExecutorContext, ExecutorEvent, ExecutorTask
from .local import LocalExecutor
from .plugins import BUILTIN_PLUGIN_DIR

MAX_BUFFERED_EVENTS = 20_000  # a server that stops polling must not fill the Dask worker's memory
MAX_EARLY_CANCELS = 1000
RELEASE_CHECK_SECONDS = 1.0
BATCH_SECONDS = 0.02  # a poll that had to wait gathers what follows its first event: fewer round trips per task
LOG = logging.getLogger("nndeploy_jupyter.dask")


class WorkspaceNotShared(RuntimeError):
    """This Dask worker does not see the server's workspace at the same path."""


class EventBuffer:
    """Numbered entries the server reads with a cursor. Kept apart from the actor, so that the callbacks the
    pool holds do not keep the actor alive once distributed has released it."""

    def __init__(self) -> None:
        self.entries: collections.deque[tuple[int, dict[str, Any]]] = collections.deque(maxlen=MAX_BUFFERED_EVENTS)
        self.last = 0
        self.acked = 0  # the server has every entry up to here (it asked for what comes after)
        self.added = asyncio.Event()

    def put(self, entry: dict[str, Any]) -> None:
        self.last += 1
        self.entries.append((self.last, entry))
        self.added.set()

    def unacked(self, task_id: str) -> list[dict[str, Any]]:
        """The task's entries the server may not have yet (at most those since its last poll)."""
        found = []
        for number, entry in reversed(self.entries):
            if number <= self.acked:
                break
            if entry.get("task_id") == task_id:
                found.append(entry)
        return found[::-1]

    async def since(self, cursor: int, timeout: float) -> tuple[int, list[dict[str, Any]]]:
        self.acked = max(self.acked, cursor)
        if self.last <= cursor:
            self.added.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.added.wait(), timeout)
                await asyncio.sleep(BATCH_SECONDS)  # a task's end never waits for it: run() brings its last events
        return self.last, [entry for number, entry in self.entries if number > cursor]


class WorkerPool:
    """The actor. Created on the worker with the server's settings; :meth:`start` checks the workspace probe and
    warms the pool (size: the Dask worker's ``nthreads``)."""

    def __init__(self, workspace: str, probe_path: str, probe_token: str, grace: float, plugin_dirs: list[str],
                 builtin_plugins: bool, size: int | None = None):
        # Runs in one of the Dask worker's threads: nothing here may touch an event loop.
        self.workspace = Workspace(Path(workspace))
        self.probe_path, self.probe_token = Path(probe_path), probe_token
        self.grace = grace
        dirs = [Path(d) for d in plugin_dirs]
        # The built-in plugins are this worker's copy of the package, wherever it is installed here.
        self.plugin_dirs = [BUILTIN_PLUGIN_DIR, *dirs] if builtin_plugins else dirs
        self.size = size
        self.pool: LocalExecutor | None = None
        self.buffer: EventBuffer | None = None
        self.plugin_generation = 0
        self.early_cancels: collections.OrderedDict[str, None] = collections.OrderedDict()
        self._watchdog: asyncio.Task | None = None

    async def start(self) -> dict[str, Any]:
        """Check this worker sees the workspace, then warm the pool. Raises :class:`WorkspaceNotShared`."""
        await asyncio.to_thread(self._check_probe)
        size = self.size or _dask_worker_threads()
        buffer = self.buffer = EventBuffer()
        pool = self.pool = LocalExecutor(
            ExecutorContext(self.workspace, size, self.grace, self.plugin_dirs), log=LOG)
        pool.on_capacity_change(lambda: buffer.put({"capacity": pool.capacity()}))
        self._watchdog = asyncio.ensure_future(_stop_when_released(_own_key(self), pool))
        await pool.start()
        return {"capacity": pool.capacity(), "size": size, "host": socket.gethostname(), "pid": os.getpid()}

    async def stop(self) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()
        if self.pool is not None:
            await self.pool.stop()

    async def run(self, task_id: str, graph: dict[str, Any], name: str, plugin_generation: int) -> dict[str, Any]:
        """Run one task in the pool; ``{"outcome": RunOutcome as JSON, "events": its entries not yet polled}``."""
        assert self.pool is not None and self.buffer is not None
        if plugin_generation > self.plugin_generation:
            self.plugin_generation = plugin_generation
            self.pool.reload_plugins()
        sent = 0
        buffer = self.buffer

        def emit(event: ExecutorEvent) -> None:
            nonlocal sent
            sent += 1
            buffer.put({"task_id": task_id, "n": sent, "event": event.model_dump(mode="json")})

        if task_id in self.early_cancels:  # the cancel overtook the run (actor calls may use other connections)
            del self.early_cancels[task_id]
            outcome = RunOutcome(state=TaskState.CANCELLED)
        else:  # the pool knows the task before its first await: a cancel from then on reaches it
            outcome = await self.pool.run(ExecutorTask(task_id, graph, name), emit)
        return {"outcome": outcome.model_dump(mode="json"), "events": buffer.unacked(task_id)}

    async def cancel(self, task_id: str) -> bool:
        assert self.pool is not None
        if await self.pool.cancel(task_id):
            return True
        self.early_cancels[task_id] = None
        while len(self.early_cancels) > MAX_EARLY_CANCELS:
            self.early_cancels.popitem(last=False)
        return False

    async def events(self, cursor: int, timeout: float) -> tuple[int, list[dict[str, Any]]]:
        """The entries after ``cursor`` (waiting up to ``timeout`` s for one), and the new cursor."""
        assert self.buffer is not None
        return await self.buffer.since(cursor, timeout)

    def _check_probe(self) -> None:
        where = f"Dask worker on {socket.gethostname()}"
        try:
            token = self.probe_path.read_text().strip()
        except FileNotFoundError:
            raise WorkspaceNotShared(
                f"{where} does not see the workspace at {self.workspace.root}: the server's probe file "
                f"{self.probe_path} is not there (mount the same shared volume at the same path)") from None
        except OSError as e:
            raise WorkspaceNotShared(f"{where} cannot read the workspace at {self.workspace.root}: {e}") from None
        if token != self.probe_token:
            raise WorkspaceNotShared(
                f"{where} sees another folder at {self.workspace.root}: the server's probe file {self.probe_path} "
                "holds another server's token (mount the server's workspace there)")
        if not os.access(self.workspace.resources, os.W_OK):
            raise WorkspaceNotShared(f"{where} cannot write into {self.workspace.resources} (outputs go there)")


def _own_key(actor: WorkerPool) -> str:
    from distributed import get_worker

    return next(key for key, held in get_worker().state.actors.items() if held is actor)


def _dask_worker_threads() -> int:
    from distributed import get_worker

    return max(1, get_worker().state.nthreads)


async def _stop_when_released(key: str, pool: LocalExecutor) -> None:
    """A server that dies never calls stop(): the scheduler then drops its client and distributed releases the
    actor. Its processes (and the task they run) end then, instead of running on for nobody."""
    from distributed import get_worker

    actors = get_worker().state.actors
    while actors.get(key) is not None:
        await asyncio.sleep(RELEASE_CHECK_SECONDS)
    LOG.info("nndeploy pool %s released: stopping its processes", key)
    await pool.stop()
