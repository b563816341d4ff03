"""What the panel's header shows: this server extension's version and its executor's workers, on request
(``GET server``) and as ``system`` events named ``workers`` whenever they change, to the sockets bound to
``"*"`` (a client following one task, as nndeploy's own frontend does, is not told)."""

from __future__ import annotations

import asyncio
from importlib.metadata import PackageNotFoundError, version

from .. import __version__
from ..runtime.executor import Executor
from ..schemas import ServerInfo, SystemEvent
from .events import EventHub


class ServerStatus:
    def __init__(self, executor: Executor, events: EventHub, max_workers: int):
        self.executor = executor
        self.events = events
        self.max_workers = max_workers
        self._pending: asyncio.Handle | None = None
        executor.on_capacity_change(self._changed)

    def info(self) -> ServerInfo:
        return ServerInfo(version=__version__, nndeploy_version=_nndeploy_version(),
                          executor=type(self.executor).__name__, max_workers=self.max_workers,
                          workers=self.executor.workers(), unavailable=self.executor.unavailable())

    def _changed(self) -> None:
        # A worker's death, restart and readiness come in quick succession: one event per loop turn says it all.
        if self._pending is None:
            self._pending = asyncio.get_running_loop().call_soon(self._publish)

    def _publish(self) -> None:
        self._pending = None
        info = self.info()
        self.events.publish(SystemEvent(event="workers", detail={
            "workers": [worker.model_dump(mode="json") for worker in info.workers],
            "unavailable": info.unavailable}), message="workers changed", watchers_only=True)


def _nndeploy_version() -> str | None:
    try:
        return version("nndeploy")
    except PackageNotFoundError:
        return None
