"""Tasks through the real server and real nndeploy workers: run, order, cancel, crash, restart, burst."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import cv2
import pytest
from conftest import submit, wait_for
from graphs import (
    BROKEN_PLUGIN,
    FAULT_KEY,
    FAULT_PLUGIN,
    canny_image_graph,
    classification_graph,
    fault_graph,
    simple_plugin,
    video_graph,
)

from nndeploy_jupyter.services import Services

pytestmark = pytest.mark.usefixtures("fault_plugin")


@pytest.fixture
def extension_config() -> dict:
    return {"max_workers": 1, "cancel_grace_seconds": 1.0}


async def test_a_task_runs_and_reports_its_output_file(api, workspace: Path):
    task_id = await submit(api, canny_image_graph(workspace))
    task = await wait_for(api, task_id)
    assert task["state"] == "SUCCEEDED", task["error"]
    assert task["ts_submit"] <= task["ts_dispatch"] <= task["ts_start"] <= task["ts_finish"]
    assert task["worker_pid"] and task["error"] is None
    assert task["time_profile"]["run_time"] >= 0
    [output] = task["outputs"]
    assert output["node"] == "Encode" and Path(output["path"]).is_file() and output["size"] > 0
    assert output["partial"] is False
    assert Path(output["path"]) == (workspace / "resources" / "images" / "canny.out.jpg").resolve()

    _, history = await api("GET", "queue/history", params={"max_items": 5})
    assert [t["task_id"] for t in history["result"]["items"]] == [task_id]
    code, again = await api("POST", f"queue/cancel/{task_id}")
    assert code == 409 and "SUCCEEDED" in again["message"]
    code, _ = await api("POST", "queue/cancel/no-such-task")
    assert code == 404


async def test_a_graph_level_override_sets_the_loop_count(api, workspace: Path):
    graph = video_graph(workspace, frames=10, name="looped")
    code, answer = await api("POST", "queue", {"graph": graph, "params": {"looped": {"loop_count_": 3}}})
    assert code == 202, answer
    task = await wait_for(api, answer["result"]["task_id"])
    assert task["state"] == "SUCCEEDED", task["error"]
    [output] = task["outputs"]
    assert int(cv2.VideoCapture(output["path"]).get(cv2.CAP_PROP_FRAME_COUNT)) == 3  # of the input's 10


async def test_the_official_classification_template_runs_with_a_tiny_onnx_model(api, workspace: Path):
    task = await wait_for(api, await submit(api, classification_graph(workspace)))
    assert task["state"] == "SUCCEEDED", task["error"]
    assert [o["node"] for o in task["outputs"]] == ["OpenCvImageEncode_28"]


async def test_lower_priority_number_runs_first_then_submission_order(api, workspace: Path):
    blocker = await submit(api, fault_graph(workspace, "blocker", sleep_ms=1500))
    await wait_for(api, blocker, {"RUNNING"})
    late = await submit(api, canny_image_graph(workspace, "late"), priority=5)
    first = await submit(api, canny_image_graph(workspace, "first"), priority=1)
    second = await submit(api, canny_image_graph(workspace, "second"), priority=1)
    _, info = await api("GET", "queue/info")
    assert [t["task_id"] for t in info["result"]["pending"]] == [first, second, late]

    tasks = [await wait_for(api, task_id) for task_id in (blocker, first, second, late)]
    assert all(t["state"] == "SUCCEEDED" for t in tasks), [t["error"] for t in tasks]
    starts = [t["ts_start"] for t in tasks]
    assert starts == sorted(starts)


async def test_cancel_pending_and_running_tasks(api, workspace: Path):
    running = await submit(api, fault_graph(workspace, "long", frames=300, sleep_ms=20))  # about 7 s
    await wait_for(api, running, {"RUNNING"})
    while not (await api("GET", f"queue/{running}"))[1]["result"]["worker_pid"]:
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.5)  # frames are being written
    pending = await submit(api, canny_image_graph(workspace))

    code, answer = await api("POST", f"queue/cancel/{pending}")
    assert code == 200 and answer["result"]["state"] == "CANCELLED"
    code, answer = await api("POST", f"queue/cancel/{running}")  # answered at once; the end follows
    assert code == 200 and answer["result"]["state"] == "RUNNING" and answer["result"]["cancel_requested"], answer
    assert "cancel requested" in answer["message"]
    cancelled = await wait_for(api, running)
    assert cancelled["state"] == "CANCELLED" and cancelled["cancel_requested"]
    [partial] = cancelled["outputs"]  # what the encoder wrote before the cancel, said to be incomplete
    assert partial["node"] == "VideoEncode" and partial["partial"] is True and Path(partial["path"]).is_file()
    code, _ = await api("POST", f"queue/cancel/{running}")
    assert code == 409

    after = await wait_for(api, await submit(api, canny_image_graph(workspace, "after")))
    assert after["state"] == "SUCCEEDED"
    _, history = await api("GET", "queue/history")
    assert [t["state"] for t in history["result"]["items"]] == ["SUCCEEDED", "CANCELLED", "CANCELLED"]


async def test_flush_cancels_every_pending_task(api, workspace: Path):
    blocker = await submit(api, fault_graph(workspace, "blocker", sleep_ms=800))
    await wait_for(api, blocker, {"RUNNING"})
    pending = [await submit(api, canny_image_graph(workspace, f"p{i}")) for i in range(3)]
    code, answer = await api("POST", "queue/flush")
    assert code == 200 and sorted(answer["result"]["cancelled"]) == sorted(pending)
    assert (await wait_for(api, blocker))["state"] == "SUCCEEDED"
    for task_id in pending:
        assert (await wait_for(api, task_id))["state"] == "CANCELLED"


@pytest.mark.parametrize("fault, reason", [("segfault", "SIGSEGV"), ("abort", "SIGABRT"), ("exit", "exit code 3")])
async def test_a_crashing_worker_fails_its_task_and_the_queue_goes_on(api, workspace: Path, fault, reason):
    crash = await submit(api, fault_graph(workspace, "crash", fault=fault))
    after = await submit(api, canny_image_graph(workspace))
    task = await wait_for(api, crash)
    assert task["state"] == "FAILED" and "worker crashed" in task["error"] and reason in task["error"]
    assert (await wait_for(api, after))["state"] == "SUCCEEDED"


async def test_a_task_that_fails_midway_marks_what_it_wrote_partial(api, workspace: Path):
    task = await wait_for(api, await submit(api, fault_graph(workspace, "midway", frames=30, fault="raise",
                                                              at_call=10)))
    assert task["state"] == "FAILED" and "deliberate exception" in task["error"]
    [partial] = task["outputs"]
    assert partial["node"] == "VideoEncode" and partial["partial"] is True and partial["size"] > 0


async def test_a_hung_task_is_killed_after_the_cancel_grace(api, workspace: Path):
    hung = await submit(api, fault_graph(workspace, "hung", fault="hang"))
    await wait_for(api, hung, {"RUNNING"})
    code, answer = await api("POST", f"queue/cancel/{hung}")
    assert code == 200 and answer["result"]["state"] == "RUNNING" and answer["result"]["cancel_requested"]
    task = await wait_for(api, hung)
    assert task["state"] == "CANCELLED" and task["error"] == "worker killed after cancel grace"
    assert (await wait_for(api, await submit(api, canny_image_graph(workspace))))["state"] == "SUCCEEDED"


async def test_an_exception_in_the_first_task_of_a_fresh_worker_fails_only_that_task(api, workspace: Path):
    failing = await submit(api, fault_graph(workspace, "raise", fault="raise"))
    task = await wait_for(api, failing)
    assert task["state"] == "FAILED" and "deliberate exception" in task["error"]
    assert (await wait_for(api, await submit(api, canny_image_graph(workspace))))["state"] == "SUCCEEDED"


async def test_an_error_naming_a_file_that_is_not_utf8_keeps_its_reason(api, workspace: Path):
    # os.fsdecode(b"\xb2\xe2") has lone surrogates; once they failed the task as "internal error: 'utf-8' codec"
    raising = '        raise FileNotFoundError("no such file: " + __import__("os").fsdecode(b"\\xb2\\xe2.jpg"))'
    (workspace / "resources" / "plugin" / "gbk_error.py").write_text(simple_plugin("tests.GbkError", raising))
    graph = canny_image_graph(workspace)
    graph["node_repository_"][1]["key_"] = "tests.GbkError"
    task = await wait_for(api, await submit(api, graph))
    assert task["state"] == "FAILED" and "no such file: ??.jpg" in task["error"], task["error"]


async def test_history_and_queue_survive_a_restart(api, jp_serverapp, workspace: Path):
    running = await submit(api, fault_graph(workspace, "long", frames=300, sleep_ms=20))
    await wait_for(api, running, {"RUNNING"})
    pending = await submit(api, canny_image_graph(workspace))

    old: Services = jp_serverapp.web_app.settings["nndeploy"]
    await old.stop()
    new = Services(old.config, old.log)
    jp_serverapp.web_app.settings["nndeploy"] = new
    try:
        await new.start()
        interrupted = await wait_for(api, running)
        assert interrupted["state"] == "INTERRUPTED" and "server stopped" in interrupted["error"]
        assert (await wait_for(api, pending))["state"] == "SUCCEEDED"
        _, history = await api("GET", "queue/history")
        assert [t["task_id"] for t in history["result"]["items"]] == [pending, running]
    finally:
        await new.stop()


async def test_two_hundred_tasks_submitted_at_once_all_end(api, workspace: Path):
    graph = canny_image_graph(workspace)
    task_ids = await asyncio.gather(*(submit(api, graph) for _ in range(200)))
    assert len(set(task_ids)) == 200
    deadline = time.monotonic() + 120
    while (await api("GET", "queue/history", params={"max_items": 1}))[1]["result"]["total"] < 200:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.2)
    _, history = await api("GET", "queue/history", params={"max_items": 1000})
    assert {t["state"] for t in history["result"]["items"]} == {"SUCCEEDED"}


def _multipart(filename: str, content: bytes) -> tuple[bytes, dict]:
    boundary = "nndeploy-test-boundary"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\n"
            f"Content-Type: application/octet-stream\r\n\r\n").encode() + content + f"\r\n--{boundary}--\r\n".encode()
    return body, {"Content-Type": f"multipart/form-data; boundary={boundary}"}


async def test_an_uploaded_plugin_node_runs_in_the_next_task(api, workspace: Path):
    graph = fault_graph(workspace, "uploaded")
    graph["node_repository_"][1]["key_"] = "tests.Uploaded"
    code, answer = await api("POST", "queue", graph)
    assert code == 400 and "tests.Uploaded" in answer["message"]

    body, headers = _multipart("uploaded_nodes.py", FAULT_PLUGIN.replace(FAULT_KEY, "tests.Uploaded").encode())
    code, answer = await api("POST", "nodes/upload", body, headers=headers)
    assert code == 201 and answer["result"]["plugin_error"] is None, answer
    assert (workspace / "resources" / "plugin" / "uploaded_nodes.py").is_file()
    assert (await wait_for(api, await submit(api, graph)))["state"] == "SUCCEEDED"

    body, headers = _multipart("broken_nodes.py", BROKEN_PLUGIN.encode())
    code, answer = await api("POST", "nodes/upload", body, headers=headers)
    assert code == 201 and "SyntaxError" in answer["result"]["plugin_error"]
    body, headers = _multipart("garbage.so", b"\x7fELF not really a library")  # once reported as loaded
    code, answer = await api("POST", "nodes/upload", body, headers=headers)
    assert code == 201 and "garbage.so" in (answer["result"]["plugin_error"] or ""), answer
    for bad_name in ("../escape.py", "notes.txt", ".hidden.py"):
        body, headers = _multipart(bad_name, b"x = 1\n")
        code, _ = await api("POST", "nodes/upload", body, headers=headers)
        assert code == 400, bad_name
    assert (await wait_for(api, await submit(api, graph)))["state"] == "SUCCEEDED"  # the broken one harms no one
