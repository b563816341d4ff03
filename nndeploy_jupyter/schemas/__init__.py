"""The API's typed vocabulary: task states, the task record, every event, requests and answers.

Server, notebook Client and panel share it: the server builds and publishes these models, ``openapi.json`` is
generated from them, and ``python -m nndeploy_jupyter.schemas`` prints their JSON Schema (one document, every
definition), from which the panel's TypeScript types are generated. Only pydantic is imported here.
"""

from ..states import FINAL_STATES, IN_FLIGHT_STATES, TaskState, WorkerState
from .api import (
    Envelope,
    ErrorBody,
    FileInfo,
    FileNode,
    FilePathQuery,
    JsonObject,
    MultipartFile,
    PluginUploaded,
    PreviewQuery,
    Saved,
    SaveRequest,
    ServerInfo,
    TemplateSummary,
    UploadQuery,
    WorkerInfo,
    WorkflowSummary,
    WorkflowUploaded,
)
from .batches import BATCH_ID_PREFIX, BATCH_MAX_TASKS, BatchCreated, BatchEntry, BatchInfo, BatchMember, BatchRequest
from .events import (
    EVENT_TYPES,
    ClientFrame,
    DownloadError,
    DownloadProgress,
    DownloadProgressEvent,
    ErrorEvent,
    Event,
    EventEnvelope,
    EventResult,
    LogEvent,
    MemoryEvent,
    ModelDownloadDoneEvent,
    NodeProgress,
    NodeStatus,
    ProgressEvent,
    StatusEvent,
    SystemEvent,
    TaskRunInfoEvent,
)
from .tasks import (
    DEFAULT_PRIORITY,
    HISTORY_MAX_ITEMS,
    PRIORITY_BOUND,
    Flushed,
    Graph,
    GraphSource,
    History,
    HistoryQuery,
    OutputFile,
    Params,
    PriorityQuery,
    QueueInfo,
    QueueRequest,
    RunOutcome,
    TaskCreated,
    TaskRecord,
    TimeProfile,
)

__all__ = [
    "BATCH_ID_PREFIX", "BATCH_MAX_TASKS", "BatchCreated", "BatchEntry", "BatchInfo", "BatchMember", "BatchRequest",
    "DEFAULT_PRIORITY", "EVENT_TYPES", "FINAL_STATES", "HISTORY_MAX_ITEMS", "IN_FLIGHT_STATES", "PRIORITY_BOUND",
    "ClientFrame", "DownloadError", "DownloadProgress", "DownloadProgressEvent", "Envelope", "ErrorBody",
    "ErrorEvent", "Event", "EventEnvelope", "EventResult", "FileInfo", "FileNode", "FilePathQuery", "Flushed",
    "Graph", "GraphSource", "History", "HistoryQuery", "JsonObject", "LogEvent", "MemoryEvent",
    "ModelDownloadDoneEvent", "MultipartFile", "NodeProgress", "NodeStatus", "OutputFile", "Params", "PluginUploaded",
    "PreviewQuery",
    "PriorityQuery", "ProgressEvent", "QueueInfo", "QueueRequest", "RunOutcome", "SaveRequest", "Saved",
    "ServerInfo", "StatusEvent", "SystemEvent", "TaskCreated", "TaskRecord", "TaskRunInfoEvent", "TaskState",
    "TemplateSummary", "TimeProfile", "UploadQuery", "WorkerInfo", "WorkerState", "WorkflowSummary", "WorkflowUploaded",
]
