"""The nndeploy graph document in a real JupyterLab, driven by Debian's Chromium: each test is a user's story."""

from __future__ import annotations

import copy
import itertools
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import graphs
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
    script = "async ([c, a]) => { await window.jupyterapp.restored; await window.jupyterapp.commands.execute(c, a); }"
    page.evaluate(script, [command, args or {}])


def open_graph(page, lab: JupyterProcess, name: str):
    """Open a saved workflow as a graph, as the panel's "Open as graph" does; the graph's editor."""
    run_command(page, "nndeploy:open-graph", {"workflowId": workflow_id(lab, name)})
    return current_graph(page, name)


def current_graph(page, tab: str):
    """The editor of the current tab, once that tab is ``tab``'s and its nodes are drawn (other tabs that
    JupyterLab restored from earlier tests are hidden, their editors too)."""
    page.locator(".lm-TabBar-tab.jp-mod-current", has_text=tab).wait_for()
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
    others = {k: v for k, v in original["nndeploy_ui_layout"].items() if k != "layout"}
    assert {k: v for k, v in layout.items() if k != "layout"} == others
    for name, entry in original["nndeploy_ui_layout"]["layout"].items():
        assert layout["layout"][name] == entry  # nothing moved: the positions are as nndeploy's editor wrote them

    page.get_by_role("button", name="Run graph Video_Edge_Detection").click()
    for name in ("VideoDecode", "Canny", "VideoEncode"):
        editor.locator(f'.react-flow__node[data-id="{name}"] [data-status="DONE"]').wait_for()
    editor.locator('.jp-NndeployGraph-run[data-state="SUCCEEDED"]').wait_for()
    assert "/" in editor.locator('.react-flow__node[data-id="Canny"] .jp-NndeployGraph-status').inner_text()
    keep_screenshot(page, "graph-run-done")
    page.close()


def test_a_dangling_edge_shows_the_named_node_highlighted_with_the_reason(browser, lab, workspace: Path):
    graph = builtin("Image_Edge_Detection")
    graph["name_"] = "Dangling_Edge"
    graph["node_repository_"][1]["inputs_"][0]["name_"] = "Gone@output_0"  # no node produces it
    save_workflow(workspace, graph)
    page = open_lab(browser, lab)
    editor = open_graph(page, lab, "Dangling_Edge")
    assert edges_on_screen(editor) == {"Edge Canny@output_0 to ImageEncode"}

    page.get_by_role("button", name="Run graph Dangling_Edge").click()
    flagged = editor.locator(".react-flow__node .jp-mod-issue")
    flagged.wait_for()
    assert flagged.count() == 1
    assert flagged.get_attribute("data-node") == "Canny"
    reason = editor.locator('.react-flow__node[data-id="Canny"] [role="alert"]').inner_text()
    assert "Gone@output_0" in reason and "not produced by any node" in reason
    assert "Canny" in editor.locator(".jp-NndeployGraph-issueBar").inner_text()
    assert editor.locator('aside[aria-label="Properties of Canny"]').is_visible()  # the named node is selected
    keep_screenshot(page, "graph-validation-error")
    page.close()


def open_folder(page, folder: str) -> None:
    """Walk Jupyter's file browser into ``folder`` by double-clicking each part, as a user does."""
    page.locator("#filebrowser .jp-BreadCrumbs-home").click()
    for part in folder.split("/"):
        page.locator("#filebrowser .jp-DirListing-item", has_text=part).first.dblclick()
        page.locator("#filebrowser .jp-BreadCrumbs", has_text=part).wait_for()


