"""The workspace database upgrades in place: a newer schema keeps every row an older one wrote."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from nndeploy_jupyter.store import Database
from nndeploy_jupyter.store.schema import MIGRATIONS


def old_database(path: Path, version: int) -> None:
    """A database as an older release left it: the first ``version`` migrations, and rows in it."""
    conn = sqlite3.connect(path)
    for statements in MIGRATIONS[:version]:
        conn.executescript(statements)
    conn.execute(f"PRAGMA user_version={version}")
    conn.execute("INSERT INTO workflows VALUES ('w1', 'kept', 'kept.json', 'me', 'd', 1.0, 2.0)")
    conn.execute("INSERT INTO tasks (id, state, priority, graph, submitted_at) VALUES ('t1', 'PENDING', 3, '{}', 1.0)")
    conn.commit()
    conn.close()


def test_an_older_database_is_migrated_without_losing_rows(tmp_path: Path):
    path = tmp_path / "nndeploy.db"
    old_database(path, version=2)

    db = Database(path)

    async def read():
        await db.open()
        return await db.run(lambda conn: (
            conn.execute("PRAGMA user_version").fetchone()[0],
            conn.execute("SELECT name, filename FROM workflows").fetchall(),
            conn.execute("SELECT id, state, priority, download FROM tasks").fetchall(),
        ))

    try:
        version, workflows, tasks = asyncio.run(read())
    finally:
        db.close()
    assert version == len(MIGRATIONS)
    assert [tuple(r) for r in workflows] == [("kept", "kept.json")]
    assert [tuple(r) for r in tasks] == [("t1", "PENDING", 3, 0)]  # the new column has its default


def test_a_current_database_is_left_as_it_is(tmp_path: Path):
    path = tmp_path / "nndeploy.db"
    old_database(path, version=len(MIGRATIONS))
    db = Database(path)
    try:
        asyncio.run(db.open())  # no migration to apply: it must not fail on existing tables, nor touch rows
    finally:
        db.close()
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT COUNT(*) FROM workflows").fetchone()[0] == 1
    assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    conn.close()
