"""The executor seam: where graphs run. The queue decides what runs and when; an executor runs it.

An executor is chosen by ``NnDeployExtension.executor_class`` (a class, a dotted path, or a name registered
under the entry-point group ``nndeploy_jupyter.executors``): :class:`~.local.LocalExecutor` (supervised worker
processes on this machine) by default. Everything the queue needs from one is :class:`Executor`:

- ``start()`` brings it up (warm workers, connect to a cluster, check it sees the workspace) and raises a clear
  error when it cannot; ``stop()`` ends everything it runs. Tasks stay PENDING until it has capacity.
- ``capacity()`` is how many tasks it can run at once *now* (warm, live slots). The queue hands over at most that
  many, counting those it has handed over whose ``run()`` has not returned. Whenever capacity changes (a worker
  is ready, dies, a cluster scales), the executor calls the listener given to ``on_capacity_change``.
- ``run(task, emit)`` runs one task and returns its :class:`RunOutcome`. It never raises for the task's own
  failure (a crash, a kill, a cancel are outcomes too). While it runs it calls ``emit`` on the event loop with
  :class:`Started` once a worker has it, then :class:`~..schemas.ProgressEvent` and :class:`~..schemas.LogEvent`
  (the wire's own models, so events from remote processes travel as their JSON). If ``run()`` itself is
  cancelled, the task must stop.
- ``cancel(task_id)`` stops a task handed to ``run()``: interrupt, then kill after ``cancel_grace_seconds``; the
  outcome is CANCELLED. ``run()`` must know its task before its first ``await``, so a cancel that comes at
  once is not lost; a cancel of a task it no longer knows does nothing (and answers False).
- ``reload_plugins()``: plugin files changed; load them before the next task.
- ``workers()``: each worker's :class:`~..schemas.WorkerInfo` (starting, ready, busy, restarting, crashed), for
  ``GET server`` and the panel's header; a change of capacity is the cue to ask again.
- ``unavailable()``: why tasks cannot run now (a cluster that cannot be reached, workers that do not see the
  workspace), or None. While it says so, ``POST queue`` answers 503 with that reason instead of queueing tasks
  that would wait forever. A reason that may clear by itself (no worker yet, workers warming) is not one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

from pydantic import Field
from traitlets.config import LoggingConfigurable

from ..schemas import Graph, LogEvent, ProgressEvent, RunOutcome, WorkerInfo
from ..schemas.base import Model
from ..workspace import Workspace

ENTRY_POINT_GROUP = "nndeploy_jupyter.executors"


@dataclass(frozen=True)
class ExecutorContext:
    """What every executor is given: the extension's settings that say how tasks run."""

    workspace: Workspace
    max_workers: int = 1
    cancel_grace_seconds: float = 5.0
    plugin_dirs: list[Path] = field(default_factory=list)


@dataclass(frozen=True)
class ExecutorTask:
    """A task handed to an executor."""

    task_id: str
    graph: Graph
    name: str = ""


class Started(Model):
    """A worker has taken the task: it is RUNNING."""

    type: Literal["started"] = "started"
    task_id: str
    pid: int | None = Field(None, description="the process running the graph, where it has one")


ExecutorEvent = Started | ProgressEvent | LogEvent
Emit = Callable[[ExecutorEvent], None]


@runtime_checkable
class Executor(Protocol):
    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    def capacity(self) -> int: ...

    def on_capacity_change(self, listener: Callable[[], None]) -> None: ...

    async def run(self, task: ExecutorTask, emit: Emit) -> RunOutcome: ...

    async def cancel(self, task_id: str) -> bool: ...

    def reload_plugins(self) -> None: ...

    def workers(self) -> list[WorkerInfo]: ...

    def unavailable(self) -> str | None: ...


class BaseExecutor(LoggingConfigurable):
    """A convenient base: configurable (its own traits read from the server's config, as
    ``c.DaskExecutor.scheduler_address``), with the capacity listeners kept."""

    def __init__(self, context: ExecutorContext, **kwargs: Any):
        super().__init__(**kwargs)
        self.context = context
        self._capacity_listeners: list[Callable[[], None]] = []

    def on_capacity_change(self, listener: Callable[[], None]) -> None:
        self._capacity_listeners.append(listener)

    def capacity_changed(self) -> None:
        for listener in list(self._capacity_listeners):
            try:
                listener()
            except Exception:
                self.log.exception("capacity listener failed")

    def reload_plugins(self) -> None:
        """Nothing to do for an executor without plugins of its own."""

    def workers(self) -> list[WorkerInfo]:
        """Unknown: an executor that cannot tell says nothing rather than guess."""
        return []

    def unavailable(self) -> str | None:
        """Nothing stands in the way."""
        return None


def resolve_executor(name: str) -> type:
    """The executor class an entry point of :data:`ENTRY_POINT_GROUP` names (``local``, ``dask``...)."""
    from importlib.metadata import entry_points  # only when a name is configured: scanning them is not free

    found = {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}
    if name not in found:
        known = ", ".join(sorted(found)) or "none"
        raise ValueError(f"no executor named {name!r} in the entry points {ENTRY_POINT_GROUP} (known: {known}); "
                         "give a class or its dotted path instead")
    return found[name].load()


def build_executor(executor_class: type, context: ExecutorContext, log: logging.Logger,
                   parent: Any = None) -> Executor:
    executor = executor_class(context, parent=parent, log=log)
    if not isinstance(executor, Executor):
        missing = [m for m in ("start", "stop", "capacity", "on_capacity_change", "run", "cancel", "reload_plugins",
                                      "workers", "unavailable")
                   if not callable(getattr(executor, m, None))]
        raise TypeError(f"executor_class {executor_class.__name__} is not an Executor (missing: {', '.join(missing)})")
    return executor
