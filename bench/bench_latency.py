"""Event latency and burst throughput as clients we did not write for this server see them.

Three clients, each timing enqueue -> ``task_run_info`` for a trivial graph (8x8 image -> Canny -> image), one
task at a time:

- ``websockets``: the PyPI ``websockets`` library speaking nndeploy's own protocol (stdlib ``http.client`` POSTs
  ``queue`` on a kept-alive connection, then ``{"type": "bind", "task_id": id}`` on ``ws/progress``);
- the notebook ``Client`` (``nndeploy_jupyter.Client(url, token).run(graph)``, which returns once the task has
  ended and its record is read);
- the same ``websockets`` client against the upstream nndeploy server (``python -m nndeploy.server.app``) on the
  same machine in the same run, when it starts offline (it needs ``--debug`` and a template cache folder).

For each: p50/p99 of what the client saw, and of the server-side part (``ts_finish - ts_submit`` from the
server's own history), so the difference is what the wire and the client add. The ``websockets`` client and the
browser pages also time a trivial request after each task (``GET server``, no task behind it): the floor that the
client's own HTTP sets (a browser's fetch crosses its network process) whatever the server does with a task.

Burst: 200 tasks posted at once by the independent client (8 HTTP connections), each bound on the socket;
tasks/s from the first POST to the last ``task_run_info``, against the in-process rate of ``GraphRunner.run`` +
``release`` in a loop (the floor, in a child process, measured before and after the servers: the mean is used),
with 1 and 2 workers. The same with 20 heavier tasks (a 60-frame 320x240 video through Canny, about 0.1 s of
worker time each) shows what a second worker adds when the worker, not the server, is the bottleneck. The CPU
time each process spent per task during the trivial burst (``/proc``) says where the time goes.

    python bench/bench_latency.py [--tasks 100] [--burst 200] [--no-upstream] [--latency-only]

``--latency-only`` runs the sequential measurements of our server alone (no burst, no second server, no upstream):
quick enough to interleave A/B runs.

Progress and a summary go to stderr; stdout gets one JSON line with the figures, the goals and the load.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import websockets

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))  # the checkout's Client and server, not an older installed copy

import graphs as fixtures  # noqa: E402  (the tests' graph builders and synthetic media)
import lab_browser  # noqa: E402  (Debian's Chromium and a JupyterLab with the extension, as the browser tests use)
from jupyter_process import JupyterProcess, free_port  # noqa: E402

from nndeploy_jupyter import Client  # noqa: E402

GOALS = {"p50_ms": 8.0, "p99_ms": 15.0, "burst_vs_floor": 2.0}
WAIT_SECONDS = 60  # one task's task_run_info; past it the task counts as missed
UPSTREAM_START_SECONDS = 90
HTTP_CONNECTIONS = 8
HEAVY_BURST = 20
CHECKOUT_ENV = {"PYTHONPATH": os.pathsep.join(filter(None, (str(ROOT), os.environ.get("PYTHONPATH"))))}

FLOOR_SCRIPT = textwrap.dedent("""
    import json, sys, time
    import nndeploy.dag
    graph, runs = json.loads(sys.argv[1]), int(sys.argv[2])
    def once():
        runner = nndeploy.dag.GraphRunner()
        runner.run(json.dumps(graph), graph["name_"], "floor")
        runner.release()
    for _ in range(5):
        once()
    started = time.perf_counter()
    for _ in range(runs):
        once()
    print("FLOOR " + json.dumps(runs / (time.perf_counter() - started)))
