"""Batches from a notebook: :meth:`Client.map` queues one graph over many inputs and parameter sets in one
request, and returns a :class:`Batch` that follows its tasks.

The Batch binds the batch's own channel on the Client's event stream: the server sends it the status events of
its tasks (and, on each bind, a snapshot of every one), never one subscription per task. States only move
forward (an ended task stays ended whatever arrives late); while the stream is down, :meth:`Batch.wait` asks
``batch/{id}`` (one request for the whole batch) instead.
"""

from __future__ import annotations

import contextlib
import itertools
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..params import Params
from ..states import FINAL_STATES, TaskState
from .stream import wait_for

if TYPE_CHECKING:
    from .client import Client, Task

LIVE_POLL_SECONDS = 5.0  # how often a waiting Batch reads batch/{id} while the stream is up: a safety net


def grid(axes: Mapping[str, Any]) -> list[Params]:
    """Every combination of parameter values: ``grid({"Canny": {"low_threshold": [20, 40], "high_threshold":
    [100, 200]}})`` (or ``grid({"Canny.low_threshold": [20, 40], ...})``) gives four params dicts."""
    flat: dict[tuple[str, str], list[Any]] = {}
    for key, values in axes.items():
        if isinstance(values, Mapping):
            flat.update(((key, name), list(v)) for name, v in values.items())
        else:
            node, dot, name = key.partition(".")
            if not dot or not node or not name:
                raise ValueError(f"grid key {key!r}: give 'Node.key', or {{'Node': {{'key': [values]}}}}")
            flat[(node, name)] = list(values)
    combinations = []
    for values in itertools.product(*flat.values()):
        params: Params = {}
        for (node, name), value in zip(flat, values, strict=True):
            params.setdefault(node, {})[name] = value
        combinations.append(params)
    return combinations


COUNT_ORDER = [TaskState.SUCCEEDED, TaskState.FAILED, TaskState.CANCELLED, TaskState.INTERRUPTED,
               TaskState.RUNNING, TaskState.DISPATCHED, TaskState.PENDING]


def ordered_counts(counts: dict[str, int]) -> list[tuple[str, int]]:
    """Counts in the order users read them (outcomes first, then what is still to come), unknown states last."""
    known = [(str(state), counts[str(state)]) for state in COUNT_ORDER if counts.get(str(state))]
    return known + sorted((s, n) for s, n in counts.items() if s not in {str(o) for o in COUNT_ORDER})


@dataclass(frozen=True)
class Entry:
    """What the notebook asked of one task: its input (as given) and its parameters."""

    input: Any
    params: Params


