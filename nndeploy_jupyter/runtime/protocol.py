"""The pipes between the supervisor (server process) and a graph worker (child process).

- Commands, supervisor -> worker, on the worker's stdin: one JSON object per line,
  ``{"cmd": "run", "task_id", "graph", "reload_plugins"}`` or ``{"cmd": "cancel", "task_id"}``.
- Messages, worker -> supervisor, on a dedicated pipe: one JSON object per line, ``{"type": ...}`` with
  ``ready``, ``started`` (with ``outputs_before``: the output files' modification times before the run),
  ``running`` (the nodes running now, checked often so a crash can name its node), ``progress`` and
  ``finished`` (with ``outputs``: the files the run wrote, see ``outputs.py``). They stay small: never frames
  or tensors.
- Logs: the worker's fd 1 and 2 are plain pipes (Python and C++ output alike). Around each task the worker
  writes a marker line on both, so the supervisor attributes each line to the task that printed it, even
  though logs and messages travel on separate pipes. (Markers start with a newline, so a line left
  unfinished still ends before the marker; the supervisor drops blank lines.)
"""

from __future__ import annotations

import json
from typing import Any

_MARKER = "\x1enndeploy-jupyter-task "


def begin_marker(task_id: str) -> bytes:
    return f"\n{_MARKER}begin {task_id}\n".encode()  # "\n" first: a marker always starts its own line


def end_marker(task_id: str) -> bytes:
    return f"\n{_MARKER}end {task_id}\n".encode()


def parse_marker(line: str) -> tuple[str, str] | None:
    """``("begin" | "end", task_id)`` for a marker line, else None."""
    if not line.startswith(_MARKER):
        return None
    kind, _, task_id = line[len(_MARKER):].strip().partition(" ")
    return kind, task_id


def encode(message: dict[str, Any]) -> bytes:
    """One line of UTF-8 JSON. A lone surrogate (an error naming a file whose name is not UTF-8) becomes "?":
    escaped, it would reach the server and fail there, in SQLite, in place of the error it carried."""
    text = json.dumps(message, separators=(",", ":"), default=str, ensure_ascii=False)
    return (text + "\n").encode("utf-8", "replace")


def decode(line: bytes) -> dict[str, Any]:
    return json.loads(line)
