"""Live events from ``ws/progress``, read by one background thread per client.

The thread owns its own event loop (the kernel's loop belongs to the user's cell), connects lazily on the
first bind, and reconnects after a drop, binding its tasks again: the server replays what a late bind
missed, and tasks drop duplicates by ``seq``. Events go to ``on_event`` on that thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from collections.abc import Callable
from typing import Any

from tornado.httpclient import HTTPRequest
from tornado.websocket import WebSocketClientConnection, WebSocketClosedError, websocket_connect

from .discovery import ServerInfo

RECONNECT_SECONDS = 1.0


class EventStream:
    def __init__(self, server: ServerInfo, on_event: Callable[[dict[str, Any]], None]):
        self.server = server
        self.on_event = on_event
        self.connected = threading.Event()
        self._task_ids: set[str] = set()
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._conn: WebSocketClientConnection | None = None
        self._closed = False

    def bind(self, task_id: str) -> None:
        with self._lock:
            if self._closed:
                return
            self._task_ids.add(task_id)
            if self._loop is None:
                self._start()
                return  # the connection binds every known task when it opens
            loop = self._loop
        self._call(loop, self._send_bind, task_id)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            loop = self._loop
        if loop is not None:
            self._call(loop, self._close_connection)

    def _start(self) -> None:
        self._loop = asyncio.new_event_loop()
        threading.Thread(target=self._thread_main, args=(self._loop,), name="nndeploy-events", daemon=True).start()

    def _thread_main(self, loop: asyncio.AbstractEventLoop) -> None:
        try:
            loop.run_until_complete(self._run())
        finally:
            loop.close()

    @staticmethod
    def _call(loop: asyncio.AbstractEventLoop, callback: Callable[..., None], *args: Any) -> None:
        with contextlib.suppress(RuntimeError):  # the loop has just finished: nothing left to tell it
            loop.call_soon_threadsafe(callback, *args)

    async def _run(self) -> None:
        while not self._closed:
            try:
                self._conn = await websocket_connect(HTTPRequest(self.server.ws_url, headers=self._headers()))
            except Exception:  # refused, closed, timed out, 403...: retry; Task.wait() polls meanwhile
                await asyncio.sleep(RECONNECT_SECONDS)
                continue
            if self._conn.protocol is not None:  # bind frames go out at once, not behind another's delayed ACK
                self._conn.protocol.set_nodelay(True)
            with self._lock:
                ids = list(self._task_ids)
            for task_id in ids:
                self._send_bind(task_id)
            self.connected.set()
            await self._read(self._conn)
            self.connected.clear()
            self._conn = None

    async def _read(self, conn: WebSocketClientConnection) -> None:
        while (message := await conn.read_message()) is not None:
            if isinstance(message, bytes):
                continue
            try:
                event = json.loads(message)
            except json.JSONDecodeError:
                continue
            if isinstance(event, dict) and isinstance(event.get("result"), dict):
                self.on_event(event)

    def _send_bind(self, task_id: str) -> None:
        if self._conn is None:
            return
        with contextlib.suppress(WebSocketClosedError):  # the next connection binds every task again
            self._conn.write_message(json.dumps({"type": "bind", "task_id": task_id}))

    def _close_connection(self) -> None:
        if self._conn is not None:
            self._conn.close()

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"token {self.server.token}"} if self.server.token else {}


def wait_for(finished: threading.Event, refresh: Callable[[], object], stream: EventStream, deadline: float | None,
             still: Callable[[], str], live_poll: float) -> None:
    """Block until ``finished`` is set, or raise TimeoutError (saying ``still()``) past ``deadline`` (monotonic).
    Events are the fast path; ``refresh()`` polls cover the rest: every ``live_poll`` seconds while the
    WebSocket is up, more often (up to once a second) while it is down."""
    next_poll, interval = time.monotonic() + 0.1, 0.1
    while not finished.is_set():
        now = time.monotonic()
        if deadline is not None and now >= deadline:
            raise TimeoutError(still())
        step = min(0.25, max(0.0, next_poll - now), (deadline - now) if deadline is not None else 0.25)
        if finished.wait(step):
            return
        if time.monotonic() >= next_poll:
            with contextlib.suppress(ConnectionError):  # the server is restarting: it will be back
                refresh()
            interval = live_poll if stream.connected.is_set() else min(interval * 2, 1.0)
            next_poll = time.monotonic() + interval
