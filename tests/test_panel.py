"""The nndeploy workbench panel in a real JupyterLab, driven by Debian's Chromium through Python playwright:
what a user does with it, and what they see."""

from __future__ import annotations

import json
import re
import statistics
from collections.abc import Iterator
from pathlib import Path

import graphs
import pytest
from conftest import figure, wait_until
from jupyter_process import JupyterProcess
from lab_browser import PANEL, REQUIRES_BROWSER, keep_screenshot, open_lab, open_panel, show_panel, start_lab

pytestmark = REQUIRES_BROWSER

TEMPLATE = "Image_Edge_Detection"


def workflow(name: str) -> dict:
    return {"name_": name, "desc_": f"{name}, saved by hand", "node_repository_": []}


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workspace with one saved workflow, a long-running one (the Fault plugin node sleeps) and a template of
    the user's own."""
    ws = tmp_path_factory.mktemp("panel") / "ws"
    saved = ws / "resources" / "workflow"
    saved.mkdir(parents=True)
    (saved / "Edges of my photos.json").write_text(json.dumps(workflow("Edges of my photos")))
    graphs.write_fault_plugin(ws / "resources" / "plugin")
    long = graphs.fault_graph(ws, "Long_run", frames=400, sleep_ms=50)
    (saved / "Long_run.json").write_text(json.dumps(long))
    template = ws / "resources" / "template" / "Mine"
    template.mkdir(parents=True)
    (template / "Blur.json").write_text(json.dumps(workflow("Blur a picture")))
    return ws


@pytest.fixture(scope="module")
def lab(workspace: Path) -> Iterator[JupyterProcess]:
    server = start_lab(workspace.parent, True, "--LabApp.expose_app_in_browser=True")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def lab_without_server_extension(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JupyterProcess]:
    server = start_lab(tmp_path_factory.mktemp("bare"), extension_enabled=False)
    yield server
    server.stop()


def section(page, title: str):
    return page.locator(f'{PANEL} [role="region"][aria-label="{title}"]')


def row(page, kind: str, name: str):
    return page.locator(f'{PANEL} .jp-NndeployPanel-row[data-kind="{kind}"][aria-label="{name}"]')


def button(page, label: str):
    return page.locator(f'{PANEL} button[aria-label="{label}"]')


def task_states(page, name: str) -> list[str]:
    """Every state the task rows named ``name`` have shown, recorded by the page as they change."""
    return page.evaluate("name => (window.__nndeployStates || {})[name] || []", name)


# Records each state a task row shows (the row re-renders at most once a frame, so every state drawn is seen).
RECORD_STATES = """() => {
    window.__nndeployStates = {};
    const seen = () => document.querySelectorAll('.jp-NndeployPanel-row[data-kind="task"]').forEach(row => {
        const state = row.querySelector('.jp-NndeployTask-state')?.textContent;
        const list = (window.__nndeployStates[row.getAttribute('aria-label')] ||= []);
        if (state && list[list.length - 1] !== state) list.push(state);
    });
    new MutationObserver(seen).observe(document.body, {subtree: true, childList: true, characterData: true});
}"""


def test_the_header_names_the_extension_and_its_ready_worker(browser, lab: JupyterProcess):
    page = open_panel(browser, lab)
    status = page.locator(f"{PANEL} .jp-NndeployPanel-status")
    page.wait_for_function(f"() => /1 ready/.test(document.querySelector('{PANEL} .jp-NndeployPanel-status')"
                           "?.textContent || '')")
    assert "Workers" in status.inner_text()
    assert re.search(r"v\d+\.\d+", page.locator(f"{PANEL} .jp-NndeployPanel-version").inner_text())
    for title in ("Templates", "Workflows", "Tasks", "Resources"):
        assert section(page, title).count() == 1
    row(page, "workflow", "Edges of my photos").wait_for()
    row(page, "template", "Blur a picture").wait_for()
    keep_screenshot(page, "panel")
    page.close()


