"""Finding the Jupyter server a kernel runs under, with no configuration.

In order: the variables the extension puts into the environment of the kernels its server starts
(``NNDEPLOY_JUPYTER_URL``/``NNDEPLOY_JUPYTER_TOKEN``); a JupyterHub single-user server
(``JUPYTERHUB_SERVICE_URL`` or ``JUPYTERHUB_SERVICE_PREFIX``, authenticated with ``JUPYTERHUB_API_TOKEN``,
which ``list_running_servers()`` does not know); then the running servers Jupyter records on disk, the one
serving the kernel's working directory first.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

URL_VAR = "NNDEPLOY_JUPYTER_URL"
TOKEN_VAR = "NNDEPLOY_JUPYTER_TOKEN"


class ServerNotFound(RuntimeError):
    """No Jupyter server could be found; pass ``Client(url, token)`` explicitly."""


@dataclass(frozen=True)
class ServerInfo:
    url: str  # the server's base URL, ending in "/", e.g. "http://127.0.0.1:8888/user/alice/"
    token: str = ""
    source: str = "explicit"

    @property
    def api_url(self) -> str:
        return self.url + "nndeploy/api/"

    @property
    def ws_url(self) -> str:
        return "ws" + self.api_url[len("http") :] + "ws/progress"


def kernel_environment(serverapp: Any, env: Mapping[str, str] | None = None) -> dict[str, str]:
    """What kernels started by ``serverapp`` need to find it: the server process puts this into its own
    environment, which kernels inherit. Nothing under JupyterHub, where the hub's variables already say it."""
    env = os.environ if env is None else env
    if env.get("JUPYTERHUB_API_TOKEN") or getattr(serverapp, "sock", ""):
        return {}
    ip = serverapp.ip if serverapp.ip not in ("", "0.0.0.0", "*", "::") else "127.0.0.1"
    host = f"[{ip}]" if ":" in ip else ip
    scheme = "https" if serverapp.certfile else "http"
    url = f"{scheme}://{host}:{serverapp.port}{serverapp.base_url}"
    return {URL_VAR: url, TOKEN_VAR: serverapp.identity_provider.token or ""}


def find_server(
    env: Mapping[str, str] | None = None, running: Iterable[dict[str, Any]] | None = None, cwd: Path | None = None
) -> ServerInfo:
    """The server this kernel belongs to. ``env``, ``running`` and ``cwd`` default to the real ones."""
    env = os.environ if env is None else env
    if env.get(URL_VAR):
        return ServerInfo(_slash(env[URL_VAR]), env.get(TOKEN_VAR, ""), "kernel environment")
    hub = _hub_server(env, running)
    if hub is not None:
        return hub
    servers = _running(running)
    if not servers:
        raise ServerNotFound(
            "no running Jupyter server found; start JupyterLab with nndeploy_jupyter enabled, "
            f"set {URL_VAR} (and {TOKEN_VAR}), or pass Client(url, token)"
        )
    best = _closest(servers, (cwd or Path.cwd()).resolve())
    return ServerInfo(_slash(best["url"]), best.get("token", ""), "list_running_servers")


def _hub_server(env: Mapping[str, str], running: Iterable[dict[str, Any]] | None) -> ServerInfo | None:
    token = env.get("JUPYTERHUB_API_TOKEN", "")
    if not token:
        return None
    if env.get("JUPYTERHUB_SERVICE_URL"):
        return ServerInfo(_slash(env["JUPYTERHUB_SERVICE_URL"]), token, "JupyterHub")
    prefix = env.get("JUPYTERHUB_SERVICE_PREFIX")
    if not prefix:
        return None
    # Older hubs do not say where the single-user server listens: find it by its base_url.
    for server in _running(running):
        if _slash(server.get("base_url", "/")) == _slash(prefix):
            return ServerInfo(_slash(server["url"]), token, "JupyterHub")
    return None


def _running(running: Iterable[dict[str, Any]] | None) -> list[dict[str, Any]]:
    if running is None:
        from jupyter_server.serverapp import list_running_servers

        running = list_running_servers()
    return list(running)


def _closest(servers: list[dict[str, Any]], cwd: Path) -> dict[str, Any]:
    """The server whose root_dir holds ``cwd`` most closely; else the last one listed."""

    def depth(server: dict[str, Any]) -> int:
        root = Path(server.get("root_dir") or server.get("notebook_dir") or "/").resolve()
        return len(root.parts) if root == cwd or root in cwd.parents else -1

    return max(enumerate(servers), key=lambda item: (depth(item[1]), item[0]))[1]


def _slash(url: str) -> str:
    return url if url.endswith("/") else url + "/"