""")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def summary(seconds: list[float]) -> dict[str, float]:
    return {"p50_ms": round(statistics.median(seconds) * 1e3, 2), "p99_ms": round(percentile(seconds, 0.99) * 1e3, 2),
            "n": len(seconds)}


def trivial_graph(workspace: Path) -> dict:
    fixtures.synthetic_image(workspace / "resources" / "images" / "tiny.jpg", 8, 8)
    return fixtures.chain("trivial", [fixtures.image_decode("Decode", "resources/images/tiny.jpg"), fixtures.canny(),
                                      fixtures.image_encode("Encode", "resources/images/tiny.out.jpg")])


def heavy_graph(workspace: Path) -> dict:
    fixtures.synthetic_video(workspace / "resources" / "videos" / "heavy.avi", 60, 320, 240)
    return fixtures.chain("heavy", [fixtures.video_decode("Decode", "resources/videos/heavy.avi"), fixtures.canny(),
                                    fixtures.video_encode("Encode", "resources/videos/heavy.out.avi",
                                                          "resources/videos/heavy.avi")])


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def process_tree(pid: int) -> list[int]:
    children = Path(f"/proc/{pid}/task/{pid}/children")
    return [pid, *(p for c in children.read_text().split() for p in process_tree(int(c)))]


def floor_rate(workspace: Path, graph: dict, runs: int) -> float:
    """Tasks/s of ``GraphRunner.run`` + ``release`` in a loop, in a fresh process with the workspace as cwd."""
    result = subprocess.run([sys.executable, "-c", FLOOR_SCRIPT, json.dumps(graph), str(runs)], cwd=workspace,
                            capture_output=True, text=True, check=True)
    line = next(line for line in result.stdout.splitlines() if line.startswith("FLOOR "))
    return json.loads(line[len("FLOOR "):])


class Api:
    """An nndeploy-protocol client: ``http.client`` for REST, the ``websockets`` library for ``ws/progress``.

    ``base`` is ``http://host:port/api/`` upstream and ``http://host:port/nndeploy/api/`` here; ``token`` is
    Jupyter's (upstream has no authentication)."""

    def __init__(self, base: str, token: str | None = None):
        self.base = base
        self.url = urllib.parse.urlsplit(base)
        self.headers = {"Content-Type": "application/json"}
        if token:
            self.headers["Authorization"] = f"token {token}"
        self._local = threading.local()
        self.arrived: dict[str, float] = {}  # task id -> when its task_run_info came
        self.lag: dict[str, float] = {}  # task id -> seconds from the server stamping task_run_info to its arrival
        self._waiters: dict[str, asyncio.Future] = {}

    # -- REST, blocking, one kept-alive connection per thread --------------------------------------------

    def request(self, method: str, path: str, body: dict | None = None) -> dict:
        for attempt in (1, 2):
            conn = getattr(self._local, "conn", None)
            if conn is None:
                conn = self._local.conn = http.client.HTTPConnection(self.url.hostname, self.url.port, timeout=60)
            try:
                conn.request(method, self.url.path + path, None if body is None else json.dumps(body),
                             self.headers)
                response = conn.getresponse()
                data = response.read()
            except (ConnectionError, http.client.HTTPException):
                conn.close()
                self._local.conn = None
                if attempt == 2:
                    raise
                continue
            if response.status >= 300:
                raise RuntimeError(f"{method} {path}: {response.status} {data[:300]!r}")
            return json.loads(data)
        raise AssertionError("unreachable")

    def submit(self, graph: dict) -> str:
        return self.request("POST", "queue", graph)["result"]["task_id"]

    def history(self, count: int) -> dict[str, dict]:
        items = self.request("GET", f"queue/history?max_items={min(count, 1000)}")["result"]["items"]
        return {item["task_id"]: item for item in items}

    # -- the socket --------------------------------------------------------------------------------------

    async def connect(self) -> None:
        ws_url = self.base.replace("http://", "ws://") + "ws/progress"
        extra = {k: v for k, v in self.headers.items() if k == "Authorization"}
        self.ws = await websockets.connect(ws_url, additional_headers=extra, max_size=None, compression=None)
        self.reader = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        async for message in self.ws:
            now, wall = time.perf_counter(), time.time()
            result = json.loads(message).get("result")
            if not isinstance(result, dict) or result.get("type") != "task_run_info":
                continue
            task_id = result.get("task_id")
            self.arrived.setdefault(task_id, now)
            if result.get("ts"):
                self.lag.setdefault(task_id, wall - result["ts"])
            waiter = self._waiters.pop(task_id, None)
            if waiter is not None and not waiter.done():
                waiter.set_result(now)

    async def bind(self, task_id: str) -> None:
        await self.ws.send(json.dumps({"type": "bind", "task_id": task_id}))

    async def ended(self, task_id: str, timeout: float = WAIT_SECONDS) -> float | None:
        """When ``task_run_info`` for the task arrived (perf_counter); None if it never did (upstream drops the
        completion of a task that ended before its bind arrived)."""
        if task_id in self.arrived:
            return self.arrived[task_id]
        waiter = self._waiters.setdefault(task_id, asyncio.get_running_loop().create_future())
        try:
            return await asyncio.wait_for(asyncio.shield(waiter), timeout)
        except TimeoutError:
            return None

    async def close(self) -> None:
        await self.ws.close()
        self.reader.cancel()