def test_run_a_template_from_the_panel_then_open_its_output_image(browser, lab: JupyterProcess):
    page = open_panel(browser, lab)
    page.evaluate(RECORD_STATES)
    button(page, f"Run {TEMPLATE}").click()
    task = row(page, "task", TEMPLATE).first
    task.locator(".jp-NndeployTask-state", has_text="SUCCEEDED").wait_for()
    # A one-image run can start and end within one frame: the states drawn follow the lifecycle and end in
    # SUCCEEDED (a long run shows RUNNING: test_cancel_a_long_task_from_the_task_list).
    states = task_states(page, TEMPLATE)
    lifecycle = ["PENDING", "DISPATCHED", "RUNNING", "SUCCEEDED"]
    assert states[-1] == "SUCCEEDED" and states == sorted(states, key=lifecycle.index), states
    page.get_by_text(f"{TEMPLATE} succeeded").first.wait_for()  # JupyterLab's notification

    task.locator(f'button[aria-label="Show the details of task {TEMPLATE}"]').click()
    nodes = task.locator(f'table[aria-label="Nodes of task {TEMPLATE}"] tbody tr')
    assert set(nodes.evaluate_all("rows => rows.map(r => r.dataset.node)")) == {"ImageDecode", "Canny", "ImageEncode"}
    assert "1/1" in nodes.first.inner_text() and "DONE" in nodes.first.inner_text()
    assert "run" in task.locator(".jp-NndeployTask-profile").inner_text()
    keep_screenshot(page, "panel-tasks")

    task.locator(f'button[aria-label="Show the outputs of task {TEMPLATE}"]').click()
    page.locator(".lm-TabBar-tab.jp-mod-current", has_text="edges.jpg").wait_for()  # JupyterLab's image viewer
    page.wait_for_function("""() => Array.from(document.querySelectorAll('#jp-main-dock-panel img'))
        .some(img => img.offsetParent !== null && img.complete && img.naturalWidth > 0)""")
    page.close()


def test_cancel_a_long_task_from_the_task_list(browser, lab: JupyterProcess):
    page = open_panel(browser, lab)
    button(page, "Run Long_run").click()
    task = row(page, "task", "Long_run").first
    task.locator(".jp-NndeployTask-state", has_text="RUNNING").wait_for()
    task.locator("progress").wait_for()  # frames done of the total
    task.locator('button[aria-label="Cancel task Long_run"]').click()
    task.locator(".jp-NndeployTask-state", has_text="CANCELLED").wait_for()
    page.get_by_text("Long_run cancelled").first.wait_for()
    page.close()


def test_upload_an_image_then_run_with_it_as_the_decoders_path(browser, lab: JupyterProcess, workspace: Path,
                                                                tmp_path: Path):
    picture = graphs.synthetic_image(tmp_path / "my photo.jpg", 96, 64)
    page = open_panel(browser, lab)
    with page.expect_file_chooser() as chooser:
        button(page, "Upload files into resources/images").click()
    chooser.value.set_files(str(picture))
    uploaded = row(page, "file", "my photo.jpg")
    uploaded.wait_for()
    assert (workspace / "resources" / "images" / "my photo.jpg").read_bytes() == picture.read_bytes()
    keep_screenshot(page, "panel-resources")

    button(page, f"Run {TEMPLATE} with parameters").click()
    dialog = page.locator(".jp-Dialog")
    path = dialog.locator("#jp-NndeployRunForm_ImageDecode_path_")
    path.fill("resources/images/my photo.jpg")
    keep_screenshot(page, "panel-run-with-parameters")
    ended_before = lab.get("nndeploy/api/queue/history")["result"]["total"]
    dialog.locator("button.jp-mod-accept", has_text="Run").click()
    wait_until(lambda: lab.get("nndeploy/api/queue/history")["result"]["total"] > ended_before, timeout=120,
               what="the run to end")
    history = lab.get("nndeploy/api/queue/history")["result"]["items"]
    # It ends at the top of the panel's history (earlier tests' runs of the template are there too).
    page.locator(f'{PANEL} ul[aria-label="History"] .jp-NndeployPanel-row[data-kind="task"]'
                 f'[data-id="{history[0]["task_id"]}"]').wait_for()
    assert history[0]["params"] == {"ImageDecode": {"path_": "resources/images/my photo.jpg"}}
    assert history[0]["state"] == "SUCCEEDED"

    uploaded.click(button="right")  # the row's context menu
    page.locator(".lm-Menu-item", has_text="Delete").click()
    page.locator(".jp-Dialog button.jp-mod-warn").click()
    uploaded.wait_for(state="detached")
    assert not (workspace / "resources" / "images" / "my photo.jpg").exists()
    page.close()


