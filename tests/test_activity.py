"""Running tasks count as the server's activity (what /api/status reports and JupyterHub's culler sees).

Only ``/api/status`` is asked while activity is watched: jupyter_server does not count that request as
activity, while every other API call would.
"""

from __future__ import annotations

import asyncio
import json
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from conftest import submit, wait_for
from graphs import fault_graph

from nndeploy_jupyter import activity

STAMP_SECONDS = 0.2
pytestmark = pytest.mark.usefixtures("fault_plugin")


@pytest.fixture
def extension_config(monkeypatch: pytest.MonkeyPatch) -> dict:
    monkeypatch.setattr(activity, "STAMP_SECONDS", STAMP_SECONDS)  # before the server starts
    return {"max_workers": 1, "cancel_grace_seconds": 1.0}


async def last_activity(jp_fetch) -> datetime:
    response = await jp_fetch("api", "status")
    return datetime.fromisoformat(json.loads(response.body)["last_activity"])


async def activity_after(jp_fetch, mark: datetime, timeout: float = 60) -> datetime:
    deadline = time.monotonic() + timeout
    while (seen := await last_activity(jp_fetch)) <= mark:
        assert time.monotonic() < deadline, f"last_activity stayed at {seen}"
        await asyncio.sleep(STAMP_SECONDS / 2)
    return seen


async def test_a_running_task_is_activity_and_an_idle_queue_is_not(api, jp_fetch, workspace: Path):
    # a hang sends no event at all: a silent long run must count too
    hung = await submit(api, fault_graph(workspace, "hung", fault="hang"))
    await wait_for(api, hung, {"RUNNING"})
    watched_from = await last_activity(jp_fetch)  # the polling above was the user's last request
    moved = await activity_after(jp_fetch, watched_from)
    moved_again = await activity_after(jp_fetch, moved)  # and it keeps moving while the task runs
    code, answer = await api("POST", f"queue/cancel/{hung}")
    assert code == 200 and answer["result"]["cancel_requested"]
    ended = await wait_for(api, hung)
    assert ended["state"] == "CANCELLED"
    assert watched_from < moved < moved_again < datetime.fromtimestamp(ended["ts_finish"]).astimezone()

    settled = await last_activity(jp_fetch)
    await asyncio.sleep(5 * STAMP_SECONDS)
    assert await last_activity(jp_fetch) == settled  # nothing runs: the server may be culled
    assert settled - moved_again < timedelta(minutes=1)
