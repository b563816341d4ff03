"""Workflows users save: JSON files in ``resources/workflow/`` indexed by SQLite rows.

File and row change together on the database thread, so concurrent saves are serialized and a failed
write never leaves a row pointing at a half-written file (files are written to a temporary name and
renamed into place). Files dropped into the folder by hand (for example through Jupyter's file browser)
are picked up at the next listing; rows whose file was removed by hand are dropped.
"""

from __future__ import annotations

import json
import sqlite3
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import BadRequest, NotFound
from ..store import Database, transaction
from ..workspace import Workspace, utf8_name, write_atomically
from .graphs import graph_name, parse_graph, summary


@dataclass(frozen=True)
class SavedWorkflow:
    id: str
    created: bool
    name: str  # the ``name_`` it was saved under: suffixed (``"Name (1)"``) when another workflow had it
    asked: str  # the ``name_`` the client sent

    @property
    def renamed_note(self) -> str:
        """What an answer adds when the name was taken (the answer's models stay as nndeploy's)."""
        return "" if self.name == self.asked else f" as {self.name!r} ({self.asked!r} is another workflow's name)"


class WorkflowStore:
    def __init__(self, workspace: Workspace, db: Database):
        self.workspace = workspace
        self.db = db

    @property
    def folder(self) -> Path:
        return self.workspace.folder("workflow")

    async def list(self) -> list[dict[str, Any]]:
        return await self.db.run(self._list)

    async def get(self, workflow_id: str) -> dict[str, Any]:
        return await self.db.run(lambda conn: self._read(self._path(conn, workflow_id)))

    async def path(self, workflow_id: str) -> Path:
        return await self.db.run(lambda conn: self._path(conn, workflow_id))

    async def find(self, id_or_name: str) -> str:
        """The id of a workflow named by its id or its ``name_``."""
        return await self.db.run(lambda conn: self._find(conn, id_or_name))

    async def save(self, content: Any, workflow_id: str | None = None) -> SavedWorkflow:
        graph = parse_graph(content)
        name = graph_name(graph)
        return await self.db.run(lambda conn: self._save(conn, graph, name, workflow_id))

    async def delete(self, workflow_id: str) -> None:
        await self.db.run(lambda conn: self._delete(conn, workflow_id))

    # -- on the database thread ---------------------------------------------------------------------

    def _list(self, conn: sqlite3.Connection) -> list[dict[str, Any]]:
        self._sync_folder(conn)
        rows = conn.execute("SELECT * FROM workflows ORDER BY updated_at DESC").fetchall()
        return [
            {"id": r["id"], "name_": r["name"], "developer_": r["developer"], "desc_": r["description"],
             "filename": r["filename"], "updated_at": r["updated_at"]}
            for r in rows
        ]

    def _sync_folder(self, conn: sqlite3.Connection) -> None:
        on_disk = {p.name for p in self.folder.glob("*.json")
                   if p.is_file() and not p.name.startswith(".") and utf8_name(p.name)}
        known = {r["filename"] for r in conn.execute("SELECT filename FROM workflows")}
        with transaction(conn):
            for gone in known - on_disk:
                conn.execute("DELETE FROM workflows WHERE filename = ?", (gone,))
            for filename in sorted(on_disk - known):
                try:
                    graph = parse_graph((self.folder / filename).read_bytes())
                except (BadRequest, OSError):
                    continue  # not a workflow (or unreadable): leave the file alone, do not list it
                name = graph.get("name_") if isinstance(graph.get("name_"), str) else Path(filename).stem
                self._insert(conn, str(uuid.uuid4()), name, filename, graph)

    def _find(self, conn: sqlite3.Connection, id_or_name: str) -> str:
        self._sync_folder(conn)
        row = conn.execute(
            "SELECT id FROM workflows WHERE id = ? OR name = ? ORDER BY id = ? DESC, updated_at DESC",
            (id_or_name, id_or_name, id_or_name),
        ).fetchone()
        if row is None:
            raise NotFound(f"no workflow with id or name {id_or_name!r}")
        return row["id"]

    def _row(self, conn: sqlite3.Connection, workflow_id: str) -> sqlite3.Row:
        row = conn.execute("SELECT * FROM workflows WHERE id = ?", (workflow_id,)).fetchone()
        if row is None:
            raise NotFound(f"no workflow with id {workflow_id!r}")
        return row

    def _path(self, conn: sqlite3.Connection, workflow_id: str) -> Path:
        path = self.folder / self._row(conn, workflow_id)["filename"]
        if not path.is_file():
            raise NotFound(f"the file of workflow {workflow_id!r} is missing")
        return path

    @staticmethod
    def _read(path: Path) -> dict[str, Any]:
        return parse_graph(path.read_bytes())

    def _save(self, conn: sqlite3.Connection, graph: dict, asked: str, workflow_id: str | None) -> SavedWorkflow:
        name = asked
        if workflow_id is None:
            workflow_id = str(uuid.uuid4())
            name, filename = self._free_name(conn, name)
            self._write(self.folder / filename, {**graph, "name_": name})
            with transaction(conn):
                self._insert(conn, workflow_id, name, filename, graph)
            return SavedWorkflow(workflow_id, created=True, name=name, asked=asked)
        row = self._row(conn, workflow_id)
        filename = row["filename"]
        if name != row["name"]:  # a rename moves the file instead of forking the workflow (upstream forks)
            name, filename = self._free_name(conn, name, workflow_id)
        self._write(self.folder / filename, {**graph, "name_": name})
        with transaction(conn):
            conn.execute(
                "UPDATE workflows SET name=?, filename=?, developer=?, description=?, updated_at=? WHERE id=?",
                (name, filename, summary(graph)["developer_"], summary(graph)["desc_"], time.time(), workflow_id),
            )
        if filename != row["filename"]:
            (self.folder / row["filename"]).unlink(missing_ok=True)
        return SavedWorkflow(workflow_id, created=False, name=name, asked=asked)

    def _delete(self, conn: sqlite3.Connection, workflow_id: str) -> None:
        row = self._row(conn, workflow_id)
        with transaction(conn):
            conn.execute("DELETE FROM workflows WHERE id = ?", (workflow_id,))
        (self.folder / row["filename"]).unlink(missing_ok=True)

    def _insert(self, conn: sqlite3.Connection, workflow_id: str, name: str, filename: str, graph: dict) -> None:
        now = time.time()
        info = summary(graph)
        conn.execute(
            "INSERT INTO workflows (id, name, filename, developer, description, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (workflow_id, name, filename, info["developer_"], info["desc_"], now, now),
        )

    def _free_name(self, conn: sqlite3.Connection, name: str, renamed: str = "") -> tuple[str, str]:
        """``name`` and its file name, or the first ``"name (N)"`` no other workflow and no other file has (the
        ``renamed`` workflow's own are free): two saved workflows never share a ``name_``, by which they are
        opened and queued."""
        rows = conn.execute("SELECT name, filename FROM workflows WHERE id != ?", (renamed,)).fetchall()
        names, filenames = {r["name"] for r in rows}, {r["filename"] for r in rows}
        own = {r["filename"] for r in conn.execute("SELECT filename FROM workflows WHERE id = ?", (renamed,))}

        def taken(candidate: str) -> bool:
            filename = f"{candidate}.json"
            return candidate in names or filename in filenames or (
                filename not in own and (self.folder / filename).exists())

        candidate, n = name, 0
        while taken(candidate):
            n += 1
            candidate = f"{name} ({n})"
        return candidate, f"{candidate}.json"

    @staticmethod
    def _write(path: Path, graph: dict) -> None:
        write_atomically(path, json.dumps(graph, ensure_ascii=False, indent=2).encode("utf-8"))
