"""A batch's entries made into tasks: each entry's graph (the batch's parameters, then the entry's, then its
input files), checked as a single task is, with outputs of its own.

Every task of a batch runs the same graph, so its Output nodes would all write the same file: unless an entry
names an output's ``path_`` itself, each task writes into ``<the output's folder>/<batch id>/<index>/`` instead,
created at submission. Runs in a thread (file checks, folders): never on the event loop.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from ...errors import BadRequest
from ...params import merge_params
from ...schemas import BatchEntry, Graph, Params
from ...store.tasks import NewTask
from ...workspace import Workspace
from ..parameters import NodeSchemas
from ..validation import apply_params, validate_graph


def prepare_batch(graph: Graph, common: Params, entries: list[BatchEntry], batch_id: str, schemas: NodeSchemas,
                  workspace: Workspace) -> list[NewTask]:
    """One task per entry, every entry checked before any folder is made; 400 ``entry <i>: <reason>``."""
    workspace = _BatchWorkspace(workspace.root)
    tasks = []
    for index, entry in enumerate(entries):
        try:
            params = merge_params(common, entry.params, _input_params(graph, entry.inputs))
            task_graph = apply_params(graph, params, schemas)  # the task's own copy
            validate_graph(task_graph, schemas, workspace)
        except BadRequest as e:
            raise BadRequest(f"entry {index}: {e.message}") from None
        task_graph = _own_outputs(task_graph, params, f"{batch_id}/{index}")
        tasks.append(NewTask(str(uuid.uuid4()), task_graph, params or None))
    for task in tasks:
        for node in _outputs(task.graph):
            workspace.resolve(str(workspace.root / node["path_"])).parent.mkdir(parents=True, exist_ok=True)
    return tasks


@dataclass(frozen=True)
class _BatchWorkspace(Workspace):
    """The workspace resolving each path once per batch: its entries name the same files again and again, and
    resolving (every component's link followed) is a third of checking an entry."""

    resolved: dict[tuple[str, bool, bool], Path] = field(default_factory=dict, compare=False, repr=False)

    def resolve(self, client_path: str, *, must_exist: bool = False, follow_last_link: bool = True) -> Path:
        key = (client_path, must_exist, follow_last_link)
        if key not in self.resolved:  # (a refusal raises, and is not kept)
            self.resolved[key] = super().resolve(client_path, must_exist=must_exist, follow_last_link=follow_last_link)
        return self.resolved[key]


def _input_params(graph: Graph, inputs: dict[str, str]) -> Params:
    names = {n.get("name_") for n in graph.get("node_repository_") or [] if isinstance(n, dict)
             and n.get("node_type_") == "Input" and "path_" in n}
    for name in inputs:
        if name not in names:
            raise BadRequest(f"inputs: the graph has no Input node named {name!r} (its Input nodes: "
                             f"{', '.join(sorted(str(n) for n in names)) or 'none'})")
    return {name: {"path_": path} for name, path in inputs.items()}


def _outputs(graph: Graph) -> list[dict[str, Any]]:
    return [n for n in graph.get("node_repository_") or [] if isinstance(n, dict) and n.get("node_type_") == "Output"
            and isinstance(n.get("path_"), str) and n["path_"] and not n["path_"].isdigit() and "://" not in n["path_"]]


def _own_outputs(graph: Graph, params: Params, folder: str) -> Graph:
    """Each Output node whose ``path_`` the entry did not set writes into ``folder`` beside where it would have
    written (``graph`` is the task's own copy: changed in place)."""
    for node in _outputs(graph):
        if "path_" not in params.get(node["name_"], {}):
            path = PurePosixPath(node["path_"])
            node["path_"] = str(path.parent / folder / path.name)
    return graph
