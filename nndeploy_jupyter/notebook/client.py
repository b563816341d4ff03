"""The notebook's way into nndeploy-jupyter: submit graphs, follow tasks, read their results.

``Client()`` finds the server the kernel runs under (see :mod:`.discovery`); ``Client(url, token)`` names
one. Calls are blocking; live events arrive on a background thread (:mod:`.stream`) and update each
:class:`Task`, which also falls back to polling ``queue/{id}`` whenever the WebSocket is down.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..params import Params, merge_params
from ..states import FINAL_STATES, TaskState
from .batch import Batch, Entry, grid
from .discovery import ServerInfo, find_server
from .http import ApiError, Http
from .inputs import encode_input, input_folder, needs_upload
from .stream import EventStream, wait_for

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")
LOG_LINES_KEPT = 5000
EVENTS_GRACE_SECONDS = 2.0
LIVE_POLL_SECONDS = 2.0  # how often a waiting Task reads its record while the stream is up: a safety net
RECORD_GRACE_SECONDS = 30.0  # how long an ended task's record may take to be readable (a server restarting)


class TaskFailed(RuntimeError):
    """A task ended in FAILED, CANCELLED or INTERRUPTED; ``error`` is the worker's reason."""

    def __init__(self, task: Task):
        reason = task.error or "no reason given"
        super().__init__(f"task {task.id} {task.state}: {reason}")
        self.task = task
        self.state = task.state
        self.error = reason


class PluginError(RuntimeError):
    """An uploaded plugin node file does not load (a syntax error, an exception at import...)."""


