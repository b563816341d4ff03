"""The nndeploy sidebar panel in a real JupyterLab, driven by Debian's Chromium through Python playwright."""

from __future__ import annotations

import json
import statistics
from collections.abc import Iterator
from pathlib import Path

import graphs
import pytest
from conftest import figure
from jupyter_process import JupyterProcess
from lab_browser import PANEL, REQUIRES_BROWSER, keep_screenshot, open_lab, open_panel, start_lab

pytestmark = REQUIRES_BROWSER


def workflow(name: str) -> dict:
    return {"name_": name, "desc_": f"{name}, saved by hand", "node_repository_": []}


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workspace with one saved workflow and one template of the user's own."""
    ws = tmp_path_factory.mktemp("panel") / "ws"
    saved = ws / "resources" / "workflow"
    saved.mkdir(parents=True)
    (saved / "Edges of my photos.json").write_text(json.dumps(workflow("Edges of my photos")))
    template = ws / "resources" / "template" / "Mine"
    template.mkdir(parents=True)
    (template / "Blur.json").write_text(json.dumps(workflow("Blur a picture")))
    return ws


@pytest.fixture(scope="module")
def lab(workspace: Path) -> Iterator[JupyterProcess]:
    server = start_lab(workspace.parent, extension_enabled=True)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def lab_without_server_extension(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JupyterProcess]:
    server = start_lab(tmp_path_factory.mktemp("bare"), extension_enabled=False)
    yield server
    server.stop()


def test_panel_lists_saved_workflows_and_templates_and_refreshes(browser, lab: JupyterProcess,
                                                                 workspace: Path, tmp_path: Path):
    page = open_panel(browser, lab)
    workflows = page.locator(f'{PANEL} ul[aria-label="Workflows"] .jp-NndeployPanel-item')
    templates = page.locator(f'{PANEL} ul[aria-label="Templates"] .jp-NndeployPanel-item')
    workflows.filter(has_text="Edges of my photos").wait_for()
    assert workflows.count() == 1
    assert templates.filter(has_text="Blur a picture").count() == 1
    assert page.locator(f"{PANEL} .jp-NndeployPanel-status.jp-mod-error").count() == 0
    keep_screenshot(page, "panel")

    (workspace / "resources" / "workflow" / "Later.json").write_text(json.dumps(workflow("Saved later")))
    page.get_by_title("Refresh workflows and templates").click()
    workflows.filter(has_text="Saved later").wait_for()
    assert workflows.count() == 2
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


def test_panel_explains_a_missing_server_extension(browser, lab_without_server_extension: JupyterProcess,
                                                   tmp_path: Path):
    page = open_panel(browser, lab_without_server_extension)
    error = page.locator(f"{PANEL} .jp-NndeployPanel-status.jp-mod-error")
    error.wait_for()
    assert "nndeploy server extension is not answering" in error.inner_text()
    assert "jupyter server extension list" in error.inner_text()
    assert page.locator(f"{PANEL} .jp-NndeployPanel-item").count() == 0
    keep_screenshot(page, "panel-without-server-extension")
    page.close()
