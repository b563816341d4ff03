"""openapi.json describes exactly the routes the server registers, each with the methods it implements."""

from __future__ import annotations

import re

from nndeploy_jupyter.handlers import ROUTES


async def test_spec_matches_registered_routes(api, jp_serverapp):
    code, spec = await api("GET", "openapi.json")
    assert code == 200 and spec["openapi"].startswith("3.")

    registered = {}
    for rule in jp_serverapp.web_app.default_router.rules:
        for sub in getattr(rule.target, "rules", []):
            pattern = sub.matcher.regex.pattern
            if "/nndeploy/api/" in pattern and "(?P<path>" not in pattern:
                path = "/nndeploy/api/" + pattern.split("/nndeploy/api/", 1)[1].rstrip("$")
                registered[re.sub(r"\(\?P<(\w+)>[^)]*\)", r"{\1}", path)] = sub.target
    assert registered, "no nndeploy routes registered"
    assert set(spec["paths"]) == set(registered)
    for path, handler in registered.items():
        implemented = {m for m in ("get", "post", "put", "delete") if m in handler.__dict__ or
                       any(m in base.__dict__ for base in handler.__mro__ if base.__module__.startswith("nndeploy"))}
        assert set(spec["paths"][path]) == implemented, path


def test_every_handler_documents_its_methods():
    for pattern, handler in ROUTES:
        if "(?P<path>" in pattern:
            continue
        assert handler.spec and all(summary for summary in handler.spec.values()), pattern
