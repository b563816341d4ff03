"""The extension's services, built once and shared by every handler through ``settings["nndeploy"]``.

Services never import Tornado: they take plain arguments, raise :mod:`nndeploy_jupyter.errors`, and are
usable (and tested) without a server.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import Unavailable
from ..runtime.plugins import BUILTIN_PLUGIN_DIR
from ..runtime.supervisor import Supervisor
from ..store import Database
from ..workspace import Workspace
from .catalogue import NodeCatalogue
from .downloads import Downloads
from .events import EventHub
from .files import FileStore
from .plugins import PluginInstaller
from .tasks import TaskQueue
from .templates import TemplateCatalog
from .workflows import WorkflowStore


@dataclass(frozen=True)
class ServicesConfig:
    workspace: Path
    max_workers: int = 1
    history_limit: int = 1000
    max_upload_bytes: int = 1 << 30
    max_json_bytes: int = 16 << 20
    template_dirs: list[Path] = field(default_factory=list)
    cancel_grace_seconds: float = 5.0


class Services:
    def __init__(self, config: ServicesConfig, log: logging.Logger | None = None):
        self.config = config
        self.log = log or logging.getLogger("nndeploy_jupyter")
        self.workspace = Workspace(config.workspace)
        self.db = Database(self.workspace.database_path)
        self.workflows = WorkflowStore(self.workspace, self.db)
        self.templates = TemplateCatalog(self.workspace, self.db, config.template_dirs, self.log)
        self.catalogue = NodeCatalogue(self.workspace, self.log)
        self.events = EventHub()
        self.downloads = Downloads(self.workspace, self.events, self.log)
        self.files = FileStore(self.workspace, config.max_upload_bytes, self.templates)
        plugin_dirs = [BUILTIN_PLUGIN_DIR, self.workspace.folder("plugin")]
        self.supervisor = Supervisor(self.workspace, config.max_workers, config.cancel_grace_seconds, self.log,
                                     plugin_dirs)
        self.plugins = PluginInstaller(self.workspace, self.supervisor, self.catalogue)
        self.tasks = TaskQueue(self.db, self.events, self.supervisor, self.workspace, self.catalogue,
                               max_workers=config.max_workers, history_limit=config.history_limit,
                               cancel_grace_seconds=config.cancel_grace_seconds, log=self.log,
                               downloads=self.downloads)
        self._started: asyncio.Future[None] | None = None
        self._warming: asyncio.Future[None] | None = None

    async def start(self) -> None:
        """Idempotent: the first caller starts everything, later callers wait for the same start."""
        if self._started is None:
            self._started = asyncio.ensure_future(self._start())
        await asyncio.shield(self._started)

    async def _start(self) -> None:
        self.events.attach(asyncio.get_running_loop())
        try:
            await asyncio.get_running_loop().run_in_executor(None, self.workspace.create)
        except OSError as e:  # every request says so (503), instead of an anonymous 500
            raise Unavailable(f"the nndeploy workspace {self.workspace.root} cannot be used: {e}") from None
        await self.db.open()
        await self.tasks.start()
        # Workers import nndeploy (about a second each): warm them in the background, the queue waits for them.
        self._warming = asyncio.ensure_future(self._start_workers())

    async def _start_workers(self) -> None:
        try:
            await self.supervisor.start()
        except Exception:
            self.log.exception("nndeploy workers did not start; tasks stay pending")

    async def stop(self) -> None:
        if self._started is None:
            return
        await self.downloads.stop()
        await self.tasks.stop()
        await self.supervisor.stop()  # also ends workers still warming up
        if self._warming is not None:
            await self._warming
        await self.tasks.drain(timeout=5)
        await asyncio.get_running_loop().run_in_executor(None, self.db.close)
        self._started = None
