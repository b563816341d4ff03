"""Child process: a pre-warmed graph worker. Imports nndeploy.

Usage (by the supervisor only): ``python -m nndeploy_jupyter.runtime.worker --workspace ROOT --scratch DIR
--message-fd N [--plugin-dir DIR ...]``. See ``protocol.py`` for the pipes.

It runs one graph at a time with its own loop instead of nndeploy's ``GraphRunner``: GraphRunner deep-copies
every frame of every iteration into ``results``, has no iteration counter, and lets a cancel reach
``interrupt()`` before ``init()`` (a SIGSEGV). Here a cancel only interrupts an initialized graph, and is
otherwise kept until init ends.
"""

from __future__ import annotations

import argparse
import ctypes
import faulthandler
import gc
import json
import math
import os
import queue
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

from ..states import TaskState
from . import outputs, protocol

PROGRESS_INTERVAL_SECONDS = 0.15
WATCH_INTERVAL_SECONDS = 0.03  # how often the running node is checked: a crash names the node it died in
VALUE_TYPES = ("String", "Bool", "Num")  # the outputs upstream reports as `memory`
MAX_VALUE_CHARS = 4096
PR_SET_PDEATHSIG = 1  # linux/prctl.h
INTERRUPTED_STATUS = 61  # kStatusCodeNodeInterrupt, missing from nndeploy's Python StatusCode enum


class Channel:
    """The message pipe to the supervisor; the main and progress threads both write to it."""

    def __init__(self, fd: int):
        self.fd = fd
        self.lock = threading.Lock()

    def send(self, message: dict[str, Any]) -> None:
        data = protocol.encode(message)
        with self.lock:
            while data:
                data = data[os.write(self.fd, data):]


def write_marker(marker: bytes) -> None:
    """Flush what Python and C stdio hold, then mark the task boundary on fd 1 and 2."""
    sys.stdout.flush()
    sys.stderr.flush()
    _libc.fflush(None)
    for fd in (1, 2):
        os.write(fd, marker)


_libc = ctypes.CDLL(None)


