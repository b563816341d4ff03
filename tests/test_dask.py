"""The Dask executor against a real ``distributed`` cluster on loopback (a ``dask scheduler`` and two ``dask worker``
processes under their nannies, shared by the module), through the extension's own HTTP and WebSocket API."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import CHECKOUT, submit, wait_for
from graphs import canny_image_graph, fault_graph, write_fault_plugin
from test_progress_ws import WS, bind

from nndeploy_jupyter.services import Services

distributed = pytest.importorskip("distributed", reason="the Dask tests need distributed (pip install '.[test]')")
from dask_cluster import DaskCluster  # noqa: E402

pytestmark = pytest.mark.usefixtures("fault_plugin")
SLOW = {"frames": 300, "sleep_ms": 20}  # a video task of about 6 s: long enough to act on while it runs


@pytest.fixture(scope="module")
def cluster(tmp_path_factory) -> DaskCluster:
    with DaskCluster(tmp_path_factory.mktemp("dask"), workers=2) as running:
        yield running


@pytest.fixture
def extension_config() -> dict:
    return {"executor_class": "dask", "cancel_grace_seconds": 2.0}


@pytest.fixture
def jp_server_config(jp_server_config: dict, cluster: DaskCluster) -> dict:
    return {**jp_server_config, "DaskExecutor": {"scheduler_address": cluster.address}}


def parent_pid(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


async def until(predicate, timeout: float = 120, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while not (result := await asyncio.to_thread(predicate)):
        assert time.monotonic() < deadline, f"{what} did not happen within {timeout} s"
        await asyncio.sleep(0.2)
    return result


async def test_a_hundred_tasks_all_succeed_on_both_dask_workers_with_progress(api, jp_ws_fetch, workspace, cluster):
    ws = await jp_ws_fetch(*WS)
    await bind(ws, "*")
    graph = canny_image_graph(workspace)
    task_ids = [await submit(api, graph) for _ in range(100)]
    events: dict[str, list[dict]] = {task_id: [] for task_id in task_ids}
    ended = 0
    while ended < len(task_ids):
        result = json.loads(await asyncio.wait_for(ws.read_message(), 120))["result"]
        if result.get("task_id") in events and not result.get("snapshot"):
            events[result["task_id"]].append(result)
            ended += result["type"] == "task_run_info"

    pids = set()
    for task_id in task_ids:
        record = await wait_for(api, task_id)
        assert record["state"] == "SUCCEEDED", record["error"]
        assert record["outputs"][0]["node"] == "Encode"
        kinds = [e["type"] if e["type"] != "status" else e["state"] for e in events[task_id]]
        assert kinds[:3] == ["PENDING", "DISPATCHED", "RUNNING"] and kinds[-1] == "task_run_info"
        assert "progress" in kinds[3:kinds.index("SUCCEEDED")]  # live, before the end
        final = [e for e in events[task_id] if e["type"] == "progress"][-1]
        assert (final["done"], final["total"]) == (1, 1) and final["nodes"]["Canny"]["status"] == "DONE"
        pids.add(record["worker_pid"])
    assert (workspace / "resources" / "images" / "canny.out.jpg").is_file()
    # the graphs ran in nndeploy processes that are children of the two Dask workers
    assert {parent_pid(pid) for pid in pids} == set(cluster.worker_pids())


async def test_a_segfault_fails_its_task_with_the_reason_and_the_dask_worker_lives(api, workspace, cluster):
    workers = cluster.worker_pids()
    record = await wait_for(api, await submit(api, fault_graph(workspace, "crash", fault="segfault")))
    assert record["state"] == "FAILED", record
    assert record["error"].startswith("worker crashed: SIGSEGV") and "fault_nodes.py" in record["error"]
    assert cluster.worker_pids() == workers  # same processes, same addresses
    for _ in range(3):  # and the pools go on (the crashed nndeploy process is replaced)
        assert (await wait_for(api, await submit(api, canny_image_graph(workspace))))["state"] == "SUCCEEDED"


async def test_cancel_of_a_running_task_ends_it_cancelled(api, workspace):
    task_id = await submit(api, fault_graph(workspace, "slow", **SLOW))
    await wait_for(api, task_id, {"RUNNING"})
    code, answer = await api("POST", f"queue/cancel/{task_id}")
    assert code == 200 and answer["result"]["cancel_requested"]
    record = await wait_for(api, task_id)
    assert record["state"] == "CANCELLED", record
    assert (await wait_for(api, await submit(api, canny_image_graph(workspace))))["state"] == "SUCCEEDED"


async def test_a_hung_task_is_killed_after_the_cancel_grace(api, workspace):
    task_id = await submit(api, fault_graph(workspace, "hung", fault="hang"))
    await wait_for(api, task_id, {"RUNNING"})
    await api("POST", f"queue/cancel/{task_id}")
    record = await wait_for(api, task_id)
    assert record["state"] == "CANCELLED" and record["error"] == "worker killed after cancel grace"


async def test_a_dask_worker_killed_mid_task_fails_that_task_and_loses_none(api, workspace, cluster):
    slow = [await submit(api, fault_graph(workspace, f"slow{i}", **SLOW)) for i in range(2)]
    quick = [await submit(api, canny_image_graph(workspace)) for _ in range(6)]
    running = [await wait_for(api, task_id, {"RUNNING"}) for task_id in slow]
    victim, survivor = running
    dask_worker = parent_pid(victim["worker_pid"])
    assert dask_worker in cluster.worker_pids()
    os.kill(dask_worker, signal.SIGKILL)

    failed = await wait_for(api, victim["task_id"])
    assert failed["state"] == "FAILED" and "Dask worker tcp://127.0.0.1:" in failed["error"], failed
    assert "was lost while running the task" in failed["error"]
    assert (await wait_for(api, survivor["task_id"]))["state"] == "SUCCEEDED"
    for task_id in quick:  # queued behind them: none lost, all run on what is left of the cluster
        assert (await wait_for(api, task_id, timeout=180))["state"] == "SUCCEEDED"

    # the nanny restarts the worker; the executor follows: the newcomer gets a pool, and runs tasks
    await until(lambda: len(cluster.worker_info()) == 2 and dask_worker not in cluster.worker_pids()
                and all(len(keys) == 1 for keys in cluster.pools().values()), what="the new worker's pool")
    graph = fault_graph(workspace, "busy", frames=20, sleep_ms=20)
    records = [await wait_for(api, t) for t in [await submit(api, graph) for _ in range(6)]]
    assert {r["state"] for r in records} == {"SUCCEEDED"}
    assert len({parent_pid(r["worker_pid"]) for r in records}) == 2, "both Dask workers ran tasks"


async def test_a_restart_with_tasks_on_the_cluster_marks_them_interrupted(api, jp_serverapp, workspace, cluster):
    running = [await submit(api, fault_graph(workspace, f"long{i}", **SLOW)) for i in range(2)]
    for task_id in running:
        await wait_for(api, task_id, {"RUNNING"})
    pending = await submit(api, canny_image_graph(workspace))

    old: Services = jp_serverapp.web_app.settings["nndeploy"]
    await old.stop()
    assert all(keys == [] for keys in cluster.pools().values()), "the stopped server left its pools on the cluster"
    new = Services(old.config, old.log)
    jp_serverapp.web_app.settings["nndeploy"] = new
    try:
        await new.start()
        for task_id in running:
            record = await wait_for(api, task_id)
            assert record["state"] == "INTERRUPTED" and "server stopped" in record["error"]
        assert (await wait_for(api, pending, timeout=120))["state"] == "SUCCEEDED"
    finally:
        await new.stop()


def test_a_killed_server_leaves_nothing_running_on_the_cluster(tmp_path: Path, cluster: DaskCluster):
    """SIGKILL: no stop() at all. The scheduler drops the server's client, distributed releases its actors, and
    each pool's finalizer ends its nndeploy processes; the next server marks the task INTERRUPTED."""
    from jupyter_process import JupyterProcess

    root = tmp_path / "root"
    args = ("--ServerApp.jpserver_extensions={'nndeploy_jupyter': True}", "--NnDeployExtension.executor_class=dask",
            f"--DaskExecutor.scheduler_address={cluster.address}")
    workspace = root / "nndeploy"
    write_fault_plugin(workspace / "resources" / "plugin")
    with JupyterProcess(root, *args) as server:
        code, answer = server.post("nndeploy/api/queue", fault_graph(workspace, "long", frames=2000, sleep_ms=20))
        assert code == 202, answer
        task_id = answer["result"]["task_id"]
        deadline = time.monotonic() + 120
        while (record := server.get(f"nndeploy/api/queue/{task_id}")["result"])["state"] != "RUNNING":
            assert time.monotonic() < deadline, record
            time.sleep(0.1)
        graph_process = record["worker_pid"]
        server.stop(signal.SIGKILL)
    deadline = time.monotonic() + 60
    while Path(f"/proc/{graph_process}").exists() and _state(graph_process) != "Z":
        assert time.monotonic() < deadline, "the killed server's graph process still runs on the Dask worker"
        time.sleep(0.2)
    assert all(keys == [] for keys in cluster.pools().values())
    with JupyterProcess(root, *args) as server:
        record = server.get(f"nndeploy/api/queue/{task_id}")["result"]
        assert record["state"] == "INTERRUPTED"


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "gone"


def test_importing_the_extension_does_not_import_distributed():
    code = "import sys, nndeploy_jupyter, nndeploy_jupyter.app; assert 'distributed' not in sys.modules, 'imported'"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=CHECKOUT)
