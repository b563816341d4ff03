"""Checks a graph before it is queued, so the mistakes that kill nndeploy's process never reach a worker.

nndeploy SIGSEGVs on a dangling edge, a cycle or a duplicate wiring, and passes an empty image on when an
input file is missing. Every check here names the node and the reason (400). Nothing nndeploy-specific is
imported: the known node keys come from the catalogue, paths from the workspace rules.

Nested graphs (a node with its own ``node_repository_``) are checked level by level: names unique among
siblings, keys known, no cycle, file paths confined. Edges are checked at the top level, where the
frontend wires them; inside a composite node, its own code wires the edges to its inputs and outputs.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..errors import ApiError, BadRequest
from ..workspace import Workspace
from .parameters import STRUCTURE, NodeSchemas, mismatch, path_fields

Graph = dict[str, Any]
_STREAM_SCHEMES = ("http://", "https://", "rtsp://", "rtmp://")


def validate_graph(graph: Any, schemas: NodeSchemas, workspace: Workspace, inputs_fetched_later: bool = False) -> None:
    """Raise :class:`BadRequest` naming the node and the reason when ``graph`` must not run.
    ``inputs_fetched_later``: the graph's downloads have not run yet, so its input files may not exist yet."""
    if not isinstance(graph, dict):
        raise BadRequest("the graph must be a JSON object")
    repository = graph.get("node_repository_")
    if not isinstance(repository, list):
        raise BadRequest("the graph has no node_repository_ list")
    if not repository:
        raise BadRequest("the graph has no nodes")
    _check_level(repository, schemas, workspace, None, inputs_fetched_later)
    _check_edges(graph, repository)


def apply_params(graph: Graph, params: dict[str, dict[str, Any]], schemas: NodeSchemas) -> Graph:
    """A copy of ``graph`` with ``{"<node name_>": {"<key>": value}}`` set; objects (``param_``) are merged.

    Each key must be one of the node's parameters (its catalogue entry's, or the graph's own node's), of its
    default's JSON type and inside its enum. The graph's own ``name_`` addresses the graph's fields
    (``loop_count_``, ``parallel_type_``…) unless a node has that name."""
    graph = copy.deepcopy(graph)
    for node_name, values in params.items():
        node = _find_node(graph, node_name)
        if node is not None:
            entry = schemas.entry(node)
        elif node_name == graph.get("name_"):
            node, entry = graph, schemas.graph
        else:
            raise BadRequest(f"params: the graph has no node named {node_name!r}")
        for key in values:
            if key in STRUCTURE:
                raise BadRequest(f"params: node {node_name!r}: {key!r} is the graph's structure, not a parameter "
                                 "(change the graph itself)")
        node.update(_merged_object(node_name, (), entry, node, values, schemas.enums, strict=True))
    return graph


def _merged_object(node: str, where: tuple[str, ...], default: Graph, current: Graph, value: Graph,
                   enums: dict[str, list[str]], strict: bool) -> Graph:
    """``current`` with ``value``'s keys set, each checked against ``default`` (the catalogue's), or against
    ``current`` for a key the catalogue lacks. ``strict``: only known keys (a node, or an nndeploy parameter
    object, which lists its ``required_params_``); other objects (shapes keyed by tensor name) take any key."""
    dropdowns = {**(current.get("dropdown_params_") or {}), **(default.get("dropdown_params_") or {})}
    merged = dict(current)
    for key, item in value.items():
        label = ".".join((*where, key))
        if strict and key not in default and key not in current:
            raise BadRequest(f"params: node {node!r} has no parameter {label!r}")
        reference = default[key] if key in default else current.get(key)
        if isinstance(item, dict) and isinstance(reference, dict):
            inner_default = default.get(key) if isinstance(default.get(key), dict) else {}
            inner = current.get(key) if isinstance(current.get(key), dict) else {}
            is_param = "required_params_" in inner_default or "required_params_" in inner
            merged[key] = _merged_object(node, (*where, key), inner_default, inner, item, enums, is_param)
            continue
        reason = mismatch(reference, item, enums, dropdowns.get(key)) if key in default or key in current else None
        if reason is not None:
            raise BadRequest(f"params: node {node!r}, parameter {label!r} {reason}")
        merged[key] = item
    return merged


def _find_node(graph: Graph, name: str) -> Graph | None:
    for node in _walk(graph.get("node_repository_") or []):
        if node.get("name_") == name:
            return node
    return None


def _walk(repository: list[Any]) -> Iterator[Graph]:
    """Every node dict, breadth first, so a top-level node wins over a nested one of the same name."""
    level = [n for n in repository if isinstance(n, dict)]
    while level:
        yield from level
        level = [c for n in level for c in (n.get("node_repository_") or []) if isinstance(c, dict)]


