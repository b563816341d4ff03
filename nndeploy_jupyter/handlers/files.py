"""Resources: ``files``, ``files/upload``, ``files/delete``, ``files/info``, ``preview``, ``download``.

Uploads are streamed (``@stream_request_body``): the multipart body is parsed as it arrives and only the
``file`` field is written, to a temporary file, in blocks. Since ``data_received`` runs before ``post``,
authentication, authorization and the size announced by ``Content-Length`` are checked in ``prepare``: a
refused upload never writes a byte. Files go out in blocks too, with Range, ETag and Last-Modified.
"""

from __future__ import annotations

import asyncio
import email.message
import email.utils
import json
from contextlib import aclosing
from typing import Any

from jupyter_server.auth.decorator import authorized
from jupyter_server.utils import ensure_async
from tornado import httputil, iostream, web

from ..errors import ApiError, BadRequest, TooLarge
from ..schemas import FileInfo, FileNode, FilePathQuery, MultipartFile, PreviewQuery, UploadQuery
from ..services.files import FileView, Upload
from .base import ApiHandler, attachment_header
from .openapi import Operation

# A file's bytes, as preview and download send them (with Range: 206; with a matching ETag: 304).
_FILE = {"*/*": {"schema": {"type": "string", "format": "binary"}}}

MULTIPART_OVERHEAD = 64 << 10  # room for part headers and boundaries beyond the file's own bytes
MAX_PART_HEADERS = 16 << 10


class MultipartParser:
    """An incremental ``multipart/form-data`` parser: :meth:`feed` takes any slice of the body and returns
    what it completed, as ``("part", (field name, filename))``, ``("data", bytes)`` and ``("end", None)``
    items. It keeps at most one delimiter's length of body data between calls."""

    def __init__(self, boundary: bytes):
        self._delimiter = b"\r\n--" + boundary
        self._buffer = bytearray(b"\r\n")  # so the first boundary looks like every later one
        self._state = "preamble"

    @property
    def complete(self) -> bool:
        return self._state == "done"

    def feed(self, data: bytes) -> list[tuple[str, Any]]:
        self._buffer += data
        items: list[tuple[str, Any]] = []
        while self._step(items):
            pass
        return items

    def _step(self, items: list[tuple[str, Any]]) -> bool:
        """Advance through one state if the buffer allows; False when more data is needed."""
        buffer = self._buffer
        if self._state in ("preamble", "body"):
            at = buffer.find(self._delimiter)
            if at < 0:
                keep = len(self._delimiter) - 1
                if self._state == "body" and len(buffer) > keep:
                    items.append(("data", bytes(buffer[:-keep])))
                del buffer[:-keep]
                return False
            if self._state == "body":
                if at:
                    items.append(("data", bytes(buffer[:at])))
                items.append(("end", None))
            del buffer[: at + len(self._delimiter)]
            self._state = "delimiter"
            return True
        if self._state == "delimiter":
            if len(buffer) < 2:
                return False
            ending = bytes(buffer[:2])
            del buffer[:2]
            if ending == b"--":
                self._state = "done"
                return False
            if ending != b"\r\n":
                raise BadRequest("malformed multipart body: bad boundary line")
            self._state = "headers"
            return True
        if self._state == "headers":
            at = buffer.find(b"\r\n\r\n")
            if at < 0:
                if len(buffer) > MAX_PART_HEADERS:
                    raise BadRequest("malformed multipart body: part headers too long")
                return False
            items.append(("part", _disposition(bytes(buffer[:at]))))
            del buffer[: at + 4]
            self._state = "body"
            return True
        buffer.clear()  # "done": the epilogue is ignored
        return False


def _disposition(raw: bytes) -> tuple[str | None, str | None]:
    """The field name and filename of a part. Browsers send the filename as raw UTF-8: the headers are parsed
    as Latin-1 (which Tornado's header grammar accepts, byte for byte) and the value decoded as UTF-8 after."""
    try:
        headers = httputil.HTTPHeaders.parse(raw.decode("latin-1"))
    except httputil.HTTPInputError as e:
        raise BadRequest(f"malformed multipart part headers: {e}") from None
    message = email.message.Message()
    value = headers.get("Content-Disposition", "").encode("latin-1").decode("utf-8", "replace")
    message["Content-Disposition"] = value
    name = message.get_param("name", header="content-disposition")
    if isinstance(name, tuple):
        name = email.utils.collapse_rfc2231_value(name)
    return name, message.get_filename()


