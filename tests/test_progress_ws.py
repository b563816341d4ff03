"""The live WebSocket: authenticated, replays what a late client missed, follows all tasks, survives bad frames."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from conftest import submit, wait_for
from graphs import canny_image_graph, fault_graph, video_graph
from sockets import TCP_CORK, nodelay, option, tcp_sockets
from tornado.httpclient import HTTPClientError

from nndeploy_jupyter.services import Services

WS = ("nndeploy", "api", "ws", "progress")
pytestmark = pytest.mark.usefixtures("fault_plugin")


@pytest.fixture
def extension_config() -> dict:
    return {"max_workers": 1}


async def receive(ws, until, timeout: float = 60) -> list[dict]:
    """Events read until ``until(event)`` is true (that one included)."""
    events = []
    while True:
        message = await asyncio.wait_for(ws.read_message(), timeout)
        assert message is not None, "socket closed"
        events.append(json.loads(message))
        if until(events[-1]):
            return events


def ends(task_id: str):
    return lambda e: e["result"]["type"] == "task_run_info" and e["result"]["task_id"] == task_id


async def bind(ws, task_id: str, since: int | None = None) -> None:
    await ws.write_message(json.dumps({"type": "bind", "task_id": task_id,
                                       **({"since": since} if since is not None else {})}))


async def test_without_a_token_the_socket_is_refused(jp_ws_fetch):
    with pytest.raises(HTTPClientError) as refused:
        await jp_ws_fetch(*WS, headers={"Authorization": ""})
    assert refused.value.code == 403


async def test_a_bound_client_follows_a_video_task_to_its_end(api, jp_ws_fetch, workspace: Path):
    ws = await jp_ws_fetch(*WS)
    task_id = await submit(api, video_graph(workspace, frames=60))
    await bind(ws, task_id)
    events = await receive(ws, ends(task_id))
    results = [e["result"] for e in events]
    assert all(r["task_id"] == task_id for r in results)
    seqs = [r["seq"] for r in results if not r.get("snapshot")]
    assert seqs == sorted(seqs) and all(r["ts"] > 0 for r in results)

    states = [r["state"] for r in results if r["type"] == "status" and not r.get("snapshot")]
    assert states[-3:] == ["DISPATCHED", "RUNNING", "SUCCEEDED"]
    progress = [r for r in results if r["type"] == "progress"]
    assert progress and progress[-1]["done"] == progress[-1]["total"] == 60
    assert [p["done"] for p in progress] == sorted(p["done"] for p in progress)
    assert any(r["type"] == "log" for r in results)
    assert events[-1]["flag"] == "success" and results[-1]["outputs"][0]["node"] == "VideoEncode"
    assert [r["type"] for r in results[-2:]] == ["memory", "task_run_info"]


async def test_events_leave_at_once_not_behind_nagle(api, jp_ws_fetch, workspace: Path):
    """A task's last events are small frames written together: with Nagle's algorithm on, all but the first wait
    for the client's delayed ACK (40 ms). The server's side of the socket has TCP_NODELAY, and nothing is left
    corked once the frames have arrived."""
    ws = await jp_ws_fetch(*WS)
    task_id = await submit(api, canny_image_graph(workspace))
    await bind(ws, task_id)
    await receive(ws, ends(task_id))
    client = ws.protocol.stream.socket.getsockname()
    with tcp_sockets(lambda s: s.getpeername() == client) as [server]:
        assert nodelay(server)
        assert option(server, TCP_CORK) == 0


async def test_a_late_bind_still_gets_the_outcome(api, jp_ws_fetch, workspace: Path):
    task_id = await submit(api, canny_image_graph(workspace))
    await wait_for(api, task_id)
    ws = await jp_ws_fetch(*WS)
    await bind(ws, task_id)
    events = await receive(ws, lambda e: e["result"].get("snapshot"))  # the replay comes first, then the snapshot
    assert events[-1]["result"]["state"] == "SUCCEEDED"
    assert [e["result"]["state"] for e in events if e["result"]["type"] == "status"][:-1] == [
        "PENDING", "DISPATCHED", "RUNNING", "SUCCEEDED"]
    assert [e["result"]["type"] for e in events][-3:] == ["memory", "task_run_info", "status"]

    last_seen = events[-1]["result"]["seq"]  # binding again after everything: only the snapshot comes back
    await bind(ws, task_id, since=last_seen)
    [again] = await receive(ws, lambda e: True)
    assert again["result"]["snapshot"] and again["result"]["state"] == "SUCCEEDED"


async def test_after_a_restart_a_late_bind_gets_the_outcome_from_the_database(api, jp_ws_fetch, jp_serverapp,
                                                                                workspace: Path):
    task_id = await submit(api, canny_image_graph(workspace))
    await wait_for(api, task_id)
    old: Services = jp_serverapp.web_app.settings["nndeploy"]
    await old.stop()
    new = jp_serverapp.web_app.settings["nndeploy"] = Services(old.config, old.log)
    try:
        ws = await jp_ws_fetch(*WS)
        await bind(ws, task_id)
        events = await receive(ws, ends(task_id))
        assert [e["result"]["type"] for e in events] == ["status", "memory", "task_run_info"]
        assert events[-1]["result"]["state"] == "SUCCEEDED" and events[-1]["result"]["outputs"]
    finally:
        await new.stop()


async def test_bind_star_follows_every_task(api, jp_ws_fetch, workspace: Path):
    ws = await jp_ws_fetch(*WS)
    await bind(ws, "*")
    first = await submit(api, canny_image_graph(workspace, "one"))
    second = await submit(api, canny_image_graph(workspace, "two"))
    events = await receive(ws, ends(second))
    finished = {e["result"]["task_id"] for e in events if e["result"]["type"] == "task_run_info"}
    assert finished == {first, second}


async def test_a_bad_frame_gets_an_error_and_the_socket_lives(api, jp_ws_fetch, workspace: Path):
    ws = await jp_ws_fetch(*WS)
    for frame in ("not json", "[" * 100_000 + "]" * 100_000, json.dumps({"type": "dance"}),
                  json.dumps({"type": "bind"}), json.dumps({"type": "bind", "task_id": "no-such-task"})):
        await ws.write_message(frame)
        [error] = await receive(ws, lambda e: True)
        assert error["flag"] == "error" and error["result"]["type"] == "error" and error["message"], frame
    task_id = await submit(api, canny_image_graph(workspace))
    await bind(ws, task_id)
    events = await receive(ws, ends(task_id))
    assert events[-1]["flag"] == "success"


async def test_openapi_documents_the_socket_as_its_upgrading_get(api):
    _, spec = await api("GET", "openapi.json")
    socket = spec["paths"]["/ws/progress"]
    assert list(socket) == ["get"] and "101" in socket["get"]["responses"]


async def test_a_flush_is_announced_on_the_socket(api, jp_ws_fetch, workspace: Path):
    ws = await jp_ws_fetch(*WS)
    await bind(ws, "*")
    blocker = await submit(api, fault_graph(workspace, "blocker", sleep_ms=800))
    await receive(ws, lambda e: e["result"]["type"] == "status" and e["result"]["state"] == "RUNNING")
    pending = {await submit(api, canny_image_graph(workspace, f"p{i}")) for i in range(2)}
    code, _ = await api("POST", "queue/flush")
    assert code == 200
    events = await receive(ws, lambda e: e["result"]["type"] == "system")
    cancelled = {e["result"]["task_id"] for e in events
                 if e["result"]["type"] == "status" and e["result"]["state"] == "CANCELLED"}
    assert cancelled == pending
    assert set(events[-1]["result"]["detail"]["cancelled"]) == pending and blocker not in pending


async def test_a_cancel_is_answered_at_once_and_its_end_follows_on_the_socket(api, jp_ws_fetch, workspace: Path):
    ws = await jp_ws_fetch(*WS)
    task_id = await submit(api, fault_graph(workspace, "long", frames=300, sleep_ms=20))
    await bind(ws, task_id)
    await receive(ws, lambda e: e["result"]["type"] == "progress")  # frames are flowing
    code, answer = await api("POST", f"queue/cancel/{task_id}")
    assert code == 200 and answer["result"]["state"] == "RUNNING" and answer["result"]["cancel_requested"]
    events = await receive(ws, ends(task_id))
    statuses = [e["result"] for e in events if e["result"]["type"] == "status"]
    assert statuses[0]["state"] == "RUNNING" and statuses[0]["cancel_requested"]
    assert statuses[-1]["state"] == "CANCELLED"
    assert events[-1]["flag"] == "failed" and events[-1]["result"]["state"] == "CANCELLED"
    assert [o["partial"] for o in events[-1]["result"]["outputs"]] == [True]



async def test_the_header_follows_a_worker_through_its_death_and_restart(api, jp_ws_fetch, workspace: Path):
    """``GET server`` names the extension and its warm worker; a crash shows the worker RESTARTING on the
    socket, then READY again, without a poll."""
    ws = await jp_ws_fetch(*WS)
    await bind(ws, "*")
    await wait_for(api, await submit(api, canny_image_graph(workspace)))  # the worker is warm
    status, body = await api("GET", "server")
    assert status == 200
    info = body["result"]
    assert info["version"] and info["executor"] == "LocalExecutor" and info["max_workers"] == 1
    assert [w["state"] for w in info["workers"]] == ["READY"] and info["workers"][0]["pid"] > 0

    task_id = await submit(api, fault_graph(workspace, "crash", fault="segfault"))
    await receive(ws, workers_are(["RESTARTING"]))
    await receive(ws, workers_are(["READY"]))
    assert (await wait_for(api, task_id))["state"] == "FAILED"
    _, body = await api("GET", "server")
    assert body["result"]["workers"][0]["pid"] != info["workers"][0]["pid"]  # a new process


def workers_are(states: list[str]):
    return lambda e: (e["result"]["type"] == "system" and e["result"]["event"] == "workers"
                      and [w["state"] for w in e["result"]["detail"]["workers"]] == states)
