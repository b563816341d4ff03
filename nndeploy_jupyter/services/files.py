"""The resources users keep in the workspace: the tree, file facts, deletes, reads for preview, uploads.

Every client path goes through :meth:`Workspace.resolve`. Disk work runs in threads, never on the event
loop. Uploads arrive in pieces and go to a hidden temporary file in the target folder, renamed into place
only when complete, so neither a partial upload nor an oversized one ever shows up under a real name.
"""

from __future__ import annotations

import asyncio
import codecs
import mimetypes
import os
import re
import shutil
import stat
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO

from ..errors import BadRequest, Conflict, Forbidden, TooLarge
from ..workspace import RESOURCE_FOLDERS, Workspace, check_name, temp_file, utf8_name
from .templates import TemplateCatalog

TREE_FOLDERS = ("images", "videos", "audios", "models", "others")  # what nndeploy's resource panel shows
PROTECTED_FOLDERS = ("db",)  # the database: never written or deleted through the files API
READ_BLOCK = 256 << 10
WRITE_BLOCK = 1 << 20  # upload pieces are gathered up to this size before one write in a thread
TEXT_PREVIEW_BYTES = 1 << 20
ENCODING_SAMPLE_BYTES = 64 << 10
_ID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "nndeploy-jupyter:resources")
_MIME_OVERRIDES = {
    ".avi": "video/x-msvideo", ".mp4": "video/mp4", ".webm": "video/webm", ".mkv": "video/x-matroska",
    ".mov": "video/quicktime", ".wav": "audio/wav", ".mp3": "audio/mpeg", ".flac": "audio/flac",
    ".ogg": "audio/ogg", ".m4a": "audio/mp4", ".webp": "image/webp", ".json": "application/json",
}
_UNSAFE_FILENAME = re.compile(r"[\x00-\x1f\x7f/\\]")


def node_id(relative: str) -> str:
    """A tree node's id: derived from its ``resources/...`` path, so it is the same on every call and restart."""
    return str(uuid.uuid5(_ID_NAMESPACE, relative))


def mime_type(path: Path) -> str:
    suffix = path.suffix.lower()
    return _MIME_OVERRIDES.get(suffix) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"


def safe_filename(name: str) -> str:
    """The last component of a client's filename, with separators, control characters and leading dots
    removed; refused (400) when nothing usable is left or it is a reserved device name."""
    base = re.split(r"[/\\]", name)[-1]
    cleaned = _UNSAFE_FILENAME.sub("_", base).strip().lstrip(".")
    while len(cleaned.encode()) > 255:
        cleaned = cleaned[:-1]
    if not cleaned:
        raise BadRequest(f"unusable file name: {name!r}")
    return check_name(cleaned)


def _timestamp(seconds: float) -> str:
    return datetime.fromtimestamp(seconds).strftime("%Y-%m-%d %H:%M:%S")


@dataclass(frozen=True)
class FileView:
    """What a preview or download needs to answer: where, how big, since when, and as what type."""

    path: Path
    size: int
    mtime_ns: int
    mime: str

    @property
    def etag(self) -> str:
        return f'"{self.mtime_ns:x}-{self.size:x}"'


@dataclass(frozen=True)
class TextPreview:
    text: str
    encoding: str
    truncated: bool


