"""The extension's services, built once and shared by every handler through ``settings["nndeploy"]``.

Services never import Tornado: they take plain arguments, raise :mod:`nndeploy_jupyter.errors`, and are
usable (and tested) without a server.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import Unavailable
from ..runtime.executor import Executor, ExecutorContext
from ..runtime.plugins import BUILTIN_PLUGIN_DIR
from ..schemas import SystemEvent
from ..store import Database
from ..store.tasks import TaskStore
from ..workspace import Workspace
from .catalogue import NodeCatalogue
from .downloads import DownloadPolicy, Downloads
from .events import EventHub
from .files import FileStore
from .inputs import InputRetention
from .plugins import PluginInstaller
from .status import ServerStatus
from .tasks import TaskQueue
from .templates import TemplateCatalog
from .workflows import WorkflowStore


def local_executor(context: ExecutorContext, log: logging.Logger) -> Executor:
    from ..runtime.local import LocalExecutor

    return LocalExecutor(context, log=log)


@dataclass(frozen=True)
class ServicesConfig:
    workspace: Path
    max_workers: int = 1
    history_limit: int = 1000
    max_upload_bytes: int = 1 << 30
    max_json_bytes: int = 16 << 20
    template_dirs: list[Path] = field(default_factory=list)
    cancel_grace_seconds: float = 5.0
    download_policy: DownloadPolicy = DownloadPolicy()
    download_timeout: float = 30.0
    download_retries: int = 2
    input_retention_hours: float = 24.0  # in-memory inputs' folders (resources/inputs/) older than this go; 0: kept
    # Builds the executor (the extension's executor_class); called once per Services.
    executor_factory: Callable[[ExecutorContext, logging.Logger], Executor] = local_executor


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
        self.downloads = Downloads(self.workspace, self.events, self.log, timeout=config.download_timeout,
                                   attempts=1 + config.download_retries, policy=config.download_policy)
        self.files = FileStore(self.workspace, config.max_upload_bytes, self.templates)
        context = ExecutorContext(self.workspace, config.max_workers, config.cancel_grace_seconds,
                                  [BUILTIN_PLUGIN_DIR, self.workspace.folder("plugin")])
        self.executor = config.executor_factory(context, self.log)
        self.plugins = PluginInstaller(self.workspace, self.executor, self.catalogue)
        self.status = ServerStatus(self.executor, self.events, config.max_workers)
        self.tasks = TaskQueue(TaskStore(self.db, config.history_limit), self.events, self.executor,
                               self.workspace, self.catalogue, self.downloads, self.log)
        self.inputs = InputRetention(self.workspace, config.input_retention_hours, self.tasks.store.live_paths,
                                     self.log)
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
        self.inputs.start()
        await self.tasks.start()
        # Workers import nndeploy (about a second each): warm them in the background, the queue waits for them.
        self._warming = asyncio.ensure_future(self._start_executor())

    async def _start_executor(self) -> None:
        try:
            await self.executor.start()
        except Exception as e:  # e.g. a cluster that does not see the workspace: said to every client, in words
            self.log.exception("the executor did not start; tasks stay pending")
            self.events.publish(SystemEvent(event="executor_failed", detail={"error": f"{type(e).__name__}: {e}"}),
                                message="the executor did not start; tasks stay pending")

    async def stop(self) -> None:
        if self._started is None:
            return
        await self.downloads.stop()
        await self.inputs.stop()
        await self.tasks.stop()
        await self.executor.stop()  # also ends workers still warming up
        if self._warming is not None:
            await self._warming
        await self.tasks.drain(timeout=5)
        await asyncio.get_running_loop().run_in_executor(None, self.db.close)
        self._started = None
