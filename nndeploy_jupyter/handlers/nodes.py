"""nndeploy's node catalogue and parameter enums: ``dag/info``, ``param/types``; plugin upload ``nodes/upload``."""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from pathlib import Path

from jupyter_server.auth.decorator import authorized
from tornado import web

from ..errors import BadRequest, TooLarge, Unavailable
from ..runtime.plugins import PLUGIN_SUFFIXES
from ..workspace import check_name
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
        upload = self.request.files.get("file")
        if not upload:
            raise BadRequest("multipart field 'file' is required")
        file = upload[0]
        name = check_name(file.filename)
        if name.startswith(".") or Path(name).suffix not in PLUGIN_SUFFIXES:
            raise BadRequest(f"{file.filename!r} is not a plugin: a .py or .so file is expected")
        limit = self.services.config.max_upload_bytes
        if len(file.body) > limit:
            raise TooLarge(f"plugin file is {len(file.body)} bytes; the limit is {limit}")
        path = await asyncio.to_thread(_save_atomically, self.services.workspace.folder("plugin"), name, file.body)
        self.services.supervisor.reload_plugins()
        self.services.catalogue.invalidate()
        try:  # load it now, so a broken plugin is reported to whoever uploaded it
            plugin_error = (await self.services.catalogue.get())["plugin_errors"].get(name)
        except Unavailable as e:
            plugin_error = e.message
        result = {"filename": name, "saved_path": str(path), "size": len(file.body), "extension": path.suffix,
                  "uploaded_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "plugin_error": plugin_error}
        message = f"plugin {name} uploaded" + (f", but it did not load: {plugin_error}" if plugin_error else "")
        self.ok(result, message, status=201)


def _save_atomically(folder: Path, name: str, data: bytes) -> Path:
    """Write beside the target under a hidden name (plugin loaders skip dot-files), then rename into place."""
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".upload-", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        target = folder / name
        os.replace(tmp, target)
        return target
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


ROUTES = [
    ("dag/info", DagInfoHandler),
    ("param/types", ParamTypesHandler),
    ("nodes/upload", PluginUploadHandler),
]