class FileStore:
    def __init__(self, workspace: Workspace, max_upload_bytes: int, templates: TemplateCatalog):
        self.workspace = workspace
        self.max_upload_bytes = max_upload_bytes
        self.templates = templates  # template covers may live outside resources/ (built-in, template_dirs)

    async def tree(self) -> list[dict[str, Any]]:
        return await asyncio.to_thread(self._tree)

    async def info(self, client_path: str) -> dict[str, Any]:
        return await asyncio.to_thread(self._info, client_path)

    async def delete(self, client_path: str) -> str:
        return await asyncio.to_thread(self._delete, client_path)

    async def view(self, client_path: str) -> FileView:
        """A file to preview or download: inside resources/, or exactly a listed template's cover image (as
        nndeploy's frontend shows ``cover_`` through ``preview``); read-only either way."""
        try:
            path = await asyncio.to_thread(self.workspace.resolve, client_path, must_exist=True)
        except Forbidden:
            path = await self.templates.cover(client_path)
            if path is None:
                raise
        st = await asyncio.to_thread(path.stat)
        if stat.S_ISDIR(st.st_mode):
            raise BadRequest(f"{client_path!r} is a folder, not a file")
        return FileView(path, st.st_size, st.st_mtime_ns, mime_type(path))

    async def blocks(self, view: FileView, start: int, end: int) -> AsyncIterator[bytes]:
        """The bytes ``[start, end)`` of a file, a block at a time, each read in a thread."""
        file = await asyncio.to_thread(view.path.open, "rb")
        try:
            await asyncio.to_thread(file.seek, start)
            remaining = end - start
            while remaining > 0:
                block = await asyncio.to_thread(file.read, min(READ_BLOCK, remaining))
                if not block:
                    return
                remaining -= len(block)
                yield block
        finally:
            await asyncio.to_thread(file.close)

    async def text(self, client_path: str) -> TextPreview:
        view = await self.view(client_path)
        return await asyncio.to_thread(_read_text, view.path)

    async def check_upload_folder(self, client_folder: str) -> Path:
        """The folder an upload may go to (400/403 otherwise); checked before any byte is read."""
        folder = await asyncio.to_thread(self.workspace.resolve, client_folder)
        self._check_writable(folder, client_folder)
        top = folder.relative_to(self.workspace.resources.resolve()).parts[0]
        if top not in RESOURCE_FOLDERS:  # a new top folder would be invisible to nndeploy's resource tree
            raise BadRequest(f"{client_folder!r} is not inside one of resources/{{{','.join(RESOURCE_FOLDERS)}}}")
        return folder

    async def start_upload(self, client_folder: str, filename: str, overwrite: bool = False) -> Upload:
        """Open an upload of ``filename`` into ``client_folder`` (created inside resources/ if missing)."""
        folder = await self.check_upload_folder(client_folder)
        name = safe_filename(filename)
        file, temp = await asyncio.to_thread(_open_temp, folder)
        return Upload(self.workspace, folder, name, file, temp, self.max_upload_bytes, overwrite)

    def _check_writable(self, path: Path, client_path: str) -> None:
        root = self.workspace.resources.resolve()
        if path == root:
            raise Forbidden("the resources folder itself cannot be changed")
        if path.relative_to(root).parts[0] in PROTECTED_FOLDERS:
            raise Forbidden(f"{client_path!r} holds the workspace database; it cannot be changed here")

    # -- in a thread -----------------------------------------------------------------------------------

    def _tree(self) -> list[dict[str, Any]]:
        root = self.workspace.resources.resolve()
        nodes: list[dict[str, Any]] = []
        for name in TREE_FOLDERS:
            folder = root / name
            if folder.is_dir():
                top = _node(f"resources/{name}", name, folder.stat(), "")
                nodes.append(top)
                self._walk(root, folder, top, nodes)
        return nodes

    def _walk(self, root: Path, folder: Path, parent: dict[str, Any], nodes: list[dict[str, Any]]) -> None:
        try:
            entries = sorted(os.scandir(folder), key=lambda e: (not e.is_dir(), e.name))
        except OSError:
            return  # unreadable folder: shown empty rather than failing the whole tree
        for entry in entries:
            if entry.name.startswith(".") or not utf8_name(entry.name):
                continue  # hidden files, temporary uploads and partial downloads; names no client can send back
            if entry.is_symlink() and not _inside(root, Path(entry.path)):
                continue
            try:
                node = _node(f"{parent['path']}/{entry.name}", entry.name, entry.stat(), parent["id"])
            except OSError:
                continue  # dangling link or vanished meanwhile
            nodes.append(node)
            if node["type"] == "branch" and not entry.is_symlink():
                self._walk(root, Path(entry.path), node, nodes)

    def _info(self, client_path: str) -> dict[str, Any]:
        path = self.workspace.resolve(client_path, must_exist=True)
        return _file_info(self.workspace.relative(path), path.name, path.stat())

    def _delete(self, client_path: str) -> str:
        path = self._link(client_path)
        if path is None:
            self.workspace.resolve(client_path, must_exist=True)  # refuses paths through links pointing out
            path = self.workspace.resolve(client_path, follow_last_link=False)
        self._check_writable(path, client_path)
        if path.parent == self.workspace.resources.resolve():
            raise Forbidden(f"{client_path!r} is a top resources folder; it cannot be deleted")
        relative = self.workspace.relative(path.parent) + "/" + path.name
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)  # never follows links inside: a link is removed, not what it points to
            return f"directory {relative} deleted"
        size = path.lstat().st_size
        path.unlink()
        return f"file {relative} deleted (size={size} bytes)"

    def _link(self, client_path: str) -> Path | None:
        """The symlink ``client_path`` names, wherever it points, when its folder is inside resources/: removing
        it touches nothing outside (the link goes, not its target), and a link pointing out must stay removable.
        ``None`` when it names no link."""
        client = PurePosixPath(client_path.replace("\\", "/"))
        if client.name in ("", ".", ".."):
            return None
        check_name(client.name)
        folder = self.workspace.resolve(str(client.parent), must_exist=True)  # the folder itself must be inside
        path = folder / client.name
        return path if path.is_symlink() else None


