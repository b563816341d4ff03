"""The task service: the durable queue (:mod:`.queue`) and what a client binding to a task is sent (:mod:`.feed`)."""

from .queue import INTERRUPTED_REASON, TaskQueue

__all__ = ["INTERRUPTED_REASON", "TaskQueue"]
