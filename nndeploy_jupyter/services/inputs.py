"""The retention of in-memory inputs: the folders notebooks upload arrays, images and bytes into
(``resources/inputs/<uuid>/``, see :mod:`nndeploy_jupyter.notebook.inputs`) are removed once older than
``input_retention_hours``: at start, then periodically. The disk work runs in a thread, never on the event loop.

A folder's age is its newest modification (the folder's or a file's in it), so a folder being uploaded into is
never old; and a folder a task not yet ended reads (a batch queued for longer than the retention) is kept.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import time
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path, PurePosixPath

from ..workspace import INPUTS_FOLDER, Workspace

MIN_SWEEP_SECONDS = 60.0
MAX_SWEEP_SECONDS = 3600.0


class InputRetention:
    def __init__(self, workspace: Workspace, retention_hours: float, in_use: Callable[[], Awaitable[set[str]]],
                 log: logging.Logger):
        self.folder = workspace.folder(INPUTS_FOLDER)
        self.retention_seconds = retention_hours * 3600
        self.in_use = in_use  # the paths the tasks not yet ended read
        self.log = log
        self._sweeper: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Sweep now, then every so often (a tenth of the retention, between a minute and an hour)."""
        if self.retention_seconds > 0 and self._sweeper is None:
            self._sweeper = asyncio.ensure_future(self._sweep_forever())

    async def stop(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
            self._sweeper = None

    async def _sweep_forever(self) -> None:
        interval = min(max(self.retention_seconds / 10, MIN_SWEEP_SECONDS), MAX_SWEEP_SECONDS)
        while True:
            try:
                removed = await asyncio.to_thread(self.sweep, None, await self.in_use())
            except Exception:  # a bug here must not stop the next sweeps
                self.log.exception("sweeping %s failed", self.folder)
            else:
                if removed:
                    self.log.info("removed %d input folder(s) older than %.1f h from %s", len(removed),
                                  self.retention_seconds / 3600, self.folder)
            await asyncio.sleep(interval)

    def sweep(self, now: float | None = None, in_use: Iterable[str] = ()) -> list[Path]:
        """Remove the input folders older than the retention that no path of ``in_use`` names; those removed."""
        cutoff = (now if now is not None else time.time()) - self.retention_seconds
        kept = {_input_folder(path) for path in in_use}
        removed = []
        for folder in _folders(self.folder):
            if folder.name not in kept and _newest_change(folder) < cutoff:
                shutil.rmtree(folder, ignore_errors=True)
                removed.append(folder)
        return removed


def _folders(root: Path) -> list[Path]:
    try:
        return [entry for entry in root.iterdir() if entry.is_dir() and not entry.is_symlink()]
    except FileNotFoundError:
        return []


def _input_folder(path: str) -> str | None:
    """``<uuid>`` of a ``.../inputs/<uuid>/...`` path, else None."""
    parts = PurePosixPath(path.replace("\\", "/")).parts
    for index, part in enumerate(parts[:-1]):
        if part == INPUTS_FOLDER:
            return parts[index + 1]
    return None


def _newest_change(folder: Path) -> float:
    stamps = [folder.stat().st_mtime]
    with contextlib.suppress(OSError):  # a file going away meanwhile
        stamps += [entry.lstat().st_mtime for entry in folder.rglob("*")]
    return max(stamps)
