"""Parameter overrides, ``{"<node name_>": {"<key>": value}}``: shared by the server and the notebook Client, so
importable without pydantic."""

from __future__ import annotations

from typing import Any

Params = dict[str, dict[str, Any]]


def merge_params(*layers: Params) -> Params:
    """Later layers win, key by key within a node."""
    merged: Params = {}
    for layer in layers:
        for node, values in layer.items():
            merged[node] = {**merged.get(node, {}), **values}
    return merged
