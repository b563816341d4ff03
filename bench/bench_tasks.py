"""Task runtime through a real Jupyter server, against the in-process floor (``GraphRunner.run`` in a loop).

Starts ``jupyter server`` with the extension on a scratch workspace (one worker), follows every task on the
``ws/progress`` WebSocket and measures, from the client's side:

- a 300-frame 320x240 MJPG video graph: server time / in-process time (medians of 3 rounds, alternating), and
  the server's RSS growth over those runs;
- cancel of a running (slow) video task: POST cancel -> ``status`` CANCELLED event latency.

Event latency and burst throughput, as independent clients see them, are ``bench_latency.py``'s.
The floor runs in a child process (nndeploy is never imported here) with the workspace as cwd, as the worker.

    python bench/bench_tasks.py

Progress goes to stderr; stdout gets one JSON line with the figures and the goals.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections import defaultdict
from pathlib import Path

from tornado.httpclient import AsyncHTTPClient, HTTPRequest
from tornado.websocket import websocket_connect

TESTS = Path(__file__).resolve().parent.parent / "tests"
sys.path.insert(0, str(TESTS))

import graphs as fixtures  # noqa: E402  (the tests' graph builders and synthetic media)
from jupyter_process import JupyterProcess  # noqa: E402

GOALS = {"video_ratio": 1.3, "server_rss_growth_mb": 50, "cancel_latency_s": 0.2}

VIDEO_ROUNDS = 3
FLOOR_SCRIPT = textwrap.dedent("""
    import json, sys, time
    import nndeploy.dag
    warm_up, graph, runs = json.loads(sys.argv[1]), json.loads(sys.argv[2]), int(sys.argv[3])
    def once(graph):
        runner = nndeploy.dag.GraphRunner()
        started = time.perf_counter()
        runner.run(json.dumps(graph), graph["name_"], "floor")
        elapsed = time.perf_counter() - started
        runner.release()
        return elapsed
    once(warm_up)
    print("FLOOR " + json.dumps([once(graph) for _ in range(runs)]))
