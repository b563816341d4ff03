"""The workspace on disk: nndeploy's ``resources/`` layout, and the one place client paths are resolved.

Every path a client names goes through :meth:`Workspace.resolve`, which either returns a path inside
``resources/`` or raises; nothing else in the package joins client strings onto the file system.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from .errors import BadRequest, Forbidden, NotFound

DEMO_INPUTS = Path(__file__).resolve().parent / "templates" / "demo-inputs"
INPUTS_FOLDER = "inputs"  # what notebooks upload from memory, a folder each, removed after input_retention_hours
RESOURCE_FOLDERS = ("images", "videos", "audios", "models", "others", "workflow", "template", "plugin", "db",
                    INPUTS_FOLDER)
# Windows device names: refused everywhere so a workspace stays portable and a share never chokes on them.
_RESERVED = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(1, 10)), *(f"lpt{i}" for i in range(1, 10))}


@dataclass(frozen=True)
class Workspace:
    root: Path

    @property
    def resources(self) -> Path:
        return self.root / "resources"

    def folder(self, name: str) -> Path:
        return self.resources / name

    @property
    def database_path(self) -> Path:
        return self.folder("db") / "nndeploy.db"

    def create(self) -> None:
        """Create the layout and the built-in templates' demo inputs, never overwriting a user's file
        (idempotent). Runs once at start, off the event loop."""
        for name in RESOURCE_FOLDERS:
            self.folder(name).mkdir(parents=True, exist_ok=True)
        for demo in DEMO_INPUTS.iterdir():
            folder = "videos" if demo.suffix == ".avi" else "images"
            target = self.folder(folder) / demo.name
            if not target.exists():
                shutil.copyfile(demo, target)

    def resolve(self, client_path: str, *, must_exist: bool = False, follow_last_link: bool = True) -> Path:
        """Map a client's path to an absolute path inside ``resources/``, or raise 400/403.

        Accepted: a path relative to ``resources/`` (optionally starting with ``resources/``, as
        nndeploy's frontend sends it) or an absolute path inside it; backslashes count as separators. Every
        component is checked (no ``..``, NUL or reserved name). Symlinks are followed before the
        containment check, so a link pointing out is refused like ``..``. With ``follow_last_link=False``
        the last component is not followed (to act on a link itself), but the path must still resolve
        inside: a link pointing out is refused all the same.
        """
        if not client_path or "\x00" in client_path:
            raise BadRequest("file_path is empty or contains a NUL byte")
        root = self.resources.resolve()
        candidate = root.joinpath(*self._parts(client_path, root))
        resolved = Path(os.path.realpath(candidate))
        if resolved != root and root not in resolved.parents:
            raise Forbidden(f"path {client_path!r} is outside the resources folder")
        if not follow_last_link and candidate != root:
            resolved = Path(os.path.realpath(candidate.parent)) / candidate.name
        if must_exist and not os.path.lexists(resolved):
            raise NotFound(f"no such file: {client_path}")
        return resolved

    def _parts(self, client_path: str, root: Path) -> tuple[str, ...]:
        path = PurePosixPath(client_path.replace("\\", "/"))
        if path.is_absolute():
            parts = _relative_parts(path, (root, self.resources))
            if parts is None:
                raise Forbidden(f"path {client_path!r} is outside the resources folder")
        else:
            parts = path.parts[1:] if path.parts[:1] == ("resources",) else path.parts
        if ".." in parts:
            raise Forbidden(f"path {client_path!r} leaves the resources folder")
        for part in parts:
            check_name(part)
        return parts

    def relative(self, path: Path) -> str:
        """The path as nndeploy's graphs name it: ``resources/<...>``, relative to the workspace."""
        return str(PurePosixPath("resources", path.resolve().relative_to(self.resources.resolve())))


def _relative_parts(path: PurePosixPath, bases: tuple[Path, ...]) -> tuple[str, ...] | None:
    for base in bases:
        try:
            return path.relative_to(PurePosixPath(base)).parts
        except ValueError:
            continue
    return None


def utf8_name(name: str) -> bool:
    """Whether a name read from disk is valid UTF-8. Other bytes (a zip made on Windows with GBK names) come
    back from the OS as surrogates that JSON, SQLite and URLs cannot carry: listings skip such files."""
    try:
        name.encode("utf-8")
        return True
    except UnicodeEncodeError:
        return False


def check_name(name: str) -> str:
    """Refuse a single path component that could escape a folder or trip a file system."""
    stem = name.split(".")[0].lower()
    if name in ("", ".", "..") or "/" in name or "\\" in name or "\x00" in name or stem in _RESERVED:
        raise BadRequest(f"invalid name: {name!r}")
    return name


def _file_mode() -> int:
    mask = os.umask(0o077)  # read once, at import: the only way to read the umask portably
    os.umask(mask)
    return 0o666 & ~mask


FILE_MODE = _file_mode()
"""The mode ``open()`` gives a new file under the process umask; ``mkstemp``'s own 0600 would hide users'
workflows, uploads and plugins from everyone else who may read the workspace."""


def temp_file(folder: Path, prefix: str) -> tuple[int, str]:
    """A new hidden ``.part`` file in ``folder`` (for a rename into place later), with :data:`FILE_MODE`."""
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=prefix, suffix=".part")
    os.fchmod(fd, FILE_MODE)
    return fd, tmp


def write_atomically(path: Path, data: bytes) -> None:
    """Write beside ``path`` under a hidden temporary name, then rename into place: readers (plugin loaders,
    folder listings, a crash) never see a half-written file."""
    fd, tmp = temp_file(path.parent, ".saving-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
