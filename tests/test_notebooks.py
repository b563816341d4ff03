"""The example notebooks, executed with nbclient against a real Jupyter server with the extension.

The checks are what a user sees: cells run without error, tasks succeed, output images exist, and the widget
state nbclient saves in the notebook's metadata shows the progress bars green (or red, with the reason).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest
from jupyter_process import JupyterProcess
from nbclient import NotebookClient

from nndeploy_jupyter.notebook.discovery import TOKEN_VAR, URL_VAR

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JupyterProcess]:
    root = tmp_path_factory.mktemp("notebooks")
    with JupyterProcess(root / "root", "--ServerApp.jpserver_extensions={'nndeploy_jupyter': True}",
                        base_url="/nb%20base/") as process:
        yield process


@pytest.fixture
def kernel_env(server: JupyterProcess, monkeypatch: pytest.MonkeyPatch) -> None:
    """What the extension gives the kernels its server starts (checked below); nbclient's kernel inherits it."""
    monkeypatch.setenv(URL_VAR, server.url)
    monkeypatch.setenv(TOKEN_VAR, server.token)


def execute(nb: nbformat.NotebookNode, cwd: Path) -> nbformat.NotebookNode:
    NotebookClient(nb, kernel_name="python3", timeout=180, resources={"metadata": {"path": str(cwd)}}).execute()
    return nb


def widget_states(nb: nbformat.NotebookNode, model: str) -> list[dict]:
    state = nb.metadata["widgets"][WIDGET_STATE]["state"]
    return [m["state"] for m in state.values() if m["model_name"] == model]


def texts(nb: nbformat.NotebookNode) -> str:
    """Every text output, as nbconvert or a console would show it."""
    parts = []
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            parts.append(output.get("text", ""))
            parts.append(output.get("data", {}).get("text/plain", ""))
    return "\n".join(parts)


def test_getting_started(server: JupyterProcess, kernel_env: None) -> None:
    nb = execute(nbformat.read(NOTEBOOKS / "getting-started.ipynb", as_version=4), server.root_dir)

    bars = widget_states(nb, "IntProgressModel")  # three %nndeploy run cells: two images, one video
    assert [(b["bar_style"], b["value"], b["max"]) for b in bars] == [("success", 1, 1)] * 2 + [("success", 45, 45)]
    headers = [h["value"] for h in widget_states(nb, "HTMLModel") if "nndeploy task" in h["value"]]
    assert len(headers) == 3 and all("SUCCEEDED" in h for h in headers)
    assert len(widget_states(nb, "ImageModel")) == 2  # task.show() of the two images
    [video] = widget_states(nb, "VideoModel")
    assert video["format"] == "webm"  # playable in a browser, unlike nndeploy's MJPG .avi
    assert "SUCCEEDED (1/1)" in texts(nb) and "SUCCEEDED (45/45)" in texts(nb)  # the widgets' saved text

    edges = server.root_dir / "nndeploy" / "resources" / "images" / "edges.jpg"
    assert edges.is_file() and edges.stat().st_size > 0
    counts = next(line for line in texts(nb).splitlines() if line.startswith("edge pixels:"))
    before, after = (int(word) for word in counts.split() if word.isdigit())
    assert after > before  # the changed parameter took effect


def test_plugin_node(server: JupyterProcess, kernel_env: None) -> None:
    nb = execute(nbformat.read(NOTEBOOKS / "plugin-node.ipynb", as_version=4), server.root_dir)

    assert [b["bar_style"] for b in widget_states(nb, "IntProgressModel")] == ["success"]
    resources = server.root_dir / "nndeploy" / "resources"
    assert (resources / "plugin" / "pixelate.py").is_file()
    assert (resources / "images" / "pixelated.jpg").is_file()
    assert "pixelated in blocks of 24" in texts(nb)  # the node's own print, from the task's log
    assert "(320, 480, 3)" in texts(nb)


