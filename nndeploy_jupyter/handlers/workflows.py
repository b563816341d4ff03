"""Workflows users save: ``workflows``, ``workflow/{id}``, ``workflow/save|upload|download|delete``."""

from __future__ import annotations

import asyncio
from typing import Any

from jupyter_server.auth.decorator import authorized
from pydantic import BaseModel, Field
from tornado import web

from ..errors import BadRequest
from .base import ApiHandler, attachment_header


class SaveRequest(BaseModel):
    """nndeploy's save body: no ``id`` creates a workflow, an ``id`` updates (or renames) that one."""

    id: str | None = Field(default=None, min_length=1, max_length=100)
    businessContent: dict[str, Any] | str


class WorkflowListHandler(ApiHandler):
    spec = {"get": "List saved workflows (id, name_, developer_, desc_)"}

    @web.authenticated
    @authorized
    async def get(self) -> None:
        items = await self.services.workflows.list()
        self.ok(items, f"{len(items)} workflows found")


class WorkflowHandler(ApiHandler):
    spec = {"get": "The JSON of one workflow"}

    @web.authenticated
    @authorized
    async def get(self, workflow_id: str) -> None:
        self.ok(await self.services.workflows.get(workflow_id))


class WorkflowSaveHandler(ApiHandler):
    spec = {"post": "Create or update a workflow from {id?, businessContent}"}

    @web.authenticated
    @authorized
    async def post(self) -> None:
        body = self.parse(SaveRequest)
        saved = await self.services.workflows.save(body.businessContent, body.id)
        self.ok({"id": saved.id}, "created" if saved.created else "updated")


class WorkflowUploadHandler(ApiHandler):
    spec = {"post": "Upload a workflow JSON file (multipart field 'file')"}

    @web.authenticated
    @authorized
    async def post(self) -> None:
        file = self.uploaded_file(self.services.config.max_json_bytes)
        if not file.filename.lower().endswith(".json"):
            raise BadRequest(f"{file.filename!r} is not a .json workflow")
        saved = await self.services.workflows.save(file.body)
        self.ok({"id": saved.id, "filename": file.filename, "size": len(file.body)},
                f"workflow {file.filename} has been uploaded", status=201)


class WorkflowDownloadHandler(ApiHandler):
    spec = {"get": "Download a workflow as a .json attachment"}

    @web.authenticated
    @authorized
    async def get(self, workflow_id: str) -> None:
        path = await self.services.workflows.path(workflow_id)
        self.set_header("Content-Type", "application/json")
        self.set_header("Content-Disposition", attachment_header(path.name))
        self.finish(await asyncio.to_thread(path.read_bytes))


class WorkflowDeleteHandler(ApiHandler):
    spec = {"post": "Delete a workflow (its file and its row)"}

    @web.authenticated
    @authorized
    async def post(self, workflow_id: str) -> None:
        await self.services.workflows.delete(workflow_id)
        self.ok(None, f"workflow id {workflow_id} has been deleted")


ROUTES = [
    ("workflows", WorkflowListHandler),
    ("workflow/save", WorkflowSaveHandler),
    ("workflow/upload", WorkflowUploadHandler),
    (r"workflow/download/(?P<workflow_id>[^/]+)", WorkflowDownloadHandler),
    (r"workflow/delete/(?P<workflow_id>[^/]+)", WorkflowDeleteHandler),
    (r"workflow/(?P<workflow_id>[^/]+)", WorkflowHandler),
]
