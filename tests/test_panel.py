"""The nndeploy sidebar panel in a real JupyterLab, driven by Debian's Chromium through Python playwright."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from browser import NO_NEWS, PANEL, TAB, TIMEOUT_MS, launch, link_labextension, needs_browser
from jupyter_process import JupyterProcess
from playwright.sync_api import sync_playwright

pytestmark = needs_browser


def workflow(name: str) -> dict:
    return {"name_": name, "desc_": f"{name}, saved by hand", "node_repository_": []}


def start_lab(root: Path, extension_enabled: bool) -> JupyterProcess:
    """JupyterLab with this checkout's labextension first on the path and every user-level dir isolated."""
    extensions = link_labextension(root / "labextensions")
    settings = root / "lab-settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)
    (settings / "notification.jupyterlab-settings").write_text(json.dumps(NO_NEWS))
    env = {"JUPYTER_CONFIG_DIR": str(root / "config"), "JUPYTERLAB_SETTINGS_DIR": str(root / "lab-settings"),
           "JUPYTERLAB_WORKSPACES_DIR": str(root / "lab-workspaces")}
    return JupyterProcess(
        root / "notebooks",
        f"--ServerApp.jpserver_extensions={{'nndeploy_jupyter': {extension_enabled}}}",
        f"--NnDeployExtension.workspace={root / 'ws'}",
        f"--LabApp.extra_labextensions_path={extensions}",
        app="jupyterlab", base_url="/lab%20base/", env=env,
    ).start()


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


@pytest.fixture
def browser():
    """Per test: playwright's sync API marks its own loop as running, which pytest-jupyter's per-test loop
    teardown cannot bear, so playwright must be gone before that teardown."""
    with sync_playwright() as p:
        browser = launch(p)
        yield browser
        browser.close()


def open_panel(browser, server: JupyterProcess):
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(f"{server.url}lab?token={server.token}")
    page.wait_for_selector("#jupyterlab-splash", state="detached")
    page.locator(TAB).click()
    return page


def test_panel_lists_saved_workflows_and_templates_and_refreshes(browser, lab: JupyterProcess,
                                                                 workspace: Path, tmp_path: Path):
    page = open_panel(browser, lab)
    workflows = page.locator(f'{PANEL} ul[aria-label="Workflows"] .jp-NndeployPanel-item')
    templates = page.locator(f'{PANEL} ul[aria-label="Templates"] .jp-NndeployPanel-item')
    workflows.filter(has_text="Edges of my photos").wait_for()
    assert workflows.count() == 1
    assert templates.filter(has_text="Blur a picture").count() == 1
    assert page.locator(f"{PANEL} .jp-NndeployPanel-status.jp-mod-error").count() == 0
    page.screenshot(path=str(tmp_path / "panel.png"))

    (workspace / "resources" / "workflow" / "Later.json").write_text(json.dumps(workflow("Saved later")))
    page.get_by_title("Refresh workflows and templates").click()
    workflows.filter(has_text="Saved later").wait_for()
    assert workflows.count() == 2
    page.close()


def test_panel_explains_a_missing_server_extension(browser, lab_without_server_extension: JupyterProcess,
                                                   tmp_path: Path):
    page = open_panel(browser, lab_without_server_extension)
    error = page.locator(f"{PANEL} .jp-NndeployPanel-status.jp-mod-error")
    error.wait_for()
    assert "nndeploy server extension is not answering" in error.inner_text()
    assert "jupyter server extension list" in error.inner_text()
    assert page.locator(f"{PANEL} .jp-NndeployPanel-item").count() == 0
    page.screenshot(path=str(tmp_path / "missing.png"))
    page.close()
