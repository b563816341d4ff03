"""The local executor: graph workers on this machine, supervised. Spawn, pre-warm, dispatch, watch, cancel,
kill and restart them.

Never imports nndeploy. Each worker (``worker.py``) is a child in its own session (so a kill takes its whole
process group); it starts in a scratch folder and runs graphs with the workspace as cwd. Its stdout/stderr
are drained line by line into ``log`` events of the task that printed them; its messages (``protocol.py``)
become :class:`Started` and ``progress`` events and the task's outcome. A worker that dies fails its task with the
signal or exit code (and the node that was running, as the worker last saw it), and is replaced in the
background.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import os
import re
import shutil
import signal
import sys
import sysconfig
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ..schemas import LogEvent, OutputFile, ProgressEvent, RunOutcome, TaskState, TimeProfile, WorkerInfo, WorkerState
from . import outputs, protocol
from .executor import BaseExecutor, Emit, ExecutorContext, ExecutorEvent, ExecutorTask, Started
from .process import child_env

READY_TIMEOUT_SECONDS = 120
LOG_DRAIN_SECONDS = 2.0  # after a task's outcome, how long its last log lines may take to arrive
RESTART_BACKOFF_SECONDS = (0.0, 1.0, 5.0, 30.0)
STREAM_LIMIT = 1 << 20
MAX_LOG_LINES = 10_000  # log events per task
MAX_LOG_LINE_CHARS = 8_000
NODE_RUNNING = "RUNNING"  # nndeploy's per-node run status (not a task's state)
_FRAME = re.compile(r'\s*File "(?P<path>[^"]+)", line (?P<line>\d+) in (?P<function>\S+)')
# Code that is not the user's: the interpreter's libraries (nndeploy included) and this package.
_LIBRARY_DIRS = tuple({*(sysconfig.get_paths()[key] for key in ("stdlib", "platstdlib", "purelib", "platlib")),
                       str(Path(__file__).resolve().parent.parent), "<"})


@dataclass
class _Task:
    task_id: str
    graph: dict
    emit: Emit
    finished: asyncio.Future
    outputs_before: outputs.Mtimes | None = None  # the worker's look at the output files before it ran
    worker: _Worker | None = None
    logs_done: asyncio.Event = field(default_factory=asyncio.Event)
    ended_streams: set[str] = field(default_factory=set)
    cancel_requested: bool = False
    killed_after_grace: bool = False
    kill_timer: asyncio.TimerHandle | None = None
    running_nodes: list[str] = field(default_factory=list)  # as last seen by the worker
    last_error_line: str | None = None
    log_lines: int = 0
    fatal_seen: bool = False  # the worker's faulthandler reported a fatal signal
    crash_frame: str | None = None


class _Worker:
    def __init__(self, slot: int, proc: asyncio.subprocess.Process, messages: asyncio.StreamReader,
                 message_pipe: asyncio.BaseTransport):
        self.slot = slot
        self.proc = proc
        self.messages = messages
        self.message_pipe = message_pipe
        self.ready: asyncio.Future = asyncio.get_running_loop().create_future()
        self.exited: asyncio.Future = asyncio.get_running_loop().create_future()
        self.task: _Task | None = None
        self.plugin_generation = 0
        self.stream_task: dict[str, str | None] = {"stdout": None, "stderr": None}  # task each stream is in
        self.readers: list[asyncio.Task] = []
        self.killed = False
        self.untasked_lines: collections.deque[str] = collections.deque(maxlen=20)  # output outside tasks

    @property
    def live(self) -> bool:
        """Warm and not going: it counts in the executor's capacity, busy or not."""
        return self.ready.done() and not self.exited.done() and not self.killed

    @property
    def idle(self) -> bool:
        return self.live and self.task is None

    def send(self, command: dict) -> None:
        assert self.proc.stdin is not None
        if not self.exited.done():
            self.proc.stdin.write(protocol.encode(command))

    def close_pipes(self) -> None:
        """Close our ends explicitly: left to the garbage collector, they would close after the loop has."""
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        self.message_pipe.close()

    def kill(self) -> None:
        self.killed = True
        if self.exited.done():  # reaped: its pid may already belong to someone else
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)


