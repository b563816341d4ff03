"""Fetching the inputs and models a graph names into ``resources/`` (``POST models/download``).

A graph lists what it needs in ``image_url_``, ``video_url_``, ``audio_url_``, ``model_url_`` and
``other_url_``: ``http@<url>``, ``https@<url>`` or ``modelscope@<repo>:<file>`` (``template...`` entries are
placeholders and skipped). Each lands in the matching resources folder. HTTP downloads go to a hidden
``.<name>.part`` file, resume with a Range request after an interruption and are renamed when complete;
modelscope downloads run in a child process (its import is slow and its retries long), stopped when it
stays silent too long. Progress (``download_progress``, throttled) and the outcome (``model_download_done``)
are events of the task's id, so a client that binds late is replayed them.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import http.client
import importlib.util
import ipaddress
import logging
import os
import re
import socket
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import unquote, urlsplit

from ..errors import ApiError, BadRequest, Unavailable
from ..runtime.process import child_env
from ..schemas import DownloadError, DownloadProgress, DownloadProgressEvent, ModelDownloadDoneEvent
from ..workspace import Workspace
from .events import EventHub
from .files import safe_filename
from .graphs import parse_graph

URL_FIELDS = {"image_url_": "images", "video_url_": "videos", "audio_url_": "audios", "model_url_": "models",
              "other_url_": "others"}
HTTP_BLOCK = 256 << 10
THROTTLE_SECONDS = 0.25
THROTTLE_PERCENT = 1.0
KNOWN_TASKS = 1000
# Runs in the child: prints a line once modelscope is imported (so a slow import is not taken for silence),
# then modelscope's own progress bars, then the local path.
_MODELSCOPE_SCRIPT = """
import sys
from modelscope.hub.file_download import model_file_download
print("modelscope ready", flush=True)
print(model_file_download(model_id=sys.argv[1], file_path=sys.argv[2], local_dir=sys.argv[3]), flush=True)
"""
# A tqdm bar: "Downloading [detect/yolo11s.sim.onnx]:   3%|2    | 1.00M/36.2M [00:01<00:46, 790kB/s]"
_TQDM_SIZES = re.compile(r"\|\s*([\d.]+)([kMGT]?)i?B?/([\d.]+)([kMGT]?)i?B?\s*\[")
_UNITS = {"": 1, "k": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


DOWNLOAD_JOB_PREFIX = "download-"  # a job's id says its kind: its channel replays, it has no task record


def is_download_job(channel: str) -> bool:
    return channel.startswith(DOWNLOAD_JOB_PREFIX)


class DownloadFailed(Unavailable):
    """A resource could not be fetched: the network, the remote server or a missing tool said no."""


@dataclass(frozen=True)
class Source:
    key: str  # "<field>.<index>", how nndeploy reports results
    scheme: str  # "http", "https" or "modelscope"
    location: str  # the URL, or "<repo>:<file>"
    destination: Path
    relative: str  # "resources/...", as graphs name files

    @property
    def part(self) -> Path:
        return self.destination.with_name(f".{self.destination.name}.part")


def sources(workspace: Workspace, graph: dict[str, Any]) -> list[Source]:
    """Every resource a graph names, with its destination inside resources/; 400 for a malformed entry."""
    found = []
    for field, folder in URL_FIELDS.items():
        entries = graph.get(field) or []
        if not isinstance(entries, list):
            raise BadRequest(f"{field} must be a list of '<scheme>@<location>' strings")
        for index, entry in enumerate(entries):
            if not isinstance(entry, str) or "@" not in entry:
                raise BadRequest(f"{field}[{index}] is not a '<scheme>@<location>' string: {entry!r}")
            scheme, location = entry.split("@", 1)
            if scheme.startswith("template"):
                continue
            relative = f"{folder}/{_local_name(scheme, location, f'{field}[{index}]')}"
            destination = workspace.resolve(relative)
            found.append(Source(f"{field}.{index}", scheme, _url(scheme, location), destination,
                                workspace.relative(destination.parent) + "/" + destination.name))
    return found


def _local_name(scheme: str, location: str, where: str) -> str:
    if scheme in ("http", "https"):
        name = unquote(urlsplit(_url(scheme, location)).path.rsplit("/", 1)[-1])
        return safe_filename(name or "download")
    if scheme == "modelscope":
        repo, colon, file = location.partition(":")
        if not (repo and colon and file) or file.startswith(("/", "\\")):
            raise BadRequest(f"{where}: modelscope entries are 'modelscope@<repo>:<relative file path>'")
        return file  # a path inside the folder, as nndeploy's templates expect; resolve() confines it
    raise BadRequest(f"{where}: unknown scheme {scheme!r} (http, https, modelscope or template...)")


def _url(scheme: str, location: str) -> str:
    if scheme not in ("http", "https") or re.match(r"https?://", location):
        return location
    return f"{scheme}://{location}"


class Progress:
    """Publishes ``download_progress`` for one file, at most every 1 % or 250 ms; callable from any thread."""

    def __init__(self, events: EventHub, task_id: str, filename: str):
        self._events = events
        self._task_id = task_id
        self._filename = filename
        self._started = time.monotonic()
        self._last_time = float("-inf")
        self._last_percent = float("-inf")

    def update(self, downloaded: int, total: int | None,
               phase: Literal["progress", "exists", "done"] = "progress") -> None:
        now = time.monotonic()
        percent = downloaded * 100.0 / total if total else None
        moved = percent is not None and percent - self._last_percent >= THROTTLE_PERCENT
        if phase == "progress" and not moved and now - self._last_time < THROTTLE_SECONDS:
            return
        self._last_time, self._last_percent = now, percent if percent is not None else self._last_percent
        detail = DownloadProgress(phase=phase, filename=self._filename, downloaded=downloaded, total=total,
                                  percent=percent, elapsed=round(now - self._started, 3))
        publish = self._events.publish if _on_event_loop() else self._events.publish_threadsafe
        publish(DownloadProgressEvent(task_id=self._task_id, detail=detail))

    def fail(self, error: str) -> None:
        detail = DownloadError(filename=self._filename, error=error)
        self._events.publish(DownloadProgressEvent(task_id=self._task_id, detail=detail))


class DownloadRefused(DownloadFailed):
    """A download the policy does not allow (where it goes, how big it is): not retried, nothing kept."""


@dataclass(frozen=True)
class DownloadPolicy:
    """Where HTTP downloads may go and how much they may bring: checked at every connection, redirects
    included. ``allowed_hosts`` empty: any host whose addresses are all public."""

    allow_private: bool = False
    allowed_hosts: tuple[str, ...] = ()
    max_bytes: int = 0  # 0: no cap

    def connect(self, address: tuple[str, int], timeout: Any = socket._GLOBAL_DEFAULT_TIMEOUT,  # type: ignore[attr-defined]
                source_address: Any = None) -> socket.socket:
        """``socket.create_connection`` for one checked host: resolved once, every address checked, and the
        socket connected to a checked address (not to a second resolution, which DNS rebinding could turn
        to 127.0.0.1)."""
        host, port = address
        if self.allowed_hosts and host.lower().rstrip(".") not in self.allowed_hosts:
            raise DownloadRefused(f"{host} is not among the hosts downloads may reach (download_allowed_hosts)")
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except socket.gaierror as e:
            raise OSError(f"{host} cannot be resolved: {e.strerror}") from None
        if not self.allow_private:
            for info in infos:
                if (reason := _not_public(info[4][0])) is not None:
                    raise DownloadRefused(f"{host} resolves to {info[4][0]}, {reason}: downloads may not reach the "
                                          "server's own network (allow_private_downloads)")
        problem: OSError | None = None
        for family, kind, proto, _, sockaddr in infos:
            sock = socket.socket(family, kind, proto)
            try:
                if timeout is not socket._GLOBAL_DEFAULT_TIMEOUT:  # type: ignore[attr-defined]
                    sock.settimeout(timeout)
                if source_address:
                    sock.bind(source_address)
                sock.connect(sockaddr)
                return sock
            except OSError as e:
                sock.close()
                problem = e
        raise problem or OSError(f"{host} has no address")

    def check_size(self, size: int, location: str) -> None:
        if self.max_bytes and size > self.max_bytes:
            raise DownloadRefused(f"{location}: larger than max_download_bytes ({self.max_bytes} bytes)")


def _not_public(address: str) -> str | None:
    """Why ``address`` is not a public unicast address, or None."""
    ip = ipaddress.ip_address(address.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    for test, words in (("is_loopback", "a loopback address"), ("is_link_local", "a link-local address"),
                        ("is_private", "a private address"), ("is_unspecified", "the unspecified address"),
                        ("is_multicast", "a multicast address"), ("is_reserved", "a reserved address")):
        if getattr(ip, test):
            return words
    return None if ip.is_global else "not a public address"


class _CheckedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, *args: Any, policy: DownloadPolicy, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._create_connection = policy.connect


class _CheckedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, *args: Any, policy: DownloadPolicy, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._create_connection = policy.connect  # TLS wraps the checked socket, for the host's name


class _CheckedHTTPHandler(urllib.request.HTTPHandler):
    def __init__(self, policy: DownloadPolicy):
        super().__init__()
        self.policy = policy

    def http_open(self, req):  # type: ignore[no-untyped-def]
        return self.do_open(functools.partial(_CheckedHTTPConnection, policy=self.policy), req)


class _CheckedHTTPSHandler(urllib.request.HTTPSHandler):
    def __init__(self, policy: DownloadPolicy):
        super().__init__()
        self.policy = policy

    def https_open(self, req):  # type: ignore[no-untyped-def]
        return self.do_open(functools.partial(_CheckedHTTPSConnection, policy=self.policy), req,
                            context=self._context)


class _HttpOnlyRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):  # type: ignore[no-untyped-def]
        if urlsplit(newurl).scheme not in ("http", "https"):
            raise urllib.error.HTTPError(newurl, code, "redirect to a non-HTTP URL refused", headers, fp)
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def _opener(policy: DownloadPolicy) -> urllib.request.OpenerDirector:
    """No proxy (the checks are on the real destination), every connection checked, redirects to http(s) only."""
    return urllib.request.build_opener(urllib.request.ProxyHandler({}), _CheckedHTTPHandler(policy),
                                       _CheckedHTTPSHandler(policy), _HttpOnlyRedirects())


class Downloads:
    def __init__(self, workspace: Workspace, events: EventHub, log: logging.Logger | None = None, *,
                 timeout: float = 30.0, attempts: int = 3, policy: DownloadPolicy = DownloadPolicy()):
        self.workspace = workspace
        self.events = events
        self.log = log or logging.getLogger("nndeploy_jupyter")
        self.timeout = timeout  # seconds of silence (connect, read, or modelscope output) before giving up
        self.attempts = attempts
        self.policy = policy
        self._opener = _opener(policy)
        self._locks: dict[Path, asyncio.Lock] = {}
        self._jobs: set[asyncio.Task[Any]] = set()
        self._task_ids: OrderedDict[str, None] = OrderedDict()
        self._stopping = threading.Event()

    def start(self, graph: Any) -> str:
        """Check the graph's entries now (400 if malformed), fetch them in the background; the task id."""
        found = sources(self.workspace, parse_graph(graph))
        task_id = f"{DOWNLOAD_JOB_PREFIX}{uuid.uuid4()}"
        self._task_ids[task_id] = None
        while len(self._task_ids) > KNOWN_TASKS:
            self._task_ids.popitem(last=False)
        job = asyncio.ensure_future(self._background(task_id, found))
        self._jobs.add(job)
        job.add_done_callback(self._jobs.discard)
        return task_id

    def knows(self, job_id: str) -> bool:
        """Whether ``job_id`` names one of the last download jobs :meth:`start` began (running or ended)."""
        return job_id in self._task_ids

    async def fetch_for_graph(self, task_id: str, graph: Any) -> dict[str, str]:
        """Fetch what ``graph`` names, as events of ``task_id``; ``{"<field>.<i>": "resources/..."}``.
        Raises an :class:`ApiError` (after publishing the failed ``model_download_done``) on failure."""
        return await self._fetch_all(task_id, sources(self.workspace, parse_graph(graph)))

    async def stop(self) -> None:
        self._stopping.set()
        for job in list(self._jobs):
            job.cancel()
        await asyncio.gather(*self._jobs, return_exceptions=True)

    async def _background(self, task_id: str, found: list[Source]) -> None:
        with contextlib.suppress(ApiError):  # already reported to the task's listeners by _fetch_all
            await self._fetch_all(task_id, found)

    async def _fetch_all(self, task_id: str, found: list[Source]) -> dict[str, str]:
        done: dict[str, str] = {}
        try:
            for source in found:
                await self._fetch(task_id, source)
                done[source.key] = source.relative
        except Exception as e:
            failure = e if isinstance(e, ApiError) else DownloadFailed(f"{type(e).__name__}: {e}")
            self.log.warning("download task %s failed: %s", task_id, failure.message)
            self.events.publish(ModelDownloadDoneEvent(task_id=task_id, detail=done, error=failure.message))
            raise failure from None
        self.events.publish(ModelDownloadDoneEvent(task_id=task_id, detail=done))
        return done

    async def _fetch(self, task_id: str, source: Source) -> None:
        progress = Progress(self.events, task_id, source.relative)
        async with self._locks.setdefault(source.destination, asyncio.Lock()):
            if await asyncio.to_thread(source.destination.is_file):
                progress.update(0, None, phase="exists")
                return
            try:
                if source.scheme == "modelscope":
                    await self._modelscope(source, progress)
                else:
                    await asyncio.to_thread(self._http, source, progress)
            except Exception as e:
                progress.fail(getattr(e, "message", None) or str(e))
                raise
            size = (await asyncio.to_thread(source.destination.stat)).st_size
            progress.update(size, size, phase="done")

    # -- HTTP, in a thread ------------------------------------------------------------------------------

    def _http(self, source: Source, progress: Progress) -> None:
        source.part.parent.mkdir(parents=True, exist_ok=True)
        problem = ""
        for attempt in range(self.attempts):
            if attempt:
                self._stopping.wait(min(0.5 * 2 ** attempt, 5.0))
            if self._stopping.is_set():
                raise DownloadFailed("the server is stopping")
            try:
                if self._http_attempt(source, progress):
                    os.replace(source.part, source.destination)
                    return
                problem = "the connection closed before the end of the file"
            except DownloadRefused:
                source.part.unlink(missing_ok=True)
                raise
            except urllib.error.HTTPError as e:
                if e.code == 416 and source.part.exists():  # the partial file no longer fits: start over
                    source.part.unlink()
                    problem = "the server refused to resume"
                    continue
                raise DownloadFailed(f"{source.location}: the server answered {e.code} {e.reason}") from None
            except (OSError, http.client.HTTPException) as e:  # refused, reset, timed out, truncated
                problem = str(getattr(e, "reason", None) or e) or type(e).__name__
        raise DownloadFailed(f"{source.location}: {problem} (gave up after {self.attempts} attempts)")

    def _http_attempt(self, source: Source, progress: Progress) -> bool:
        """One request, resuming the partial file if there is one; True when the file is complete."""
        have = source.part.stat().st_size if source.part.exists() else 0
        request = urllib.request.Request(source.location, headers={"Range": f"bytes={have}-"} if have else {})
        with self._opener.open(request, timeout=self.timeout) as response:
            resumed = have > 0 and response.status == 206 and _range_start(response.headers) == have
            have = have if resumed else 0
            length = response.headers.get("Content-Length")
            total = have + int(length) if length and length.isdigit() else None
            self.policy.check_size(total or 0, source.location)
            with source.part.open("ab" if resumed else "wb") as file:
                while block := response.read1(HTTP_BLOCK):  # what has arrived: kept if the next read fails
                    if self._stopping.is_set():
                        raise DownloadFailed("the server is stopping")
                    self.policy.check_size(have + len(block), source.location)  # a length it did not announce
                    file.write(block)
                    have += len(block)
                    progress.update(have, total)
        return total is None or have >= total

    # -- modelscope, in a child process ---------------------------------------------------------------

    async def _modelscope(self, source: Source, progress: Progress) -> None:
        if importlib.util.find_spec("modelscope") is None:
            raise DownloadFailed(f"{source.key} needs the modelscope package (pip install modelscope)")
        repo, _, file = source.location.partition(":")
        folder = self.workspace.folder(URL_FIELDS[source.key.split(".")[0]])
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-c", _MODELSCOPE_SCRIPT, repo, file, str(folder), env=child_env(),
            cwd=str(self.workspace.root), stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT)
        output = await self._follow(process, source, progress)
        if process.returncode != 0 or not await asyncio.to_thread(source.destination.is_file):
            last = [line for line in output.splitlines() if line.strip()][-1:] or ["no output"]
            raise DownloadFailed(f"modelscope could not fetch {repo}:{file}: {last[0].strip()[-300:]}")

    async def _follow(self, process: asyncio.subprocess.Process, source: Source, progress: Progress) -> str:
        """Read the child's output (progress bars included) until it exits; kill it after ``timeout``
        seconds without output. The output's tail, for the error message."""
        assert process.stdout is not None
        tail = ""
        try:
            while block := await asyncio.wait_for(process.stdout.read(4096), self.timeout):
                tail = (tail + block.decode("utf-8", "replace"))[-4096:]
                sizes = _TQDM_SIZES.findall(tail)
                if sizes:
                    done, done_unit, total, total_unit = sizes[-1]
                    progress.update(int(float(done) * _UNITS[done_unit]), int(float(total) * _UNITS[total_unit]))
        except asyncio.TimeoutError:
            process.kill()
            await process.wait()
            raise DownloadFailed(f"modelscope said nothing for {self.timeout:g} s while fetching {source.location} "
                                 "(no network?); stopped") from None
        except asyncio.CancelledError:
            process.kill()
            raise
        await process.wait()
        return tail.replace("\r", "\n")


def _on_event_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def _range_start(headers: Any) -> int | None:
    match = re.match(r"bytes (\d+)-", headers.get("Content-Range") or "")
    return int(match.group(1)) if match else None
