"""The workspace database: one SQLite connection owned by one thread, so the event loop never waits on it.

Every query runs through :meth:`Database.run`, which hands a callable to the database thread and awaits the
result. Schema changes are numbered migrations: a newer schema is applied in place, never by dropping data.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from .schema import MIGRATIONS

T = TypeVar("T")


class Database:
    def __init__(self, path: Path):
        self.path = path
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="nndeploy-db")
        self._conn: sqlite3.Connection | None = None

    def open_sync(self) -> None:
        """Open and migrate; called on the database thread (or before the server serves)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA busy_timeout=5000")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA synchronous=NORMAL")
        self._conn = conn
        self._migrate(conn)

    async def open(self) -> None:
        await self._submit(self.open_sync)

    @staticmethod
    def _migrate(conn: sqlite3.Connection) -> None:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        for number, statements in enumerate(MIGRATIONS[version:], start=version + 1):
            with conn:
                conn.execute("BEGIN")
                for statement in _split(statements):
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version={number}")

    def _submit(self, fn: Callable[..., T], *args: Any) -> asyncio.Future[T]:
        return asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    async def run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn(connection)`` on the database thread. Use ``with transaction(conn):`` inside for a transaction."""
        return await self._submit(self._call, fn)

    def _call(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        if self._conn is None:
            self.open_sync()
        assert self._conn is not None
        return fn(self._conn)

    def close(self) -> None:
        def _close() -> None:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

        self._executor.submit(_close).result()
        self._executor.shutdown(wait=True)


@contextlib.contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One transaction: committed at the end, rolled back on an exception. The connection is in autocommit mode
    (``isolation_level=None``), where ``with conn:`` alone opens none: each statement would commit on its own."""
    conn.execute("BEGIN")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def _split(script: str) -> list[str]:
    return [s.strip() for s in script.split(";") if s.strip()]