def test_a_workflow_file_opens_with_nndeploy_graph_from_the_file_browser(browser, lab, workspace: Path):
    for name in ("From_The_File_Browser", "Opened_By_Default"):
        graph = builtin("Image_Edge_Detection")
        graph["name_"] = name
        save_workflow(workspace, graph)
    page = open_lab(browser, lab)
    open_folder(page, WORKFLOWS)

    page.locator("#filebrowser .jp-DirListing-item", has_text="From_The_File_Browser.json").click(button="right")
    page.locator(".lm-Menu-item", has_text="Open With").hover()
    page.locator(".lm-Menu-item", has_text="nndeploy graph").click()
    editor = current_graph(page, "From_The_File_Browser.json")
    assert nodes_on_screen(editor) == {"ImageDecode", "Canny", "ImageEncode"}
    assert page.locator(".lm-TabBar-tab.jp-mod-current").inner_text().strip() == "From_The_File_Browser.json"
    keep_screenshot(page, "graph-open-with")

    # In the workflow folder, a double-click opens a workflow as a graph too (elsewhere JSON opens as JSON).
    page.locator("#filebrowser .jp-DirListing-item", has_text="Opened_By_Default.json").dblclick()
    current_graph(page, "Opened_By_Default.json")
    page.close()


def drag(page, source, target) -> None:
    box, goal = source.bounding_box(), target.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(goal["x"] + goal["width"] / 2, goal["y"] + goal["height"] / 2, steps=12)
    page.mouse.up()


def test_edit_add_from_the_catalogue_connect_undo_redo_delete_and_save(browser, lab, workspace: Path):
    original = builtin("Image_Edge_Detection")
    original["name_"] = "Edit_Me"
    path = save_workflow(workspace, original)
    page = open_lab(browser, lab)
    editor = open_graph(page, lab, "Edit_Me")

    page.get_by_role("button", name="Add a node to Edit_Me").click()
    editor.get_by_label("Search node types").fill("canny numpy")
    editor.get_by_role("button", name="Add node CannyNumpy").click()
    added = editor.locator('.react-flow__node[data-id="CannyNumpy_1"]')
    added.wait_for()

    source = editor.locator('.react-flow__node[data-id="ImageDecode"] .react-flow__handle[data-handleid="out-0"]')
    drag(page, source, added.locator('.react-flow__handle[data-handleid="in-0"]'))
    wired = editor.locator('.react-flow__edge[aria-label="Edge ImageDecode@output_0 to CannyNumpy_1"]')
    wired.wait_for()
    keep_screenshot(page, "graph-edit-connected")

    editor.locator(".react-flow__pane").click(position={"x": 20, "y": 20})
    page.keyboard.press("Control+z")
    wired.wait_for(state="detached")
    page.keyboard.press("Control+Shift+z")
    wired.wait_for()

    editor.locator('.react-flow__node[data-id="CannyNumpy_1"]').click()
    properties = editor.locator('aside[aria-label="Properties of CannyNumpy_1"]')
    assert properties.get_by_label("low_threshold").input_value() == "100"  # the catalogue's default
    page.keyboard.press("Escape")
    properties.wait_for(state="detached")

    editor.locator('.react-flow__node[data-id="Canny"]').click()
    page.keyboard.press("Delete")
    editor.locator('.react-flow__node[data-id="Canny"]').wait_for(state="detached")
    assert edges_on_screen(editor) == {"Edge ImageDecode@output_0 to CannyNumpy_1"}
    page.keyboard.press("Control+s")
    page.wait_for_function("() => !document.querySelector('.lm-TabBar-tab.jp-mod-current.jp-mod-dirty')")

    saved = json.loads(path.read_text())
    nodes = {n["name_"]: n for n in saved["node_repository_"]}
    assert list(nodes) == ["ImageDecode", "ImageEncode", "CannyNumpy_1"]
    assert nodes["CannyNumpy_1"]["inputs_"][0]["name_"] == "ImageDecode@output_0"
    assert nodes["CannyNumpy_1"]["outputs_"][0]["name_"] == "CannyNumpy_1@output_0"
    assert nodes["CannyNumpy_1"]["key_"] == "nndeploy.image.CannyNumpy"
    assert nodes["ImageEncode"]["inputs_"][0]["name_"] == ""  # it read the deleted Canny: now unconnected
    assert nodes["ImageDecode"] == original["node_repository_"][0]
    assert {k: v for k, v in nodes["ImageEncode"].items() if k != "inputs_"} == {
        k: v for k, v in original["node_repository_"][2].items() if k != "inputs_"}
    assert without_layout({**saved, "node_repository_": []}) == without_layout({**original, "node_repository_": []})
    layout = saved["nndeploy_ui_layout"]["layout"]
    assert "Canny" not in layout and set(layout["CannyNumpy_1"]["position"]) == {"x", "y"}
    page.close()


