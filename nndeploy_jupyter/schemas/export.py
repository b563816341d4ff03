"""The JSON Schema of the whole vocabulary, as one document (``python -m nndeploy_jupyter.schemas``)."""

from __future__ import annotations

from typing import Any

from pydantic import TypeAdapter
from pydantic.json_schema import JsonSchemaMode

from .. import states
from . import api, batches, events, tasks

# Every type a client meets, by the name its definition gets (a TypeScript generator names its types so).
EXPORTED: dict[str, Any] = {
    "TaskState": states.TaskState,
    "WorkerState": states.WorkerState,
    "TaskRecord": tasks.TaskRecord,
    "QueueInfo": tasks.QueueInfo,
    "History": tasks.History,
    "TaskCreated": tasks.TaskCreated,
    "Flushed": tasks.Flushed,
    "QueueRequest": tasks.QueueRequest,
    "BatchRequest": batches.BatchRequest,
    "BatchCreated": batches.BatchCreated,
    "BatchInfo": batches.BatchInfo,
    **{model.__name__: model for model in events.EVENT_TYPES},
    "EventEnvelope": events.EventEnvelope,
    "ClientFrame": events.ClientFrame,
    "ErrorBody": api.ErrorBody,
    "WorkflowSummary": api.WorkflowSummary,
    "SaveRequest": api.SaveRequest,
    "Saved": api.Saved,
    "WorkflowUploaded": api.WorkflowUploaded,
    "TemplateSummary": api.TemplateSummary,
    "FileInfo": api.FileInfo,
    "FileNode": api.FileNode,
    "PluginUploaded": api.PluginUploaded,
    "ServerInfo": api.ServerInfo,
    "WorkerInfo": api.WorkerInfo,
}


def definitions(types: dict[str, Any], ref_template: str, mode: JsonSchemaMode = "serialization"
                ) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    """``(schema of each named type, shared definitions)``; each schema refers into the definitions."""
    keyed = [(name, mode, TypeAdapter(kind)) for name, kind in types.items()]
    schemas, document = TypeAdapter.json_schemas(keyed, ref_template=ref_template)
    return {name: schemas[(name, mode)] for name in types}, document.get("$defs", {})


def json_schema() -> dict[str, Any]:
    schemas, defs = definitions(EXPORTED, "#/$defs/{model}")
    for name, schema in schemas.items():  # a type without a definition of its own (an enum inlined...) gets one
        if schema != {"$ref": f"#/$defs/{name}"}:
            defs.setdefault(name, schema)
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "title": "nndeploy-jupyter",
            "description": "Task states, records, events and API models of nndeploy-jupyter",
            "$defs": dict(sorted(defs.items()))}
