"""A real JupyterHub deployment: configurable-http-proxy, the dummy authenticator, local single-user servers
of this checkout for alice and bob, everything reached as a user would, through the proxy.

The tests share one hub (starting it and two servers costs about 15 s); the last one restarts it.
"""

from __future__ import annotations

import json
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

import pytest
from conftest import CHECKOUT, figure, requires_tool
from graphs import fault_graph, write_fault_plugin
from hub_process import JUPYTERHUB, PROXY, Hub, UserServer, fetch
from lab_browser import (
    LABEXTENSION,
    REQUIRES_CHROMIUM,
    REQUIRES_LABEXTENSION,
    TAB,
    TIMEOUT_MS,
    chromium,
    keep_screenshot,
    link_labextension,
    quiet_lab_settings,
)
from websockets.exceptions import InvalidStatus
from websockets.sync.client import ClientConnection, connect

from nndeploy_jupyter.notebook.discovery import URL_VAR

pytestmark = [
    requires_tool(PROXY.exists(), "configurable-http-proxy", "make setup installs it into tests/hub/node_modules"),
    requires_tool(JUPYTERHUB.exists(), "jupyterhub", "pip install '.[test]'"),
]
USERS = ("alice", "bob")
TEMPLATE = "Image_Edge_Detection"


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory):
    state = tmp_path_factory.mktemp("hub")
    args = ["--NnDeployExtension.cancel_grace_seconds=1"]  # hung test tasks are cancelled quickly
    if LABEXTENSION is not None:  # this checkout's panel build, not an installed copy
        args.append(f"--LabApp.extra_labextensions_path={link_labextension(state / 'labextensions')}")
    hub = Hub(state, args)
    for user in USERS:  # JupyterLab's user settings live in the user's home
        quiet_lab_settings(hub.home(user) / ".jupyter" / "lab" / "user-settings")
    write_fault_plugin(hub.home("alice") / "nndeploy" / "resources" / "plugin")  # workers load it at start
    try:
        figure(f"hub: up in {hub.start():.1f} s; "
               + ", ".join(f"{user}'s server ready in {hub.spawn(user):.1f} s" for user in USERS))
        yield hub
    finally:
        hub.stop()


@pytest.fixture(scope="module")
def servers(hub: Hub) -> dict[str, UserServer]:
    """Each user's server, with a token of that user's own."""
    return {user: UserServer(hub, user, hub.token(user)) for user in USERS}


def bind(ws: ClientConnection, task_id: str = "*") -> None:
    """Follow a task (its past events are replayed first), or every task from now on (``*``)."""
    ws.send(json.dumps({"type": "bind", "task_id": task_id}))


def events_until(ws: ClientConnection, done, timeout: float = 180) -> list[dict]:
    """Events off the socket until ``done(result)`` holds for one; all of them, in order."""
    seen, deadline = [], time.monotonic() + timeout
    while True:
        result = json.loads(ws.recv(timeout=max(deadline - time.monotonic(), 0.1)))["result"]
        seen.append(result)
        if done(result):
            return seen


def ended(task_id: str):
    return lambda result: result["type"] == "task_run_info" and result["task_id"] == task_id


def template_id(server: UserServer, name: str = TEMPLATE) -> str:
    return next(t["id"] for t in server.result("GET", "template") if t["name_"] == name)


# -- each user, through the proxy ------------------------------------------------------------------------


@pytest.mark.parametrize("user", USERS)
def test_each_user_reaches_their_own_api_and_websocket_through_the_proxy(hub: Hub, servers, user: str):
    server = servers[user]
    assert server.result("GET", "resources") == str(hub.home(user) / "nndeploy" / "resources")
    with server.events() as ws:
        task_id = server.result("POST", "queue", {"template_id": template_id(server)}, expect=202)["task_id"]
        bind(ws, task_id)
        events = events_until(ws, ended(task_id))
    states = [e["state"] for e in events if e["type"] == "status" and not e.get("snapshot")]
    assert states == ["PENDING", "DISPATCHED", "RUNNING", "SUCCEEDED"]
    assert events[-1]["state"] == "SUCCEEDED"
    [output] = server.result("GET", f"queue/{task_id}")["outputs"]
    assert Path(output["path"]).is_relative_to(hub.home(user))


