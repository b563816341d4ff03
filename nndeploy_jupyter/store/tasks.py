"""The task table: every query the queue makes, and the one guarded transition that changes a task's state.

:meth:`TaskStore.transition` is the only way a state changes. It moves a task only along the lifecycle
(``PENDING → DISPATCHED → RUNNING → final``, or straight to a final state), so a finished task can never be
overwritten: an outcome arriving after a cancel, a stop or a restart changes nothing, and says so by
returning no record. Each call is one transaction; the caller publishes what it returns, once.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..errors import NotFound
from ..schemas import (
    FINAL_STATES,
    IN_FLIGHT_STATES,
    BatchInfo,
    BatchMember,
    Graph,
    History,
    Params,
    QueueInfo,
    RunOutcome,
    TaskRecord,
    TaskState,
)
from ..schemas.batches import empty_counts
from .database import Database, transaction

# Where each state may be reached from: the guard of every transition.
_SOURCES: dict[TaskState, tuple[TaskState, ...]] = {
    TaskState.DISPATCHED: (TaskState.PENDING,),
    TaskState.RUNNING: (TaskState.DISPATCHED,),
    **{final: (TaskState.PENDING, *IN_FLIGHT_STATES) for final in FINAL_STATES},
}
_STAMPS = {TaskState.DISPATCHED: "dispatched_at", TaskState.RUNNING: "started_at"}


@dataclass(order=True)
class Queued:
    """A PENDING task as the queue keeps it: ordered by priority (lower first), then submission."""

    priority: int
    seq: int
    task_id: str = field(compare=False)
    name: str = field(compare=False)
    graph: Graph = field(compare=False, repr=False)
    download: bool = field(default=False, compare=False)  # fetch the graph's *_url_ resources first
    batch_id: str | None = field(default=None, compare=False)


@dataclass(frozen=True)
class NewTask:
    """One task of a batch, as it is recorded."""

    task_id: str
    graph: Graph
    params: Params | None


class TaskStore:
    def __init__(self, db: Database, history_limit: int):
        self.db = db
        self.history_limit = history_limit

    async def insert(self, task_id: str, graph: Callable[[], Graph], *, priority: int, name: str,
                     source: str | None, params: Params | None, download: bool, dispatched: bool = False) -> Queued:
        """Record a new task, PENDING; or, with ``dispatched``, already DISPATCHED (the queue hands it to the
        executor at once: the two states in one transaction, as if it had waited no time). ``graph()`` makes its
        graph on the database thread, right before the row is written: the queue checks it there, one trip off
        the event loop for both (what it raises is raised here, and nothing is written)."""
        def _write(conn: sqlite3.Connection) -> tuple[int, Graph]:
            checked = graph()
            row = _row(NewTask(task_id, checked, params), priority=priority, name=name, source=source,
                       download=download)
            if dispatched:
                row.update(state=TaskState.DISPATCHED, dispatched_at=row["submitted_at"])
            return _insert(conn, [row])[0], checked

        seq, checked = await self.db.run(_write)
        return Queued(priority, seq, task_id, name, checked, download)

    async def insert_batch(self, batch_id: str, tasks: list[NewTask], *, priority: int, name: str,
                           source: str | None, batch_name: str) -> list[Queued]:
        """Record a batch and its tasks, PENDING, in one transaction (a thousand tasks: one write, not a thousand).
        The rows are made on the database thread too: a graph's JSON text, ten thousand times, takes a while."""
        def _write(conn: sqlite3.Connection) -> list[int]:
            rows = [_row(task, priority=priority, name=name, source=source, batch_id=batch_id, batch_index=index)
                    for index, task in enumerate(tasks)]
            batch = {"id": batch_id, "name": batch_name, "source": source, "submitted_at": rows[0]["submitted_at"],
                     "total": len(rows)}
            return _insert(conn, rows, batch)

        seqs = await self.db.run(_write)
        return [Queued(priority, seq, task.task_id, name, task.graph, batch_id=batch_id)
                for seq, task in zip(seqs, tasks, strict=True)]

    async def batch(self, batch_id: str) -> BatchInfo:
        """How a batch stands: its tasks' states in entry order, counted. 404 for an unknown batch."""
        info = await self.db.run(lambda conn: _batch(conn, batch_id))
        if info is None:
            raise NotFound(f"no batch with id {batch_id!r}")
        return info

    async def batch_records(self, batch_id: str) -> list[TaskRecord]:
        """The records of a batch's tasks still kept, in entry order. 404 for an unknown batch."""
        def _rows(conn: sqlite3.Connection) -> list[TaskRecord] | None:
            if conn.execute("SELECT 1 FROM batches WHERE id = ?", (batch_id,)).fetchone() is None:
                return None
            rows = conn.execute("SELECT * FROM tasks WHERE batch_id = ? ORDER BY batch_index", (batch_id,))
            return [_record(row) for row in rows]

        records = await self.db.run(_rows)
        if records is None:
            raise NotFound(f"no batch with id {batch_id!r}")
        return records

    async def get(self, task_id: str) -> TaskRecord:
        records = await self.db.run(lambda conn: _records(conn, [task_id]))
        if not records:
            raise NotFound(f"no task with id {task_id!r}")
        return records[0]

    async def info(self) -> QueueInfo:
        def _info(conn: sqlite3.Connection) -> QueueInfo:
            rows = conn.execute("SELECT * FROM tasks WHERE state IN (?, ?, ?) ORDER BY priority, seq",
                                (TaskState.PENDING, *IN_FLIGHT_STATES)).fetchall()
            records = [_record(r) for r in rows]
            return QueueInfo(**{state.lower(): [r for r in records if r.state == state]
                                for state in (TaskState.RUNNING, TaskState.DISPATCHED, TaskState.PENDING)})

        return await self.db.run(_info)

    async def history(self, max_items: int) -> History:
        def _history(conn: sqlite3.Connection) -> History:
            rows = conn.execute(
                "SELECT * FROM tasks WHERE finished_at IS NOT NULL ORDER BY finished_at DESC, seq DESC LIMIT ?",
                (max_items,),
            ).fetchall()
            total = conn.execute("SELECT COUNT(*) FROM tasks WHERE finished_at IS NOT NULL").fetchone()[0]
            return History(items=[_record(r) for r in rows], total=total)

        return await self.db.run(_history)

    async def pending(self) -> list[Queued]:
        def _pending(conn: sqlite3.Connection) -> list[Queued]:
            rows = conn.execute("SELECT id, priority, seq, name, graph, download, batch_id FROM tasks WHERE state = ?",
                                (TaskState.PENDING,)).fetchall()
            return [Queued(r["priority"], r["seq"], r["id"], r["name"], json.loads(r["graph"]), bool(r["download"]),
                           r["batch_id"]) for r in rows]

        return await self.db.run(_pending)

    async def in_flight(self) -> list[str]:
        """Ids of the tasks on an executor (DISPATCHED or RUNNING)."""
        def _ids(conn: sqlite3.Connection) -> list[str]:
            return [r["id"] for r in conn.execute("SELECT id FROM tasks WHERE state IN (?, ?)", IN_FLIGHT_STATES)]

        return await self.db.run(_ids)

    async def live_paths(self) -> set[str]:
        """Every ``path_`` the top-level nodes of the tasks not yet ended name (what their workers will read)."""
        def _paths(conn: sqlite3.Connection) -> set[str]:
            rows = conn.execute("SELECT graph FROM tasks WHERE state IN (?, ?, ?)", (TaskState.PENDING,
                                                                                   *IN_FLIGHT_STATES))
            return {node["path_"] for row in rows for node in json.loads(row["graph"]).get("node_repository_") or []
                    if isinstance(node, dict) and isinstance(node.get("path_"), str)}

        return await self.db.run(_paths)

    async def fetched(self, task_id: str) -> None:
        """The task's downloads are done: a restart queues it without fetching again."""
        def _fetched(conn: sqlite3.Connection) -> None:
            with transaction(conn):
                conn.execute("UPDATE tasks SET download = 0 WHERE id = ?", (task_id,))

        await self.db.run(_fetched)

    async def transition(self, task_ids: list[str], state: TaskState, *, outcome: RunOutcome | None = None,
                         worker_pid: int | None = None) -> list[TaskRecord]:
        """Move each task to ``state`` if the lifecycle allows it from where it is; one transaction. The records
        of the tasks that moved (the others had moved on already: ended, or never existed)."""
        assert state.final == (outcome is not None), "a final state comes with its outcome, and only it"
        return await self.db.run(lambda conn: _transition(conn, task_ids, state, outcome, worker_pid,
                                                          self.history_limit))

    async def request_cancel(self, task_id: str) -> TaskRecord | None:
        """Note that a cancel was asked for a task on an executor; None if it is no longer there."""
        def _request(conn: sqlite3.Connection) -> TaskRecord | None:
            with transaction(conn):
                moved = conn.execute("UPDATE tasks SET cancel_requested = 1 WHERE id = ? AND state IN (?, ?)",
                                     (task_id, *IN_FLIGHT_STATES)).rowcount
            return _records(conn, [task_id])[0] if moved else None

        return await self.db.run(_request)


