"""What a client that binds to a channel is sent: the replay and snapshot decisions, apart from the socket.

Binding a task replays its buffered events after ``since``, then a ``status`` snapshot of its current state
(``snapshot: true``) and, for an ended task whose outcome left the buffer (or a restart emptied it), its
``memory`` and ``task_run_info`` rebuilt from its record: a client that binds late still learns the outcome.
``"*"`` follows every task and gets a snapshot of each task not yet ended. A batch's channel (``batch-...``)
follows the status events of its tasks and gets a snapshot of each (ended ones from the store, the others as
they stand now). A download job's channel (``download-...``) replays its events; the rest follow live.
"""

from __future__ import annotations

from collections.abc import Mapping

from ...errors import NotFound
from ...schemas import BATCH_ID_PREFIX, EventEnvelope, MemoryEvent, StatusEvent, TaskRecord, TaskRunInfoEvent
from ...store.tasks import TaskStore
from ..downloads import Downloads, is_download_job
from ..events import ALL_TASKS, EventHub, Subscription


def status_of(record: TaskRecord) -> StatusEvent:
    return StatusEvent(task_id=record.task_id, state=record.state, name=record.name, priority=record.priority,
                       error=record.error, worker_pid=record.worker_pid, cancel_requested=record.cancel_requested,
                       batch_id=record.batch_id)


def outcome_events(record: TaskRecord) -> tuple[MemoryEvent, TaskRunInfoEvent]:
    """The ``memory`` and ``task_run_info`` events that end a task (upstream's completion pair)."""
    return (MemoryEvent(task_id=record.task_id, content=record.values),
            TaskRunInfoEvent(task_id=record.task_id, state=record.state, error=record.error,
                             time_profile=record.time_profile, outputs=record.outputs))


def publish_outcome(hub: EventHub, record: TaskRecord) -> list[EventEnvelope]:
    memory, info = outcome_events(record)
    flag, message = info.envelope()  # the pair says the same: upstream's clients read either
    return [hub.publish(memory, flag=flag, message=message), hub.publish(info)]


class TaskFeed:
    """``live`` is the last status published of every task not yet ended (the queue keeps it)."""

    def __init__(self, hub: EventHub, store: TaskStore, live: Mapping[str, StatusEvent], downloads: Downloads):
        self.hub = hub
        self.store = store
        self.live = live
        self.downloads = downloads

    async def follow(self, sub: Subscription, channel: str, since: int = 0) -> list[EventEnvelope]:
        """Subscribe ``sub`` to ``channel`` (a task id, a download job id or ``"*"``); what to send it now.
        Raises :class:`NotFound` (and does not subscribe) for an unknown id."""
        if channel == ALL_TASKS:
            self.hub.bind(sub, ALL_TASKS)
            return [self._snapshot(status) for status in list(self.live.values())]
        if channel.startswith(BATCH_ID_PREFIX):
            return await self._follow_batch(sub, channel)
        if is_download_job(channel):
            if not self.downloads.knows(channel):
                raise NotFound(f"no download job with id {channel!r}")
            return self.hub.bind(sub, channel, since)
        replay = self.hub.bind(sub, channel, since)
        status = self.live.get(channel)  # read with the bind, no await between: no newer status slips in
        if status is not None:
            return [*replay, self._snapshot(status)]
        try:
            record = await self.store.get(channel)  # ended (or never was): its state no longer changes
        except NotFound:
            self.hub.unbind(sub, channel)
            raise
        sent = [*replay, self._snapshot(status_of(record))]
        if not any(e.result.type == "task_run_info" for e in self.hub.buffered(channel)):
            memory, info = outcome_events(record)
            flag, message = info.envelope()
            sent += [self.hub.stamp(memory, flag=flag, message=message), self.hub.stamp(info)]
        return sent

    async def _follow_batch(self, sub: Subscription, batch_id: str) -> list[EventEnvelope]:
        self.hub.bind(sub, batch_id)  # first: a change after the store's answer is sent live
        try:
            info = await self.store.batch(batch_id)
        except NotFound:
            self.hub.unbind(sub, batch_id)
            raise
        statuses = []
        for member in info.tasks:  # read after the await: a task not ended has its current status in live
            if member.state.final:
                statuses.append(StatusEvent(task_id=member.task_id, state=member.state, error=member.error,
                                            batch_id=batch_id))
            elif (status := self.live.get(member.task_id)) is not None:
                statuses.append(status)  # (absent: it ended during the await, and its end went out live)
        return [self._snapshot(status) for status in statuses]

    def _snapshot(self, status: StatusEvent) -> EventEnvelope:
        return self.hub.stamp(status.model_copy(update={"snapshot": True}))
