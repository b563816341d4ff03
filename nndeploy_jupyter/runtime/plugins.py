"""Loading plugin nodes (``resources/plugin/*.py|*.so``) into a child process. Imports nndeploy.

Each plugin is loaded on its own, so a broken file is reported and the others still load (nndeploy's own
loader raises on every later call once one file is broken, and blocks the files after it). A file is
loaded again when it changes: registering a node key again replaces the old node.
"""

from __future__ import annotations

import ctypes
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

PLUGIN_SUFFIXES = (".py", ".so")
BUILTIN_PLUGIN_DIR = Path(__file__).resolve().parent.parent / "templates" / "plugins"
_loaded: dict[Path, float] = {}  # path -> mtime it was loaded at, in this process
_modules: dict[Path, ModuleType] = {}  # path -> the module loaded from it


def plugin_files(plugin_dir: Path) -> list[Path]:
    if not plugin_dir.is_dir():
        return []
    return sorted(p for p in plugin_dir.iterdir() if p.suffix in PLUGIN_SUFFIXES and not p.name.startswith("."))


def load_plugins(plugin_dir: Path) -> dict[str, str]:
    """Load every new or changed plugin; return ``{file name: error}`` for the broken ones."""
    errors: dict[str, str] = {}
    for path in plugin_files(plugin_dir):
        mtime = path.stat().st_mtime
        if _loaded.get(path) == mtime:
            continue
        try:
            _load(path)
            _loaded[path] = mtime
        except BaseException as e:  # a plugin may raise anything at import, SystemExit included
            errors[path.name] = f"{type(e).__name__}: {e}"
    return errors


def _load(path: Path) -> None:
    if path.suffix == ".so":
        import nndeploy.base

        if not nndeploy.base.load_library_from_path(str(path), True):  # it says no by returning False
            ctypes.CDLL(str(path))  # raises OSError with dlopen's reason ("invalid ELF header", a missing symbol)
            raise OSError("nndeploy could not load this library")
        return
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    _modules[path] = module  # kept alive: nndeploy's registry does not own the node creators a plugin made
    if sys.modules.get(path.stem) in _modules.values() or not _importable(path.stem):
        sys.modules[path.stem] = module  # other plugins may import it by name


def _importable(name: str) -> bool:
    """Whether ``name`` is a real module: a plugin file called ``json.py`` or ``cv2.py`` still registers its
    nodes, but must not replace that module for nndeploy and every later ``import`` in the process."""
    if name in sys.modules:
        return True
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False
