"""``models/download``: a graph's resources fetched from a real loopback HTTP server (ranges, a dropped
connection, a 404, a slow and a stalled server), with progress and the outcome on the WebSocket."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import random
import threading
import time
from http.server import BaseHTTPRequestHandler, SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from conftest import wait_for
from graphs import canny_image_graph

from nndeploy_jupyter.services import Services
from nndeploy_jupyter.services.downloads import DownloadFailed, DownloadPolicy, Downloads
from nndeploy_jupyter.services.events import EventHub
from nndeploy_jupyter.workspace import Workspace

DATA = random.Random(4).randbytes(1_500_000)
WS = ("nndeploy", "api", "ws", "progress")


class Origin(BaseHTTPRequestHandler):
    """``/files/<name>`` serves DATA with Range support; ``/drop/<name>`` cuts its first answer halfway;
    ``/slow/<name>`` trickles; ``/stall/<name>`` goes silent; anything else is a 404."""

    protocol_version = "HTTP/1.1"
    seen: list[tuple[str, str | None]]
    dropped: set[str]

    def log_message(self, *args) -> None:
        pass

    def do_GET(self) -> None:
        self.seen.append((self.path, self.headers.get("Range")))
        kind = self.path.split("/")[1]
        if kind not in ("files", "drop", "slow", "stall"):
            self.send_error(404)
            return
        start = int(self.headers["Range"].removeprefix("bytes=").split("-")[0]) if self.headers["Range"] else 0
        self.send_response(206 if start else 200)
        self.send_header("Content-Length", str(len(DATA) - start))
        if start:
            self.send_header("Content-Range", f"bytes {start}-{len(DATA) - 1}/{len(DATA)}")
        self.end_headers()
        body = DATA[start:]
        if kind == "drop" and self.path not in self.dropped:
            self.dropped.add(self.path)
            self.wfile.write(body[: len(body) // 2])
            self.close_connection = True
        elif kind == "slow":
            for i in range(0, len(body), len(body) // 8 + 1):
                self.wfile.write(body[i:i + len(body) // 8 + 1])
                self.wfile.flush()
                time.sleep(0.1)
        elif kind == "stall":
            self.wfile.write(body[:1000])
            self.wfile.flush()
            time.sleep(3)
        else:
            self.wfile.write(body)


@pytest.fixture
def extension_config() -> dict:
    return {"allow_private_downloads": True}  # the origins here are loopback servers


@pytest.fixture
def origin():
    """The loopback server (127.0.0.1 only); yields its ``host:port`` and the requests it saw."""
    handler = type("Handler", (Origin,), {"seen": [], "dropped": set()})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.server_address[1]}", handler.seen
    server.shutdown()
    server.server_close()


async def receive_until_done(ws, task_id: str, timeout: float = 30) -> list[dict]:
    results = []
    while True:
        message = await asyncio.wait_for(ws.read_message(), timeout)
        assert message is not None, "socket closed"
        event = json.loads(message)
        if event["result"].get("task_id") == task_id:
            results.append(event)
            if event["result"]["type"] == "model_download_done":
                return results


async def download(api, jp_ws_fetch, graph: dict) -> list[dict]:
    """Start a download and follow it as nndeploy's frontend does: bind to its task id once it is known."""
    code, answer = await api("POST", "models/download", graph)
    assert (code, answer["message"]) == (202, "download started")
    ws = await jp_ws_fetch(*WS)
    await ws.write_message(json.dumps({"type": "bind", "task_id": answer["result"]["task_id"]}))
    events = await receive_until_done(ws, answer["result"]["task_id"])
    ws.close()
    return events


def parts_left(resources: Path) -> list[Path]:
    return list(resources.rglob("*.part"))


