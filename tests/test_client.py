"""The notebook client: finding the server with no configuration, and running tasks through the real queue.

The client is blocking (it is meant for notebook cells), while pytest-jupyter's server runs on the test's
event loop: every client call therefore goes through ``asyncio.to_thread``.
"""

from __future__ import annotations

import asyncio
import copy
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import calls_to
from graphs import PASS_THROUGH, simple_plugin
from jupyter_process import JupyterProcess
from sockets import nodelay, tcp_sockets

from nndeploy_jupyter import Client, Task, TaskFailed
from nndeploy_jupyter.notebook.client import PluginError
from nndeploy_jupyter.notebook.discovery import TOKEN_VAR, URL_VAR, ServerNotFound, find_server
from nndeploy_jupyter.notebook.http import ApiError

HUB_ENV = ("JUPYTERHUB_API_TOKEN", "JUPYTERHUB_SERVICE_PREFIX", "JUPYTERHUB_SERVICE_URL", "JUPYTERHUB_API_URL")

FAILING_PLUGIN = simple_plugin("tests.Explode", """\
        print("checking the lens", flush=True)
        raise RuntimeError("the lens cap is still on")""")
SLOW_PLUGIN = simple_plugin("tests.Slow", "        time.sleep(0.1)\n" + PASS_THROUGH)


def server_url(port: int, base_url: str) -> str:
    return f"http://127.0.0.1:{port}{base_url}"


@pytest.fixture
def listening(jp_fetch, jp_serverapp):
    """pytest-jupyter's server listens only once its HTTP client fixture exists."""
    return jp_serverapp


@pytest.fixture(autouse=True)
def restore_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The extension exports its address into this process's environment: undo that after each test."""
    for name in (URL_VAR, TOKEN_VAR):
        monkeypatch.setenv(name, "")


@pytest.fixture
def no_discovery_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (URL_VAR, TOKEN_VAR, *HUB_ENV):
        monkeypatch.delenv(name, raising=False)


