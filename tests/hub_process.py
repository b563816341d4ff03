"""A real JupyterHub in a child process (tests/hub/jupyterhub_config.py), and its users as a client sees them:
through the proxy, with a token or with the cookie a login through the hub's page gives."""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from http.cookiejar import CookieJar
from pathlib import Path

from jupyter_process import free_port
from websockets.sync.client import ClientConnection, connect

HUB_DIR = Path(__file__).resolve().parent / "hub"
PROXY = HUB_DIR / "node_modules" / ".bin" / "configurable-http-proxy"
BIN = Path(sys.executable).parent
JUPYTERHUB, SINGLEUSER = BIN / "jupyterhub", BIN / "jupyterhub-singleuser"
API = "nndeploy/api"


def fetch(url: str, method: str = "GET", body=None, headers: dict | None = None,
         opener: urllib.request.OpenerDirector | None = None, timeout: float = 60) -> tuple[int, object]:
    """(status, JSON body or text); HTTP errors are returned, not raised."""
    data = json.dumps(body).encode() if body is not None and not isinstance(body, bytes) else body
    if method == "POST" and data is None:
        data = b""
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with (opener or urllib.request.build_opener()).open(request, timeout=timeout) as response:
            code, raw, kind = response.status, response.read(), response.headers.get_content_type()
    except urllib.error.HTTPError as e:
        code, raw, kind = e.code, e.read(), e.headers.get_content_type()
    text = raw.decode(errors="replace")
    return code, (json.loads(text) if kind == "application/json" and text else text)


class Hub:
    """``with Hub(tmp) as hub: hub.spawn("alice")``. State (database, cookie secret, homes) lives in
    ``state_dir``, so a hub started again on it is the same deployment."""

    def __init__(self, state_dir: Path, singleuser_args: list[str] = ()):
        self.state_dir = state_dir
        self.singleuser_args = list(singleuser_args)
        self.public_port, self.hub_port, self.proxy_api_port = free_port(), free_port(), free_port()
        self.service_token = secrets.token_hex(24)
        self.proc: subprocess.Popen | None = None
        self.server_pids: set[int] = set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.public_port}"

    def home(self, user: str) -> Path:
        return self.state_dir / "home" / user

    def start(self, timeout: float = 120) -> float:
        """Start the hub (it starts its proxy); seconds until its API answers through the proxy."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "HUB_STATE_DIR": str(self.state_dir), "HUB_PUBLIC_PORT": str(self.public_port),
               "HUB_PORT": str(self.hub_port), "HUB_PROXY_API_PORT": str(self.proxy_api_port),
               "HUB_PROXY_COMMAND": str(PROXY), "HUB_SINGLEUSER": str(SINGLEUSER),
               "HUB_SINGLEUSER_ARGS": json.dumps(self.singleuser_args), "HUB_TEST_TOKEN": self.service_token}
        for name in [n for n in env if n.startswith(("JUPYTERHUB_", "NNDEPLOY_JUPYTER_"))]:
            del env[name]  # this process's own servers exported theirs: not the hub's business
        started = time.monotonic()
        with open(self.state_dir / "hub.log", "ab") as log:
            self.proc = subprocess.Popen([str(JUPYTERHUB), "-f", str(HUB_DIR / "jupyterhub_config.py")],
                                         cwd=self.state_dir, env=env, stdout=log, stderr=subprocess.STDOUT,
                                         start_new_session=True)
        self.wait(lambda: self.api("")[0] == 200, timeout, "the hub did not answer")
        return time.monotonic() - started

    def stop(self, timeout: float = 60) -> None:
        """SIGTERM: the hub stops the servers it spawned and its proxy. Leftovers are killed."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        for pid in self.server_pids:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
        self.server_pids.clear()

    def api(self, path: str, method: str = "GET", body=None, token: str | None = None) -> tuple[int, object]:
        headers = {"Authorization": f"token {token or self.service_token}"}
        return fetch(f"{self.url}/hub/api/{path}", method, body, headers)

    def spawn(self, user: str, timeout: float = 180) -> float:
        """Create the user if new, start their server; seconds until the hub says it is ready."""
        code, _ = self.api(f"users/{user}")
        if code == 404:
            assert self.api(f"users/{user}", "POST")[0] == 201
        started = time.monotonic()
        code, answer = self.api(f"users/{user}/server", "POST")
        assert code in (201, 202), answer
        server = self.wait(lambda: (s := self.api(f"users/{user}")[1]["servers"].get("")) and s["ready"] and s,
                           timeout, f"{user}'s server did not become ready")
        self.server_pids.add(server["state"]["pid"])
        return time.monotonic() - started

    def user(self, user: str) -> dict:
        code, model = self.api(f"users/{user}")
        assert code == 200, model
        return model

    def token(self, user: str) -> str:
        """A new API token of ``user``'s own (with the user's permissions, as one made on the token page)."""
        code, answer = self.api(f"users/{user}/tokens", "POST", {"note": "tests"})
        assert code == 201, answer
        return answer["token"]

    def login(self, user: str) -> urllib.request.OpenerDirector:
        """Log in through the hub's login form, as a browser: an opener holding the user's cookies, which
        has also been to the user's server (so it holds that server's cookie too)."""
        jar = CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        code, page = fetch(f"{self.url}/hub/login", opener=opener)
        assert code == 200, page
        xsrf = re.search(r'name="_xsrf" value="([^"]+)"', page).group(1)
        form = urllib.parse.urlencode({"username": user, "password": "anything", "_xsrf": xsrf}).encode()
        code, _ = fetch(f"{self.url}/hub/login?next=/user/{user}/lab", "POST", form, opener=opener,
                       headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert code == 200, f"login as {user} ended with {code}"
        assert any(c.name == f"jupyterhub-user-{user}" for c in jar), [c.name for c in jar]
        return opener

    @staticmethod
    def wait(check, timeout: float, what: str):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError, KeyError, TypeError):
                if result := check():
                    return result
            time.sleep(0.2)
        raise TimeoutError(what)

    def log_text(self) -> str:
        return (self.state_dir / "hub.log").read_text(errors="replace")

    def __enter__(self) -> Hub:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