def test_failed_task_shows_a_red_widget_with_the_reason(server: JupyterProcess, kernel_env: None) -> None:
    graph = json.loads((NOTEBOOKS.parent / "nndeploy_jupyter" / "templates" / "image"
                        / "Image_Edge_Detection.json").read_text())
    graph["node_repository_"][1]["key_"] = "tests.Broken"
    plugin = ("import nndeploy.dag, numpy as np\n"
              "class Broken(nndeploy.dag.Node):\n"
              "    def __init__(self, name, inputs=None, outputs=None):\n"
              "        super().__init__(name, inputs, outputs)\n"
              "        self.set_key('tests.Broken')\n"
              "        self.set_input_type(np.ndarray)\n"
              "        self.set_output_type(np.ndarray)\n"
              "    def run(self):\n"
              "        raise ValueError('no light reached the sensor')\n"
              "class BrokenCreator(nndeploy.dag.NodeCreator):\n"
              "    def create_node(self, name, inputs, outputs):\n"
              "        self.node = Broken(name, inputs, outputs)\n"
              "        return self.node\n"
              "creator = BrokenCreator()\n"
              "nndeploy.dag.register_node('tests.Broken', creator)\n")
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell(f"from nndeploy_jupyter import Client\nClient().upload_node('broken.py', {plugin!r})"
                                  "\n%load_ext nndeploy_jupyter"),
        nbformat.v4.new_code_cell("%%nndeploy run\n" + json.dumps(graph)),
    ])
    execute(nb, server.root_dir)

    [bar] = widget_states(nb, "IntProgressModel")
    assert bar["bar_style"] == "danger"
    [header] = [h["value"] for h in widget_states(nb, "HTMLModel") if "nndeploy task" in h["value"]]
    assert "FAILED" in header and "no light reached the sensor" in header
    assert "reason: " in texts(nb) and "no light reached the sensor" in texts(nb)


def check_batch_notebook(nb: nbformat.NotebookNode, root_dir: Path) -> None:
    """What a user of notebooks/batch.ipynb sees: a green bar over 12 tasks, the table, fewer edges with higher
    thresholds, and each task's output in a folder of its own."""
    [bar] = widget_states(nb, "IntProgressModel")
    assert (bar["bar_style"], bar["value"], bar["max"]) == ("success", 12, 12)
    [counts] = [h["value"] for h in widget_states(nb, "HTMLModel") if "SUCCEEDED <b>" in h["value"]]
    assert "SUCCEEDED <b>12</b>" in counts
    text = texts(nb)
    assert "12/12 ended (SUCCEEDED 12)" in text  # the widget's saved text, for nbconvert
    averages = [int(line.split(":")[1].split()[0]) for line in text.splitlines() if line.startswith("low_threshold")]
    assert len(averages) == 3 and averages[0] > averages[1] > averages[2] > 0
    assert "input (120, 160, 3) -> output (120, 160, 3) SUCCEEDED" in text
    images = root_dir / "nndeploy" / "resources" / "images"
    outputs = sorted(images.glob("batch-*/*/edges.jpg"))
    assert len(outputs) == 12 and len({p.parent.parent for p in outputs}) == 1
    assert len(list((root_dir / "nndeploy" / "resources" / "inputs").iterdir())) == 5  # 4 files and 1 array


def test_batch_notebook(server: JupyterProcess, kernel_env: None) -> None:
    nb = execute(nbformat.read(NOTEBOOKS / "batch.ipynb", as_version=4), server.root_dir)
    check_batch_notebook(nb, server.root_dir)


def test_batch_notebook_on_a_dask_cluster(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("distributed", reason="the Dask tests need distributed (pip install '.[test]')")
    from dask_cluster import DaskCluster

    with DaskCluster(tmp_path / "dask", workers=2) as cluster, JupyterProcess(
            tmp_path / "root", "--ServerApp.jpserver_extensions={'nndeploy_jupyter': True}",
            "--NnDeployExtension.executor_class=dask", f"--DaskExecutor.scheduler_address={cluster.address}",
            base_url="/dask/") as server:
        monkeypatch.setenv(URL_VAR, server.url)
        monkeypatch.setenv(TOKEN_VAR, server.token)
        nb = execute(nbformat.read(NOTEBOOKS / "batch.ipynb", as_version=4), server.root_dir)
        assert server.get("nndeploy/api/server")["result"]["executor"].endswith("DaskExecutor")
    check_batch_notebook(nb, server.root_dir)


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="reads the kernel's environment from /proc")
def test_kernels_the_server_starts_know_where_it_is(server: JupyterProcess) -> None:
    code, body = server.request("api/kernels", "POST", json.dumps({"name": "python3"}).encode())
    assert code == 201, body
    kernel_id = json.loads(body)["id"]
    try:
        env = kernel_environment(kernel_id)
        assert env[URL_VAR] == f"http://127.0.0.1:{server.port}/nb%20base/"
        assert env[TOKEN_VAR] == server.token
    finally:
        server.request(f"api/kernels/{kernel_id}", "DELETE")


def kernel_environment(kernel_id: str, timeout: float = 30) -> dict[str, str]:
    """The environment of the kernel process whose connection file names ``kernel_id``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for proc in Path("/proc").iterdir():
            try:
                cmdline = (proc / "cmdline").read_bytes().split(b"\0")
                if any(kernel_id.encode() in part for part in cmdline):
                    raw = (proc / "environ").read_bytes().split(b"\0")
                    return dict(item.decode().partition("=")[::2] for item in raw if b"=" in item)
            except OSError:
                continue
        time.sleep(0.1)
    raise TimeoutError(f"no process for kernel {kernel_id}")

