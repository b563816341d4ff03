"""A real JupyterLab with this checkout's labextension, and Debian's Chromium driven by Python playwright.

Shared by the browser tests (panel, graph, hub). Chromium is never downloaded: a machine without
``/usr/bin/chromium`` skips these tests, and the summary says so (see conftest's missing-tool report).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from conftest import requires_tool
from jupyter_core.paths import jupyter_path
from jupyter_process import JupyterProcess

CHROMIUM = Path("/usr/bin/chromium")
REPO_BUILD = Path(__file__).resolve().parents[1] / "nndeploy_jupyter" / "labextension"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
TAB = '.jp-SideBar.jp-mod-left li[data-id="nndeploy-jupyter-panel"]'
PANEL = "#nndeploy-jupyter-panel"
TIMEOUT_MS = 60_000  # two busy cores: JupyterLab's first page load can take a while
ARTEFACTS = Path(__file__).resolve().parents[1] / "tests" / "artefacts"  # screenshots kept after the run


def built_labextension() -> Path | None:
    """The repository's build output, else an installed copy (``share/jupyter/labextensions``)."""
    installed = [Path(p) / "nndeploy-jupyter" for p in jupyter_path("labextensions")]
    return next((d for d in [REPO_BUILD, *installed] if (d / "package.json").is_file()), None)


LABEXTENSION = built_labextension()

REQUIRES_CHROMIUM = requires_tool(CHROMIUM.exists(), str(CHROMIUM), "apt-get install chromium; .ci/run does")
REQUIRES_LABEXTENSION = requires_tool(LABEXTENSION is not None, "the built labextension",
                                      "make setup builds it, or jlpm build:prod in labextension/")
# Apply to a browser test module: ``pytestmark = lab_browser.REQUIRES_BROWSER`` (or to one test, each mark).
REQUIRES_BROWSER = [REQUIRES_CHROMIUM, REQUIRES_LABEXTENSION]


def start_lab(root: Path, extension_enabled: bool = True, *args: str, workspace: Path | None = None,
              base_url: str = "/lab%20base/", env: dict[str, str] | None = None) -> JupyterProcess:
    """JupyterLab with this checkout's labextension first on the path and every user-level dir isolated
    (``env``: more of the server's environment, e.g. the ``PYTHONPATH`` of another checkout)."""
    extensions = link_labextension(root / "labextensions")
    quiet_lab_settings(root / "lab-settings")
    env = {"JUPYTER_CONFIG_DIR": str(root / "config"), "JUPYTERLAB_SETTINGS_DIR": str(root / "lab-settings"),
           "JUPYTERLAB_WORKSPACES_DIR": str(root / "lab-workspaces"), **(env or {})}
    return JupyterProcess(
        root / "notebooks",
        f"--ServerApp.jpserver_extensions={{'nndeploy_jupyter': {extension_enabled}}}",
        f"--NnDeployExtension.workspace={workspace or root / 'ws'}",
        f"--LabApp.extra_labextensions_path={extensions}",
        *args,
        app="jupyterlab", base_url=base_url, env=env,
    ).start()


def link_labextension(folder: Path) -> Path:
    """A labextensions folder with this checkout's build (for ``--LabApp.extra_labextensions_path``)."""
    folder.mkdir(parents=True, exist_ok=True)
    link = folder / "nndeploy-jupyter"
    if not link.exists():
        link.symlink_to(LABEXTENSION, target_is_directory=True)
    return folder


def quiet_lab_settings(settings_dir: Path) -> None:
    """JupyterLab user settings with no "get Jupyter news?" toast over the page."""
    settings = settings_dir / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True, exist_ok=True)
    (settings / "notification.jupyterlab-settings").write_text(json.dumps({"fetchNews": "false"}))


@contextmanager
def chromium() -> Iterator:
    """A headless Debian Chromium. Per test: playwright's sync API marks its own loop as running, which
    pytest-jupyter's per-test loop teardown cannot bear, so playwright must be gone before that teardown."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def open_lab(browser, server: JupyterProcess, path: str = "lab", color_scheme: str = "light"):
    """A new page on JupyterLab, once its splash screen is gone."""
    page = browser.new_page(viewport={"width": 1280, "height": 800}, color_scheme=color_scheme)
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(f"{server.url}{path}?token={server.token}")
    page.wait_for_selector("#jupyterlab-splash", state="detached")
    return page


def open_bare_page(browser, server: JupyterProcess):
    """A page with no JupyterLab, the browser alone: Jupyter's 404 page under nndeploy/. (The API's own answers
    forbid their scripts any connection by their Content-Security-Policy; a page made up by the browser is not
    the server's origin.)"""
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(f"{server.url}nndeploy/bench?token={server.token}")
    return page


def open_panel(browser, server: JupyterProcess, **kwargs):
    return show_panel(open_lab(browser, server, **kwargs))


def show_panel(page):
    """Bring the nndeploy panel into view in a loaded JupyterLab page."""
    page.locator(TAB).wait_for()
    for _ in range(3):  # JupyterLab may restore it open just after a click (which then closes it): look again
        if not page.locator(PANEL).is_visible():
            page.locator(TAB).click()
        try:
            page.locator(PANEL).wait_for(timeout=5_000)
            page.wait_for_timeout(300)
            if page.locator(PANEL).is_visible():
                return page
        except Exception:  # playwright's TimeoutError: click again
            continue
    page.locator(PANEL).wait_for()
    return page


def keep_screenshot(page, name: str) -> Path:
    """A screenshot kept as a test artefact (``tests/artefacts/<name>.png``), e.g. one per view."""
    ARTEFACTS.mkdir(exist_ok=True)
    path = ARTEFACTS / f"{name}.png"
    page.screenshot(path=str(path))
    return path