class Upload:
    """One file arriving in pieces. :meth:`write` enforces the size limit as bytes arrive; :meth:`commit`
    renames the temporary file into place; :meth:`abort` removes it. Calls are serialized by a lock, so a
    disconnect arriving during a write cannot close the file under it."""

    def __init__(self, workspace: Workspace, folder: Path, name: str, file: BinaryIO, temp: Path, limit: int,
                 overwrite: bool):
        self._workspace = workspace
        self.folder = folder
        self.name = name
        self._file = file
        self._temp = temp
        self._limit = limit
        self._overwrite = overwrite
        self._pending = bytearray()
        self._size = 0
        self._lock = asyncio.Lock()
        self._closed = False

    async def write(self, data: bytes) -> None:
        async with self._lock:
            if self._closed:
                return
            self._size += len(data)
            if self._size > self._limit:
                await self._discard()
                raise TooLarge(f"upload exceeds the limit of {self._limit} bytes")
            self._pending += data
            if len(self._pending) >= WRITE_BLOCK:
                await self._flush()

    async def commit(self) -> dict[str, Any]:
        async with self._lock:
            await self._flush()
            self._closed = True
            try:
                target = await asyncio.to_thread(self._place)
            except BaseException:
                await asyncio.to_thread(self._remove_temp)
                raise
        return {
            "filename": target.name,
            "saved_path": self._workspace.relative(target.parent) + "/" + target.name,
            "size": self._size,
            "uploaded_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "extension": target.suffix.lstrip(".") or "unknown",
        }

    async def abort(self) -> None:
        async with self._lock:
            await self._discard()

    async def _flush(self) -> None:
        if self._pending:
            data, self._pending = bytes(self._pending), bytearray()
            await asyncio.to_thread(self._file.write, data)

    async def _discard(self) -> None:
        if not self._closed:
            self._closed = True
            self._pending = bytearray()
            await asyncio.to_thread(self._remove_temp)

    def _remove_temp(self) -> None:
        self._file.close()
        self._temp.unlink(missing_ok=True)

    def _place(self) -> Path:
        """Rename into place. Without ``overwrite`` an existing name gets a numbered suffix; the link-then-
        unlink move never replaces a file that appeared meanwhile."""
        self._file.close()
        target = self.folder / self.name
        if self._overwrite:
            if target.is_dir():
                raise Conflict(f"{self.name!r} is a folder; a file cannot replace it")
            os.replace(self._temp, target)
            return target
        stem, suffix = os.path.splitext(self.name)
        for n in range(1, 10_000):
            try:
                os.link(self._temp, target)
            except FileExistsError:
                target = self.folder / f"{stem} ({n}){suffix}"
                continue
            self._temp.unlink()
            return target
        raise Conflict(f"too many files named like {self.name!r}")


def _open_temp(folder: Path) -> tuple[BinaryIO, Path]:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise Conflict(f"{folder.name!r} is a file, not a folder") from None
    fd, temp = temp_file(folder, ".upload-")
    return os.fdopen(fd, "wb"), Path(temp)


def _node(relative: str, name: str, st: os.stat_result, parent_id: str) -> dict[str, Any]:
    info = _file_info(relative, name, st)
    return {"id": node_id(relative), "name": name, "parentId": parent_id,
            "type": "branch" if stat.S_ISDIR(st.st_mode) else "leaf", "path": relative, "file_info": info}


def _file_info(relative: str, name: str, st: os.stat_result) -> dict[str, Any]:
    """nndeploy's ``file_info``; ``saved_path`` is ``resources/...``, which graphs (run in the workspace) use."""
    is_dir = stat.S_ISDIR(st.st_mode)
    return {
        "filename": name,
        "saved_path": relative,
        "size": 4096 if is_dir else st.st_size,
        "uploaded_at": _timestamp(st.st_mtime),
        "extension": "" if is_dir else (os.path.splitext(name)[1].lstrip(".") or "unknown"),
    }


def _inside(root: Path, path: Path) -> bool:
    resolved = Path(os.path.realpath(path))
    return resolved == root or root in resolved.parents


def _read_text(path: Path) -> TextPreview:
    """At most :data:`TEXT_PREVIEW_BYTES` of a file as text, its encoding guessed from the first bytes only."""
    with path.open("rb") as f:
        data = f.read(TEXT_PREVIEW_BYTES + 1)
    truncated = len(data) > TEXT_PREVIEW_BYTES
    data = data[:TEXT_PREVIEW_BYTES]
    encoding = guess_encoding(data[:ENCODING_SAMPLE_BYTES])
    decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
    return TextPreview(decoder.decode(data, final=not truncated), encoding, truncated)


def guess_encoding(sample: bytes) -> str:
    """BOMs first, then UTF-8, then GB18030 (nndeploy's users often keep Chinese text); refuse binary data."""
    for bom, name in ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"),
                      (codecs.BOM_UTF16_BE, "utf-16")):
        if sample.startswith(bom):
            return name
    if b"\x00" in sample:
        raise BadRequest("the file is binary, not text")
    for name in ("utf-8", "gb18030"):
        try:
            codecs.getincrementaldecoder(name)().decode(sample, final=False)
            return name
        except UnicodeDecodeError:
            continue
    return "latin-1"