@web.stream_request_body
class UploadHandler(ApiHandler):
    spec = {"post": Operation("Upload a file into a resources folder (?file_path=<folder>, multipart field "
                              "'file', optional &overwrite=true); streamed, limited to max_upload_bytes",
                              query=UploadQuery, body=MultipartFile, multipart=True, result=FileInfo, status=201,
                              errors=(409, 413))}

    _parser: MultipartParser | None = None
    _upload: Upload | None = None
    _failure: ApiError | None = None
    _in_file_part = False

    async def prepare(self) -> None:  # type: ignore[override]
        await super().prepare()  # resolves the user and checks XSRF for cookie-authenticated requests
        await self._refuse_unless_allowed()
        limit = self.services.config.max_upload_bytes
        self.request.connection.set_max_body_size(limit + MULTIPART_OVERHEAD)
        try:
            announced = int(self.request.headers.get("Content-Length") or 0)
        except ValueError:
            raise BadRequest("Content-Length is not a number") from None
        if announced > limit + MULTIPART_OVERHEAD:
            raise TooLarge(f"upload of {announced} bytes exceeds the limit of {limit} bytes")
        self._folder = self.query("file_path")
        await self.services.files.check_upload_folder(self._folder)
        self._parser = MultipartParser(self._boundary())

    async def _refuse_unless_allowed(self) -> None:
        if self.current_user is None:
            raise web.HTTPError(403, "authentication required")
        allowed = await ensure_async(
            self.authorizer.is_authorized(self, self.current_user, "write", self.auth_resource))
        if not allowed:
            raise web.HTTPError(403, "not authorized to write resources")

    def _boundary(self) -> bytes:
        header = email.message.Message()
        header["Content-Type"] = self.request.headers.get("Content-Type", "")
        boundary = header.get_param("boundary")
        if header.get_content_type() != "multipart/form-data" or not isinstance(boundary, str) or not boundary:
            raise BadRequest("the upload must be multipart/form-data with a 'file' field")
        return boundary.encode()

    async def data_received(self, chunk: bytes) -> None:
        if self._parser is None or self._failure is not None or self._finished:
            return  # refused in prepare, or already failed: the rest of the body is dropped unread
        try:
            for kind, value in self._parser.feed(chunk):
                await self._on_item(kind, value)
        except ApiError as e:
            self._failure = e
            await self._abort()

    async def _on_item(self, kind: str, value: Any) -> None:
        if kind == "part":
            name, filename = value
            self._in_file_part = name == "file" and self._upload is None
            if self._in_file_part:
                if not filename:
                    raise BadRequest("the 'file' field has no filename")
                self._upload = await self.services.files.start_upload(
                    self._folder, filename, overwrite=self.get_query_argument("overwrite", "") == "true")
        elif kind == "data" and self._in_file_part:
            assert self._upload is not None
            await self._upload.write(value)
        elif kind == "end":
            self._in_file_part = False

    async def _abort(self) -> None:
        if self._upload is not None:
            await self._upload.abort()

    def on_connection_close(self) -> None:
        super().on_connection_close()  # fails the pending body, so the request ends
        self._failure = self._failure or BadRequest("the client went away")
        self._closing = asyncio.ensure_future(self._abort())

    @web.authenticated
    @authorized
    async def post(self) -> None:
        if self._failure is not None:
            raise self._failure
        if self._upload is None:
            raise BadRequest("multipart field 'file' is required")
        if not (self._parser and self._parser.complete):
            await self._abort()
            raise BadRequest("the multipart body ended early")
        result = await self._upload.commit()
        self.ok(result, f"file {result['filename']} has been uploaded successfully", status=201)


class FileTreeHandler(ApiHandler):
    spec = {"get": Operation("The resources tree (images, videos, audios, models, others) with stable ids and "
                             "file_info", result=list[FileNode])}

    @web.authenticated
    @authorized
    async def get(self) -> None:
        self.ok(await self.services.files.tree(), "List all resources")


class FileInfoHandler(ApiHandler):
    spec = {"get": Operation("Facts about one file or folder (?file_path=...)", query=FilePathQuery,
                             result=FileInfo, errors=(404,))}

    @web.authenticated
    @authorized
    async def get(self) -> None:
        self.ok(await self.services.files.info(self.query("file_path")), "ok")


class FileDeleteHandler(ApiHandler):
    spec = {"post": Operation("Delete a file or folder inside resources (?file_path=...); top folders are "
                              "refused", query=FilePathQuery, errors=(404,))}

    @web.authenticated
    @authorized
    async def post(self) -> None:
        self.ok(None, await self.services.files.delete(self.query("file_path")))


