"""Tasks as the API shows them: the record ``GET queue/{id}`` answers, the queue, the history, and what
``POST queue`` takes."""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict, Field, model_serializer, model_validator

from ..states import TaskState
from .base import Model

DEFAULT_PRIORITY = 100  # as upstream: room to go both ways
PRIORITY_BOUND = 1_000_000_000
HISTORY_MAX_ITEMS = 1000

Graph = dict[str, Any]  # an nndeploy graph JSON object (name_, node_repository_, edges by name...)
Params = dict[str, dict[str, Any]]  # {"<node name_>": {"<key>": value}}


class OutputFile(Model):
    """A file an Output node wrote during the run (checked to exist and to be fresh)."""

    node: str
    path: str = Field(description="absolute path on the server")
    size: int
    partial: bool = Field(False, description="the task did not succeed: the file may be incomplete")


class NodeTime(Model):
    init_time: float
    average_time: float
    runs: int


class TimeProfile(Model):
    """Milliseconds. Empty (``{}``) for a task that never ran; nndeploy's frontend reads ``init_time`` and
    ``run_time``."""

    model_config = ConfigDict(json_schema_serialization_defaults_required=False)

    init_time: float | None = None
    run_time: float | None = None
    nodes: dict[str, NodeTime] | None = None

    @model_serializer(mode="wrap")
    def _without_absent(self, handler):  # type: ignore[no-untyped-def]  # unannotated: the schema keeps the fields
        return {k: v for k, v in handler(self).items() if v is not None}  # {} stays {}, as upstream sends it


class RunOutcome(Model):
    """How a task ended, whatever the cause (success, failure, cancel, crash, kill), as an executor reports it.
    A model, so an executor whose tasks run elsewhere can carry it as JSON."""

    state: TaskState = Field(description="a final state")
    error: str | None = Field(None, description="the exception, nndeploy's E/ line, 'worker crashed: SIGSEGV ...'")
    time_profile: TimeProfile = Field(default_factory=TimeProfile)
    values: dict[str, str] = Field(default_factory=dict)
    outputs: list[OutputFile] = Field(default_factory=list)


class TaskRecord(Model):
    """One task, as ``GET queue/{id}``, ``queue/info`` and ``queue/history`` answer it."""

    task_id: str
    state: TaskState
    priority: int
    name: str = Field(description="the graph's name_")
    source: str | None = Field(description="'workflow:<id>' or 'template:<id>' when queued by id")
    params: Params | None
    ts_submit: float = Field(description="epoch seconds")
    ts_dispatch: float | None
    ts_start: float | None
    ts_finish: float | None
    worker_pid: int | None
    error: str | None = Field(description="why it failed, was cancelled or interrupted, in words")
    time_profile: TimeProfile
    values: dict[str, str] = Field(description="small String/Num/Bool outputs by consumer node name")
    outputs: list[OutputFile]
    cancel_requested: bool = Field(False, description="a cancel was asked for; the end follows on the socket")
    batch_id: str | None = Field(None, description="the batch it was submitted with (POST queue/batch), or null")


class QueueInfo(Model):
    """Tasks in flight, each list in the order they run."""

    running: list[TaskRecord]
    dispatched: list[TaskRecord]
    pending: list[TaskRecord]


class History(Model):
    items: list[TaskRecord] = Field(description="ended tasks, newest first")
    total: int = Field(description="ended tasks kept (at most history_limit)")


class TaskCreated(Model):
    task_id: str


class Flushed(Model):
    cancelled: list[str] = Field(description="ids of the pending tasks the flush cancelled")


class GraphSource(Model):
    """What to run: a saved workflow, a template, or a graph given inline (exactly one)."""

    model_config = ConfigDict(extra="forbid")

    workflow_id: str | None = Field(default=None, min_length=1, max_length=200)
    template_id: str | None = Field(default=None, min_length=1, max_length=200)
    graph: Graph | None = None

    @model_validator(mode="after")
    def _one_source(self) -> GraphSource:
        if sum(source is not None for source in (self.workflow_id, self.template_id, self.graph)) != 1:
            raise ValueError("give exactly one of workflow_id, template_id and graph")
        return self


class QueueRequest(GraphSource):
    """Run a saved workflow, a template or a graph given inline, with parameter overrides."""

    params: Params = Field(default_factory=dict, description='{"<node name_>": {"<key>": value}}')
    priority: int = Field(default=DEFAULT_PRIORITY, ge=-PRIORITY_BOUND, le=PRIORITY_BOUND,
                          description="lower numbers run first, then submission order")
    download: bool = Field(False, description="fetch the graph's *_url_ resources first, as part of the task")


class PriorityQuery(Model):
    priority: int = Field(default=DEFAULT_PRIORITY, ge=-PRIORITY_BOUND, le=PRIORITY_BOUND)


class HistoryQuery(Model):
    max_items: int = Field(default=100, ge=1, le=HISTORY_MAX_ITEMS)
