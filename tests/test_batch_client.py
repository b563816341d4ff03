"""Batches and in-memory inputs from the notebook Client, against the real server and workers; the batch widget;
the retention of uploaded inputs.

The client is blocking while pytest-jupyter's server runs on the test's loop: client calls go through
``asyncio.to_thread``.
"""

from __future__ import annotations

import asyncio
import io
import os
import sys
import time
from pathlib import Path
from unittest import mock

import cv2
import numpy as np
import pytest
from conftest import calls_to
from graphs import canny_image_graph, fault_graph, synthetic_image
from PIL import Image

from nndeploy_jupyter import Client, grid
from nndeploy_jupyter.notebook.batch import Batch
from nndeploy_jupyter.notebook.widgets import BATCH_UPDATE_SECONDS, FAILURES_SHOWN, BatchProgress

pytestmark = pytest.mark.usefixtures("fault_plugin")


@pytest.fixture
def extension_config() -> dict:
    return {"max_workers": 1, "cancel_grace_seconds": 1.0}


@pytest.fixture
def client(jp_fetch, jp_serverapp, jp_base_url):
    client = Client(f"http://127.0.0.1:{jp_serverapp.port}{jp_base_url}", jp_serverapp.identity_provider.token)
    yield client
    client.close()


def picture(width: int, height: int) -> np.ndarray:
    """An RGB array with a bright square: Canny finds its outline."""
    image = np.zeros((height, width, 3), np.uint8)
    image[height // 4: 3 * height // 4, width // 4: 3 * width // 4] = (250, 180, 40)
    return image


def png_bytes(image: np.ndarray) -> bytes:
    ok, data = cv2.imencode(".png", cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    assert ok
    return data.tobytes()


def input_folders(workspace: Path) -> list[Path]:
    return sorted((workspace / "resources" / "inputs").iterdir())


async def test_run_takes_an_array_a_pil_image_or_bytes_and_gives_arrays_back(client: Client, workspace: Path):
    graph = canny_image_graph(workspace, "memory")
    array = picture(200, 120)
    values = {"array": array, "pil": Image.fromarray(picture(90, 60)), "bytes": png_bytes(picture(64, 48))}
    shapes = {"array": (120, 200, 3), "pil": (60, 90, 3), "bytes": (48, 64, 3)}
    for kind, value in values.items():
        task = await asyncio.to_thread(client.run, graph, inputs={"Decode": value}, timeout=120)
        record = await asyncio.to_thread(getattr, task, "record")  # read from the server on first use
        [read] = record["params"]["Decode"].values()
        assert read.startswith("resources/inputs/"), read  # uploaded into a folder of its own
        assert (workspace / read).is_file()
        [edges] = (await asyncio.to_thread(task.images)).values()
        assert edges.shape == shapes[kind], kind
        height, width = shapes[kind][:2]
        assert edges[height // 4 - 2: height // 4 + 2, width // 2].max() > 128  # the square's top edge
        assert edges[2:8, 2:8].max() < 40  # nothing in the empty corner (but JPEG's ringing)
    assert len(input_folders(workspace)) == 3


async def test_map_over_inputs_and_a_grid_follows_the_batch_on_the_stream(client: Client, workspace: Path):
    graph = canny_image_graph(workspace, "grid")
    on_disk = "resources/images/on-disk.jpg"
    synthetic_image(workspace / on_disk, 100, 80)
    inputs = [picture(160, 100), Image.fromarray(picture(80, 80)), png_bytes(picture(64, 40)), on_disk]
    sent = calls_to(client)

    batch = await asyncio.to_thread(client.map, graph, inputs=inputs,
                                    params=grid({"Canny": {"low_threshold": [5, 150], "high_threshold": [200]}}))
    progress = BatchProgress(batch)
    await asyncio.to_thread(batch.wait, 180)

    assert batch.total == 8 and batch.counts == {"SUCCEEDED": 8} and batch.failures == []
    assert [call for call in sent if call[1].startswith("queue")] == [("POST", "queue/batch")]  # one request
    assert client._tasks == {}  # no task polled or bound one by one: the batch's channel carried them
    assert len(input_folders(workspace)) == 3  # each in-memory input uploaded once, whatever the grid's size
    frame = await asyncio.to_thread(batch.results)  # a DataFrame, one row per task, indexed as the inputs
    assert list(frame.index) == list(range(8))
    assert list(frame.columns[:3]) == ["input", "params", "state"]
    rows = frame.reset_index().to_dict("records")
    with mock.patch.dict(sys.modules, {"pandas": None}):  # without pandas: the same rows, as dicts
        plain = await asyncio.to_thread(batch.results)
    assert [r["task_id"] for r in plain] == list(frame["task_id"]) and plain[3]["input"] == rows[3]["input"]
    assert [r["input"] for r in rows[::2]] == ["<array 100x160x3 uint8>", "<Image 80x80>", f"<{len(inputs[2])} bytes>",
                                              on_disk]
    assert [r["params"]["Canny"]["low_threshold"] for r in rows] == [5, 150] * 4
    assert all(r["state"] == "SUCCEEDED" and r["time"] >= 0 and len(r["outputs"]) == 1 for r in rows)
    assert len({r["outputs"][0] for r in rows}) == 8
    tasks = await asyncio.to_thread(batch.tasks)
    images = [list((await asyncio.to_thread(task.images)).values()) for task in tasks]
    assert [image.shape for [image] in images[:2]] == [(100, 160, 3)] * 2  # as each input was
    assert "8/8 ended (SUCCEEDED 8)" in repr(progress) and progress.bar.bar_style == "success"
    assert progress.bar.value == progress.bar.max == 8
    assert repr(batch).startswith(f"<Batch {batch.id} 8/8 ended")

    again = await asyncio.to_thread(Client(client.server.url, client.server.token).batch, batch.id)
    assert again.counts == {"SUCCEEDED": 8} and again.finished  # any client can follow a batch by id
    again.client.close()


async def test_cancelling_a_batch_from_the_client(client: Client, workspace: Path):
    graph = fault_graph(workspace, "slow", sleep_ms=0)
    batch = await asyncio.to_thread(client.map, graph, params=[{"Fault": {"sleep_ms": ms}} for ms in (0, 6000, 0, 0)])
    deadline = time.monotonic() + 60
    while batch.state_of(1) != "RUNNING":
        assert time.monotonic() < deadline, batch.counts
        await asyncio.sleep(0.05)
    await asyncio.to_thread(batch.cancel, True, 60)
    assert [batch.state_of(i) for i in range(4)] == ["SUCCEEDED", "CANCELLED", "CANCELLED", "CANCELLED"]
    assert [index for index, _, _ in batch.failures] == [1, 2, 3]
    assert all(reason for _, _, reason in batch.failures)


async def test_a_bad_entry_or_an_ambiguous_input_is_refused_and_nothing_is_queued(client: Client, workspace: Path):
    graph = canny_image_graph(workspace, "refused")
    with pytest.raises(Exception, match="entry 1: params: node 'Canny' has no parameter 'sigma'"):
        await asyncio.to_thread(client.map, graph, params=[{}, {"Canny": {"sigma": 2}}])
    with pytest.raises(ValueError, match="give each input as a dict"):
        two_inputs = canny_image_graph(workspace, "refused")
        two_inputs["node_repository_"].append({**two_inputs["node_repository_"][0], "name_": "Decode2"})
        await asyncio.to_thread(client.map, two_inputs, inputs=[picture(10, 10)])
    history = await asyncio.to_thread(client.history)
    assert history == []


def test_the_batch_widget_redraws_a_few_times_a_second_for_ten_thousand_tasks():
    task_ids = [f"t{i}" for i in range(10_000)]
    batch = Batch(None, "batch-local", task_ids)  # fed by hand, as the stream's thread would
    progress = BatchProgress(batch)
    started = time.monotonic()
    for i, task_id in enumerate(task_ids):
        state = "FAILED" if i % 1000 == 7 else "SUCCEEDED"
        batch.apply({"result": {"type": "status", "task_id": task_id, "state": "RUNNING", "batch_id": batch.id}})
        batch.apply({"result": {"type": "status", "task_id": task_id, "state": state, "error": f"bad frame {i}"
                                if state == "FAILED" else None, "batch_id": batch.id}})
    elapsed = time.monotonic() - started
    assert batch.finished and batch.counts == {"SUCCEEDED": 9990, "FAILED": 10}
    assert progress.renders <= elapsed / BATCH_UPDATE_SECONDS + 3, (progress.renders, elapsed)  # not 20,000
    assert progress.bar.value == 10_000 and progress.bar.bar_style == "danger"
    assert "SUCCEEDED <b>9990</b>" in progress.counts.value and "bad frame 7" in progress.failures.value
    text = repr(progress)
    assert text.splitlines()[0] == "nndeploy batch batch-local: 10000/10000 ended (SUCCEEDED 9990, FAILED 10)"
    assert "  #7 FAILED: bad frame 7" in text and "#9007 FAILED: bad frame 9007" in text
    batch.apply({"result": {"type": "status", "task_id": "t7", "state": "SUCCEEDED"}})  # late: ended stays ended
    assert batch.counts["FAILED"] == 10 and len(batch.failures) == 10 <= FAILURES_SHOWN


class TestRetention:
    @pytest.fixture
    def extension_config(self) -> dict:
        return {"input_retention_hours": 1.0}

    @pytest.fixture
    def workspace(self, tmp_path: Path) -> Path:
        root = tmp_path / "ws"
        inputs = root / "resources" / "inputs"
        for name, age_hours in (("old", 3), ("fresh", 0.2), ("old-with-a-new-file", 3)):
            (inputs / name).mkdir(parents=True)
            (inputs / name / "input.png").write_bytes(b"\x89PNG")
            stamp = time.time() - age_hours * 3600
            os.utime(inputs / name / "input.png", (stamp, stamp))
            os.utime(inputs / name, (stamp, stamp))
        os.utime(inputs / "old-with-a-new-file" / "input.png")  # written now: the folder is in use
        return root

    async def test_old_input_folders_are_removed_at_start_and_fresh_ones_kept(self, api, workspace: Path):
        assert (await api("GET", "server"))[0] == 200  # the extension has started
        inputs = workspace / "resources" / "inputs"
        deadline = time.monotonic() + 30
        while (inputs / "old").exists():
            assert time.monotonic() < deadline, "the old input folder is still there"
            await asyncio.sleep(0.05)
        assert sorted(p.name for p in inputs.iterdir()) == ["fresh", "old-with-a-new-file"]


def test_pil_and_bytes_inputs_are_named_by_their_content(tmp_path: Path):
    from nndeploy_jupyter.notebook.inputs import encode_input

    buffer = io.BytesIO()
    Image.fromarray(picture(8, 8)).save(buffer, format="JPEG")
    assert encode_input(buffer.getvalue())[0] == "input.jpg"
    assert encode_input(b"RIFF....AVI ")[0] == "input.avi"
    local = tmp_path / "clip one.avi"
    local.write_bytes(b"RIFF....AVI ")
    assert encode_input(local) == ("clip one.avi", b"RIFF....AVI ")  # a local file, under its own name
    name, data = encode_input(Image.fromarray(picture(8, 8)))
    assert name == "input.png" and data.startswith(b"\x89PNG")
    grey = cv2.imdecode(np.frombuffer(encode_input(np.full((4, 5), 7, np.uint8))[1], np.uint8), cv2.IMREAD_UNCHANGED)
    assert grey.shape == (4, 5) and (grey == 7).all()
    rgb = picture(8, 8)
    back = cv2.imdecode(np.frombuffer(encode_input(rgb)[1], np.uint8), cv2.IMREAD_COLOR)
    assert (cv2.cvtColor(back, cv2.COLOR_BGR2RGB) == rgb).all()  # taken as RGB, as task.images() gives
    with pytest.raises(TypeError, match="HxWx3"):
        encode_input(np.zeros((2, 2, 2, 2), np.uint8))
    with pytest.raises(TypeError, match=r"a local file\), a numpy array, a PIL image or bytes, not float"):
        encode_input(3.5)
