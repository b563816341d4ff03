"""ipywidgets views of a task (its live progress, its results) and of a batch (its live progress).

:class:`TaskProgress` follows a :class:`~.client.Task`: overall bar (done/total), per-node status, a tail
of the log and the time profile; green when the task succeeds, red (and kept) with the reason when it does
not. :class:`BatchProgress` follows a :class:`~.batch.Batch`: one bar over its tasks, the counts by state and
the failures with their reasons, redrawn at most a few times a second however many tasks change. They are
updated from the event thread (setting traits is safe there); only the main thread displays. Every widget has a
plain-text ``repr``, so a saved notebook, nbconvert or a console still show the state.
"""

from __future__ import annotations

import contextlib
import html
import os
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import ipywidgets as widgets
from IPython.display import display

from ..states import FINAL_STATES, TaskState
from .batch import Batch, ordered_counts
from .client import IMAGE_SUFFIXES, Task

LOG_TAIL = 12
MIN_UPDATE_SECONDS = 0.1
BATCH_UPDATE_SECONDS = 0.25  # a batch's widget redraws at most this often, however many of its tasks change
FAILURES_SHOWN = 20
VIDEO_SUFFIXES = (".mp4", ".webm", ".avi", ".mov", ".mkv")
BROWSER_VIDEO = ("mp4", "webm")
RIGHT = "style='text-align:right;padding-left:1em'"
TEXT_SUFFIXES = (".txt", ".json", ".md", ".csv", ".log")
STATE_COLOURS = {state: "#2e7d32" if state == TaskState.SUCCEEDED else "#c62828" for state in FINAL_STATES}
BAR_STYLES = {state: "success" if state == TaskState.SUCCEEDED else "danger" for state in FINAL_STATES}


class TaskProgress(widgets.VBox):
    def __init__(self, task: Task):
        self.task = task
        self.header = widgets.HTML()
        self.bar = widgets.IntProgress(value=0, min=0, max=1, layout=widgets.Layout(width="100%"))
        self.nodes = widgets.HTML()
        self.log_tail = widgets.HTML()
        self.profile = widgets.HTML()
        super().__init__([self.header, self.bar, self.nodes, self.profile, self.log_tail])
        self._last_render = 0.0
        self._handle: Any = None
        task.subscribe(self.render)

    def show(self) -> TaskProgress:
        """Display the widget (main thread only). Once the task has ended, the first render on the main thread
        (:meth:`finish`, or any ``task.wait()``/``task.refresh()``) updates the displayed text to the outcome."""
        self._handle = display(self, display_id=True)
        return self

    def finish(self) -> None:
        """Render the final state (main thread): the displayed output's saved text becomes the outcome."""
        self.render(self.task, force=True)

    def render(self, task: Task, force: bool = False) -> None:
        now = time.monotonic()
        if not (force or task.finished) and now - self._last_render < MIN_UPDATE_SECONDS:
            return  # the next event (or the final one) renders it
        self._last_render = now
        self.header.value = self._header_html(task)
        self.bar.max = max(task.total, 1)
        self.bar.value = task.total if task.succeeded else min(task.done, self.bar.max)
        self.bar.bar_style = BAR_STYLES.get(task.state, "info")
        self.bar.description = f"{task.done}/{task.total}" if task.total else ""
        self.nodes.value = _nodes_html(task.nodes)
        self.profile.value = _profile_html(task.time_profile)
        tail = "\n".join(task.logs[-LOG_TAIL:])
        self.log_tail.value = f"<pre style='margin:0;font-size:11px'>{html.escape(tail)}</pre>" if tail else ""
        if task.finished and self._handle is not None and threading.current_thread() is threading.main_thread():
            # Re-publish the output once, from the main thread only, so its text/plain shows the outcome too.
            handle, self._handle = self._handle, None
            handle.update(self)

    def _header_html(self, task: Task) -> str:
        colour = STATE_COLOURS.get(task.state, "inherit")
        text = f"<b>nndeploy task</b> <code>{html.escape(task.id)}</code> <b style='color:{colour}'>{task.state}</b>"
        if task.error and not task.succeeded:
            text += f"<div style='color:{colour}'>{html.escape(task.error)}</div>"
        return text

    def __repr__(self) -> str:
        return progress_text(self.task)


