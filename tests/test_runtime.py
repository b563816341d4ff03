"""The local executor (graph workers and their supervision), driven directly (no Jupyter server): real nndeploy
graphs in real worker processes, with inputs, models and misbehaving plugin nodes built by the tests
(tests/graphs.py)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path

import cv2
import graphs
import pytest

from nndeploy_jupyter.runtime import local as supervisor_module
from nndeploy_jupyter.runtime.executor import ExecutorContext, ExecutorEvent, ExecutorTask
from nndeploy_jupyter.runtime.local import LocalExecutor
from nndeploy_jupyter.schemas import RunOutcome
from nndeploy_jupyter.workspace import Workspace

LOG = logging.getLogger("test-runtime")


class Events:
    """What a task's ``emit`` callback received, in order, as ``(type, fields)``."""

    def __init__(self) -> None:
        self.received: list[tuple[str, dict]] = []

    def __call__(self, event: ExecutorEvent) -> None:
        self.received.append((event.type, event.model_dump(mode="json", exclude={"type", "task_id", "seq", "ts"})))

    def of(self, kind: str) -> list[dict]:
        return [fields for k, fields in self.received if k == kind]

    @property
    def log(self) -> str:
        return "\n".join(e["log"] for e in self.of("log"))

    @property
    def pid(self) -> int:
        return self.of("started")[0]["pid"]

    async def wait_for(self, predicate, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while not any(predicate(kind, fields) for kind, fields in self.received):
            assert time.monotonic() < deadline, "event did not come"
            await asyncio.sleep(0.02)


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    ws = Workspace(tmp_path / "ws")
    ws.create()
    return ws


@pytest.fixture
def plugins(workspace: Workspace) -> Path:
    graphs.write_fault_plugin(workspace.folder("plugin"))
    return workspace.folder("plugin")


def executor(workspace: Workspace, workers: int = 1, grace: float = 5.0, plugin_dirs: list[Path] = ()
             ) -> LocalExecutor:
    return LocalExecutor(ExecutorContext(workspace, workers, grace, list(plugin_dirs)), log=LOG)


@contextlib.asynccontextmanager
async def supervisor(workspace: Workspace, grace: float = 5.0,
                     plugin_dirs: list[Path] = ()) -> AsyncIterator[LocalExecutor]:
    sup = executor(workspace, 1, grace, plugin_dirs)
    await sup.start()
    try:
        yield sup
    finally:
        await sup.stop()


async def run(sup: LocalExecutor, graph: dict, task_id: str = "t") -> tuple[RunOutcome, Events]:
    events = Events()
    await sup.wait_idle()
    return await sup.run(ExecutorTask(task_id, graph), events), events


async def test_image_graph_writes_its_output(workspace: Workspace) -> None:
    async with supervisor(workspace) as sup:
        assert sup.idle() == 1
        outcome, events = await run(sup, graphs.canny_image_graph(workspace.root))

    assert outcome.state == "SUCCEEDED", outcome.error
    [output] = outcome.outputs
    assert output.node == "Encode"
    assert output.path == str(workspace.root / "resources/images/canny.out.jpg")
    assert cv2.imread(output.path).shape == (120, 160, 3)
    assert outcome.time_profile.run_time > 0 and outcome.time_profile.init_time is not None
    assert events.received[0][0] == "started"
    final = events.of("progress")[-1]
    assert (final["done"], final["total"]) == (1, 1)
    assert final["nodes"]["Canny"] == {"done": 1, "total": 1, "status": "DONE"}
    assert sorted(final["detail"]) == ["Canny", "Decode", "Encode"]
    assert not (workspace.root / "logs").exists(), "import nndeploy left ./logs in the workspace"


async def test_workspace_files_do_not_shadow_modules(workspace: Workspace) -> None:
    (workspace.root / "cv2.py").write_text("raise ImportError('the workspace shadowed cv2')\n")
    async with supervisor(workspace) as sup:
        outcome, _ = await run(sup, graphs.canny_image_graph(workspace.root))
    assert outcome.state == "SUCCEEDED", outcome.error


async def test_two_workers_run_two_tasks_at_once(workspace: Workspace, plugins: Path) -> None:
    slow = graphs.video_graph(workspace.root, frames=20, name="slow", middle=[graphs.fault(sleep_ms=25)])
    sup = executor(workspace, 2, plugin_dirs=[plugins])
    await sup.start()
    try:
        assert sup.idle() == sup.capacity() == 2
        first, second = Events(), Events()
        journal: list[tuple[str, str]] = []  # (task, event) in the order they happened, both tasks together

        async def follow(task_id: str, events: Events):
            def emit(event: ExecutorEvent) -> None:
                journal.append((task_id, event.type))
                events(event)
            outcome = await sup.run(ExecutorTask(task_id, slow), emit)
            journal.append((task_id, "end"))
            return outcome

        outcomes = await asyncio.gather(follow("a", first), follow("b", second))
    finally:
        await sup.stop()

    assert [o.state for o in outcomes] == ["SUCCEEDED", "SUCCEEDED"]
    assert first.pid != second.pid
    first_end = min(journal.index(("a", "end")), journal.index(("b", "end")))
    assert journal.index(("a", "started")) < first_end and journal.index(("b", "started")) < first_end, journal


async def test_stop_ends_a_running_task(workspace: Workspace, plugins: Path) -> None:
    async with supervisor(workspace, plugin_dirs=[plugins]) as sup:
        events = Events()
        task = asyncio.create_task(sup.run(ExecutorTask("endless", graphs.fault_graph(workspace.root, fault="hang")),
                                           events))
        await events.wait_for(lambda kind, fields: kind == "started")
    outcome = await asyncio.wait_for(task, 5)
    assert outcome.state == "FAILED" and outcome.error == "worker stopped: the server is shutting down"


async def test_abandoned_run_ends_its_worker(workspace: Workspace, plugins: Path) -> None:
    async with supervisor(workspace, plugin_dirs=[plugins]) as sup:
        events = Events()
        abandoned = asyncio.create_task(
            sup.run(ExecutorTask("abandoned", graphs.fault_graph(workspace.root, fault="hang")), events))
        await events.wait_for(lambda kind, fields: kind == "started")
        abandoned.cancel()  # e.g. the queue gave up on it while shutting down
        with pytest.raises(asyncio.CancelledError):
            await abandoned
        assert sup.idle() == sup.capacity() == 0  # the worker is going, not handed out again
        after, after_events = await run(sup, graphs.canny_image_graph(workspace.root))

    assert after.state == "SUCCEEDED" and after_events.pid != events.pid


async def test_output_not_written_is_not_reported(workspace: Workspace) -> None:
    graph = graphs.canny_image_graph(workspace.root)
    graph["node_repository_"][-1]["path_"] = "resources/no-such-folder/out.jpg"  # nndeploy says Ok anyway
    async with supervisor(workspace) as sup:
        outcome, _ = await run(sup, graph)
        assert outcome.state == "SUCCEEDED"
        assert outcome.outputs == []
        first, _ = await run(sup, graphs.canny_image_graph(workspace.root))
        again, _ = await run(sup, graphs.canny_image_graph(workspace.root))
    assert len(first.outputs) == len(again.outputs) == 1  # rewritten, so fresh again


async def test_video_progress_counts_up_to_the_loop_count(workspace: Workspace, plugins: Path) -> None:
    graph = graphs.video_graph(workspace.root, frames=40, middle=[graphs.fault(sleep_ms=15)])
    async with supervisor(workspace, plugin_dirs=[plugins]) as sup:
        outcome, events = await run(sup, graph)

    assert outcome.state == "SUCCEEDED", outcome.error
    progress = events.of("progress")
    done = [p["done"] for p in progress]
    assert done == sorted(done) and done[-1] == 40 and len(set(done)) >= 3
    # done counts frames finished: never ahead of the frames the encoder has written (the decoder's count of
    # frames started runs one ahead while the slow node works)
    assert all(p["done"] <= p["nodes"]["VideoEncode"]["done"] for p in progress), progress
    assert any(p["nodes"]["VideoDecode"]["done"] > p["done"] for p in progress[:-1])
    assert {p["total"] for p in progress} == {40}
    assert progress[-1]["nodes"]["VideoEncode"]["done"] == 40
    [output] = outcome.outputs
    video = cv2.VideoCapture(output.path)
    assert int(video.get(cv2.CAP_PROP_FRAME_COUNT)) == 40


async def test_infer_node_runs_the_official_classification_template(workspace: Workspace) -> None:
    async with supervisor(workspace) as sup:
        outcome, _ = await run(sup, graphs.classification_graph(workspace.root))

    assert outcome.state == "SUCCEEDED", outcome.error
    [output] = outcome.outputs
    assert output.node == "OpenCvImageEncode_28"
    assert cv2.imread(output.path).shape == (480, 640, 3)


async def test_small_outputs_come_back_as_values_and_prints_as_the_tasks_logs(workspace: Workspace) -> None:
    async with supervisor(workspace) as sup:
        first, first_events = await run(sup, graphs.value_graph("hello from the first task"), "first")
        second, second_events = await run(sup, graphs.value_graph("hello from the second task"), "second")

    assert first.state == second.state == "SUCCEEDED"
    assert first.values == {"Print": "hello from the first task"}
    assert second.values == {"Print": "hello from the second task"}
    assert first.outputs == []
    # ConsolePrintNode prints its input: each print is a log line of its own task, and only of it
    assert "first task" in first_events.log and "second task" not in first_events.log
    assert "second task" in second_events.log and "first task" not in second_events.log


async def test_model_that_does_not_load_fails_the_task(workspace: Workspace) -> None:
    graph = graphs.classification_graph(workspace.root)
    (workspace.root / "resources/models/tiny_resnet.onnx").write_bytes(b"not an onnx model")
    async with supervisor(workspace) as sup:
        broken, _ = await run(sup, graph, "broken")
        after, _ = await run(sup, graphs.canny_image_graph(workspace.root), "after")

    assert broken.state == "FAILED" and broken.error.startswith("RuntimeError: ")
    assert broken.outputs == []
    assert after.state == "SUCCEEDED"


async def test_unfinished_last_line_stays_with_its_task(workspace: Workspace, plugins: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    unfinished = graphs.fault_graph(workspace.root, print_lines=1, print_unfinished=True)
    # Were the end marker missed, the task would wait out the drain timeout: made far longer than the bound below.
    monkeypatch.setattr(supervisor_module, "LOG_DRAIN_SECONDS", 3600)
    async with supervisor(workspace, plugin_dirs=[plugins]) as sup:
        first, first_events = await asyncio.wait_for(run(sup, unfinished, "first"), 300)
        _, second_events = await run(sup, graphs.canny_image_graph(workspace.root), "second")

    assert first.state == "SUCCEEDED"
    assert "call 1 line 0 xxxxxxxxxx" in first_events.log and "call 1" not in second_events.log


async def test_log_flood_is_bounded_and_never_blocks_the_worker(workspace: Workspace, plugins: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(supervisor_module, "MAX_LOG_LINES", 50)
    flood = graphs.fault_graph(workspace.root, frames=5, print_lines=40)
    huge_line = graphs.fault_graph(workspace.root, name="huge", print_lines=1, print_width=3_000_000)
    async with supervisor(workspace, plugin_dirs=[plugins]) as sup:
        flooded, flood_events = await run(sup, flood, "flood")
        huge, huge_events = await run(sup, huge_line, "huge")

    assert flooded.state == "SUCCEEDED"
    lines = [e["log"] for e in flood_events.of("log")]
    assert len(lines) == 51 and "call 1 line 0 xxxxxxxxxx" in lines and "the rest are not shown" in lines[-1]
    assert huge.state == "SUCCEEDED"
    assert all(len(e["log"]) <= supervisor_module.MAX_LOG_LINE_CHARS for e in huge_events.of("log"))


async def test_status_error_says_what_nndeploy_logged(workspace: Workspace) -> None:
    graph = graphs.video_graph(workspace.root, frames=5)
    graph["node_repository_"][-1]["path_"] = "resources/no-such-folder/out.avi"  # the encoder cannot open it
    async with supervisor(workspace) as sup:
        outcome, events = await run(sup, graph)

    assert outcome.state == "FAILED"
    assert outcome.error.startswith("kStatusCodeErrorInvalidParam: E/")
    assert outcome.error.split(": ", 1)[1] in events.log


@pytest.mark.parametrize(("fault", "error"), [
    ("raise", "RuntimeError: deliberate exception at call 1"),
    ("sys_exit", "SystemExit: 2"),
])
async def test_exception_in_the_first_task_of_a_fresh_worker_fails_cleanly(
        workspace: Workspace, plugins: Path, fault: str, error: str) -> None:
    async with supervisor(workspace, plugin_dirs=[plugins]) as sup:
        failed, failed_events = await run(sup, graphs.fault_graph(workspace.root, fault=fault), "first")
        after, after_events = await run(sup, graphs.canny_image_graph(workspace.root), "second")

    assert failed.state == "FAILED"
    assert failed.error == error
    assert after.state == "SUCCEEDED"
    assert after_events.pid == failed_events.pid  # the worker lived on


async def test_cancel_running_video_ends_cancelled_fast(workspace: Workspace, plugins: Path) -> None:
    graph = graphs.video_graph(workspace.root, frames=300, middle=[graphs.fault(sleep_ms=20)])
    async with supervisor(workspace, plugin_dirs=[plugins]) as sup:
        events = Events()
        task = asyncio.create_task(sup.run(ExecutorTask("long", graph), events))
        await events.wait_for(lambda kind, fields: kind == "progress" and fields["done"] >= 5)
        assert await sup.cancel("long")
        outcome = await task
        after, after_events = await run(sup, graphs.canny_image_graph(workspace.root))

    assert outcome.state == "CANCELLED" and outcome.error is None
    assert events.of("progress")[-1]["done"] < 300  # it stopped mid-video: the cancel did not wait for the end
    assert not await sup.cancel("long")
    assert after.state == "SUCCEEDED" and after_events.pid == events.pid  # interrupted, not killed


async def test_cancel_during_slow_init_is_deferred_until_initialized(workspace: Workspace, plugins: Path) -> None:
    graph = graphs.fault_graph(workspace.root, init_sleep_ms=1500)
    async with supervisor(workspace, plugin_dirs=[plugins]) as sup:
        events = Events()
        task = asyncio.create_task(sup.run(ExecutorTask("slow-init", graph), events))
        await events.wait_for(lambda kind, fields: kind == "started")
        await asyncio.sleep(0.5)  # inside init(): nndeploy's interrupt() would SIGSEGV here
        assert await sup.cancel("slow-init")
        outcome = await task
        after, after_events = await run(sup, graphs.canny_image_graph(workspace.root))

    assert outcome.state == "CANCELLED" and outcome.error is None
    assert after.state == "SUCCEEDED" and after_events.pid == events.pid


async def test_cancel_as_soon_as_submitted(workspace: Workspace) -> None:
    async with supervisor(workspace) as sup:
        events = Events()
        task = asyncio.create_task(sup.run(ExecutorTask("instant", graphs.canny_image_graph(workspace.root)), events))
        await asyncio.sleep(0)  # run() has begun; the graph has not reached the worker yet
        assert await sup.cancel("instant")
        outcome = await task
        after, _ = await run(sup, graphs.canny_image_graph(workspace.root))

    assert outcome.state == "CANCELLED" and outcome.outputs == []
    assert after.state == "SUCCEEDED"


@pytest.mark.parametrize(("fault", "cause", "trace"), [
    ("segfault", "SIGSEGV", "Fatal Python error: Segmentation fault"),
    ("abort", "SIGABRT", "Fatal Python error: Aborted"),
    ("exit", "exit code 3", None),
])
async def test_worker_crash_fails_the_task_and_the_next_one_runs(
        workspace: Workspace, plugins: Path, fault: str, cause: str, trace: str | None) -> None:
    graph = graphs.fault_graph(workspace.root, frames=30, fault=fault, at_call=4, sleep_ms=60)
    async with supervisor(workspace, plugin_dirs=[plugins]) as sup:
        crashed, crashed_events = await run(sup, graph, "crash")
        after, after_events = await run(sup, graphs.canny_image_graph(workspace.root), "after")

    assert crashed.state == "FAILED"
    assert crashed.error.startswith(f"worker crashed: {cause} while running node Fault")
    if trace:
        assert trace in crashed_events.log and "fault_nodes.py" in crashed_events.log
        assert trace not in after_events.log
    assert after.state == "SUCCEEDED"
    assert after_events.pid != crashed_events.pid


async def test_instant_crash_names_the_plugin_line(workspace: Workspace, plugins: Path) -> None:
    async with supervisor(workspace, plugin_dirs=[plugins]) as sup:
        crashed, _ = await run(sup, graphs.fault_graph(workspace.root, fault="segfault"))

    assert crashed.state == "FAILED"
    assert crashed.error.startswith("worker crashed: SIGSEGV")
    assert crashed.error.endswith(f"(at resources/plugin/fault_nodes.py:{_line_of('ctypes.string_at(0)')} in run)")


def _line_of(code: str) -> int:
    return next(number for number, line in enumerate(graphs.FAULT_PLUGIN.splitlines(), 1) if code in line)


async def test_worker_killed_from_outside_fails_its_task(workspace: Workspace, plugins: Path) -> None:
    async with supervisor(workspace, plugin_dirs=[plugins]) as sup:
        events = Events()
        task = asyncio.create_task(sup.run(ExecutorTask("victim", graphs.fault_graph(workspace.root, fault="hang")),
                                           events))
        await events.wait_for(lambda kind, fields: kind == "started")
        os.kill(events.pid, signal.SIGKILL)  # as the out-of-memory killer would
        outcome = await task
        after, _ = await run(sup, graphs.canny_image_graph(workspace.root))

    assert outcome.state == "FAILED"
    assert outcome.error.startswith("worker crashed: SIGKILL") and "out-of-memory" in outcome.error
    assert after.state == "SUCCEEDED"


async def test_hung_node_is_killed_after_the_cancel_grace(workspace: Workspace, plugins: Path) -> None:
    graph = graphs.fault_graph(workspace.root, frames=30, fault="hang", at_call=3)
    async with supervisor(workspace, grace=0.5, plugin_dirs=[plugins]) as sup:
        events = Events()
        task = asyncio.create_task(sup.run(ExecutorTask("hung", graph), events))
        # two frames finished; the third hangs in the node
        await events.wait_for(lambda kind, fields: kind == "progress" and fields["done"] >= 2)
        cancelled_at = time.monotonic()
        assert await sup.cancel("hung")
        outcome = await task
        latency = time.monotonic() - cancelled_at
        after, after_events = await run(sup, graphs.canny_image_graph(workspace.root))

    assert outcome.state == "CANCELLED"
    assert outcome.error == "worker killed after cancel grace"
    # the worker died mid-run: the supervisor finds what it wrote, against the worker's look before the run
    assert [Path(o.path).name for o in outcome.outputs] == [Path(graph["node_repository_"][-1]["path_"]).name]
    assert latency >= 0.5  # the grace was given; the upper bound only says it did not hang
    assert latency < 60
    assert after.state == "SUCCEEDED" and after_events.pid != events.pid


async def test_broken_plugin_is_reported_and_the_good_one_loads(workspace: Workspace, plugins: Path) -> None:
    graphs.write_broken_plugin(plugins)
    unknown = graphs.canny_image_graph(workspace.root, name="unknown")
    unknown["node_repository_"][1]["key_"] = "tests.NodeFromTheBrokenPlugin"
    async with supervisor(workspace, plugin_dirs=[plugins, workspace.root / "no-such-dir"]) as sup:
        good, good_events = await run(sup, graphs.fault_graph(workspace.root), "good")
        bad, _ = await run(sup, unknown, "bad")

    assert good.state == "SUCCEEDED", good.error
    assert "plugin broken_nodes.py did not load: SyntaxError" in good_events.log
    assert bad.state == "FAILED"
    assert "Failed to create node" in bad.error and "broken_nodes.py: SyntaxError" in bad.error


async def test_reloaded_plugins_reach_the_worker(workspace: Workspace) -> None:
    plugin_dir = workspace.folder("plugin")
    async with supervisor(workspace, plugin_dirs=[plugin_dir]) as sup:
        before, _ = await run(sup, graphs.fault_graph(workspace.root), "before")
        graphs.write_fault_plugin(plugin_dir)
        sup.reload_plugins()
        after, _ = await run(sup, graphs.fault_graph(workspace.root), "after")

    assert before.state == "FAILED" and "Failed to create node" in before.error
    assert after.state == "SUCCEEDED", after.error
