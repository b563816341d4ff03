"""nndeploy's node catalogue and parameter enums: ``dag/info``, ``param/types``."""

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


ROUTES = [
    ("dag/info", DagInfoHandler),
    ("param/types", ParamTypesHandler),
]
