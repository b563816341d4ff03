"""The Dask executor's workspace probe: a Dask worker that does not see the workspace at the same path (a pod
without the shared volume) makes ``POST queue`` a 503 that says so, instead of tasks pending forever; a worker
that sees it joining the cluster lifts it, and tasks run there."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import submit, wait_for
from graphs import canny_image_graph

pytest.importorskip("distributed", reason="the Dask tests need distributed (pip install '.[test]')")
from dask_cluster import DaskCluster  # noqa: E402

UNSHARE = shutil.which("unshare")


def private_mounts_work() -> bool:
    if UNSHARE is None or os.geteuid() != 0:
        return False
    return subprocess.run([UNSHARE, "--mount", "--propagation", "private", "true"], capture_output=True).returncode == 0


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    (root / "resources").mkdir(parents=True)
    return root


@pytest.fixture
def blind_cluster(tmp_path: Path, workspace: Path):
    """A cluster whose only worker runs in a mount namespace of its own, with another folder mounted where the
    workspace is."""
    if not private_mounts_work():
        pytest.skip("NOT RUN: the workspace probe test needs root and unshare(1) with mount namespaces")
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "resources").mkdir(parents=True)
    with DaskCluster(tmp_path / "dask", workers=0) as cluster:
        cluster.add_worker("blind", prefix=[UNSHARE, "--mount", "--propagation", "private", "sh", "-c",
                                            f'mount --bind "{elsewhere}" "{workspace}" && exec "$0" "$@"'])
        cluster.wait_workers(1)
        yield cluster


@pytest.fixture
def jp_server_config(jp_server_config: dict, blind_cluster: DaskCluster) -> dict:
    return {**jp_server_config, "DaskExecutor": {"scheduler_address": blind_cluster.address}}


@pytest.fixture
def extension_config() -> dict:
    return {"executor_class": "dask"}


async def queue_answer(api) -> tuple[int, dict]:
    """POST queue with an empty graph: a 400 from validation when tasks can run, else the 503."""
    return await api("POST", "queue", {"name_": "empty", "node_repository_": []})


async def test_a_worker_that_does_not_see_the_workspace_is_a_503_with_the_reason(api, workspace, blind_cluster):
    async def answered_503():
        code, answer = await queue_answer(api)
        return (code, answer) if code == 503 else None

    code, answer = await until_async(answered_503, what="the 503")
    reason = answer["message"]
    assert reason.startswith("tasks cannot run: no Dask worker can run tasks"), reason
    assert f"does not see the workspace at {workspace}" in reason and ".dask-probe-" in reason
    assert "mount the same shared volume at the same path" in reason

    blind_cluster.add_worker("sighted")  # a worker that sees it joins: capacity follows the cluster
    await until_async(lambda: _not_503(api), what="the sighted worker's pool")
    record = await wait_for(api, await submit(api, canny_image_graph(workspace)), timeout=120)
    assert record["state"] == "SUCCEEDED", record


async def _not_503(api):
    code, _ = await queue_answer(api)
    return code != 503


async def until_async(predicate, timeout: float = 120, what: str = "condition"):
    import asyncio
    import time

    deadline = time.monotonic() + timeout
    while not (result := await predicate()):
        assert time.monotonic() < deadline, f"{what} did not happen within {timeout} s"
        await asyncio.sleep(0.2)
    return result
