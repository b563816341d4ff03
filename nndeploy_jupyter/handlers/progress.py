"""The live WebSocket ``ws/progress``: events in nndeploy's envelope. It only parses, subscribes and writes.

Client frames (:class:`~..schemas.ClientFrame`): ``{"type": "bind", "task_id": id | "*", "since": seq?}`` and
``{"type": "unbind", "task_id": id}``. What a bind is sent first (a replay, a snapshot, a rebuilt outcome) is
the task service's decision (:mod:`..services.tasks.feed`). A malformed frame is answered with an ``error``
event; the socket stays open.
"""

from __future__ import annotations

from typing import Any

from jupyter_core.utils import ensure_async
from jupyter_server.auth.decorator import ws_authenticated
from pydantic import ValidationError
from tornado import web
from tornado.websocket import WebSocketClosedError

from ..errors import ApiError
from ..schemas import ClientFrame, ErrorEvent, EventEnvelope
from ..services.events import Subscription
from ..services.graphs import load_json
from .base import AUTH_RESOURCE, ApiSocket, validation_reason
from .openapi import Operation


class ProgressSocket(ApiSocket):
    spec = {"get": Operation("WebSocket (GET with Upgrade): live task events (status, progress, log, memory, "
                             "task_run_info, system, download_progress, model_download_done, error), each an "
                             "EventEnvelope; send {type: 'bind', task_id: id | '*', since?: seq} to follow a task")}

    _subscription: Subscription | None = None

    async def pre_get(self) -> None:
        if not await ensure_async(self.authorizer.is_authorized(self, self.current_user, "read", AUTH_RESOURCE)):
            raise web.HTTPError(403)

    @ws_authenticated
    async def get(self, *args: Any, **kwargs: Any) -> None:
        await self.pre_get()
        await self.services.start()
        await super().get(*args, **kwargs)

    def open(self, *args: Any, **kwargs: Any) -> None:
        super().open(*args, **kwargs)  # keep-alive pings, Nagle off
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
            self.services.events.unbind(self._subscription, frame.task_id)
            return
        try:
            first = await self.services.tasks.follow(self._subscription, frame.task_id, frame.since)
        except ApiError as e:
            self._send_error(e.message)
            return
        for envelope in first:
            self._send(envelope)

    def _send_error(self, reason: str) -> None:
        self._send(self.services.events.stamp(ErrorEvent(), message=reason))

    def _send(self, envelope: EventEnvelope) -> None:
        try:
            self.send_text(envelope.wire())
        except WebSocketClosedError:
            self.on_close()


ROUTES = [
    ("ws/progress", ProgressSocket),
]
