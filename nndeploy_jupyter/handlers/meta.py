"""About the API itself: ``resources`` (where files live) and ``openapi.json`` (every route, described)."""

from __future__ import annotations

import re
from typing import Any

from jupyter_server.auth.decorator import authorized
from tornado import web
from tornado.websocket import WebSocketHandler

from .. import __version__
from .base import ApiHandler

_GROUP = re.compile(r"\(\?P<(\w+)>[^)]*\)")


class ResourcesHandler(ApiHandler):
    spec = {"get": "The absolute path of the resources folder"}

    @web.authenticated
    @authorized
    async def get(self) -> None:
        self.ok(str(self.services.workspace.resources), "resource directory")


class OpenApiHandler(ApiHandler):
    spec = {"get": "This OpenAPI description of every route"}

    @web.authenticated
    @authorized
    async def get(self) -> None:
        from . import ROUTES

        self.set_header("Content-Type", "application/json")
        self.finish(openapi(ROUTES))


class UnknownRouteHandler(ApiHandler):
    """Anything else under ``nndeploy/api/``: a JSON 404, never an HTML page (upstream answers 200 HTML)."""

    @web.authenticated
    async def get(self, path: str) -> None:
        raise web.HTTPError(404, f"no such route: {path}")

    post = get


_REST_RESPONSES = {"200": {"description": "nndeploy envelope {flag, message, result}"},
                   "4XX": {"description": "{flag: 'error', message: reason}"}}
# OpenAPI has no WebSocket operation: such a route is its upgrading GET.
_WEBSOCKET_RESPONSES = {"101": {"description": "WebSocket of events in nndeploy's envelope {flag, message, result}"},
                        "403": {"description": "not authenticated or not authorized"}}


def openapi(routes: list[tuple[str, type]]) -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for pattern, handler in routes:
        if not handler.spec:
            continue
        path = "/nndeploy/api/" + _GROUP.sub(r"{\1}", pattern)
        params = [{"name": n, "in": "path", "required": True, "schema": {"type": "string"}}
                  for n in _GROUP.findall(pattern)]
        paths[path] = {
            method: {"summary": summary, "parameters": params,
                     "responses": _WEBSOCKET_RESPONSES if issubclass(handler, WebSocketHandler) else _REST_RESPONSES}
            for method, summary in handler.spec.items()
        }
    return {"openapi": "3.1.0", "info": {"title": "nndeploy-jupyter", "version": __version__},
            "components": {"securitySchemes": {"token": {"type": "apiKey", "in": "header", "name": "Authorization"}}},
            "security": [{"token": []}], "paths": paths}


ROUTES = [
    ("resources", ResourcesHandler),
    ("openapi.json", OpenApiHandler),
]
