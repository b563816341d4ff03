"""Read-only workflow templates from trees in nndeploy-workflow's layout.

A tree holds ``<category>/<Name>.json`` graphs; beside each, an optional cover image
(``cover.<stem>.png|jpg|jpeg|webp|gif``) and readme (``readme.<stem>.md``, else ``readme.template.md``).
Trees are, in order: the templates shipped in this package, ``resources/template/``, then the configured
``template_dirs`` (a local checkout of the official nndeploy-workflow repository loads as it is).

Ids are derived from the tree and the file's relative path, so they stay the same across scans and
restarts; the SQLite ``templates`` table is the index the listing answers from.
"""

from __future__ import annotations

import logging
import sqlite3
import time
import uuid
from pathlib import Path
from typing import Any

from ..errors import BadRequest, NotFound
from ..store import Database, transaction
from ..workspace import Workspace, utf8_name
from .graphs import load_json, summary

BUILTIN_DIR = Path(__file__).resolve().parent.parent / "templates"
COVER_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".gif")
_NAMESPACE = uuid.UUID("0f5c1f0e-7d39-4d4a-9a53-6a1c2f0d7e11")


class TemplateCatalog:
    def __init__(self, workspace: Workspace, db: Database, extra_dirs: list[Path], log: logging.Logger):
        self.workspace = workspace
        self.db = db
        self.extra_dirs = extra_dirs
        self.log = log

    @property
    def trees(self) -> list[Path]:
        return [BUILTIN_DIR, self.workspace.folder("template"), *self.extra_dirs]

    def _tree_key(self, tree: Path) -> str:
        """What a template's id is made of, with its path in the tree: a name for the built-in tree and the
        workspace's, so their ids survive a reinstall, a new virtualenv or a moved workspace; the path of a
        ``template_dirs`` tree."""
        if tree == BUILTIN_DIR:
            return "builtin"
        if tree == self.workspace.folder("template"):
            return "workspace"
        return str(tree.resolve())

    async def list(self) -> list[dict[str, Any]]:
        return await self.db.run(self._scan_and_list)

    async def categories(self) -> list[str]:
        return sorted({t["category_"] for t in await self.list() if t["category_"]})

    async def get(self, template_id: str) -> dict[str, Any]:
        return await self.db.run(lambda conn: self._load(conn, template_id))

    async def find(self, id_or_name: str) -> str:
        def _find(conn: sqlite3.Connection) -> str:
            self._scan(conn)
            row = conn.execute(
                "SELECT id FROM templates WHERE id = ? OR name = ? ORDER BY id = ? DESC",
                (id_or_name, id_or_name, id_or_name),
            ).fetchone()
            if row is None:
                raise NotFound(f"no template with id or name {id_or_name!r}")
            return row["id"]

        return await self.db.run(_find)

    async def cover(self, path: str) -> Path | None:
        """``path`` if it is, to the letter, the cover image of a listed template (and still a file)."""
        def _cover(conn: sqlite3.Connection) -> Path | None:
            row = conn.execute("SELECT cover FROM templates WHERE cover = ?", (path,)).fetchone()
            return Path(row["cover"]) if row and Path(row["cover"]).is_file() else None

        return await self.db.run(_cover)

    # -- on the database thread ---------------------------------------------------------------------

    def _scan_and_list(self, conn: sqlite3.Connection) -> list[dict[str, Any]]:
        self._scan(conn)
        rows = conn.execute("SELECT * FROM templates ORDER BY category, name").fetchall()
        return [
            {"id": r["id"], "name_": r["name"], "developer_": r["developer"], "source_": r["source"],
             "desc_": r["description"], "cover_": r["cover"], "requirements_": r["readme"],
             "category_": r["category"]}
            for r in rows
        ]

    def _scan(self, conn: sqlite3.Connection) -> None:
        started = time.time()
        found = [entry for tree in self.trees if tree.is_dir() for entry in self._entries(tree)]
        with transaction(conn):
            for entry in found:
                # a file listed before under another id (an older id scheme, or a tree inside another tree)
                conn.execute("DELETE FROM templates WHERE path = :path AND id != :id", entry)
                conn.execute(
                    "INSERT INTO templates (id, path, name, category, developer, source, description, cover, readme,"
                    " seen_at) VALUES (:id, :path, :name, :category, :developer, :source, :description, :cover,"
                    " :readme, :seen_at) ON CONFLICT(id) DO UPDATE SET path=excluded.path, name=excluded.name,"
                    " category=excluded.category, developer=excluded.developer, source=excluded.source,"
                    " description=excluded.description, cover=excluded.cover, readme=excluded.readme,"
                    " seen_at=excluded.seen_at",
                    {**entry, "seen_at": started},
                )
            conn.execute("DELETE FROM templates WHERE seen_at < ?", (started,))

    def _entries(self, tree: Path) -> list[dict[str, Any]]:
        entries = []
        for path in sorted(tree.rglob("*.json")):
            if any(part.startswith(".") or part == "node_modules" for part in path.relative_to(tree).parts):
                continue
            if not utf8_name(str(path)):
                continue
            graph = self._read_graph(path)
            if graph is None:
                continue
            rel = path.relative_to(tree)
            info = summary(graph)
            entries.append({
                "id": str(uuid.uuid5(_NAMESPACE, f"{self._tree_key(tree)}::{rel.as_posix()}")),
                "path": str(path.resolve()),
                "name": graph.get("name_") if isinstance(graph.get("name_"), str) else path.stem,
                "category": rel.parts[0] if len(rel.parts) > 1 else None,
                "developer": info["developer_"], "source": info["source_"], "description": info["desc_"],
                "cover": _cover(path),
                "readme": _readme(path),
            })
        return entries

    def _read_graph(self, path: Path) -> dict[str, Any] | None:
        """A template is a JSON object with ``node_repository_``; anything else in the tree is skipped."""
        try:
            graph = load_json(path.read_bytes(), "the file")
        except (OSError, BadRequest) as e:
            self.log.warning("template %s skipped: %s", path, e)
            return None
        if not isinstance(graph, dict) or not isinstance(graph.get("node_repository_"), list):
            return None
        return graph

    def _load(self, conn: sqlite3.Connection, template_id: str) -> dict[str, Any]:
        row = conn.execute("SELECT path FROM templates WHERE id = ?", (template_id,)).fetchone()
        if row is None:
            self._scan(conn)
            row = conn.execute("SELECT path FROM templates WHERE id = ?", (template_id,)).fetchone()
        graph = self._read_graph(Path(row["path"])) if row else None
        if graph is None:
            raise NotFound(f"no template with id {template_id!r}")
        return graph


def _cover(path: Path) -> str | None:
    for suffix in COVER_SUFFIXES:
        for stem in (path.stem, path.stem.lower()):
            candidate = path.with_name(f"cover.{stem}{suffix}")
            if candidate.is_file():
                return str(candidate.resolve())
    return None


def _readme(path: Path) -> str | None:
    for name in (f"readme.{path.stem}.md", "readme.template.md"):
        candidate = path.with_name(name)
        if candidate.is_file():
            return candidate.read_text(encoding="utf-8", errors="replace")
    return None
