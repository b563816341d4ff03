"""What every handler shares: authentication, nndeploy's envelope, one error translator, body parsing.

Handlers stay thin: parse the request into a pydantic model, await one service call, answer with
:meth:`ApiHandler.ok`. Any :class:`~nndeploy_jupyter.errors.ApiError` a service raises becomes a real 4xx/5xx
with ``{"flag": "error", "message": reason}``; so does a pydantic ``ValidationError`` (400, naming the field).
WebSockets derive from :class:`ApiSocket`.

Nagle's algorithm: an HTTP response needs nothing, Tornado sets ``TCP_NODELAY`` while it sends the end of each
response. A WebSocket keeps its stream, and events come as a few small frames in a row (``status``, ``memory``,
``task_run_info``): with Nagle on, each frame after the first waits for the client's delayed ACK, 40 ms on Linux.
:class:`ApiSocket` turns it off once the socket is open, and writes the frames one loop turn produces together
at the end of the turn, in one write: a burst of them leaves in one segment (one system call, one wake-up of the
client) rather than one each.
"""

from __future__ import annotations

import contextlib
import json
import struct
from typing import Any, TypeVar
from urllib.parse import quote

import tornado.web
from jupyter_server.base.handlers import APIHandler, JupyterHandler
from jupyter_server.base.websocket import WebSocketMixin
from jupyter_server.extension.handler import ExtensionHandlerMixin
from pydantic import BaseModel, ValidationError
from tornado.httputil import HTTPFile
from tornado.ioloop import IOLoop
from tornado.iostream import StreamClosedError
from tornado.websocket import WebSocketClosedError, WebSocketHandler

from ..errors import ApiError, BadRequest, TooLarge
from ..services.graphs import load_json
from .openapi import Operation

M = TypeVar("M", bound=BaseModel)
AUTH_RESOURCE = "nndeploy"


class ApiHandler(ExtensionHandlerMixin, APIHandler):
    """Base for every ``nndeploy/api/...`` REST handler.

    ``spec`` maps an HTTP method to its :class:`~.openapi.Operation` (summary, query, body, result);
    ``openapi.json`` is built from it, and a test checks that each registered route documents every method it
    implements.
    """

    spec: dict[str, Operation] = {}
    auth_resource = AUTH_RESOURCE

    @property
    def services(self) -> Any:
        return self.settings["nndeploy"]

    async def prepare(self) -> None:  # type: ignore[override]
        await super().prepare()
        if self.request.method == "GET" and not self.token_authenticated:
            # Sets the _xsrf cookie for a client that has none: a script talking to a server with token
            # authentication switched off needs it for its POSTs, and has no Jupyter page to get it from.
            self.xsrf_token  # noqa: B018
        await self.services.start()  # no-op once started; the first request may come before the start hook

    def ok(self, result: Any = None, message: str = "success", status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        body: dict[str, Any] = {"flag": "success", "message": message, "result": _plain(result)}
        self.finish(json.dumps(body))

    def json_body(self, limit: int | None = None) -> Any:
        """The request body as JSON, refused with 413 past ``limit`` bytes and 400 when malformed."""
        limit = limit if limit is not None else self.services.config.max_json_bytes
        if len(self.request.body) > limit:
            raise TooLarge(f"request body is {len(self.request.body)} bytes; the limit is {limit}")
        if not self.request.body:
            raise BadRequest("request body is empty; a JSON object was expected")
        return load_json(self.request.body, "request body")

    def parse(self, model: type[M], data: Any = None) -> M:
        """Validate ``data`` (default: the JSON body) against ``model``; 400 naming the field on failure."""
        return model.model_validate(self.json_body() if data is None else data)

    def parse_query(self, model: type[M]) -> M:
        """The query parameters, validated against ``model`` (the operation's ``query``); 400 naming the field."""
        return model.model_validate({name: self.get_query_argument(name) for name in model.model_fields
                                     if name in self.request.query_arguments})

    def uploaded_file(self, limit: int) -> HTTPFile:
        """The multipart field ``file`` of a small upload (Tornado has parsed the body), at most ``limit`` bytes.
        Large files go through the streaming ``files/upload`` instead."""
        upload = self.request.files.get("file")
        if not upload:
            raise BadRequest("multipart field 'file' is required")
        if len(upload[0].body) > limit:
            raise TooLarge(f"{upload[0].filename!r} is {len(upload[0].body)} bytes; the limit is {limit}")
        return upload[0]

    def query(self, name: str, required: bool = True, default: str | None = None) -> str | None:
        value = self.get_query_argument(name, None)
        if value is None and required:
            raise BadRequest(f"query parameter {name!r} is required")
        return value if value is not None else default

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, ApiError):
            reason = exc.message
        elif isinstance(exc, ValidationError):
            reason = validation_reason(exc)
        elif isinstance(exc, tornado.web.HTTPError):
            reason = exc.log_message or self._reason
        else:
            reason = self._reason
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"flag": "error", "message": reason}))

    def log_exception(self, typ, value, tb) -> None:  # type: ignore[no-untyped-def]
        if isinstance(value, (ApiError, ValidationError)):
            return  # a client's mistake, answered with a reason: not a server error to log
        super().log_exception(typ, value, tb)

    def _handle_request_exception(self, e: BaseException) -> None:
        if isinstance(e, ApiError):
            self.send_error(e.status, exc_info=(type(e), e, e.__traceback__))
        elif isinstance(e, ValidationError):
            self.send_error(400, exc_info=(type(e), e, e.__traceback__))
        else:
            super()._handle_request_exception(e)  # type: ignore[arg-type]