class LocalExecutor(BaseExecutor):
    """``max_workers`` pre-warmed worker processes. ``run()`` takes an idle one and returns the task's
    :class:`RunOutcome`; it never raises for the task's failure. Capacity is the number of live, warm workers."""

    def __init__(self, context: ExecutorContext, **kwargs: Any):
        super().__init__(context, **kwargs)
        self.workspace = context.workspace
        self.size = context.max_workers
        self.cancel_grace_seconds = context.cancel_grace_seconds
        self.plugin_dirs = list(context.plugin_dirs)
        self._workers: dict[int, _Worker] = {}
        self._tasks: dict[str, _Task] = {}  # tasks inside run()
        self._plugin_generation = 0
        self._scratch: Path | None = None
        self._stopping = False
        self._idle_changed: asyncio.Condition | None = None
        self._stopped: asyncio.Event | None = None
        self._restarts: set[asyncio.Task] = set()
        self._spawning: asyncio.Future | None = None  # the first spawn of every slot, from start()
        self._failures = collections.Counter[int]()  # slot -> workers in a row that died before ready

    async def start(self) -> None:
        """Spawn the workers and return once each has imported nndeploy and loaded the plugins."""
        self._stopping = False
        self._idle_changed = asyncio.Condition()
        self._stopped = asyncio.Event()
        self._scratch = Path(await asyncio.to_thread(tempfile.mkdtemp, prefix="nndeploy-workers-"))
        self._spawning = asyncio.gather(*(self._spawn(slot) for slot in range(self.size)))
        await self._spawning

    async def stop(self) -> None:
        """Kill every worker's process group, those still starting included, and wait for them to end.
        Safe to call before or during start()."""
        self._stopping = True
        if self._stopped is not None:
            self._stopped.set()
        for worker in self._workers.values():
            worker.kill()
        # a spawn in progress kills its own worker once it sees _stopping
        await asyncio.gather(*self._restarts, *([self._spawning] if self._spawning else []), return_exceptions=True)
        for worker in list(self._workers.values()):
            await asyncio.wait({worker.exited, *worker.readers}, timeout=5)
            worker.close_pipes()
        self._workers.clear()
        if self._scratch is not None:
            await asyncio.to_thread(shutil.rmtree, self._scratch, True)

    def capacity(self) -> int:
        return sum(worker.live for worker in self._workers.values())

    def idle(self) -> int:
        return sum(worker.idle for worker in self._workers.values())

    def workers(self) -> list[WorkerInfo]:
        return [self._describe(slot, self._workers.get(slot)) for slot in range(self.size)]

    def _describe(self, slot: int, worker: _Worker | None) -> WorkerInfo:
        if worker is None:
            return WorkerInfo(id=str(slot), state=WorkerState.STARTING)
        pid = worker.proc.pid
        if worker.exited.done() or worker.killed:
            # two deaths before ready in a row: it is not a passing accident (a plugin that breaks imports...)
            state = WorkerState.CRASHED if self._failures[slot] >= 2 else WorkerState.RESTARTING
            return WorkerInfo(id=str(slot), state=state, pid=pid)
        if not worker.ready.done():
            return WorkerInfo(id=str(slot), state=WorkerState.STARTING, pid=pid)
        if worker.task is not None:
            return WorkerInfo(id=str(slot), state=WorkerState.BUSY, pid=pid, task_id=worker.task.task_id)
        return WorkerInfo(id=str(slot), state=WorkerState.READY, pid=pid)

    async def wait_idle(self) -> None:
        """Return once a worker is ready and idle (e.g. after a restart)."""
        assert self._idle_changed is not None
        async with self._idle_changed:
            await self._idle_changed.wait_for(lambda: self.idle() > 0)

    def reload_plugins(self) -> None:
        self._plugin_generation += 1

    async def run(self, spec: ExecutorTask, emit: Emit) -> RunOutcome:
        task_id, graph = spec.task_id, spec.graph
        task = _Task(task_id, graph, emit, asyncio.get_running_loop().create_future())
        self._tasks[task_id] = task  # before the first await: a cancel that comes at once finds it
        try:
            await self.wait_idle()
            if task.cancel_requested:  # cancelled before it reached a worker
                return RunOutcome(state=TaskState.CANCELLED)
            worker = next(w for w in self._workers.values() if w.idle)
            task.worker = worker
            worker.task = task
            worker.send({"cmd": "run", "task_id": task_id, "graph": graph,
                         "reload_plugins": worker.plugin_generation != self._plugin_generation})
            worker.plugin_generation = self._plugin_generation
            return await self._outcome(worker, task)
        finally:
            del self._tasks[task_id]
            if task.kill_timer is not None:
                task.kill_timer.cancel()
            if task.worker is not None:
                if not task.finished.done():  # run() itself was cancelled: the graph must not run on unseen
                    task.worker.kill()
                task.worker.task = None
                await self._notify_idle()

    async def cancel(self, task_id: str) -> bool:
        """Interrupt a running task (the worker defers it until the graph is initialized); kill the worker
        if the task has not ended ``cancel_grace_seconds`` later."""
        task = self._tasks.get(task_id)
        if task is None:
            return False
        if not task.cancel_requested:
            task.cancel_requested = True
            if task.worker is not None:
                task.worker.send({"cmd": "cancel", "task_id": task_id})
                task.kill_timer = asyncio.get_running_loop().call_later(
                    self.cancel_grace_seconds, self._kill_after_grace, task.worker, task)
        return True

    async def _outcome(self, worker: _Worker, task: _Task) -> RunOutcome:
        await asyncio.wait({task.finished, worker.exited}, return_when=asyncio.FIRST_COMPLETED)
        if task.finished.done():
            await _first(task.logs_done.wait(), worker.exited, timeout=LOG_DRAIN_SECONDS)
            return self._reported_outcome(task, task.finished.result())
        await asyncio.wait(worker.readers, timeout=LOG_DRAIN_SECONDS)  # the dead worker's last lines
        outcome = self._death_outcome(task, worker.proc.returncode)
        if task.outputs_before is not None:  # it had begun: what it wrote before it died
            written = await asyncio.to_thread(outputs.fresh, task.outputs_before,
                                              outputs.output_nodes(task.graph, self.workspace.root))
            outcome.outputs = [OutputFile.model_validate(o) for o in written]
        return outcome

    def _kill_after_grace(self, worker: _Worker, task: _Task) -> None:
        if worker.task is task and not task.finished.done():
            self.log.warning("task %s did not stop %.1fs after cancel: killing worker %d",
                             task.task_id, self.cancel_grace_seconds, worker.proc.pid)
            task.killed_after_grace = True
            worker.kill()

    # --- outcomes -------------------------------------------------------------------------------------

    def _reported_outcome(self, task: _Task, message: dict) -> RunOutcome:
        error = message.get("error")
        if message.get("status_only") and task.last_error_line:
            error = f"{error}: {task.last_error_line}"
        return RunOutcome(state=message["state"], error=error,
                          time_profile=TimeProfile.model_validate(message.get("time_profile") or {}),
                          values=message.get("values") or {},
                          outputs=[OutputFile.model_validate(o) for o in message.get("outputs") or []])

    def _death_outcome(self, task: _Task, returncode: int | None) -> RunOutcome:
        if task.cancel_requested:
            reason = "worker killed after cancel grace" if task.killed_after_grace else None
            return RunOutcome(state=TaskState.CANCELLED, error=reason)
        if self._stopping:
            return RunOutcome(state=TaskState.FAILED, error="worker stopped: the server is shutting down")
        cause = describe_exit(returncode)
        if task.running_nodes:
            cause += f" while running node {', '.join(task.running_nodes)}"
        if task.crash_frame:
            cause += f" (at {task.crash_frame})"
        if returncode == -signal.SIGKILL:
            cause += " (killed from outside the server, e.g. by the out-of-memory killer)"
        return RunOutcome(state=TaskState.FAILED, error=f"worker crashed: {cause}")

    # --- worker processes ---------------------------------------------------------------------------

    async def _spawn(self, slot: int) -> None:
        assert self._scratch is not None
        scratch = self._scratch / f"worker-{slot}"
        await asyncio.to_thread(scratch.mkdir, exist_ok=True)
        read_fd, write_fd = os.pipe()
        command = [sys.executable, "-m", "nndeploy_jupyter.runtime.worker", "--workspace", str(self.workspace.root),
                   "--scratch", str(scratch), "--message-fd", str(write_fd)]
        for plugin_dir in self.plugin_dirs:
            command += ["--plugin-dir", str(plugin_dir)]
        try:
            proc = await asyncio.create_subprocess_exec(
                *command, cwd=scratch, env=child_env(), stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, pass_fds=(write_fd,),
                start_new_session=True, limit=STREAM_LIMIT)
        finally:
            os.close(write_fd)
        messages = asyncio.StreamReader(limit=STREAM_LIMIT)
        pipe, _ = await asyncio.get_running_loop().connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(messages), os.fdopen(read_fd, "rb", 0))
        worker = _Worker(slot, proc, messages, pipe)
        worker.plugin_generation = self._plugin_generation
        self._workers[slot] = worker
        self.capacity_changed()  # not more capacity yet, but the worker is STARTING again: say so
        if self._stopping:  # stop() came while this worker was being started
            worker.kill()
        worker.readers = [asyncio.create_task(self._read_messages(worker)),
                          asyncio.create_task(self._read_logs(worker, "stdout", proc.stdout)),
                          asyncio.create_task(self._read_logs(worker, "stderr", proc.stderr)),
                          asyncio.create_task(self._watch(worker))]
        await asyncio.wait({worker.ready, worker.exited}, timeout=READY_TIMEOUT_SECONDS,
                           return_when=asyncio.FIRST_COMPLETED)
        if worker.ready.done():
            self.log.info("nndeploy worker %d ready (pid %d)", slot, proc.pid)
            self._failures[slot] = 0
            self.capacity_changed()
            await self._notify_idle()
        else:
            worker.kill()
            await asyncio.wait(worker.readers, timeout=LOG_DRAIN_SECONDS)
            if not self._stopping:
                self.log.error("nndeploy worker %d did not start (%s). Its last output:\n%s", slot,
                               describe_exit(proc.returncode), "\n".join(worker.untasked_lines))

    async def _watch(self, worker: _Worker) -> None:
        returncode = await worker.proc.wait()
        worker.exited.set_result(returncode)
        if worker.proc.stdin is not None:
            worker.proc.stdin.close()
        if self._stopping:
            return
        self.capacity_changed()
        self.log.warning("nndeploy worker %d (pid %d) ended: %s", worker.slot, worker.proc.pid,
                         describe_exit(returncode))
        if not worker.ready.done():
            self._failures[worker.slot] += 1
        restart = asyncio.create_task(self._restart(worker.slot))
        self._restarts.add(restart)
        restart.add_done_callback(self._restarts.discard)

    async def _restart(self, slot: int) -> None:
        assert self._stopped is not None
        delay = RESTART_BACKOFF_SECONDS[min(self._failures[slot], len(RESTART_BACKOFF_SECONDS) - 1)]
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._stopped.wait(), delay)
        if not self._stopping:
            await self._spawn(slot)

    async def _notify_idle(self) -> None:
        assert self._idle_changed is not None
        async with self._idle_changed:
            self._idle_changed.notify_all()

    async def _read_messages(self, worker: _Worker) -> None:
        async for line in _lines(worker.messages):
            try:
                message = protocol.decode(line)
            except ValueError:
                self.log.error("worker %d sent a malformed message: %r", worker.slot, line[:200])
                continue
            self._on_message(worker, message)

    def _on_message(self, worker: _Worker, message: dict) -> None:
        kind = message.pop("type")
        if kind == "ready":
            for name, error in message.get("plugin_errors", {}).items():
                self.log.warning("plugin %s did not load: %s", name, error)
            if not worker.ready.done():
                worker.ready.set_result(message["pid"])
            return
        task = worker.task
        if task is None or message.pop("task_id", None) != task.task_id:
            return
        if kind == "started":
            task.outputs_before = message.get("outputs_before") or {}
            _emit(task, Started(task_id=task.task_id, pid=message["pid"]), self.log)
        elif kind == "running":
            task.running_nodes = message["nodes"]
        elif kind == "progress":
            task.running_nodes = _running_nodes(message)
            try:
                progress = ProgressEvent(task_id=task.task_id, **message)
            except ValidationError as e:
                self.log.error("worker %d sent a malformed progress message: %s", worker.slot, e)
                return
            _emit(task, progress, self.log)
        elif kind == "finished" and not task.finished.done():
            task.finished.set_result(message)

    async def _read_logs(self, worker: _Worker, stream: str, reader: asyncio.StreamReader | None) -> None:
        assert reader is not None
        async for raw in _lines(reader):
            line = raw.decode(errors="replace").rstrip("\r\n")
            marker = protocol.parse_marker(line)
            if marker is not None:
                self._on_marker(worker, stream, *marker)
                continue
            if not line.strip():
                continue
            task = worker.task
            if task is not None and worker.stream_task[stream] == task.task_id:
                self._note_error(task, line)
                self._emit_log(task, line)
            else:
                worker.untasked_lines.append(line)
                self.log.debug("nndeploy worker %d: %s", worker.slot, line)

    def _emit_log(self, task: _Task, line: str) -> None:
        """A log event, within bounds: a node printing without end must not flood the server's memory."""
        task.log_lines += 1
        if task.log_lines <= MAX_LOG_LINES:
            _emit(task, LogEvent(task_id=task.task_id, log=line[:MAX_LOG_LINE_CHARS]), self.log)
        elif task.log_lines == MAX_LOG_LINES + 1:
            _emit(task, LogEvent(task_id=task.task_id, log=f"[nndeploy-jupyter] more than {MAX_LOG_LINES} log "
                                                           "lines: the rest are not shown"), self.log)

    def _note_error(self, task: _Task, line: str) -> None:
        """Keep what explains a failure: nndeploy's last ``E/`` line, and after a fatal signal the innermost
        frame of the Python stack (faulthandler's dump) that is not library code, e.g. the plugin's line."""
        if line.startswith("E/"):
            task.last_error_line = line
        elif line.lstrip().startswith("Fatal Python error:"):
            task.fatal_seen = True
        elif task.fatal_seen and task.crash_frame is None:
            frame = _FRAME.match(line)
            if frame and not frame["path"].startswith(_LIBRARY_DIRS):
                path = Path(frame["path"])
                shown = path.relative_to(self.workspace.root) if path.is_relative_to(self.workspace.root) else path
                task.crash_frame = f"{shown}:{frame['line']} in {frame['function']}"

    def _on_marker(self, worker: _Worker, stream: str, kind: str, task_id: str) -> None:
        worker.stream_task[stream] = task_id if kind == "begin" else None
        task = worker.task
        if kind == "end" and task is not None and task.task_id == task_id:
            task.ended_streams.add(stream)
            if len(task.ended_streams) == 2:
                task.logs_done.set()


