"""Resources through the REST API: the tree, uploads, info, delete, preview and download."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import random
from pathlib import Path
from urllib.parse import parse_qsl, quote

import cv2
import numpy as np
import pytest
from conftest import API, NO_AUTH

from nndeploy_jupyter.handlers.files import MultipartParser
from nndeploy_jupyter.workspace import FILE_MODE

LIMIT = 64 << 10
BOUNDARY = "----nndeployTestBoundary7MA4YWxk"


@pytest.fixture
def extension_config() -> dict:
    return {"max_upload_bytes": LIMIT}


@pytest.fixture
def workspace(jp_root_dir: Path) -> Path:
    return jp_root_dir / "nndeploy"  # the default place: inside Jupyter's root, so the contents API sees it


@pytest.fixture
def resources(workspace: Path) -> Path:
    return workspace / "resources"


@pytest.fixture
def call(api):
    """``api`` with the query string written in the path, as nndeploy's clients write it."""

    async def request(method: str, target: str, body=None, **kwargs):
        path, _, query = target.partition("?")
        return await api(method, path, body, params=dict(parse_qsl(query, keep_blank_values=True)), **kwargs)

    return request


def multipart(filename: str, content: bytes, field: str = "file") -> tuple[bytes, dict]:
    head = (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{filename}\"\r\n"
            "Content-Type: application/octet-stream\r\n\r\n").encode()
    return head + content + f"\r\n--{BOUNDARY}--\r\n".encode(), {
        "Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}


async def upload(call, folder: str, filename: str, content: bytes, headers: dict | None = None, **query: str):
    body, content_type = multipart(filename, content)
    params = "&".join(f"{k}={quote(v)}" for k, v in {"file_path": folder, **query}.items())
    return await call("POST", f"files/upload?{params}", body, headers={**content_type, **(headers or {})})


def png(path: Path) -> bytes:
    image = np.zeros((48, 64, 3), np.uint8)
    cv2.circle(image, (32, 24), 16, (0, 200, 255), -1)
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), image)
    return path.read_bytes()


def mjpg_avi(path: Path, frames: int = 3) -> bytes:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (64, 48))
    for i in range(frames):
        writer.write(np.full((48, 64, 3), i * 40, np.uint8))
    writer.release()
    return path.read_bytes()


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob(".upload-*"))


async def test_tree_lists_resources_with_stable_ids(call, resources: Path):
    await call("GET", "files")  # the first request creates the layout
    png(resources / "images" / "cat.png")
    (resources / "models" / "detect").mkdir()
    (resources / "models" / "detect" / "tiny.onnx").write_bytes(b"\x08\x08")
    (resources / "models" / ".hidden").write_text("x")
    (resources / "others" / os.fsdecode(b"\xb2\xe2\xca\xd4.txt")).write_text("x")  # GBK bytes: once a 500

    code, body = await call("GET", "files")
    assert code == 200 and body["message"] == "List all resources"
    nodes = {n["path"]: n for n in body["result"]}
    assert {"resources/images", "resources/videos", "resources/audios", "resources/models",
            "resources/others"} <= set(nodes)
    assert not any(".hidden" in p or "/db" in p or "workflow" in p for p in nodes)
    model = nodes["resources/models/detect/tiny.onnx"]
    assert model["type"] == "leaf" and model["name"] == "tiny.onnx"
    assert model["parentId"] == nodes["resources/models/detect"]["id"]
    assert nodes["resources/models/detect"]["parentId"] == nodes["resources/models"]["id"]
    assert nodes["resources/models"]["parentId"] == ""
    assert model["file_info"] | {"uploaded_at": None} == {
        "filename": "tiny.onnx", "saved_path": "resources/models/detect/tiny.onnx", "size": 2,
        "uploaded_at": None, "extension": "onnx"}
    assert nodes["resources/models/detect"]["file_info"]["extension"] == ""

    (resources / "images" / "another.png").write_bytes(b"x")
    code, again = await call("GET", "files")
    ids = {n["path"]: n["id"] for n in again["result"]}
    assert all(ids[path] == node["id"] for path, node in nodes.items())  # same ids, new file or not
    assert len(set(ids.values())) == len(ids)


