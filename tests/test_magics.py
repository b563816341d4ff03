"""``%nndeploy`` / ``%%nndeploy`` in an IPython shell, against a real Jupyter server with the extension.

One server (a child process, under a prefixed base_url) serves the whole module; the shell finds it through
the variables the extension gives its kernels. Without a kernel, widgets get a DummyComm and display as
their plain-text repr, which is what a console or a saved notebook shows.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from graphs import simple_plugin
from IPython.testing import globalipapp
from jupyter_process import JupyterProcess

from nndeploy_jupyter.notebook.client import Client, Task
from nndeploy_jupyter.notebook.discovery import TOKEN_VAR, URL_VAR
from nndeploy_jupyter.notebook.magics import NnDeployMagics
from nndeploy_jupyter.notebook.widgets import TaskProgress

FAILING_PLUGIN = simple_plugin("tests.Fuse", '        raise RuntimeError("fuse blown at frame 0")')


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JupyterProcess]:
    root = tmp_path_factory.mktemp("magics")
    with JupyterProcess(root / "root", "--ServerApp.jpserver_extensions={'nndeploy_jupyter': True}",
                        f"--NnDeployExtension.workspace={root / 'ws'}", base_url="/magic%20base/") as process:
        yield process


@pytest.fixture(scope="module")
def template_graph(server: JupyterProcess) -> dict:
    templates = server.get("nndeploy/api/template")["result"]
    template_id = next(t["id"] for t in templates if t["name_"] == "Image_Edge_Detection")
    return server.get(f"nndeploy/api/template/{template_id}")["result"]


@pytest.fixture
def ip(server: JupyterProcess, monkeypatch: pytest.MonkeyPatch):
    """An IPython shell whose kernel environment points at ``server``, with the extension loaded afresh."""
    monkeypatch.setenv(URL_VAR, server.url)
    monkeypatch.setenv(TOKEN_VAR, server.token)
    shell = globalipapp.start_ipython() or globalipapp.get_ipython()  # the first call starts it
    shell.run_line_magic("load_ext", "nndeploy_jupyter")
    shell.register_magics(NnDeployMagics)  # a fresh instance: no client cached from another test
    return shell


def nndeploy(ip, line: str, cell: str | None = None):
    return ip.run_cell_magic("nndeploy", line, cell) if cell is not None else ip.run_line_magic("nndeploy", line)


@pytest.mark.parametrize("line", [
    "", "frobnicate", "run", "run Image_Edge_Detection --priority high", "run x --param Canny.low_threshold",
    "run x --param nodot=1", "cancel", "status a b", "history many", "run x --wat", "run 'unclosed",
])
def test_bad_arguments_print_a_usage_line(ip, capsys, line: str) -> None:
    assert nndeploy(ip, line) is None
    err = capsys.readouterr().err
    assert "usage: %nndeploy run" in err and "Traceback" not in err


def test_a_cell_is_only_for_run(ip, capsys) -> None:
    assert nndeploy(ip, "list", cell="{}") is None
    assert "only 'run' takes a cell" in capsys.readouterr().err


def test_cell_that_is_not_json(ip, capsys) -> None:
    assert nndeploy(ip, "run", cell="not json") is None
    assert "the cell is not graph JSON" in capsys.readouterr().err


@pytest.mark.parametrize("cell", ["[1, 2]", "42", '"Image_Edge_Detection"', "null"])
def test_cell_json_that_is_not_an_object(ip, capsys, cell: str) -> None:
    assert nndeploy(ip, "run", cell=cell) is None  # once a TypeError traceback from the client
    err = capsys.readouterr().err
    assert "a graph JSON object" in err and "usage: %nndeploy run" in err


def test_list_shows_templates(ip, capsys) -> None:
    nndeploy(ip, "list")
    out = capsys.readouterr().out
    assert "templates (" in out and "image/Image_Edge_Detection" in out and "workflows (" in out


def test_run_by_name_shows_progress_and_returns_the_task(ip, capsys) -> None:
    task = nndeploy(ip, "run Image_Edge_Detection --param Canny.low_threshold=5 --priority 3")
    assert isinstance(task, Task) and task.state == "SUCCEEDED" and task.priority == 3
    assert Path(task.outputs[0]).is_file()
    out = capsys.readouterr().out
    assert f"nndeploy task {task.id}: SUCCEEDED (1/1)" in out  # the widget's text, as a console shows it


def test_cell_run_with_graph_json(ip, capsys, template_graph: dict) -> None:
    task = nndeploy(ip, "run --param Canny.high_threshold=90", cell=json.dumps(template_graph))
    assert task.state == "SUCCEEDED"


def test_no_wait_then_status_cancel_and_history(ip, capsys) -> None:
    task = nndeploy(ip, "run Image_Edge_Detection --no-wait")
    assert isinstance(task, Task) and not task.finished or task.state == "SUCCEEDED"
    task.wait(120)
    capsys.readouterr()

    nndeploy(ip, f"status {task.id}")
    out = capsys.readouterr().out
    assert f"nndeploy task {task.id}: SUCCEEDED" in out and "output: " in out

    nndeploy(ip, "status")
    assert "running (0)" in capsys.readouterr().out

    nndeploy(ip, f"cancel {task.id}")
    assert "HTTP 409" in capsys.readouterr().err  # finished already

    nndeploy(ip, "cancel no-such-task")
    assert "HTTP 404" in capsys.readouterr().err

    nndeploy(ip, "history 5")
    out = capsys.readouterr().out
    assert "history (" in out and task.id in out and "SUCCEEDED" in out


def test_unknown_workflow_or_node_is_a_message(ip, capsys, template_graph: dict) -> None:
    assert nndeploy(ip, "run No_Such_Thing") is None
    assert "no workflow or template" in capsys.readouterr().err
    assert nndeploy(ip, "run --param Blur.sigma=2", cell=json.dumps(template_graph)) is None
    assert "the graph has no node named 'Blur'" in capsys.readouterr().err  # the server's reason


def test_failed_task_turns_the_widget_red_with_the_reason(ip, capsys, server: JupyterProcess,
                                                         template_graph: dict) -> None:
    client = Client(server.url, server.token)
    client.upload_node("fuse.py", FAILING_PLUGIN)
    graph = json.loads(json.dumps(template_graph))
    canny = next(n for n in graph["node_repository_"] if n["name_"] == "Canny")
    canny["key_"] = "tests.Fuse"

    task = nndeploy(ip, "run", cell=json.dumps(graph))
    assert task.state == "FAILED" and "fuse blown at frame 0" in task.error
    out = capsys.readouterr().out
    assert "FAILED" in out and "reason: " in out and "fuse blown" in out

    progress = TaskProgress(client.task(task.id))
    assert progress.bar.bar_style == "danger"
    assert "FAILED" in progress.header.value and "fuse blown at frame 0" in progress.header.value
    client.close()
