"""The live WebSocket ``ws/progress``: task events in nndeploy's envelope, with replay for late binders.

Client frames: ``{"type": "bind", "task_id": id | "*", "since": seq?}`` and ``{"type": "unbind", "task_id": id}``.
Binding a task replays its buffered events after ``since``, then a ``status`` snapshot of its current
state (``snapshot: true``) and, for an ended task whose outcome left the buffer (or a restart emptied it),
its ``memory`` and ``task_run_info`` rebuilt from its record: a client that binds late still learns the
outcome. ``"*"`` follows every task and gets a snapshot of the tasks in flight. A malformed frame is
answered with an ``error`` event; the socket stays open.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from jupyter_core.utils import ensure_async
from jupyter_server.auth.decorator import ws_authenticated
from jupyter_server.base.handlers import JupyterHandler
from jupyter_server.base.websocket import WebSocketMixin
from pydantic import BaseModel, Field, ValidationError
from tornado import web
from tornado.websocket import WebSocketClosedError, WebSocketHandler

from ..errors import ApiError, NotFound
from ..services.events import ALL_TASKS, Event, Subscription
from ..services.graphs import load_json
from ..services.tasks import outcome_events, outcome_of
from .base import AUTH_RESOURCE, validation_reason


class ClientFrame(BaseModel):
    type: Literal["bind", "unbind"]
    task_id: str = Field(min_length=1, max_length=200)
    since: int = Field(default=0, ge=0)


class ProgressSocket(WebSocketMixin, WebSocketHandler, JupyterHandler):  # Jupyter's own WebSocket MRO
    auth_resource = AUTH_RESOURCE
    spec = {"get": "WebSocket (GET with Upgrade): live task events (status, progress, log, memory, task_run_info, "
                   "system); send {type: 'bind', task_id: id | '*', since?: seq} to follow a task"}

    _subscription: Subscription | None = None

    @property
    def services(self) -> Any:
        return self.settings["nndeploy"]

    def set_default_headers(self) -> None:
        """JupyterHandler's CSP headers make no sense on a WebSocket upgrade."""

    async def pre_get(self) -> None:
        if not await ensure_async(self.authorizer.is_authorized(self, self.current_user, "read", AUTH_RESOURCE)):
            raise web.HTTPError(403)

    @ws_authenticated
    async def get(self, *args: Any, **kwargs: Any) -> None:
        await self.pre_get()
        await self.services.start()
        await super().get(*args, **kwargs)

    def open(self, *args: Any, **kwargs: Any) -> None:
        super().open(*args, **kwargs)  # keep-alive pings
        self._subscription = self.services.events.subscribe(self._send)

    def on_close(self) -> None:
        if self._subscription is not None:
            self.services.events.unsubscribe(self._subscription)
            self._subscription = None

    async def on_message(self, message: str | bytes) -> None:
        try:
            frame = ClientFrame.model_validate(load_json(message, "frame"))
        except ApiError as e:
            self._send_error(e.message)
            return
        except ValidationError as e:
            self._send_error(validation_reason(e))
            return
        if self._subscription is None:
            return
        if frame.type == "unbind":
            self._subscription.task_ids.discard(frame.task_id)
        elif frame.task_id == ALL_TASKS:
            self._bind_all()
        else:
            await self._bind(frame.task_id, frame.since)

    def _bind_all(self) -> None:
        assert self._subscription is not None
        self.services.events.bind(self._subscription, ALL_TASKS)
        for task_id, state in self.services.tasks.live_states().items():
            self._send_snapshot(task_id, state)

    async def _bind(self, task_id: str, since: int) -> None:
        assert self._subscription is not None
        hub, tasks = self.services.events, self.services.tasks
        for event in hub.bind(self._subscription, task_id, since):
            self._send(event)
        if self.services.downloads.owns(task_id):
            return  # a model download job, not a task: its buffered events were replayed, the rest follow
        state = tasks.live_state(task_id)  # read from memory: no newer status can slip in before the snapshot
        if state is not None:
            self._send_snapshot(task_id, state)
            return
        try:
            record = await tasks.get(task_id)  # ended: its state no longer changes
        except NotFound as e:
            self._subscription.task_ids.discard(task_id)
            self._send_error(e.message)
            return
        self._send_snapshot(task_id, record["state"], error=record["error"])
        if not any(e["result"]["type"] == "task_run_info" for e in hub.buffered(task_id)):
            for type, flag, message, fields in outcome_events(outcome_of(record)):
                self._send(hub.event(type, task_id, flag=flag, message=message, **fields))

    def _send_snapshot(self, task_id: str, state: str, **fields: Any) -> None:
        self._send(self.services.events.event("status", task_id, message=f"task {state}", state=state,
                                              snapshot=True, **fields))

    def _send_error(self, reason: str) -> None:
        self._send(self.services.events.event("error", None, flag="error", message=reason))

    def _send(self, event: Event) -> None:
        try:
            self.write_message(json.dumps(event))
        except WebSocketClosedError:
            self.on_close()


ROUTES = [
    ("ws/progress", ProgressSocket),
]