async def test_upload_streams_renames_and_never_overwrites_by_default(call, resources: Path):
    content = random.randbytes(40_000) + BOUNDARY.encode()[:20] + b"\r\n--" + random.randbytes(1000)
    code, body = await upload(call, "resources/images", "cat.png", content)
    assert code == 201 and body["flag"] == "success"
    assert body["result"]["saved_path"] == "resources/images/cat.png" and body["result"]["size"] == len(content)
    assert (resources / "images" / "cat.png").read_bytes() == content
    assert (resources / "images" / "cat.png").stat().st_mode & 0o777 == FILE_MODE  # the umask's, not 0600

    code, body = await upload(call, "images", "cat.png", b"second")
    assert code == 201 and body["result"]["filename"] == "cat (1).png"
    assert (resources / "images" / "cat.png").read_bytes() == content
    code, body = await upload(call, "images", "cat.png", b"third", overwrite="true")
    assert code == 201 and body["result"]["filename"] == "cat.png"
    assert (resources / "images" / "cat.png").read_bytes() == b"third"

    code, body = await upload(call, "others/new/sub", "..\\..\\notes.txt", b"hello")  # folder made, name cleaned
    assert code == 201 and body["result"]["saved_path"] == "resources/others/new/sub/notes.txt"
    code, body = await upload(call, str(resources / "others"), ".bashrc", b"x")  # absolute inside: accepted
    assert code == 201 and body["result"]["saved_path"] == "resources/others/bashrc"
    assert leftovers(resources) == []


async def test_upload_keeps_any_utf8_filename(call, resources: Path):
    # browsers send the name as raw UTF-8; characters past Latin-1 (CJK, emoji) once dropped the connection
    for name in ("图片 1.png", "emoji😀 #&?.txt", "café.txt"):
        code, body = await upload(call, "images", name, b"x")
        assert code == 201 and body["result"]["filename"] == name, body
        assert (resources / "images" / name).read_bytes() == b"x"
    code, body = await upload(call, "images", "nul\x00.txt", b"x")
    assert code == 400 and "multipart" in body["message"]
    assert leftovers(resources) == []


async def test_upload_refusals(call, resources: Path):
    await call("GET", "files")
    before = sorted(p.name for p in resources.rglob("*"))
    code, body = await upload(call, "images", "CON.txt", b"x")
    assert code == 400 and "invalid name" in body["message"]
    code, _ = await upload(call, "resources", "top.txt", b"x")
    assert code == 403
    code, _ = await upload(call, "db", "nndeploy.db", b"x", overwrite="true")
    assert code == 403
    code, body = await upload(call, "newtop", "a.txt", b"x")  # a top folder the resource tree would never show
    assert code == 400 and "is not inside one of resources/" in body["message"]
    code, body = await call("POST", "files/upload?file_path=images", b"plain", headers={"Content-Type": "text/plain"})
    assert code == 400 and "multipart" in body["message"]
    body, headers = multipart("a.txt", b"x", field="other")
    code, answer = await call("POST", "files/upload?file_path=images", body, headers=headers)
    assert code == 400 and "'file' is required" in answer["message"]
    truncated, headers = multipart("a.txt", b"x" * 100)
    code, answer = await call("POST", "files/upload?file_path=images", truncated[:-30], headers=headers)
    assert code == 400 and "ended early" in answer["message"]
    assert sorted(p.name for p in resources.rglob("*")) == before


async def test_upload_over_the_limit_is_413_and_leaves_nothing(call, resources: Path):
    await call("GET", "files")
    before = sorted(p.name for p in resources.rglob("*"))
    # announced too big by Content-Length: refused before the body is read
    code, body = await upload(call, "images", "big.bin", b"x" * (3 * LIMIT))
    assert code == 413 and "exceeds the limit" in body["message"]
    # within the announced slack, but the file itself is too big: refused as the bytes arrive
    code, body = await upload(call, "images", "big.bin", b"x" * (LIMIT + 10_000))
    assert code == 413 and "exceeds the limit" in body["message"]
    assert sorted(p.name for p in resources.rglob("*")) == before
    code, _ = await upload(call, "images", "fits.bin", b"x" * LIMIT)
    assert code == 201


async def test_unauthenticated_upload_writes_nothing(call, jp_fetch, resources: Path):
    await call("GET", "files")
    before = sorted(p.name for p in resources.rglob("*"))
    code, _ = await upload(call, "images", "anon.png", b"x" * 1000, headers=NO_AUTH)
    assert code == 403
    response = await jp_fetch(*API, "files")  # a token-authenticated GET sets the login cookie
    cookie = next(c.split(";")[0] for c in response.headers.get_list("Set-Cookie") if c.startswith("username-"))
    code, _ = await upload(call, "images", "no-xsrf.png", b"x", headers={**NO_AUTH, "Cookie": cookie})
    assert code == 403
    assert sorted(p.name for p in resources.rglob("*")) == before
    code, _ = await upload(call, "images", "xsrf.png", b"x",
                           headers={**NO_AUTH, "Cookie": f"{cookie}; _xsrf=abc", "X-XSRFToken": "abc"})
    assert code == 201


