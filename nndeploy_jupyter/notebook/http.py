"""The blocking HTTP layer under :class:`~nndeploy_jupyter.notebook.client.Client`: stdlib ``urllib`` only.

Requests carry ``Authorization: token …``; Jupyter skips its XSRF check for token-authenticated requests, so
POSTs need nothing else. A server with token authentication switched off (``--IdentityProvider.token=''``)
checks XSRF on every POST instead: the client keeps the server's cookies, takes the ``_xsrf`` cookie from a GET
first (the extension's API sets it for a client without one, as Jupyter's pages do for browsers) and sends it
back as ``X-XSRFToken``. Answers are nndeploy's envelope; an error status becomes :class:`ApiError` with
the server's reason.
"""

from __future__ import annotations

import http.cookiejar
import json
import urllib.error
import urllib.parse
import urllib.request
import uuid
from typing import Any

from .discovery import ServerInfo


class ApiError(RuntimeError):
    """The server refused a request; ``status`` is the HTTP status, ``reason`` the server's message."""

    def __init__(self, status: int, reason: str, url: str):
        super().__init__(f"HTTP {status}: {reason}")
        self.status = status
        self.reason = reason
        self.url = url


XSRF_COOKIE = "_xsrf"
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")  # the methods Jupyter does not check XSRF for


class Http:
    def __init__(self, server: ServerInfo, timeout: float = 30.0):
        self.server = server
        self.timeout = timeout
        self.cookies = http.cookiejar.CookieJar()
        self._opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.cookies))

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"token {self.server.token}"} if self.server.token else {}

    def url(self, path: str, query: dict[str, Any] | None = None) -> str:
        url = self.server.api_url + path
        if query:
            url += "?" + urllib.parse.urlencode({k: v for k, v in query.items() if v is not None})
        return url

    def call(self, method: str, path: str, body: Any = None, query: dict[str, Any] | None = None) -> Any:
        """Send a request and return the envelope's ``result``."""
        return self.envelope(method, path, body, query).get("result")

    def envelope(self, method: str, path: str, body: Any = None, query: dict[str, Any] | None = None) -> dict:
        data = None if body is None else json.dumps(body).encode()
        if method == "POST" and data is None:
            data = b"{}"
        raw = self.fetch(method, self.url(path, query), data, {"Content-Type": "application/json"})
        return json.loads(raw) if raw else {}

    def upload(self, path: str, filename: str, data: bytes, query: dict[str, Any] | None = None) -> dict:
        """POST one file as multipart field ``file``; return the envelope."""
        boundary = f"nndeploy-{uuid.uuid4().hex}"
        safe_name = filename.replace('"', "_").replace("\r", "_").replace("\n", "_")
        body = (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{safe_name}"\r\n'
                f"Content-Type: application/octet-stream\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
        raw = self.fetch("POST", self.url(path, query), body,
                         {"Content-Type": f"multipart/form-data; boundary={boundary}"})
        return json.loads(raw)

    def download(self, path: str, query: dict[str, Any]) -> bytes:
        return self.fetch("GET", self.url(path, query))

    def fetch(
        self,
        method: str,
        url: str,
        data: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> bytes:
        headers = {**self.headers, **(headers or {})}
        if not self.server.token and method not in SAFE_METHODS:
            headers["X-XSRFToken"] = self._xsrf_token()
        request = urllib.request.Request(url, data=data, method=method, headers=headers)
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                return response.read()
        except urllib.error.HTTPError as e:
            raise ApiError(e.code, _reason(e), url) from None
        except urllib.error.URLError as e:
            raise ConnectionError(f"cannot reach the Jupyter server at {self.server.url}: {e.reason}") from None


    def _xsrf_token(self) -> str:
        """The server's ``_xsrf`` cookie, fetched with a GET the first time."""
        for attempt in (1, 2):
            token = next((c.value for c in self.cookies if c.name == XSRF_COOKIE and c.value), None)
            if token is not None:
                return token
            if attempt == 1:
                self.fetch("GET", self.url("resources"))
        return ""  # an older server that sets none: the POST is refused with Jupyter's own reason


def _reason(error: urllib.error.HTTPError) -> str:
    text = error.read().decode(errors="replace")
    try:
        body = json.loads(text)
    except json.JSONDecodeError:  # an HTML page: Jupyter's own 404, a proxy's error
        return (f"{error.reason} (not nndeploy's API: check the server URL with its base_url, and that "
                "`jupyter server extension list` shows nndeploy_jupyter enabled)")
    if isinstance(body, dict):
        return str(body.get("message") or body.get("reason") or body.get("detail") or text)
    return text
