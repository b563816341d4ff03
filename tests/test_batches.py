"""Batches through the real server and real nndeploy workers: one request, many tasks, one id grouping them."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest
from conftest import FINAL_STATES, figure, wait_for
from graphs import canny_image_graph, fault_graph, synthetic_image
from test_progress_ws import WS, bind

pytestmark = pytest.mark.usefixtures("fault_plugin")


@pytest.fixture
def extension_config() -> dict:
    return {"max_workers": 1, "cancel_grace_seconds": 1.0}


async def submit_batch(api, body: dict) -> dict:
    code, answer = await api("POST", "queue/batch", body)
    assert code == 202, answer
    return answer["result"]


async def batch_info(api, batch_id: str) -> dict:
    code, answer = await api("GET", f"batch/{batch_id}")
    assert code == 200, answer
    return answer["result"]


async def until_finished(api, batch_id: str, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while not (info := await batch_info(api, batch_id))["finished"]:
        assert time.monotonic() < deadline, info["counts"]
        await asyncio.sleep(0.1)
    return info


async def test_a_batch_over_inputs_and_thresholds_succeeds_with_its_id_on_records_and_events(
        api, jp_ws_fetch, workspace: Path):
    graph = canny_image_graph(workspace, "batch")
    images = [f"resources/images/in-{i}.jpg" for i in range(3)]
    for i, image in enumerate(images):
        synthetic_image(workspace / image, width=120 + 40 * i)
    entries = [{"inputs": {"Decode": image}, "params": {"Canny": {"low_threshold": low}}}
               for image in images for low in (5, 150)]
    ws = await jp_ws_fetch(*WS)
    await bind(ws, "*")

    created = await submit_batch(api, {"graph": graph, "entries": entries, "name": "thresholds"})
    batch_id, task_ids = created["batch_id"], created["task_ids"]
    assert batch_id.startswith("batch-") and len(task_ids) == len(set(task_ids)) == 6

    statuses: dict[str, list[dict]] = {task_id: [] for task_id in task_ids}
    while sum(s[-1]["state"] in FINAL_STATES for s in statuses.values() if s) < len(task_ids):
        result = json.loads(await asyncio.wait_for(ws.read_message(), 120))["result"]
        if result["type"] == "status" and result["task_id"] in statuses:
            statuses[result["task_id"]].append(result)
    assert all(s["batch_id"] == batch_id for events in statuses.values() for s in events)
    assert {events[-1]["state"] for events in statuses.values()} == {"SUCCEEDED"}

    info = await until_finished(api, batch_id)
    assert info["name"] == "thresholds" and info["total"] == 6 and info["expired"] == 0
    assert info["counts"]["SUCCEEDED"] == 6 and sum(info["counts"].values()) == 6
    assert [m["task_id"] for m in info["tasks"]] == task_ids and [m["index"] for m in info["tasks"]] == list(range(6))

    code, answer = await api("GET", f"batch/{batch_id}/tasks")
    assert code == 200
    records = answer["result"]
    assert [r["task_id"] for r in records] == task_ids and {r["batch_id"] for r in records} == {batch_id}
    outputs = [Path(r["outputs"][0]["path"]) for r in records]
    folder = (workspace / "resources" / "images" / batch_id).resolve()
    assert outputs == [folder / str(i) / "batch.out.jpg" for i in range(6)]  # each task its own file
    assert all(path.is_file() for path in outputs)
    for record, entry in zip(records, entries, strict=True):
        assert record["params"]["Canny"] == entry["params"]["Canny"]
        assert record["params"]["Decode"] == {"path_": entry["inputs"]["Decode"]}
    sizes = [path.stat().st_size for path in outputs]
    assert sizes[0] != sizes[1] and sizes[0] != sizes[2]  # thresholds and inputs took effect

    code, single = await api("GET", f"queue/{task_ids[0]}")
    assert single["result"]["batch_id"] == batch_id

    late = await jp_ws_fetch(*WS)  # binding the batch's channel after the end: a snapshot of every task
    await bind(late, batch_id)
    snapshot = [json.loads(await asyncio.wait_for(late.read_message(), 30))["result"] for _ in task_ids]
    assert [(s["task_id"], s["state"], s["snapshot"]) for s in snapshot] == [(t, "SUCCEEDED", True) for t in task_ids]


async def test_cancelling_a_batch_ends_what_has_not_ended_and_leaves_the_rest(api, workspace: Path):
    graph = fault_graph(workspace, "slow", sleep_ms=0)
    sleeps = [0, 6000, 0, 0, 0]
    created = await submit_batch(api, {"graph": graph, "entries": [{"params": {"Fault": {"sleep_ms": ms}}}
                                                                   for ms in sleeps]})
    batch_id, task_ids = created["batch_id"], created["task_ids"]
    finished = await wait_for(api, task_ids[0])
    assert finished["state"] == "SUCCEEDED"
    await wait_for(api, task_ids[1], {"RUNNING"})

    code, answer = await api("POST", f"batch/{batch_id}/cancel")
    assert code == 200, answer
    states = [m["state"] for m in answer["result"]["tasks"]]
    assert states[0] == "SUCCEEDED" and states[2:] == ["CANCELLED"] * 3  # answered at once
    assert states[1] in ("RUNNING", "CANCELLED")

    info = await until_finished(api, batch_id)
    assert [m["state"] for m in info["tasks"]] == ["SUCCEEDED"] + ["CANCELLED"] * 4
    assert info["counts"]["SUCCEEDED"] == 1 and info["counts"]["CANCELLED"] == 4
    assert (await wait_for(api, task_ids[0])) == finished  # the ended task is untouched
    running = await wait_for(api, task_ids[1])
    assert running["cancel_requested"] and running["ts_start"] is not None

    code, again = await api("POST", f"batch/{batch_id}/cancel")  # nothing left to cancel: the same answer
    assert code == 200 and [m["state"] for m in again["result"]["tasks"]] == [m["state"] for m in info["tasks"]]
    for path in (f"batch/{batch_id}x", f"batch/{batch_id}x/tasks"):
        assert (await api("GET", path))[0] == 404
    assert (await api("POST", "batch/nope/cancel"))[0] == 404


@pytest.mark.parametrize("bad_entry, reason", [
    ({"inputs": {"Decode": "resources/images/missing.jpg"}}, "entry 2: node 'Decode': input"),
    ({"params": {"Blur": {"ksize": 3}}}, "entry 2: params: the graph has no node named 'Blur'"),
    ({"inputs": {"Canny": "resources/images/bad.in.jpg"}}, "entry 2: inputs: the graph has no Input node named"),
    ({"inputs": {"Decode": "../../etc/passwd"}}, "entry 2: node 'Decode'"),
    ({"params": {"Canny": {"low_threshold": 1}}, "extra": 1}, "entries.2.extra"),
])
async def test_a_bad_entry_is_refused_with_its_index_and_nothing_is_queued(api, workspace: Path, bad_entry, reason):
    graph = canny_image_graph(workspace, "bad")
    entries = [{"params": {"Canny": {"low_threshold": 10}}}, {}, bad_entry, {}]
    code, answer = await api("POST", "queue/batch", {"graph": graph, "entries": entries})
    assert code == 400 and reason in answer["message"], answer

    _, info = await api("GET", "queue/info")
    _, history = await api("GET", "queue/history")
    assert info["result"] == {"running": [], "dispatched": [], "pending": []} and history["result"]["total"] == 0
    assert [p.name for p in (workspace / "resources" / "images").iterdir() if p.is_dir()] == []  # no output folder


async def test_an_empty_or_sourceless_batch_is_refused(api, workspace: Path):
    graph = canny_image_graph(workspace)
    for body, reason in (({"graph": graph, "entries": []}, "entries"),
                         ({"entries": [{}]}, "exactly one of workflow_id"),
                         ({"template_id": "no-such-template", "entries": [{}]}, "no-such-template")):
        code, answer = await api("POST", "queue/batch", body)
        assert code in (400, 404) and reason in answer["message"], answer


async def test_a_thousand_tasks_go_in_one_request(api, workspace: Path):
    blocker = fault_graph(workspace, "hold", sleep_ms=0)
    graph = canny_image_graph(workspace, "many")
    hold = await submit_batch(api, {"graph": blocker, "entries": [{"params": {"Fault": {"sleep_ms": 3000}}}]})
    await wait_for(api, hold["task_ids"][0], {"RUNNING"})

    started = time.perf_counter()
    created = await submit_batch(api, {"graph": graph, "entries": [{"params": {"Canny": {"low_threshold": i % 200}}}
                                                                   for i in range(1000)]})
    elapsed = time.perf_counter() - started
    figure(f"POST queue/batch of 1000 tasks (validated, recorded, queued): {elapsed * 1000:.0f} ms")
    _, info = await api("GET", "queue/info")
    assert len(info["result"]["pending"]) == 1000
    assert [t["task_id"] for t in info["result"]["pending"]] == created["task_ids"]  # submission order

    code, answer = await api("POST", f"batch/{created['batch_id']}/cancel")
    assert code == 200 and answer["result"]["finished"]
    assert answer["result"]["counts"]["CANCELLED"] == 1000
