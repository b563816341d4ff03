"""The durable task queue: submission, priority order, hand-over to the executor, cancel, history.

Lifecycle ``PENDING → DISPATCHED → RUNNING → SUCCEEDED | FAILED | CANCELLED``, plus ``INTERRUPTED`` for a task
whose server stopped while it was on the executor. Every change goes through :meth:`TaskQueue._transition`:
the store's guarded write (a finished task is never overwritten), then one ``status`` event; so a client that
reads the database after an event never sees an older state, and a restart loses nothing: tasks caught on
the executor become INTERRUPTED, PENDING ones queue again. (One exception, see below: a task that goes to the
executor at once is inserted DISPATCHED, and both its events follow the write.)

Order: lower ``priority`` first, then submission order. The queue hands a task over only while the executor
has capacity for one more than it holds, and sleeps otherwise: it wakes when a task is queued, when one
returns, and when the executor says its capacity changed. A task submitted while nothing waits and a slot is
free skips the dispatcher: its row is written DISPATCHED in the insert's own transaction (one write fewer), its
``status`` events say PENDING then DISPATCHED, and it goes to the executor in the next loop turn. A cancel is
kept in one place, the task's :class:`_Flight`, and answered at once; the end follows on the socket.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ...errors import ApiError, Conflict, Unavailable
from ...runtime.executor import Executor, ExecutorEvent, ExecutorTask, Started
from ...schemas import (
    BATCH_ID_PREFIX,
    DEFAULT_PRIORITY,
    BatchCreated,
    BatchEntry,
    BatchInfo,
    EventEnvelope,
    Graph,
    History,
    Params,
    QueueInfo,
    RunOutcome,
    StatusEvent,
    SystemEvent,
    TaskRecord,
    TaskState,
)
from ...store.tasks import Queued, TaskStore
from ...workspace import Workspace
from ..catalogue import NodeCatalogue
from ..downloads import Downloads
from ..events import EventHub, Subscription
from ..parameters import NodeSchemas
from ..validation import apply_params, validate_graph
from .batches import prepare_batch
from .feed import TaskFeed, publish_outcome, status_of

INTERRUPTED_REASON = "the server stopped while the task was dispatched or running"
PUBLISH_CHUNK = 500  # a batch's PENDING events go out this many per loop turn


@dataclass
class _Flight:
    """A task taken off the queue, until the executor's ``run()`` returns."""

    entry: Queued
    cancel_requested: bool = False


