"""Batches: one request queueing many tasks of one graph (``POST queue/batch``), and how a batch stands
(``GET batch/{id}``)."""

from __future__ import annotations

from pydantic import ConfigDict, Field

from ..states import TaskState
from .base import Model
from .tasks import DEFAULT_PRIORITY, PRIORITY_BOUND, GraphSource, Params

BATCH_MAX_TASKS = 100_000
BATCH_ID_PREFIX = "batch-"  # a batch's id says its kind, as a download job's does


class BatchEntry(Model):
    """One task of a batch: its own parameters and input files, over the batch's."""

    model_config = ConfigDict(extra="forbid")

    params: Params = Field(default_factory=dict, description='{"<node name_>": {"<key>": value}}, over the batch\'s')
    inputs: dict[str, str] = Field(default_factory=dict, description='{"<Input node name_>": "resources/..."}: the '
                                   "file (or folder) that node reads, its path_")


class BatchRequest(GraphSource):
    """Run one graph once per entry. Every entry is checked before any task is queued: a bad one is a 400 naming
    its index, and nothing is queued."""

    entries: list[BatchEntry] = Field(min_length=1, max_length=BATCH_MAX_TASKS)
    params: Params = Field(default_factory=dict, description="parameters every entry starts from")
    priority: int = Field(default=DEFAULT_PRIORITY, ge=-PRIORITY_BOUND, le=PRIORITY_BOUND,
                          description="of every task of the batch")
    name: str = Field("", max_length=200, description="a label for the batch (default: the graph's name_)")


class BatchCreated(Model):
    batch_id: str
    task_ids: list[str] = Field(description="one per entry, in the entries' order")


class BatchMember(Model):
    task_id: str
    index: int = Field(description="its entry's index in the request")
    state: TaskState
    error: str | None


class BatchInfo(Model):
    """``GET batch/{id}``: how far a batch is. Tasks beyond the history limit are gone from ``tasks`` (``expired``)."""

    batch_id: str
    name: str
    source: str | None = Field(description="'workflow:<id>' or 'template:<id>' when queued by id")
    ts_submit: float = Field(description="epoch seconds")
    total: int = Field(description="tasks submitted")
    counts: dict[str, int] = Field(description="tasks by state, every state named (0 when none)")
    finished: bool = Field(description="every task has ended")
    expired: int = Field(description="ended tasks the history no longer keeps (history_limit)")
    tasks: list[BatchMember] = Field(description="in the entries' order")


def empty_counts() -> dict[str, int]:
    return {state.value: 0 for state in TaskState}
