"""Batches: ``queue/batch`` (submit many tasks of one graph), ``batch/{id}``, ``batch/{id}/tasks``,
``batch/{id}/cancel``."""

from __future__ import annotations

from jupyter_server.auth.decorator import authorized
from tornado import web

from ..schemas import BatchCreated, BatchInfo, BatchRequest, TaskRecord
from .base import ApiHandler
from .openapi import Operation
from .tasks import saved_graph


class BatchSubmitHandler(ApiHandler):
    spec = {"post": Operation(
        "Queue a batch (202): {workflow_id | template_id | graph, params, entries: [{params, inputs}], priority, "
        "name}, one task per entry; every entry is validated first (400 'entry <i>: ...', nothing queued); each "
        "task writes its outputs into <output folder>/<batch id>/<index>/ unless its entry sets the path_",
        body=BatchRequest, result=BatchCreated, status=202, errors=(404, 413, 503),
        links=(("get_batch_by_batch_id", "batch_id", "batch_id"),
               ("post_batch_by_batch_id_cancel", "batch_id", "batch_id")))}

    @web.authenticated
    @authorized
    async def post(self) -> None:
        request = self.parse(BatchRequest)
        graph, source = await saved_graph(self.services, request)
        created = await self.services.tasks.submit_batch(graph, request.entries, params=request.params,
                                                         priority=request.priority, source=source, name=request.name)
        self.ok(created, f"batch of {len(created.task_ids)} tasks queued", status=202)


class BatchHandler(ApiHandler):
    spec = {"get": Operation("One batch: its tasks' states in entry order, counted by state; 404 unknown",
                             result=BatchInfo, errors=(404,))}

    @web.authenticated
    @authorized
    async def get(self, batch_id: str) -> None:
        self.ok(await self.services.tasks.batch(batch_id), "batch fetched")


class BatchTasksHandler(ApiHandler):
    spec = {"get": Operation("The records of a batch's tasks (those the history keeps), in entry order",
                             result=list[TaskRecord], errors=(404,))}

    @web.authenticated
    @authorized
    async def get(self, batch_id: str) -> None:
        self.ok(await self.services.tasks.batch_records(batch_id), "batch tasks fetched")


class BatchCancelHandler(ApiHandler):
    spec = {"post": Operation(
        "Cancel every task of the batch not yet ended, answered at once: pending ones are CANCELLED, running ones "
        "asked to stop (their end follows on the socket); ended ones stay as they are; 404 unknown",
        result=BatchInfo, errors=(404,))}

    @web.authenticated
    @authorized
    async def post(self, batch_id: str) -> None:
        info = await self.services.tasks.cancel_batch(batch_id)
        self.ok(info, f"batch {batch_id} cancelled")


ROUTES = [
    ("queue/batch", BatchSubmitHandler),  # before queue/{task_id}
    (r"batch/(?P<batch_id>[^/]+)/tasks", BatchTasksHandler),
    (r"batch/(?P<batch_id>[^/]+)/cancel", BatchCancelHandler),
    (r"batch/(?P<batch_id>[^/]+)", BatchHandler),
]
