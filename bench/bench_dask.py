"""The Dask executor's cost per task against the local one, and its throughput with one and two Dask workers.

Starts a loopback cluster (``dask scheduler`` + ``dask worker --nthreads 1`` processes) and two Jupyter servers
with the extension: one on the local executor (``max_workers=1``), one on the Dask executor. Each is followed by an
independent client: the ``websockets`` library speaking nndeploy's protocol (bind ``*``), POSTs over HTTP.

- latency: the same trivial graph (8x8 image -> Canny -> image), enqueue -> ``task_run_info`` p50/p99, one task
  at a time, alternating local and Dask task by task so that the machine's load hits both alike;
- overhead: Dask p50 minus local p50 (goal <= +10 ms);
- burst: 200 tasks posted at once, tasks/s from the first POST to the last ``task_run_info``: local (1 worker),
  Dask with one worker, then with two; and the CPU time per task of every process involved (server and its
  children; for Dask also the scheduler, nannies, workers and their children), which bounds the burst on 2 cores.

    python bench/bench_dask.py --runs 100

Progress goes to stderr; stdout gets one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import psutil
import websockets
from tornado.httpclient import AsyncHTTPClient

TESTS = Path(__file__).resolve().parent.parent / "tests"
sys.path.insert(0, str(TESTS))

import graphs as fixtures  # noqa: E402
from dask_cluster import DaskCluster  # noqa: E402
from jupyter_process import JupyterProcess  # noqa: E402

GOALS = {"overhead_p50_ms": 10}
BURST = 200


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def tree_cpu(pids: list[int]) -> float:
    """CPU seconds (user + system) used so far by these processes and everything below them."""
    total = 0.0
    for pid in pids:
        try:
            root = psutil.Process(pid)
            for proc in [root, *root.children(recursive=True)]:
                times = proc.cpu_times()
                total += times.user + times.system
        except psutil.NoSuchProcess:
            continue
    return total


class Follower:
    """POSTs tasks and records when each one's ``task_run_info`` arrived on its own WebSocket."""

    def __init__(self, server: JupyterProcess):
        self.api = f"{server.url}nndeploy/api/"
        self.headers = {"Authorization": f"token {server.token}"}
        self.http = AsyncHTTPClient(force_instance=True, max_clients=64)
        self.ended: dict[str, tuple[float, str]] = {}
        self.changed = asyncio.Condition()

    async def connect(self) -> None:
        url = self.api.replace("http://", "ws://") + "ws/progress"
        self.ws = await websockets.connect(url, additional_headers=self.headers, max_size=None)
        await self.ws.send(json.dumps({"type": "bind", "task_id": "*"}))
        self.reader = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        async for message in self.ws:
            now = time.perf_counter()
            result = json.loads(message)["result"]
            if result["type"] == "task_run_info":
                self.ended.setdefault(result["task_id"], (now, result["state"]))
                async with self.changed:
                    self.changed.notify_all()

    async def submit(self, graph: dict) -> str:
        response = await self.http.fetch(self.api + "queue", method="POST", headers=self.headers,
                                         body=json.dumps(graph))
        return json.loads(response.body)["result"]["task_id"]

    async def end(self, task_id: str, timeout: float = 300) -> tuple[float, str]:
        async with self.changed:
            await asyncio.wait_for(self.changed.wait_for(lambda: task_id in self.ended), timeout)
        return self.ended[task_id]

    async def once(self, graph: dict) -> float:
        started = time.perf_counter()
        ended, state = await self.end(await self.submit(graph))
        assert state == "SUCCEEDED", state
        return ended - started

    async def burst(self, graph: dict, pids: list[int]) -> tuple[float, int, float]:
        """tasks/s, how many did not succeed, and CPU ms per task of ``pids``' process trees."""
        cpu = tree_cpu(pids)
        started = time.perf_counter()
        ids = await asyncio.gather(*(self.submit(graph) for _ in range(BURST)))
        ends = [await self.end(task_id) for task_id in ids]
        cpu = (tree_cpu(pids) - cpu) / BURST * 1e3
        return BURST / (max(t for t, _ in ends) - started), sum(state != "SUCCEEDED" for _, state in ends), cpu

    async def close(self) -> None:
        await self.ws.close()
        self.reader.cancel()
        self.http.close()


