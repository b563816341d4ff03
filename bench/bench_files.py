"""The files API under load, through a real Jupyter server (a child process) on a scratch workspace.

- upload of a 1 GiB file (``POST files/upload``, multipart, streamed by the client in 1 MiB pieces):
  throughput, the server's RSS growth (peak during the upload minus before; goal <= 32 MiB), and how long a
  small request (``GET resources``) waits meanwhile (the event loop stays free);
- listing a resources tree of 10,000 files (``GET files``): median time over a few calls.

    python bench/bench_files.py --upload-mib 1024 --files 10000

Progress goes to stderr; stdout gets one JSON line with the figures and the goals. Everything is created
in a temporary folder that is removed at the end (about 1 GiB of disk while it runs).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from jupyter_process import JupyterProcess  # noqa: E402

GOALS = {"upload_rss_growth_mib": 32}
PIECE = 1 << 20
BOUNDARY = "benchBoundary0123456789"


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


class Sampler(threading.Thread):
    """Samples a process's RSS and a small request's latency every 50 ms until stopped."""

    def __init__(self, server: JupyterProcess):
        super().__init__(daemon=True)
        self.server, self.peak_rss, self.latencies = server, 0.0, []
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            self.peak_rss = max(self.peak_rss, rss_mib(self.server.proc.pid))
            started = time.perf_counter()
            self.server.get("nndeploy/api/resources")
            self.latencies.append(time.perf_counter() - started)
            self.done.wait(0.05)


def upload(server: JupyterProcess, size: int) -> dict:
    head = (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.bin\"\r\n"
            "Content-Type: application/octet-stream\r\n\r\n").encode()
    tail = f"\r\n--{BOUNDARY}--\r\n".encode()
    piece = os.urandom(PIECE)
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=600)
    connection.putrequest("POST", f"{server.base_url}nndeploy/api/files/upload?file_path=others")
    connection.putheader("Authorization", f"token {server.token}")
    connection.putheader("Content-Type", f"multipart/form-data; boundary={BOUNDARY}")
    connection.putheader("Content-Length", str(len(head) + size + len(tail)))
    connection.endheaders()
    before = rss_mib(server.proc.pid)
    sampler = Sampler(server)
    sampler.start()
    started = time.perf_counter()
    connection.send(head)
    for _ in range(size // PIECE):
        connection.send(piece)
    connection.send(tail)
    response = connection.getresponse()
    answer = json.loads(response.read())
    elapsed = time.perf_counter() - started
    sampler.done.set()
    sampler.join()
    if response.status != 201 or answer["result"]["size"] != size:
        raise RuntimeError(f"upload failed: {response.status} {answer}")
    return {"upload_mib": size >> 20, "upload_seconds": round(elapsed, 2),
            "upload_mib_per_s": round((size >> 20) / elapsed, 1),
            "upload_rss_before_mib": round(before, 1),
            "upload_rss_growth_mib": round(max(sampler.peak_rss, rss_mib(server.proc.pid)) - before, 1),
            "request_during_upload_ms_p50": round(statistics.median(sampler.latencies) * 1000, 1),
            "request_during_upload_ms_max": round(max(sampler.latencies) * 1000, 1)}


def listing(server: JupyterProcess, resources: Path, count: int, rounds: int = 5) -> dict:
    per_folder = 100
    for i in range(count):
        folder = resources / "others" / "tree" / f"d{i // per_folder:03d}"
        if i % per_folder == 0:
            folder.mkdir(parents=True)
        (folder / f"f{i:05d}.txt").write_bytes(b"x")
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        nodes = server.get("nndeploy/api/files")["result"]
        times.append(time.perf_counter() - started)
    if len(nodes) < count:
        raise RuntimeError(f"the tree lists {len(nodes)} nodes, fewer than {count}")
    return {"tree_files": count, "tree_nodes": len(nodes),
            "tree_list_ms_median": round(statistics.median(times) * 1000), "tree_list_ms_first": round(times[0] * 1000)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--upload-mib", type=int, default=1024)
    parser.add_argument("--files", type=int, default=10_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-files-") as scratch:
        root = Path(scratch) / "root"
        server = JupyterProcess(root, "--ServerApp.jpserver_extensions={'nndeploy_jupyter': True}",
                                f"--NnDeployExtension.max_upload_bytes={(args.upload_mib + 1) << 20}")
        server.start()
        try:
            server.get("nndeploy/api/files")  # services started, layout created
            time.sleep(2)  # let start-up work (worker spawn) settle before the RSS baseline
            print("uploading...", file=sys.stderr)
            figures = upload(server, args.upload_mib << 20)
            (root / "nndeploy" / "resources" / "others" / "big.bin").unlink()
            print("listing...", file=sys.stderr)
            figures |= listing(server, root / "nndeploy" / "resources", args.files)
        finally:
            server.stop()
    print(json.dumps({**figures, "goals": GOALS}))


if __name__ == "__main__":
    main()