def positions(editor) -> dict[str, tuple[float, float]]:
    """Each node's position in the graph's own coordinates (React Flow's translate of the node)."""
    found = editor.locator(".react-flow__node").evaluate_all(
        "ns => ns.map(n => [n.dataset.id, n.style.transform])")
    out = {}
    for node_id, transform in found:
        x, y = transform.removeprefix("translate(").removesuffix(")").split(",")
        out[node_id] = (float(x.strip().removesuffix("px")), float(y.strip().removesuffix("px")))
    return out


def test_an_official_template_keeps_its_positions_and_a_graph_without_layout_gets_one(browser, lab, workspace):
    for template in OFFICIAL_TEMPLATES.glob("*.json"):
        shutil.copy(template, workspace / "resources" / "workflow" / template.name)
    laid_out = json.loads((OFFICIAL_TEMPLATES / "Detect_YOLO.json").read_text())
    bare = without_layout(json.loads((OFFICIAL_TEMPLATES / "Classification_ResNet.json").read_text()))
    bare["name_"] = "Classification_Without_Layout"
    save_workflow(workspace, bare)
    page = open_lab(browser, lab)

    editor = open_graph(page, lab, "Detect_YOLO")
    on_screen = positions(editor)
    stored = laid_out["nndeploy_ui_layout"]["layout"]
    assert set(on_screen) == set(stored)
    for name, entry in stored.items():
        assert on_screen[name] == pytest.approx((entry["position"]["x"], entry["position"]["y"]), abs=0.5)
    keep_screenshot(page, "graph-official-template")
    editor.locator('.react-flow__node[data-id="CvtResizeNormTrans_17"]').click()
    form = editor.locator('aside[aria-label="Properties of CvtResizeNormTrans_17"]')
    pixel_type = form.get_by_label("src_pixel_type_")
    assert pixel_type.evaluate("s => s.options[s.selectedIndex].text") == "kPixelTypeBGR"
    assert {"kPixelTypeRGB", "kPixelTypeGRAY"} <= set(pixel_type.evaluate("s => [...s.options].map(o => o.text)"))

    editor = open_graph(page, lab, "Classification_Without_Layout")
    assert nodes_on_screen(editor) == {n["name_"] for n in bare["node_repository_"]}
    boxes = editor.locator(".react-flow__node").evaluate_all(
        "ns => ns.map(n => { const r = n.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; })")
    for a, b in itertools.combinations(boxes, 2):
        apart = a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1]
        assert apart, f"nodes overlap: {a} {b}"
    keep_screenshot(page, "graph-automatic-layout")
    page.close()


