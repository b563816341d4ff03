"""The durable task queue: submission, priority order, dispatch to the supervisor's workers, cancel, history.

Lifecycle ``PENDING → DISPATCHED → RUNNING → SUCCEEDED | FAILED | CANCELLED``, plus ``INTERRUPTED`` for a task
whose server stopped while it was dispatched or running. Every transition is written to SQLite before its
``status`` event is published, so a client that reads the database after an event never sees an older
state, and a restart loses nothing: rows left DISPATCHED/RUNNING become INTERRUPTED, PENDING rows queue again.

Order: lower ``priority`` first, then submission order (``seq``). At most ``max_workers`` tasks run at once,
and a task is handed over only when the supervisor has an idle, warm worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import json
import logging
import sqlite3
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from ..errors import ApiError, Conflict, NotFound
from ..runtime.supervisor import RunOutcome, Supervisor
from ..store import Database
from ..workspace import Workspace
from .catalogue import NodeCatalogue
from .downloads import Downloads
from .events import EventHub
from .validation import apply_params, validate_graph

DEFAULT_PRIORITY = 100  # as upstream: room to go both ways
BLOCKED_POLL_SECONDS = 0.01  # tasks wait and no worker is idle: how often to look again


@dataclass(order=True)
class _Queued:
    priority: int
    seq: int
    task_id: str = field(compare=False)
    graph: dict[str, Any] = field(compare=False, repr=False)
    download: bool = field(default=False, compare=False)  # fetch the graph's *_url_ resources first


@dataclass
class _Running:
    """A task taken off the queue: DISPATCHED until its worker says ``started``, then RUNNING."""

    task_id: str
    graph: dict[str, Any] = field(repr=False)
    state: str = "DISPATCHED"
    on_worker: bool = True  # until supervisor.run() returns: the worker is busy with it
    claimed: bool = False  # a worker has it (``started`` arrived)
    handed_over: bool = False  # supervisor.run() was called
    cancel_requested: bool = False
    cancel_delivered: bool = False
    done: asyncio.Event = field(default_factory=asyncio.Event)


class TaskQueue:
    def __init__(self, db: Database, events: EventHub, supervisor: Supervisor, workspace: Workspace,
                 catalogue: NodeCatalogue, *, max_workers: int, history_limit: int, cancel_grace_seconds: float,
                 log: logging.Logger, downloads: Downloads):
        self.db = db
        self.events = events
        self.supervisor = supervisor
        self.workspace = workspace
        self.catalogue = catalogue
        self.max_workers = max_workers
        self.history_limit = history_limit
        self.cancel_grace_seconds = cancel_grace_seconds
        self.log = log
        self.downloads = downloads
        self._heap: list[_Queued] = []
        self._queued: dict[str, _Queued] = {}  # PENDING; heap entries missing here were cancelled
        self._fetching: dict[str, asyncio.Task[None]] = {}  # PENDING, downloading what the graph names
        self._unqueuing: set[str] = set()  # cancelled while PENDING, until their end is recorded
        self._running: dict[str, _Running] = {}
        self._executions: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()
        self._dispatcher: asyncio.Task[None] | None = None
        self._stopping = False

    # -- lifecycle ----------------------------------------------------------------------------------

    async def start(self) -> None:
        interrupted, pending = await self.db.run(_reconcile)
        for task_id in interrupted:
            self._publish_outcome(task_id, _outcome("INTERRUPTED", INTERRUPTED_REASON))
        self._stopping = False
        for entry in pending:
            self._admit(entry)
        self._dispatcher = asyncio.ensure_future(self._dispatch_loop())

    async def stop(self) -> None:
        """Stop handing out tasks. Outcomes arriving from now on are not recorded: the next start marks the
        tasks in flight INTERRUPTED, as after a crash."""
        self._stopping = True
        for job in list(self._fetching.values()):  # their rows stay PENDING: the next start fetches again
            job.cancel()
        await asyncio.gather(*self._fetching.values(), return_exceptions=True)
        if self._dispatcher is not None:
            self._dispatcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._dispatcher
            self._dispatcher = None

    async def drain(self, timeout: float) -> None:
        """Wait for the tasks in flight to return (after the supervisor stopped), cancelling stragglers."""
        if not self._executions:
            return
        _, late = await asyncio.wait(set(self._executions), timeout=timeout)
        for execution in late:
            execution.cancel()
        await asyncio.gather(*late, return_exceptions=True)

    # -- the public surface -------------------------------------------------------------------------

    async def submit(self, graph: dict[str, Any], *, priority: int = DEFAULT_PRIORITY, source: str | None = None,
                     params: dict[str, dict[str, Any]] | None = None, download: bool = False) -> str:
        """Validate ``graph`` (with ``params`` applied), record it PENDING and queue it; return its id."""
        task_id = str(uuid.uuid4())
        if params:
            graph = apply_params(graph, params)
        node_keys = await self.catalogue.node_keys()
        # With downloads, input files may be among those to fetch: they are checked again once fetched.
        await asyncio.to_thread(validate_graph, graph, node_keys, self.workspace, download)
        name = graph.get("name_") if isinstance(graph.get("name_"), str) else ""
        row = {"id": task_id, "priority": priority, "name": name, "graph": json.dumps(graph), "source": source,
               "params": json.dumps(params) if params else None, "submitted_at": time.time(),
               "download": int(download)}
        seq = await self.db.run(lambda conn: _insert(conn, row))
        self._publish_status(task_id, "PENDING", priority=priority, name=name)
        self._admit(_Queued(priority, seq, task_id, graph, download))
        return task_id

    async def get(self, task_id: str) -> dict[str, Any]:
        row = await self.db.run(lambda conn: conn.execute("SELECT * FROM tasks WHERE id = ?", (task_id,)).fetchone())
        if row is None:
            raise NotFound(f"no task with id {task_id!r}")
        return _record(row)

    def live_state(self, task_id: str) -> str | None:
        """The state of a task still in the queue or running, from memory; None once it has ended (or never was)."""
        if task_id in self._queued or task_id in self._unqueuing or task_id in self._fetching:
            return "PENDING"
        running = self._running.get(task_id)
        return running.state if running else None

    def live_states(self) -> dict[str, str]:
        pending = {t: "PENDING" for t in (*self._queued, *self._unqueuing, *self._fetching)}
        return {**pending, **{t: r.state for t, r in self._running.items()}}

    async def info(self) -> dict[str, list[dict[str, Any]]]:
        def _info(conn: sqlite3.Connection) -> dict[str, list[dict[str, Any]]]:
            rows = conn.execute(
                "SELECT * FROM tasks WHERE state IN ('PENDING','DISPATCHED','RUNNING') ORDER BY priority, seq"
            ).fetchall()
            return {state.lower(): [_record(r) for r in rows if r["state"] == state]
                    for state in ("RUNNING", "DISPATCHED", "PENDING")}

        return await self.db.run(_info)

    async def history(self, max_items: int) -> dict[str, Any]:
        def _history(conn: sqlite3.Connection) -> dict[str, Any]:
            rows = conn.execute(
                "SELECT * FROM tasks WHERE finished_at IS NOT NULL ORDER BY finished_at DESC, seq DESC LIMIT ?",
                (max_items,),
            ).fetchall()
            total = conn.execute("SELECT COUNT(*) FROM tasks WHERE finished_at IS NOT NULL").fetchone()[0]
            return {"items": [_record(r) for r in rows], "total": total}

        return await self.db.run(_history)

    async def cancel(self, task_id: str) -> dict[str, Any]:
        """Pending: CANCELLED at once. Dispatched or running: interrupted, and answered once it has ended
        (or after the cancel grace, if the worker is slow to die). Unknown: 404. Ended: 409."""
        if task_id in self._queued:
            await self._cancel_pending([task_id], "cancelled before it ran")
            return await self.get(task_id)
        if task_id in self._fetching:
            await self._cancel_fetching({task_id: self._fetching[task_id]}, "cancelled while its downloads ran")
            return await self.get(task_id)
        running = self._running.get(task_id)
        if running is None:
            record = await self.get(task_id)
            raise Conflict(f"task {task_id} has already ended: {record['state']}")
        running.cancel_requested = True
        await self._deliver_cancel(running)
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(running.done.wait(), self.cancel_grace_seconds + 5)
        return await self.get(task_id)

    async def flush(self) -> list[str]:
        """Cancel every pending task; each gets its status events, then one ``system`` summary goes out."""
        queued = list(self._queued)
        # a job may have just queued its task; the others are stopped now, before an await lets one finish
        fetching = {t: job for t, job in self._fetching.items() if t not in self._queued}
        for job in fetching.values():
            job.cancel()
        self._heap.clear()
        if queued:
            await self._cancel_pending(queued, "flushed from the queue")
        if fetching:
            await self._cancel_fetching(fetching, "flushed from the queue while its downloads ran")
        cancelled = queued + list(fetching)
        self.events.publish("system", None, message="queue flushed", event="queue_flushed",
                            detail={"cancelled": cancelled})
        return cancelled

    # -- dispatch -----------------------------------------------------------------------------------

    def _admit(self, entry: _Queued) -> None:
        """A PENDING task joins the queue, or first fetches what its graph names."""
        if not entry.download:
            self._enqueue(entry)
            return
        job = asyncio.ensure_future(self._fetch_inputs(entry))
        self._fetching[entry.task_id] = job
        job.add_done_callback(lambda _: self._fetching.pop(entry.task_id, None))

    async def _fetch_inputs(self, entry: _Queued) -> None:
        """Download what the graph names (events on the task's channel), check its inputs now exist, then queue
        it. A failed download or a still-missing input ends the task FAILED with the reason."""
        try:
            await self.downloads.fetch_for_graph(entry.task_id, entry.graph)
            node_keys = await self.catalogue.node_keys()
            await asyncio.to_thread(validate_graph, entry.graph, node_keys, self.workspace)
            await self.db.run(lambda conn: _fetched(conn, entry.task_id))
        except ApiError as e:
            await self._finish(entry.task_id, _outcome("FAILED", f"download failed: {e.message}"))
            return
        except Exception as e:  # a bug here must not leave the task PENDING forever
            self.log.exception("task %s: downloads failed", entry.task_id)
            await self._finish(entry.task_id, _outcome("FAILED", f"download failed: {type(e).__name__}: {e}"))
            return
        self._enqueue(entry)

    async def _cancel_fetching(self, jobs: dict[str, asyncio.Task[None]], reason: str) -> None:
        """End tasks whose downloads were running (their rows are still PENDING): stop the jobs, record, tell."""
        for job in jobs.values():
            job.cancel()
        await asyncio.gather(*jobs.values(), return_exceptions=True)
        task_ids = [t for t, job in jobs.items() if job.cancelled()]  # not those that had just ended on their own
        outcome, now = _outcome("CANCELLED", reason), time.time()
        await self.db.run(lambda conn: _record_outcomes(conn, task_ids, outcome, now, self.history_limit))
        for task_id in task_ids:
            self._publish_outcome(task_id, outcome)

    def _enqueue(self, entry: _Queued) -> None:
        self._queued[entry.task_id] = entry
        heapq.heappush(self._heap, entry)
        self._wake.set()

    def _free_slots(self) -> int:
        # A task handed over but not yet started may not show in idle() yet: count it as taking a worker.
        busy = [r for r in self._running.values() if r.on_worker]
        unclaimed = sum(1 for r in busy if not r.claimed)
        return min(self.max_workers - len(busy), self.supervisor.idle() - unclaimed)

    async def _dispatch_loop(self) -> None:
        while True:
            self._wake.clear()
            while self._queued and self._free_slots() > 0:
                entry = heapq.heappop(self._heap)
                if self._queued.pop(entry.task_id, None) is None:
                    continue
                try:
                    await self._dispatch(entry)
                except Exception:  # keep dispatching; the row stays PENDING and queues again at the next start
                    self.log.exception("task %s could not be dispatched", entry.task_id)
                    self._running.pop(entry.task_id, None)
            blocked = bool(self._queued) and self.max_workers > 0
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), BLOCKED_POLL_SECONDS if blocked else None)

    async def _dispatch(self, entry: _Queued) -> None:
        running = self._running[entry.task_id] = _Running(entry.task_id, entry.graph)
        await self._transition(entry.task_id, "DISPATCHED", "dispatched_at")
        execution = asyncio.ensure_future(self._execute(running))
        self._executions.add(execution)
        execution.add_done_callback(self._executions.discard)

    async def _execute(self, running: _Running) -> None:
        try:
            outcome = await self._run(running)
            self._release_worker(running)  # the next task may start while this outcome is recorded
            if not self._stopping:
                await self._finish(running.task_id, outcome)
        except Exception as e:  # a bug here must not stall the queue: fail the task, keep dispatching
            self.log.exception("task %s: unexpected error", running.task_id)
            if not self._stopping:
                await self._finish(running.task_id, _outcome("FAILED", f"internal error: {e}"))
        finally:
            self._release_worker(running)
            self._running.pop(running.task_id, None)
            running.done.set()

    def _release_worker(self, running: _Running) -> None:
        running.on_worker = False
        self._wake.set()

    async def _run(self, running: _Running) -> RunOutcome:
        if running.cancel_requested:
            return _outcome("CANCELLED", "cancelled before it ran")
        relay: asyncio.Queue[tuple[str, dict[str, Any]] | None] = asyncio.Queue()

        def emit(type: str, fields: dict[str, Any]) -> None:
            if type == "started":
                running.claimed = True
            relay.put_nowait((type, fields))

        relaying = asyncio.ensure_future(self._relay(running, relay))
        running.handed_over = True
        try:
            return await self.supervisor.run(running.task_id, running.graph, emit)
        finally:
            relay.put_nowait(None)
            await relaying

    async def _relay(self, running: _Running, relay: asyncio.Queue[tuple[str, dict[str, Any]] | None]) -> None:
        """Worker emits, in order: ``started`` becomes RUNNING (written first), the rest become events."""
        while (item := await relay.get()) is not None:
            type, fields = item
            if type == "started":
                running.claimed = True
                if self._stopping:
                    continue
                running.state = "RUNNING"
                await self._transition(running.task_id, "RUNNING", "started_at", worker_pid=fields.get("pid"))
                if running.cancel_requested:
                    await self._deliver_cancel(running)
            elif type == "progress":
                self.events.publish("progress", running.task_id, message="task running", **fields)
            elif type == "log":
                self.events.publish("log", running.task_id, message="log update", **fields)
            else:
                self.events.publish(type, running.task_id, **fields)

    async def _deliver_cancel(self, running: _Running) -> None:
        if running.handed_over and not running.cancel_delivered:
            running.cancel_delivered = await self.supervisor.cancel(running.task_id)

    # -- recording transitions ----------------------------------------------------------------------

    async def _transition(self, task_id: str, state: str, stamp: str, worker_pid: int | None = None) -> None:
        now = time.time()
        await self.db.run(lambda conn: _update(conn, task_id, state, stamp, now, worker_pid))
        self._publish_status(task_id, state, **({"worker_pid": worker_pid} if worker_pid else {}))

    async def _finish(self, task_id: str, outcome: RunOutcome) -> None:
        now = time.time()
        await self.db.run(lambda conn: _record_outcomes(conn, [task_id], outcome, now, self.history_limit))
        self._publish_outcome(task_id, outcome)

    async def _cancel_pending(self, task_ids: list[str], reason: str) -> None:
        """End tasks that never ran: one transaction, then their events. Until then they still read PENDING."""
        for task_id in task_ids:
            del self._queued[task_id]
        self._unqueuing.update(task_ids)
        now = time.time()
        outcome = _outcome("CANCELLED", reason)
        try:
            await self.db.run(lambda conn: _record_outcomes(conn, task_ids, outcome, now, self.history_limit))
        finally:
            self._unqueuing.difference_update(task_ids)
        for task_id in task_ids:
            self._publish_outcome(task_id, outcome)

    def _publish_status(self, task_id: str, state: str, **fields: Any) -> None:
        self.events.publish("status", task_id, message=f"task {state}", state=state, **fields)

    def _publish_outcome(self, task_id: str, outcome: RunOutcome) -> None:
        """``status``, then upstream's completion pair: ``memory`` (values) and ``task_run_info`` (times)."""
        self._publish_status(task_id, outcome.state, error=outcome.error)
        for type, flag, message, fields in outcome_events(outcome):
            self.events.publish(type, task_id, flag=flag, message=message, **fields)


INTERRUPTED_REASON = "the server stopped while the task was dispatched or running"


def outcome_events(outcome: RunOutcome) -> list[tuple[str, str, str, dict[str, Any]]]:
    """``(type, flag, message, fields)`` of the ``memory`` and ``task_run_info`` events that end a task
    (published when it ends, rebuilt from its record for a client that binds after they left the buffer)."""
    flag = "success" if outcome.state == "SUCCEEDED" else "failed"
    message = "Run success" if outcome.state == "SUCCEEDED" else (outcome.error or f"task {outcome.state}")
    return [
        ("memory", flag, message, {"content": outcome.values}),
        ("task_run_info", flag, message, {"state": outcome.state, "error": outcome.error,
                                          "time_profile": outcome.time_profile, "outputs": outcome.outputs}),
    ]


def outcome_of(record: dict[str, Any]) -> RunOutcome:
    """The outcome of an ended task, from its record."""
    return _outcome(record["state"], record["error"], record["time_profile"], record["values"], record["outputs"])


def _outcome(state: str, error: str | None, time_profile: dict | None = None, values: dict | None = None,
             outputs: list | None = None) -> RunOutcome:
    return RunOutcome(state=state, error=error, time_profile=time_profile or {}, values=values or {},
                      outputs=outputs or [])


# -- on the database thread -------------------------------------------------------------------------

def _reconcile(conn: sqlite3.Connection) -> tuple[list[str], list[_Queued]]:
    """At start: tasks caught in flight by the last stop become INTERRUPTED; pending ones queue again."""
    now = time.time()
    with conn:
        interrupted = [r["id"] for r in conn.execute("SELECT id FROM tasks WHERE state IN ('DISPATCHED','RUNNING')")]
        conn.execute("UPDATE tasks SET state='INTERRUPTED', finished_at=?, error=? "
                     "WHERE state IN ('DISPATCHED','RUNNING')", (now, INTERRUPTED_REASON))
    rows = conn.execute("SELECT id, priority, seq, graph, download FROM tasks WHERE state='PENDING'").fetchall()
    return interrupted, [_Queued(r["priority"], r["seq"], r["id"], json.loads(r["graph"]), bool(r["download"]))
                         for r in rows]


def _insert(conn: sqlite3.Connection, row: dict[str, Any]) -> int:
    with conn:
        cursor = conn.execute(
            "INSERT INTO tasks (id, state, priority, name, graph, source, params, submitted_at, download) "
            "VALUES (:id, 'PENDING', :priority, :name, :graph, :source, :params, :submitted_at, :download)", row)
    assert cursor.lastrowid is not None
    return cursor.lastrowid


def _fetched(conn: sqlite3.Connection, task_id: str) -> None:
    with conn:
        conn.execute("UPDATE tasks SET download=0 WHERE id=?", (task_id,))


def _update(conn: sqlite3.Connection, task_id: str, state: str, stamp: str, now: float, pid: int | None) -> None:
    with conn:
        conn.execute(f"UPDATE tasks SET state=?, {stamp}=?, worker_pid=COALESCE(?, worker_pid) WHERE id=?",
                     (state, now, pid, task_id))


def _record_outcomes(conn: sqlite3.Connection, task_ids: list[str], outcome: RunOutcome, now: float,
                     limit: int) -> None:
    with conn:
        conn.executemany(
            "UPDATE tasks SET state=?, finished_at=?, error=?, time_profile=?, result_values=?, outputs=? WHERE id=?",
            [(outcome.state, now, outcome.error, json.dumps(outcome.time_profile), json.dumps(outcome.values),
              json.dumps(outcome.outputs), task_id) for task_id in task_ids],
        )
        _trim_history(conn, limit)


def _trim_history(conn: sqlite3.Connection, limit: int) -> None:
    """Keep the ``limit`` newest ended tasks (only ended tasks have ``finished_at``; its index finds the cut)."""
    oldest_kept = conn.execute(
        "SELECT finished_at, seq FROM tasks WHERE finished_at IS NOT NULL ORDER BY finished_at DESC, seq DESC "
        "LIMIT 1 OFFSET ?", (max(limit - 1, 0),)).fetchone()
    if oldest_kept is not None:
        conn.execute("DELETE FROM tasks WHERE finished_at < ? OR (finished_at = ? AND seq < ?)",
                     (oldest_kept["finished_at"], oldest_kept["finished_at"], oldest_kept["seq"]))


def _record(row: sqlite3.Row) -> dict[str, Any]:
    def loads(text: str | None, empty: Any) -> Any:
        return json.loads(text) if text else empty

    return {
        "task_id": row["id"], "state": row["state"], "priority": row["priority"], "name": row["name"],
        "source": row["source"], "params": loads(row["params"], None),
        "ts_submit": row["submitted_at"], "ts_dispatch": row["dispatched_at"], "ts_start": row["started_at"],
        "ts_finish": row["finished_at"], "worker_pid": row["worker_pid"], "error": row["error"],
        "time_profile": loads(row["time_profile"], {}), "values": loads(row["result_values"], {}),
        "outputs": loads(row["outputs"], []),
    }