class Task:
    """One queued run. Its fields follow the server's events; :meth:`refresh` asks the server directly."""

    def __init__(self, client: Client, task_id: str):
        self.client = client
        self.id = task_id
        self.state: TaskState | str = TaskState.PENDING
        self.error: str | None = None
        self.priority: int | None = None
        self._record: dict[str, Any] = {}
        self._record_from_events = False  # what task_run_info said; the rest of the record is read on first use
        self.done = 0
        self.total = 0
        self.nodes: dict[str, dict[str, Any]] = {}
        self.values: dict[str, Any] = {}
        self.time_profile: dict[str, Any] = {}
        self._logs: list[str] = []
        self._last_seq = 0
        self._finished = threading.Event()
        self._completion_seen = threading.Event()  # task_run_info: the stream has delivered everything
        self._lock = threading.RLock()
        self._listeners: list[Callable[[Task], None]] = []

    # -- what users read ------------------------------------------------------------------------------

    @property
    def finished(self) -> bool:
        return self.state in FINAL_STATES

    @property
    def succeeded(self) -> bool:
        return self.state == TaskState.SUCCEEDED

    @property
    def logs(self) -> list[str]:
        with self._lock:
            return list(self._logs)

    @property
    def record(self) -> dict[str, Any]:
        """The server's record of the task (``GET queue/{id}``): state, priority, params, timestamps, error,
        outputs, values, time profile. A task that ended while its events came is read on first use: the events
        said all that :meth:`wait` needs (state, error, outputs, values, time profile), not the rest."""
        if self._record_from_events:
            with contextlib.suppress(ConnectionError):  # the server is away: what the events said stands
                self.refresh()
        return self._record

    @property
    def outputs(self) -> list[str]:
        """Paths of the files the graph's output nodes wrote (known once the task has finished)."""
        return [o["path"] for o in self._record.get("outputs") or [] if isinstance(o, dict) and o.get("path")]

    def images(self, as_: str = "numpy") -> dict[str, Any]:
        """The output images, ``{path: image}``: RGB numpy arrays, or PIL images with ``as_="pil"``."""
        if as_ not in ("numpy", "pil"):
            raise ValueError("as_ must be 'numpy' or 'pil'")
        return {
            p: decode_image(self.client.read_file(p), as_) for p in self.outputs if p.lower().endswith(IMAGE_SUFFIXES)
        }

    def show(self) -> Any:
        """A result viewer: output images side by side, videos, text files and small values."""
        from .widgets import ResultViewer

        return ResultViewer(self)

    # -- acting on it ---------------------------------------------------------------------------------

    def wait(self, timeout: float | None = None, raise_on_failure: bool = True) -> Task:
        """Block until the task ends; raise :class:`TaskFailed` unless it succeeded (or TimeoutError)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        wait_for(self._finished, self.refresh, self.client.stream, deadline,
                 lambda: f"task {self.id} still {self.state} after {timeout} s", live_poll=LIVE_POLL_SECONDS)
        # task_run_info comes last, with the outcome: once it is here, every event of the task is too. Else (no
        # stream, or the end was learnt by polling) the record says the outcome.
        if not (self.client.stream.connected.is_set() and self._completion_seen.wait(EVENTS_GRACE_SECONDS)):
            self._refresh_ended(deadline)
        if raise_on_failure and not self.succeeded:
            raise TaskFailed(self)
        return self

    def _refresh_ended(self, deadline: float | None) -> None:
        """Read the ended task's record (outputs, values). A server that stops marks its running tasks
        INTERRUPTED on its way down, so the end may be known while the server is away: wait a little for it to
        come back, then keep what the events said."""
        until = time.monotonic() + RECORD_GRACE_SECONDS
        until = until if deadline is None else min(until, deadline)
        while True:
            try:
                self.refresh()
                return
            except ConnectionError:
                if time.monotonic() >= until:
                    return
                time.sleep(0.25)

    def cancel(self, wait: bool = True, timeout: float | None = None) -> Task:
        """Ask the server to stop the task. It answers at once (a running task is interrupted, then killed after
        the server's cancel grace); with ``wait`` this returns once the task has ended, in CANCELLED or in
        whatever state it reached first. Raises nothing for the end itself: read ``state``."""
        self.client.cancel(self.id)
        self.refresh()
        return self.wait(timeout, raise_on_failure=False) if wait else self

    def refresh(self) -> Task:
        """Read the task's record (state, error, outputs, values, time profile) from the server."""
        return self.adopt(self.client.http.call("GET", f"queue/{self.id}"))

    def adopt(self, record: dict[str, Any]) -> Task:
        """Take what a record of this task (``GET queue/{id}``, ``batch/{id}/tasks``) says."""
        with self._lock:
            self._record = record
            self._record_from_events = False
            self.priority = record.get("priority", self.priority)
            self.error = record.get("error") or self.error
            self.time_profile = record.get("time_profile") or self.time_profile
            self.values = record.get("values") or self.values
            self._set_state(record.get("state", self.state))
        self._notify()
        return self

    def subscribe(self, listener: Callable[[Task], None]) -> None:
        """Call ``listener(task)`` after every change, from whichever thread saw it."""
        self._listeners.append(listener)
        listener(self)

    # -- events, on the stream's thread ---------------------------------------------------------------

    def apply(self, event: dict[str, Any]) -> None:
        result = event["result"]
        with self._lock:
            seq = result.get("seq") or 0
            if seq and seq <= self._last_seq:
                return  # replayed after a reconnect
            self._last_seq = max(self._last_seq, seq)
            self._apply(result.get("type"), result)
        self._notify()

    def _apply(self, kind: str | None, result: dict[str, Any]) -> None:
        if kind == "status":
            self.error = result.get("error") or self.error
            self.priority = result["priority"] if result.get("priority") is not None else self.priority
            self._set_state(result.get("state", self.state))
        elif kind == "progress":
            detail, counts = (result.get(k) if isinstance(result.get(k), dict) else {} for k in ("detail", "nodes"))
            if detail or counts:  # per node: status and time (nndeploy's detail), done/total (our counters)
                names = [*detail, *(n for n in counts if n not in detail)]
                self.nodes = {n: {**(detail.get(n) or {}), **(counts.get(n) or {})} for n in names}
            self.done = result.get("done", self.done) or 0
            self.total = result.get("total", self.total) or 0
        elif kind == "log":
            self._logs.extend(str(result.get("log", "")).splitlines())
            del self._logs[:-LOG_LINES_KEPT]
        elif kind == "task_run_info":
            self.time_profile = result.get("time_profile") or self.time_profile
            self.error = result.get("error") or self.error
            if self._record.get("state") not in FINAL_STATES:  # a record read after the end holds more
                self._record = {**self._record, "task_id": self.id, "state": result.get("state", self.state),
                                "error": self.error, "time_profile": self.time_profile,
                                "outputs": result.get("outputs") or [], "values": self.values}
                self._record_from_events = True
            self._set_state(result.get("state", self.state))
            self._completion_seen.set()
        elif kind == "memory" and isinstance(result.get("content"), dict):
            self.values = result["content"]

    def _set_state(self, state: str) -> None:
        if self.state in FINAL_STATES and state not in FINAL_STATES:
            return  # a late event never reopens a finished task
        with contextlib.suppress(ValueError):  # a state this Client does not know (a newer server) stays a string
            state = TaskState(state)
        self.state = state
        if state in FINAL_STATES:
            self._finished.set()

    def _notify(self) -> None:
        for listener in list(self._listeners):
            listener(self)

    def __repr__(self) -> str:
        progress = f" {self.done}/{self.total}" if self.total else ""
        error = f" error={self.error!r}" if self.error and not self.succeeded else ""
        return f"<Task {self.id} {self.state}{progress}{error}>"


class Client:
    """``Client()`` for the server this kernel runs under, or ``Client(url, token)`` for another one."""

    def __init__(self, url: str | None = None, token: str | None = None, timeout: float = 30.0):
        if url:
            server = ServerInfo(url if url.endswith("/") else url + "/", token or "")
        else:
            server = find_server()
            if token is not None:
                server = ServerInfo(server.url, token, server.source)
        self.server = server
        self.http = Http(server, timeout)
        self.stream = EventStream(server, self._dispatch)
        self._tasks: dict[str, Task] = {}
        self._batches: dict[str, Batch] = {}

    # -- catalogue ------------------------------------------------------------------------------------

    def workflows(self) -> list[dict[str, Any]]:
        return self.http.call("GET", "workflows")

    def templates(self) -> list[dict[str, Any]]:
        return self.http.call("GET", "template")

    def graph(self, id_or_name: str) -> dict[str, Any]:
        """The graph JSON of a saved workflow or a template, by id or ``name_``: a starting point to edit."""
        kind, item_id = self.find(id_or_name)
        return self.http.call("GET", f"{kind}/{item_id}")

    # -- tasks ----------------------------------------------------------------------------------------

    def run(
        self,
        target: dict | str | Path,
        params: Params | None = None,
        priority: int | None = None,
        wait: bool = True,
        timeout: float | None = None,
        download: bool = False,
        inputs: dict[str, Any] | None = None,
    ) -> Task:
        """Queue a graph (a dict, a JSON file, or a saved workflow or template by id or name).

        ``params`` is ``{"<node name_>": {"<key>": value}}``. ``inputs`` is ``{"<Input node name_>": value}``: a
        path inside ``resources/`` (a ``str``), or data uploaded into a folder of its own under
        ``resources/inputs/`` (a numpy array, a PIL image, bytes, or a local file as a ``pathlib.Path``); either
        becomes the node's ``path_``. ``download`` first fetches the resources the graph names (``model_url_``,
        ``image_url_``...) into ``resources/``, as part of the task. With ``wait`` (the default) this blocks until
        the task ends and raises :class:`TaskFailed` if it did not succeed.
        """
        params = merge_params(params or {}, {node: {"path_": path} for node, path in self._inputs(inputs).items()})
        body = {**self._source(target), "params": params, "download": download}
        if priority is not None:
            body["priority"] = priority
        task = self.task(self.http.call("POST", "queue", body)["task_id"], refresh=False)
        return task.wait(timeout) if wait else task

    def map(
        self,
        target: dict | str | Path,
        inputs: list[Any] | None = None,
        params: list[Params] | None = None,
        priority: int | None = None,
        name: str = "",
    ) -> Batch:
        """Queue one task per input and parameter set (every input with every set, when both are given), in one
        request; returns the :class:`Batch` at once (``wait()``, ``cancel()``, ``results()``).

        Each input is a value for the graph's only Input node (a path inside ``resources/``, or a numpy array, a
        PIL image, bytes or a local ``pathlib.Path``, uploaded as :meth:`run` does), or a dict
        ``{"<Input node name_>": value}``. ``params`` is a list of ``{"<node name_>": {"<key>": value}}`` (see
        :func:`grid`). Each task writes its outputs into ``<the output's folder>/<batch id>/<index>/``.
        """
        sets = params if params is not None else [{}]
        if isinstance(sets, dict):
            raise TypeError("params is a list of params dicts (one per task); grid() makes one from value lists")
        source = self._source(target)
        items = inputs if inputs is not None else [None]
        node = self._only_input_node(source) if any(i is not None and not isinstance(i, dict) for i in items) else ""
        uploaded = [self._inputs(item if item is None or isinstance(item, dict) else {node: item})
                    for item in items]  # once per input, whatever the number of parameter sets
        entries = [Entry(item, dict(p)) for item, p in itertools.product(items, sets)]
        body: dict[str, Any] = {**source, "name": name, "entries": [
            {"params": p, "inputs": paths} for paths, p in itertools.product(uploaded, sets)]}
        if priority is not None:
            body["priority"] = priority
        created = self.http.call("POST", "queue/batch", body)
        batch = self._batches[created["batch_id"]] = Batch(self, created["batch_id"], created["task_ids"], entries)
        self.stream.bind(batch.id)
        return batch

    def batch(self, batch_id: str) -> Batch:
        """The :class:`Batch` with this id (one this Client submitted, or any other), followed live from now on."""
        batch = self._batches.get(batch_id)
        if batch is None:
            info = self.http.call("GET", f"batch/{batch_id}")
            batch = self._batches[batch_id] = Batch(self, batch_id, [m["task_id"] for m in info["tasks"]])
            batch._merge(info)
            self.stream.bind(batch_id)
        return batch

    def task(self, task_id: str, refresh: bool = True) -> Task:
        """The :class:`Task` with this id, followed live from now on."""
        task = self._tasks.get(task_id)
        if task is None:
            task = self._tasks[task_id] = Task(self, task_id)
            self.stream.bind(task_id)
        return task.refresh() if refresh else task

    def tasks(self) -> dict[str, Any]:
        """The queue: ``{"running": [...], "pending": [...], ...}`` as ``queue/info`` answers."""
        return self.http.call("GET", "queue/info")

    def history(self, limit: int | None = None) -> list[dict[str, Any]]:
        """Finished tasks, newest first."""
        result = self.http.call("GET", "queue/history", query={"max_items": limit})
        return result.get("items", []) if isinstance(result, dict) else result

    def cancel(self, task_id: str) -> str:
        """Ask the server to stop a task; its answer, in words (it does not wait for the end: ``Task.cancel``
        can)."""
        return self.http.envelope("POST", f"queue/cancel/{task_id}").get("message", "")

    def upload_node(self, filename: str, source: str | bytes) -> dict[str, Any]:
        """Install a plugin node file (``.py`` or ``.so``) into ``resources/plugin``; workers load it before
        their next task. Raises :class:`PluginError` when the server could not load it."""
        data = source.encode() if isinstance(source, str) else source
        result = self.http.upload("nodes/upload", filename, data)["result"]
        if result.get("plugin_error"):
            raise PluginError(f"plugin {filename} was saved but does not load: {result['plugin_error']}")
        return result

    def read_file(self, path: str) -> bytes:
        """A file the server wrote: read directly when the kernel shares its disk, else downloaded."""
        local = Path(path)
        if local.is_file():
            return local.read_bytes()
        return self.http.download("download", {"file_path": path})

    def close(self) -> None:
        self.stream.close()

    def _dispatch(self, event: dict[str, Any]) -> None:
        result = event["result"]
        task = self._tasks.get(result.get("task_id") or "")
        if task is not None:
            task.apply(event)
        batch = self._batches.get(result.get("batch_id") or "")
        if batch is not None:
            batch.apply(event)

    def _source(self, target: dict | str | Path) -> dict[str, Any]:
        """How a request names the graph: ``{"graph": ...}``, ``{"workflow_id": ...}`` or ``{"template_id": ...}``."""
        path = Path(target).expanduser() if not isinstance(target, dict) else None
        if path is None:
            return {"graph": target}
        if path.suffix.lower() == ".json" or path.is_file():
            if not path.is_file():
                raise FileNotFoundError(f"no workflow file {str(path)!r}")
            return {"graph": json.loads(path.read_text(encoding="utf-8"))}
        kind, item_id = self.find(str(target))
        return {f"{kind}_id": item_id}

    def _inputs(self, inputs: dict[str, Any] | None) -> dict[str, str]:
        """``{node: value}`` with every in-memory value uploaded into a folder of its own: ``{node: path}``."""
        paths = {}
        for node, value in (inputs or {}).items():
            if not needs_upload(value):
                paths[node] = value
                continue
            filename, data = encode_input(value)
            uploaded = self.http.upload("files/upload", filename, data, query={"file_path": input_folder()})
            paths[node] = uploaded["result"]["saved_path"]
        return paths

    def _only_input_node(self, source: dict[str, Any]) -> str:
        """The name of the graph's only Input node with a ``path_``: where a bare map input goes."""
        graph = source.get("graph")
        if graph is None:
            kind = "workflow" if "workflow_id" in source else "template"
            graph = self.http.call("GET", f"{kind}/{source[f'{kind}_id']}")
        names = [n.get("name_") for n in graph.get("node_repository_") or []
                 if isinstance(n, dict) and n.get("node_type_") == "Input" and "path_" in n]
        if len(names) != 1:
            raise ValueError(f"the graph has {len(names)} Input nodes with a path_ ({', '.join(map(str, names))}): "
                             "give each input as a dict {'<node name_>': value}")
        return names[0]

    def find(self, id_or_name: str) -> tuple[str, str]:
        """``("workflow"|"template", id)`` for a saved workflow or template named by id or ``name_``."""
        for kind, items in (("workflow", self.workflows()), ("template", self.templates())):
            for key in ("id", "name_"):
                for item in items:
                    if item.get(key) == id_or_name:
                        return kind, item["id"]
        raise LookupError(
            f"no workflow or template with id or name {id_or_name!r}; Client().workflows() and .templates() list them"
        )

    def __repr__(self) -> str:
        return f"<nndeploy_jupyter.Client {self.server.url} ({self.server.source})>"


def decode_image(data: bytes, as_: str) -> Any:
    if as_ == "pil":
        import io

        from PIL import Image

        return Image.open(io.BytesIO(data))
    import cv2
    import numpy as np

    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


__all__ = ["ApiError", "Batch", "Client", "PluginError", "Task", "TaskFailed", "grid"]
