"""Running tasks count as activity, so JupyterHub's idle culler does not stop a server whose queue is busy.

jupyter_server's ``last_activity()`` is what ``/api/status`` reports and what jupyterhub-singleuser sends to
the hub; it takes the latest of ``web_app.settings["last_activity_times"]``, among others. Tasks make no
HTTP traffic of the user's (a long run may send no event at all), so while any task is live (pending,
downloading, dispatched or running) we stamp our own entry there every few seconds; an idle queue stamps
nothing and the server's activity is the user's again.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, MutableMapping
from datetime import datetime, timezone
from typing import Any

from tornado.ioloop import PeriodicCallback

ACTIVITY_KEY = "nndeploy_tasks"
STAMP_SECONDS = 5.0  # far finer than any culler's timeout (the hub's default is an hour)


class TaskActivity:
    def __init__(self, activity_times: MutableMapping[str, Any], live_states: Callable[[], Mapping[str, str]],
                 interval: float | None = None):
        self._times = activity_times
        self._live_states = live_states
        self._callback = PeriodicCallback(self.stamp, (interval or STAMP_SECONDS) * 1000)

    def start(self) -> None:
        self._callback.start()

    def stop(self) -> None:
        self._callback.stop()

    def stamp(self) -> None:
        if self._live_states():
            self._times[ACTIVITY_KEY] = datetime.now(timezone.utc)  # aware, as jupyter_server's own stamps
