"""openapi.json describes exactly the routes the server registers, each with the methods it implements, with
request and response schemas, and a server entry that reaches them under the server's base_url."""

from __future__ import annotations

import json
import re

from conftest import API
from tornado.httpclient import AsyncHTTPClient

from nndeploy_jupyter.handlers import ROUTES

_GROUP = re.compile(r"\(\?P<(\w+)>[^)]*\)")


async def test_spec_matches_registered_routes(api, jp_serverapp):
    code, spec = await api("GET", "openapi.json")
    assert code == 200 and spec["openapi"].startswith("3.")

    registered = {}
    for rule in jp_serverapp.web_app.default_router.rules:
        for sub in getattr(rule.target, "rules", []):
            pattern = sub.matcher.regex.pattern
            if "/nndeploy/api/" in pattern and "(?P<path>" not in pattern:
                path = "/" + pattern.split("/nndeploy/api/", 1)[1].rstrip("$")
                registered[_GROUP.sub(r"{\1}", path)] = sub.target
    assert registered, "no nndeploy routes registered"
    assert set(spec["paths"]) == set(registered)
    for path, handler in registered.items():
        implemented = {m for m in ("head", "get", "post", "put", "delete") if m in handler.__dict__ or
                       any(m in base.__dict__ for base in handler.__mro__ if base.__module__.startswith("nndeploy"))}
        assert set(spec["paths"][path]) == implemented, path


async def test_every_operation_has_its_request_and_response_schemas(api):
    _, spec = await api("GET", "openapi.json")
    schemas = spec["components"]["schemas"]
    for path, methods in spec["paths"].items():
        for method, op in methods.items():
            success = [code for code in op["responses"] if code.startswith(("1", "2"))]
            assert success, (method, path)
            if path == "/ws/progress":
                continue
            content = op["responses"][success[0]]["content"]
            assert content and all("schema" in media for media in content.values()), (method, path)
            assert "ErrorBody" in json.dumps(op["responses"]["400"]), (method, path)
            for ref in re.findall(r'"#/components/schemas/([^"]+)"', json.dumps(op)):
                assert ref in schemas, (method, path, ref)
    operation_ids = [op["operationId"] for methods in spec["paths"].values() for op in methods.values()]
    assert len(operation_ids) == len(set(operation_ids))
    links = [link for methods in spec["paths"].values() for op in methods.values()
             for response in op["responses"].values() for link in response.get("links", {}).values()]
    assert links and all(link["operationId"] in operation_ids for link in links)
    queue = spec["paths"]["/queue"]["post"]
    assert "QueueRequest" in json.dumps(queue["requestBody"])
    assert "TaskCreated" in json.dumps(queue["responses"]["202"])
    assert "TaskRecord" in json.dumps(spec["paths"]["/queue/{task_id}"]["get"]["responses"]["200"])
    history = spec["paths"]["/queue/history"]["get"]["parameters"]
    assert history == [{"name": "max_items", "in": "query", "required": False,
                        "schema": {"default": 100, "maximum": 1000, "minimum": 1, "type": "integer"}}]
    assert schemas["TaskState"]["enum"] == ["PENDING", "DISPATCHED", "RUNNING", "SUCCEEDED", "FAILED", "CANCELLED",
                                            "INTERRUPTED"]


async def test_the_spec_server_reaches_every_route_under_the_base_url(api, jp_base_url, jp_http_port, jp_auth_header):
    _, spec = await api("GET", "openapi.json")
    [server] = spec["servers"]
    assert server["url"] == jp_base_url.rstrip("/") + "/nndeploy/api"
    client = AsyncHTTPClient()
    origin = f"http://127.0.0.1:{jp_http_port}"
    for path, methods in spec["paths"].items():
        if "get" not in methods or path == "/ws/progress":
            continue
        url = origin + server["url"] + re.sub(r"{\w+}", "x", path)
        response = await client.fetch(url, headers=jp_auth_header, raise_error=False)
        body = response.body.decode(errors="replace")
        assert "no such route" not in body, (path, response.code, body[:200])  # a handler answered, not the 404
        assert response.code != 404 or "{" in path, (path, response.code)


def test_every_handler_documents_its_methods():
    for pattern, handler in ROUTES:
        if "(?P<path>" in pattern:
            continue
        assert handler.spec and all(op.summary for op in handler.spec.values()), pattern


def test_api_prefix_is_the_one_the_tests_use():
    assert API == ("nndeploy", "api")