class FileStreamHandler(ApiHandler):
    """Sends a file in blocks, honouring ``Range``, ``If-Range``, ``If-None-Match`` and ``If-Modified-Since``.
    HEAD answers the same status and headers as GET (``Content-Length``, ``Content-Type``, ``ETag``...) and no
    body; a missing file is a 404 all the same."""

    @web.authenticated
    @authorized
    async def head(self) -> None:
        await self.get()

    async def send_file(self, view: FileView, attachment: bool = False) -> None:
        self.set_header("Content-Type", view.mime)
        self.set_header("ETag", view.etag)
        self.set_header("Last-Modified", httputil.format_timestamp(view.mtime_ns / 1e9))
        self.set_header("Accept-Ranges", "bytes")
        self.set_header("Cache-Control", "private, no-cache")
        if attachment:
            self.set_header("Content-Disposition", attachment_header(view.path.name))
        if self._not_modified(view):
            self.set_status(304)
            self.finish(set_content_type=view.mime)
            return
        span = self._span(view)
        if span is None:
            self.set_status(416)
            self.set_header("Content-Range", f"bytes */{view.size}")
            self.finish(json.dumps({"flag": "error", "message": f"the range is outside the file's {view.size} bytes"}))
            return
        start, end = span
        self.set_header("Content-Length", str(end - start))
        if self.request.method == "HEAD":  # the headers a GET would send; the file is not read
            self.finish(set_content_type=view.mime)
            return
        async with aclosing(self.services.files.blocks(view, start, end)) as blocks:
            async for block in blocks:
                self.write(block)
                try:
                    await self.flush()
                except iostream.StreamClosedError:
                    return  # the client left (a video player seeking, a closed tab)
        self.finish(set_content_type=view.mime)

    def _not_modified(self, view: FileView) -> bool:
        tags = self.request.headers.get("If-None-Match")
        if tags is not None:
            return tags.strip() == "*" or view.etag in [t.strip().removeprefix("W/") for t in tags.split(",")]
        since = self.request.headers.get("If-Modified-Since")
        try:
            parsed = email.utils.parsedate_to_datetime(since) if since else None
        except (TypeError, ValueError):
            return False  # an unreadable date: answer in full
        return parsed is not None and int(view.mtime_ns // 1_000_000_000) <= parsed.timestamp()

    def _span(self, view: FileView) -> tuple[int, int] | None:
        """``[start, end)`` to send: the whole file unless one byte range was asked for; None if unsatisfiable."""
        header = self.request.headers.get("Range")
        if_range = self.request.headers.get("If-Range")
        if not header or (if_range and if_range != view.etag):
            return 0, view.size
        wanted = byte_range(header, view.size)
        if wanted is None:
            return 0, view.size
        if wanted == ():
            return None
        start, end = wanted
        self.set_status(206)
        self.set_header("Content-Range", f"bytes {start}-{end - 1}/{view.size}")
        return start, end


def byte_range(header: str, size: int) -> tuple[int, int] | tuple[()] | None:
    """Parse a single ``bytes=`` range: ``(start, end)`` half-open, ``()`` if unsatisfiable, ``None`` if the
    header is malformed or asks for several ranges (then the whole file is sent, as RFC 9110 allows)."""
    unit, _, spec = header.partition("=")
    if unit.strip().lower() != "bytes" or "," in spec:
        return None
    first, dash, last = spec.strip().partition("-")
    if not dash or not (first.isdigit() or last.isdigit()) or (first and not first.isdigit()) or (
            last and not last.isdigit()):
        return None
    if not first:  # suffix: the last N bytes
        length = int(last)
        return (max(size - length, 0), size) if length and size else ()
    start = int(first)
    if last and int(last) < start:
        return None  # "5-2" is not a range at all: RFC 9110 says ignore the header
    end = min(int(last) + 1, size) if last else size
    if start >= size or end <= start:
        return ()
    return start, end


def _head(of: str, query: type[FilePathQuery]) -> Operation:
    return Operation(f"The status and headers {of} would answer (Content-Length, Content-Type, ETag, "
                     "Last-Modified; Range and conditional headers apply), without the body", query=query,
                     errors=(404, 416), media=_FILE)


class PreviewHandler(FileStreamHandler):
    spec = {"head": _head("GET preview", PreviewQuery),
            "get": Operation("Show a file (?file_path=...&returnMimeType=image|video|audio|text|binary): the "
                             "file with its own MIME type (Range, ETag), or for text a JSON envelope with the "
                             "decoded text (capped)", query=PreviewQuery, errors=(404, 416),
                             media={**_FILE, "application/json": {"schema": {
                                 "type": "object", "required": ["flag", "message", "result"],
                                 "properties": {"flag": {"const": "success"}, "message": {"type": "string"},
                                                "result": {"type": "string"}}}}})}

    @web.authenticated
    @authorized
    async def get(self) -> None:
        path = self.query("file_path")
        if self.get_query_argument("returnMimeType", "binary") == "text":
            preview = await self.services.files.text(path)
            note = ", truncated" if preview.truncated else ""
            self.set_header("Content-Type", "application/json")
            self.finish(json.dumps({"flag": "success", "message": f"success (detected encoding={preview.encoding}"
                                    f"{note})", "result": preview.text}))
            return
        await self.send_file(await self.services.files.view(path))


class DownloadHandler(FileStreamHandler):
    spec = {"head": _head("GET download", FilePathQuery),
            "get": Operation("Download a file as an attachment (?file_path=...), with Range support",
                             query=FilePathQuery, errors=(404, 416), media=_FILE)}

    @web.authenticated
    @authorized
    async def get(self) -> None:
        await self.send_file(await self.services.files.view(self.query("file_path")), attachment=True)


ROUTES = [
    ("files", FileTreeHandler),
    ("files/upload", UploadHandler),
    ("files/delete", FileDeleteHandler),
    ("files/info", FileInfoHandler),
    ("preview", PreviewHandler),
    ("download", DownloadHandler),
]
