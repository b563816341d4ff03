"""nndeploy's node catalogue and parameter enums: ``dag/info``, ``param/types``; plugin upload ``nodes/upload``."""

from __future__ import annotations

from jupyter_server.auth.decorator import authorized
from tornado import web

from ..schemas import JsonObject, MultipartFile, PluginUploaded
from .base import ApiHandler
from .openapi import Operation


class DagInfoHandler(ApiHandler):
    spec = {"get": Operation("nndeploy's node catalogue (graph template, nodes, accepted edge types), plugins "
                             "included", result=JsonObject, errors=(503,))}

    @web.authenticated
    @authorized
    async def get(self) -> None:
        self.ok(await self.services.catalogue.dag_info(), "")


class ParamTypesHandler(ApiHandler):
    spec = {"get": Operation("Every nndeploy parameter enum and its values", result=JsonObject, errors=(503,))}

    @web.authenticated
    @authorized
    async def get(self) -> None:
        self.ok(await self.services.catalogue.param_types())


class PluginUploadHandler(ApiHandler):
    spec = {"post": Operation("Upload a plugin node file (multipart 'file', .py or .so) into resources/plugin; "
                              "workers load it before their next task", body=MultipartFile, multipart=True,
                              result=PluginUploaded, status=201, errors=(413,))}

    @web.authenticated
    @authorized
    async def post(self) -> None:
        file = self.uploaded_file(self.services.config.max_upload_bytes)
        result = await self.services.plugins.install(file.filename, file.body)
        error = result["plugin_error"]
        self.ok(result, f"plugin {result['filename']} uploaded" + (f", but it did not load: {error}" if error else ""),
                status=201)


ROUTES = [
    ("dag/info", DagInfoHandler),
    ("param/types", ParamTypesHandler),
    ("nodes/upload", PluginUploadHandler),
]