async def test_a_client_leaving_mid_upload_leaves_nothing(call, jp_http_port, jp_base_url, jp_auth_header,
                                                          resources: Path):
    await call("GET", "files")
    body, headers = multipart("half.bin", b"x" * 50_000)
    request = "".join(f"{k}: {v}\r\n" for k, v in {**headers, **jp_auth_header, "Host": "127.0.0.1",
                                                   "Content-Length": len(body)}.items())
    _, writer = await asyncio.open_connection("127.0.0.1", jp_http_port)
    writer.write(f"POST {jp_base_url}nndeploy/api/files/upload?file_path=images HTTP/1.1\r\n{request}\r\n".encode()
                 + body[:30_000])
    await writer.drain()
    assert await eventually(lambda: leftovers(resources) != [])  # the temporary file is being written
    writer.close()
    assert await eventually(lambda: leftovers(resources) == [])
    assert not (resources / "images" / "half.bin").exists()


async def test_a_content_length_that_is_not_a_number_is_a_400(call, jp_http_port, jp_base_url, jp_auth_header):
    body, headers = multipart("a.txt", b"x")
    request = "".join(f"{k}: {v}\r\n" for k, v in {**headers, **jp_auth_header, "Host": "127.0.0.1",
                                                   "Content-Length": "abc"}.items())
    reader, writer = await asyncio.open_connection("127.0.0.1", jp_http_port)
    writer.write(f"POST {jp_base_url}nndeploy/api/files/upload?file_path=images HTTP/1.1\r\n{request}\r\n".encode())
    await writer.drain()
    status = await asyncio.wait_for(reader.readline(), 10)
    writer.close()
    assert status.split()[1] == b"400", status  # once a 500 from int("abc")


async def eventually(condition, timeout: float = 10) -> bool:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            return False
        await asyncio.sleep(0.02)
    return True