def describe_exit(returncode: int | None) -> str:
    if returncode is None:
        return "still running"
    if returncode < 0:
        try:
            return signal.Signals(-returncode).name
        except ValueError:
            return f"signal {-returncode}"
    return f"exit code {returncode}"


def _emit(task: _Task, event: ExecutorEvent, log: logging.Logger) -> None:
    try:
        task.emit(event)
    except Exception:
        log.exception("event callback failed for task %s (%s)", task.task_id, event.type)


def _running_nodes(progress: dict) -> list[str]:
    return [name for name, node in progress["detail"].items() if node["status"] == NODE_RUNNING]


async def _first(event_wait: Any, future: asyncio.Future, timeout: float) -> None:
    """Wait for an event or a future, at most ``timeout`` seconds."""
    waiter = asyncio.ensure_future(event_wait)
    try:
        await asyncio.wait({waiter, future}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        waiter.cancel()


async def _lines(reader: asyncio.StreamReader):
    """Lines of a pipe until EOF; an over-long line comes out in pieces instead of stalling the reader."""
    while True:
        try:
            line = await reader.readuntil(b"\n")
        except asyncio.IncompleteReadError as end:
            if end.partial:
                yield end.partial
            return
        except asyncio.LimitOverrunError as overrun:
            line = await reader.readexactly(overrun.consumed)
        yield line
