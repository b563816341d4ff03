"""A real Jupyter server in a child process, for tests that need a restart, a browser or a kernel."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class JupyterProcess:
    """``with JupyterProcess(root) as server: server.get("nndeploy/api/workflows")``."""

    def __init__(self, root_dir: Path, *args: str, app: str = "jupyter_server", base_url: str = "/",
                 token: str = "test-token", env: dict[str, str] | None = None, port: int | None = None):
        self.root_dir, self.args, self.app, self.base_url, self.token = root_dir, args, app, base_url, token
        self.port = port or free_port()
        self.env = {**os.environ, **(env or {})}
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.base_url}"

    def start(self, timeout: float = 60) -> JupyterProcess:
        self.root_dir.mkdir(parents=True, exist_ok=True)
        self.log = open(self.root_dir.parent / f"jupyter-{self.port}.log", "wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", self.app, "--no-browser", "--allow-root", f"--port={self.port}",
             "--ip=127.0.0.1", f"--ServerApp.root_dir={self.root_dir}", f"--IdentityProvider.token={self.token}",
             f"--ServerApp.base_url={self.base_url}", *self.args],
            stdout=self.log, stderr=subprocess.STDOUT, env=self.env, start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"jupyter exited with {self.proc.returncode}: {self.log_text()[-2000:]}")
            try:
                self.get("api/status")
                return self
            except OSError:
                time.sleep(0.1)
        raise TimeoutError(f"jupyter did not answer within {timeout} s")

    def request(self, path: str, method: str = "GET", body: bytes | None = None) -> tuple[int, bytes]:
        request = urllib.request.Request(self.url + path, data=body, method=method,
                                         headers={"Authorization": f"token {self.token}"})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def get(self, path: str):
        code, body = self.request(path)
        if code != 200:
            raise OSError(f"GET {path}: {code}")
        return json.loads(body)

    def post(self, path: str, payload) -> tuple[int, dict]:
        code, body = self.request(path, "POST", json.dumps(payload).encode())
        return code, json.loads(body)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.log.close()

    def log_text(self) -> str:
        self.log.flush()
        return (self.root_dir.parent / f"jupyter-{self.port}.log").read_text(errors="replace")

    def __enter__(self) -> JupyterProcess:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