class Batch:
    """The tasks of one :meth:`Client.map`, followed live: ``counts``, ``failures``, ``wait()``, ``cancel()``,
    ``results()``, ``tasks()``, ``progress()``. ``task_ids[i]`` ran ``entries[i]`` (its input and params; None for
    a batch followed by id)."""

    def __init__(self, client: Client, batch_id: str, task_ids: list[str], entries: list[Entry] | None = None):
        self.client = client
        self.id = batch_id
        self.task_ids = task_ids
        self.entries = entries
        self._states: dict[str, TaskState | str] = dict.fromkeys(task_ids, TaskState.PENDING)
        self._errors: dict[str, str] = {}
        self._open = len(task_ids)
        self._finished = threading.Event()
        self._lock = threading.Lock()
        self._listeners: list[Callable[[Batch], None]] = []
        if not task_ids:
            self._finished.set()

    # -- what users read ------------------------------------------------------------------------------

    @property
    def total(self) -> int:
        return len(self.task_ids)

    @property
    def finished(self) -> bool:
        return self._finished.is_set()

    @property
    def counts(self) -> dict[str, int]:
        """Tasks by state (only the states some task is in)."""
        with self._lock:
            return dict(Counter(str(state) for state in self._states.values()))

    @property
    def done(self) -> int:
        """Tasks that have ended, whatever the outcome."""
        return self.total - self._open

    @property
    def failures(self) -> list[tuple[int, str, str]]:
        """``(index, state, reason)`` of every task that ended without succeeding, in entry order."""
        with self._lock:
            return [(index, str(self._states[task_id]), self._errors.get(task_id) or "no reason given")
                    for index, task_id in enumerate(self.task_ids)
                    if self._states[task_id] in FINAL_STATES and self._states[task_id] != TaskState.SUCCEEDED]

    def state_of(self, index: int) -> TaskState | str:
        return self._states[self.task_ids[index]]

    # -- acting on it ---------------------------------------------------------------------------------

    def wait(self, timeout: float | None = None) -> Batch:
        """Block until every task has ended (or raise TimeoutError). Failed tasks do not raise: see
        ``failures`` and ``results()``."""
        deadline = None if timeout is None else time.monotonic() + timeout
        wait_for(self._finished, self.refresh, self.client.stream, deadline,
                 lambda: f"batch {self.id} not finished after {timeout} s: {self.counts}", live_poll=LIVE_POLL_SECONDS)
        self._notify()  # on the waiting thread: a widget publishes its final text from here
        return self

    def cancel(self, wait: bool = True, timeout: float | None = None) -> Batch:
        """Cancel every task not yet ended (ended ones keep their outcome); with ``wait``, until all have ended."""
        self._merge(self.client.http.call("POST", f"batch/{self.id}/cancel"))
        return self.wait(timeout) if wait else self

    def refresh(self) -> Batch:
        """Read the batch's states from the server (one request)."""
        self._merge(self.client.http.call("GET", f"batch/{self.id}"))
        return self

    def subscribe(self, listener: Callable[[Batch], None]) -> None:
        """Call ``listener(batch)`` after every change, from whichever thread saw it."""
        self._listeners.append(listener)
        listener(self)

    def progress(self) -> Any:
        """Display a live progress widget (a bar, counts by state, failures with their reasons) and return it."""
        from .widgets import BatchProgress

        return BatchProgress(self).show()

    def records(self) -> list[dict[str, Any]]:
        """The server's records of the batch's tasks, in entry order (those its history still keeps)."""
        return self.client.http.call("GET", f"batch/{self.id}/tasks")

    def tasks(self) -> list[Task]:
        """A :class:`Task` per entry, with its record: ``batch.tasks()[3].images()``."""
        from .client import Task

        by_id = {record["task_id"]: record for record in self.records()}
        tasks = []
        for task_id in self.task_ids:
            task = Task(self.client, task_id)
            if task_id in by_id:
                task.adopt(by_id[task_id])
            tasks.append(task)
        return tasks

    def results(self) -> Any:
        """One row per task: index, input, params, state, outputs (paths), values, time (seconds from start to
        end), error, task_id. A pandas DataFrame when pandas is installed, else a list of dicts."""
        by_id = {record["task_id"]: record for record in self.records()}
        rows = [self._row(index, task_id, by_id.get(task_id)) for index, task_id in enumerate(self.task_ids)]
        try:
            import pandas
        except ImportError:
            return rows
        return pandas.DataFrame(rows).set_index("index")

    def _row(self, index: int, task_id: str, record: dict[str, Any] | None) -> dict[str, Any]:
        from .inputs import describe

        record = record or {}
        entry = self.entries[index] if self.entries else None
        start, end = record.get("ts_start"), record.get("ts_finish")
        return {
            "index": index,
            "input": describe(entry.input) if entry and entry.input is not None else None,
            "params": entry.params if entry else record.get("params"),
            "state": str(record.get("state") or self._states[task_id]),
            "outputs": [o["path"] for o in record.get("outputs") or []],
            "values": record.get("values") or {},
            "time": round(end - start, 4) if start is not None and end is not None else None,
            "error": record.get("error") or self._errors.get(task_id),
            "task_id": task_id,
        }

    # -- events, on the stream's thread ---------------------------------------------------------------

    def apply(self, event: dict[str, Any]) -> None:
        result = event["result"]
        if result.get("type") == "status" and self._set(result.get("task_id"), result.get("state"),
                                                          result.get("error")):
            self._notify()

    def _merge(self, info: dict[str, Any]) -> None:
        changed = [self._set(m["task_id"], m.get("state"), m.get("error")) for m in info.get("tasks") or []]
        if any(changed):
            self._notify()

    def _set(self, task_id: Any, state: Any, error: str | None) -> bool:
        """Move one task forward; whether anything changed. An ended task never reopens."""
        if task_id not in self._states or not isinstance(state, str):
            return False
        with contextlib.suppress(ValueError):
            state = TaskState(state)
        with self._lock:
            current = self._states[task_id]
            if current in FINAL_STATES or current == state:
                return False
            self._states[task_id] = state
            if error:
                self._errors[task_id] = error
            if state in FINAL_STATES:
                self._open -= 1
                if self._open == 0:
                    self._finished.set()
        return True

    def _notify(self) -> None:
        for listener in list(self._listeners):
            listener(self)

    def __repr__(self) -> str:
        counts = ", ".join(f"{n} {state}" for state, n in ordered_counts(self.counts))
        return f"<Batch {self.id} {self.done}/{self.total} ended: {counts}>"