async def test_fetches_a_graphs_resources_with_throttled_progress(api, jp_ws_fetch, origin, workspace: Path):
    host, seen = origin
    graph = {"name_": "needs-files",
             "image_url_": [f"http@{host}/files/cat.png"],
             "model_url_": [f"http@http://{host}/slow/detect/yolo.onnx"],
             "video_url_": ["template[http,modelscope]@https://template.cn/template.mp4"]}
    events = await download(api, jp_ws_fetch, graph)
    done = events[-1]
    assert (done["flag"], done["message"]) == ("success", "download done")
    assert done["result"]["detail"] == {"image_url_.0": "resources/images/cat.png",
                                        "model_url_.0": "resources/models/yolo.onnx"}
    resources = workspace / "resources"
    assert (resources / "images" / "cat.png").read_bytes() == DATA
    assert (resources / "models" / "yolo.onnx").read_bytes() == DATA
    assert parts_left(resources) == []

    progress = [e["result"]["detail"] for e in events if e["result"]["type"] == "download_progress"]
    for name in ("resources/images/cat.png", "resources/models/yolo.onnx"):
        mine = [p for p in progress if p["filename"] == name]
        assert mine[-1] | {"elapsed": 0} == {"phase": "done", "filename": name, "downloaded": len(DATA),
                                             "total": len(DATA), "percent": 100.0, "elapsed": 0}
        percents = [p["percent"] for p in mine]
        assert percents == sorted(percents)
        assert 2 <= len(mine) <= 100 + 4 * mine[-1]["elapsed"] + 2  # one per 1 % or per 250 ms, and the end
    assert len(seen) == 2

    again = await download(api, jp_ws_fetch, graph)  # already there: nothing fetched twice
    assert again[-1]["flag"] == "success" and len(seen) == 2
    assert {e["result"]["detail"]["phase"] for e in again if e["result"]["type"] == "download_progress"} == {"exists"}


async def test_an_interrupted_download_resumes_with_a_range_request(api, jp_ws_fetch, origin, workspace: Path):
    host, seen = origin
    events = await download(api, jp_ws_fetch, {"video_url_": [f"http@{host}/drop/clip.avi"]})
    assert events[-1]["flag"] == "success"
    assert (workspace / "resources" / "videos" / "clip.avi").read_bytes() == DATA
    assert seen == [("/drop/clip.avi", None), ("/drop/clip.avi", f"bytes={len(DATA) // 2}-")]
    assert parts_left(workspace / "resources") == []


async def test_a_missing_file_fails_clearly_and_leaves_nothing(api, jp_ws_fetch, origin, workspace: Path):
    host, seen = origin
    graph = {"image_url_": [f"http@{host}/files/ok.png"], "other_url_": [f"http@{host}/missing/notes.txt"]}
    events = await download(api, jp_ws_fetch, graph)
    done = events[-1]
    assert done["flag"] == "failed" and "404" in done["message"] and "missing/notes.txt" in done["message"]
    assert done["result"]["detail"] == {"image_url_.0": "resources/images/ok.png"}  # what did arrive
    failed = events[-2]["result"]
    assert failed["type"] == "download_progress" and failed["detail"]["phase"] == "error"
    assert failed["detail"]["filename"] == "resources/others/notes.txt" and "404" in failed["detail"]["error"]
    assert not (workspace / "resources" / "others" / "notes.txt").exists()
    assert parts_left(workspace / "resources") == [] and len(seen) == 2  # a 404 is not retried


async def test_hostile_names_in_urls_land_inside(api, jp_ws_fetch, origin, workspace: Path, tmp_path: Path):
    host, _ = origin
    events = await download(api, jp_ws_fetch, {"other_url_": [f"http@{host}/files/..%2F..%2F..%2Fplanted.txt"]})
    assert events[-1]["result"]["detail"] == {"other_url_.0": "resources/others/planted.txt"}
    assert not any(p.name == "planted.txt" for p in tmp_path.iterdir())


async def test_malformed_entries_are_refused_at_once(api):
    for graph in ({"model_url_": "http@x"}, {"model_url_": ["no-scheme"]}, {"model_url_": ["ftp@host/x"]},
                  {"model_url_": ["modelscope@repo-without-file"]}, ["not", "a", "graph"]):
        code, answer = await api("POST", "models/download", graph)
        assert code == 400, (graph, answer)


LOOPBACK_ALLOWED = DownloadPolicy(allow_private=True)


def service_alone(tmp_path: Path, policy: DownloadPolicy = LOOPBACK_ALLOWED) -> tuple[Downloads, list[dict]]:
    """The service without a server, with short timeouts, and the events it publishes. Call on the loop."""
    workspace = Workspace(tmp_path / "ws")
    workspace.create()
    hub = EventHub()
    hub.attach(asyncio.get_running_loop())
    events: list[dict] = []
    hub.bind(hub.subscribe(lambda envelope: events.append(envelope.model_dump(mode="json"))), "*")
    return Downloads(workspace, hub, timeout=0.5, attempts=2, policy=policy), events


async def test_a_stalled_server_times_out_instead_of_hanging(origin, tmp_path: Path):
    service, events = service_alone(tmp_path)
    host, seen = origin
    started = time.monotonic()
    with pytest.raises(DownloadFailed, match="timed out"):
        await service.fetch_for_graph("t-stall", {"model_url_": [f"http@{host}/stall/big.onnx"]})
    assert time.monotonic() - started < 10 and seen[1][1] == "bytes=1000-"  # the second try resumed
    assert events[-1]["result"]["type"] == "model_download_done" and events[-1]["flag"] == "failed"
    partial = service.workspace.folder("models") / ".big.onnx.part"
    assert partial.stat().st_size >= 1000 and not (service.workspace.folder("models") / "big.onnx").exists()


