"""Small facts about nndeploy graph JSON that several services need, without importing nndeploy."""

from __future__ import annotations

import json
import re
from typing import Any

from ..errors import BadRequest
from ..workspace import utf8_name

MAX_NAME_LENGTH = 200
MAX_JSON_DEPTH = 100


def load_json(data: str | bytes, what: str) -> Any:
    """Parse JSON from a client or a file; 400 when malformed or nested deeper than :data:`MAX_JSON_DEPTH`.

    Nothing legitimate nests that deep, and recursive code further on (``json`` itself past ~1000 levels,
    validation, ``deepcopy``, nndeploy's parser) would fail on it with a ``RecursionError``."""
    try:
        value = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise BadRequest(f"{what} is not valid JSON: {e}") from None
    except RecursionError:
        raise BadRequest(f"{what} is nested more than {MAX_JSON_DEPTH} levels deep") from None
    check_strings = _may_hold_surrogates(data)
    level = [value]
    for _ in range(MAX_JSON_DEPTH):  # breadth first, no recursion
        if check_strings and (any(not _unicode(v) for v in level)
                              or any(not _unicode(k) for v in level if isinstance(v, dict) for k in v)):
            raise BadRequest(f"{what} holds a string that is not valid Unicode (a lone surrogate escape)")
        children = (c for v in level if isinstance(v, (dict, list)) for c in (v.values() if isinstance(v, dict) else v))
        level = list(children) if check_strings else [c for c in children if isinstance(c, (dict, list))]
        if not level:
            return value
    raise BadRequest(f"{what} is nested more than {MAX_JSON_DEPTH} levels deep")


_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_SURROGATE_ESCAPE_BYTES = re.compile(rb"\\u[dD][89a-fA-F]")


def _may_hold_surrogates(data: str | bytes) -> bool:
    """Whether the parsed value may hold a lone surrogate. Not ASCII text without a ``\\uD800``-``\\uDFFF``
    escape (neither UTF-8 nor ``json``'s ``surrogatepass`` decoding of bytes can smuggle one into that): most
    requests, whose strings then need no check one by one (a scan of the text in C instead)."""
    if not data.isascii():
        return True
    pattern = _SURROGATE_ESCAPE_BYTES if isinstance(data, bytes) else _SURROGATE_ESCAPE
    return pattern.search(data) is not None  # type: ignore[arg-type]


def _unicode(value: Any) -> bool:
    """False for a string JSON can carry (``"\\ud800"``) but UTF-8, SQLite and file names cannot."""
    return not isinstance(value, str) or utf8_name(value)


def parse_graph(content: Any) -> dict[str, Any]:
    """Accept a graph as a dict or a JSON string (nndeploy's frontend sends both); refuse anything else."""
    if isinstance(content, (str, bytes)):
        content = load_json(content, "workflow")
    if not isinstance(content, dict):
        raise BadRequest("workflow must be a JSON object")
    return content


def graph_name(graph: dict[str, Any]) -> str:
    """The graph's ``name_``, checked to be usable as a file name inside one folder."""
    name = graph.get("name_")
    if not isinstance(name, str) or not name.strip():
        raise BadRequest("workflow has no name_ (a non-empty string is required)")
    if len(name) > MAX_NAME_LENGTH:
        raise BadRequest(f"name_ is longer than {MAX_NAME_LENGTH} characters")
    if ".." in name or "/" in name or "\\" in name or "\x00" in name or name.startswith("."):
        raise BadRequest(f"name_ {name!r} may not contain '..', '/', '\\' or NUL, nor start with '.'")
    if any(ord(c) < 32 or ord(c) == 127 for c in name):  # it names a file: no line breaks, tabs, escapes
        raise BadRequest(f"name_ {name!r} may not contain control characters")
    return name


def summary(graph: dict[str, Any]) -> dict[str, str]:
    """The descriptive fields nndeploy's lists show."""
    return {k: str(graph.get(k) or "") for k in ("developer_", "source_", "desc_")}
