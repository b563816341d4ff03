"""The task queue on a fake executor (tests/mocks.py): order, capacity, cancel at every stage, crash, restart.

The real TaskQueue, store (SQLite) and event hub, driven through the queue's public surface; no nndeploy,
so each story takes milliseconds. The same stories with real workers are in test_tasks.py.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest
from conftest import wait_for
from mocks import FakeExecutor, fake_graph, queue_on

from nndeploy_jupyter.errors import Conflict, NotFound
from nndeploy_jupyter.schemas import EventEnvelope, TaskState
from nndeploy_jupyter.services import Services, ServicesConfig
from nndeploy_jupyter.store import Database
from nndeploy_jupyter.workspace import Workspace

OUTPUT = {"node": "Step", "path": "/tmp/fake.out.avi", "size": 10}


async def test_tasks_run_by_priority_then_submission_order_each_change_published_once(tmp_path: Path):
    async with queue_on(tmp_path, started=False) as h:  # the executor is still warming up: all wait
        late = await h.queue.submit(fake_graph("late"), priority=5)
        first = await h.queue.submit(fake_graph("first"), priority=1)
        second = await h.queue.submit(fake_graph("second"), priority=1)
        assert [t.task_id for t in (await h.queue.info()).pending] == [first, second, late]

        await h.executor.start()  # capacity: the queue wakes
        await h.ends(late)
        assert h.executor.started == [first, second, late]
        for task_id in (first, second, late):
            assert h.states(task_id) == ["PENDING", "DISPATCHED", "RUNNING", "SUCCEEDED"]
            record = await h.queue.get(task_id)
            assert record.state == "SUCCEEDED" and record.values == {"Step": "done"} and record.worker_pid == 4242
        history = await h.queue.history(10)
        assert [t.task_id for t in history.items] == [late, second, first] and history.total == 3


async def test_a_task_for_a_free_slot_is_already_dispatched_when_its_submission_returns(tmp_path: Path):
    """The direct hand-over: one write records it DISPATCHED; its events still tell the whole lifecycle. A task
    submitted while another waits queues behind it."""
    async with queue_on(tmp_path, slots=1) as h:
        first = await h.queue.submit(fake_graph("first", hold=True))
        record = await h.queue.get(first)
        assert record.state == "DISPATCHED" and record.ts_dispatch == record.ts_submit
        assert h.states(first) == ["PENDING", "DISPATCHED"]
        second = await h.queue.submit(fake_graph("second"))  # the slot is taken: it waits, PENDING
        assert (await h.queue.get(second)).state == "PENDING"
        h.executor.release(first)
        await h.ends(second)
        assert h.executor.started == [first, second]
        for task_id in (first, second):
            assert h.states(task_id) == ["PENDING", "DISPATCHED", "RUNNING", "SUCCEEDED"]


async def test_a_stop_while_a_direct_submission_is_written_interrupts_it(tmp_path: Path):
    async with queue_on(tmp_path) as h:
        insert, written = h.queue.store.insert, asyncio.Event()

        async def slow_insert(*args, **kwargs):  # the database is slow: stop() comes during the write
            entry = await insert(*args, **kwargs)
            await written.wait()
            return entry

        h.queue.store.insert = slow_insert
        submission = asyncio.ensure_future(h.queue.submit(fake_graph()))
        await asyncio.sleep(0.05)
        await h.queue.stop()
        written.set()
        task_id = await submission  # accepted: it was recorded, and it ends as the tasks stop() found
        record = await h.queue.get(task_id)
        assert record.state == "INTERRUPTED" and "server stopped" in record.error
        assert h.executor.started == [] and h.states(task_id) == ["PENDING", "INTERRUPTED"]


async def test_capacity_is_honoured_and_the_queue_sleeps_while_it_is_used(tmp_path: Path):
    async with queue_on(tmp_path, slots=1) as h:
        held = await h.queue.submit(fake_graph("held", hold=True))
        waiting = [await h.queue.submit(fake_graph(f"w{i}", hold=True)) for i in range(3)]
        await h.reaches(held, TaskState.RUNNING)
        asked = h.executor.capacity_calls
        await asyncio.sleep(0.3)  # tasks wait and the executor is full: no polling meanwhile
        assert h.executor.capacity_calls == asked
        assert [t.task_id for t in (await h.queue.info()).pending] == waiting

        h.executor.set_slots(3)  # more capacity: the queue wakes and fills it
        await h.until(lambda: all(TaskState.RUNNING in h.states(t) for t in waiting[:2]))
        assert h.executor.started == [held, *waiting[:2]]
        info = await h.queue.info()
        assert len(info.running) == 3 and [t.task_id for t in info.pending] == waiting[2:]
        for task_id in [held, *waiting]:
            await h.until(lambda t=task_id: t in h.executor.runs)
            h.executor.release(task_id)
            await h.ends(task_id)
        assert h.executor.started == [held, *waiting]


async def test_cancel_a_pending_task(tmp_path: Path):
    async with queue_on(tmp_path, started=False) as h:
        task_id = await h.queue.submit(fake_graph())
        record = await h.queue.cancel(task_id)
        assert record.state == "CANCELLED" and record.error == "cancelled before it ran"
        await h.executor.start()
        assert h.states(task_id) == ["PENDING", "CANCELLED"] and h.executor.started == []
        with pytest.raises(Conflict, match="already ended: CANCELLED"):
            await h.queue.cancel(task_id)
        with pytest.raises(NotFound):
            await h.queue.cancel("no-such-task")


async def test_cancel_a_dispatched_task(tmp_path: Path):
    async with queue_on(tmp_path) as h:
        task_id = await h.queue.submit(fake_graph(hold_start=True))  # the executor has it, no worker yet
        await h.until(lambda: task_id in h.executor.runs)
        record = await h.queue.cancel(task_id)
        assert record.state == "DISPATCHED" and record.cancel_requested
        await h.ends(task_id)
        assert (await h.queue.get(task_id)).state == "CANCELLED"
        assert h.states(task_id) == ["PENDING", "DISPATCHED", "DISPATCHED", "CANCELLED"]
        assert [s.cancel_requested for s in h.of(task_id, "status")] == [False, False, True, True]
        assert h.executor.cancels == [task_id]


async def test_a_cancel_right_at_dispatch_is_not_lost(tmp_path: Path):
    async with queue_on(tmp_path) as h:
        cancels: list[asyncio.Future] = []

        def cancel_at_dispatch(envelope: EventEnvelope) -> None:  # before the executor has even been called
            status = envelope.result
            if status.type == "status" and status.state == TaskState.DISPATCHED and not status.cancel_requested:
                cancels.append(asyncio.ensure_future(h.queue.cancel(status.task_id)))

        h.queue.events.subscribe(cancel_at_dispatch).task_ids.add("*")
        task_id = await h.queue.submit(fake_graph())
        await h.ends(task_id)
        await asyncio.gather(*cancels)
        record = await h.queue.get(task_id)
        assert record.state == "CANCELLED" and record.error == "cancelled before it ran"
        assert h.executor.started == []


async def test_cancel_a_running_task_answers_at_once_and_marks_its_outputs_partial(tmp_path: Path):
    async with queue_on(tmp_path) as h:
        task_id = await h.queue.submit(fake_graph(hold=True, outputs=[OUTPUT]))
        await h.reaches(task_id, TaskState.RUNNING)
        record = await h.queue.cancel(task_id)
        assert record.state == "RUNNING" and record.cancel_requested  # the end follows on the channel
        await h.ends(task_id)
        ended = await h.queue.get(task_id)
        assert ended.state == "CANCELLED" and [o.partial for o in ended.outputs] == [True]
        assert h.states(task_id)[-3:] == ["RUNNING", "RUNNING", "CANCELLED"]
        info = h.of(task_id, "task_run_info")[-1]
        assert info.state == "CANCELLED" and info.outputs[0].partial


async def test_a_task_that_ignores_its_cancel_ends_after_the_grace(tmp_path: Path):
    async with queue_on(tmp_path, grace=0.05) as h:
        task_id = await h.queue.submit(fake_graph(hold=True, ignore_cancel=True))
        await h.reaches(task_id, TaskState.RUNNING)
        assert (await h.queue.cancel(task_id)).state == "RUNNING"
        await h.ends(task_id)
        ended = await h.queue.get(task_id)
        assert ended.state == "CANCELLED" and ended.error == "worker killed after cancel grace"


async def test_cancel_while_the_downloads_run(tmp_path: Path):
    async with queue_on(tmp_path) as h:
        task_id = await h.queue.submit(fake_graph(), download=True)
        record = await h.queue.cancel(task_id)
        assert record.state == "CANCELLED" and record.error == "cancelled while its downloads ran"
        h.downloads.finish()
        await asyncio.sleep(0.05)
        assert h.executor.started == [] and h.states(task_id) == ["PENDING", "CANCELLED"]


async def test_downloads_then_run_or_fail_with_the_reason(tmp_path: Path):
    async with queue_on(tmp_path) as h:
        fetched = await h.queue.submit(fake_graph("fetched"), download=True)
        await asyncio.sleep(0.05)
        assert h.executor.started == []  # still PENDING while its downloads run
        h.downloads.finish()
        await h.ends(fetched)
        assert (await h.queue.get(fetched)).state == "SUCCEEDED" and h.downloads.fetched == [fetched]

        h.downloads.finish(failure="the origin answered 404")
        failed = await h.queue.submit(fake_graph("failed"), download=True)
        await h.ends(failed)
        record = await h.queue.get(failed)
        assert record.state == "FAILED" and record.error == "download failed: the origin answered 404"
        assert failed not in h.executor.started


async def test_a_crash_fails_its_task_and_the_next_one_runs_once_the_slot_is_back(tmp_path: Path):
    async with queue_on(tmp_path) as h:
        crashed = await h.queue.submit(fake_graph("crash", crash=True))
        after = await h.queue.submit(fake_graph("after", error="deliberate", outputs=[OUTPUT]))
        await h.ends(after)
        crash_record, after_record = await h.queue.get(crashed), await h.queue.get(after)
        assert crash_record.state == "FAILED" and crash_record.error.startswith("worker crashed: SIGSEGV")
        assert after_record.state == "FAILED" and after_record.error == "deliberate"
        assert [o.partial for o in after_record.outputs] == [True]  # a failed task's files are partial too
        assert h.executor.started == [crashed, after]


async def test_progress_and_logs_come_between_running_and_the_end(tmp_path: Path):
    async with queue_on(tmp_path) as h:
        task_id = await h.queue.submit(fake_graph(steps=3, logs=["one", "two"]))
        await h.ends(task_id)
        kinds = [(r.type, getattr(r, "state", None)) for r in h.of(task_id)]
        assert kinds == [("status", "PENDING"), ("status", "DISPATCHED"), ("status", "RUNNING"),
                         ("progress", None), ("progress", None), ("progress", None), ("log", None), ("log", None),
                         ("status", "SUCCEEDED"), ("memory", None), ("task_run_info", "SUCCEEDED")]
        assert [p.done for p in h.of(task_id, "progress")] == [1, 2, 3]
        seqs = [r.seq for r in h.of(task_id)]
        assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)


async def test_flush_cancels_the_pending_and_the_downloading(tmp_path: Path):
    async with queue_on(tmp_path) as h:
        running = await h.queue.submit(fake_graph("running", hold=True))
        await h.reaches(running, TaskState.RUNNING)
        pending = [await h.queue.submit(fake_graph(f"p{i}")) for i in range(2)]
        fetching = await h.queue.submit(fake_graph("fetching"), download=True)
        cancelled = await h.queue.flush()
        assert sorted(cancelled) == sorted([*pending, fetching])
        [system] = [e.result for e in h.events if e.result.type == "system"]
        assert system.event == "queue_flushed" and sorted(system.detail["cancelled"]) == sorted(cancelled)
        h.executor.release(running)
        await h.ends(running)
        assert h.executor.started == [running]
        assert (await h.queue.get(running)).state == "SUCCEEDED"


async def test_a_stop_interrupts_what_ran_and_a_restart_runs_what_waited(tmp_path: Path):
    db = Database(Workspace(tmp_path / "ws").database_path)
    try:
        async with queue_on(tmp_path, database=db) as old:
            running = await old.queue.submit(fake_graph("running", hold=True))
            await old.reaches(running, TaskState.RUNNING)
            pending = await old.queue.submit(fake_graph("pending"))
            await old.queue.stop()  # the server stops: the task on the executor ends INTERRUPTED
            assert old.states(running)[-1] == "INTERRUPTED"
            old.executor.release(running)  # whatever it reports now is refused: it has ended
            await old.queue.drain(1)
            assert (await old.queue.get(running)).state == "INTERRUPTED"
            assert old.states(running)[-1] == "INTERRUPTED"

        async with queue_on(tmp_path, database=db) as new:
            await new.ends(pending)
            assert (await new.queue.get(pending)).state == "SUCCEEDED"
            interrupted = await new.queue.get(running)
            assert interrupted.state == "INTERRUPTED" and "server stopped" in interrupted.error
            assert new.executor.started == [pending]
    finally:
        await asyncio.to_thread(db.close)


async def test_after_a_crash_the_next_start_interrupts_and_a_late_outcome_changes_nothing(tmp_path: Path):
    db = Database(Workspace(tmp_path / "ws").database_path)
    try:
        async with queue_on(tmp_path, database=db) as crashed:  # never stopped before the next start
            running = await crashed.queue.submit(fake_graph("running", hold=True))
            await crashed.reaches(running, TaskState.RUNNING)
            async with queue_on(tmp_path, database=db, started=False) as restarted:
                await restarted.ends(running)
                assert restarted.states(running) == ["INTERRUPTED"]
                crashed.executor.release(running)  # e.g. a remote worker that finished after all
                await asyncio.sleep(0.05)
                assert (await restarted.queue.get(running)).state == "INTERRUPTED"
                assert crashed.states(running)[-1] == "RUNNING"  # the refused outcome was never published
    finally:
        await asyncio.to_thread(db.close)


async def test_an_executor_that_cannot_start_says_why_and_tasks_wait(tmp_path: Path):
    config = ServicesConfig(tmp_path / "ws", executor_factory=lambda context, log: FakeExecutor(
        context, start_error="the cluster does not see /data/nndeploy", log=log))
    services = Services(config, logging.getLogger("test-queue"))
    heard: list[EventEnvelope] = []
    services.events.bind(services.events.subscribe(heard.append), "*")
    await services.start()
    try:
        for _ in range(500):  # the executor starts in the background
            if any(e.result.type == "system" for e in heard):
                break
            await asyncio.sleep(0.01)
        [failed] = [e for e in heard if e.result.type == "system"]
        assert failed.result.event == "executor_failed"
        assert failed.result.detail == {"error": "RuntimeError: the cluster does not see /data/nndeploy"}
        assert services.executor.capacity() == 0
    finally:
        await services.stop()


# -- the executor as the extension's configuration names it -------------------------------------------------

@pytest.fixture
def jp_server_config(workspace: Path) -> dict:
    return {"ServerApp": {"jpserver_extensions": {"nndeploy_jupyter": True}},
            "NnDeployExtension": {"workspace": str(workspace), "executor_class": "mocks.FakeExecutor"},
            "FakeExecutor": {"slots": 2}}


async def test_the_server_runs_tasks_on_the_executor_its_config_names(api, jp_serverapp):
    executor = jp_serverapp.web_app.settings["nndeploy"].executor
    assert isinstance(executor, FakeExecutor) and executor.slots == 2 and executor.context.max_workers == 1
    code, answer = await api("POST", "queue", {"graph": fake_graph("through-the-api", steps=2)})
    assert code == 202, answer
    task = await wait_for(api, answer["result"]["task_id"])
    assert task["state"] == "SUCCEEDED" and task["values"] == {"Step": "done"}


def test_an_executor_name_resolves_through_the_entry_points():
    from nndeploy_jupyter.app import NnDeployExtension
    from nndeploy_jupyter.runtime.local import LocalExecutor

    assert NnDeployExtension(executor_class="local").executor_class is LocalExecutor
    assert NnDeployExtension(executor_class="mocks.FakeExecutor").executor_class is FakeExecutor
    with pytest.raises(ValueError, match="no executor named 'nowhere'.*known: .*local"):
        NnDeployExtension(executor_class="nowhere")