# In the page: a file of `size` bytes (byte i is i % 251) dragged over `target`, as the browser does for a file
# dragged in from the desktop; and every upload progress label the panel shows from then on.
DRAG_A_FILE = """([target, name, size]) => {
    const bytes = new Uint8Array(size).map((_, i) => i % 251);
    const transfer = window.__nndeployDragged = new DataTransfer();
    transfer.items.add(new File([bytes], name, {type: 'application/octet-stream'}));
    const seen = window.__nndeployUploadLabels = [];
    new MutationObserver(() => document.querySelectorAll('.jp-NndeployUpload progress')
        .forEach(p => seen.includes(p.getAttribute('aria-label')) || seen.push(p.getAttribute('aria-label'))))
        .observe(document.querySelector('.jp-NndeployResources'), {subtree: true, childList: true, attributes: true});
    for (const type of ['dragenter', 'dragover']) {
        document.querySelector(target).dispatchEvent(
            new DragEvent(type, {bubbles: true, cancelable: true, dataTransfer: transfer}));
    }
}"""
DROP_IT = """target => document.querySelector(target).dispatchEvent(
    new DragEvent('drop', {bubbles: true, cancelable: true, dataTransfer: window.__nndeployDragged}))"""


def test_a_file_dropped_on_a_folder_uploads_there_with_progress(browser, lab: JupyterProcess, workspace: Path):
    size = 24 * 1024 * 1024 + 7  # big enough for the browser to report its progress on the way
    page = open_panel(browser, lab)
    folder = f'{PANEL} .jp-NndeployPanel-row[data-kind="folder"][data-id="resources/videos"]'
    page.locator(folder).wait_for()
    page.evaluate(DRAG_A_FILE, [folder, "dropped clip.bin", size])
    page.locator(f"{folder}.jp-mod-dropTarget").wait_for()  # the folder under the drag says it takes the drop
    page.evaluate(DROP_IT, folder)
    dropped = '.jp-NndeployPanel-row[data-kind="file"][data-id="resources/videos/dropped clip.bin"]'
    page.locator(f"{PANEL} {dropped}").wait_for()  # the folder opened, with the file in it
    assert page.locator(f"{folder}.jp-mod-dropTarget").count() == 0
    stored = workspace / "resources" / "videos" / "dropped clip.bin"
    assert stored.read_bytes() == bytes(i % 251 for i in range(size))
    labels = page.evaluate("() => window.__nndeployUploadLabels")
    assert labels and all(label.startswith("Uploading dropped clip.bin: ") for label in labels), labels
    page.locator(".jp-NndeployUpload").wait_for(state="detached")  # the finished upload leaves the list
    stored.unlink()
    page.close()


def test_workflows_upload_rename_duplicate_and_delete(browser, lab: JupyterProcess, workspace: Path, tmp_path: Path):
    upload = tmp_path / "Uploaded.json"
    upload.write_text(json.dumps(workflow("Uploaded by hand")))
    page = open_panel(browser, lab)
    with page.expect_file_chooser() as chooser:
        button(page, "Upload a workflow (.json)").click()
    chooser.value.set_files(str(upload))
    uploaded = row(page, "workflow", "Uploaded by hand")
    uploaded.wait_for()

    uploaded.focus()
    page.keyboard.press("Shift+F10")  # the context menu, from the keyboard
    page.locator(".lm-Menu-item", has_text="Rename").click()
    page.locator(".jp-Dialog input").fill("Renamed by hand")
    page.locator(".jp-Dialog button.jp-mod-accept").click()
    renamed = row(page, "workflow", "Renamed by hand")
    renamed.wait_for()
    assert json.loads(next(p for p in (workspace / "resources" / "workflow").glob("*.json")
                           if "Renamed by hand" in p.read_text()).read_text())["name_"] == "Renamed by hand"

    renamed.locator('button[aria-label="More actions for Renamed by hand"]').click()
    page.locator(".lm-Menu-item", has_text="Duplicate").click()
    page.wait_for_function(f"() => document.querySelectorAll('{PANEL} .jp-NndeployPanel-row[data-kind=workflow]"
                           "[aria-label^=\"Renamed by hand\"]').length === 2")
    names = [w["name_"] for w in lab.get("nndeploy/api/workflows")["result"]]
    assert names.count("Renamed by hand") == 1 and sum(n.startswith("Renamed by hand") for n in names) == 2

    renamed.focus()
    page.keyboard.press("Delete")
    page.locator(".jp-Dialog", has_text="Delete the workflow Renamed by hand?").wait_for()
    page.locator(".jp-Dialog button.jp-mod-warn").click()
    renamed.wait_for(state="detached")
    assert "Renamed by hand" not in [w["name_"] for w in lab.get("nndeploy/api/workflows")["result"]]
    page.close()


def test_keyboard_enter_opens_a_workflow_as_a_graph(browser, lab: JupyterProcess):
    page = open_panel(browser, lab)
    first = row(page, "template", TEMPLATE)
    first.focus()
    page.keyboard.press("Enter")
    page.locator(".lm-TabBar-tab.jp-mod-current", has_text=TEMPLATE).wait_for()
    page.locator(".jp-NndeployGraph-editor:visible .react-flow__node").first.wait_for()
    page.close()