def test_the_launcher_makes_a_new_workflow_from_a_template(browser, lab, workspace: Path):
    page = open_lab(browser, lab)
    before = {w["name_"] for w in lab.get("nndeploy/api/workflows")["result"]}
    page.evaluate("() => window.jupyterapp.restored")
    page.locator("#jp-main-dock-panel").click(position={"x": 5, "y": 5})
    page.keyboard.press("Control+Shift+l")  # File › New Launcher
    launcher = page.locator(".jp-Launcher:visible")
    launcher.locator(".jp-Launcher-section", has_text="nndeploy").get_by_text("New Graph from Template").click()
    dialog = page.locator(".jp-Dialog")
    dialog.locator("select").select_option(label="Image_Edge_Detection (image)")
    dialog.locator(".jp-mod-accept").click()
    page.locator(".lm-TabBar-tab.jp-mod-current", has_text="Image_Edge_Detection").wait_for()
    after = {w["name_"]: w for w in lab.get("nndeploy/api/workflows")["result"]}
    (created,) = set(after) - before
    current_graph(page, after[created]["filename"])
    assert created.startswith("Image_Edge_Detection")
    saved = json.loads((workspace / "resources" / "workflow" / after[created]["filename"]).read_text())
    assert without_layout(saved) == {**without_layout(builtin("Image_Edge_Detection")), "name_": created}
    assert page.locator(".lm-TabBar-tab.jp-mod-current").inner_text().strip() == after[created]["filename"]
    keep_screenshot(page, "graph-new-from-template")
    page.close()


def test_dark_theme_a_run_shows_its_output_thumbnail_which_opens_in_jupyterlab(browser, lab, workspace: Path):
    graph = builtin("Image_Edge_Detection")
    graph["name_"] = "Thumbnail"
    graph["node_repository_"][2]["path_"] = "resources/images/thumbnail.jpg"
    save_workflow(workspace, graph)
    page = open_lab(browser, lab, color_scheme="dark")
    run_command(page, "apputils:change-theme", {"theme": "JupyterLab Dark"})
    page.wait_for_function("() => document.body.dataset.jpThemeLight === 'false'")
    try:
        editor = open_graph(page, lab, "Thumbnail")
        page.get_by_role("button", name="Run graph Thumbnail").click()
        thumbnail = editor.get_by_role("button", name="Open output thumbnail.jpg of ImageEncode")
        thumbnail.wait_for()
        page.wait_for_function("() => [...document.querySelectorAll('.jp-NndeployGraph-output img')]"
                               ".some(i => i.complete && i.naturalWidth > 0)")
        keep_screenshot(page, "graph-dark")
        thumbnail.click()
        page.locator(".lm-TabBar-tab.jp-mod-current", has_text="thumbnail.jpg").wait_for()
        page.locator(".jp-ImageViewer img").wait_for()
    finally:
        run_command(page, "apputils:change-theme", {"theme": "JupyterLab Light"})
        page.wait_for_function("() => document.body.dataset.jpThemeLight === 'true'")
        page.close()


def test_a_nested_graph_shows_as_a_group_that_expands(browser, lab, workspace: Path):
    graph = builtin("Image_Edge_Detection")
    graph["name_"] = "Nested"
    canny = graph["node_repository_"][1]
    inner = {"key_": "nndeploy::dag::Graph", "name_": "Edges", "is_graph_": True, "node_type_": "Intermediate",
             "inputs_": [dict(canny["inputs_"][0])], "outputs_": [{"desc_": "output_0", "name_": "Edges@output_0",
                                                                  "type_": "ndarray"}],
             "node_repository_": [{**canny, "outputs_": [{**canny["outputs_"][0], "name_": "Edges@output_0"}]}]}
    graph["node_repository_"][1] = inner
    graph["node_repository_"][2]["inputs_"][0]["name_"] = "Edges@output_0"
    del graph["nndeploy_ui_layout"]
    save_workflow(workspace, graph)
    page = open_lab(browser, lab)
    editor = open_graph(page, lab, "Nested")
    assert nodes_on_screen(editor) == {"ImageDecode", "Edges", "ImageEncode"}

    editor.get_by_role("button", name="Expand group Edges").click()
    editor.locator('.react-flow__node[data-id="Edges/Canny"]').wait_for()
    assert editor.locator('.react-flow__node[data-id="Edges"]').get_attribute("class").count("react-flow__node-group")
    assert edges_on_screen(editor) == {"Edge ImageDecode@output_0 to Edges", "Edge Edges@output_0 to ImageEncode"}
    keep_screenshot(page, "graph-nested-group")
    editor.get_by_role("button", name="Collapse group Edges").click()
    editor.locator('.react-flow__node[data-id="Edges/Canny"]').wait_for(state="detached")
    page.close()


