"""The Dask executor: tasks run on a ``distributed`` cluster, the queue stays in the server's SQLite.

Chosen with ``c.NnDeployExtension.executor_class = "dask"``; configured with ``c.DaskExecutor.scheduler_address``
or ``c.DaskExecutor.cluster_factory`` (dask-gateway, dask-kubernetes...). Nothing imports ``distributed`` until
:meth:`DaskExecutor.start`, and then in a thread, so neither loading the extension nor its event loop pays.

Why actors and not plain tasks: on this kind of machine a task submitted to the scheduler costs 17-40 ms of
round trip (graph update, transitions), an actor call 2-3 ms (client -> worker, direct). So each Dask worker
holds one :class:`~.dask_pool.WorkerPool` actor, pinned to it: a resident pool of pre-warmed nndeploy
processes (the local executor's machinery) whose size is the worker's ``nthreads``. ``run()`` picks the pool
with the most free slots and awaits its ``run`` call; events come back through each pool's long poll.

Membership: the executor follows the scheduler's ``add-worker``/``remove-worker`` events (and re-reads the
worker list every ``refresh_seconds`` in case one was missed): a worker that joins gets a pool, and capacity
grows once it is warm; a worker that leaves takes its pool's capacity with it. A task whose Dask worker is lost
(killed, OOM, node gone) ends FAILED with the reason and is not re-run (see the README: its outputs may be half
written, and a task that kills its worker would kill the next one too).

Workspace: graphs name files under the server's workspace, so every worker must see it at the same path. At
start the server writes a probe file with a random token in ``resources/db/``; each pool reads it before it
warms. A worker that cannot is left out (its reason logged), and when no worker can, :meth:`unavailable` says
why, which the API answers with 503.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import secrets
import uuid
from dataclasses import dataclass, field
from typing import Any

from pydantic import TypeAdapter
from traitlets import Any as AnyTrait
from traitlets import Float, Unicode

from ..schemas import LogEvent, ProgressEvent, RunOutcome, TaskState, WorkerInfo, WorkerState
from .executor import BaseExecutor, Emit, ExecutorContext, ExecutorEvent, ExecutorTask, Started
from .plugins import BUILTIN_PLUGIN_DIR

EVENTS_POLL_SECONDS = 30.0  # a long poll answers at once when there are events; this bounds an idle one
POOL_START_SECONDS = 180.0  # the actor's creation plus its processes' warm-up (nndeploy import)
CONNECT_SECONDS = 30.0
STOP_SECONDS = 15.0
_EVENT = TypeAdapter(Started | ProgressEvent | LogEvent)


@dataclass
class _Pool:
    """The server's view of one Dask worker's pool."""

    address: str
    future: Any = None  # distributed.Future of the actor: held so the actor lives
    actor: Any = None
    size: int = 0
    capacity: int = 0  # live, warm processes, as the pool last said
    ready: bool = False
    error: str | None = None  # why it cannot run tasks (the workspace probe, a failed start)
    running: set[str] = field(default_factory=set)
    lost: asyncio.Future = field(default_factory=lambda: asyncio.get_running_loop().create_future())
    tasks: set[asyncio.Task] = field(default_factory=set)  # its start and its event poll

    @property
    def slots(self) -> int:
        """Tasks it takes at once: one per live, warm process."""
        return max(0, self.capacity) if self.ready and not self.lost.done() else 0

    @property
    def free(self) -> int:
        return self.slots - len(self.running)

    def lose(self, reason: str) -> None:
        if not self.lost.done():
            self.lost.set_result(reason)


@dataclass
class _Run:
    task_id: str
    emit: Emit
    pool: _Pool | None = None
    cancel_requested: bool = False
    received: int = 0  # the number of its last event emitted (its pool numbers them 1, 2...)


class DaskExecutor(BaseExecutor):
    """Graphs run on the Dask workers of a ``distributed`` cluster, in child processes there."""

    scheduler_address = Unicode(
        "", config=True,
        help="Address of the Dask scheduler, e.g. tcp://10.0.0.5:8786. Empty: cluster_factory gives the cluster, "
        "or else the DASK_SCHEDULER_ADDRESS environment variable / dask config (distributed's own lookup).",
    )
    cluster_factory = AnyTrait(
        None, allow_none=True, config=True,
        help="A callable, or the dotted path of one, that takes no argument and returns a dask Cluster "
        "(dask_gateway.GatewayCluster, dask_kubernetes.operator.KubeCluster...). It is called once at start, in a "
        "thread, and the cluster is closed when the server stops. Takes precedence over scheduler_address.",
    )
    refresh_seconds = Float(
        10.0, min=0.5, config=True,
        help="How often the scheduler's list of workers is read again, besides its add/remove-worker events.",
    )

    def __init__(self, context: ExecutorContext, **kwargs: Any):
        super().__init__(context, **kwargs)
        self._id = uuid.uuid4().hex[:12]  # this server: names its actors and its probe file
        self._pools: dict[str, _Pool] = {}
        self._runs: dict[str, _Run] = {}
        self._slot_freed: asyncio.Condition | None = None
        self._client: Any = None
        self._cluster: Any = None
        self._problem: str | None = None
        self._stopping = False
        self._follower: asyncio.Task | None = None
        self._refresh_now: asyncio.Event | None = None
        self._plugin_generation = 0
        self._probe = context.workspace.folder("db") / f".dask-probe-{self._id}"
        self._probe_token = secrets.token_hex(16)

    # -- lifecycle ----------------------------------------------------------------------------------

    async def start(self) -> None:
        """Connect, write the probe, give every current worker a pool and wait for them to warm (or fail)."""
        self._slot_freed = asyncio.Condition()
        self._refresh_now = asyncio.Event()
        try:
            self._client = await self._connect()
        except Exception as e:
            self._problem = f"the Dask cluster cannot be reached: {type(e).__name__}: {e}"
            raise
        await asyncio.to_thread(self._write_probe)
        self._client.subscribe_topic("all", self._on_scheduler_event)
        starting = await self._refresh()
        await asyncio.gather(*starting, return_exceptions=True)
        self._update_problem()
        self._follower = asyncio.ensure_future(self._follow())

    async def _connect(self) -> Any:
        distributed = await asyncio.to_thread(importlib.import_module, "distributed")
        address: Any = self.scheduler_address or None
        if self.cluster_factory is not None:
            factory = self.cluster_factory
            if isinstance(factory, str):
                module, _, name = factory.rpartition(".")
                factory = getattr(importlib.import_module(module), name)
            self._cluster = address = await asyncio.to_thread(factory)
        # direct_to_workers: actor calls go straight to the worker; by default they are proxied by the scheduler
        # (twice the hops, and the scheduler's CPU). The client is the default one: actors find it that way.
        client = distributed.Client(address, asynchronous=True, timeout=CONNECT_SECONDS, direct_to_workers=True,
                                    name=f"nndeploy-jupyter-{self._id}")
        return await client

    async def stop(self) -> None:
        """Stop every pool (their runs end at once), release the actors, close the client (and the cluster the
        factory made), remove the probe."""
        self._stopping = True
        if self._refresh_now is not None:
            self._refresh_now.set()
        if self._follower is not None:
            self._follower.cancel()
            await asyncio.gather(self._follower, return_exceptions=True)
        pools = list(self._pools.values())
        await asyncio.gather(*(self._stop_pool(pool) for pool in pools), return_exceptions=True)
        for pool in pools:
            self._drop(pool, "the server is shutting down")
        if self._client is not None:
            with contextlib.suppress(Exception):
                await self._client.close()
        if self._cluster is not None:
            with contextlib.suppress(Exception):
                await asyncio.to_thread(self._cluster.close)
        await asyncio.to_thread(self._probe.unlink, True)

    def capacity(self) -> int:
        return sum(pool.slots for pool in self._pools.values())

    def unavailable(self) -> str | None:
        return self._problem

    def workers(self) -> list[WorkerInfo]:
        """One entry per Dask worker: its pool's processes are its slots."""
        return [WorkerInfo(id=address, state=_pool_state(pool), task_id=next(iter(pool.running), None))
                for address, pool in sorted(self._pools.items())]

    def reload_plugins(self) -> None:
        self._plugin_generation += 1  # every run carries it: a pool reloads before the next task it runs

    # -- tasks --------------------------------------------------------------------------------------

    async def run(self, task: ExecutorTask, emit: Emit) -> RunOutcome:
        run = self._runs[task.task_id] = _Run(task.task_id, emit)  # before the first await: cancels find it
        try:
            while True:
                pool = await self._take_slot(run)
                if pool is None:
                    return RunOutcome(state=TaskState.CANCELLED)
                if (outcome := await self._run_on(pool, run, task)) is not None:
                    return outcome
                # its worker was lost before the task started there (it waited for a process that was being
                # replaced): it has not run, so it goes to another pool
                pool.running.discard(task.task_id)
                run.pool = None
        finally:
            del self._runs[task.task_id]
            if run.pool is not None:
                run.pool.running.discard(task.task_id)
                await self._notify_slot()

    async def cancel(self, task_id: str) -> bool:
        run = self._runs.get(task_id)
        if run is None:
            return False
        if not run.cancel_requested:
            run.cancel_requested = True
            if run.pool is not None:
                await self._cancel_on(run.pool, task_id)
            else:
                await self._notify_slot()
        return True

    async def _take_slot(self, run: _Run) -> _Pool | None:
        assert self._slot_freed is not None
        async with self._slot_freed:
            await self._slot_freed.wait_for(
                lambda: run.cancel_requested or any(p.free > 0 for p in self._pools.values()))
        if run.cancel_requested:
            return None
        pool = max(self._pools.values(), key=lambda p: p.free)
        pool.running.add(run.task_id)
        run.pool = pool
        return pool

    async def _run_on(self, pool: _Pool, run: _Run, task: ExecutorTask) -> RunOutcome | None:
        """The outcome; None when the pool was lost before the task started on it."""
        call = asyncio.ensure_future(self._call(pool, "run", task.task_id, task.graph, task.name,
                                                self._plugin_generation))
        try:
            await asyncio.wait({call, pool.lost}, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:  # run() itself was cancelled: the graph must not run on unseen
            call.cancel()
            if not pool.lost.done():
                asyncio.ensure_future(self._cancel_on(pool, task.task_id))
            raise
        if not call.done():
            call.cancel()
            return self._lost_outcome(run, pool, pool.lost.result())
        try:
            answer = call.result()
        except OSError as e:  # the comm closed: the worker is gone
            pool.lose(f"{type(e).__name__}: {e}")
            return self._lost_outcome(run, pool, pool.lost.result())
        except Exception as e:  # raised by the pool itself: this task fails, the pool goes on
            self.log.exception("task %s: the pool on Dask worker %s failed", task.task_id, pool.address)
            return RunOutcome(state=TaskState.FAILED, error=f"internal error on Dask worker {pool.address}: {e}")
        for entry in answer["events"]:  # those the event poll had not brought yet
            self._emit(run, entry)
        return RunOutcome.model_validate(answer["outcome"])

    def _lost_outcome(self, run: _Run, pool: _Pool, reason: str) -> RunOutcome | None:
        if run.received == 0 and not run.cancel_requested and not self._stopping:
            return None  # not started there (no Started event): run it elsewhere
        if run.cancel_requested:
            return RunOutcome(state=TaskState.CANCELLED, error=f"Dask worker {pool.address} lost after the cancel")
        if self._stopping:
            return RunOutcome(state=TaskState.FAILED, error="worker stopped: the server is shutting down")
        return RunOutcome(state=TaskState.FAILED,
                          error=f"Dask worker {pool.address} was lost while running the task ({reason})")

    async def _cancel_on(self, pool: _Pool, task_id: str) -> None:
        try:
            await asyncio.wait_for(self._call(pool, "cancel", task_id), STOP_SECONDS)
        except Exception as e:  # its run fails on its own when the worker is gone
            self.log.warning("cancel of task %s on Dask worker %s failed: %s", task_id, pool.address, e)

    async def _notify_slot(self) -> None:
        assert self._slot_freed is not None
        async with self._slot_freed:
            self._slot_freed.notify_all()

    # -- pools --------------------------------------------------------------------------------------

    async def _refresh(self) -> list[asyncio.Task]:
        """Match the pools to the scheduler's workers: start pools on new workers, drop those that left."""
        identity = await self._client.scheduler.identity(n_workers=-1)
        workers = identity.get("workers", {})
        starting = []
        for address in set(self._pools) - set(workers):
            self._drop(self._pools[address], "it left the cluster")
        for address, info in workers.items():
            if address not in self._pools and not self._stopping:
                pool = self._pools[address] = _Pool(address, size=int(info.get("nthreads") or 1))
                start = asyncio.ensure_future(self._start_pool(pool))
                pool.tasks.add(start)
                starting.append(start)
        return starting

    async def _follow(self) -> None:
        assert self._refresh_now is not None
        while not self._stopping:  # not only the cancel: Python 3.11's wait_for can swallow one
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._refresh_now.wait(), self.refresh_seconds)
            self._refresh_now.clear()
            if self._stopping:
                return
            try:
                await self._refresh()
            except Exception as e:  # the scheduler is away for a moment: the client reconnects
                self.log.warning("could not read the Dask scheduler's workers: %s", e)

    def _on_scheduler_event(self, event: tuple[float, Any]) -> None:
        _, message = event
        if isinstance(message, dict) and message.get("action") in ("add-worker", "remove-worker"):
            if message["action"] == "remove-worker" and (pool := self._pools.get(message.get("worker", ""))):
                self._drop(pool, "it left the cluster")
            if self._refresh_now is not None:
                self._refresh_now.set()

    async def _start_pool(self, pool: _Pool) -> None:
        from .dask_pool import WorkerPool  # pickled by reference: the workers import it from their own install

        dirs = [str(d) for d in self.context.plugin_dirs if d != BUILTIN_PLUGIN_DIR]
        try:
            pool.future = self._client.submit(
                WorkerPool, str(self.context.workspace.root), str(self._probe), self._probe_token,
                self.context.cancel_grace_seconds, dirs, BUILTIN_PLUGIN_DIR in self.context.plugin_dirs,
                actor=True, workers=[pool.address], allow_other_workers=False, pure=False,
                key=f"nndeploy-pool-{self._id}-{uuid.uuid4().hex[:8]}")
            pool.actor = await asyncio.wait_for(pool.future, POOL_START_SECONDS)
            started = await asyncio.wait_for(self._call(pool, "start"), POOL_START_SECONDS)
        except Exception as e:
            pool.error = str(e) if type(e).__name__ == "WorkspaceNotShared" else f"{type(e).__name__}: {e}"
            self.log.error("Dask worker %s cannot run tasks: %s", pool.address, pool.error)
            self._update_problem()
            return
        if pool.lost.done():
            return
        pool.capacity, pool.ready = started["capacity"], True
        self.log.info("Dask worker %s (%s, pid %s): %d nndeploy worker(s) ready", pool.address, started["host"],
                      started["pid"], pool.capacity)
        poll = asyncio.ensure_future(self._poll_events(pool))
        pool.tasks.add(poll)
        self._update_problem()
        self.capacity_changed()
        await self._notify_slot()

    async def _poll_events(self, pool: _Pool) -> None:
        cursor = 0
        try:
            while True:
                cursor, entries = await self._call(pool, "events", cursor, EVENTS_POLL_SECONDS)
                for entry in entries:
                    self._on_pool_entry(pool, entry)
        except asyncio.CancelledError:
            raise
        except Exception as e:  # the worker is gone (its comm closed): its runs end now, not after a timeout
            if not self._stopping:
                self.log.warning("Dask worker %s: lost (%s)", pool.address, e)
            self._drop(pool, f"{type(e).__name__}: {e}")
            if self._refresh_now is not None:
                self._refresh_now.set()

    def _on_pool_entry(self, pool: _Pool, entry: dict[str, Any]) -> None:
        if "capacity" in entry:
            pool.capacity = entry["capacity"]
            self.capacity_changed()
            asyncio.ensure_future(self._notify_slot())
            return
        run = self._runs.get(entry["task_id"])
        if run is not None and run.pool is pool:
            self._emit(run, entry)

    def _emit(self, run: _Run, entry: dict[str, Any]) -> None:
        """Each event once, in order: the poll and the run's answer may both carry the last ones."""
        if entry["n"] <= run.received:
            return
        run.received = entry["n"]
        event: ExecutorEvent = _EVENT.validate_python(entry["event"])
        try:
            run.emit(event)
        except Exception:
            self.log.exception("event callback failed for task %s (%s)", run.task_id, event.type)

    def _drop(self, pool: _Pool, reason: str) -> None:
        """Forget a pool: its runs fail now, the actor is released (distributed deletes it on the worker)."""
        if self._pools.get(pool.address) is pool:
            del self._pools[pool.address]
        pool.lose(reason)
        for task in pool.tasks:
            if task is not asyncio.current_task():
                task.cancel()
        if pool.future is not None:
            with contextlib.suppress(Exception):
                pool.future.release()
        if pool.ready:
            self.capacity_changed()
        self._update_problem()

    async def _stop_pool(self, pool: _Pool) -> None:
        if pool.actor is not None and not pool.lost.done():
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._call(pool, "stop"), STOP_SECONDS)

    def _update_problem(self) -> None:
        """No pool can run tasks and at least one said why: that is why tasks cannot run."""
        pools = list(self._pools.values())
        if any(p.ready or p.error is None for p in pools) or not pools:
            self._problem = None
            return
        reasons = "; ".join(f"{p.address}: {p.error}" for p in pools)
        self._problem = f"no Dask worker can run tasks ({reasons})"

    async def _call(self, pool: _Pool, method: str, *args: Any) -> Any:
        """Call the pool's actor (straight to its worker). Raises what the worker raised, or a comm error."""
        return await getattr(pool.actor, method)(*args)

    def _write_probe(self) -> None:
        self._probe.parent.mkdir(parents=True, exist_ok=True)
        self._probe.write_text(self._probe_token)


def _pool_state(pool: _Pool) -> WorkerState:
    if pool.lost.done() or pool.error:
        return WorkerState.CRASHED
    if not pool.ready:
        return WorkerState.STARTING
    return WorkerState.BUSY if pool.free <= 0 else WorkerState.READY