def test_alices_token_and_cookie_get_nothing_from_bobs_server(hub: Hub, servers):
    alice_on_bob = UserServer(hub, "bob", servers["alice"].token)
    for path in ("workflows", "queue/info", "queue/history", "files", "template"):
        code, _ = alice_on_bob.api("GET", path)
        assert code == 403, path
    code, _ = alice_on_bob.api("POST", "workflow/save", {"businessContent": {"name_": "planted"}})
    assert code == 403
    assert "planted" not in {w["name_"] for w in servers["bob"].result("GET", "workflows")}
    with pytest.raises(InvalidStatus) as refused, alice_on_bob.events():
        pass
    assert refused.value.response.status_code == 403

    browser = hub.login("alice")  # her cookies, as her browser holds them after the hub's login page
    code, answer = fetch(f"{hub.url}/user/alice/nndeploy/api/workflows", opener=browser)
    assert code == 200 and answer["flag"] == "success"  # the cookie works on her own server...
    code, answer = fetch(f"{hub.url}/user/bob/nndeploy/api/workflows", opener=browser)
    assert code == 403, answer  # ...not on bob's
    code, page = fetch(f"{hub.url}/user/bob/lab", opener=browser)  # the hub refuses to hand her bob's server
    assert code == 403 and "jupyter-config-data" not in page
    cookie = next(c for c in browser.handlers if hasattr(c, "cookiejar")).cookiejar
    alices = next(c.value for c in cookie if c.name == "jupyterhub-user-alice")
    code, _ = fetch(f"{hub.url}/user/bob/nndeploy/api/workflows", headers={"Cookie": f"jupyterhub-user-bob={alices}"})
    assert code == 403  # her server's cookie under bob's name


def test_workflows_queues_histories_and_event_streams_are_separate(hub: Hub, servers):
    alice, bob = servers["alice"], servers["bob"]
    edges = alice.result("GET", f"template/{template_id(alice)}")
    mine = alice.result("POST", "workflow/save", {"businessContent": {**edges, "name_": "alice's edges"}})["id"]
    bob.result("POST", "workflow/save", {"businessContent": {**edges, "name_": "bob's edges"}})
    assert "bob's edges" not in {w["name_"] for w in alice.result("GET", "workflows")}
    assert "alice's edges" not in {w["name_"] for w in bob.result("GET", "workflows")}
    code, _ = bob.api("GET", f"workflow/{mine}")
    assert code == 404

    holding = fault_graph(hub.home("alice") / "nndeploy", "holding", fault="hang")  # in flight until cancelled
    with alice.events() as alice_ws, bob.events() as bob_ws:
        bind(alice_ws)
        bind(bob_ws)
        first = bob.result("POST", "queue", {"template_id": template_id(bob)}, expect=202)["task_id"]
        bind(bob_ws, first)  # frames are handled in order: once its events come, bob's "*" is bound
        events_until(bob_ws, ended(first))
        hers = alice.result("POST", "queue", holding, expect=202)["task_id"]
        bind(alice_ws, hers)
        code, _ = bob.api("GET", f"queue/{hers}")
        assert code == 404
        bob_queue = bob.result("GET", "queue/info")
        assert hers not in {t["task_id"] for group in bob_queue.values() for t in group}
        alice_queue = alice.result("GET", "queue/info")
        assert hers in {t["task_id"] for group in alice_queue.values() for t in group}
        assert alice.result("POST", f"queue/cancel/{hers}")["cancel_requested"]
        events_until(alice_ws, ended(hers))
        assert alice.result("GET", f"queue/{hers}")["state"] == "CANCELLED"
        his = bob.result("POST", "queue", {"template_id": template_id(bob)}, expect=202)["task_id"]
        bind(bob_ws, his)
        bob_events = events_until(bob_ws, ended(his))

    assert {e["task_id"] for e in bob_events} <= {his, None}  # nothing of hers reached his socket meanwhile
    assert hers in {t["task_id"] for t in alice.result("GET", "queue/history")["items"]}
    assert hers not in {t["task_id"] for t in bob.result("GET", "queue/history")["items"]}
    assert his not in {t["task_id"] for t in alice.result("GET", "queue/history")["items"]}


# -- a kernel in alice's server --------------------------------------------------------------------------

KERNEL_CODE = f"""
%load_ext nndeploy_jupyter
task = %nndeploy run {TEMPLATE}
import json, os, nndeploy_jupyter
from nndeploy_jupyter import Client
client = Client()
print("RESULT " + json.dumps({{"state": task.state, "outputs": task.outputs, "source": client.server.source,
                              "url": client.server.url, "exported": os.environ.get({URL_VAR!r}),
                              "package": nndeploy_jupyter.__file__}}))
"""


def execute(server: UserServer, kernel_id: str, code: str, timeout: float = 240) -> dict:
    """Run ``code`` in a kernel over Jupyter's kernel WebSocket (through the proxy): its stdout, stderr,
    error and the reply's status."""
    url = server.prefix.replace("http://", "ws://", 1) + f"api/kernels/{kernel_id}/channels"
    msg_id, out = uuid.uuid4().hex, {"stdout": "", "stderr": "", "error": None, "status": None, "idle": False}
    request = {"header": {"msg_id": msg_id, "msg_type": "execute_request", "session": uuid.uuid4().hex,
                          "username": server.user, "version": "5.3", "date": datetime.now(timezone.utc).isoformat()},
               "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
               "content": {"code": code, "silent": False, "store_history": True, "user_expressions": {},
                           "allow_stdin": False, "stop_on_error": True}}
    deadline = time.monotonic() + timeout
    with connect(url, additional_headers=server.headers, open_timeout=60, max_size=None) as ws:
        ws.send(json.dumps(request))
        while not (out["idle"] and out["status"]):
            message = json.loads(ws.recv(timeout=max(deadline - time.monotonic(), 0.1)))
            if message.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind, content = message["msg_type"], message["content"]
            if kind == "stream":
                out[content["name"]] += content["text"]
            elif kind == "error":
                out["error"] = "\n".join(content["traceback"])
            elif kind == "execute_reply":
                out["status"] = content["status"]
            elif kind == "status" and content["execution_state"] == "idle":
                out["idle"] = True
    return out