def test_a_template_opens_as_a_graph_and_saving_it_makes_a_new_workflow(browser, lab, workspace: Path):
    template_file = next(BUILTIN.glob("*/Image_Edge_Detection.json"))
    template_text = template_file.read_text()
    template = next(t for t in lab.get("nndeploy/api/template")["result"] if t["name_"] == "Image_Edge_Detection")
    before = {w["name_"] for w in lab.get("nndeploy/api/workflows")["result"]}
    page = open_lab(browser, lab)
    run_command(page, "nndeploy:open-graph", {"templateId": template["id"]})
    editor = current_graph(page, "Image_Edge_Detection (template)")
    assert "Save makes it a new workflow" in editor.locator(".jp-NndeployGraph-banner").inner_text()

    editor.locator('.react-flow__node[data-id="Canny"]').click()
    editor.locator('aside[aria-label="Properties of Canny"]').get_by_label("high_threshold").fill("120")
    page.keyboard.press("Control+s")
    page.locator(".lm-TabBar-tab.jp-mod-current", has_text=".json").wait_for()  # the new workflow's file
    after = {w["name_"]: w for w in lab.get("nndeploy/api/workflows")["result"]}
    (created,) = set(after) - before
    saved = json.loads((workspace / "resources" / "workflow" / after[created]["filename"]).read_text())
    assert saved["node_repository_"][1]["high_threshold"] == 120
    assert template_file.read_text() == template_text  # the template itself is never written
    assert page.locator(".jp-NndeployGraph-view").count() == 0  # the template view gave way to the workflow
    page.close()


def test_a_large_graph_opens_fitted_as_boxes_and_zooming_in_brings_the_words(browser, lab, workspace: Path):
    cannies = [graphs.canny(f"Canny_{i}") for i in range(60)]
    big = graphs.chain("Sixty_Cannies", [graphs.image_decode("Decode", "resources/images/in.jpg"), *cannies,
                                          graphs.image_encode("Encode", "resources/images/out.jpg")])
    big["nndeploy_ui_layout"] = {"layout": {n["name_"]: {"position": {"x": 300 * (i % 16), "y": 160 * (i // 16)}}
                                            for i, n in enumerate(big["node_repository_"])}, "groups": []}
    save_workflow(workspace, big)
    page = open_lab(browser, lab)
    editor = open_graph(page, lab, "Sixty_Cannies")
    assert nodes_on_screen(editor) == {n["name_"] for n in big["node_repository_"]}
    assert edges_on_screen(editor) == edges_of(big)
    pane = editor.locator(".react-flow").bounding_box()
    boxes = editor.locator(".react-flow__node").evaluate_all("ns => ns.map(n => n.getBoundingClientRect().toJSON())")
    inside = [b for b in boxes if b["left"] >= pane["x"] and b["right"] <= pane["x"] + pane["width"]
              and b["top"] >= pane["y"] and b["bottom"] <= pane["y"] + pane["height"]]
    assert len(inside) == len(boxes)  # the whole graph is in view at once
    canny = editor.locator('.react-flow__node[data-id="Canny_30"]')
    assert canny.locator(".jp-NndeployGraph-name").count() == 0  # far too small to read: a box and its ports
    assert canny.locator('[data-node="Canny_30"]').get_attribute("title") == "Canny_30"
    keep_screenshot(page, "graph-large-fitted")
    zoom_in = editor.get_by_role("button", name="Zoom In")
    for _ in range(12):
        if canny.locator(".jp-NndeployGraph-name").count():
            break
        zoom_in.click()
        page.wait_for_timeout(300)
    assert canny.locator(".jp-NndeployGraph-name").inner_text() == "Canny_30"
    page.close()
