"""The event hub: every live event (task status, progress, logs, downloads, system) goes through here.

Publishers hand it an event model (:mod:`nndeploy_jupyter.schemas.events`); it stamps ``seq`` (server-wide,
monotonic) and ``ts``, wraps it in nndeploy's envelope (:class:`~..schemas.EventEnvelope`) and gives that to
every subscriber that follows the event's task. Recent events of each task are buffered, so a client that binds
late is replayed what it missed. Subscribers are plain callables (the WebSocket handler registers one per
socket); the hub knows nothing of Tornado.

Call :meth:`EventHub.publish` on the event loop; from another thread use :meth:`publish_threadsafe`.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field

from ..schemas import Event, EventEnvelope
from ..schemas.events import Flag

ALL_TASKS = "*"
Listener = Callable[[EventEnvelope], None]


@dataclass(eq=False)
class Subscription:
    listener: Listener
    task_ids: set[str] = field(default_factory=set)

    def wants(self, event: Event, watchers_only: bool = False) -> bool:
        # Events without a task (system events) go to everyone, as upstream does; those only a watcher of the
        # whole server cares about (the workers' state) go to subscribers of "*". A batch's channel gets its
        # tasks' status events (they name the batch).
        if watchers_only:
            return ALL_TASKS in self.task_ids
        batch_id = getattr(event, "batch_id", None)
        return (event.task_id is None or ALL_TASKS in self.task_ids or event.task_id in self.task_ids
                or (batch_id is not None and batch_id in self.task_ids))


class EventHub:
    def __init__(self, per_task_buffer: int = 500, tasks_buffered: int = 1000):
        # Seeded from the clock (µs) so numbers keep growing across server restarts: a client that remembers
        # the last seq it saw never mistakes a new event for an old one.
        self._seq = itertools.count(time.time_ns() // 1000)
        self._buffers: OrderedDict[str, deque[EventEnvelope]] = OrderedDict()
        self._per_task_buffer = per_task_buffer
        self._tasks_buffered = tasks_buffered
        self._subscriptions: list[Subscription] = []
        self._loop: asyncio.AbstractEventLoop | None = None

    def attach(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    def stamp(self, event: Event, *, flag: Flag | None = None, message: str | None = None) -> EventEnvelope:
        """``event`` with a new ``seq`` and ``ts``, in nndeploy's envelope; the flag and message default to the
        event's own (:meth:`Event.envelope`). Not published: for one client (a snapshot, an error)."""
        event.seq, event.ts = next(self._seq), time.time()
        default_flag, default_message = event.envelope()
        return EventEnvelope(flag=flag or default_flag, message=default_message if message is None else message,
                             result=event)

    def publish(self, event: Event, *, flag: Flag | None = None, message: str | None = None,
                watchers_only: bool = False) -> EventEnvelope:
        envelope = self.stamp(event, flag=flag, message=message)
        if event.task_id is not None:
            self._buffer(event.task_id).append(envelope)
        for sub in list(self._subscriptions):
            if sub.wants(event, watchers_only):
                sub.listener(envelope)
        return envelope

    def publish_threadsafe(self, event: Event, **kwargs: str) -> None:
        assert self._loop is not None, "attach() the hub to the event loop first"
        self._loop.call_soon_threadsafe(lambda: self.publish(event, **kwargs))  # type: ignore[arg-type]

    def subscribe(self, listener: Listener) -> Subscription:
        sub = Subscription(listener)
        self._subscriptions.append(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        if sub in self._subscriptions:
            self._subscriptions.remove(sub)

    def bind(self, sub: Subscription, task_id: str, since_seq: int = 0) -> list[EventEnvelope]:
        """Follow ``task_id`` (or ``"*"``) from now on; return its buffered events after ``since_seq``."""
        sub.task_ids.add(task_id)
        if task_id == ALL_TASKS:
            return []
        return [e for e in self._buffers.get(task_id, ()) if e.result.seq > since_seq]

    def unbind(self, sub: Subscription, task_id: str) -> None:
        sub.task_ids.discard(task_id)

    def buffered(self, task_id: str) -> list[EventEnvelope]:
        return list(self._buffers.get(task_id, ()))

    def _buffer(self, task_id: str) -> deque[EventEnvelope]:
        buffer = self._buffers.get(task_id)
        if buffer is None:
            buffer = self._buffers[task_id] = deque(maxlen=self._per_task_buffer)
            while len(self._buffers) > self._tasks_buffered:
                self._buffers.popitem(last=False)
        else:
            self._buffers.move_to_end(task_id)
        return buffer
