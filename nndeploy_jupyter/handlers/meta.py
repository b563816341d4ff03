"""About the API itself: ``server`` (which extension answers, its workers), ``resources`` (where files live) and
``openapi.json`` (every route, described)."""

from __future__ import annotations

import json

from jupyter_server.auth.decorator import authorized
from tornado import web

from ..schemas import ServerInfo
from .base import ApiHandler
from .openapi import Operation, openapi


class ServerInfoHandler(ApiHandler):
    spec = {"get": Operation("This server extension's version, its executor and the state of its workers",
                             result=ServerInfo)}

    @web.authenticated
    @authorized
    async def get(self) -> None:
        self.ok(self.services.status.info().model_dump(mode="json"), "server")


class ResourcesHandler(ApiHandler):
    spec = {"get": Operation("The absolute path of the resources folder", result=str)}

    @web.authenticated
    @authorized
    async def get(self) -> None:
        self.ok(str(self.services.workspace.resources), "resource directory")


class OpenApiHandler(ApiHandler):
    spec = {"get": Operation("This OpenAPI description of every route, with this server as its server",
                             media={"application/json": {"schema": {"type": "object"}}})}

    @web.authenticated
    @authorized
    async def get(self) -> None:
        from . import ROUTES

        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(openapi(ROUTES, self.base_url)))


class UnknownRouteHandler(ApiHandler):
    """Anything else under ``nndeploy/api/``: a JSON 404, never an HTML page (upstream answers 200 HTML)."""

    @web.authenticated
    async def get(self, path: str) -> None:
        raise web.HTTPError(404, f"no such route: {path}")

    post = get


ROUTES = [
    ("server", ServerInfoHandler),
    ("resources", ResourcesHandler),
    ("openapi.json", OpenApiHandler),
]
