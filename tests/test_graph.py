"""The nndeploy graph document in a real JupyterLab, driven by Debian's Chromium: each test is a user's story."""

from __future__ import annotations

import copy
import itertools
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from graphs import OFFICIAL_TEMPLATES
from jupyter_process import JupyterProcess
from lab_browser import REQUIRES_BROWSER, keep_screenshot, open_lab, start_lab

pytestmark = REQUIRES_BROWSER

BUILTIN = Path(__file__).resolve().parents[1] / "nndeploy_jupyter" / "templates"
GRAPH = ".jp-NndeployGraph"
WORKFLOWS = "nndeploy/resources/workflow"  # the workflow folder as Jupyter's file browser names it


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("graph")


@pytest.fixture(scope="module")
def workspace(root: Path) -> Path:
    """The workspace inside Jupyter's root, so its workflow files show in the file browser."""
    return root / "notebooks" / "nndeploy"


@pytest.fixture(scope="module")
def lab(root: Path, workspace: Path) -> Iterator[JupyterProcess]:
    (workspace / "resources" / "workflow").mkdir(parents=True)
    server = start_lab(root, True, "--LabApp.expose_app_in_browser=True", workspace=workspace)
    yield server
    server.stop()


def save_workflow(workspace: Path, graph: dict, filename: str | None = None) -> Path:
    path = workspace / "resources" / "workflow" / (filename or f"{graph['name_']}.json")
    path.write_text(json.dumps(graph, indent=2))
    return path


def builtin(name: str) -> dict:
    return json.loads(next(BUILTIN.glob(f"*/{name}.json")).read_text())


def workflow_id(lab: JupyterProcess, name: str) -> str:
    workflows = lab.get("nndeploy/api/workflows")["result"]
    return next(w["id"] for w in workflows if w["name_"] == name)


def run_command(page, command: str, args: dict | None = None) -> None:
    page.wait_for_function("c => window.jupyterapp?.commands.hasCommand(c)", arg=command)
    page.evaluate("([c, a]) => window.jupyterapp.commands.execute(c, a)", [command, args or {}])


def open_graph(page, lab: JupyterProcess, name: str):
    """Open a saved workflow as a graph, as the panel's "Open as graph" does; the graph's editor."""
    run_command(page, "nndeploy:open-graph", {"workflowId": workflow_id(lab, name)})
    editor = page.locator(f"{GRAPH} .jp-NndeployGraph-editor:visible")
    editor.locator(".react-flow__node").first.wait_for()
    return editor


def nodes_on_screen(editor) -> set[str]:
    return set(editor.locator(".react-flow__node").evaluate_all("ns => ns.map(n => n.dataset.id)"))


def edges_on_screen(editor) -> set[str]:
    return set(editor.locator(".react-flow__edge").evaluate_all("es => es.map(e => e.getAttribute('aria-label'))"))


def edges_of(graph: dict) -> set[str]:
    """The edges the JSON says: each input reading a name some node outputs, as the canvas labels them."""
    produced = {p["name_"] for n in graph["node_repository_"] for p in n["outputs_"]}
    return {f"Edge {p['name_']} to {n['name_']}" for n in graph["node_repository_"] for p in n["inputs_"]
            if p["name_"] in produced}


def without_layout(graph: dict) -> dict:
    return {k: v for k, v in graph.items() if k != "nndeploy_ui_layout"}


def test_video_edge_detection_opens_is_edited_in_its_form_saved_and_run(browser, lab, workspace: Path):
    original = builtin("Video_Edge_Detection")
    path = save_workflow(workspace, original)
    page = open_lab(browser, lab)
    editor = open_graph(page, lab, "Video_Edge_Detection")

    assert nodes_on_screen(editor) == {n["name_"] for n in original["node_repository_"]}
    assert edges_on_screen(editor) == edges_of(original) and len(edges_of(original)) == 2
    keep_screenshot(page, "graph-video-edge-detection")

    editor.locator('.react-flow__node[data-id="Canny"]').click()
    form = editor.locator('aside[aria-label="Properties of Canny"]')
    form.get_by_label("low_threshold").fill("40")
    tab = page.locator(".lm-TabBar-tab.jp-mod-current")
    tab.locator(".jp-mod-dirty").or_(page.locator(".lm-TabBar-tab.jp-mod-current.jp-mod-dirty")).first.wait_for()
    keep_screenshot(page, "graph-node-form")
    page.keyboard.press("Control+s")
    page.wait_for_function("() => !document.querySelector('.lm-TabBar-tab.jp-mod-current.jp-mod-dirty')")

    saved = json.loads(path.read_text())
    expected = copy.deepcopy(original)
    expected["node_repository_"][1]["low_threshold"] = 40
    assert without_layout(saved) == without_layout(expected)
    layout = saved["nndeploy_ui_layout"]
    assert {k: v for k, v in layout.items() if k != "layout"} == {k: v for k, v in original["nndeploy_ui_layout"].items()
                                                                   if k != "layout"}
    for name, entry in original["nndeploy_ui_layout"]["layout"].items():
        assert layout["layout"][name] == entry  # nothing moved: the positions are as nndeploy's editor wrote them

    page.get_by_role("button", name="Run graph Video_Edge_Detection").click()
    for name in ("VideoDecode", "Canny", "VideoEncode"):
        editor.locator(f'.react-flow__node[data-id="{name}"] [data-status="DONE"]').wait_for()
    editor.locator('.jp-NndeployGraph-run[data-state="SUCCEEDED"]').wait_for()
    assert "/" in editor.locator('.react-flow__node[data-id="Canny"] .jp-NndeployGraph-status').inner_text()
    keep_screenshot(page, "graph-run-done")
    page.close()