def test_a_kernel_in_alices_server_runs_the_magic_with_no_configuration(hub: Hub, servers):
    alice = servers["alice"]
    code, kernel = alice.post("api/kernels", {"name": "python3"})  # Jupyter's REST API, through the proxy
    assert code == 201, kernel
    try:
        out = execute(alice, kernel["id"], KERNEL_CODE)
    finally:
        fetch(f"{alice.prefix}api/kernels/{kernel['id']}", "DELETE", headers=alice.headers)
    assert out["status"] == "ok", out["error"] or out["stderr"]
    result = json.loads(next(line for line in out["stdout"].splitlines() if line.startswith("RESULT "))[7:])
    assert result["state"] == "SUCCEEDED", out["stdout"]
    assert result["source"] == "JupyterHub" and result["url"].endswith("/user/alice/")
    assert result["exported"] is None  # under a hub the extension leaves discovery to the hub's variables
    assert result["package"].startswith(CHECKOUT)  # this checkout, not an installed copy
    [output] = result["outputs"]
    assert Path(output).is_file() and Path(output).is_relative_to(hub.home("alice"))


# -- the idle culler -------------------------------------------------------------------------------------


def hub_activity(hub: Hub, user: str) -> datetime:
    """What the hub (and so jupyterhub-idle-culler) knows of the server's last activity."""
    return datetime.fromisoformat(hub.user(user)["servers"][""]["last_activity"])


def test_a_running_task_keeps_alices_server_active_for_the_hub(hub: Hub, servers):
    alice = servers["alice"]
    hung = alice.result("POST", "queue", fault_graph(hub.home("alice") / "nndeploy", "hung", fault="hang"),
                        expect=202)["task_id"]  # a hang sends no event at all
    alice.wait_for_task(hung, ("RUNNING",))
    last_request = datetime.now(timezone.utc)  # from here on, nothing but the hub's API is asked
    moved = Hub.wait(lambda: (seen := hub_activity(hub, "alice")) > last_request and seen, 120,
                     "the hub saw no activity of alice's server while her task ran")
    later = Hub.wait(lambda: (seen := hub_activity(hub, "alice")) > moved and seen, 120,
                     "alice's server stopped reporting activity while her task ran")
    assert datetime.fromisoformat(hub.user("alice")["last_activity"]) >= later  # the user's, as the culler reads
    code, answer = alice.api("POST", f"queue/cancel/{hung}")
    assert code == 200 and answer["result"]["cancel_requested"]
    record = alice.wait_for_task(hung)
    assert record["state"] == "CANCELLED"
    assert later < datetime.fromtimestamp(record["ts_finish"], timezone.utc)


# -- a browser -------------------------------------------------------------------------------------------


@REQUIRES_CHROMIUM
@REQUIRES_LABEXTENSION
def test_login_through_the_hub_then_the_panel_lists_the_templates(hub: Hub):
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.set_default_timeout(TIMEOUT_MS)
        page.goto(f"{hub.url}/hub/login")
        page.fill("input[name=username]", "alice")
        page.fill("input[name=password]", "anything")
        page.click("input[type=submit], button[type=submit]")
        page.wait_for_url("**/user/alice/lab**")
        page.wait_for_selector("#jupyterlab-splash", state="detached")
        page.locator(TAB).click()
        page.get_by_text(TEMPLATE, exact=True).first.wait_for()
        figure(f"hub: alice's panel after the hub's login page: {keep_screenshot(page, 'hub-panel')}")


# -- restarts (last: it restarts the module's hub) ------------------------------------------------------


def test_after_the_hub_and_alices_server_restart_her_workflows_and_history_are_there(hub: Hub, servers):
    alice = servers["alice"]
    edges = alice.result("GET", f"template/{template_id(alice)}")
    kept = alice.result("POST", "workflow/save", {"businessContent": {**edges, "name_": "kept"}})["id"]
    task_id = alice.result("POST", "queue", {"workflow_id": kept}, expect=202)["task_id"]
    assert alice.wait_for_task(task_id)["state"] == "SUCCEEDED"
    code, before = alice.get(f"nndeploy/api/workflow/{kept}")
    workflows, history = alice.result("GET", "workflows"), alice.result("GET", "queue/history")

    hub.stop()  # the hub stops alice's server too
    hub.start()
    hub.spawn("alice")
    assert alice.get(f"nndeploy/api/workflow/{kept}") == (code, before)  # her token lives in the hub's database
    assert alice.result("GET", "workflows") == workflows
    assert alice.result("GET", "queue/history") == history