class GraphTask:
    """One graph run: deserialize, init, ``get_loop_count()`` runs, deinit; cancellable from another thread."""

    def __init__(self, task_id: str, graph_json: dict[str, Any], channel: Channel, plugin_errors: dict[str, str]):
        self.task_id = task_id
        self.graph_json = graph_json
        self.channel = channel
        self.plugin_errors = plugin_errors
        self.graph: Any = None
        self.total = 0
        self.iterations = 0
        self.top_nodes = {n.get("name_") for n in graph_json.get("node_repository_", []) if isinstance(n, dict)}
        self.cancel_requested = threading.Event()
        self._phase_lock = threading.Lock()  # interrupt() only while the executor exists (init..deinit)
        self._interruptible = False
        self._interrupted = False
        self._init_attempted = False
        self._stop_progress = threading.Event()
        self._last_progress: dict[str, Any] | None = None

    def request_cancel(self) -> None:
        self.cancel_requested.set()
        self._interrupt_if_safe()

    def _interrupt_if_safe(self) -> None:
        with self._phase_lock:
            if self.cancel_requested.is_set() and self._interruptible and not self._interrupted:
                self.graph.interrupt()
                self._interrupted = True

    def _set_interruptible(self, value: bool) -> None:
        with self._phase_lock:
            self._interruptible = value

    def run(self) -> dict[str, Any]:
        """The task's outcome: ``state``, ``error``, ``status_only``, ``time_profile``, ``values``."""
        import nndeploy.dag

        outcome: dict[str, Any] = {"state": TaskState.SUCCEEDED, "error": None, "status_only": False,
                                   "time_profile": {}, "values": {}}
        progress = threading.Thread(target=self._report_progress, name="progress", daemon=True)
        try:
            self._stop_if_cancelled(outcome)
            self.graph = nndeploy.dag.Graph(str(self.graph_json.get("name_") or "graph"))
            self._check(self.graph.deserialize(json.dumps(self.graph_json)), outcome)
            self._stop_if_cancelled(outcome)
            self.total = self.graph.get_loop_count()
            self.graph.set_time_profile_flag(True)
            progress.start()
            started = time.perf_counter()
            self._init_attempted = True
            self._check(self.graph.init(), outcome)
            self._set_interruptible(True)
            self._interrupt_if_safe()  # a cancel that came during deserialize/init
            initialized = time.perf_counter()
            values = self._run_loop(outcome)
            self.graph.synchronize()
            finished = time.perf_counter()
            outcome["values"] = values
            outcome["time_profile"] = {"init_time": round((initialized - started) * 1000, 3),
                                       "run_time": round((finished - initialized) * 1000, 3)}
        except _Stopped:
            pass
        except (Exception, SystemExit) as e:  # noqa: BLE001  (C++ errors, plugin errors, bad keys, sys.exit()...)
            outcome.update(state=TaskState.FAILED, error=self._explain(e))
        finally:
            self._finish(progress, outcome)
        if self.cancel_requested.is_set():
            outcome.update(state=TaskState.CANCELLED, error=None, status_only=False)
        return outcome

    def _run_loop(self, outcome: dict[str, Any]) -> dict[str, str]:
        value_edges = self._value_edges()
        values: dict[str, list[str]] = {}
        for _ in range(self.total):
            if self.cancel_requested.is_set():
                break
            self._check(self.graph.run(), outcome)
            self.iterations += 1
            for edge, consumers in value_edges:
                _collect_value(values, consumers, edge.get_graph_output())
        return {node: " ".join(parts)[:MAX_VALUE_CHARS] for node, parts in values.items()}

    def _value_edges(self) -> list[tuple[Any, list[str]]]:
        """Graph-output edges read by a String/Bool/Num consumer; the others (frames...) are never touched."""
        from nndeploy.dag.base import io_type_to_name

        edges = []
        for edge in self.graph.get_all_output():
            consumers = [c.get_name() for c in edge.get_consumers()
                         if io_type_to_name.get(c.get_io_type()) in VALUE_TYPES]
            if consumers:
                edges.append((edge, consumers))
        return edges

    def _stop_if_cancelled(self, outcome: dict[str, Any]) -> None:
        if self.cancel_requested.is_set():
            outcome.update(state=TaskState.CANCELLED)
            raise _Stopped

    def _check(self, status: Any, outcome: dict[str, Any]) -> None:
        import nndeploy.base

        if status != nndeploy.base.StatusCode.Ok:
            if self.cancel_requested.is_set() or int(status.get_code()) == INTERRUPTED_STATUS:
                outcome.update(state=TaskState.CANCELLED)
            else:
                outcome.update(state=TaskState.FAILED, error=status.get_desc(), status_only=True)
            raise _Stopped

    def _explain(self, error: Exception) -> str:
        text = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
        if "Failed to create node" in str(error) and self.plugin_errors:
            broken = "; ".join(f"{name}: {reason}" for name, reason in self.plugin_errors.items())
            text += f" (plugins that failed to load: {broken})"
        return text

    def _finish(self, progress: threading.Thread, outcome: dict[str, Any]) -> None:
        self._set_interruptible(False)
        self._stop_progress.set()
        if progress.is_alive():
            progress.join()
        if self.graph is None:
            return
        try:
            self._send_progress(force=True)
            outcome["time_profile"].update(self._node_times())
            if self._init_attempted:  # a failed init may have set up part of the graph (as GraphRunner does)
                self.graph.deinit()
        except Exception as e:  # noqa: BLE001  (a failing deinit fails the task, not the worker)
            if outcome["state"] == TaskState.SUCCEEDED:
                outcome.update(state=TaskState.FAILED, error=self._explain(e))
        self.graph = None

    def _report_progress(self) -> None:
        running: list[str] = []
        next_progress = time.monotonic() + PROGRESS_INTERVAL_SECONDS
        while not self._stop_progress.wait(WATCH_INTERVAL_SECONDS):
            self._interrupt_if_safe()
            if time.monotonic() >= next_progress:
                next_progress += PROGRESS_INTERVAL_SECONDS
                self._send_progress(force=False)
                continue
            now_running = [name for name, rs in self.graph.get_nodes_run_status_recursive().items() if rs.is_running]
            if now_running != running:
                running = now_running
                self.channel.send({"type": "running", "task_id": self.task_id, "nodes": running})

    def _send_progress(self, force: bool) -> None:
        statuses = self.graph.get_nodes_run_status_recursive()
        detail, nodes, finished = {}, {}, []
        for name, rs in statuses.items():
            status = rs.get_status()
            time_ms = -1.0 if status == "INITING" else rs.init_time if status == "INITED" else rs.average_time
            detail[name] = {"time": _ms(time_ms), "status": status}
            nodes[name] = {"done": rs.completed_size, "total": self.total, "status": status}
            if name in self.top_nodes:
                finished.append(rs.completed_size)
        # A frame is done once every top-level node has finished it (the encoder last): the Input node's run_size
        # counts frames started, one ahead of the encoder while a slow node works.
        done = min(min(finished), self.total) if finished else self.iterations
        message = {"detail": detail, "done": done, "total": self.total, "nodes": nodes}
        if force or message != self._last_progress:
            self._last_progress = message
            self.channel.send({"type": "progress", "task_id": self.task_id, **message})

    def _node_times(self) -> dict[str, Any]:
        statuses = self.graph.get_nodes_run_status_recursive()
        return {"nodes": {name: {"init_time": _ms(rs.init_time), "average_time": _ms(rs.average_time),
                                 "runs": rs.completed_size} for name, rs in statuses.items()}}


