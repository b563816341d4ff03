"""Batches in the queue on the fake executor (tests/mocks.py): cancel at every stage, the batch's channel, the
history limit, a restart. Milliseconds each; the same stories with real workers are in test_batches.py."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import pytest
from mocks import LOG, fake_graph, queue_on

from nndeploy_jupyter.errors import BadRequest, NotFound
from nndeploy_jupyter.schemas import BatchEntry, EventEnvelope, TaskState
from nndeploy_jupyter.services.inputs import InputRetention
from nndeploy_jupyter.store import Database
from nndeploy_jupyter.workspace import Workspace


def entries(n: int) -> list[BatchEntry]:
    return [BatchEntry() for _ in range(n)]


async def test_cancel_leaves_the_ended_and_stops_the_running_the_dispatched_and_the_pending(tmp_path: Path):
    async with queue_on(tmp_path, slots=2) as h:
        created = await h.queue.submit_batch(fake_graph("held", hold=True), entries(4))
        done, running, waiting, pending = created.task_ids
        await h.reaches(running, TaskState.RUNNING)
        h.executor.release(done)
        await h.ends(done)
        await h.reaches(waiting, TaskState.RUNNING)
        before = await h.queue.get(done)

        info = await h.queue.cancel_batch(created.batch_id)  # answered at once; the running ones end meanwhile or soon
        states = [m.state for m in info.tasks]
        assert states[0] == "SUCCEEDED" and states[3] == "CANCELLED" and set(states[1:3]) <= {"RUNNING", "CANCELLED"}
        assert sorted(h.executor.cancels) == sorted([running, waiting])
        for task_id in (running, waiting):
            await h.ends(task_id)
        info = await h.queue.batch(created.batch_id)
        assert info.finished and info.counts["CANCELLED"] == 3 and info.counts["SUCCEEDED"] == 1
        assert await h.queue.get(done) == before and h.states(done)[-1] == "SUCCEEDED"
        assert (await h.queue.get(pending)).error == "cancelled with its batch"
        assert h.executor.started == [done, running, waiting]  # the pending one never ran


async def test_a_cancel_of_tasks_waiting_for_a_worker(tmp_path: Path):
    async with queue_on(tmp_path, slots=1) as h:
        created = await h.queue.submit_batch(fake_graph("waits", hold_start=True), entries(2))
        first, second = created.task_ids
        await h.reaches(first, TaskState.DISPATCHED)
        await h.queue.cancel_batch(created.batch_id)
        await h.ends(first)
        assert [(await h.queue.get(t)).state for t in (first, second)] == ["CANCELLED", "CANCELLED"]


async def test_the_batch_channel_carries_its_tasks_status_and_nothing_else(tmp_path: Path):
    async with queue_on(tmp_path, started=False) as h:
        other = await h.queue.submit(fake_graph("other", steps=3, logs=["a line"]))
        created = await h.queue.submit_batch(fake_graph("mine", steps=3, logs=["a line"]), entries(3))
        heard: list[EventEnvelope] = []
        sub = h.queue.events.subscribe(heard.append)
        first = await h.queue.follow(sub, created.batch_id)
        assert [(e.result.task_id, e.result.state, e.result.snapshot) for e in first] == [
            (task_id, "PENDING", True) for task_id in created.task_ids]

        await h.executor.start()
        for task_id in [other, *created.task_ids]:
            await h.ends(task_id)
        assert {e.result.type for e in heard} == {"status"}
        assert {e.result.task_id for e in heard} == set(created.task_ids)
        assert {e.result.batch_id for e in heard} == {created.batch_id}
        for task_id in created.task_ids:
            assert [e.result.state for e in heard if e.result.task_id == task_id] == [
                "DISPATCHED", "RUNNING", "SUCCEEDED"]
        with pytest.raises(NotFound):
            await h.queue.follow(sub, "batch-unknown")


async def test_tasks_past_the_history_limit_expire_and_the_batch_goes_with_its_last(tmp_path: Path):
    async with queue_on(tmp_path, slots=4) as h:  # the harness keeps 100 ended tasks
        created = await h.queue.submit_batch(fake_graph("many"), entries(103))
        for task_id in created.task_ids:
            await h.ends(task_id)
        info = await h.queue.batch(created.batch_id)
        assert info.total == 103 and info.expired == 3 and info.counts["SUCCEEDED"] == 100 and info.finished
        assert [m.index for m in info.tasks] == list(range(3, 103))  # the oldest went first
        assert len(await h.queue.batch_records(created.batch_id)) == 100

        for _ in range(100):
            await h.ends(await h.queue.submit(fake_graph("newer")))
        with pytest.raises(NotFound):
            await h.queue.batch(created.batch_id)


async def test_a_restart_queues_the_batch_again_with_its_id(tmp_path: Path):
    db = Database(Workspace(tmp_path / "ws").database_path)
    try:
        async with queue_on(tmp_path, started=False, database=db) as old:
            created = await old.queue.submit_batch(fake_graph("later"), entries(2))
        async with queue_on(tmp_path, database=db) as new:
            for task_id in created.task_ids:
                await new.ends(task_id)
                statuses = new.of(task_id, "status")
                assert statuses[-1].state == "SUCCEEDED" and {s.batch_id for s in statuses} == {created.batch_id}
                assert (await new.queue.get(task_id)).batch_id == created.batch_id
    finally:
        await asyncio.to_thread(db.close)


async def test_a_bad_entry_names_its_index_and_nothing_is_recorded(tmp_path: Path):
    async with queue_on(tmp_path, started=False) as h:
        bad = [BatchEntry(), BatchEntry(params={"Nope": {"x": 1}})]
        with pytest.raises(BadRequest, match="entry 1: params: the graph has no node named 'Nope'"):
            await h.queue.submit_batch(fake_graph(), bad)
        assert (await h.queue.info()).pending == [] and h.events == []


async def test_retention_keeps_an_old_input_folder_that_a_task_not_yet_ended_reads(tmp_path: Path):
    async with queue_on(tmp_path, started=False) as h:
        inputs = h.queue.workspace.folder("inputs")
        for name in ("queued", "forgotten"):
            (inputs / name).mkdir(parents=True)
            (inputs / name / "input.png").write_bytes(b"\x89PNG")
            stamp = time.time() - 3 * 3600
            os.utime(inputs / name / "input.png", (stamp, stamp))
            os.utime(inputs / name, (stamp, stamp))
        graph = fake_graph()
        graph["node_repository_"][0]["path_"] = "resources/inputs/queued/input.png"
        await h.queue.submit(graph)  # waits: the executor has not started
        retention = InputRetention(h.queue.workspace, 1.0, h.queue.store.live_paths, LOG)
        removed = await asyncio.to_thread(retention.sweep, None, await retention.in_use())
        assert [p.name for p in removed] == ["forgotten"] and (inputs / "queued" / "input.png").is_file()
