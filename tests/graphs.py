"""Graphs and inputs the tests build for themselves: nndeploy graph JSON, synthetic media, plugins, models.

Every builder takes the workspace root (the folder holding ``resources/``), writes the inputs it needs under
``resources/`` and returns a graph in nndeploy's JSON shape (what its frontend sends) whose paths are relative
to the workspace, as upstream templates name them. Nothing here imports nndeploy: the server side of the
tests never does, only workers.

- :func:`canny_image_graph`: image decode -> Canny -> image encode (built-in nodes, one iteration).
- :func:`video_graph`: MJPG ``.avi`` decode -> [plugin nodes] -> Canny -> ``.avi`` encode, one iteration per frame.
- :func:`fault_graph`: an image or video graph with one :data:`FAULT_PLUGIN` node that misbehaves on demand
  (sleeps, slow init, raise, segfault, abort, exit, hang). :func:`write_fault_plugin` installs the plugin.
- :func:`value_graph`: a String output (nndeploy's ``memory`` values), no files.
- :func:`classification_graph`: the official Classification_ResNet template, rewritten to run offline on a
  tiny ONNX model (:func:`tiny_classifier_onnx`) whose top-1 is always class 281.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

# The official templates live in the team's shared/ folder, which sits beside every checkout (CI's included).
OFFICIAL_TEMPLATES = next(
    (p for p in (Path(__file__).resolve().parents[2] / "shared", Path("/work/shared")) if p.is_dir()),
    Path(__file__).resolve().parents[2] / "shared",
) / "fixtures" / "official-templates"
FAULT_KEY = "tests.Fault"
TINY_CLASSIFIER_TOP1 = 281


# --- graph JSON ---------------------------------------------------------------------------------------

def node(key: str, name: str, node_type: str = "Intermediate", inputs: list[str] = (), outputs: int = 1,
         **fields: Any) -> dict[str, Any]:
    """A node entry of ``node_repository_``; ``inputs`` are producer edge names (``"<node>@output_0"``)."""
    return {
        "key_": key, "name_": name, "desc_": "", "device_type_": "kDeviceTypeCodeCpu:0",
        "is_dynamic_input_": False, "is_dynamic_output_": False, "node_type_": node_type,
        "inputs_": [{"desc_": f"input_{i}", "name_": edge, "type_": "ndarray"} for i, edge in enumerate(inputs)],
        "outputs_": [{"desc_": f"output_{i}", "name_": f"{name}@output_{i}", "type_": "ndarray"}
                     for i in range(outputs)],
        "node_repository_": [], **fields,
    }


def graph(name: str, nodes: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "key_": "nndeploy.dag.Graph", "name_": name, "desc_": "", "device_type_": "kDeviceTypeCodeCpu:0",
        "is_dynamic_input_": False, "inputs_": [], "is_dynamic_output_": False, "outputs_": [], "is_graph_": True,
        "parallel_type_": "kParallelTypeNone", "is_inner_": False, "node_type_": "Intermediate",
        "is_loop_max_flag_": True, "loop_count_": -1, "node_repository_": nodes,
    }


def chain(name: str, nodes: list[dict[str, Any]]) -> dict[str, Any]:
    """A linear graph: each node consumes the previous node's output."""
    for previous, current in zip(nodes, nodes[1:], strict=False):
        current["inputs_"] = [{"desc_": "input_0", "name_": f"{previous['name_']}@output_0", "type_": "ndarray"}]
    nodes[-1]["outputs_"] = []
    return graph(name, nodes)


def image_decode(name: str, path: str) -> dict[str, Any]:
    return node("nndeploy::codec::OpenCvImageDecode", name, "Input", io_type_="Image", path_=path)


def image_encode(name: str, path: str) -> dict[str, Any]:
    return node("nndeploy::codec::OpenCvImageEncode", name, "Output", io_type_="Image", path_=path)


def video_decode(name: str, path: str) -> dict[str, Any]:
    return node("nndeploy::codec::OpenCvVideoDecode", name, "Input", io_type_="Video", path_=path)


def video_encode(name: str, path: str, ref_path: str) -> dict[str, Any]:
    return node("nndeploy::codec::OpenCvVideoEncode", name, "Output", io_type_="Video", path_=path,
                ref_path_=ref_path, fourcc_="MJPG")


def canny(name: str = "Canny") -> dict[str, Any]:
    return node("nndeploy.image.CannyNumpy", name, low_threshold=80, high_threshold=160, return_num_channel=3)


def fault(name: str = "Fault", **params: Any) -> dict[str, Any]:
    """A :data:`FAULT_PLUGIN` node; params: ``fault`` (none|raise|sys_exit|segfault|abort|exit|hang), ``at_call``
    (1-based call of run() that misbehaves), ``sleep_ms`` (per call), ``init_sleep_ms``, ``print_lines``
    (per call, ``print_width`` characters long, with no newline if ``print_unfinished``)."""
    return node(FAULT_KEY, name, **params)