class Probe:
    """One client of one server, one task at a time: ``await probe.one()`` is (seconds from enqueue to
    ``task_run_info``, task id, seconds from the server stamping that event to its arrival or None), or None
    when the event never came. ``api`` reads the server's history."""

    def __init__(self, name: str, api: Api, graph: dict):
        self.name, self.api, self.graph = name, api, graph

    async def one(self) -> tuple[float, str, float | None] | None:
        raise NotImplementedError

    async def round_trip(self) -> float | None:
        """Seconds of one trivial request (``GET server``, no task) through this client's HTTP: the floor under
        its latency that the client and the wire set, whatever the server does with a task."""
        return None


class WebsocketsProbe(Probe):
    """The ``websockets`` client: POST (``http.client``, kept alive), bind, wait for task_run_info."""

    pool = ThreadPoolExecutor(1)

    async def one(self) -> tuple[float, str, float | None] | None:
        started = time.perf_counter()
        task_id = await asyncio.get_running_loop().run_in_executor(self.pool, self.api.submit, self.graph)
        await self.api.bind(task_id)
        ended = await self.api.ended(task_id)
        return None if ended is None else (ended - started, task_id, self.api.lag.get(task_id))

    async def round_trip(self) -> float:
        def get() -> float:
            started = time.perf_counter()
            self.api.request("GET", "server")
            return time.perf_counter() - started

        return await asyncio.get_running_loop().run_in_executor(self.pool, get)


class ClientProbe(Probe):
    """The notebook Client, as a user calls it: ``run(graph)`` blocks until the task ended."""

    def __init__(self, name: str, api: Api, graph: dict, client: Client):
        super().__init__(name, api, graph)
        self.client = client

    async def one(self) -> tuple[float, str, float | None] | None:
        def run() -> tuple[float, str, float | None]:
            started = time.perf_counter()
            task = self.client.run(self.graph)
            return time.perf_counter() - started, task.id, None

        return await asyncio.to_thread(run)


async def alternate(probes: list[Probe], tasks: int) -> dict[str, dict]:
    """``tasks`` runs through each probe, one task at a time, the probes taking turns (in an order reversed every
    round), so each sees the same load on a machine whose load varies. Per probe: p50/p99 of what the client saw,
    of the server-side part (``ts_finish - ts_submit`` from its history) and of the event's last leg."""
    for probe in probes:
        for _ in range(5):  # warm-up: the worker's first runs, the server's caches, the page's JIT
            await probe.one()
    seen: dict[str, list[tuple[float, str, float | None]]] = {probe.name: [] for probe in probes}
    trips: dict[str, list[float]] = {probe.name: [] for probe in probes}
    missed = dict.fromkeys(seen, 0)
    for round_ in range(tasks):
        for probe in probes if round_ % 2 == 0 else probes[::-1]:
            got = await probe.one()
            if got is None:
                missed[probe.name] += 1
            else:
                seen[probe.name].append(got)
            if (trip := await probe.round_trip()) is not None:
                trips[probe.name].append(trip)
    results = {}
    for probe in probes:
        history = await asyncio.to_thread(probe.api.history, len(probes) * (tasks + 10))
        got = seen[probe.name]
        server = [history[t]["ts_finish"] - history[t]["ts_submit"] for _, t, _ in got
                  if history.get(t, {}).get("ts_finish")]
        lags = [lag for _, _, lag in got if lag is not None]
        results[probe.name] = {"client": summary([s for s, _, _ in got]), "server_side": summary(server),
                               **({"after_event": summary(lags)} if lags else {}),
                               **({"round_trip": summary(trips[probe.name])} if trips[probe.name] else {}),
                               "missed": missed[probe.name]}
    return results


async def sequential(api: Api, graph: dict, tasks: int) -> dict:
    """``tasks`` runs one after another through the ``websockets`` client."""
    return (await alternate([WebsocketsProbe("websockets", api, graph)], tasks))["websockets"]