""")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def build_graphs(workspace: Path) -> dict[str, dict]:
    resources = workspace / "resources"
    fixtures.synthetic_image(resources / "images" / "tiny.jpg", 8, 8)
    fixtures.synthetic_video(resources / "videos" / "bench.avi", 300, 320, 240)
    fixtures.write_fault_plugin(resources / "plugin")
    video_in = "resources/videos/bench.avi"

    def video(name: str, middle: list[dict]) -> dict:
        return fixtures.chain(name, [fixtures.video_decode("Decode", video_in), *middle, fixtures.canny(),
                                     fixtures.video_encode("Encode", f"resources/videos/{name}.out.avi", video_in)])

    return {
        "trivial": fixtures.chain("trivial", [fixtures.image_decode("Decode", "resources/images/tiny.jpg"),
                                              fixtures.canny(),
                                              fixtures.image_encode("Encode", "resources/images/tiny.out.jpg")]),
        "video": video("video", []),
        "slow": video("slow", [fixtures.fault(sleep_ms=20)]),  # 20 ms per frame: about 7 s, to cancel
    }


def in_process_floor(workspace: Path, warm_up: dict, graph: dict, runs: int) -> list[float]:
    """Seconds per ``GraphRunner.run(graph)`` in a fresh process (after one warm-up run), as a worker runs."""
    result = subprocess.run(
        [sys.executable, "-c", FLOOR_SCRIPT, json.dumps(warm_up), json.dumps(graph), str(runs)],
        cwd=workspace, capture_output=True, text=True, check=True)
    line = next(line for line in result.stdout.splitlines() if line.startswith("FLOOR "))
    return json.loads(line[len("FLOOR "):])


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


class Client:
    """REST calls plus one WebSocket bound to every task; records when each (task, event) first arrived."""

    def __init__(self, server: JupyterProcess):
        self.api = f"{server.url}nndeploy/api/"
        self.headers = {"Authorization": f"token {server.token}"}
        AsyncHTTPClient.configure(None, max_clients=64)
        self.http = AsyncHTTPClient()
        self.arrived: dict[tuple[str, str], float] = {}
        self.changed = asyncio.Condition()
        self.counts: dict[str, int] = defaultdict(int)

    async def connect(self) -> None:
        url = self.api.replace("http://", "ws://") + "ws/progress"
        self.ws = await websocket_connect(HTTPRequest(url, headers=self.headers))
        await self.ws.write_message(json.dumps({"type": "bind", "task_id": "*"}))
        self.reader = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        while (message := await self.ws.read_message()) is not None:
            now = time.perf_counter()
            result = json.loads(message)["result"]
            kind = result["type"] if result["type"] != "status" else f"status:{result['state']}"
            self.counts[result["type"]] += 1
            self.arrived.setdefault((result.get("task_id"), kind), now)
            async with self.changed:
                self.changed.notify_all()

    async def wait(self, task_id: str, kind: str = "task_run_info", timeout: float = 300) -> float:
        async with self.changed:
            await asyncio.wait_for(self.changed.wait_for(lambda: (task_id, kind) in self.arrived), timeout)
        return self.arrived[(task_id, kind)]

    async def post(self, path: str, body: dict | None = None) -> dict:
        response = await self.http.fetch(self.api + path, method="POST", headers=self.headers,
                                         body=json.dumps(body) if body is not None else b"")
        return json.loads(response.body)

    async def submit(self, graph: dict) -> str:
        return (await self.post("queue", graph))["result"]["task_id"]

    async def state(self, task_id: str) -> dict:
        response = await self.http.fetch(self.api + f"queue/{task_id}", headers=self.headers)
        return json.loads(response.body)["result"]


async def measure(client: Client, server: JupyterProcess, graphs: dict[str, dict]) -> dict:
    for _ in range(5):  # warm-up: catalogue probe, worker caches
        await client.wait(await client.submit(graphs["trivial"]))

    rss_before = rss_mb(server.proc.pid)
    video_server, video_floor, video_states = [], [], set()
    for _ in range(VIDEO_ROUNDS):  # alternate with the floor, so a load change on the machine hits both
        workspace = Path(server.root_dir) / "nndeploy"
        video_floor += await asyncio.to_thread(in_process_floor, workspace, graphs["trivial"], graphs["video"], 1)
        started = time.perf_counter()
        video_id = await client.submit(graphs["video"])
        video_server.append(await client.wait(video_id) - started)
        video_states.add((await client.state(video_id))["state"])
    rss_after = rss_mb(server.proc.pid)
    log(f"video: server {video_server} s, floor {video_floor} s, server RSS {rss_before:.0f} -> {rss_after:.0f} MB")

    cancels = []
    for _ in range(3):
        slow_id = await client.submit(graphs["slow"])
        await client.wait(slow_id, "progress")
        await asyncio.sleep(0.5)
        started = time.perf_counter()
        cancel = asyncio.ensure_future(client.post(f"queue/cancel/{slow_id}"))
        cancels.append(await client.wait(slow_id, "status:CANCELLED") - started)
        await cancel
    log(f"cancel: {[round(c, 3) for c in cancels]} s")
    return {"video_server": statistics.median(video_server), "video_floor": statistics.median(video_floor),
            "video_states": sorted(video_states), "rss_growth": rss_after - rss_before,
            "cancel": statistics.median(cancels)}


async def run(args: argparse.Namespace) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench-tasks-") as scratch:
        root = Path(scratch) / "root"
        workspace = root / "nndeploy"
        graphs = build_graphs(workspace)
        server = JupyterProcess(root, "--ServerApp.jpserver_extensions={'nndeploy_jupyter': True}").start()
        try:
            client = Client(server)
            await client.connect()
            got = await measure(client, server, graphs)
        finally:
            server.stop()
    figures = {
        "video_server_s": round(got["video_server"], 3),
        "video_floor_s": round(got["video_floor"], 3),
        "video_ratio": round(got["video_server"] / got["video_floor"], 3),
        "video_states": got["video_states"],
        "server_rss_growth_mb": round(got["rss_growth"], 1),
        "cancel_latency_s": round(got["cancel"], 3),
    }
    met = {
        "video_ratio": figures["video_ratio"] <= GOALS["video_ratio"],
        "server_rss_growth_mb": figures["server_rss_growth_mb"] <= GOALS["server_rss_growth_mb"],
        "cancel_latency_s": figures["cancel_latency_s"] <= GOALS["cancel_latency_s"],
    }
    return {**figures, "goals": GOALS, "goals_met": met}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    print(json.dumps(asyncio.run(run(parser.parse_args()))))


if __name__ == "__main__":
    main()