def test_importing_the_package_stays_cheap(tmp_path: Path) -> None:
    """The server imports the package at start; the notebook side must not drag IPython or ipywidgets in."""
    code = ("import sys, nndeploy_jupyter\n"
            "from nndeploy_jupyter import Client\n"
            "print(sorted(m for m in ('IPython', 'ipywidgets', 'nndeploy', 'numpy', 'cv2') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# -- discovery, from the environment a kernel sees ----------------------------------------------------------


def test_kernel_environment_wins() -> None:
    env = {URL_VAR: "http://127.0.0.1:8888/base", TOKEN_VAR: "abc", "JUPYTERHUB_API_TOKEN": "hub"}
    server = find_server(env, running=[])
    assert (server.url, server.token) == ("http://127.0.0.1:8888/base/", "abc")
    assert server.api_url == "http://127.0.0.1:8888/base/nndeploy/api/"
    assert server.ws_url == "ws://127.0.0.1:8888/base/nndeploy/api/ws/progress"


def test_jupyterhub_single_user_server() -> None:
    env = {"JUPYTERHUB_API_TOKEN": "hub-token", "JUPYTERHUB_SERVICE_PREFIX": "/user/alice/",
           "JUPYTERHUB_SERVICE_URL": "http://127.0.0.1:41234/user/alice/",
           "JUPYTERHUB_API_URL": "http://127.0.0.1:8081/hub/api"}
    # list_running_servers() knows the server but not its token: the hub's token is the one that works
    running = [{"url": "http://127.0.0.1:41234/user/alice/", "base_url": "/user/alice/", "token": ""}]
    server = find_server(env, running)
    assert (server.url, server.token, server.source) == ("http://127.0.0.1:41234/user/alice/", "hub-token",
                                                         "JupyterHub")


def test_older_jupyterhub_without_service_url_is_found_by_its_prefix() -> None:
    env = {"JUPYTERHUB_API_TOKEN": "hub-token", "JUPYTERHUB_SERVICE_PREFIX": "/user/bob/"}
    running = [{"url": "http://127.0.0.1:1111/", "base_url": "/", "token": "t1"},
               {"url": "http://127.0.0.1:2222/user/bob/", "base_url": "/user/bob/", "token": ""}]
    server = find_server(env, running)
    assert (server.url, server.token) == ("http://127.0.0.1:2222/user/bob/", "hub-token")


def test_running_server_that_serves_the_working_directory(tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / "notebooks").mkdir(parents=True)
    running = [{"url": "http://127.0.0.1:1/", "root_dir": str(project), "token": "inner"},
               {"url": "http://127.0.0.1:2/", "root_dir": str(tmp_path / "elsewhere"), "token": "other"},
               {"url": "http://127.0.0.1:3/", "root_dir": str(tmp_path), "token": "outer"}]
    server = find_server({}, running, cwd=project / "notebooks")
    assert (server.url, server.token) == ("http://127.0.0.1:1/", "inner")


def test_no_server_says_what_to_do() -> None:
    with pytest.raises(ServerNotFound, match="Client\\(url, token\\)"):
        find_server({}, running=[])


# -- against a real server under a prefixed base_url ---------------------------------------------------------


async def test_client_finds_the_server_from_the_kernel_environment(listening, jp_serverapp, jp_base_url) -> None:
    # The extension exported its address for the kernels this server starts (they inherit its environment).
    assert os.environ[URL_VAR].endswith(f":{jp_serverapp.port}{jp_base_url}")
    assert os.environ[TOKEN_VAR] == jp_serverapp.identity_provider.token
    client = await asyncio.to_thread(Client)
    templates = await asyncio.to_thread(client.templates)
    assert "Image_Edge_Detection" in {t["name_"] for t in templates}


async def test_client_under_jupyterhub(listening, jp_serverapp, jp_base_url, monkeypatch, no_discovery_env) -> None:
    monkeypatch.setenv("JUPYTERHUB_API_TOKEN", jp_serverapp.identity_provider.token)
    monkeypatch.setenv("JUPYTERHUB_SERVICE_PREFIX", jp_base_url)
    monkeypatch.setenv("JUPYTERHUB_SERVICE_URL", server_url(jp_serverapp.port, jp_base_url))
    client = await asyncio.to_thread(Client)
    assert client.server.source == "JupyterHub"
    assert isinstance(await asyncio.to_thread(client.workflows), list)


async def test_wrong_token_is_a_clear_error(listening, jp_serverapp, jp_base_url) -> None:
    client = Client(server_url(jp_serverapp.port, jp_base_url), "not-the-token")
    with pytest.raises(ApiError) as caught:
        await asyncio.to_thread(client.templates)
    assert caught.value.status == 403


async def test_a_url_without_the_base_url_is_a_clear_error(listening, jp_serverapp, jp_base_url) -> None:
    client = Client(server_url(jp_serverapp.port, "/"), jp_serverapp.identity_provider.token)
    with pytest.raises(ApiError) as caught:  # Jupyter answers its HTML 404 page there
        await asyncio.to_thread(client.templates)
    assert caught.value.status == 404 and "base_url" in caught.value.reason and "<" not in caught.value.reason


# -- running tasks ---------------------------------------------------------------------------------------


@pytest.fixture
def client(listening, jp_serverapp, jp_base_url):
    client = Client(server_url(jp_serverapp.port, jp_base_url), jp_serverapp.identity_provider.token)
    yield client
    client.close()


async def test_run_template_by_name_then_change_a_parameter(client: Client) -> None:
    task = await asyncio.to_thread(client.run, "Image_Edge_Detection", timeout=120)
    assert task.state == "SUCCEEDED" and task.total == task.done == 1
    assert task.time_profile.get("run_time", 0) > 0
    [path] = task.outputs
    [image] = (await asyncio.to_thread(task.images)).values()
    assert image.ndim == 3 and image.shape[2] == 3
    [picture] = (await asyncio.to_thread(task.images, "pil")).values()
    assert picture.size == (image.shape[1], image.shape[0])
    edges_before = int((image > 0).sum())

    finer = await asyncio.to_thread(client.run, "Image_Edge_Detection",
                                    params={"Canny": {"low_threshold": 5, "high_threshold": 10}}, timeout=120)
    [image] = (await asyncio.to_thread(finer.images)).values()
    assert finer.outputs == [path] and int((image > 0).sum()) > edges_before


async def test_a_task_that_ended_on_the_stream_is_read_again_only_when_its_record_is_asked_for(client: Client):
    """``run()`` returns on ``task_run_info``, which carries the outcome: no second request per task. The rest
    of the record (timestamps, params) is read on first use."""
    graph = await asyncio.to_thread(client.graph, "Image_Edge_Detection")
    await asyncio.to_thread(client.run, graph, timeout=120)  # the stream is up from here on
    sent = calls_to(client)
    task = await asyncio.to_thread(client.run, graph, priority=7, timeout=120)
    assert sent == [("POST", "queue")]
    assert task.succeeded and task.outputs and task.time_profile["run_time"] > 0 and task.priority == 7
    record = await asyncio.to_thread(getattr, task, "record")
    assert sent[1:] == [("GET", f"queue/{task.id}")]
    assert record["state"] == "SUCCEEDED" and record["ts_finish"] >= record["ts_start"] >= record["ts_submit"]
    assert [o["path"] for o in record["outputs"]] == task.outputs


async def test_run_graph_dict_and_file_without_waiting(client: Client, tmp_path: Path) -> None:
    templates = await asyncio.to_thread(client.templates)
    template_id = next(t["id"] for t in templates if t["name_"] == "Image_Edge_Detection")
    graph = await asyncio.to_thread(client.http.call, "GET", f"template/{template_id}")
    graph_file = tmp_path / "edges.json"
    graph_file.write_text(json.dumps(graph))

    from_dict = await asyncio.to_thread(client.run, graph, wait=False, priority=5)
    from_file = await asyncio.to_thread(client.run, str(graph_file), wait=False)
    for task in (from_dict, from_file):
        await asyncio.to_thread(task.wait, 120)
        assert task.succeeded and task.outputs
    assert from_dict.priority == 5
    history = await asyncio.to_thread(client.history)
    assert {from_dict.id, from_file.id} <= {item["task_id"] for item in history}


async def test_failed_task_raises_with_the_workers_error(client: Client) -> None:
    await asyncio.to_thread(client.upload_node, "explode.py", FAILING_PLUGIN)
    graph = exploding_graph()
    with pytest.raises(TaskFailed, match="the lens cap is still on") as caught:
        await asyncio.to_thread(client.run, graph, timeout=120)
    task = caught.value.task
    assert task.state == "FAILED" and "the lens cap is still on" in task.error
    assert any("checking the lens" in line for line in task.logs)


async def test_broken_plugin_is_refused_with_the_reason(client: Client) -> None:
    with pytest.raises(PluginError, match="SyntaxError"):
        await asyncio.to_thread(client.upload_node, "broken.py", "def oops(:\n")


async def test_video_progress_then_cancel_while_running(client: Client) -> None:
    video = await asyncio.to_thread(client.graph, "Video_Edge_Detection")
    done = await asyncio.to_thread(client.run, video, timeout=120)
    assert done.total == done.done == 45  # every frame of the demo video, counted live

    await asyncio.to_thread(client.upload_node, "slow.py", SLOW_PLUGIN)
    slow = copy.deepcopy(video)
    next(n for n in slow["node_repository_"] if n["name_"] == "Canny")["key_"] = "tests.Slow"
    task = await asyncio.to_thread(client.run, slow, wait=False)
    while task.done < 3:  # frames are flowing
        assert not task.finished, task
        await asyncio.sleep(0.05)
    await asyncio.to_thread(task.cancel)  # the server answers at once; Task.cancel() waits for the end
    assert task.state == "CANCELLED"
    with pytest.raises(TaskFailed, match="CANCELLED"):
        await asyncio.to_thread(task.wait, 60)
    assert task.state == "CANCELLED" and task.done < task.total == 45
    still_running = await asyncio.to_thread(client.run, slow, wait=False)
    with pytest.raises(TimeoutError, match="still"):
        await asyncio.to_thread(still_running.wait, 0.2)
    await asyncio.to_thread(still_running.cancel)


async def test_unknown_names_and_ids(client: Client) -> None:
    with pytest.raises(LookupError, match="no workflow or template"):
        await asyncio.to_thread(client.run, "No Such Workflow")
    with pytest.raises(ApiError) as caught:
        await asyncio.to_thread(client.cancel, "no-such-task")
    assert caught.value.status == 404


def exploding_graph() -> dict:
    """Demo image -> the failing plugin node -> an image file."""
    def node(key: str, name: str, inputs: list[str], outputs: list[str], **extra) -> dict:
        return {"key_": key, "name_": name, "device_type_": "kDeviceTypeCodeCpu:0", "node_repository_": [],
                "inputs_": [{"desc_": "input_0", "name_": i, "type_": "ndarray"} for i in inputs],
                "outputs_": [{"desc_": "output_0", "name_": o, "type_": "ndarray"} for o in outputs], **extra}

    return {
        "key_": "nndeploy.dag.Graph", "name_": "Explode", "device_type_": "kDeviceTypeCodeCpu:0",
        "parallel_type_": "kParallelTypeNone", "inputs_": [], "outputs_": [], "is_graph_": True,
        "node_repository_": [
            node("nndeploy::codec::OpenCvImageDecode", "Decode", [], ["Decode@output_0"], node_type_="Input",
                 io_type_="Image", path_="resources/images/nndeploy-demo.jpg"),
            node("tests.Explode", "Explode", ["Decode@output_0"], ["Explode@output_0"]),
            node("nndeploy::codec::OpenCvImageEncode", "Encode", ["Explode@output_0"], [], node_type_="Output",
                 io_type_="Image", path_="resources/images/exploded.jpg"),
        ],
    }


def test_a_server_without_token_authentication_takes_the_clients_posts(tmp_path: Path) -> None:
    """``--IdentityProvider.token=''`` switches token authentication off: Jupyter then checks XSRF on every POST.
    The Client takes the ``_xsrf`` cookie from a GET and sends it back as ``X-XSRFToken``."""
    enabled = "--ServerApp.jpserver_extensions={'nndeploy_jupyter': True}"
    with JupyterProcess(tmp_path / "root", enabled, "--ServerApp.disable_check_xsrf=False", token="") as server:
        code, refused = server.post("nndeploy/api/queue/flush", {})  # a POST without the cookie and header
        assert code == 403 and "xsrf" in refused["message"].lower()
        client = Client(server.url, "")
        try:
            task = client.run("Image_Edge_Detection", timeout=120)
            assert task.succeeded and task.outputs
            assert client.upload_node("pass.py", simple_plugin("tests.Pass", PASS_THROUGH))["filename"] == "pass.py"
            assert "cancel" in client.cancel(client.run("Image_Edge_Detection", wait=False).id).lower()
            # The WebSocket is the one connection to the server left open (each HTTP call had its own).
            with tcp_sockets(lambda s: s.getpeername()[1] == server.port) as sockets:
                assert sockets and all(nodelay(s) for s in sockets), "the client's WebSocket has Nagle on"
        finally:
            client.close()


def test_wait_rides_out_a_server_restart(tmp_path: Path) -> None:
    """A script waiting on a task while the server restarts learns the task's end (INTERRUPTED), not an error."""
    enabled = "--ServerApp.jpserver_extensions={'nndeploy_jupyter': True}"
    first = JupyterProcess(tmp_path / "root", enabled).start()
    client = Client(first.url, first.token)
    try:
        client.upload_node("slow.py", SLOW_PLUGIN)
        video = copy.deepcopy(client.graph("Video_Edge_Detection"))
        next(n for n in video["node_repository_"] if n["name_"] == "Canny")["key_"] = "tests.Slow"
        task = client.run(video, wait=False)
        while task.done < 2:
            time.sleep(0.05)
        outcome: list = []
        waiter = threading.Thread(target=lambda: outcome.append(_wait_or_error(task)))
        waiter.start()
        first.stop()
        time.sleep(0.5)  # a moment with no server at all
        with JupyterProcess(tmp_path / "root", enabled, port=first.port):
            waiter.join(60)
    finally:
        client.close()
    assert outcome == ["INTERRUPTED"]


def _wait_or_error(task: Task) -> str:
    try:
        return task.wait(timeout=60, raise_on_failure=False).state
    except Exception as e:  # what the test must not see
        return repr(e)