async def burst(api: Api, graph: dict, count: int) -> dict:
    """``count`` tasks posted at once from several connections, each bound as soon as its id is known."""
    pool = ThreadPoolExecutor(HTTP_CONNECTIONS)
    loop = asyncio.get_running_loop()

    async def one() -> str:
        task_id = await loop.run_in_executor(pool, api.submit, graph)
        await api.bind(task_id)
        return task_id

    started = time.perf_counter()
    ids = await asyncio.gather(*(one() for _ in range(count)))
    ends = await asyncio.gather(*(api.ended(t, timeout=300) for t in ids))
    pool.shutdown()
    seen = [e for e in ends if e is not None]
    history = await loop.run_in_executor(None, api.history, count + 10)
    succeeded = sum(1 for t in ids if history.get(t, {}).get("state") == "SUCCEEDED")
    return {"tasks_per_s": round(len(seen) / (max(seen) - started), 1) if seen else 0.0, "seen": len(seen),
            "succeeded": succeeded}


async def measure_ours(root: Path, graphs: dict[str, dict], args: argparse.Namespace, workers: int) -> dict:
    server = JupyterProcess(root, "--ServerApp.jpserver_extensions={'nndeploy_jupyter': True}",
                            f"--NnDeployExtension.max_workers={workers}", env=CHECKOUT_ENV).start()
    try:
        api = Api(f"{server.url}nndeploy/api/", server.token)
        await api.connect()
        await burst(api, graphs["trivial"], 4 * workers)  # warm-up: every worker's first runs
        got: dict = {}
        if workers == 1:
            got["websockets"] = await sequential(api, graphs["trivial"], args.tasks)
            log(f"ours, websockets: {got['websockets']}")
            client = Client(server.url, server.token)
            got["client"] = (await alternate([ClientProbe("client", api, graphs["trivial"], client)],
                                             args.tasks))["client"]
            client.close()
            log(f"ours, notebook Client: {got['client']}")
        if args.latency_only:
            await api.close()
            return got
        pids = {"server": server.proc.pid, "workers": process_tree(server.proc.pid)[1:], "bench client": [os.getpid()]}
        before = {name: sum(map(cpu_seconds, [p] if isinstance(p, int) else p)) for name, p in pids.items()}
        got["burst"] = await burst(api, graphs["trivial"], args.burst)
        got["burst"]["cpu_ms_per_task"] = {
            name: round((sum(map(cpu_seconds, [p] if isinstance(p, int) else p)) - before[name]) * 1e3 / args.burst, 2)
            for name, p in pids.items()}
        log(f"ours, burst of {args.burst} with {workers} worker(s): {got['burst']}")
        await burst(api, graphs["heavy"], workers)  # warm-up: the video codecs
        got["heavy_burst"] = await burst(api, graphs["heavy"], HEAVY_BURST)
        log(f"ours, heavy burst of {HEAVY_BURST} with {workers} worker(s): {got['heavy_burst']}")
        await api.close()
        return got
    finally:
        server.stop()


class Upstream:
    """The upstream nndeploy server (FastAPI + uvicorn) from the installed ``nndeploy`` package, offline:
    ``--debug`` skips the frontend download, and an existing ``resources/template/nndeploy-workflow`` folder in
    its cwd is taken as the template cache (else it would try to download the templates)."""

    def __init__(self, workspace: Path):
        self.workspace, self.port = workspace, free_port()
        (workspace / "resources" / "template" / "nndeploy-workflow").mkdir(parents=True, exist_ok=True)

    def start(self) -> Upstream:
        self.log = open(self.workspace / "upstream.log", "wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "nndeploy.server.app", "--debug", "--host", "127.0.0.1", "--port", str(self.port),
             "--resources", "./resources", "--log", "./logs/upstream.log"],
            cwd=self.workspace, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + UPSTREAM_START_SECONDS
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"exited with {self.proc.returncode}: {self.tail()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    pass
                Api(self.base).request("GET", "queue/info")
                return self
            except (OSError, RuntimeError):
                time.sleep(0.2)
        self.stop()
        raise TimeoutError(f"did not answer within {UPSTREAM_START_SECONDS} s: {self.tail()}")

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/"

    def tail(self) -> str:
        self.log.flush()
        return (self.workspace / "upstream.log").read_text(errors="replace")[-1500:]

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, 15)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, 9)
                self.proc.wait()
        self.log.close()


