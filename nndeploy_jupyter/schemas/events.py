"""Live events, as ``ws/progress`` sends them: nndeploy's envelope ``{"flag", "message", "result"}`` around one
typed ``result`` per event type, and the frames a client sends.

Upstream's types and fields stay (``progress``, ``log``, ``memory``, ``task_run_info``, ``system``,
``download_progress``, ``model_download_done``); ours add ``status`` (every lifecycle transition) and ``error``
(a malformed client frame), and every result carries ``task_id`` (null for server-wide events), a
server-wide monotonic ``seq`` and ``ts`` (epoch seconds), stamped by the event hub when it publishes.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import ConfigDict, Field, PrivateAttr

from ..states import TaskState
from .base import Model
from .tasks import OutputFile, TimeProfile

Flag = Literal["success", "failed", "error"]


class Event(Model):
    """The ``result`` of one event. Subclasses fix ``type`` and say what the envelope's flag and message are."""

    type: str
    task_id: str | None = None
    seq: int = Field(0, description="monotonic across the server's lifetime, restarts included")
    ts: float = Field(0.0, description="epoch seconds")

    MESSAGE: ClassVar[str] = ""

    def envelope(self) -> tuple[Flag, str]:
        return "success", self.MESSAGE


class StatusEvent(Event):
    """A lifecycle transition (or, with ``snapshot``, the state a client binding now should know)."""

    type: Literal["status"] = "status"
    task_id: str
    state: TaskState
    name: str = ""
    priority: int | None = None
    error: str | None = None
    worker_pid: int | None = None
    cancel_requested: bool = False
    batch_id: str | None = Field(None, description="the task's batch (POST queue/batch), or null")
    snapshot: bool = Field(False, description="sent on bind, not a new transition")

    def envelope(self) -> tuple[Flag, str]:
        return "success", f"task {self.state}"


class NodeStatus(Model):
    """nndeploy's per-node run status: ``time`` is -1 while INITING, the init time once INITED, then the
    average run time (ms)."""

    time: float
    status: str = Field(description="IDLE | INITING | INITED | RUNNING | DONE")


class NodeProgress(Model):
    done: int = Field(description="runs the node has finished")
    total: int
    status: str


class ProgressEvent(Event):
    type: Literal["progress"] = "progress"
    task_id: str
    done: int = Field(description="iterations (frames) finished")
    total: int
    detail: dict[str, NodeStatus] = Field(description="upstream's field, by node name_")
    nodes: dict[str, NodeProgress] = Field(description="done/total by node name_")

    MESSAGE: ClassVar[str] = "task running"


class LogEvent(Event):
    """One line a worker printed (Python or C++) while it ran the task."""

    type: Literal["log"] = "log"
    task_id: str
    log: str

    MESSAGE: ClassVar[str] = "log update"


class MemoryEvent(Event):
    """Upstream's completion pair, first half: the small String/Num/Bool outputs."""

    type: Literal["memory"] = "memory"
    task_id: str
    content: dict[str, str]


class TaskRunInfoEvent(Event):
    """The last event of a task: how it ended (upstream's completion signal)."""

    type: Literal["task_run_info"] = "task_run_info"
    task_id: str
    state: TaskState
    error: str | None
    time_profile: TimeProfile
    outputs: list[OutputFile]

    def envelope(self) -> tuple[Flag, str]:
        if self.state == TaskState.SUCCEEDED:
            return "success", "Run success"
        return "failed", self.error or f"task {self.state}"


class SystemEvent(Event):
    """A server-wide event (``task_id`` null), e.g. ``queue_flushed``."""

    type: Literal["system"] = "system"
    event: str
    detail: dict[str, Any]


class DownloadProgress(Model):
    """How far one file is (``exists``: it was there already, nothing fetched)."""

    phase: Literal["progress", "exists", "done"]
    filename: str = Field(description="resources/... where the file lands")
    downloaded: int
    total: int | None = Field(description="bytes, when the server said")
    percent: float | None
    elapsed: float = Field(description="seconds since this file's download began")


class DownloadError(Model):
    phase: Literal["error"] = "error"
    filename: str
    error: str


class DownloadProgressEvent(Event):
    type: Literal["download_progress"] = "download_progress"
    task_id: str
    detail: Annotated[DownloadProgress | DownloadError, Field(discriminator="phase")]

    def envelope(self) -> tuple[Flag, str]:
        if self.detail.phase == "error":
            return "error", "download failed"
        return "success", "download progress"


class ModelDownloadDoneEvent(Event):
    type: Literal["model_download_done"] = "model_download_done"
    task_id: str
    detail: dict[str, str] = Field(description='{"<field>.<index>": "resources/..."} of the files fetched')
    error: str | None = None

    def envelope(self) -> tuple[Flag, str]:
        return ("failed", f"download failed: {self.error}") if self.error else ("success", "download done")


class ErrorEvent(Event):
    """A client frame the server could not use; the envelope's message says why. The socket stays open."""

    type: Literal["error"] = "error"

    def envelope(self) -> tuple[Flag, str]:
        return "error", "error"


EventResult = Annotated[
    StatusEvent | ProgressEvent | LogEvent | MemoryEvent | TaskRunInfoEvent | SystemEvent | DownloadProgressEvent
    | ModelDownloadDoneEvent | ErrorEvent,
    Field(discriminator="type"),
]
EVENT_TYPES: tuple[type[Event], ...] = (StatusEvent, ProgressEvent, LogEvent, MemoryEvent, TaskRunInfoEvent,
                                         SystemEvent, DownloadProgressEvent, ModelDownloadDoneEvent, ErrorEvent)


class EventEnvelope(Model):
    """One WebSocket message."""

    flag: Flag
    message: str
    result: EventResult

    _wire: str | None = PrivateAttr(None)

    def wire(self) -> str:
        """The JSON text, made once however many sockets send it."""
        if self._wire is None:
            self._wire = self.model_dump_json()
        return self._wire


class ClientFrame(Model):
    """What a client sends: follow a task (or ``"*"``: every task), replaying what came after ``since``."""

    model_config = ConfigDict(extra="ignore")

    type: Literal["bind", "unbind"]
    task_id: str = Field(min_length=1, max_length=200)
    since: int = Field(default=0, ge=0)
