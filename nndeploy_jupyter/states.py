"""A task's lifecycle states: the one vocabulary the queue, the store, the events, the Client and the panel share.

Re-exported by :mod:`nndeploy_jupyter.schemas`; a module of its own so a worker process names states without
importing pydantic."""

from __future__ import annotations

from enum import Enum


class TaskState(str, Enum):
    """``PENDING → DISPATCHED → RUNNING → SUCCEEDED | FAILED | CANCELLED``, and ``INTERRUPTED`` for a task whose
    server stopped while it was dispatched or running. Values are the strings on the wire and in SQLite."""

    PENDING = "PENDING"  # queued (or fetching the resources its graph names)
    DISPATCHED = "DISPATCHED"  # handed to the executor, not yet started by a worker
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    INTERRUPTED = "INTERRUPTED"

    def __str__(self) -> str:  # f"task {state}" reads "task RUNNING", not "task TaskState.RUNNING"
        return self.value

    @property
    def final(self) -> bool:
        return self in FINAL_STATES


FINAL_STATES = frozenset({TaskState.SUCCEEDED, TaskState.FAILED, TaskState.CANCELLED, TaskState.INTERRUPTED})
IN_FLIGHT_STATES = (TaskState.RUNNING, TaskState.DISPATCHED)  # on the executor, in the order queue/info lists them


class WorkerState(str, Enum):
    """What an executor's worker is doing, as the panel's header shows it (``GET server``, ``workers`` events)."""

    STARTING = "STARTING"  # spawned, importing nndeploy and the plugins
    READY = "READY"  # warm and idle
    BUSY = "BUSY"  # running a task
    RESTARTING = "RESTARTING"  # it died; a new one starts after a back-off
    CRASHED = "CRASHED"  # it died before it was ready, again and again: its log says why

    def __str__(self) -> str:
        return self.value
