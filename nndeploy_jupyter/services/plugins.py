"""Plugin nodes users add: files in ``resources/plugin/`` that every worker (and the node catalogue) loads."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from ..errors import BadRequest, Unavailable
from ..runtime.executor import Executor
from ..runtime.plugins import PLUGIN_SUFFIXES
from ..workspace import Workspace, check_name, write_atomically
from .catalogue import NodeCatalogue


class PluginInstaller:
    def __init__(self, workspace: Workspace, executor: Executor, catalogue: NodeCatalogue):
        self.workspace = workspace
        self.executor = executor
        self.catalogue = catalogue

    async def install(self, filename: str, data: bytes) -> dict[str, Any]:
        """Save a ``.py``/``.so`` plugin, have workers load it before their next task, and load it once now so
        whoever uploaded a broken plugin is told why (``plugin_error``); the other plugins are unaffected."""
        name = check_name(filename)
        if name.startswith(".") or Path(name).suffix not in PLUGIN_SUFFIXES:
            raise BadRequest(f"{filename!r} is not a plugin: a .py or .so file is expected")
        path = self.workspace.folder("plugin") / name
        await asyncio.to_thread(write_atomically, path, data)
        self.executor.reload_plugins()
        self.catalogue.invalidate()
        try:
            plugin_error = (await self.catalogue.get())["plugin_errors"].get(name)
        except Unavailable as e:
            plugin_error = e.message
        return {"filename": name, "saved_path": str(path), "size": len(data), "extension": path.suffix,
                "uploaded_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "plugin_error": plugin_error}