def _check_level(repository: list[Any], schemas: NodeSchemas, workspace: Workspace, parent: str | None,
                 inputs_fetched_later: bool) -> None:
    where = f" inside {parent!r}" if parent else ""
    seen: set[str] = set()
    for index, node in enumerate(repository):
        if not isinstance(node, dict):
            raise BadRequest(f"node #{index}{where} is not a JSON object")
        name = node.get("name_")
        if not isinstance(name, str) or not name:
            raise BadRequest(f"node #{index}{where} has no name_")
        if name in seen:
            raise BadRequest(f"node {name!r}{where}: the name is used by another node")
        seen.add(name)
        key = node.get("key_")
        if not isinstance(key, str) or not key:
            raise BadRequest(f"node {name!r}{where} has no key_")
        if key not in schemas.node_keys:
            raise BadRequest(f"node {name!r}{where}: unknown node type {key!r} (is its plugin loaded?)")
        for field in ("inputs_", "outputs_"):
            if not all(isinstance(e, dict) and isinstance(e.get("name_"), str) for e in node.get(field) or []):
                raise BadRequest(f"node {name!r}{where}: every entry of {field} needs a name_")
        _check_paths(node, schemas, workspace, inputs_fetched_later)
        children = node.get("node_repository_")
        if children:
            if not isinstance(children, list):
                raise BadRequest(f"node {name!r}{where}: node_repository_ must be a list")
            _check_level(children, schemas, workspace, name, inputs_fetched_later)
    _check_acyclic(repository, where)


def _edges(node: Graph, field: str) -> list[str]:
    return [e["name_"] for e in node.get(field) or []]


def _check_edges(graph: Graph, repository: list[Graph]) -> None:
    producers: dict[str, str] = {}
    for node in repository:
        for edge in _edges(node, "outputs_"):
            if edge in producers:
                raise BadRequest(f"node {node['name_']!r}: output {edge!r} is also produced by {producers[edge]!r}")
            producers[edge] = node["name_"]
    for node in repository:
        for edge in _edges(node, "inputs_"):
            if edge not in producers:
                raise BadRequest(f"node {node['name_']!r}: input {edge!r} is not produced by any node")
    for edge in _edges(graph, "outputs_"):
        if edge not in producers:
            raise BadRequest(f"graph output {edge!r} is not produced by any node")


def _check_acyclic(repository: list[Graph], where: str) -> None:
    """Kahn's algorithm: the nodes that cannot be ordered sit on a cycle or behind one."""
    producer = {edge: node["name_"] for node in repository for edge in _edges(node, "outputs_")}
    waiting = {node["name_"]: {producer[e] for e in _edges(node, "inputs_") if e in producer} for node in repository}
    ready = [name for name, deps in waiting.items() if not deps]
    while ready:
        done = ready.pop()
        del waiting[done]
        for name, deps in waiting.items():
            if done in deps:
                deps.discard(done)
                if not deps:
                    ready.append(name)
    if waiting:
        names = sorted(waiting)
        raise BadRequest(f"node {names[0]!r}{where} is in a cycle (nodes involved: {', '.join(names)})")


def _check_paths(node: Graph, schemas: NodeSchemas, workspace: Workspace, inputs_fetched_later: bool) -> None:
    """What a node reads must exist and what it writes goes to an existing folder, both inside ``resources/``.

    Read: an Input node's ``path_`` (a file, or a folder for image-folder decoders) and a video encoder's
    ``ref_path_``. Written: an Output node's ``path_``. Every other value that names files (models, configs,
    embeddings: see :mod:`.parameters`, derived from the catalogue) is confined without more checks (it may be
    downloaded later, or be written). Stream URLs and camera indexes are left alone. Graph paths are relative
    to the workspace root (the worker's working directory), as in nndeploy's templates
    (``resources/images/...``). ``node_type_`` is whatever the client sent, and nndeploy's codecs read and
    write ``path_`` whatever it says: any other ``path_`` (``param_.path_`` included) is confined too.
    """
    role = node.get("node_type_")
    if role == "Input" and "path_" in node:
        _check_read(node, "path_", workspace, inputs_fetched_later)
    elif role == "Output" and "path_" in node:
        written = _confined(node["name_"], "path_", node["path_"], workspace)
        if not written.parent.is_dir():
            raise BadRequest(f"node {node['name_']!r}: the folder of output {node['path_']!r} does not exist")
    elif node.get("path_") and not _is_stream(node["path_"]):
        _confined(node["name_"], "path_", node["path_"], workspace)
    if node.get("ref_path_"):
        _check_read(node, "ref_path_", workspace, inputs_fetched_later)
    for key, value in path_fields(node, schemas.enums, schemas.path_keys.get(node["key_"], frozenset())):
        if key not in _ROLE_PATHS:
            for path in [value] if isinstance(value, str) else value:
                if path and not _is_stream(path):
                    _confined(node["name_"], ".".join(key), path, workspace)


_ROLE_PATHS = {("path_",), ("ref_path_",)}  # checked above, by the node's role


def _is_stream(path: Any) -> bool:
    return isinstance(path, str) and (path.lower().startswith(_STREAM_SCHEMES) or path.isdigit())


def _check_read(node: Graph, field: str, workspace: Workspace, may_be_missing: bool) -> None:
    path = node[field]
    if _is_stream(path):
        return
    if not _confined(node["name_"], field, path, workspace).exists() and not may_be_missing:
        raise BadRequest(f"node {node['name_']!r}: input {path!r} ({field}) does not exist")


def _confined(name: str, field: str, path: Any, workspace: Workspace) -> Path:
    if not isinstance(path, str) or not path:
        raise BadRequest(f"node {name!r}: {field} must be a non-empty path")
    raw = Path(path)
    try:
        return workspace.resolve(str(raw if raw.is_absolute() else workspace.root / raw))
    except ApiError as e:
        raise BadRequest(f"node {name!r}: {field}: {e.message}") from None