def test_open_sections_are_restored_on_reload(browser, lab: JupyterProcess):
    page = open_panel(browser, lab)
    title = page.locator(f"{PANEL} .lm-AccordionPanel-title", has_text="Templates")
    assert title.get_attribute("aria-expanded") == "true"
    title.click()
    page.wait_for_function(f"() => document.querySelector('{PANEL} .lm-AccordionPanel-title')"
                           ".getAttribute('aria-expanded') === 'false'")
    wait_saved(lab, templates_open=False)
    page.reload()
    page.wait_for_selector("#jupyterlab-splash", state="detached")
    show_panel(page)
    page.locator(f"{PANEL} .lm-AccordionPanel-title", has_text="Workflows").wait_for()
    page.evaluate("async () => { await window.jupyterapp.restored; }")  # the layout, with the sections, is restored
    assert title.get_attribute("aria-expanded") == "false"
    title.click()  # leave it open for the other tests
    page.wait_for_function(f"() => document.querySelector('{PANEL} .lm-AccordionPanel-title')"
                           ".getAttribute('aria-expanded') === 'true'")
    # Opened again after the reload, it has room to show its rows (the saved layout gave it none).
    page.wait_for_function(f"() => document.querySelector('{PANEL} .jp-NndeployPanel-section[aria-label=Templates]')"
                           ".getBoundingClientRect().height > 100")
    wait_saved(lab, templates_open=True)
    page.close()


def wait_saved(lab: JupyterProcess, templates_open: bool) -> None:
    """Wait until the workspace file holds the panel's sections as shown: JupyterLab saves its layout on its own
    schedule, and the next page load reads it from there."""
    def saved() -> bool:
        for file in (lab.root_dir.parent / "lab-workspaces").glob("default-*.jupyterlab-workspace"):
            try:
                layout = json.loads(file.read_text())["data"]["layout-restorer:data"]
                return layout["left"]["widgetStates"]["nndeploy-jupyter-panel"]["expansionStates"][0] is templates_open
            except (ValueError, KeyError, IndexError):  # being written, or not saved yet
                return False
        return False
    wait_until(saved, timeout=60, what="the workspace to be saved")


def test_every_control_says_its_action_and_target(browser, lab: JupyterProcess):
    page = open_panel(browser, lab)
    row(page, "template", TEMPLATE).wait_for()
    unnamed = page.evaluate(f"""() => Array.from(document.querySelectorAll('{PANEL} button, {PANEL} [tabindex="0"]'))
        .filter(e => !(e.getAttribute('aria-label') || e.getAttribute('title') || e.textContent.trim()))
        .map(e => e.outerHTML.slice(0, 120))""")
    assert unnamed == []
    assert button(page, f"Open {TEMPLATE} as a graph").count() == 1
    assert button(page, "Run Edges of my photos").count() == 1
    page.close()


def test_dark_theme(browser, lab: JupyterProcess):
    page = open_panel(browser, lab)
    page.evaluate("async () => { await window.jupyterapp.restored; await window.jupyterapp.commands.execute("
                  "'apputils:change-theme', {theme: 'JupyterLab Dark'}); }")
    page.wait_for_function("() => document.body.dataset.jpThemeLight === 'false'")
    row(page, "template", TEMPLATE).wait_for()
    page.wait_for_timeout(300)  # the theme's stylesheet applies
    background = page.evaluate(f"() => getComputedStyle(document.querySelector('{PANEL}')).backgroundColor")
    channels = [int(c) for c in re.findall(r"\d+", background)[:3]]
    assert sum(channels) / 3 < 80, background  # dark, from JupyterLab's own variables
    keep_screenshot(page, "panel-dark")
    page.evaluate("() => window.jupyterapp.commands.execute('apputils:change-theme', {theme: 'JupyterLab Light'})")
    page.wait_for_function("() => document.body.dataset.jpThemeLight === 'true'")
    page.close()


