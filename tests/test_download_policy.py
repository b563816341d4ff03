"""Downloads may not reach the server's own network: loopback, link-local, private... addresses are refused after
DNS resolution and at every redirect hop unless ``allow_private_downloads``; ``download_allowed_hosts`` narrows
the hosts; ``max_download_bytes`` caps a file. A refusal is a clear reason and leaves no file, partial or not."""

from __future__ import annotations

import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from conftest import wait_for
from graphs import canny_image_graph
from test_downloads import DATA, Origin, origin, service_alone  # noqa: F401  (origin: a fixture)

from nndeploy_jupyter.services import downloads
from nndeploy_jupyter.services.downloads import DownloadFailed, DownloadPolicy


def nothing_kept(folder: Path) -> bool:
    return not any(folder.iterdir())


async def test_a_loopback_url_is_refused_by_default(api, origin, workspace: Path):  # noqa: F811
    host, seen = origin
    port = host.split(":")[1]
    for url in (f"http@{host}/files/tiny.onnx", f"http@localhost:{port}/files/tiny.onnx"):
        graph = {**canny_image_graph(workspace), "model_url_": [url]}
        code, answer = await api("POST", "queue", {"graph": graph, "download": True})
        assert code == 202, answer
        task = await wait_for(api, answer["result"]["task_id"])
        assert task["state"] == "FAILED" and task["ts_start"] is None
        assert "loopback address" in task["error"] and "allow_private_downloads" in task["error"], task["error"]
    assert seen == []  # never connected
    assert nothing_kept(workspace / "resources" / "models")


class Redirect(BaseHTTPRequestHandler):
    target = ""

    def log_message(self, *args) -> None:
        pass

    def do_GET(self) -> None:
        self.send_response(302)
        self.send_header("Location", self.target)
        self.send_header("Content-Length", "0")
        self.end_headers()


async def test_a_redirect_to_the_servers_own_network_is_refused(origin, tmp_path: Path, monkeypatch):  # noqa: F811
    """127.0.0.2 stands in for a public host (no internet here): the hop it redirects to, 127.0.0.1, is refused."""
    host, seen = origin
    real = downloads._not_public
    monkeypatch.setattr(downloads, "_not_public", lambda address: None if address == "127.0.0.2" else real(address))
    handler = type("ToLoopback", (Redirect,), {"target": f"http://{host}/files/secret.bin"})
    server = ThreadingHTTPServer(("127.0.0.2", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    service, events = service_alone(tmp_path, DownloadPolicy())
    try:
        with pytest.raises(DownloadFailed, match=r"127\.0\.0\.1, a loopback address"):
            await service.fetch_for_graph("t-redirect", {"other_url_": [
                f"http@127.0.0.2:{server.server_address[1]}/files/secret.bin"]})
    finally:
        server.shutdown()
        server.server_close()
    assert seen == [] and nothing_kept(service.workspace.folder("others"))
    assert events[-1]["flag"] == "failed" and "allow_private_downloads" in events[-1]["message"]


async def test_only_the_allowed_hosts_are_reached(origin, tmp_path: Path):  # noqa: F811
    host, seen = origin
    service, _ = service_alone(tmp_path, DownloadPolicy(allow_private=True, allowed_hosts=("models.example",)))
    with pytest.raises(DownloadFailed, match="download_allowed_hosts"):
        await service.fetch_for_graph("t-hosts", {"other_url_": [f"http@{host}/files/a.bin"]})
    assert seen == [] and nothing_kept(service.workspace.folder("others"))


async def test_a_file_over_the_cap_fails_and_leaves_nothing(origin, tmp_path: Path):  # noqa: F811
    host, seen = origin
    service, events = service_alone(tmp_path, DownloadPolicy(allow_private=True, max_bytes=100_000))
    with pytest.raises(DownloadFailed, match="max_download_bytes"):
        await service.fetch_for_graph("t-cap", {"model_url_": [f"http@{host}/files/big.onnx"]})
    assert len(seen) == 1  # refused, not retried
    assert nothing_kept(service.workspace.folder("models"))  # no big.onnx, no .big.onnx.part
    assert "max_download_bytes" in events[-1]["message"]


def test_which_addresses_are_refused():
    refused = {"127.0.0.1": "loopback", "::1": "loopback", "169.254.169.254": "link-local", "10.1.2.3": "private",
               "192.168.0.1": "private", "172.16.0.1": "private", "fd00::1": "private", "0.0.0.0": "private",
               "224.0.0.1": "multicast", "::ffff:127.0.0.1": "loopback", "100.64.0.1": "not a public",
               "fe80::1%eth0": "link-local"}
    for address, words in refused.items():
        reason = downloads._not_public(address)
        assert reason is not None and words in reason, (address, reason)
    for address in ("93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946", "8.8.8.8"):
        assert downloads._not_public(address) is None, address


async def test_the_checked_address_is_the_one_connected_to(origin, tmp_path: Path, monkeypatch):  # noqa: F811
    """DNS rebinding: a name that resolves to a public address when checked, then to 127.0.0.1. The download
    resolves once and connects to the address it checked (127.0.0.2 stands in for the public one)."""
    _, seen = origin
    answers = iter(["127.0.0.2"])
    real_resolve, real_check = socket.getaddrinfo, downloads._not_public

    def rebinding(name, port, *args, **kwargs):
        address = next(answers, "127.0.0.1") if name == "rebind.example" else name
        return real_resolve(address, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    monkeypatch.setattr(downloads, "_not_public", lambda a: None if a == "127.0.0.2" else real_check(a))
    public = ThreadingHTTPServer(("127.0.0.2", 0), type("Public", (Origin,), {"seen": [], "dropped": set()}))
    threading.Thread(target=public.serve_forever, daemon=True).start()
    service, _ = service_alone(tmp_path, DownloadPolicy())
    try:
        await service.fetch_for_graph("t-rebind", {"other_url_": [
            f"http@rebind.example:{public.server_address[1]}/files/data.bin"]})
    finally:
        public.shutdown()
        public.server_close()
    # fetched from the checked address: a second resolution would have connected to 127.0.0.1 (nothing listens on
    # that port there, so the download would have failed)
    assert (service.workspace.folder("others") / "data.bin").read_bytes() == DATA
    assert seen == []
