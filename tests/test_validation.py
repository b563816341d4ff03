"""Graphs that would crash or mislead nndeploy are refused with 400 before they are queued.

No worker runs here (``max_workers = 0``): a refused graph must leave no task behind at all, and an accepted
one waits in the queue (where it can be cancelled; the history keeps the ``history_limit`` newest).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from graphs import OFFICIAL_TEMPLATES, canny_image_graph, classification_graph, node, synthetic_image


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


async def test_overrides_are_checked_against_the_node_catalogue(api, workspace: Path):
    graph = canny_image_graph(workspace)  # its graph is named "canny", its Canny node "Canny"
    refusals = [
        ({"Canny": {"low_threshold": "abc"}}, ["'Canny'", "'low_threshold'", "must be an integer", "'abc'"]),
        ({"Canny": {"low_threshold": None}}, ["'Canny'", "'low_threshold'", "not null"]),
        ({"Canny": {"return_num_channel": 1.5}}, ["'Canny'", "'return_num_channel'", "integer"]),
        ({"Canny": {"low_threshhold": 5}}, ["'Canny'", "no parameter 'low_threshhold'"]),
        ({"Canny": {"key_": "nndeploy::codec::OpenCvImageDecode"}}, ["'Canny'", "'key_'", "structure"]),
        ({"Encode": {"inputs_": []}}, ["'Encode'", "'inputs_'", "structure"]),
        ({"canny": {"loop_count_": "many"}}, ["'canny'", "'loop_count_'", "must be an integer"]),
        ({"canny": {"parallel_type_": "kParallelTypeSideways"}},
         ["'canny'", "'parallel_type_'", "kParallelTypePipeline", "'kParallelTypeSideways'"]),
        ({"canny": {"node_repository_": []}}, ["'canny'", "'node_repository_'", "structure"]),
        ({"canny": {"no_such_field_": 1}}, ["'canny'", "no parameter 'no_such_field_'"]),
    ]
    for params, expected in refusals:
        code, answer = await api("POST", "queue", {"graph": graph, "params": params})
        assert code == 400 and all(words in answer["message"] for words in expected), (params, answer)
    await _nothing_queued(api)

    accepted = {"Canny": {"low_threshold": 12, "high_threshold": 90}, "canny": {"loop_count_": 1}}
    code, answer = await api("POST", "queue", {"graph": graph, "params": accepted})
    assert code == 202, answer


async def test_inference_parameters_are_checked_inside_param_(api, workspace: Path):
    graph = classification_graph(workspace)
    infer = next(n["name_"] for n in graph["node_repository_"] if n["key_"] == "nndeploy::infer::Infer")
    refusals = [
        ({"param_": {"model_type_": "kModelTypeBogus"}}, ["'param_.model_type_'", "kModelTypeOnnx"]),
        ({"param_": {"num_thread_": "four"}}, ["'param_.num_thread_'", "integer"]),
        ({"param_": {"model_value_": "resources/models/tiny_resnet.onnx"}}, ["'param_.model_value_'", "a list"]),
        ({"param_": {"model_value_": [3]}}, ["'param_.model_value_'", "item", "a string"]),
        ({"param_": {"nope_": 1}}, ["no parameter 'param_.nope_'"]),
    ]
    for values, expected in refusals:
        code, answer = await api("POST", "queue", {"graph": graph, "params": {infer: values}})
        assert code == 400 and f"{infer!r}" in answer["message"], (values, answer)
        assert all(words in answer["message"] for words in expected), (values, answer["message"])
    await _nothing_queued(api)
    code, answer = await api("POST", "queue", {"graph": graph, "params": {infer: {"param_": {
        "num_thread_": 2, "min_shape_": {"data": [1, 3, 224, 224]}}}}})  # shapes are keyed by tensor name
    assert code == 202, answer


def _official_templates(workspace: Path) -> dict[str, dict]:
    """nndeploy's official templates as they ship, with the input images they read written in place."""
    templates = {}
    for path in sorted(OFFICIAL_TEMPLATES.glob("*.json")):
        template = json.loads(path.read_text())
        for entry in template["node_repository_"]:
            if entry.get("node_type_") == "Input":
                synthetic_image(workspace / entry["path_"])
        templates[path.stem] = template
    return templates


def _nodes(graph: dict) -> list[dict]:
    nodes, level = [], list(graph["node_repository_"])
    while level:
        nodes += level
        level = [child for n in level for child in n.get("node_repository_") or []]
    return nodes


