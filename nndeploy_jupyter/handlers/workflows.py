"""Workflows users save: ``workflows``, ``workflow/{id}``, ``workflow/save|upload|download|delete``."""

from __future__ import annotations

import asyncio

from jupyter_server.auth.decorator import authorized
from tornado import web

from ..errors import BadRequest
from ..schemas import JsonObject, MultipartFile, Saved, SaveRequest, WorkflowSummary, WorkflowUploaded
from .base import ApiHandler, attachment_header
from .openapi import Operation

# Where a saved or uploaded workflow's id leads.
_WORKFLOW_LINKS = (("get_workflow_by_workflow_id", "workflow_id", "id"),
                   ("get_workflow_download_by_workflow_id", "workflow_id", "id"),
                   ("post_workflow_delete_by_workflow_id", "workflow_id", "id"))


class WorkflowListHandler(ApiHandler):
    spec = {"get": Operation("List saved workflows (id, name_, developer_, desc_)", result=list[WorkflowSummary])}

    @web.authenticated
    @authorized
    async def get(self) -> None:
        items = await self.services.workflows.list()
        self.ok(items, f"{len(items)} workflows found")


class WorkflowHandler(ApiHandler):
    spec = {"get": Operation("The JSON of one workflow", result=JsonObject, errors=(404,))}

    @web.authenticated
    @authorized
    async def get(self, workflow_id: str) -> None:
        self.ok(await self.services.workflows.get(workflow_id))


class WorkflowSaveHandler(ApiHandler):
    spec = {"post": Operation("Create or update a workflow from {id?, businessContent}", body=SaveRequest,
                              result=Saved, errors=(404, 409, 413), links=_WORKFLOW_LINKS)}

    @web.authenticated
    @authorized
    async def post(self) -> None:
        body = self.parse(SaveRequest)
        saved = await self.services.workflows.save(body.businessContent, body.id)
        self.ok(Saved(id=saved.id), ("created" if saved.created else "updated") + saved.renamed_note)


class WorkflowUploadHandler(ApiHandler):
    spec = {"post": Operation("Upload a workflow JSON file (multipart field 'file')", body=MultipartFile,
                              multipart=True, result=WorkflowUploaded, status=201, errors=(409, 413),
                              links=_WORKFLOW_LINKS)}

    @web.authenticated
    @authorized
    async def post(self) -> None:
        file = self.uploaded_file(self.services.config.max_json_bytes)
        if not file.filename.lower().endswith(".json"):
            raise BadRequest(f"{file.filename!r} is not a .json workflow")
        saved = await self.services.workflows.save(file.body)
        self.ok(WorkflowUploaded(id=saved.id, filename=file.filename, size=len(file.body)),
                f"workflow {file.filename} has been uploaded{saved.renamed_note}", status=201)


class WorkflowDownloadHandler(ApiHandler):
    spec = {"get": Operation("Download a workflow as a .json attachment", errors=(404,),
                             media={"application/json": {"schema": {"type": "object"}}})}

    @web.authenticated
    @authorized
    async def get(self, workflow_id: str) -> None:
        path = await self.services.workflows.path(workflow_id)
        self.set_header("Content-Type", "application/json")
        self.set_header("Content-Disposition", attachment_header(path.name))
        self.finish(await asyncio.to_thread(path.read_bytes))


class WorkflowDeleteHandler(ApiHandler):
    spec = {"post": Operation("Delete a workflow (its file and its row)", errors=(404,))}

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
