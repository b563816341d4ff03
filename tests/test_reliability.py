"""The reliability suite (``-m reliability``): many worker deaths in a row, a server killed mid-run, and load.

Deadlines are generous and nothing is timed: the figures (how long it took) go to the run's summary.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import itertools
import json
import os
import signal
import threading
import time
from pathlib import Path

import pytest
from conftest import figure, submit, wait_for, wait_until
from graphs import canny_image_graph, fault_graph, value_graph, video_graph, write_fault_plugin
from jupyter_process import JupyterProcess
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

pytestmark = [pytest.mark.reliability, pytest.mark.usefixtures("fault_plugin")]

# Each kind of fault, and how its task must end. ``raise`` fails the task in a worker that lives on; the
# others end the worker: it dies (segfault, abort, exit), is SIGKILLed from outside, or hangs until a
# cancel kills it after the grace.
FAULTS = {
    "segfault": ("FAILED", "worker crashed: SIGSEGV"),
    "abort": ("FAILED", "worker crashed: SIGABRT"),
    "exit": ("FAILED", "worker crashed: exit code 3"),
    "raise": ("FAILED", "RuntimeError: deliberate exception at call 1"),
    "sigkill": ("FAILED", "worker crashed: SIGKILL"),
    "hang": ("CANCELLED", "worker killed after cancel grace"),
}
DEATHS = 100
OUTSIDE = ("sigkill", "hang")  # faults the test deals with from outside once the node hangs


def worker_pids(workspace: Path) -> set[int]:
    """Live graph worker processes of ``workspace`` (as ``ps`` would find them)."""
    pids = set()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if b"nndeploy_jupyter.runtime.worker" in argv and os.fsencode(workspace) in argv and state != "Z":
            pids.add(int(proc.name))
    return pids


@pytest.fixture
def extension_config(request) -> dict:
    return {"max_workers": getattr(request, "param", 1), "cancel_grace_seconds": 0.5}


class Watch:
    """One socket, read in the background: every event of the tasks it follows, by task."""

    def __init__(self, ws):
        self.ws = ws
        self.events: dict[str | None, list[dict]] = collections.defaultdict(list)
        self._reader = asyncio.ensure_future(self._read())

    @classmethod
    async def open(cls, jp_ws_fetch) -> Watch:
        return cls(await jp_ws_fetch("nndeploy", "api", "ws", "progress"))

    async def follow(self, task_id: str) -> str:
        """Bind the task: what it already sent is replayed, the rest follows."""
        await self.ws.write_message(json.dumps({"type": "bind", "task_id": task_id}))
        return task_id

    async def _read(self) -> None:
        while (message := await self.ws.read_message()) is not None:
            event = json.loads(message)["result"]
            self.events[event.get("task_id")].append(event)

    async def wait(self, task_id: str, predicate, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while not any(predicate(e) for e in self.events[task_id]):
            assert time.monotonic() < deadline, f"task {task_id}: no such event in {self.events[task_id]}"
            await asyncio.sleep(0.02)

    def close(self) -> None:
        self._reader.cancel()
        self.ws.close()


def inside_the_fault_node(event: dict) -> bool:
    """The Fault node's run() printed its first line: it is hanging now."""
    return event["type"] == "log" and "call 1 line 0" in event["log"]


