"""Tasks: ``queue`` (submit), ``queue/info|history|flush``, ``queue/{id}``, ``queue/cancel/{id}``."""

from __future__ import annotations

from typing import Any

from jupyter_server.auth.decorator import authorized
from tornado import web

from ..schemas import (
    Flushed,
    Graph,
    GraphSource,
    History,
    HistoryQuery,
    PriorityQuery,
    QueueInfo,
    QueueRequest,
    TaskCreated,
    TaskRecord,
)
from .base import ApiHandler
from .openapi import Operation


class QueueHandler(ApiHandler):
    spec = {"post": Operation(
        "Queue a task (202): a graph JSON object (?priority=N), or {workflow_id | template_id | graph, params, "
        "priority, download}; the graph is validated first (400 naming the node)",
        body=QueueRequest | Graph, query=PriorityQuery, result=TaskCreated, status=202, errors=(404, 413, 503),
        links=(("get_queue_by_task_id", "task_id", "task_id"), ("post_queue_cancel_by_task_id", "task_id", "task_id")))}

    @web.authenticated
    @authorized
    async def post(self) -> None:
        body = self.json_body()
        tasks = self.services.tasks
        if isinstance(body, dict) and not {"workflow_id", "template_id", "graph"}.isdisjoint(body):
            request = self.parse(QueueRequest, body)
            graph, source = await saved_graph(self.services, request)
            task_id = await tasks.submit(graph, priority=request.priority, source=source,
                                         params=request.params or None, download=request.download)
        else:
            task_id = await tasks.submit(body, priority=self.parse_query(PriorityQuery).priority)
        self.ok(TaskCreated(task_id=task_id), "success", status=202)



async def saved_graph(services: Any, request: GraphSource) -> tuple[dict[str, Any], str | None]:
    """The graph a request names (inline, a saved workflow or a template) and its source, for the record."""
    if request.graph is not None:
        return request.graph, None
    if request.workflow_id is not None:
        workflow_id = await services.workflows.find(request.workflow_id)
        return await services.workflows.get(workflow_id), f"workflow:{workflow_id}"
    assert request.template_id is not None
    template_id = await services.templates.find(request.template_id)
    return await services.templates.get(template_id), f"template:{template_id}"


class QueueInfoHandler(ApiHandler):
    spec = {"get": Operation("Tasks in flight: running, dispatched and pending (in the order they will run)",
                             result=QueueInfo)}

    @web.authenticated
    @authorized
    async def get(self) -> None:
        self.ok(await self.services.tasks.info(), "queue state fetched")


class QueueHistoryHandler(ApiHandler):
    spec = {"get": Operation("Ended tasks, newest first (?max_items=1..1000, default 100): {items, total}",
                             query=HistoryQuery, result=History)}

    @web.authenticated
    @authorized
    async def get(self) -> None:
        query = self.parse_query(HistoryQuery)
        self.ok(await self.services.tasks.history(query.max_items), "history fetched")


class TaskHandler(ApiHandler):
    spec = {"get": Operation("One task: state, priority, timestamps, error, time_profile, outputs, values",
                             result=TaskRecord, errors=(404,))}

    @web.authenticated
    @authorized
    async def get(self, task_id: str) -> None:
        self.ok(await self.services.tasks.get(task_id), "task fetched")


class CancelHandler(ApiHandler):
    spec = {"post": Operation(
        "Cancel a task, answered at once: a pending task is CANCELLED; a dispatched or running one is asked to "
        "stop (cancel_requested: true) and its end follows on the socket; 404 unknown, 409 already ended",
        result=TaskRecord, errors=(404, 409))}

    @web.authenticated
    @authorized
    async def post(self, task_id: str) -> None:
        record = await self.services.tasks.cancel(task_id)
        ending = "" if record.state.final else " (cancel requested: its end follows on the socket)"
        self.ok(record, f"task {task_id} {record.state}{ending}")


class FlushHandler(ApiHandler):
    spec = {"post": Operation("Cancel every pending task (running tasks go on)", result=Flushed)}

    @web.authenticated
    @authorized
    async def post(self) -> None:
        cancelled = await self.services.tasks.flush()
        self.ok(Flushed(cancelled=cancelled), f"pending cleared: {len(cancelled)}")


ROUTES = [
    ("queue", QueueHandler),
    ("queue/info", QueueInfoHandler),
    ("queue/history", QueueHistoryHandler),
    ("queue/flush", FlushHandler),
    (r"queue/cancel/(?P<task_id>[^/]+)", CancelHandler),
    (r"queue/(?P<task_id>[^/]+)", TaskHandler),
]
