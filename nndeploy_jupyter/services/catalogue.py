"""nndeploy's node catalogue (``dag/info``) and parameter enums (``param/types``), from a child process.

The server never imports nndeploy. A short-lived child (``runtime/catalogue.py``) imports it, loads the
workspace's plugins and writes the catalogue to a file; the result is cached until the plugin folder
changes. Concurrent callers share one probe.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from ..errors import Unavailable
from ..runtime.plugins import BUILTIN_PLUGIN_DIR, plugin_files
from ..runtime.process import child_env
from ..workspace import Workspace
from .parameters import NodeSchemas
from .parameters import build as build_schemas

PROBE_TIMEOUT_SECONDS = 120
T = TypeVar("T")


class NodeCatalogue:
    def __init__(self, workspace: Workspace, log: logging.Logger):
        self.workspace = workspace
        self.log = log
        # (plugin folder signature, catalogue, what it says about parameters)
        self._cache: tuple[Any, dict[str, Any], NodeSchemas] | None = None
        self._lock = asyncio.Lock()

    async def get(self) -> dict[str, Any]:
        """``{"dag": ..., "param_types": ..., "node_keys": [...], "plugin_errors": {...}}``."""
        return (await self._current())[1]

    async def schemas(self) -> NodeSchemas:
        """The node keys, parameter defaults and path parameters, as validation needs them."""
        return (await self._current())[2]

    async def check(self, fn: Callable[[NodeSchemas], T]) -> T:
        """``fn(schemas)`` in a thread (it reads files: validation). The plugin folder is compared with the cached
        catalogue's in that same thread call, so a request costs one trip off the event loop while the plugins
        stay as they are; after a change, the catalogue is probed again first."""
        current, result = await asyncio.to_thread(self.if_current, fn)
        if current:
            return result  # type: ignore[return-value]
        return await asyncio.to_thread(fn, await self.schemas())

    def if_current(self, fn: Callable[[NodeSchemas], T]) -> tuple[bool, T | None]:
        """``(True, fn(schemas))`` while the cached catalogue matches the plugin folder, else ``(False, None)``
        (then :meth:`check` probes it again). Blocking (it looks at the plugin folder): off the event loop only,
        e.g. on the database thread, as a submission is checked and recorded in one trip."""
        cached = self._cache
        if cached is None or cached[0] != self._plugin_signature():
            return False, None
        return True, fn(cached[2])

    async def _current(self) -> tuple[Any, dict[str, Any], NodeSchemas]:
        signature = await asyncio.to_thread(self._plugin_signature)
        async with self._lock:
            if self._cache is None or self._cache[0] != signature:
                catalogue = await self._probe()
                self._cache = (signature, catalogue, await asyncio.to_thread(build_schemas, catalogue))
            return self._cache

    async def dag_info(self) -> dict[str, Any]:
        return (await self.get())["dag"]

    async def param_types(self) -> dict[str, Any]:
        return (await self.get())["param_types"]

    def invalidate(self) -> None:
        self._cache = None

    def _plugin_signature(self) -> tuple[tuple[str, float, int], ...]:
        files = plugin_files(self.workspace.folder("plugin"))
        return tuple((p.name, p.stat().st_mtime, p.stat().st_size) for p in files)

    async def _probe(self) -> dict[str, Any]:
        with tempfile.TemporaryDirectory(prefix="nndeploy-catalogue-") as scratch:
            output = Path(scratch) / "catalogue.json"
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "nndeploy_jupyter.runtime.catalogue", str(output),
                str(BUILTIN_PLUGIN_DIR), str(self.workspace.folder("plugin")),
                cwd=scratch, env=child_env(), stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
            )
            try:
                _, stderr = await asyncio.wait_for(proc.communicate(), PROBE_TIMEOUT_SECONDS)
            except asyncio.TimeoutError:
                proc.kill()
                raise Unavailable("nndeploy's node catalogue did not load in time") from None
            if proc.returncode != 0 or not output.exists():
                tail = stderr.decode(errors="replace").strip().splitlines()[-5:]
                self.log.error("node catalogue probe failed (%s): %s", proc.returncode, "\n".join(tail))
                raise Unavailable(f"nndeploy's node catalogue could not be loaded (exit {proc.returncode})")
            catalogue = await asyncio.to_thread(lambda: json.loads(output.read_text(encoding="utf-8")))
        for name, error in catalogue["plugin_errors"].items():
            self.log.warning("plugin %s did not load: %s", name, error)
        return catalogue