def _ms(value: float) -> float:
    """A time for JSON consumers: rounded, and -1 rather than NaN/inf (which browsers cannot parse)."""
    return round(value, 3) if math.isfinite(value) else -1.0


class _Stopped(Exception):
    """The run stops early (a non-Ok status, a cancel); the outcome already says why."""


def _collect_value(values: dict[str, list[str]], consumers: list[str], value: Any) -> None:
    if value is None:
        return
    text = str(value)[:MAX_VALUE_CHARS]
    for name in consumers:
        parts = values.setdefault(name, [])
        if sum(len(p) for p in parts) < MAX_VALUE_CHARS:
            parts.append(text)


class Worker:
    def __init__(self, channel: Channel, plugin_dirs: list[Path], workspace: Path):
        self.channel = channel
        self.workspace = workspace
        self.plugin_dirs = plugin_dirs
        self.plugin_errors: dict[str, str] = {}
        self.unreported_plugin_errors: dict[str, str] = {}
        self.commands: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self.current: GraphTask | None = None
        self.early_cancels: set[str] = set()  # cancels read before their task started
        self.current_lock = threading.Lock()

    def load_plugins(self) -> None:
        from .plugins import load_plugins

        errors: dict[str, str] = {}
        for plugin_dir in self.plugin_dirs:
            errors.update(load_plugins(plugin_dir))
        self.plugin_errors = errors
        self.unreported_plugin_errors = dict(errors)

    def read_commands(self) -> None:
        """stdin reader thread: runs go to the main thread's queue, cancels act at once."""
        for line in sys.stdin.buffer:
            command = protocol.decode(line)
            if command["cmd"] == "cancel":
                with self.current_lock:
                    task = self.current
                    if task is None or task.task_id != command["task_id"]:
                        self.early_cancels.add(command["task_id"])
                        continue
                task.request_cancel()
            else:
                self.commands.put(command)
        self.commands.put(None)

    def serve(self) -> None:
        threading.Thread(target=self.read_commands, name="commands", daemon=True).start()
        self.channel.send({"type": "ready", "pid": os.getpid(), "plugin_errors": self.plugin_errors})
        while (command := self.commands.get()) is not None:
            self.run_task(command)

    def run_task(self, command: dict[str, Any]) -> None:
        task_id = command["task_id"]
        write_marker(protocol.begin_marker(task_id))
        output_nodes = outputs.output_nodes(command["graph"], self.workspace)
        before = outputs.mtimes(output_nodes)  # before anything runs: what changes from here on, the run wrote
        self.channel.send({"type": "started", "task_id": task_id, "pid": os.getpid(), "outputs_before": before})
        if command.get("reload_plugins"):
            self.load_plugins()
        for name, error in self.unreported_plugin_errors.items():
            print(f"plugin {name} did not load: {error}", file=sys.stderr)
        self.unreported_plugin_errors = {}
        task = GraphTask(task_id, command["graph"], self.channel, self.plugin_errors)
        with self.current_lock:
            self.current = task
            if task_id in self.early_cancels:
                task.cancel_requested.set()
            self.early_cancels.clear()  # one task at a time: older ids are stale
        outcome = task.run()
        with self.current_lock:
            self.current = None
        write_marker(protocol.end_marker(task_id))
        written = outputs.fresh(before, output_nodes)  # after deinit: encoders finish their files there
        self.channel.send({"type": "finished", "task_id": task_id, **outcome, "outputs": written})
        release_memory(full=task.total > 1 or outcome["state"] != TaskState.SUCCEEDED)


def release_memory(full: bool) -> None:
    """Give freed frame buffers back to the system, so a video task leaves the worker's RSS flat. Done after
    the outcome is sent; a full collection (~8 ms with nndeploy loaded) only after runs that can leave much
    behind: many iterations, or an exception (its traceback holds frames)."""
    if full:
        gc.collect()
    _libc.malloc_trim(0)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workspace", type=Path, required=True)
    parser.add_argument("--scratch", type=Path, required=True)
    parser.add_argument("--message-fd", type=int, required=True)
    parser.add_argument("--plugin-dir", dest="plugin_dirs", type=Path, action="append", default=[])
    args = parser.parse_args()
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)  # a server that is killed leaves no worker behind
    faulthandler.enable(all_threads=False)  # a native crash leaves its Python stack (the plugin's line) in the log
    # Started in a scratch folder: `python -m` puts the cwd first on sys.path (a user's cv2.py in the workspace
    # must not shadow cv2), and `import nndeploy` creates ./logs, which must stay out of the workspace.
    os.chdir(args.scratch)
    import nndeploy.dag  # noqa: F401  (pre-warm: the first task does not pay for the import)

    os.chdir(args.workspace)  # graphs name files relative to the workspace (resources/...)
    worker = Worker(Channel(args.message_fd), args.plugin_dirs, args.workspace)
    worker.load_plugins()
    worker.serve()


if __name__ == "__main__":
    main()