class BatchProgress(widgets.VBox):
    def __init__(self, batch: Batch):
        self.batch = batch
        self.header = widgets.HTML()
        self.bar = widgets.IntProgress(value=0, min=0, max=max(batch.total, 1), layout=widgets.Layout(width="100%"))
        self.counts = widgets.HTML()
        self.failures = widgets.HTML()
        super().__init__([self.header, self.bar, self.counts, self.failures])
        self.renders = 0
        self._last_render = 0.0
        self._timer: threading.Timer | None = None
        self._lock = threading.Lock()
        self._handle: Any = None
        batch.subscribe(self._changed)

    def show(self) -> BatchProgress:
        """Display the widget (main thread only); ``batch.wait()`` on the main thread updates the displayed text
        to the outcome."""
        self._handle = display(self, display_id=True)
        return self

    def _changed(self, batch: Batch) -> None:
        """Coalesce: render now if the last render is old enough (or the batch has ended), else once, later."""
        if not batch.finished:
            with self._lock:
                if self._timer is not None:
                    return  # a render is coming, and will show this change too
                delay = self._last_render + BATCH_UPDATE_SECONDS - time.monotonic()
                if delay > 0:
                    self._timer = threading.Timer(delay, self._deferred)
                    self._timer.daemon = True
                    self._timer.start()
                    return
        self.render()

    def _deferred(self) -> None:
        with self._lock:
            self._timer = None
        self.render()

    def render(self) -> None:
        batch = self.batch
        self._last_render = time.monotonic()
        self.renders += 1
        failures = batch.failures
        self.header.value = (f"<b>nndeploy batch</b> <code>{html.escape(batch.id)}</code> "
                             f"<b>{batch.done}/{batch.total}</b> ended")
        self.bar.value = batch.done
        self.bar.bar_style = ("danger" if failures else "success") if batch.finished else \
            ("warning" if failures else "info")
        self.bar.description = f"{batch.done}/{batch.total}"
        self.counts.value = " · ".join(
            f"<span style='color:{STATE_COLOURS.get(state, 'inherit')}'>{html.escape(state)} <b>{n}</b></span>"
            for state, n in ordered_counts(batch.counts))
        self.failures.value = _failures_html(failures)
        if batch.finished and self._handle is not None and threading.current_thread() is threading.main_thread():
            handle, self._handle = self._handle, None  # re-published once, so its text/plain shows the outcome
            handle.update(self)

    def __repr__(self) -> str:
        return batch_text(self.batch)


class ResultViewer(widgets.VBox):
    """A task's outputs: images side by side, videos, text files, and small String/Num/Bool values."""

    def __init__(self, task: Task):
        self.task = task
        files = {path: task.client.read_file(path) for path in task.outputs}
        children: list[widgets.Widget] = []
        images = [_captioned(path, widgets.Image(value=data, format=_suffix(path),
                                                 layout=widgets.Layout(max_width="480px")))
                  for path, data in files.items() if path.lower().endswith(IMAGE_SUFFIXES)]
        if images:
            children.append(widgets.HBox(images, layout=widgets.Layout(flex_flow="row wrap")))
        for path, data in files.items():
            if path.lower().endswith(VIDEO_SUFFIXES):
                video, kind = browser_video(path, data)
                children.append(_captioned(path, widgets.Video(value=video, format=kind, autoplay=False,
                                                               controls=True)))
            elif path.lower().endswith(TEXT_SUFFIXES):
                text = html.escape(data.decode(errors="replace")[:20000])
                children.append(_captioned(path, widgets.HTML(f"<pre>{text}</pre>")))
        if task.values:
            children.append(widgets.HTML(_values_html(task.values)))
        super().__init__(children or [widgets.HTML("<i>no outputs</i>")])

    def __repr__(self) -> str:
        return results_text(self.task)


def browser_video(path: str, data: bytes) -> tuple[bytes, str]:
    """``(bytes, format)`` a browser can play. nndeploy's OpenCV writes only MJPG ``.avi``, which browsers do
    not play: re-encode it as VP8 WebM with opencv-python (built with FFmpeg). Unchanged if that fails."""
    suffix = _suffix(path)
    if suffix in BROWSER_VIDEO:
        return data, suffix
    import cv2

    with tempfile.TemporaryDirectory() as tmp:
        source, target = Path(tmp) / f"in.{suffix}", Path(tmp) / "out.webm"
        source.write_bytes(data)
        capture = cv2.VideoCapture(str(source))
        fps = capture.get(cv2.CAP_PROP_FPS) or 25.0
        writer = None
        while True:
            ok, frame = capture.read()
            if not ok:
                break
            if writer is None:
                with _quiet_stderr():  # FFmpeg warns that 'VP80' is no WebM tag, then writes VP8 all the same
                    writer = cv2.VideoWriter(str(target), cv2.VideoWriter_fourcc(*"VP80"), fps,
                                             (frame.shape[1], frame.shape[0]))
            writer.write(frame)
        capture.release()
        if writer is None:
            return data, suffix
        writer.release()
        return (target.read_bytes(), "webm") if target.is_file() and target.stat().st_size else (data, suffix)


