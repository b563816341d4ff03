"""The REST API's other requests and answers: workflows, templates, nodes, files, downloads; and the envelope."""

from __future__ import annotations

from typing import Any, Generic, Literal, TypeVar

from pydantic import Field

from ..states import WorkerState
from .base import Model
from .tasks import Graph

T = TypeVar("T")


class Envelope(Model, Generic[T]):
    """nndeploy's answer: ``flag`` says success; ``result`` holds the data."""

    flag: Literal["success"]
    message: str
    result: T


class ErrorBody(Model):
    """Every 4xx/5xx: the reason in words, never an HTML page."""

    flag: Literal["error"]
    message: str


class WorkflowSummary(Model):
    id: str
    name_: str
    developer_: str
    desc_: str
    filename: str = Field(description="its file in resources/workflow/")
    updated_at: float


class SaveRequest(Model):
    """nndeploy's save body: no ``id`` creates a workflow, an ``id`` updates (or renames) that one."""

    id: str | None = Field(default=None, min_length=1, max_length=100)
    businessContent: Graph | str = Field(description="the graph, as an object or as JSON text")


class Saved(Model):
    id: str


class WorkflowUploaded(Model):
    id: str
    filename: str
    size: int


class TemplateSummary(Model):
    id: str
    name_: str
    developer_: str
    source_: str
    desc_: str
    cover_: str | None = Field(description="absolute path of the cover image (GET preview shows it)")
    requirements_: str | None = Field(description="the template's readme (markdown)")
    category_: str | None


class FileInfo(Model):
    """nndeploy's ``file_info``."""

    filename: str
    saved_path: str = Field(description="resources/..., as graphs name files")
    size: int
    uploaded_at: str = Field(description="ISO 8601")
    extension: str


class FileNode(Model):
    """One entry of the resources tree (a flat list; ``parentId`` links it to its folder)."""

    id: str
    name: str
    parentId: str
    type: Literal["branch", "leaf"]
    path: str
    file_info: FileInfo


class PluginUploaded(Model):
    filename: str
    saved_path: str
    size: int
    extension: str
    uploaded_at: str
    plugin_error: str | None = Field(description="why the plugin does not load; null when it loads")


class FilePathQuery(Model):
    file_path: str = Field(min_length=1, description="a path inside resources/ (a leading resources/ is accepted)")


class UploadQuery(FilePathQuery):
    file_path: str = Field(min_length=1, description="the folder inside resources/ to upload into")
    overwrite: Literal["true", "false"] = "false"


class PreviewQuery(FilePathQuery):
    returnMimeType: Literal["image", "video", "audio", "text", "binary"] = "binary"


class MultipartFile(Model):
    """A multipart/form-data body with one file."""

    file: bytes = Field(json_schema_extra={"format": "binary"})


JsonObject = dict[str, Any]


class WorkerInfo(Model):
    """One worker of the executor."""

    id: str = Field(description="the executor's name for it (a slot number, a Dask worker address)")
    state: WorkerState
    pid: int | None = None
    task_id: str | None = Field(None, description="the task it runs, while BUSY")


class ServerInfo(Model):
    """``GET server``: which server extension answers, and how its tasks run."""

    version: str = Field(description="nndeploy_jupyter's version")
    nndeploy_version: str | None = Field(description="nndeploy's, when it is installed")
    executor: str = Field(description="the executor class")
    max_workers: int
    workers: list[WorkerInfo]
    unavailable: str | None = Field(description="why tasks cannot run now, or null")
