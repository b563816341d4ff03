"""``python -m nndeploy_jupyter.schemas`` prints the JSON Schema the panel's TypeScript types are generated from:
it covers every event type and every task state, and what the server really sends validates against it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jsonschema
from mocks import fake_graph, queue_on

from nndeploy_jupyter.schemas import ErrorEvent, ModelDownloadDoneEvent
from nndeploy_jupyter.services.downloads import Progress

EVENT_TYPES = {"status", "progress", "log", "memory", "task_run_info", "system", "download_progress",
               "model_download_done", "error"}
STATES = ["PENDING", "DISPATCHED", "RUNNING", "SUCCEEDED", "FAILED", "CANCELLED", "INTERRUPTED"]


def exported() -> dict:
    printed = subprocess.run([sys.executable, "-m", "nndeploy_jupyter.schemas"], capture_output=True, text=True,
                             check=True, timeout=120).stdout
    return json.loads(printed)


def validator(schema: dict, name: str) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator({"$ref": f"#/$defs/{name}", "$defs": schema["$defs"]})


def test_the_exported_schema_covers_every_event_type_and_state():
    schema = exported()
    defs = schema["$defs"]
    assert schema["$schema"].endswith("2020-12/schema")
    assert defs["TaskState"]["enum"] == STATES
    typed = {d["properties"]["type"]["const"]: name for name, d in defs.items()
             if "const" in d.get("properties", {}).get("type", {})}
    assert set(typed) >= EVENT_TYPES
    mapping = defs["EventEnvelope"]["properties"]["result"]["discriminator"]["mapping"]
    assert set(mapping) == EVENT_TYPES
    assert {"flag", "message", "result"} == set(defs["EventEnvelope"]["required"])
    record = defs["TaskRecord"]
    assert record["properties"]["state"] == {"$ref": "#/$defs/TaskState"}
    assert {"task_id", "state", "error", "outputs", "cancel_requested"} <= set(record["required"])
    for name in ("QueueRequest", "ClientFrame", "History", "QueueInfo", "ErrorBody"):
        assert name in defs


async def test_what_the_server_sends_validates_against_the_schema(tmp_path: Path):
    schema = exported()
    async with queue_on(tmp_path) as h:
        done = await h.queue.submit(fake_graph("done", steps=2, logs=["a line"]))
        failed = await h.queue.submit(fake_graph("failed", error="it broke", outputs=[
            {"node": "Step", "path": "/tmp/x", "size": 1}]))
        await h.ends(failed)
        await h.queue.flush()
        records = [await h.queue.get(task_id) for task_id in (done, failed)]
        history = await h.queue.history(10)
        info = await h.queue.info()
        hub = h.queue.events
        progress = Progress(hub, "download-1", "resources/models/m.onnx")  # what a download job publishes
        progress.update(10, None)
        progress.update(20, 20, phase="done")
        progress.fail("the origin answered 404")
        hub.publish(ModelDownloadDoneEvent(task_id="download-1", detail={}, error="the origin answered 404"))
        hub.publish(ModelDownloadDoneEvent(task_id="download-2", detail={"model_url_.0": "resources/models/m.onnx"}))
        h.events.append(hub.stamp(ErrorEvent(), message="frame is not valid JSON"))
    assert {e.result.type for e in h.events} == EVENT_TYPES
    envelopes = validator(schema, "EventEnvelope")
    for envelope in h.events:
        envelopes.validate(json.loads(envelope.wire()))
    for record in records:
        validator(schema, "TaskRecord").validate(record.model_dump(mode="json"))
    validator(schema, "History").validate(history.model_dump(mode="json"))
    validator(schema, "QueueInfo").validate(info.model_dump(mode="json"))
    assert records[1].state == "FAILED" and records[1].outputs[0].partial
