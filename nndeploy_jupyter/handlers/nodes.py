"""nndeploy's node catalogue and parameter enums: ``dag/info``, ``param/types``; plugin upload ``nodes/upload``."""

from __future__ import annotations

from jupyter_server.auth.decorator import authorized
from tornado import web

from .base import ApiHandler


class DagInfoHandler(ApiHandler):
    spec = {"get": "nndeploy's node catalogue (graph template, nodes, accepted edge types), plugins included"}

    @web.authenticated
    @authorized
    async def get(self) -> None:
        self.ok(await self.services.catalogue.dag_info(), "")


class ParamTypesHandler(ApiHandler):
    spec = {"get": "Every nndeploy parameter enum and its values"}

    @web.authenticated
    @authorized
    async def get(self) -> None:
        self.ok(await self.services.catalogue.param_types())


class PluginUploadHandler(ApiHandler):
    spec = {"post": "Upload a plugin node file (multipart 'file', .py or .so) into resources/plugin; workers load "
                    "it before their next task"}

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
