"""The server extension: configuration, the services it wires together, and its routes.

Nothing here imports nndeploy: the node catalogue and graph runs live in child processes, so loading the
extension costs Jupyter's start almost nothing.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
from pathlib import Path

from jupyter_server.extension.application import ExtensionApp
from traitlets import Bool, Float, Int, List, Type, Unicode, default

from .activity import TaskActivity
from .handlers import ROUTES
from .notebook.discovery import kernel_environment
from .runtime.executor import ENTRY_POINT_GROUP, ExecutorContext, build_executor, resolve_executor
from .services import Services, ServicesConfig
from .services.downloads import DownloadPolicy


class ExecutorClass(Type):
    """A class, its dotted path, or the name of an entry point in ``nndeploy_jupyter.executors`` (``local``)."""

    def validate(self, obj, value):  # type: ignore[no-untyped-def]
        if isinstance(value, str) and "." not in value:
            value = resolve_executor(value)
        return super().validate(obj, value)


class NnDeployExtension(ExtensionApp):
    name = "nndeploy_jupyter"
    description = "nndeploy workflows, tasks and resources inside Jupyter"

    workspace = Unicode(
        config=True,
        help="Folder holding nndeploy's resources/ tree (images, models, workflows, database...). "
        "Default: <root_dir>/nndeploy, so it shows in Jupyter's file browser.",
    )
    max_workers = Int(1, min=0, config=True, help="How many graph worker processes run tasks at once.")
    history_limit = Int(
        1000, min=1, config=True, help="How many finished tasks the history keeps (oldest go first)."
    )
    max_upload_bytes = Int(
        1 << 30, min=0, config=True, help="Largest file (bytes) accepted by an upload; larger uploads get 413."
    )
    max_json_bytes = Int(
        16 << 20, min=0, config=True, help="Largest JSON request body (bytes); larger ones get 413."
    )
    template_dirs = List(
        Unicode(),
        config=True,
        help="Extra template trees in nndeploy-workflow's layout (<category>/<Name>.json with cover.* and "
        "readme.*), listed after the built-in ones and resources/template/.",
    )
    cancel_grace_seconds = Float(
        5.0, min=0.0, config=True,
        help="Seconds a running task may take to stop after a cancel before its worker is killed.",
    )
    input_retention_hours = Float(
        24.0, min=0.0, config=True,
        help="Hours the in-memory inputs a notebook uploads (resources/inputs/<uuid>/, from Client.run/map with "
        "arrays, images or bytes) are kept; older folders are removed at start and periodically. 0 keeps them.",
    )
    executor_class = ExecutorClass(
        default_value="nndeploy_jupyter.runtime.local.LocalExecutor", klass=object, config=True,
        help="Where graphs run: an Executor class, its dotted path, or the name it is registered under in the "
        f"entry-point group {ENTRY_POINT_GROUP} ('local': worker processes on this machine, the default).",
    )

    allow_private_downloads = Bool(
        False, config=True,
        help="Let models/download and \"download\": true fetch from loopback, link-local, private, multicast and "
        "reserved addresses. Off: a URL (or any redirect on the way) whose host resolves to one is refused, so a "
        "request cannot reach services on the server's own network.",
    )
    download_allowed_hosts = List(
        Unicode(), config=True,
        help="The only hosts http(s) downloads may reach (exact names, redirects included); empty: any public host.",
    )
    max_download_bytes = Int(
        16 << 30, min=0, config=True,
        help="Largest file (bytes) a download may bring; a larger one fails with the reason and leaves nothing "
        "(0: no cap).",
    )
    download_timeout = Float(
        30.0, min=0.1, config=True,
        help="Seconds a download may stay silent (connecting, reading, or modelscope saying nothing) before the "
        "attempt gives up.",
    )
    download_retries = Int(
        2, min=0, config=True, help="How many times a failed HTTP download is tried again (resuming where it stopped).",
    )

    freeze_startup_objects = Bool(
        True, config=True,
        help="Once the server has started, move the objects it made so far (Jupyter's, the extensions') out of "
        "the garbage collector's reach (gc.freeze): a full collection then no longer walks them all, which "
        "stalled the server ~90 ms every few hundred tasks. Done once per process.",
    )

    activity: TaskActivity | None = None

    @default("workspace")
    def _default_workspace(self) -> str:
        return str(Path(self.serverapp.root_dir) / "nndeploy")

    def initialize_settings(self) -> None:
        config = ServicesConfig(
            workspace=Path(self.workspace).expanduser().resolve(),
            max_workers=self.max_workers,
            history_limit=self.history_limit,
            max_upload_bytes=self.max_upload_bytes,
            max_json_bytes=self.max_json_bytes,
            template_dirs=[Path(d).expanduser() for d in self.template_dirs],
            cancel_grace_seconds=self.cancel_grace_seconds,
            download_policy=DownloadPolicy(
                allow_private=self.allow_private_downloads, max_bytes=self.max_download_bytes,
                allowed_hosts=tuple(h.lower().rstrip(".") for h in self.download_allowed_hosts)),
            download_timeout=self.download_timeout,
            download_retries=self.download_retries,
            input_retention_hours=self.input_retention_hours,
            executor_factory=self._build_executor,
        )
        self.services = Services(config, log=self.log)
        self.settings["nndeploy"] = self.services
        self.log.info("nndeploy workspace: %s", config.workspace)
        # Kernels inherit the server's environment: this is how nndeploy_jupyter.Client() finds its server.
        os.environ.update(kernel_environment(self.serverapp))
        # The hub's idle culler must not stop a server whose tasks run (as jupyter_server's own
        # shutdown_no_activity, a periodic callback started here: the server's loop exists, tasks may not yet).
        self.activity = TaskActivity(self.serverapp.web_app.settings["last_activity_times"],
                                     self.services.tasks.live_states)
        self.activity.start()

    def _build_executor(self, context: ExecutorContext, log: logging.Logger):  # type: ignore[no-untyped-def]
        return build_executor(self.executor_class, context, log, parent=self)

    def initialize_handlers(self) -> None:
        self.handlers.extend((f"/nndeploy/api/{path}", handler) for path, handler in ROUTES)

    async def _start_jupyter_server_extension(self, serverapp) -> None:  # type: ignore[no-untyped-def]
        os.environ.update(kernel_environment(serverapp))  # again: the port is final only now
        await self.services.start()
        if self.freeze_startup_objects and gc.get_freeze_count() == 0:  # once per process (a server in a test
            asyncio.get_running_loop().call_soon(gc.freeze)  # session starts many), after the others' start too

    async def stop_extension(self) -> None:
        if self.activity is not None:
            self.activity.stop()
        await self.services.stop()