class TaskQueue:
    def __init__(self, store: TaskStore, events: EventHub, executor: Executor, workspace: Workspace,
                 catalogue: NodeCatalogue, downloads: Downloads, log: logging.Logger):
        self.store = store
        self.events = events
        self.executor = executor
        self.workspace = workspace
        self.catalogue = catalogue
        self.downloads = downloads
        self.log = log
        self._heap: list[Queued] = []
        self._queued: dict[str, Queued] = {}  # PENDING in the heap; heap entries missing here were cancelled
        self._fetching: dict[str, asyncio.Task[None]] = {}  # PENDING, downloading what the graph names
        self._flights: dict[str, _Flight] = {}
        self._reserved = 0  # slots held by submissions being recorded DISPATCHED (see submit)
        self._live: dict[str, StatusEvent] = {}  # the last status published of each task not yet ended
        self._executions: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()
        self._dispatcher: asyncio.Task[None] | None = None
        self.feed = TaskFeed(events, store, self._live, downloads)
        executor.on_capacity_change(self._wake.set)

    # -- lifecycle ----------------------------------------------------------------------------------

    async def start(self) -> None:
        """Tasks a stop or a crash left on the executor become INTERRUPTED; pending ones queue again."""
        await self._transition(await self.store.in_flight(), TaskState.INTERRUPTED,
                               outcome=RunOutcome(state=TaskState.INTERRUPTED, error=INTERRUPTED_REASON))
        for entry in await self.store.pending():
            self._live[entry.task_id] = _status(entry)
            self._admit(entry)
        self._dispatcher = asyncio.ensure_future(self._dispatch_loop())

    async def stop(self) -> None:
        """Stop handing out tasks; those on the executor end INTERRUPTED now, so whatever they report later
        (the executor stopping them, a remote worker finishing) is refused by the store's guard."""
        for job in list(self._fetching.values()):  # their rows stay PENDING: the next start fetches again
            job.cancel()
        await asyncio.gather(*self._fetching.values(), return_exceptions=True)
        if self._dispatcher is not None:
            self._dispatcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._dispatcher
            self._dispatcher = None
        await self._transition(list(self._flights), TaskState.INTERRUPTED,
                               outcome=RunOutcome(state=TaskState.INTERRUPTED, error=INTERRUPTED_REASON))

    async def drain(self, timeout: float) -> None:
        """Wait for the runs in flight to return (after the executor stopped), cancelling stragglers."""
        if not self._executions:
            return
        _, late = await asyncio.wait(set(self._executions), timeout=timeout)
        for execution in late:
            execution.cancel()
        await asyncio.gather(*late, return_exceptions=True)

    # -- the public surface -------------------------------------------------------------------------

    async def submit(self, graph: Graph, *, priority: int = DEFAULT_PRIORITY, source: str | None = None,
                     params: Params | None = None, download: bool = False) -> str:
        """Validate ``graph`` (with ``params`` applied), record it and queue it (or hand it over at once); return
        its id. 503 while the executor says tasks cannot run (it says why)."""
        self._check_available()

        def _checked(schemas: NodeSchemas) -> Graph:
            checked = apply_params(graph, params, schemas) if params else graph
            # With downloads, input files may be among those to fetch: they are checked again once fetched.
            validate_graph(checked, schemas, self.workspace, download)
            return checked

        def _checked_now() -> Graph:  # on the database thread, right before the row is written
            current, checked = self.catalogue.if_current(_checked)
            if not current:
                raise _CatalogueChanged
            return checked  # type: ignore[return-value]

        fields = {"priority": priority, "name": _name(graph), "source": source, "params": params, "download": download}
        try:
            entry, direct = await self._record(_checked_now, **fields)
        except _CatalogueChanged:  # the plugins changed (or the first submission): probe the catalogue first
            checked = await self.catalogue.check(_checked)
            entry, direct = await self._record(lambda: checked, **fields)
        self._publish(_status(entry))
        if not direct:
            self._admit(entry)
        elif self._dispatcher is None:  # stop() came during the write: it ends as the tasks stop() found
            await self._transition([entry.task_id], TaskState.INTERRUPTED,
                                   outcome=RunOutcome(state=TaskState.INTERRUPTED, error=INTERRUPTED_REASON))
        else:
            self._publish(_status(entry, TaskState.DISPATCHED))
            self._launch(self._fly(entry))
        return entry.task_id

    async def _record(self, graph: Callable[[], Graph], **fields: Any) -> tuple[Queued, bool]:
        """Insert a task; DISPATCHED, and True, when nothing waits and a slot is free: it is handed over at once
        (one write and one pass of the dispatcher fewer). The slot is held while the row is written."""
        direct = not fields["download"] and self._free_slots() > 0
        self._reserved += int(direct)
        try:
            return await self.store.insert(str(uuid.uuid4()), graph, dispatched=direct, **fields), direct
        except BaseException:
            self._wake.set()  # the slot held in vain is free again
            raise
        finally:
            self._reserved -= int(direct)

    async def submit_batch(self, graph: Graph, entries: list[BatchEntry], *, params: Params | None = None,
                           priority: int = DEFAULT_PRIORITY, source: str | None = None,
                           name: str = "") -> BatchCreated:
        """One task per entry, grouped under a new batch id. Every entry is checked first (400 ``entry <i>: …``,
        nothing queued); then all are recorded in one transaction and queued."""
        self._check_available()
        batch_id = BATCH_ID_PREFIX + str(uuid.uuid4())
        tasks = await self.catalogue.check(
            lambda schemas: prepare_batch(graph, params or {}, entries, batch_id, schemas, self.workspace))
        queued = await self.store.insert_batch(batch_id, tasks, priority=priority, name=_name(graph), source=source,
                                               batch_name=name or _name(graph))
        for start in range(0, len(queued), PUBLISH_CHUNK):
            for entry in queued[start:start + PUBLISH_CHUNK]:
                self._publish(_status(entry))
                self._enqueue(entry)
            await asyncio.sleep(0)  # ten thousand events: let other requests and sockets in between
        return BatchCreated(batch_id=batch_id, task_ids=[entry.task_id for entry in queued])

    async def batch(self, batch_id: str) -> BatchInfo:
        return await self.store.batch(batch_id)

    async def batch_records(self, batch_id: str) -> list[TaskRecord]:
        return await self.store.batch_records(batch_id)

    async def cancel_batch(self, batch_id: str) -> BatchInfo:
        """Cancel every task of the batch not yet ended, as :meth:`cancel` does each (ended ones stay as they are);
        answered at once with how the batch stands."""
        info = await self.store.batch(batch_id)
        open_ids = [member.task_id for member in info.tasks if not member.state.final]
        await self._cancel_pending(open_ids, "cancelled with its batch")
        for task_id in open_ids:
            await self._stop_flight(task_id)
        return await self.store.batch(batch_id)

    def _check_available(self) -> None:
        if (reason := self.executor.unavailable()) is not None:
            raise Unavailable(f"tasks cannot run: {reason}")

    def live_states(self) -> dict[str, TaskState]:
        """The state of every task not yet ended (pending, downloading, dispatched, running), from memory."""
        return {task_id: status.state for task_id, status in self._live.items()}

    async def get(self, task_id: str) -> TaskRecord:
        return await self.store.get(task_id)

    async def info(self) -> QueueInfo:
        return await self.store.info()

    async def history(self, max_items: int) -> History:
        return await self.store.history(max_items)

    async def follow(self, sub: Subscription, channel: str, since: int = 0) -> list[EventEnvelope]:
        """Subscribe to a task's (or a download job's, or ``"*"``) events; what to send the client first."""
        return await self.feed.follow(sub, channel, since)

    async def cancel(self, task_id: str) -> TaskRecord:
        """Answered at once. Pending: CANCELLED. On the executor: asked to stop, ``cancel_requested`` in the
        record; its end follows on the socket. Unknown: 404. Ended: 409."""
        if task_id in self._queued:
            del self._queued[task_id]  # its heap entry goes stale
            return await self._end(task_id, "cancelled before it ran")
        job = self._fetching.get(task_id)
        if job is not None and job.cancel():
            await asyncio.gather(job, return_exceptions=True)
            return await self._end(task_id, "cancelled while its downloads ran")
        on_executor = await self._stop_flight(task_id)
        record = await self.store.get(task_id)
        if record.state.final and not on_executor:
            raise Conflict(f"task {task_id} has already ended: {record.state}")
        return record

    async def flush(self) -> list[str]:
        """Cancel every pending task; each gets its status events, then one ``system`` summary goes out."""
        cancelled = await self._cancel_pending([*self._queued, *self._fetching], "flushed from the queue")
        self._heap.clear()
        self.events.publish(SystemEvent(event="queue_flushed", detail={"cancelled": cancelled}),
                            message="queue flushed")
        return cancelled

    async def _cancel_pending(self, task_ids: list[str], reason: str) -> list[str]:
        """Those of ``task_ids`` still pending (queued, or fetching their downloads) end CANCELLED; their ids."""
        queued = [task_id for task_id in task_ids if self._queued.pop(task_id, None) is not None]  # heap goes stale
        # Stopped now, before an await lets one finish; a job that has just queued its task was taken above,
        # and one that has just ended on its own is not cancelled (its end is recorded already).
        fetching = {t: job for t in task_ids if t not in queued and (job := self._fetching.get(t)) and job.cancel()}
        ended = await self._transition(queued, TaskState.CANCELLED,
                                       outcome=RunOutcome(state=TaskState.CANCELLED, error=reason))
        await asyncio.gather(*fetching.values(), return_exceptions=True)
        ended += await self._transition(
            list(fetching), TaskState.CANCELLED,
            outcome=RunOutcome(state=TaskState.CANCELLED, error=f"{reason} while its downloads ran"))
        return [record.task_id for record in ended]

    async def _stop_flight(self, task_id: str) -> bool:
        """Ask the executor to stop the task if it holds it (once: ``cancel_requested``); whether it holds it."""
        flight = self._flights.get(task_id)
        if flight is not None and not flight.cancel_requested:
            flight.cancel_requested = True
            self._publish_all([record] if (record := await self.store.request_cancel(task_id)) else [])
            await self.executor.cancel(task_id)
        return flight is not None

    # -- before the executor --------------------------------------------------------------------------

    def _admit(self, entry: Queued) -> None:
        """A PENDING task joins the queue, or first fetches what its graph names."""
        if not entry.download:
            self._enqueue(entry)
            return
        job = asyncio.ensure_future(self._fetch_inputs(entry))
        self._fetching[entry.task_id] = job
        job.add_done_callback(lambda _: self._fetching.pop(entry.task_id, None))

    async def _fetch_inputs(self, entry: Queued) -> None:
        """Download what the graph names (events on the task's channel), check its inputs now exist, then queue
        it. A failed download or a still-missing input ends the task FAILED with the reason."""
        try:
            await self.downloads.fetch_for_graph(entry.task_id, entry.graph)
            await self.catalogue.check(lambda schemas: validate_graph(entry.graph, schemas, self.workspace))
            await self.store.fetched(entry.task_id)
        except ApiError as e:
            reason = f"download failed: {e.message}"
        except Exception as e:  # a bug here must not leave the task PENDING forever
            self.log.exception("task %s: downloads failed", entry.task_id)
            reason = f"download failed: {type(e).__name__}: {e}"
        else:
            self._enqueue(entry)
            return
        # shielded: a cancel coming now must not cut the write from its event
        await asyncio.shield(self._end(entry.task_id, reason, TaskState.FAILED))

    def _enqueue(self, entry: Queued) -> None:
        self._queued[entry.task_id] = entry
        heapq.heappush(self._heap, entry)
        self._wake.set()

    # -- on the executor ------------------------------------------------------------------------------

    async def _dispatch_loop(self) -> None:
        while True:
            self._wake.clear()
            while self._queued and self._free_slots() > 0:
                entry = heapq.heappop(self._heap)
                if self._queued.pop(entry.task_id, None) is None:
                    continue  # cancelled while it waited
                try:
                    await self._dispatch(entry)
                except Exception:  # keep dispatching; the row stays PENDING and queues again at the next start
                    self.log.exception("task %s could not be dispatched", entry.task_id)
                    self._flights.pop(entry.task_id, None)
            await self._wake.wait()

    def _free_slots(self) -> int:
        """How many more tasks the executor can take now (0 before start and after stop)."""
        if self._dispatcher is None:
            return 0
        return self.executor.capacity() - len(self._flights) - self._reserved

    def _fly(self, entry: Queued) -> _Flight:
        flight = self._flights[entry.task_id] = _Flight(entry)  # counts against capacity from now on
        return flight

    async def _dispatch(self, entry: Queued) -> None:
        flight = self._fly(entry)
        await self._transition([entry.task_id], TaskState.DISPATCHED)
        self._launch(flight)

    def _launch(self, flight: _Flight) -> None:
        execution = asyncio.ensure_future(self._execute(flight))
        self._executions.add(execution)
        execution.add_done_callback(self._executions.discard)

    async def _execute(self, flight: _Flight) -> None:
        task_id = flight.entry.task_id
        try:
            # No await between this check and run()'s start: a cancel either is seen here or finds the task
            # known to the executor.
            if flight.cancel_requested:
                outcome = RunOutcome(state=TaskState.CANCELLED, error="cancelled before it ran")
            else:
                outcome = await self._run(flight)
        except Exception as e:  # a bug here must not stall the queue: fail the task, keep dispatching
            self.log.exception("task %s: unexpected error", task_id)
            outcome = RunOutcome(state=TaskState.FAILED, error=f"internal error: {e}")
        finally:
            del self._flights[task_id]
            self._wake.set()  # the next task may start while this outcome is recorded
        await self._transition([task_id], outcome.state, outcome=outcome)

    async def _run(self, flight: _Flight) -> RunOutcome:
        entry = flight.entry
        relay: asyncio.Queue[ExecutorEvent | None] = asyncio.Queue()
        relaying = asyncio.ensure_future(self._relay(relay))
        try:
            return await self.executor.run(ExecutorTask(entry.task_id, entry.graph, entry.name), relay.put_nowait)
        finally:
            relay.put_nowait(None)
            await relaying

    async def _relay(self, relay: asyncio.Queue[ExecutorEvent | None]) -> None:
        """Executor events, in order: ``Started`` becomes RUNNING (written first), the rest are published."""
        while (event := await relay.get()) is not None:
            if isinstance(event, Started):
                await self._transition([event.task_id], TaskState.RUNNING, worker_pid=event.pid)
            else:
                self.events.publish(event)

    # -- recording transitions ----------------------------------------------------------------------

    async def _end(self, task_id: str, reason: str, state: TaskState = TaskState.CANCELLED) -> TaskRecord:
        await self._transition([task_id], state, outcome=RunOutcome(state=state, error=reason))
        return await self.store.get(task_id)

    async def _transition(self, task_ids: list[str], state: TaskState, *, outcome: RunOutcome | None = None,
                          worker_pid: int | None = None) -> list[TaskRecord]:
        """The one way a task's state changes: the store's guarded write, then each change published once.
        A task that did not succeed keeps its output files, marked partial."""
        if not task_ids:
            return []
        if outcome is not None and outcome.state != TaskState.SUCCEEDED:
            outcome = outcome.model_copy(update={"outputs": [o.model_copy(update={"partial": True})
                                                             for o in outcome.outputs]})
        records = await self.store.transition(task_ids, state, outcome=outcome, worker_pid=worker_pid)
        self._publish_all(records)
        return records

    def _publish_all(self, records: list[TaskRecord]) -> None:
        for record in records:
            self._publish(status_of(record))
            if record.state.final:
                publish_outcome(self.events, record)

    def _publish(self, status: StatusEvent) -> None:
        if status.state.final:
            self._live.pop(status.task_id, None)
        else:
            self._live[status.task_id] = status
        self.events.publish(status)


class _CatalogueChanged(Exception):
    """The cached node catalogue no longer matches the plugin folder: probe it before checking a graph."""


def _name(graph: Graph) -> str:
    """The task's name: its graph's ``name_`` (params cannot change it). Read before the graph is checked, so
    whatever a client sent: anything but an object is refused by the check that follows."""
    name = graph.get("name_") if isinstance(graph, dict) else None
    return name if isinstance(name, str) else ""


def _status(entry: Queued, state: TaskState = TaskState.PENDING) -> StatusEvent:
    return StatusEvent(task_id=entry.task_id, state=state, name=entry.name, priority=entry.priority,
                       batch_id=entry.batch_id)