class UserServer:
    """One user's single-user server, through the hub's proxy, as ``token``'s holder sees it."""

    def __init__(self, hub: Hub, user: str, token: str):
        self.hub, self.user, self.token = hub, user, token
        self.prefix = f"{hub.url}/user/{user}/"

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"token {self.token}"}

    def get(self, path: str) -> tuple[int, object]:
        return fetch(self.prefix + path, headers=self.headers)

    def post(self, path: str, body=None) -> tuple[int, object]:
        return fetch(self.prefix + path, "POST", body, {**self.headers, "Content-Type": "application/json"})

    def api(self, method: str, path: str, body=None) -> tuple[int, object]:
        if method == "GET":
            return self.get(f"{API}/{path}")
        return self.post(f"{API}/{path}", body)

    def result(self, method: str, path: str, body=None, expect: int = 200):
        code, answer = self.api(method, path, body)
        assert code == expect, (code, answer)
        return answer["result"]

    def events(self) -> ClientConnection:
        """``ws/progress`` through the proxy (a header token: JupyterHub refuses one in the URL from a
        client that does not send browsers' Sec-Fetch-Mode)."""
        ws_url = self.prefix.replace("http://", "ws://", 1) + f"{API}/ws/progress"
        return connect(ws_url, additional_headers=self.headers, open_timeout=60, max_size=None)

    def wait_for_task(self, task_id: str, states=("SUCCEEDED", "FAILED", "CANCELLED", "INTERRUPTED"),
                      timeout: float = 180) -> dict:
        return Hub.wait(lambda: (t := self.result("GET", f"queue/{task_id}"))["state"] in states and t, timeout,
                        f"task {task_id} did not reach {states}")
