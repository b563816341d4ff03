"""Loading plugin nodes (``resources/plugin/*.py|*.so``) into a child process. Imports nndeploy.

Each plugin is loaded on its own, so a broken file is reported and the others still load (nndeploy's own
loader raises on every later call once one file is broken, and blocks the files after it). A file is
loaded again when it changes: registering a node key again replaces the old node.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

PLUGIN_SUFFIXES = (".py", ".so")
BUILTIN_PLUGIN_DIR = Path(__file__).resolve().parent.parent / "templates" / "plugins"
_loaded: dict[Path, float] = {}  # path -> mtime it was loaded at, in this process


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

        nndeploy.base.load_library_from_path(str(path), True)
        return
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    sys.modules[path.stem] = module