async def measure_upstream(workspace: Path, graph: dict, args: argparse.Namespace) -> dict:
    try:
        upstream = Upstream(workspace).start()
    except Exception as e:  # noqa: BLE001 - reported, the rest of the run stands
        return {"skipped": f"the upstream server did not start offline: {e}"}
    try:
        api = Api(upstream.base)
        await api.connect()
        await burst(api, graph, 4)  # warm-up
        got = {"websockets": await sequential(api, graph, args.tasks)}
        log(f"upstream, websockets: {got['websockets']}")
        got["burst"] = await burst(api, graph, args.burst)
        log(f"upstream, burst of {args.burst}: {got['burst']}")
        await api.close()
        return got
    finally:
        upstream.stop()


async def run(args: argparse.Namespace) -> dict:
    if args.latency_only:
        return await run_latency(args)
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="bench-latency-") as scratch:
        root = Path(scratch) / "root"
        graphs = {"trivial": trivial_graph(root / "nndeploy"), "heavy": heavy_graph(root / "nndeploy")}
        log("in-process floor (run + release)...")
        floors = [floor_rate(root / "nndeploy", graphs["trivial"], args.burst)]
        ours = await measure_ours(root, graphs, args, 1)
        two = await measure_ours(root, graphs, args, 2)
        floors.append(floor_rate(root / "nndeploy", graphs["trivial"], args.burst))
        log(f"floor: {floors} tasks/s")
        floor = statistics.mean(floors)
        upstream = {"skipped": "--no-upstream"}
        if not args.no_upstream:
            upstream_ws = Path(scratch) / "upstream"
            upstream = await measure_upstream(upstream_ws, trivial_graph(upstream_ws), args)
    figures = {
        "ours_websockets": ours["websockets"], "ours_client": ours["client"], "upstream": upstream,
        "floor_tasks_per_s": round(floor, 1), "floor_runs": [round(f, 1) for f in floors],
        "burst_1_worker": {**ours["burst"], "vs_floor": round(ours["burst"]["tasks_per_s"] / floor, 2)},
        "burst_2_workers": {**two["burst"], "vs_floor": round(two["burst"]["tasks_per_s"] / floor, 2),
                            "vs_1_worker": round(two["burst"]["tasks_per_s"] / max(ours["burst"]["tasks_per_s"], 1e-9),
                                                 2)},
        "heavy_burst_1_worker": ours["heavy_burst"], "heavy_burst_2_workers": {
            **two["heavy_burst"], "vs_1_worker": round(two["heavy_burst"]["tasks_per_s"]
                                                       / max(ours["heavy_burst"]["tasks_per_s"], 1e-9), 2)},
        "cpus": os.cpu_count(), "loadavg_before": [round(x, 2) for x in load_before],
        "loadavg_after": [round(x, 2) for x in os.getloadavg()],
    }
    met = {f"{name}_{q}": figures[name]["client"][q] <= GOALS[q]
           for name in ("ours_websockets", "ours_client") for q in ("p50_ms", "p99_ms")}
    met["burst_vs_floor"] = figures["burst_1_worker"]["vs_floor"] >= GOALS["burst_vs_floor"]
    return {**figures, "goals": GOALS, "goals_met": met, "tasks": args.tasks, "burst": args.burst}