# What names files in the official templates' nodes, as a user reads them: each is pointed outside resources/.
FILE_FIELDS = [("path_",), ("ref_path_",), ("param_", "model_value_"), ("param_", "external_model_data_")]
OUTSIDE = ["/etc/hostname", "resources/../../outside.onnx", "../outside.onnx"]


async def test_every_file_an_official_template_names_is_confined(api, workspace: Path):
    templates = _official_templates(workspace)
    assert {"Classification_ResNet", "Detect_YOLO"} <= set(templates)
    checked = 0
    for name, template in templates.items():
        code, answer = await api("POST", "queue", {"graph": template})
        assert code == 202, (name, answer)  # as shipped, they validate
        for entry in _nodes(template):
            for field in FILE_FIELDS:
                holder = entry.get(field[0]) if len(field) == 2 else entry
                if not isinstance(holder, dict) or field[-1] not in holder:
                    continue
                label = ".".join(field)
                for outside in OUTSIDE:
                    value = [outside] if isinstance(holder[field[-1]], list) else outside
                    override = {field[0]: {field[1]: value}} if len(field) == 2 else {field[0]: value}
                    code, answer = await api("POST", "queue", {"graph": template,
                                                                "params": {entry["name_"]: override}})
                    assert code == 400, (name, entry["name_"], label, outside, answer)
                    assert f"node {entry['name_']!r}" in answer["message"] and label in answer["message"], answer
                    checked += 1
    assert checked >= 2 * 4 * len(OUTSIDE)  # both templates: a model, its external data, an input, an output


async def test_path_parameters_of_catalogue_nodes_are_confined(api, workspace: Path):
    """Nodes with a model config, an embedding, a character table: their catalogue defaults, one path outside."""
    _, info = await api("GET", "dag/info")
    entities = {n["nodeEntity"]["key_"]: n["nodeEntity"] for n in info["result"]["nodes"] if "nodeEntity" in n}
    cases = [("nndeploy::llm::LlmInfer", ("config_path",)), ("nndeploy::qwen::QwenPrefill", ("config_path_",)),
             ("nndeploy::qwen::PrefillEmbeddingNode", ("param_", "embedding_file_")),
             ("nndeploy::ocr::RecognizerPostProcess", ("param_", "character_path_")),
             ("nndeploy::llm::Embedding", ("param_", "embedding_weight_path")),
             ("nndeploy::tokenizer::TokenizerEncodeCpp", ("param_", "vocab_blob_"))]  # is_path_: true
    for key, field in cases:
        entry = copy.deepcopy(entities[key])
        entry.update(name_="Extra", inputs_=[], outputs_=[], node_repository_=[])
        holder = entry[field[0]] if len(field) == 2 else entry
        inside = "resources/models/config.json"
        holder[field[-1]] = [inside] if isinstance(holder[field[-1]], list) else inside
        graph = canny_image_graph(workspace)
        graph["node_repository_"].append(entry)
        code, answer = await api("POST", "queue", graph)
        assert code == 202, (key, field, answer)
        holder[field[-1]] = ["/etc/hostname"] if isinstance(holder[field[-1]], list) else "/etc/hostname"
        code, answer = await api("POST", "queue", graph)
        assert code == 400 and "'Extra'" in answer["message"] and ".".join(field) in answer["message"], answer
        assert "outside" in answer["message"]

    composite = copy.deepcopy(entities["nndeploy::qwen::QwenPrefill"])  # inner nodes are checked too
    composite.update(name_="Prefill", inputs_=[], outputs_=[])
    inner = next(n for n in composite["node_repository_"] if "embedding_file_" in n.get("param_", {}))
    inner["param_"]["embedding_file_"] = "../../embedding.bin"
    graph = canny_image_graph(workspace)
    graph["node_repository_"].append(composite)
    code, answer = await api("POST", "queue", graph)
    assert code == 400 and f"node {inner['name_']!r}: param_.embedding_file_" in answer["message"], answer

    tokenizer = copy.deepcopy(entities["nndeploy::tokenizer::TokenizerEncodeCpp"])
    tokenizer.update(name_="Tokens", inputs_=[], outputs_=[])
    tokenizer["param_"].update(is_path_=False, vocab_blob_="/etc/hostname")  # the vocabulary itself, not a file
    graph["node_repository_"][-1] = tokenizer
    code, answer = await api("POST", "queue", graph)
    assert code == 202, answer