async def test_modelscope_without_network_is_a_clear_error(tmp_path: Path):
    service, events = service_alone(tmp_path)
    service.timeout = 3.0
    started = time.monotonic()
    with pytest.raises(DownloadFailed, match="modelscope"):
        await service.fetch_for_graph("t-ms", {"model_url_": ["modelscope@nndeploy/no-such-repo:detect/x.onnx"]})
    assert time.monotonic() - started < 90
    assert events[-1]["flag"] == "failed" and "modelscope" in events[-1]["message"]


async def test_download_jobs_have_ids_of_their_own_kind(origin, tmp_path: Path):
    service, _ = service_alone(tmp_path)
    host, _ = origin
    job_id = service.start({"image_url_": [f"http@{host}/files/known.png"]})
    assert job_id.startswith("download-") and service.knows(job_id) and not service.knows("download-other")
    await service.stop()


@contextlib.contextmanager
def file_server(folder: Path):
    """A loopback HTTP server for the files of ``folder``; yields its ``host:port``."""
    handler = functools.partial(type("Quiet", (SimpleHTTPRequestHandler,), {"log_message": lambda *a: None}),
                                directory=str(folder))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


async def test_a_task_fetches_its_input_then_runs(api, tmp_path: Path, workspace: Path):
    elsewhere = tmp_path / "elsewhere"
    graph = canny_image_graph(elsewhere)  # its input image exists only on the other machine
    code, refused = await api("POST", "queue", graph)
    assert code == 400 and "does not exist" in refused["message"]

    with file_server(elsewhere / "resources" / "images") as host:
        graph["image_url_"] = [f"http@{host}/canny.in.jpg"]
        code, answer = await api("POST", "queue", {"graph": graph, "download": True})
        assert code == 202, answer  # at once: the download runs as part of the task
        task = await wait_for(api, answer["result"]["task_id"])
    assert task["state"] == "SUCCEEDED", task["error"]
    fetched = workspace / "resources" / "images" / "canny.in.jpg"
    assert fetched.read_bytes() == (elsewhere / "resources" / "images" / "canny.in.jpg").read_bytes()
    assert (workspace / "resources" / "images" / "canny.out.jpg").is_file()


async def test_a_task_cancelled_while_downloading_never_runs(api, origin, workspace: Path):
    host, _ = origin
    graph = {**canny_image_graph(workspace), "other_url_": [f"http@{host}/slow/big.bin"]}
    code, answer = await api("POST", "queue", {"graph": graph, "download": True})
    assert code == 202
    task_id = answer["result"]["task_id"]
    code, cancelled = await api("POST", f"queue/cancel/{task_id}")
    assert code == 200 and cancelled["result"]["state"] == "CANCELLED"
    task = await wait_for(api, task_id)
    assert task["state"] == "CANCELLED" and task["ts_start"] is None


async def test_a_failed_download_fails_the_task_with_the_reason(api, workspace: Path):
    graph = {**canny_image_graph(workspace), "model_url_": ["http@127.0.0.1:9/tiny.onnx"]}  # nothing listens there
    code, answer = await api("POST", "queue", {"graph": graph, "download": True})
    assert code == 202
    task = await wait_for(api, answer["result"]["task_id"])
    assert task["state"] == "FAILED" and task["error"].startswith("download failed") and task["ts_start"] is None


async def test_a_restart_during_the_download_fetches_again_then_runs(api, jp_serverapp, origin, workspace: Path):
    host, seen = origin
    graph = {**canny_image_graph(workspace), "other_url_": [f"http@{host}/slow/big.bin"]}
    _, answer = await api("POST", "queue", {"graph": graph, "download": True})
    task_id = answer["result"]["task_id"]
    while ("/slow/big.bin", None) not in seen:  # the download has begun
        await asyncio.sleep(0.01)
    old: Services = jp_serverapp.web_app.settings["nndeploy"]
    await old.stop()  # mid-download: the task is still PENDING, its download not done
    new = jp_serverapp.web_app.settings["nndeploy"] = Services(old.config, old.log)
    try:
        await new.start()
        task = await wait_for(api, task_id)
        assert task["state"] == "SUCCEEDED", task["error"]
        assert (workspace / "resources" / "others" / "big.bin").read_bytes() == DATA
        assert len([path for path, _ in seen if path == "/slow/big.bin"]) == 2
    finally:
        await new.stop()
