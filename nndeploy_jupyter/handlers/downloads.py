"""``models/download``: fetch the resources a graph names (``*_url_`` entries) into ``resources/``."""

from __future__ import annotations

from jupyter_server.auth.decorator import authorized
from tornado import web

from ..schemas import Graph, TaskCreated
from .base import ApiHandler
from .openapi import Operation


class ModelDownloadHandler(ApiHandler):
    spec = {"post": Operation(
        "Download the resources a graph JSON names (image_url_, video_url_, audio_url_, model_url_, other_url_) "
        "in the background; answers 202 with a job id (download-...) whose WebSocket channel gets "
        "download_progress and model_download_done", body=Graph, result=TaskCreated, status=202, errors=(413,))}

    @web.authenticated
    @authorized
    async def post(self) -> None:
        job_id = self.services.downloads.start(self.json_body())
        self.ok(TaskCreated(task_id=job_id), "download started", status=202)


ROUTES = [
    ("models/download", ModelDownloadHandler),
]