# --- synthetic inputs ----------------------------------------------------------------------------------

def synthetic_image(path: Path, width: int = 160, height: int = 120) -> Path:
    import cv2
    import numpy as np

    path.parent.mkdir(parents=True, exist_ok=True)
    image = np.zeros((height, width, 3), np.uint8)
    cv2.rectangle(image, (width // 4, height // 4), (3 * width // 4, 3 * height // 4), (255, 200, 50), -1)
    cv2.circle(image, (width // 2, height // 2), min(width, height) // 6, (20, 40, 230), -1)
    assert cv2.imwrite(str(path), image)
    return path


def synthetic_video(path: Path, frames: int = 30, width: int = 160, height: int = 120) -> Path:
    """An MJPG ``.avi`` (nndeploy's bundled OpenCV has no FFmpeg, so no mp4): a square moving across."""
    import cv2
    import numpy as np

    path.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 30, (width, height))
    for i in range(frames):
        frame = np.zeros((height, width, 3), np.uint8)
        x = (i * 4) % (width - 20)
        cv2.rectangle(frame, (x, height // 3), (x + 20, height // 3 + 20), (255, 255, 255), -1)
        writer.write(frame)
    writer.release()
    return path


# --- graphs --------------------------------------------------------------------------------------------

def canny_image_graph(workspace: Path, name: str = "canny") -> dict[str, Any]:
    """Image -> Canny -> ``resources/images/<name>.out.jpg``; writes its input image."""
    synthetic_image(workspace / "resources" / "images" / f"{name}.in.jpg")
    return chain(name, [image_decode("Decode", f"resources/images/{name}.in.jpg"), canny(),
                        image_encode("Encode", f"resources/images/{name}.out.jpg")])


def video_graph(workspace: Path, frames: int = 30, name: str = "video", middle: list[dict] = ()) -> dict[str, Any]:
    """``frames``-frame MJPG video -> ``middle`` nodes -> Canny -> ``resources/videos/<name>.out.avi``."""
    source = f"resources/videos/{name}.in.avi"
    synthetic_video(workspace / source, frames)
    return chain(name, [video_decode("VideoDecode", source), *copy.deepcopy(list(middle)), canny(),
                        video_encode("VideoEncode", f"resources/videos/{name}.out.avi", source)])


def fault_graph(workspace: Path, name: str = "fault", frames: int | None = None, **params: Any) -> dict[str, Any]:
    """An image graph (or, with ``frames``, a video graph) with one Fault node (see :func:`fault`)."""
    if frames is not None:
        return video_graph(workspace, frames, name, [fault(**params)])
    synthetic_image(workspace / "resources" / "images" / f"{name}.in.jpg")
    return chain(name, [image_decode("Decode", f"resources/images/{name}.in.jpg"), fault(**params),
                        image_encode("Encode", f"resources/images/{name}.out.jpg")])


def value_graph(text: str = "hello from nndeploy") -> dict[str, Any]:
    """A String into ConsolePrintNode: a small value output (upstream's ``memory``), no files.

    (Values on C++-typed edges, e.g. OutputCppNum's double, are not readable from Python.)"""
    return graph("values", [
        node("nndeploy.basic.InputStr", "Text", "Input", io_type_="String", str_=text),
        node("nndeploy.basic.ConsolePrintNode", "Print", "Output", ["Text@output_0"], outputs=0, io_type_="String"),
    ])


def classification_graph(workspace: Path) -> dict[str, Any]:
    """The official Classification_ResNet template on a synthetic image and the tiny ONNX classifier.

    Only paths change (as a user would point it at their files): input image, output image, model.
    """
    template = json.loads((OFFICIAL_TEMPLATES / "Classification_ResNet.json").read_text())
    synthetic_image(workspace / "resources" / "images" / "cls.in.jpg", 640, 480)
    tiny_classifier_onnx(workspace / "resources" / "models" / "tiny_resnet.onnx")
    for entry in template["node_repository_"]:
        if entry["key_"] == "nndeploy::codec::OpenCvImageDecode":
            entry["path_"] = "resources/images/cls.in.jpg"
        elif entry["key_"] == "nndeploy::codec::OpenCvImageEncode":
            entry["path_"] = "resources/images/cls.out.jpg"
        elif entry["key_"] == "nndeploy::infer::Infer":
            entry["param_"]["model_value_"] = ["resources/models/tiny_resnet.onnx"]
    return template


# --- models --------------------------------------------------------------------------------------------

def tiny_classifier_onnx(path: Path) -> Path:
    """``data`` [1,3,224,224] -> [1,1000]: global average pool then a linear layer whose bias makes class
    :data:`TINY_CLASSIFIER_TOP1` win. IR 8 (nndeploy's onnxruntime 1.18 reads IR <= 10)."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    weights = np.full((3, 1000), 0.01, np.float32)
    bias = np.zeros(1000, np.float32)
    bias[TINY_CLASSIFIER_TOP1] = 12.0
    model_graph = helper.make_graph(
        [helper.make_node("GlobalAveragePool", ["data"], ["pooled"]),
         helper.make_node("Flatten", ["pooled"], ["flat"]),
         helper.make_node("Gemm", ["flat", "weights", "bias"], ["logits"])],
        "tiny_classifier",
        [helper.make_tensor_value_info("data", TensorProto.FLOAT, [1, 3, 224, 224])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 1000])],
        [numpy_helper.from_array(weights, "weights"), numpy_helper.from_array(bias, "bias")],
    )
    model = helper.make_model(model_graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
    return path


# --- plugins -------------------------------------------------------------------------------------------

FAULT_PLUGIN = f'''
"""Test plugin: a pass-through ndarray node that misbehaves on demand (see tests/graphs.py)."""
import ctypes, json, os, time
import nndeploy.base, nndeploy.dag
import numpy as np


class Fault(nndeploy.dag.Node):
    def __init__(self, name, inputs=None, outputs=None):
        super().__init__(name, inputs, outputs)
        self.set_key("{FAULT_KEY}")
        self.set_input_type(np.ndarray)
        self.set_output_type(np.ndarray)
        self.params = {{"fault": "none", "at_call": 1, "sleep_ms": 0, "init_sleep_ms": 0, "print_lines": 0,
                       "print_width": 10, "print_unfinished": False}}
        self.calls = 0

    def init(self):
        time.sleep(self.params["init_sleep_ms"] / 1000)
        return nndeploy.base.Status.ok()

    def run(self):
        self.calls += 1
        for line in range(self.params["print_lines"]):
            print(f"call {{self.calls}} line {{line}} " + "x" * self.params["print_width"],
                  end="" if self.params["print_unfinished"] else "\\n")
        time.sleep(self.params["sleep_ms"] / 1000)
        if self.calls == self.params["at_call"]:
            fault = self.params["fault"]
            if fault == "raise":
                raise RuntimeError(f"deliberate exception at call {{self.calls}}")
            if fault == "segfault":
                ctypes.string_at(0)
            if fault == "abort":
                os.abort()
            if fault == "exit":
                os._exit(3)
            if fault == "sys_exit":
                raise SystemExit(2)
            if fault == "hang":
                while True:
                    time.sleep(1)
        self.get_output(0).set(self.get_input(0).get(self))
        return nndeploy.base.Status.ok()

    def serialize(self):
        return json.dumps({{**json.loads(super().serialize()), **self.params}})

    def deserialize(self, target):
        entry = json.loads(target)
        self.params.update({{k: entry[k] for k in self.params if k in entry}})
        return super().deserialize(target)


class FaultCreator(nndeploy.dag.NodeCreator):
    def create_node(self, name, inputs, outputs):
        self.node = Fault(name, inputs, outputs)
        return self.node


fault_creator = FaultCreator()
nndeploy.dag.register_node("{FAULT_KEY}", fault_creator)
'''

BROKEN_PLUGIN = "import nndeploy.dag\n\ndef run(:\n"  # a SyntaxError


def simple_plugin(key: str, run_body: str) -> str:
    """Source of a plugin file with one ndarray node registered as ``key`` whose ``run()`` is ``run_body``
    (indented by the caller's text, eight spaces deep); :data:`PASS_THROUGH` forwards the frame."""
    return f'''
import time
import nndeploy.base, nndeploy.dag, numpy as np

class Node(nndeploy.dag.Node):
    def __init__(self, name, inputs=None, outputs=None):
        super().__init__(name, inputs, outputs)
        self.set_key("{key}")
        self.set_input_type(np.ndarray)
        self.set_output_type(np.ndarray)

    def run(self):
{run_body}

class Creator(nndeploy.dag.NodeCreator):
    def create_node(self, name, inputs, outputs):
        self.node = Node(name, inputs, outputs)
        return self.node

creator = Creator()
nndeploy.dag.register_node("{key}", creator)
'''


PASS_THROUGH = """\
        self.get_output(0).set(self.get_input(0).get(self))
        return nndeploy.base.Status.ok()"""


def write_fault_plugin(plugin_dir: Path) -> Path:
    plugin_dir.mkdir(parents=True, exist_ok=True)
    path = plugin_dir / "fault_nodes.py"
    path.write_text(FAULT_PLUGIN)
    return path


def write_broken_plugin(plugin_dir: Path) -> Path:
    plugin_dir.mkdir(parents=True, exist_ok=True)
    path = plugin_dir / "broken_nodes.py"
    path.write_text(BROKEN_PLUGIN)
    return path