# In a page of the server's origin: the browser's own fetch and WebSocket (the token in the header and the URL).
PAGE_SETUP = """async ({api, token}) => {
    const socket = new WebSocket(api.replace(/^http/, 'ws') + 'ws/progress?token=' + encodeURIComponent(token));
    await new Promise((opened, failed) => { socket.onopen = opened; socket.onerror = failed; });
    const waiting = new Map();
    socket.onmessage = message => {
        const at = performance.now();
        const result = JSON.parse(message.data).result;
        const ended = result && result.type === 'task_run_info' && waiting.get(result.task_id);
        if (ended) {
            waiting.delete(result.task_id);
            ended({at, lag: (performance.timeOrigin + at) / 1000 - result.ts});
        }
    };
    const headers = {'Content-Type': 'application/json', Authorization: `token ${token}`};
    window.__latency = {api, socket, waiting, headers};
}"""
PAGE_ONE_TASK = """async graph => {
    const {api, socket, waiting, headers} = window.__latency;
    const started = performance.now();
    const response = await fetch(api + 'queue', {method: 'POST', headers, body: JSON.stringify(graph)});
    const taskId = (await response.json()).result.task_id;
    const end = new Promise(ended => waiting.set(taskId, ended));
    socket.send(JSON.stringify({type: 'bind', task_id: taskId}));
    const {at, lag} = await end;
    return {seconds: (at - started) / 1000, taskId, lag};
}"""
PAGE_ROUND_TRIP = """async () => {
    const {api, headers} = window.__latency;
    const started = performance.now();
    await (await fetch(api + 'server', {headers})).json();
    return (performance.now() - started) / 1000;
}"""
PAGES = {  # what the browser shows while its page measures
    "browser, bare page": "Jupyter's 404 page (no JupyterLab, no extension): the browser alone",
    "browser, JupyterLab": "JupyterLab with the extension, the nndeploy panel closed",
    "browser, JupyterLab + panel": "JupyterLab with the nndeploy panel open, drawing every task",
}


class Browser:
    """Debian's Chromium (never downloaded), through playwright's sync API on a thread of its own."""

    def __init__(self):
        self.thread = ThreadPoolExecutor(1)

    async def call(self, fn, *args):
        return await asyncio.get_running_loop().run_in_executor(self.thread, fn, *args)

    async def __aenter__(self) -> Browser:
        self._chromium = lab_browser.chromium()
        self.browser = await self.call(self._chromium.__enter__)
        return self

    async def __aexit__(self, *exc) -> None:
        await self.call(self._chromium.__exit__, None, None, None)
        self.thread.shutdown()

    def open(self, kind: str, server: JupyterProcess):
        if kind == "browser, bare page":
            page = lab_browser.open_bare_page(self.browser, server)
        elif kind == "browser, JupyterLab":
            page = lab_browser.open_lab(self.browser, server)
        else:
            page = lab_browser.open_panel(self.browser, server)
        page.evaluate(PAGE_SETUP, {"api": f"{server.url}nndeploy/api/", "token": server.token})
        return page


class PageProbe(Probe):
    def __init__(self, name: str, api: Api, graph: dict, browser: Browser, page):
        super().__init__(name, api, graph)
        self.browser, self.page = browser, page

    async def one(self) -> tuple[float, str, float | None] | None:
        got = await self.browser.call(self.page.evaluate, PAGE_ONE_TASK, self.graph)
        return got["seconds"], got["taskId"], got["lag"]

    async def round_trip(self) -> float:
        return await self.browser.call(self.page.evaluate, PAGE_ROUND_TRIP)


async def run_latency(args: argparse.Namespace) -> dict:
    """Our server (and, with ``--versus``, another checkout's, side by side), one task at a time through each
    client in turn: the ``websockets`` client and the notebook Client, then (``--browser``) a page of each kind
    in Chromium, one kind at a time (a JupyterLab page follows every task of its server, whoever runs it)."""
    load_before = os.getloadavg()
    checkouts = {"this": ROOT, **({"versus": Path(args.versus).resolve()} if args.versus else {})}
    async with contextlib.AsyncExitStack() as stack:
        scratch = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-latency-")))
        browser = await stack.enter_async_context(Browser()) if args.browser else None
        servers, probes = {}, []
        for label, checkout in checkouts.items():
            root = scratch / label
            graph = trivial_graph(root / "nndeploy")
            env = {"PYTHONPATH": os.pathsep.join(filter(None, (str(checkout), os.environ.get("PYTHONPATH"))))}
            if browser:
                server = lab_browser.start_lab(root, True, workspace=root / "nndeploy", env=env)
            else:
                server = JupyterProcess(root, "--ServerApp.jpserver_extensions={'nndeploy_jupyter': True}",
                                        env=env).start()
            stack.callback(server.stop)
            api = Api(f"{server.url}nndeploy/api/", server.token)
            await api.connect()
            stack.push_async_callback(api.close)
            await burst(api, graph, 4)  # warm-up: the worker's first runs
            client = Client(server.url, server.token)
            stack.callback(client.close)
            servers[label] = (server, api, graph)
            probes += [WebsocketsProbe(f"{label}: websockets", api, graph),
                       ClientProbe(f"{label}: notebook Client", api, graph, client)]
        results = await alternate(probes, args.tasks)
        for kind in PAGES if browser else ():
            pages = {label: await browser.call(browser.open, kind, server) for label, (server, _, _) in servers.items()}
            results.update(await alternate([PageProbe(f"{label}: {kind}", api, graph, browser, pages[label])
                                            for label, (_, api, graph) in servers.items()], args.tasks))
            for page in pages.values():
                await browser.call(page.close)
        for name, got in results.items():
            log(f"{name}: {got}")
    met = {f"{name} {q}": got["client"][q] <= GOALS[q] for name, got in results.items() if name.startswith("this")
           for q in ("p50_ms", "p99_ms")}
    return {"latency": results, "checkouts": {label: str(path) for label, path in checkouts.items()},
            "pages": PAGES if browser else {}, "cpus": os.cpu_count(), "tasks": args.tasks,
            "loadavg_before": [round(x, 2) for x in load_before],
            "loadavg_after": [round(x, 2) for x in os.getloadavg()], "goals": GOALS, "goals_met": met}


