"""Workflows through the REST API, as nndeploy's frontend and our clients use them."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from nndeploy_jupyter.workspace import FILE_MODE


def graph(name: str, **extra) -> dict:
    return {"key_": "nndeploy.dag.Graph", "name_": name, "desc_": "a test graph", "node_repository_": [], **extra}


def _nested(depth: int) -> list:
    value: list = []
    for _ in range(depth):
        value = [value]
    return value


async def save(api, content, workflow_id=None):
    body = {"businessContent": content} if workflow_id is None else {"id": workflow_id, "businessContent": content}
    return await api("POST", "workflow/save", body)


async def test_save_list_get_download_delete(api, workspace: Path):
    code, body = await save(api, graph("edges", developer_="me"))
    assert (code, body["flag"], body["message"]) == (200, "success", "created")
    wid = body["result"]["id"]
    assert (workspace / "resources" / "workflow" / "edges.json").is_file()
    assert (workspace / "resources" / "workflow" / "edges.json").stat().st_mode & 0o777 == FILE_MODE

    code, body = await api("GET", "workflows")
    assert code == 200
    assert [(w["id"], w["name_"], w["developer_"], w["desc_"]) for w in body["result"]] == [
        (wid, "edges", "me", "a test graph")
    ]

    code, body = await api("GET", f"workflow/{wid}")
    assert code == 200 and body["result"]["name_"] == "edges"

    response = await api("GET", f"workflow/download/{wid}", raw=True)
    assert response.code == 200
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["Content-Disposition"].startswith('attachment; filename="edges.json"')
    assert json.loads(response.body)["name_"] == "edges"

    code, body = await api("POST", f"workflow/delete/{wid}")
    assert code == 200 and body["flag"] == "success"
    assert not (workspace / "resources" / "workflow" / "edges.json").exists()
    code, body = await api("GET", f"workflow/{wid}")
    assert code == 404 and body["flag"] == "error"


async def test_business_content_may_be_a_json_string(api):
    code, body = await save(api, json.dumps(graph("as-string")))
    assert code == 200
    code, body = await api("GET", f"workflow/{body['result']['id']}")
    assert body["result"]["name_"] == "as-string"


async def test_update_same_name_overwrites_and_rename_moves_the_file(api, workspace: Path):
    folder = workspace / "resources" / "workflow"
    _, body = await save(api, graph("first"))
    wid = body["result"]["id"]
    code, body = await save(api, graph("first", desc_="changed"), wid)
    assert (code, body["message"], body["result"]["id"]) == (200, "updated", wid)
    assert json.loads((folder / "first.json").read_text())["desc_"] == "changed"

    code, body = await save(api, graph("second"), wid)
    assert (code, body["result"]["id"]) == (200, wid)
    assert sorted(p.name for p in folder.iterdir()) == ["second.json"]  # renamed, not forked
    _, body = await api("GET", "workflows")
    assert [w["name_"] for w in body["result"]] == ["second"]


async def test_a_taken_name_is_suffixed_as_its_file_is(api, workspace: Path):
    _, first = await save(api, graph("same", desc_="one"))
    _, second = await save(api, graph("same", desc_="two"))
    assert first["result"]["id"] != second["result"]["id"]
    assert first["message"] == "created"
    assert second["message"] == "created as 'same (1)' ('same' is another workflow's name)"
    _, one = await api("GET", f"workflow/{first['result']['id']}")
    _, two = await api("GET", f"workflow/{second['result']['id']}")
    assert (one["result"]["name_"], one["result"]["desc_"]) == ("same", "one")
    assert (two["result"]["name_"], two["result"]["desc_"]) == ("same (1)", "two")
    assert sorted(p.name for p in (workspace / "resources" / "workflow").iterdir()) == ["same (1).json", "same.json"]

    _, third = await save(api, graph("other"))
    code, renamed = await save(api, graph("same", desc_="three"), third["result"]["id"])  # renamed onto a taken name
    assert code == 200 and renamed["message"] == "updated as 'same (2)' ('same' is another workflow's name)"
    code, again = await save(api, graph("same", desc_="3b"), third["result"]["id"])  # its own "same (2)" is free
    assert code == 200 and "as 'same (2)'" in again["message"]
    _, listed = await api("GET", "workflows")
    assert sorted(w["name_"] for w in listed["result"]) == ["same", "same (1)", "same (2)"]
    assert sorted(p.name for p in (workspace / "resources" / "workflow").iterdir()) == [
        "same (1).json", "same (2).json", "same.json"]


async def test_upload_a_workflow_file(api):
    body = (
        b"--XX\r\nContent-Disposition: form-data; name=\"file\"; filename=\"up.json\"\r\n"
        b"Content-Type: application/json\r\n\r\n" + json.dumps(graph("uploaded")).encode() + b"\r\n--XX--\r\n"
    )
    code, result = await api("POST", "workflow/upload", body,
                             headers={"Content-Type": "multipart/form-data; boundary=XX"})
    assert code == 201, result
    _, listed = await api("GET", "workflows")
    assert [w["name_"] for w in listed["result"]] == ["uploaded"]


async def test_files_dropped_into_the_folder_are_listed_and_removed_ones_dropped(api, workspace: Path):
    folder = workspace / "resources" / "workflow"
    await api("GET", "workflows")  # the workspace exists once the server has started
    (folder / "by-hand.json").write_text(json.dumps(graph("by hand")))
    (folder / "notes.json").write_text("[1, 2]")  # not a workflow: ignored, left alone
    (folder / os.fsdecode(b"\xb2\xe2.json")).write_text(json.dumps(graph("gbk")))  # not UTF-8: once a 500
    (folder / "deep.json").write_text('{"name_": "deep", "x": ' + "[" * 5000 + "]" * 5000 + "}")  # once a 500
    _, body = await api("GET", "workflows")
    assert [w["name_"] for w in body["result"]] == ["by hand"]
    (folder / "by-hand.json").unlink()
    _, body = await api("GET", "workflows")
    assert body["result"] == []
    assert (folder / "notes.json").exists()


BAD_SAVES = [
    (b"{not json", 400, "not valid JSON"),
    (b"", 400, "empty"),
    (b"[1, 2]", 400, "invalid request"),
    (json.dumps({"businessContent": {"node_repository_": []}}), 400, "name_"),
    (json.dumps({"businessContent": graph("")}), 400, "name_"),
    (json.dumps({"businessContent": graph("../../escape")}), 400, "name_"),
    (json.dumps({"businessContent": graph("a/b")}), 400, "name_"),
    (json.dumps({"businessContent": graph("a\\b")}), 400, "name_"),
    (json.dumps({"businessContent": graph("dots..inside")}), 400, "name_"),
    (json.dumps({"businessContent": graph(".hidden")}), 400, "name_"),
    (json.dumps({"businessContent": graph("two\nlines")}), 400, "control characters"),
    (json.dumps({"businessContent": graph("tab\there")}), 400, "control characters"),
    (json.dumps({"businessContent": "[1]"}), 400, "JSON object"),
    (json.dumps({"businessContent": "{oops"}), 400, "not valid JSON"),
    (json.dumps({"businessContent": 42}), 400, "businessContent"),
    (json.dumps({"id": "no-such-id", "businessContent": graph("x")}), 404, "no-such-id"),
    ("[" * 1500 + "]" * 1500, 400, "nested"),  # once a RecursionError: 500
    ('{"businessContent": {"name_": "x\\udcff", "node_repository_": []}}', 400, "not valid Unicode"),  # once 500
    (json.dumps({"businessContent": graph("deep", x=_nested(150))}), 400, "nested"),
    (json.dumps({"businessContent": "[" * 1500 + "]" * 1500}), 400, "nested"),
]


@pytest.mark.parametrize("raw, status, reason", BAD_SAVES)
async def test_bad_saves_get_a_reason_and_write_nothing(api, workspace: Path, raw, status, reason):
    code, body = await api("POST", "workflow/save", raw)
    assert code == status
    assert body["flag"] == "error" and reason in body["message"]
    written = [p for p in workspace.rglob("*") if p.is_file() and p.suffix == ".json"]
    assert written == []
    assert not list(workspace.parent.glob("escape*"))


@pytest.mark.parametrize("path, method", [
    ("workflow/unknown-id", "GET"), ("workflow/download/unknown-id", "GET"), ("workflow/delete/unknown-id", "POST"),
])
async def test_unknown_ids_are_404(api, path, method):
    code, body = await api(method, path)
    assert code == 404 and body["flag"] == "error" and "unknown-id" in body["message"]


@pytest.fixture
def extension_config():
    return {"max_json_bytes": 4096}


async def test_a_body_over_the_limit_is_413(api, workspace: Path):
    code, body = await api("POST", "workflow/save", {"businessContent": graph("big", desc_="x" * 5000)})
    assert code == 413 and "limit" in body["message"]
    assert not (workspace / "resources" / "workflow" / "big.json").exists()


async def test_upload_of_a_non_json_file_is_refused(api):
    body = (b"--XX\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x.py\"\r\n\r\nprint(1)\r\n--XX--\r\n")
    code, result = await api("POST", "workflow/upload", body,
                             headers={"Content-Type": "multipart/form-data; boundary=XX"})
    assert code == 400 and ".json" in result["message"]