# In the page: JupyterLab's own way to reach the server (its token and _xsrf cookie), the browser's WebSocket.
FOLLOW_TASKS_IN_THE_PAGE = """async ({graph, warmUp, tasks}) => {
    const config = JSON.parse(document.getElementById('jupyter-config-data').textContent);
    const api = new URL(config.baseUrl + 'nndeploy/api/', location.href).href;
    const xsrf = (document.cookie.match(/(?:^|; )_xsrf=([^;]*)/) || [])[1];
    const headers = {'Content-Type': 'application/json'};
    if (config.token) headers.Authorization = `token ${config.token}`;
    if (xsrf) headers['X-XSRFToken'] = decodeURIComponent(xsrf);
    const socket = new WebSocket(api.replace(/^http/, 'ws') + 'ws/progress'
                                 + (config.token ? `?token=${encodeURIComponent(config.token)}` : ''));
    await new Promise((opened, failed) => { socket.onopen = opened; socket.onerror = failed; });
    const waiting = new Map();
    socket.onmessage = message => {
        const result = JSON.parse(message.data).result;
        const ended = result && result.type === 'task_run_info' && waiting.get(result.task_id);
        if (ended) { waiting.delete(result.task_id); ended({at: performance.now(), state: result.state}); }
    };
    const seen = [];
    for (let i = 0; i < warmUp + tasks; i++) {
        const started = performance.now();
        const response = await fetch(api + 'queue', {method: 'POST', headers, body: JSON.stringify(graph)});
        const answer = await response.json();
        const end = new Promise(ended => waiting.set(answer.result.task_id, ended));
        socket.send(JSON.stringify({type: 'bind', task_id: answer.result.task_id}));
        const {at, state} = await end;
        if (i >= warmUp) seen.push({ms: at - started, state});
    }
    socket.close();
    return seen;
}"""


def test_the_browsers_own_websocket_follows_tasks_to_their_end(browser, lab: JupyterProcess, workspace: Path):
    """What a page sees: enqueue -> task_run_info through fetch and the browser's WebSocket, one task after the
    other. The latency is a figure (the goal is p50 <= 8 ms, p99 <= 15 ms), not an assertion."""
    graphs.synthetic_image(workspace / "resources" / "images" / "tiny.jpg", 8, 8)
    graph = graphs.chain("trivial", [graphs.image_decode("Decode", "resources/images/tiny.jpg"), graphs.canny(),
                                     graphs.image_encode("Encode", "resources/images/tiny.out.jpg")])
    page = open_lab(browser, lab)
    seen = page.evaluate(FOLLOW_TASKS_IN_THE_PAGE, {"graph": graph, "warmUp": 5, "tasks": 100})
    page.close()
    assert [s["state"] for s in seen] == ["SUCCEEDED"] * 100
    times = sorted(s["ms"] for s in seen)
    figure(f"browser WebSocket, enqueue -> task_run_info, 100 trivial tasks: p50 {statistics.median(times):.1f} ms, "
           f"p99 {times[98]:.1f} ms")


def test_a_long_list_draws_a_page_of_rows_then_more_as_it_scrolls(browser, tmp_path_factory: pytest.TempPathFactory):
    """80 saved workflows: the section draws 30, scrolling to its end draws 30 more, and its button the rest."""
    root = tmp_path_factory.mktemp("long")
    saved = root / "ws" / "resources" / "workflow"
    saved.mkdir(parents=True)
    for i in range(80):
        (saved / f"Saved {i:03d}.json").write_text(json.dumps(workflow(f"Saved {i:03d}")))
    server = start_lab(root, True, "--LabApp.expose_app_in_browser=True")
    try:
        page = open_panel(browser, server)
        rows = page.locator(f'{PANEL} .jp-NndeployPanel-row[data-kind="workflow"]')
        page.wait_for_function(f"() => document.querySelectorAll('{PANEL} .jp-NndeployPanel-row"
                               "[data-kind=\"workflow\"]').length === 30")
        more = page.locator(f"{PANEL} .jp-NndeployPanel-more")
        more.scroll_into_view_if_needed()
        button(page, "Show 20 more of 20 in Workflows").wait_for()
        assert rows.count() == 60
        # the button, for the keyboard (dispatched: a real click scrolls it into view, which draws the rest first)
        button(page, "Show 20 more of 20 in Workflows").dispatch_event("click")
        page.wait_for_function(f"() => document.querySelectorAll('{PANEL} .jp-NndeployPanel-row"
                               "[data-kind=\"workflow\"]').length === 80")
        assert more.count() == 0
        assert sorted(rows.evaluate_all("rows => rows.map(r => r.getAttribute('aria-label'))")) == [
            f"Saved {i:03d}" for i in range(80)]
        page.close()
    finally:
        server.stop()


def test_panel_explains_a_missing_server_extension(browser, lab_without_server_extension: JupyterProcess):
    page = open_panel(browser, lab_without_server_extension)
    error = page.locator(f"{PANEL} .jp-NndeployPanel-status.jp-mod-error")
    error.wait_for()
    assert "nndeploy server extension is not answering" in error.inner_text()
    assert "jupyter server extension list" in error.inner_text()
    assert page.locator(f"{PANEL} .jp-NndeployPanel-row").count() == 0
    keep_screenshot(page, "panel-without-server-extension")
    page.close()
