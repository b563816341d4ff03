"""What nndeploy's node catalogue (``dag/info``) says about each node's parameters, read once per catalogue.

- Their defaults, hence their JSON types, the enums they take (``param/types`` maps every enum value to its
  enum's values) and the options of ``dropdown_params_``: parameter overrides are checked against them.
- Which of them name files, so that validation confines them to ``resources/``. The catalogue has no type
  for paths; it is derived from the names and types of the defaults: a string (or a list of strings) named
  ``…path``, ``…file``, ``…dir`` or ``…folder`` (``path_``, ``ref_path_``, ``config_path``,
  ``character_path_``, ``embedding_file_``…), whatever ``io_params_`` lists, and in a parameter carrying an
  ``is_path_`` flag (nndeploy's inference and tokenizer parameters), the strings holding the model
  (``model_value_``, ``external_model_data_``, ``vocab_blob_``…), which are files while ``is_path_`` is true.

The same name rule applies to the fields of a graph's node that its catalogue entry lacks, so a path
parameter of a node the catalogue does not know, or a key a client added, is confined too.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

PATH_WORDS = frozenset({"path", "file", "dir", "folder"})
# In a parameter with an ``is_path_`` flag, the fields holding the model (inference: ``model_value_``,
# ``external_model_data_``; tokenizers: ``json_blob_``, ``vocab_blob_``…): files while the flag is true.
FLAGGED_WORDS = frozenset({"model", "blob"})
# Fields that make the graph's structure, not parameters: overriding them would rewire or retype the graph.
STRUCTURE = frozenset({"key_", "name_", "inputs_", "outputs_", "node_repository_"})
# Fields of nndeploy's own bookkeeping (lists of parameter names), never files.
META = frozenset({"required_params_", "ui_params_", "io_params_", "dropdown_params_"})

Entry = dict[str, Any]


@dataclass(frozen=True)
class NodeSchemas:
    node_keys: frozenset[str]
    entries: dict[str, Entry]  # key_ -> its default node JSON (entries sharing a key_ merged)
    graph: Entry  # the default of a top-level graph (loop_count_, parallel_type_...)
    enums: dict[str, list[str]]  # an enum value -> every value of its enum
    path_keys: dict[str, frozenset[tuple[str, ...]]]  # key_ -> the paths (field, subfield...) naming files

    def entry(self, node: Entry) -> Entry:
        key = node.get("key_")
        return self.entries.get(key, {}) if isinstance(key, str) else {}


def build(catalogue: dict[str, Any]) -> NodeSchemas:
    dag = catalogue["dag"]
    entries: dict[str, Entry] = {}
    for entity in _entities([n["nodeEntity"] for n in dag.get("nodes", []) if "nodeEntity" in n]):
        merged = entries.setdefault(entity["key_"], {})
        for field, value in entity.items():
            merged.setdefault(field, value)
    enums = catalogue.get("param_types") or {}
    return NodeSchemas(
        node_keys=frozenset(catalogue["node_keys"]),
        entries=entries,
        graph=dag.get("graph") or {},
        enums=enums,
        path_keys={key: frozenset(k for k, _ in path_fields(entry, enums)) for key, entry in entries.items()},
    )


def _entities(level: list[Any]) -> Iterator[Entry]:
    """Every node entity of the catalogue, the inner nodes of composite ones included."""
    while level:
        level = [e for e in level if isinstance(e, dict) and isinstance(e.get("key_"), str)]
        yield from level
        level = [c for e in level for c in (e.get("node_repository_") or [])]


def path_fields(node: Entry, enums: dict[str, list[str]], known: frozenset[tuple[str, ...]] = frozenset(),
                ) -> Iterator[tuple[tuple[str, ...], Any]]:
    """``((field, subfield...), value)`` for each value of ``node`` (a node's JSON, its parameters and their
    objects, not its inner nodes) that names files: by the name rules above, or listed in ``known``."""
    listed = frozenset((p,) for p in node.get("io_params_") or [] if isinstance(p, str))
    level: list[tuple[tuple[str, ...], Entry]] = [((), node)]
    while level:
        deeper = []
        for prefix, values in level:
            for field, value in values.items():
                key = (*prefix, field)
                if field in STRUCTURE or field in META:
                    continue
                if isinstance(value, dict):
                    deeper.append((key, value))
                elif not _strings(value):
                    continue
                elif "is_path_" in values and _words(field) & FLAGGED_WORDS and not _enum(value, enums):
                    if values["is_path_"] is True:  # false: the strings are the model itself, not files
                        yield key, value
                elif key in known or key in listed or _path_name(field):
                    yield key, value
        level = deeper


def _path_name(field: str) -> bool:
    return field.rstrip("_").rsplit("_", 1)[-1].lower() in PATH_WORDS


def _words(field: str) -> set[str]:
    return set(field.lower().split("_"))


def _enum(value: Any, enums: dict[str, list[str]]) -> bool:
    return isinstance(value, str) and value in enums


def _strings(value: Any) -> bool:
    return isinstance(value, str) or (isinstance(value, list) and all(isinstance(v, str) for v in value))


def kind(value: Any) -> str:
    """The JSON type of ``value``, in words."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    for types, words in ((float, "a number"), (str, "a string"), (list, "a list"), (dict, "an object")):
        if isinstance(value, types):
            return words
    return type(value).__name__


def mismatch(default: Any, value: Any, enums: dict[str, list[str]], options: list[Any] | None) -> str | None:
    """Why ``value`` cannot replace ``default`` (a different JSON type, a value outside its enum or its
    dropdown options), or None. A null default says nothing about the type."""
    expected, got = kind(default), kind(value)
    if default is not None and expected != got and not (expected == "a number" and got == "an integer"):
        return f"must be {expected} (its default is {default!r}), not {got} ({value!r})"
    if isinstance(value, str) and options and value not in options:
        return f"must be one of {', '.join(map(str, options))}, not {value!r}"
    if isinstance(default, str) and default in enums and value not in enums[default]:
        return f"must be one of {', '.join(enums[default])}, not {value!r}"
    if isinstance(default, list) and isinstance(value, list) and default:
        for item in value:
            if (reason := mismatch(default[0], item, enums, None)) is not None:
                return f"holds an item that {reason}"
    return None
