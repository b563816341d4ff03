"""What the browser tests share: Debian's Chromium through Python playwright, and this checkout's panel build."""

from __future__ import annotations

from pathlib import Path

from conftest import CHROMIUM, requires_tool
from jupyter_core.paths import jupyter_path

REPO_BUILD = Path(__file__).resolve().parents[1] / "nndeploy_jupyter" / "labextension"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
TAB = '.jp-SideBar.jp-mod-left li[data-id="nndeploy-jupyter-panel"]'
PANEL = "#nndeploy-jupyter-panel"
TIMEOUT_MS = 60_000  # two busy cores: JupyterLab's first page load can take a while
NO_NEWS = {"fetchNews": "false"}  # no "get Jupyter news?" toast over the page


def built_labextension() -> Path | None:
    """The repository's build output, else an installed copy (``share/jupyter/labextensions``)."""
    installed = [Path(p) / "nndeploy-jupyter" for p in jupyter_path("labextensions")]
    return next((d for d in [REPO_BUILD, *installed] if (d / "package.json").is_file()), None)


LABEXTENSION = built_labextension()

NEEDS_CHROMIUM = requires_tool(CHROMIUM.exists(), str(CHROMIUM), "apt-get install chromium; .ci/run does")
NEEDS_LABEXTENSION = requires_tool(LABEXTENSION is not None, "the built labextension", "make setup builds it")
needs_browser = [NEEDS_CHROMIUM, NEEDS_LABEXTENSION]


def link_labextension(folder: Path) -> Path:
    """A labextensions folder holding only this checkout's build (for ``--LabApp.extra_labextensions_path``)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "nndeploy-jupyter").symlink_to(LABEXTENSION, target_is_directory=True)
    return folder


def launch(playwright):
    return playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