# -- on the database thread -------------------------------------------------------------------------

def _row(task: NewTask, *, priority: int, name: str, source: str | None, download: bool = False,
         batch_id: str | None = None, batch_index: int | None = None) -> dict[str, Any]:
    return {"id": task.task_id, "state": TaskState.PENDING, "priority": priority, "name": name,
            "graph": json.dumps(task.graph), "source": source,
            "params": json.dumps(task.params) if task.params else None, "submitted_at": time.time(),
            "dispatched_at": None, "download": int(download), "batch_id": batch_id, "batch_index": batch_index}


def _insert(conn: sqlite3.Connection, rows: list[dict[str, Any]], batch: dict[str, Any] | None = None) -> list[int]:
    """Insert ``rows`` (and their batch first), one transaction; their ``seq``, in order."""
    seqs = []
    with transaction(conn):
        if batch is not None:
            conn.execute("INSERT INTO batches (id, name, source, submitted_at, total) "
                         "VALUES (:id, :name, :source, :submitted_at, :total)", batch)
        for row in rows:
            cursor = conn.execute(
                "INSERT INTO tasks (id, state, priority, name, graph, source, params, submitted_at, dispatched_at, "
                "download, batch_id, batch_index) VALUES (:id, :state, :priority, :name, :graph, :source, :params, "
                ":submitted_at, :dispatched_at, :download, :batch_id, :batch_index)", row)
            assert cursor.lastrowid is not None
            seqs.append(cursor.lastrowid)
    return seqs


