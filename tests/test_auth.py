"""Every route requires Jupyter's authentication, and POSTs follow Jupyter's XSRF rules."""

from __future__ import annotations

import re

import pytest
from conftest import API, NO_AUTH
from tornado.httpclient import HTTPClientError

from nndeploy_jupyter.handlers import ROUTES

SAMPLE = {"workflow_id": "some-id", "template_id": "some-id", "task_id": "some-id", "batch_id": "some-id",
          "path": "some/where"}


def concrete(pattern: str) -> str:
    return re.sub(r"\(\?P<(\w+)>[^)]*\)", lambda m: SAMPLE[m.group(1)], pattern)


def every_route_and_method():
    for pattern, handler in ROUTES:
        methods = handler.spec or {"get": "", "post": ""}
        for method in methods:
            yield concrete(pattern), method.upper()


@pytest.mark.parametrize("path, method", sorted(set(every_route_and_method())))
async def test_refused_without_a_token(jp_fetch, path, method):
    body = b"{}" if method == "POST" else None
    with pytest.raises(HTTPClientError) as error:
        await jp_fetch(*API, *path.split("/"), method=method, body=body, headers=NO_AUTH)
    assert error.value.code == 403


async def test_cookie_authenticated_post_needs_the_xsrf_token(jp_fetch):
    response = await jp_fetch(*API, "workflows")  # a token-authenticated GET sets the login cookie
    cookie = next(c.split(";")[0] for c in response.headers.get_list("Set-Cookie") if c.startswith("username-"))
    body = b'{"businessContent": {"name_": "xsrf", "node_repository_": []}}'
    with pytest.raises(HTTPClientError) as error:
        await jp_fetch(*API, "workflow", "save", method="POST", body=body,
                       headers={"Authorization": "", "Cookie": cookie})
    assert error.value.code == 403
    response = await jp_fetch(*API, "workflow", "save", method="POST", body=body,
                              headers={"Authorization": "", "Cookie": f"{cookie}; _xsrf=abc", "X-XSRFToken": "abc"})
    assert response.code == 200


async def test_unknown_routes_are_a_json_404(api):
    code, body = await api("GET", "does/not/exist")
    assert code == 404 and body == {"flag": "error", "message": "no such route: does/not/exist"}