@contextlib.contextmanager
def _quiet_stderr() -> Iterator[None]:
    sys.stderr.flush()
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def _suffix(path: str) -> str:
    return Path(path).suffix.lstrip(".").lower()


def progress_text(task: Task) -> str:
    lines = [f"nndeploy task {task.id}: {task.state}" + (f" ({task.done}/{task.total})" if task.total else "")]
    if task.error and not task.succeeded:
        lines.append(f"  reason: {task.error}")
    lines += [f"  {name}: {info.get('status', '?')} {_count(info)}".rstrip()
              for name, info in task.nodes.items() if isinstance(info, dict)]
    if task.time_profile:
        lines.append("  time: " + ", ".join(f"{k} {v:.1f} ms" for k, v in _numbers(task.time_profile)))
    return "\n".join(lines)


def batch_text(batch: Batch) -> str:
    counts = ", ".join(f"{state} {n}" for state, n in ordered_counts(batch.counts))
    lines = [f"nndeploy batch {batch.id}: {batch.done}/{batch.total} ended ({counts})"]
    failures = batch.failures
    lines += [f"  #{index} {state}: {reason}" for index, state, reason in failures[:FAILURES_SHOWN]]
    if len(failures) > FAILURES_SHOWN:
        lines.append(f"  ... and {len(failures) - FAILURES_SHOWN} more")
    return "\n".join(lines)


def _failures_html(failures: list[tuple[int, str, str]]) -> str:
    if not failures:
        return ""
    rows = "".join(f"<tr><td {RIGHT}>#{index}</td><td style='color:{STATE_COLOURS.get(state, 'inherit')}'>"
                   f"{html.escape(state)}</td><td>{html.escape(reason)}</td></tr>"
                   for index, state, reason in failures[:FAILURES_SHOWN])
    more = len(failures) - FAILURES_SHOWN
    tail = f"<div><i>... and {more} more (batch.failures lists them all)</i></div>" if more > 0 else ""
    return f"<table style='font-size:12px'>{rows}</table>{tail}"


def results_text(task: Task) -> str:
    lines = [f"nndeploy task {task.id} results:"]
    lines += [f"  file: {path}" for path in task.outputs]
    lines += [f"  {name} = {value}" for name, value in task.values.items()]
    return "\n".join(lines if len(lines) > 1 else [*lines, "  (none)"])


def _captioned(path: str, view: widgets.Widget) -> widgets.VBox:
    return widgets.VBox([widgets.HTML(f"<code>{html.escape(Path(path).name)}</code>"), view])


def _nodes_html(nodes: dict[str, Any]) -> str:
    rows = "".join(
        f"<tr><td>{html.escape(str(name))}</td><td>{html.escape(str(info.get('status', '')))}</td>"
        f"<td {RIGHT}>{_count(info)}</td><td {RIGHT}>{_ms(info.get('time'))}</td></tr>"
        for name, info in nodes.items()
        if isinstance(info, dict)
    )
    return f"<table style='font-size:12px'>{rows}</table>" if rows else ""


def _count(info: dict[str, Any]) -> str:
    done, total = info.get("done"), info.get("total")
    return f"{done}/{total}" if isinstance(done, int) and isinstance(total, int) and total > 1 else ""


def _profile_html(profile: dict[str, Any]) -> str:
    parts = [f"{html.escape(k)}: {v:.1f} ms" for k, v in _numbers(profile)]
    return f"<small>{' · '.join(parts)}</small>" if parts else ""


def _values_html(values: dict[str, Any]) -> str:
    rows = "".join(
        f"<tr><td>{html.escape(str(k))}</td><td><code>{html.escape(str(v))}</code></td></tr>" for k, v in values.items()
    )
    return f"<table>{rows}</table>"


def _numbers(mapping: dict[str, Any]) -> list[tuple[str, float]]:
    return [(k, float(v)) for k, v in mapping.items() if isinstance(v, (int, float)) and not isinstance(v, bool)]


def _ms(value: Any) -> str:
    return f"{value:.1f} ms" if isinstance(value, (int, float)) and value >= 0 else ""