def _batch(conn: sqlite3.Connection, batch_id: str) -> BatchInfo | None:
    batch = conn.execute("SELECT * FROM batches WHERE id = ?", (batch_id,)).fetchone()
    if batch is None:
        return None
    members = [BatchMember(task_id=r["id"], index=r["batch_index"], state=r["state"], error=r["error"])
               for r in conn.execute("SELECT id, batch_index, state, error FROM tasks WHERE batch_id = ? "
                                     "ORDER BY batch_index", (batch_id,))]
    counts = empty_counts()
    for member in members:
        counts[member.state.value] += 1
    return BatchInfo(batch_id=batch_id, name=batch["name"], source=batch["source"], ts_submit=batch["submitted_at"],
                     total=batch["total"], counts=counts, finished=all(m.state.final for m in members),
                     expired=batch["total"] - len(members), tasks=members)


def _transition(conn: sqlite3.Connection, task_ids: list[str], state: TaskState, outcome: RunOutcome | None,
                worker_pid: int | None, history_limit: int) -> list[TaskRecord]:
    sources = _SOURCES[state]
    guard = f"id = ? AND state IN ({', '.join('?' * len(sources))})"
    now = time.time()
    if outcome is not None:
        sets = "state = ?, finished_at = ?, error = ?, time_profile = ?, result_values = ?, outputs = ?"
        values: tuple[Any, ...] = (state, now, outcome.error, outcome.time_profile.model_dump_json(),
                                   json.dumps(outcome.values),
                                   json.dumps([o.model_dump(mode="json") for o in outcome.outputs]))
    else:
        sets = f"state = ?, {_STAMPS[state]} = ?, worker_pid = COALESCE(?, worker_pid)"
        values = (state, now, worker_pid)
    with transaction(conn):
        moved = [task_id for task_id in task_ids
                 if conn.execute(f"UPDATE tasks SET {sets} WHERE {guard}", (*values, task_id, *sources)).rowcount]
        if outcome is not None and moved:
            _trim_history(conn, history_limit)
    return _records(conn, moved)


def _trim_history(conn: sqlite3.Connection, limit: int) -> None:
    """Keep the ``limit`` newest ended tasks (only ended tasks have ``finished_at``; its index finds the cut)."""
    oldest_kept = conn.execute(
        "SELECT finished_at, seq FROM tasks WHERE finished_at IS NOT NULL ORDER BY finished_at DESC, seq DESC "
        "LIMIT 1 OFFSET ?", (max(limit - 1, 0),)).fetchone()
    if oldest_kept is not None:
        trimmed = conn.execute("DELETE FROM tasks WHERE finished_at < ? OR (finished_at = ? AND seq < ?)",
                               (oldest_kept["finished_at"], oldest_kept["finished_at"], oldest_kept["seq"])).rowcount
        if trimmed:  # a batch goes with its last task
            conn.execute("DELETE FROM batches WHERE NOT EXISTS (SELECT 1 FROM tasks WHERE batch_id = batches.id)")


def _records(conn: sqlite3.Connection, task_ids: list[str]) -> list[TaskRecord]:
    """The records of ``task_ids`` still in the table, in the order given."""
    rows: dict[str, sqlite3.Row] = {}
    for start in range(0, len(task_ids), 500):  # SQLite caps the number of bound parameters
        chunk = task_ids[start:start + 500]
        query = f"SELECT * FROM tasks WHERE id IN ({', '.join('?' * len(chunk))})"
        rows.update((row["id"], row) for row in conn.execute(query, chunk))
    return [_record(rows[task_id]) for task_id in task_ids if task_id in rows]


def _record(row: sqlite3.Row) -> TaskRecord:
    def loads(text: str | None, empty: Any) -> Any:
        return json.loads(text) if text else empty

    return TaskRecord(
        task_id=row["id"], state=row["state"], priority=row["priority"], name=row["name"], source=row["source"],
        params=loads(row["params"], None), ts_submit=row["submitted_at"], ts_dispatch=row["dispatched_at"],
        ts_start=row["started_at"], ts_finish=row["finished_at"], worker_pid=row["worker_pid"], error=row["error"],
        time_profile=loads(row["time_profile"], {}), values=loads(row["result_values"], {}),
        outputs=loads(row["outputs"], []), cancel_requested=bool(row["cancel_requested"]), batch_id=row["batch_id"],
    )
