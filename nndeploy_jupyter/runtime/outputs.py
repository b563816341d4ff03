"""Which files a run wrote: its Output nodes' files whose modification time changed while it ran.

nndeploy reports Ok for an encoder that wrote nothing, so a file counts only if it exists and changed. The
worker takes both looks itself, around its run, and reports them (``started`` carries the first look,
``finished`` the files): the supervisor's event loop makes no trip to the disk per task. When a worker dies
mid-run, the supervisor takes the second look, against the first look the worker reported.

Plain data only (the worker does not import the API's models): ``{"node", "path", "size"}`` per file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

Mtimes = dict[str, int | None]  # absolute path -> mtime_ns before the run (None: absent)


def output_nodes(graph: dict[str, Any], root: Path) -> list[tuple[str, Path]]:
    """(node name, absolute path) of every Output node, nested graphs included; graph paths are relative to
    the workspace root."""
    found = []
    for node in graph.get("node_repository_") or []:
        if isinstance(node, dict):
            path = node.get("path_")
            if node.get("node_type_") == "Output" and isinstance(path, str) and path:
                found.append((str(node.get("name_")), root / path))
            found.extend(output_nodes(node, root))
    return found


def mtimes(nodes: list[tuple[str, Path]]) -> Mtimes:
    seen: Mtimes = {}
    for _, path in nodes:
        try:
            seen[str(path)] = path.stat().st_mtime_ns
        except OSError:
            seen[str(path)] = None
    return seen


def fresh(before: Mtimes, nodes: list[tuple[str, Path]]) -> list[dict[str, Any]]:
    """The output files that exist and were written since ``before`` was taken."""
    outputs = []
    for name, path in nodes:
        try:
            stat = path.stat()
        except OSError:
            continue
        if before.get(str(path)) != stat.st_mtime_ns:
            outputs.append({"node": name, "path": str(path.resolve()), "size": stat.st_size})
    return outputs
