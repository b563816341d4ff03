"""A real ``distributed`` cluster on loopback for tests and benchmarks: ``dask scheduler`` and ``dask worker``
commands as child processes on 127.0.0.1 with free ports (the workers under a nanny, as deployed: a worker that
dies is restarted)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from jupyter_process import free_port


class DaskCluster:
    """``with DaskCluster(tmp, workers=2) as cluster: cluster.address``."""

    def __init__(self, log_dir: Path, workers: int = 2):
        self.log_dir = log_dir
        self.port = free_port()
        self.address = f"tcp://127.0.0.1:{self.port}"
        self.initial_workers = workers
        self.procs: list[subprocess.Popen] = []
        self.workers: dict[str, subprocess.Popen] = {}  # name -> nanny process
        self._client = None

    def start(self, timeout: float = 120) -> DaskCluster:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self._spawn("scheduler", ["scheduler", "--host", "127.0.0.1", "--port", str(self.port), "--no-dashboard"])
        for i in range(self.initial_workers):
            self.add_worker(f"w{i}")
        self.wait_workers(self.initial_workers, timeout)
        return self

    def add_worker(self, name: str, prefix: list[str] = (), nthreads: int = 1) -> subprocess.Popen:
        """A ``dask worker`` (``prefix`` runs it inside another command, e.g. ``unshare``)."""
        proc = self._spawn(name, ["worker", self.address, "--name", name, "--host", "127.0.0.1", "--nthreads",
                                  str(nthreads), "--nworkers", "1", "--memory-limit", "0", "--no-dashboard",
                                  "--death-timeout", "60"], prefix)
        self.workers[name] = proc
        return proc

    def _spawn(self, name: str, args: list[str], prefix: list[str] = ()) -> subprocess.Popen:
        log = open(self.log_dir / f"dask-{name}.log", "ab")
        proc = subprocess.Popen([*prefix, sys.executable, "-m", "dask", *args], stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
        self.procs.append(proc)
        return proc

    @property
    def client(self):
        """A synchronous client of the test's own, to look at the cluster (never to run tasks)."""
        if self._client is None:
            from distributed import Client

            self._client = Client(self.address, timeout=30, set_as_default=False)
        return self._client

    def worker_info(self) -> dict[str, dict]:
        """address -> the scheduler's info on that worker (``name``, ``nthreads``...)."""
        return self.client.scheduler_info(n_workers=-1)["workers"]

    def wait_workers(self, count: int, timeout: float = 120, names: set[str] | None = None) -> dict[str, dict]:
        deadline = time.monotonic() + timeout
        while True:
            info = self.worker_info()
            if len(info) == count and (names is None or {w["name"] for w in info.values()} == names):
                return info
            if time.monotonic() > deadline:
                raise TimeoutError(f"the cluster has workers {[w['name'] for w in info.values()]}, not {count}")
            time.sleep(0.2)

    def worker_pids(self) -> dict[int, str]:
        """pid -> address of every worker process."""
        return {pid: address for address, pid in self.client.run(os.getpid).items()}

    def pools(self) -> dict[str, list[str]]:
        """worker name -> keys of the nndeploy pools (actors) it holds."""
        held = self.client.run(lambda dask_worker: [str(k) for k in dask_worker.state.actors])
        names = {address: info["name"] for address, info in self.worker_info().items()}
        return {names.get(address, address): keys for address, keys in held.items()}

    def remove_worker(self, name: str) -> None:
        proc = self.workers.pop(name)
        _kill_group(proc)

    def stop(self) -> None:
        if self._client is not None:
            self._client.close()
        for proc in reversed(self.procs):
            _kill_group(proc)

    def __enter__(self) -> DaskCluster:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc) -> None:
        self.stop()


def _kill_group(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(10)
        except ProcessLookupError:
            proc.wait()
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