@pytest.mark.parametrize("extension_config", [1, 2], indirect=True, ids=["1-worker", "2-workers"])
async def test_a_hundred_worker_deaths_in_a_row(api, jp_ws_fetch, workspace: Path, extension_config: dict):
    """Deaths of every kind, each with a good task queued behind it: every task ends as it must, its end
    reaches a client, the queue is empty, and the pool is whole again."""
    max_workers = extension_config["max_workers"]
    watch = await Watch.open(jp_ws_fetch)
    kinds = list(itertools.islice(itertools.cycle(FAULTS), DEATHS * len(FAULTS) // (len(FAULTS) - 1)))
    deaths = sum(kind != "raise" for kind in kinds)
    assert deaths == DEATHS
    plan: list[tuple[str, str]] = []  # (kind or "good", task id), in submission order
    started = time.monotonic()
    for kind in kinds:  # all queued at once: deaths come as fast as the pool can take them
        n = len(plan)  # each task its own input file: a graph builder rewrites it while another task reads it
        graph = fault_graph(workspace, f"fault{n}", fault="hang", print_lines=1) if kind in OUTSIDE else \
            fault_graph(workspace, f"fault{n}", fault=kind)
        plan.append((kind, await watch.follow(await submit(api, graph))))
        plan.append(("good", await watch.follow(await submit(api, canny_image_graph(workspace, f"good{n}")))))
    for kind, task_id in plan:  # the hangs, in the order they run: kill the worker, or cancel the task
        if kind in OUTSIDE:
            await watch.wait(task_id, inside_the_fault_node)
            if kind == "sigkill":
                record = await wait_for(api, task_id, {"RUNNING"})
                os.kill(record["worker_pid"], signal.SIGKILL)  # as the out-of-memory killer would
            else:
                code, answer = await api("POST", f"queue/cancel/{task_id}")
                assert code == 200, answer

    records = {task_id: await wait_for(api, task_id, timeout=180) for _, task_id in plan}
    elapsed = time.monotonic() - started
    for kind, task_id in plan:
        record = records[task_id]
        state, reason = ("SUCCEEDED", None) if kind == "good" else FAULTS[kind]
        assert record["state"] == state, (kind, record["error"])
        assert reason is None or (record["error"] or "").startswith(reason), (kind, record["error"])
        await watch.wait(task_id, lambda e, state=state: e["type"] == "task_run_info" and e["state"] == state)
    _, info = await api("GET", "queue/info")
    assert info["result"] == {"running": [], "dispatched": [], "pending": []}

    deadline = time.monotonic() + 120  # the last death's replacement may still be importing nndeploy
    while len(pids := worker_pids(workspace)) != max_workers:
        assert time.monotonic() < deadline, f"{len(pids)} workers, not {max_workers}"
        await asyncio.sleep(0.2)
    last = await wait_for(api, await submit(api, canny_image_graph(workspace, "last")))
    assert last["state"] == "SUCCEEDED" and last["worker_pid"] in worker_pids(workspace) == pids
    watch.close()
    faulted = len(plan) // 2
    figure(f"reliability: {deaths} worker deaths in a row, max_workers={max_workers} ({faulted} faulted and "
           f"{faulted} good tasks): {elapsed:.0f} s, {elapsed / deaths:.2f} s per death")


# -- the server SIGKILLed mid-run -----------------------------------------------------------------------

ENABLED = "--ServerApp.jpserver_extensions={'nndeploy_jupyter': True}"


def test_a_server_killed_mid_run_loses_nothing(tmp_path: Path):
    """SIGKILL (no shutdown code runs): the workflows are byte-identical after the restart, the running task
    is INTERRUPTED, the pending ones run, and no worker outlived the server."""
    workspace = tmp_path / "ws"
    write_fault_plugin(workspace / "resources" / "plugin")
    args = (ENABLED, f"--NnDeployExtension.workspace={workspace}", "--NnDeployExtension.cancel_grace_seconds=0.5")
    graphs = {"edges": canny_image_graph(workspace, "edges"), "Ünïcode and spaces": video_graph(workspace, 5),
              "values": value_graph("kept")}
    server = JupyterProcess(tmp_path / "root", *args).start()
    try:
        ids = []
        for name, graph in graphs.items():
            code, body = server.post("nndeploy/api/workflow/save", {"businessContent": {**graph, "name_": name}})
            assert code == 200, body
            ids.append(body["result"]["id"])
        saved = {p.name: p.read_bytes() for p in (workspace / "resources" / "workflow").iterdir()}
        served = {i: server.request(f"nndeploy/api/workflow/{i}") for i in ids}
        code, body = server.post("nndeploy/api/queue", fault_graph(workspace, "hung", fault="hang"))
        running = body["result"]["task_id"]
        wait_until(lambda: server.get(f"nndeploy/api/queue/{running}")["result"]["state"] == "RUNNING", 120,
                   "the task did not start")
        pending = [server.post("nndeploy/api/queue", {"workflow_id": i})[1]["result"]["task_id"] for i in ids]
        workers = worker_pids(workspace)
        assert workers
        server.stop(signal.SIGKILL)
    finally:
        server.stop()
    wait_until(lambda: not worker_pids(workspace) & workers, 60, "workers outlived their server")

    with JupyterProcess(tmp_path / "root", *args) as server:
        record = server.get(f"nndeploy/api/queue/{running}")["result"]
        assert record["state"] == "INTERRUPTED" and "server stopped" in record["error"]
        for task_id in pending:
            ended = wait_until(lambda t=task_id: (r := server.get(f"nndeploy/api/queue/{t}")["result"])["state"]
                               in ("SUCCEEDED", "FAILED") and r, 180, "a pending task did not run")
            assert ended["state"] == "SUCCEEDED", ended["error"]
        assert {p.name: p.read_bytes() for p in (workspace / "resources" / "workflow").iterdir()} == saved
        assert {i: server.request(f"nndeploy/api/workflow/{i}") for i in ids} == served
        history = server.get("nndeploy/api/queue/history")["result"]["items"]
        assert {t["task_id"] for t in history} == {running, *pending}


# -- load -----------------------------------------------------------------------------------------------

SOCKETS, CLIENTS, TASKS = 4, 20, 500


class Socket(threading.Thread):
    """A client's ``ws/progress`` bound to ``*``, read on a thread: the ``task_run_info`` of every task."""

    def __init__(self, server: JupyterProcess):
        super().__init__(daemon=True)
        self.url = server.url.replace("http://", "ws://", 1) + "nndeploy/api/ws/progress"
        self.headers = {"Authorization": f"token {server.token}"}
        self.ended: dict[str, dict] = {}
        self.connected = threading.Event()
        self.start()
        assert self.connected.wait(60), "the socket did not open"

    def follow(self, task_id: str) -> None:
        """Bind one task too: its past events are replayed (and frames are handled in order, so ``*`` is
        bound once this one's events arrive)."""
        self.ws.send(json.dumps({"type": "bind", "task_id": task_id}))

    def run(self) -> None:
        with connect(self.url, additional_headers=self.headers, max_size=None) as self.ws:
            self.ws.send(json.dumps({"type": "bind", "task_id": "*"}))
            self.connected.set()
            with contextlib.suppress(ConnectionClosed):
                for message in self.ws:
                    event = json.loads(message)["result"]
                    if event["type"] == "task_run_info":
                        self.ended[event["task_id"]] = event


def test_load_twenty_clients_submit_five_hundred_tasks_while_four_sockets_follow_all(tmp_path: Path):
    workspace = tmp_path / "ws"
    args = (ENABLED, f"--NnDeployExtension.workspace={workspace}", "--NnDeployExtension.max_workers=2")
    codes: collections.Counter[int] = collections.Counter()
    counting = threading.Lock()
    submitted: dict[str, str] = {}  # task id -> the text its graph prints
    done = threading.Event()

    def call(server: JupyterProcess, path: str, body=None) -> dict | None:
        code, raw = server.request(path, "POST" if body is not None else "GET",
                                   None if body is None else json.dumps(body).encode())
        with counting:
            codes[code] += 1
        return json.loads(raw) if code < 300 else None

    def client(server: JupyterProcess, number: int) -> None:
        for i in range(TASKS // CLIENTS):
            text = f"client {number} task {i}"
            answer = call(server, "nndeploy/api/queue", value_graph(text))
            if answer is not None:
                submitted[answer["result"]["task_id"]] = text

    def lister(server: JupyterProcess) -> None:
        while not done.is_set():
            call(server, "nndeploy/api/files")
            call(server, "nndeploy/api/queue/history?max_items=100")

    with JupyterProcess(tmp_path / "root", *args) as server:
        sockets = [Socket(server) for _ in range(SOCKETS)]
        probe = call(server, "nndeploy/api/queue", value_graph("probe"))["result"]["task_id"]
        for s in sockets:
            s.follow(probe)
        wait_until(lambda: all(probe in s.ended for s in sockets), 120, "the sockets are not bound")
        started = time.monotonic()
        threads = [threading.Thread(target=client, args=(server, n)) for n in range(CLIENTS)]
        threads.append(threading.Thread(target=lister, args=(server,)))
        for thread in threads:
            thread.start()
        for thread in threads[:-1]:
            thread.join(600)
        assert len(submitted) == TASKS, codes
        wait_until(lambda: all(submitted.keys() <= s.ended.keys() for s in sockets), 900,
                   f"the sockets saw {[len(s.ended.keys() & submitted.keys()) for s in sockets]} of {TASKS}")
        elapsed = time.monotonic() - started
        done.set()
        threads[-1].join(60)
        history = server.get(f"nndeploy/api/queue/history?max_items={TASKS + 1}")["result"]["items"]
        for s in sockets:
            s.ws.close()
            s.join(30)

    outcomes = {t["task_id"]: t for t in history if t["task_id"] in submitted}
    assert len(outcomes) == TASKS
    assert {t["state"] for t in outcomes.values()} == {"SUCCEEDED"}
    assert all(outcomes[t]["values"] == {"Print": text} for t, text in submitted.items())  # no crossed wires
    assert all(s.ended[t]["state"] == "SUCCEEDED" for s in sockets for t in submitted)
    errors = sum(n for code, n in codes.items() if code >= 500)
    assert errors == 0, codes
    figure(f"load: {TASKS} tasks from {CLIENTS} clients, {SOCKETS} sockets on '*', max_workers=2: "
           f"{TASKS / elapsed:.1f} tasks/s ({elapsed:.0f} s), {sum(codes.values())} requests, {errors} with 5xx")
