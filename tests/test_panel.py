"""The nndeploy sidebar panel in a real JupyterLab, driven by Debian's Chromium through Python playwright."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from jupyter_process import JupyterProcess
from lab_browser import PANEL, REQUIRES_BROWSER, keep_screenshot, open_panel, start_lab

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