class ApiSocket(WebSocketMixin, WebSocketHandler, JupyterHandler):  # Jupyter's own WebSocket MRO
    """Base for every ``nndeploy/api/...`` WebSocket: Nagle off, JSON errors, the services."""

    auth_resource = AUTH_RESOURCE

    @property
    def services(self) -> Any:
        return self.settings["nndeploy"]

    def set_default_headers(self) -> None:
        """JupyterHandler's CSP headers make no sense on a WebSocket upgrade."""

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """A refused request to the socket's URL (another method than GET...) gets JSON, never an HTML page
        (which, here, would fail to render: no user was resolved)."""
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"flag": "error", "message": self._reason}))

    _pending: list[str] | None = None  # frames of this loop turn, written when it ends

    def open(self, *args: Any, **kwargs: Any) -> None:
        super().open(*args, **kwargs)  # keep-alive pings
        self.set_nodelay(True)  # see the module's docstring: small frames go out at once

    def get_compression_options(self) -> None:
        """No permessage-deflate (Tornado's default, said here because :meth:`send_text` frames messages itself):
        events are small JSON objects."""
        return None

    def send_text(self, text: str) -> None:
        """Send one text message. Those sent in the same loop turn leave together when the turn ends, in order.
        Raises WebSocketClosedError once the socket is closed, as ``write_message`` does."""
        if self.ws_connection is None or self.ws_connection.is_closing():
            raise WebSocketClosedError()
        if self._pending is None:
            self._pending = []
            IOLoop.current().add_callback(self._flush)
        self._pending.append(text)

    def _flush(self) -> None:
        texts, self._pending = self._pending or [], None
        connection = self.ws_connection
        if connection is None or connection.is_closing():
            return  # closed meanwhile: on_close has run
        with contextlib.suppress(StreamClosedError):  # closed under us: Tornado calls on_close
            connection.stream.write(b"".join(_text_frame(text.encode()) for text in texts))


def _text_frame(data: bytes) -> bytes:
    """One unfragmented, unmasked text frame (RFC 6455 5.2), as a server sends it without compression: what
    Tornado's ``write_message`` writes, for several messages in one write."""
    if len(data) < 126:
        return struct.pack("!BB", 0x81, len(data)) + data
    if len(data) <= 0xFFFF:
        return struct.pack("!BBH", 0x81, 126, len(data)) + data
    return struct.pack("!BBQ", 0x81, 127, len(data)) + data


def validation_reason(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        field = ".".join(str(p) for p in err["loc"]) or "body"
        parts.append(f"{field}: {err['msg']}")
    return "invalid request: " + "; ".join(parts)


def attachment_header(filename: str) -> str:
    """``Content-Disposition`` per RFC 6266: an ASCII fallback first (nndeploy's frontend reads only that),
    then the exact UTF-8 name as ``filename*``."""
    fallback = "".join(c if 32 <= ord(c) < 127 and c not in '"\\;' else "_" for c in filename)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


def _plain(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value
