"""``openapi.json``, generated: each handler declares an :class:`Operation` per method (summary, query, body and
result models from :mod:`nndeploy_jupyter.schemas`), and :func:`openapi` turns the routes into the spec.

Its ``servers`` entry is the server's own ``{base_url}nndeploy/api``, so a generated client, or schemathesis,
pointed at the served document reaches the handlers under any base_url (JupyterHub's ``/user/<name>/``...).
Built on the first request for it and kept; nothing here runs at start-up.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from tornado.websocket import WebSocketHandler

from .. import __version__
from ..schemas import ErrorBody
from ..schemas.export import definitions

_GROUP = re.compile(r"\(\?P<(\w+)>[^)]*\)")
_REF = "#/components/schemas/{model}"
_ERRORS = {400: "the request is malformed or refused, with the reason", 403: "not authenticated or not authorized",
           404: "no such item", 409: "the item's state does not allow it", 413: "the body is too large",
           416: "the range is outside the file", 503: "nndeploy's runtime is not available"}


@dataclass(frozen=True)
class Operation:
    """One method of one route, as ``openapi.json`` describes it."""

    summary: str
    result: Any = None  # the type of the envelope's ``result`` (None: null)
    body: Any = None  # the type of the JSON body, or of the multipart form with ``multipart``
    query: type[BaseModel] | None = None  # its fields are the query parameters
    status: int = 200
    errors: tuple[int, ...] = ()  # beyond 400 and 403, which every operation may answer
    media: dict[str, Any] | None = None  # a response that is not the JSON envelope (a file, this spec): content
    multipart: bool = False
    # OpenAPI links: the operations (by operationId) whose path parameter this answer's result field names
    links: tuple[tuple[str, str, str], ...] = ()  # (operationId, parameter, field of ``result``)


_cache: dict[str, dict[str, Any]] = {}


def openapi(routes: list[tuple[str, type]], base_url: str) -> dict[str, Any]:
    if base_url not in _cache:
        _cache[base_url] = _build(routes, base_url)
    return _cache[base_url]


def _build(routes: list[tuple[str, type]], base_url: str) -> dict[str, Any]:
    documented = [(pattern, handler) for pattern, handler in routes if getattr(handler, "spec", None)]
    types: dict[str, Any] = {"ErrorBody": ErrorBody}
    for pattern, handler in documented:
        for method, op in handler.spec.items():
            types[_key(method, pattern, "result")] = op.result
            if op.body is not None:
                types[_key(method, pattern, "body")] = op.body
    schemas, components = definitions(types, _REF)
    paths = {"/" + _GROUP.sub(r"{\1}", pattern): {
        method: _operation(method, pattern, op, schemas, issubclass(handler, WebSocketHandler))
        for method, op in handler.spec.items()} for pattern, handler in documented}
    return {
        "openapi": "3.1.0",
        "info": {"title": "nndeploy-jupyter", "version": __version__,
                 "description": "nndeploy's workflow API inside Jupyter. Answers are nndeploy's envelope "
                                "{flag, message, result}; errors {flag: 'error', message}."},
        "servers": [{"url": base_url.rstrip("/") + "/nndeploy/api", "description": "this Jupyter server"}],
        "components": {"schemas": components,
                       "securitySchemes": {"token": {"type": "apiKey", "in": "header", "name": "Authorization",
                                                     "description": "'token <Jupyter token>'"}}},
        "security": [{"token": []}],
        "paths": paths,
    }


def _key(method: str, pattern: str, part: str) -> str:
    return f"{method} {pattern} {part}"


def _operation(method: str, pattern: str, op: Operation, schemas: dict[str, Any], websocket: bool) -> dict[str, Any]:
    parameters = [{"name": name, "in": "path", "required": True, "schema": {"type": "string", "pattern": "^[^/]+$"}}
                  for name in _GROUP.findall(pattern)]
    parameters += _query_parameters(op.query)
    spec: dict[str, Any] = {"operationId": _operation_id(method, pattern), "summary": op.summary}
    if parameters:
        spec["parameters"] = parameters
    if websocket:  # OpenAPI has no WebSocket operation: such a route is its upgrading GET
        spec["responses"] = {"101": {"description": "WebSocket of events: EventEnvelope messages"},
                             "400": {"description": "not a WebSocket upgrade"},
                             "403": {"description": _ERRORS[403]}}
        return spec
    if op.body is not None:
        media = "multipart/form-data" if op.multipart else "application/json"
        spec["requestBody"] = {"required": True, "content": {media: {"schema": schemas[_key(method, pattern, "body")]}}}
    success = op.media or {"application/json": {"schema": _envelope(schemas[_key(method, pattern, "result")])}}
    links = {target: {"operationId": target, "parameters": {parameter: f"$response.body#/result/{field}"}}
             for target, parameter, field in op.links}
    spec["responses"] = {str(op.status): {"description": op.summary, "content": success,
                                          **({"links": links} if links else {})},
                         **{str(code): {"description": _ERRORS[code], "content": {"application/json": {
                             "schema": schemas["ErrorBody"]}}}
                            for code in sorted({400, 403, *op.errors})}}
    return spec


def _envelope(result: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "required": ["flag", "message", "result"],
            "properties": {"flag": {"const": "success"}, "message": {"type": "string"}, "result": result}}


def _query_parameters(model: type[BaseModel] | None) -> list[dict[str, Any]]:
    if model is None:
        return []
    schema = model.model_json_schema()
    required = set(schema.get("required", ()))
    return [{"name": name, "in": "query", "required": name in required,
             "schema": {k: v for k, v in field.items() if k != "title"}}
            for name, field in schema["properties"].items()]


def _operation_id(method: str, pattern: str) -> str:
    words = re.sub(r"[^0-9a-zA-Z]+", "_", _GROUP.sub(r"by_\1", pattern)).strip("_")
    return f"{method}_{words}"