def test_multipart_parser_handles_any_slicing():
    body, _ = multipart("a.bin", b"\r\n--" + bytes(range(256)) * 40 + b"\r\n-")
    fields = (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nhi").encode()
    body = fields + b"\r\n" + body
    for _ in range(20):
        parser, items, at = MultipartParser(BOUNDARY.encode()), [], 0
        while at < len(body):
            step = random.randint(1, 300)
            items += parser.feed(body[at:at + step])
            at += step
        parts = [v for k, v in items if k == "part"]
        data = b"".join(v for k, v in items if k == "data")
        assert parser.complete and parts == [("note", None), ("file", "a.bin")]
        assert data == b"hi" + b"\r\n--" + bytes(range(256)) * 40 + b"\r\n-"


async def test_info_and_delete(call, resources: Path):
    await call("GET", "files")
    (resources / "others" / "dir" / "deep").mkdir(parents=True)
    (resources / "others" / "dir" / "deep" / "f.txt").write_text("abc")
    (resources / "others" / "keep.txt").write_text("keep")
    (resources / "others" / "alias.txt").symlink_to(resources / "others" / "keep.txt")

    code, body = await call("GET", "files/info?file_path=resources/others/dir/deep/f.txt")
    assert code == 200 and body["result"]["size"] == 3 and body["result"]["extension"] == "txt"
    code, _ = await call("GET", "files/info?file_path=others/missing.txt")
    assert code == 404

    for protected in ("resources", "resources/images", "models", "db", "db/nndeploy.db", str(resources / "videos")):
        code, _ = await call("POST", f"files/delete?file_path={quote(protected)}")
        assert code == 403, protected
    assert (resources / "db" / "nndeploy.db").exists() and (resources / "videos").is_dir()

    code, body = await call("POST", "files/delete?file_path=others/alias.txt")  # the link goes, not its target
    assert code == 200 and not (resources / "others" / "alias.txt").exists()
    assert (resources / "others" / "keep.txt").read_text() == "keep"
    code, body = await call("POST", "files/delete?file_path=resources/others/dir")
    assert code == 200 and body["message"] == "directory resources/others/dir deleted"
    assert not (resources / "others" / "dir").exists()
    code, _ = await call("POST", "files/delete?file_path=others/dir")
    assert code == 404


async def test_preview_sends_each_kind_with_its_type(call, resources: Path):
    await call("GET", "files")
    image = png(resources / "images" / "dot.png")
    video = mjpg_avi(resources / "videos" / "clip.avi")
    for name in ("a.mp4", "a.webm"):
        (resources / "videos" / name).write_bytes(b"\x00" * 10)
    (resources / "audios" / "a.wav").write_bytes(b"RIFF")
    (resources / "models" / "m.onnx").write_bytes(b"\x08\x08")

    async def preview(path: str, kind: str = "binary"):
        return await call("GET", f"preview?file_path={quote(path)}&returnMimeType={kind}&time=1", raw=True)

    response = await preview("resources/images/dot.png", "image")
    assert (response.code, response.headers["Content-Type"], response.body) == (200, "image/png", image)
    response = await preview("videos/clip.avi", "video")
    assert response.headers["Content-Type"] == "video/x-msvideo" and response.body == video
    assert response.headers["Accept-Ranges"] == "bytes"
    for path, mime in (("videos/a.mp4", "video/mp4"), ("videos/a.webm", "video/webm"), ("audios/a.wav", "audio/wav"),
                       ("models/m.onnx", "application/octet-stream")):
        assert (await preview(path)).headers["Content-Type"] == mime, path
    code, body = await call("GET", "preview?file_path=images")
    assert code == 400 and "folder" in body["message"]


async def test_text_preview_guesses_the_encoding_and_caps_the_size(call, resources: Path):
    await call("GET", "files")
    (resources / "others" / "utf8.txt").write_text("héllo ✓", encoding="utf-8")
    (resources / "others" / "gb.txt").write_bytes("你好，nndeploy".encode("gb18030"))
    (resources / "others" / "big.txt").write_text("é" * (1 << 20))  # 2 MiB of UTF-8
    (resources / "others" / "blob.bin").write_bytes(b"\x00\x01\x02abc")

    code, body = await call("GET", "preview?file_path=others/utf8.txt&returnMimeType=text")
    assert (code, body["result"], body["message"]) == (200, "héllo ✓", "success (detected encoding=utf-8)")
    code, body = await call("GET", "preview?file_path=others/gb.txt&returnMimeType=text")
    assert body["result"] == "你好，nndeploy" and "gb18030" in body["message"]
    code, body = await call("GET", "preview?file_path=others/big.txt&returnMimeType=text")
    assert code == 200 and "truncated" in body["message"] and body["result"] == "é" * (1 << 19)
    code, body = await call("GET", "preview?file_path=others/blob.bin&returnMimeType=text")
    assert code == 400 and "binary" in body["message"]


async def test_ranges_and_conditional_requests(call, resources: Path):
    await call("GET", "files")
    data = bytes(range(256)) * 4000  # about 1 MiB: several blocks
    (resources / "videos" / "long.webm").write_bytes(data)
    url = "preview?file_path=videos/long.webm&returnMimeType=video"

    async def get(headers: dict, path: str = url):
        return await call("GET", path, headers=headers, raw=True)

    response = await get({"Range": "bytes=100-199"})
    assert response.code == 206 and response.body == data[100:200]
    assert response.headers["Content-Range"] == f"bytes 100-199/{len(data)}"
    response = await get({"Range": "bytes=-10"})
    assert response.code == 206 and response.body == data[-10:]
    response = await get({"Range": f"bytes={len(data) - 5}-"})
    assert response.body == data[-5:]
    response = await get({"Range": f"bytes={len(data)}-"})
    assert response.code == 416 and response.headers["Content-Range"] == f"bytes */{len(data)}"
    response = await get({"Range": "bytes=5-2"})  # not a valid range: ignored, the whole file
    assert response.code == 200 and response.body == data
    response = await get({"Range": "bytes=0-1,5-6"})  # several ranges: the whole file
    assert response.code == 200 and hashlib.sha1(response.body).digest() == hashlib.sha1(data).digest()

    etag, modified = response.headers["ETag"], response.headers["Last-Modified"]
    assert (await get({"If-None-Match": etag})).code == 304
    assert (await get({"If-Modified-Since": modified})).code == 304
    assert (await get({"If-None-Match": '"other"'})).code == 200
    response = await get({"Range": "bytes=0-9", "If-Range": '"stale"'})
    assert response.code == 200 and len(response.body) == len(data)


async def test_download_is_an_attachment_with_rfc6266_names(call, resources: Path):
    await call("GET", "files")
    (resources / "others" / "résumé; v2.txt").write_text("text")
    response = await call("GET", f"download?file_path={quote('others/résumé; v2.txt')}", raw=True)
    assert response.code == 200 and response.body == b"text"
    assert response.headers["Content-Type"] == "text/plain"
    assert response.headers["Content-Disposition"] == (
        "attachment; filename=\"r_sum__ v2.txt\"; filename*=UTF-8''r%C3%A9sum%C3%A9%3B%20v2.txt")
    response = await call("GET", "download?file_path=others/r%C3%A9sum%C3%A9%3B%20v2.txt",
                         headers={"Range": "bytes=1-2"}, raw=True)
    assert response.code == 206 and response.body == b"ex"


async def raw_exchange(port: int, request: str) -> tuple[int, dict[str, str], bytes]:
    """One request on its own connection, read to the end: status, headers, and every byte after them."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request.encode())
    await writer.drain()
    answer = await asyncio.wait_for(reader.read(), 30)  # Connection: close, so the server ends it
    writer.close()
    head, _, body = answer.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    return int(status_line.split()[1]), {k.lower(): v.strip() for k, _, v in (h.partition(":") for h in lines)}, body


async def test_head_answers_what_get_would_without_the_body(call, resources: Path, jp_http_port, jp_base_url,
                                                           jp_auth_header):
    await call("GET", "files")
    image = png(resources / "images" / "dot.png")
    (resources / "others" / "note.txt").write_text("héllo")

    async def head(target: str, headers: dict | None = None) -> tuple[int, dict[str, str], bytes]:
        lines = "".join(f"{k}: {v}\r\n" for k, v in {"Host": "127.0.0.1", "Connection": "close",
                                                      **jp_auth_header, **(headers or {})}.items())
        return await raw_exchange(jp_http_port, f"HEAD {jp_base_url}nndeploy/api/{target} HTTP/1.1\r\n{lines}\r\n")

    for target in ("preview?file_path=images/dot.png&returnMimeType=image", "download?file_path=images/dot.png"):
        got = await call("GET", target, raw=True)
        code, headers, body = await head(target)
        assert (code, body) == (200, b""), target
        assert headers["content-length"] == str(len(image)) == got.headers["Content-Length"], target
        assert headers["content-type"] == "image/png" and headers["etag"] == got.headers["ETag"], target
        assert headers["last-modified"] == got.headers["Last-Modified"], target
    assert headers["content-disposition"].startswith('attachment; filename="dot.png"')

    code, headers, body = await head("download?file_path=images/dot.png", {"Range": "bytes=0-9"})
    assert (code, headers["content-length"], headers["content-range"], body) == (
        206, "10", f"bytes 0-9/{len(image)}", b"")
    code, _, body = await head("download?file_path=images/dot.png", {"If-None-Match": got.headers["ETag"]})
    assert (code, body) == (304, b"")
    text = await call("GET", "preview?file_path=others/note.txt&returnMimeType=text", raw=True)
    code, headers, body = await head("preview?file_path=others/note.txt&returnMimeType=text")
    assert (code, headers["content-type"], body) == (200, "application/json", b"")
    assert headers["content-length"] == str(len(text.body))

    code, headers, body = await head("preview?file_path=images/missing.png&returnMimeType=image")
    assert (code, body) == (404, b"")
    code, _, body = await head("download?file_path=images/dot.png", NO_AUTH)
    assert (code, body) == (403, b"")


async def test_jupyterlab_chunked_upload_into_the_workspace_still_works(call, jp_fetch, resources: Path):
    await call("GET", "files")
    data = random.randbytes(300_000)
    pieces = [data[:100_000], data[100_000:200_000], data[200_000:]]
    for number, piece in zip((1, 2, -1), pieces, strict=True):
        model = {"type": "file", "format": "base64", "chunk": number, "content": base64.b64encode(piece).decode()}
        response = await jp_fetch("api", "contents", "nndeploy", "resources", "models", "big.bin", method="PUT",
                                  body=json.dumps(model))
        assert response.code in (200, 201)
    assert (resources / "models" / "big.bin").read_bytes() == data
    code, body = await call("GET", "files")
    assert any(n["path"] == "resources/models/big.bin" for n in body["result"])
