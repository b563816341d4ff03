"""``models/download``: fetch the resources a graph names (``*_url_`` entries) into ``resources/``."""

from __future__ import annotations

from jupyter_server.auth.decorator import authorized
from tornado import web

from .base import ApiHandler


class ModelDownloadHandler(ApiHandler):
    spec = {"post": "Download the resources a graph JSON names (image_url_, video_url_, audio_url_, model_url_, "
                    "other_url_) in the background; answers 202 with a task_id whose WebSocket channel gets "
                    "download_progress and model_download_done"}

    @web.authenticated
    @authorized
    async def post(self) -> None:
        task_id = self.services.downloads.start(self.json_body())
        self.ok({"task_id": task_id}, "download started", status=202)


ROUTES = [
    ("models/download", ModelDownloadHandler),
]
