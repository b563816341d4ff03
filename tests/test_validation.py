"""Graphs that would crash or mislead nndeploy are refused with 400 before they are queued.

No worker runs here (``max_workers = 0``): a refused graph must leave no task behind at all, and an accepted
one waits in the queue (where it can be cancelled; the history keeps the ``history_limit`` newest).
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
from graphs import canny_image_graph, node


@pytest.fixture
def extension_config() -> dict:
    return {"max_workers": 0, "history_limit": 3}


def _edge(name: str) -> dict:
    return {"desc_": "input_0", "name_": name, "type_": "ndarray"}


def _malformed(good: dict) -> list[tuple[str, object, str]]:
    """(case, body, words the 400 reason must contain)."""
    cases: list[tuple[str, object, str]] = [
        ("not an object", [good], "JSON object"),
        ("no node_repository_", {"name_": "x"}, "node_repository_"),
        ("no nodes", {**good, "node_repository_": []}, "no nodes"),
    ]

    def variant(case: str, change, expected: str) -> None:
        graph = copy.deepcopy(good)
        change(graph["node_repository_"])
        cases.append((case, graph, expected))

    variant("duplicate names", lambda nodes: nodes[2].update(name_="Canny"), "'Canny'")
    variant("missing key", lambda nodes: nodes[1].pop("key_"), "'Canny' has no key_")
    variant("unknown key", lambda nodes: nodes[1].update(key_="nope::Nothing"), "'nope::Nothing'")
    variant("dangling edge", lambda nodes: nodes[2].update(inputs_=[_edge("Ghost@output_0")]), "'Ghost@output_0'")
    variant("cycle", lambda nodes: nodes[0].update(inputs_=[_edge("Canny@output_0")]), "cycle")
    variant("self loop", lambda nodes: nodes[1].update(inputs_=[_edge("Canny@output_0")]), "cycle")
    variant("missing input file", lambda nodes: nodes[0].update(path_="resources/images/absent.jpg"), "does not exist")
    variant("input outside resources", lambda nodes: nodes[0].update(path_="/etc/hostname"), "outside")
    variant("input climbing out", lambda nodes: nodes[0].update(path_="resources/../../x.jpg"), "'Decode'")
    variant("output folder missing", lambda nodes: nodes[2].update(path_="resources/nowhere/out.jpg"), "folder")
    variant("output outside resources", lambda nodes: nodes[2].update(path_="/tmp/out.jpg"), "'Encode'")
    variant("empty path", lambda nodes: nodes[0].update(path_=""), "path_ must be a non-empty path")
    variant("output relabelled Intermediate, writing outside",
            lambda nodes: nodes[2].update(node_type_="Intermediate", path_="/tmp/out.jpg"), "'Encode'")
    variant("output without node_type_, writing outside",
            lambda nodes: (nodes[2].pop("node_type_"), nodes[2].update(path_="resources/../../out.jpg")), "'Encode'")
    variant("input relabelled, reading outside",
            lambda nodes: nodes[0].update(node_type_="Intermediate", path_="/etc/hostname"), "outside")
    variant("param_.path_ outside", lambda nodes: nodes[2].update(param_={"path_": "/tmp/out.txt"}), "outside")
    variant("reference outside resources", lambda nodes: nodes[2].update(ref_path_="/etc/hostname"), "outside")
    variant("nested unknown key",
            lambda nodes: nodes[1].update(node_repository_=[node("nope::Inner", "inner")]), "inside 'Canny'")
    variant("nested cycle", lambda nodes: nodes[1].update(node_repository_=[
        node("nndeploy.image.CannyNumpy", "a", inputs=["b@output_0"]),
        node("nndeploy.image.CannyNumpy", "b", inputs=["a@output_0"])]), "cycle")
    return cases


async def _nothing_queued(api) -> None:
    _, info = await api("GET", "queue/info")
    _, history = await api("GET", "queue/history")
    assert info["result"] == {"running": [], "dispatched": [], "pending": []}
    assert history["result"]["total"] == 0


async def test_every_malformed_graph_is_refused_and_never_queued(api, workspace: Path):
    good = canny_image_graph(workspace)
    for case, body, expected in _malformed(good):
        code, answer = await api("POST", "queue", body)
        assert code == 400, (case, answer)
        assert answer["flag"] == "error" and expected in answer["message"], (case, answer["message"])
    await _nothing_queued(api)


async def test_a_valid_graph_waits_in_the_queue(api, workspace: Path):
    graph = canny_image_graph(workspace)
    graph["node_repository_"][1]["node_repository_"] = [  # a composite node's inner graph is checked too
        node("nndeploy.image.CannyNumpy", "inner", inputs=["Canny@input_0"])]
    code, answer = await api("POST", "queue", graph, params={"priority": 7})
    assert code == 202 and answer["flag"] == "success"
    task_id = answer["result"]["task_id"]
    code, task = await api("GET", f"queue/{task_id}")
    assert code == 200
    assert task["result"]["state"] == "PENDING" and task["result"]["priority"] == 7
    assert task["result"]["name"] == "canny" and task["result"]["ts_submit"] > 0
    _, info = await api("GET", "queue/info")
    assert [t["task_id"] for t in info["result"]["pending"]] == [task_id]


async def test_parameter_overrides_apply_before_validation(api, workspace: Path):
    graph = canny_image_graph(workspace)
    code, saved = await api("POST", "workflow/save", {"businessContent": graph})
    assert code == 200
    workflow_id = saved["result"]["id"]

    refusals = [
        ({"workflow_id": workflow_id, "params": {"Ghost": {"path_": "x"}}}, "no node named 'Ghost'"),
        ({"workflow_id": workflow_id, "params": {"Decode": {"pth_": "x"}}}, "no parameter 'pth_'"),
        ({"workflow_id": workflow_id, "params": {"Decode": {"path_": "resources/images/absent.jpg"}}},
         "does not exist"),
        ({"workflow_id": workflow_id, "params": {"Encode": {"node_type_": "Intermediate", "path_": "/tmp/x.jpg"}}},
         "outside"),
        ({"workflow_id": workflow_id, "template_id": "x"}, "exactly one"),
        ({"workflow_id": workflow_id, "priority": "high"}, "priority"),
        ({"workflow_id": workflow_id, "colour": "red"}, "colour"),
        ({"workflow_id": "no-such-workflow"}, "no workflow"),
    ]
    for body, expected in refusals:
        code, answer = await api("POST", "queue", body)
        assert code in (400, 404) and expected in answer["message"], (body, answer)
    code, answer = await api("POST", "queue", graph, params={"priority": "soon"})
    assert code == 400 and "priority" in answer["message"]
    await _nothing_queued(api)

    code, answer = await api("POST", "queue", {"workflow_id": "canny", "priority": 3,
                                                "params": {"Canny": {"low_threshold": 10}}})
    assert code == 202
    _, task = await api("GET", f"queue/{answer['result']['task_id']}")
    assert task["result"]["source"] == f"workflow:{workflow_id}"
    assert task["result"]["params"] == {"Canny": {"low_threshold": 10}} and task["result"]["priority"] == 3

    code, answer = await api("POST", "queue", {"graph": graph, "params": {"Canny": {"high_threshold": 99}}})
    assert code == 202  # an inline graph takes overrides too
    _, task = await api("GET", f"queue/{answer['result']['task_id']}")
    assert task["result"]["source"] is None and task["result"]["params"] == {"Canny": {"high_threshold": 99}}
    code, answer = await api("POST", "queue", {"graph": graph, "params": {"Canny": {"nope": 1}}})
    assert code == 400 and "no parameter 'nope'" in answer["message"]


async def test_every_shipped_template_queues_by_id(api):
    _, templates = await api("GET", "template")
    assert templates["result"], "the package ships templates"
    for template in templates["result"]:
        code, answer = await api("POST", "queue", {"template_id": template["id"]})
        assert code == 202, (template["name_"], answer)
        _, task = await api("GET", f"queue/{answer['result']['task_id']}")
        assert task["result"]["source"] == f"template:{template['id']}"


async def test_pending_tasks_cancel_and_the_history_keeps_the_newest(api, workspace: Path):
    graph = canny_image_graph(workspace)
    task_ids = []
    for _ in range(5):
        task_ids.append((await api("POST", "queue", graph))[1]["result"]["task_id"])
    for task_id in task_ids[:4]:
        code, answer = await api("POST", f"queue/cancel/{task_id}")
        assert code == 200 and answer["result"]["state"] == "CANCELLED"
    code, answer = await api("POST", "queue/flush")
    assert code == 200 and answer["result"]["cancelled"] == task_ids[4:]
    _, history = await api("GET", "queue/history")
    assert history["result"]["total"] == 3
    assert [t["task_id"] for t in history["result"]["items"]] == task_ids[:1:-1]
    code, _ = await api("GET", f"queue/{task_ids[0]}")
    assert code == 404  # trimmed from the history
