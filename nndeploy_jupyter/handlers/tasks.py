"""Tasks: ``queue`` (submit), ``queue/info|history|flush``, ``queue/{id}``, ``queue/cancel/{id}``."""

from __future__ import annotations

from typing import Any

from jupyter_server.auth.decorator import authorized
from pydantic import BaseModel, ConfigDict, Field, model_validator
from tornado import web

from ..errors import BadRequest
from ..services.tasks import DEFAULT_PRIORITY
from .base import ApiHandler

PRIORITY_BOUND = 1_000_000_000
HISTORY_MAX_ITEMS = 1000


class QueueRequest(BaseModel):
    """Run a saved workflow, a template or a graph given inline, with parameter overrides:
    ``{"<node name_>": {"<key>": value}}``."""

    model_config = ConfigDict(extra="forbid")

    workflow_id: str | None = Field(default=None, min_length=1, max_length=200)
    template_id: str | None = Field(default=None, min_length=1, max_length=200)
    graph: dict[str, Any] | None = None
    params: dict[str, dict[str, Any]] = Field(default_factory=dict)
    priority: int = Field(default=DEFAULT_PRIORITY, ge=-PRIORITY_BOUND, le=PRIORITY_BOUND)
    download: bool = False

    @model_validator(mode="after")
    def _one_source(self) -> QueueRequest:
        if sum(source is not None for source in (self.workflow_id, self.template_id, self.graph)) != 1:
            raise ValueError("give exactly one of workflow_id, template_id and graph")
        return self


class QueueHandler(ApiHandler):
    spec = {"post": "Queue a task (202): a graph JSON object (?priority=N), or {workflow_id | template_id | graph, "
                    "params, priority, download}; the graph is validated first (400 naming the node)"}

    @web.authenticated
    @authorized
    async def post(self) -> None:
        body = self.json_body()
        tasks = self.services.tasks
        if isinstance(body, dict) and not {"workflow_id", "template_id", "graph"}.isdisjoint(body):
            request = self.parse(QueueRequest, body)
            graph, source = await self._saved_graph(request)
            task_id = await tasks.submit(graph, priority=request.priority, source=source,
                                         params=request.params or None, download=request.download)
        else:
            task_id = await tasks.submit(body, priority=self._priority())
        self.ok({"task_id": task_id}, "success", status=202)

    async def _saved_graph(self, request: QueueRequest) -> tuple[dict[str, Any], str | None]:
        if request.graph is not None:
            return request.graph, None
        if request.workflow_id is not None:
            workflow_id = await self.services.workflows.find(request.workflow_id)
            return await self.services.workflows.get(workflow_id), f"workflow:{workflow_id}"
        assert request.template_id is not None
        template_id = await self.services.templates.find(request.template_id)
        return await self.services.templates.get(template_id), f"template:{template_id}"

    def _priority(self) -> int:
        text = self.query("priority", required=False, default=str(DEFAULT_PRIORITY))
        try:
            priority = int(text or "")
        except ValueError:
            raise BadRequest(f"priority must be an integer, not {text!r}") from None
        if abs(priority) > PRIORITY_BOUND:
            raise BadRequest(f"priority must be between -{PRIORITY_BOUND} and {PRIORITY_BOUND}")
        return priority


class QueueInfoHandler(ApiHandler):
    spec = {"get": "Tasks in flight: running, dispatched and pending (in the order they will run)"}

    @web.authenticated
    @authorized
    async def get(self) -> None:
        self.ok(await self.services.tasks.info(), "queue state fetched")


class QueueHistoryHandler(ApiHandler):
    spec = {"get": "Ended tasks, newest first (?max_items=1..1000, default 100): {items, total}"}

    @web.authenticated
    @authorized
    async def get(self) -> None:
        text = self.query("max_items", required=False, default="100")
        try:
            max_items = int(text or "")
        except ValueError:
            raise BadRequest(f"max_items must be an integer, not {text!r}") from None
        if not 1 <= max_items <= HISTORY_MAX_ITEMS:
            raise BadRequest(f"max_items must be between 1 and {HISTORY_MAX_ITEMS}")
        self.ok(await self.services.tasks.history(max_items), "history fetched")


class TaskHandler(ApiHandler):
    spec = {"get": "One task: state, priority, timestamps, error, time_profile, outputs, values"}

    @web.authenticated
    @authorized
    async def get(self, task_id: str) -> None:
        self.ok(await self.services.tasks.get(task_id), "task fetched")


class CancelHandler(ApiHandler):
    spec = {"post": "Cancel a task: pending ends at once, running is interrupted; 404 unknown, 409 already ended"}

    @web.authenticated
    @authorized
    async def post(self, task_id: str) -> None:
        record = await self.services.tasks.cancel(task_id)
        self.ok(record, f"task {task_id} {record['state']}")


class FlushHandler(ApiHandler):
    spec = {"post": "Cancel every pending task (running tasks go on)"}

    @web.authenticated
    @authorized
    async def post(self) -> None:
        cancelled = await self.services.tasks.flush()
        self.ok({"cancelled": cancelled}, f"pending cleared: {len(cancelled)}")


ROUTES = [
    ("queue", QueueHandler),
    ("queue/info", QueueInfoHandler),
    ("queue/history", QueueHistoryHandler),
    ("queue/flush", FlushHandler),
    (r"queue/cancel/(?P<task_id>[^/]+)", CancelHandler),
    (r"queue/(?P<task_id>[^/]+)", TaskHandler),
]