async def measure(local: Follower, dask: Follower, cluster: DaskCluster, graph: dict, runs: int,
                  servers: list[JupyterProcess]) -> dict:
    for _ in range(10):  # warm-up: catalogue, pools, connections
        await local.once(graph)
        await dask.once(graph)
    local_lat, dask_lat = [], []
    for _ in range(runs):
        local_lat.append(await local.once(graph))
        dask_lat.append(await dask.once(graph))
    log(f"latency p50: local {statistics.median(local_lat) * 1e3:.1f} ms, "
        f"dask {statistics.median(dask_lat) * 1e3:.1f} ms")
    local_burst = await local.burst(graph, [servers[0].proc.pid])
    dask_pids = [servers[1].proc.pid, *(proc.pid for proc in cluster.procs)]  # scheduler, nannies, workers
    dask_one = await dask.burst(graph, dask_pids)
    log(f"burst: local {local_burst[0]:.1f}/s, dask (1 worker) {dask_one[0]:.1f}/s")
    cluster.add_worker("w1")
    cluster.wait_workers(2)
    deadline = time.monotonic() + 120
    while not all(cluster.pools().values()):  # the newcomer's pool is warm once it holds one
        assert time.monotonic() < deadline, "the second worker got no pool"
        await asyncio.sleep(0.5)
    await asyncio.sleep(2)
    for _ in range(10):
        await dask.once(graph)
    dask_two = await dask.burst(graph, [servers[1].proc.pid, *(proc.pid for proc in cluster.procs)])
    log(f"burst: dask (2 workers) {dask_two[0]:.1f}/s")
    return {"local": local_lat, "dask": dask_lat, "local_burst": local_burst, "dask_one": dask_one,
            "dask_two": dask_two}


async def run(args: argparse.Namespace) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench-dask-") as scratch:
        scratch_path = Path(scratch)
        roots = {name: scratch_path / name for name in ("local", "dask")}
        graph = {}
        for root in roots.values():
            fixtures.synthetic_image(root / "nndeploy" / "resources" / "images" / "tiny.jpg", 8, 8)
            graph = fixtures.chain("trivial", [fixtures.image_decode("Decode", "resources/images/tiny.jpg"),
                                               fixtures.canny(),
                                               fixtures.image_encode("Encode", "resources/images/tiny.out.jpg")])
        enable = "--ServerApp.jpserver_extensions={'nndeploy_jupyter': True}"
        with DaskCluster(scratch_path / "dask-logs", workers=0) as cluster:
            cluster.add_worker("w0")
            cluster.wait_workers(1)
            servers = [JupyterProcess(roots["local"], enable).start(),
                       JupyterProcess(roots["dask"], enable, "--NnDeployExtension.executor_class=dask",
                                      f"--DaskExecutor.scheduler_address={cluster.address}").start()]
            try:
                local, dask = Follower(servers[0]), Follower(servers[1])
                await local.connect()
                await dask.connect()
                got = await measure(local, dask, cluster, graph, args.runs, servers)
                await local.close()
                await dask.close()
            finally:
                for server in servers:
                    server.stop()
    local_p50, dask_p50 = statistics.median(got["local"]) * 1e3, statistics.median(got["dask"]) * 1e3
    figures = {
        "local_p50_ms": round(local_p50, 2),
        "local_p99_ms": round(percentile(got["local"], 0.99) * 1e3, 2),
        "dask_p50_ms": round(dask_p50, 2),
        "dask_p99_ms": round(percentile(got["dask"], 0.99) * 1e3, 2),
        "overhead_p50_ms": round(dask_p50 - local_p50, 2),
        "overhead_p99_ms": round((percentile(got["dask"], 0.99) - percentile(got["local"], 0.99)) * 1e3, 2),
        "burst_local_tasks_per_s": round(got["local_burst"][0], 1),
        "burst_dask_1_worker_tasks_per_s": round(got["dask_one"][0], 1),
        "burst_dask_2_workers_tasks_per_s": round(got["dask_two"][0], 1),
        "burst_not_succeeded": got["local_burst"][1] + got["dask_one"][1] + got["dask_two"][1],
        "cpu_ms_per_task_local": round(got["local_burst"][2], 1),
        "cpu_ms_per_task_dask": round(got["dask_one"][2], 1),
        "load_average_1min": round(psutil.getloadavg()[0], 1),
    }
    return {**figures, "goals": GOALS, "goals_met": {"overhead_p50_ms": figures["overhead_p50_ms"] <= 10},
            "runs": args.runs}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100, help="sequential trivial tasks on each executor")
    print(json.dumps(asyncio.run(run(parser.parse_args()))))


if __name__ == "__main__":
    main()