def report(result: dict) -> None:
    def line(name: str, got: dict) -> str:
        c, s = got["client"], got["server_side"]
        missed = f"  missed {got['missed']}" if got["missed"] else ""
        return (f"  {name:<22} p50 {c['p50_ms']:6.2f} ms  p99 {c['p99_ms']:6.2f} ms   (server side p50 "
                f"{s['p50_ms']:.2f} / p99 {s['p99_ms']:.2f} ms){missed}")
    log(f"enqueue -> task_run_info, {result['tasks']} tasks one at a time "
        f"(load {result['loadavg_before']} -> {result['loadavg_after']}, {result['cpus']} cpus):")
    if "latency" in result:  # --latency-only
        for name, got in result["latency"].items():
            after = f"; event -> client p50 {got['after_event']['p50_ms']:.2f} ms" if "after_event" in got else ""
            trip = f"; GET server p50 {got['round_trip']['p50_ms']:.2f} ms" if "round_trip" in got else ""
            log(line(name, got) + after + trip)
        log(f"goals {result['goals']}: {result['goals_met']}")
        return
    log(line("ours, websockets", result["ours_websockets"]))
    log(line("ours, notebook Client", result["ours_client"]))
    upstream = result["upstream"]
    log(f"  upstream: {upstream['skipped']}" if "skipped" in upstream else line("upstream, websockets",
                                                                                upstream["websockets"]))
    log(f"burst of {result['burst']}: floor (run+release in-process) {result['floor_tasks_per_s']} tasks/s; "
        f"ours 1 worker {result['burst_1_worker']['tasks_per_s']} ({result['burst_1_worker']['vs_floor']}x), "
        f"2 workers {result['burst_2_workers']['tasks_per_s']} ({result['burst_2_workers']['vs_floor']}x)"
        + (f"; upstream {upstream['burst']['tasks_per_s']}" if "burst" in upstream else ""))
    log(f"  CPU ms per task in that burst: 1 worker {result['burst_1_worker']['cpu_ms_per_task']}, "
        f"2 workers {result['burst_2_workers']['cpu_ms_per_task']}")
    log(f"heavy burst of {HEAVY_BURST} (60-frame video): 1 worker {result['heavy_burst_1_worker']['tasks_per_s']}, "
        f"2 workers {result['heavy_burst_2_workers']['tasks_per_s']} tasks/s "
        f"({result['heavy_burst_2_workers']['vs_1_worker']}x)")
    log(f"goals {result['goals']}: {result['goals_met']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=100, help="sequential tasks per client")
    parser.add_argument("--burst", type=int, default=200, help="tasks posted at once")
    parser.add_argument("--no-upstream", action="store_true", help="skip the upstream nndeploy server")
    parser.add_argument("--latency-only", action="store_true",
                        help="only the sequential runs against our server (no burst, no upstream)")
    parser.add_argument("--browser", action="store_true",
                        help="with --latency-only: JupyterLab servers, and Chromium pages measuring too")
    parser.add_argument("--versus", metavar="CHECKOUT",
                        help="with --latency-only: another checkout's server alongside, tasks taking turns")
    result = asyncio.run(run(parser.parse_args()))
    report(result)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
