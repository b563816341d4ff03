"""The blocking HTTP layer under :class:`~nndeploy_jupyter.notebook.client.Client`: stdlib ``urllib`` only.

Requests carry ``Authorization: token …``; Jupyter skips its XSRF check for token-authenticated requests, so
POSTs need nothing else. Answers are nndeploy's envelope; an error status becomes :class:`ApiError` with
the server's reason.
"""

from __future__ import annotations

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


class Http:
    def __init__(self, server: ServerInfo, timeout: float = 30.0):
        self.server = server
        self.timeout = timeout

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

    def upload(self, path: str, filename: str, data: bytes) -> dict:
        """POST one file as multipart field ``file``; return the envelope."""
        boundary = f"nndeploy-{uuid.uuid4().hex}"
        safe_name = filename.replace('"', "_").replace("\r", "_").replace("\n", "_")
        body = (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{safe_name}"\r\n'
                f"Content-Type: application/octet-stream\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
        raw = self.fetch("POST", self.url(path), body, {"Content-Type": f"multipart/form-data; boundary={boundary}"})
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
        request = urllib.request.Request(url, data=data, method=method, headers={**self.headers, **(headers or {})})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return response.read()
        except urllib.error.HTTPError as e:
            raise ApiError(e.code, _reason(e), url) from None
        except urllib.error.URLError as e:
            raise ConnectionError(f"cannot reach the Jupyter server at {self.server.url}: {e.reason}") from None


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
