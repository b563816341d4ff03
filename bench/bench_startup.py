"""Jupyter server start-up time without and with the nndeploy extension, side by side.

Each round starts ``jupyter server`` twice, once with ``nndeploy_jupyter`` disabled and once enabled (the
order alternates between rounds, so a load change on the machine hits both), and times from spawn until
``/api/status`` answers and, when enabled, until ``nndeploy/api/workflows`` answers. It also reads the server
process's own CPU time when ``/api/status`` answers: on a busy machine wall times swing with other load, CPU
time much less. Each mode keeps its root
directory across rounds, as a user's server does; the first enabled start also creates the workspace.

    python bench/bench_startup.py --runs 10

Per-run times go to stderr; stdout gets one JSON line with the medians and the ratios (goal: <= 1.1).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

TOKEN = "bench-token"
GOAL = 1.1
POLL_SECONDS = 0.01
TIMEOUT_SECONDS = 120


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def answers(url: str) -> bool:
    request = urllib.request.Request(url, headers={"Authorization": f"token {TOKEN}"})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status == 200
    except OSError:  # refused while starting, or an HTTP error (HTTPError is an OSError)
        return False


def wait_until(url: str, started: float, proc: subprocess.Popen) -> float:
    """Seconds from ``started`` until ``url`` answers 200."""
    while time.perf_counter() - started < TIMEOUT_SECONDS:
        if proc.poll() is not None:
            raise RuntimeError(f"jupyter server exited with {proc.returncode} before {url} answered")
        if answers(url):
            return time.perf_counter() - started
        time.sleep(POLL_SECONDS)
    raise TimeoutError(f"{url} did not answer within {TIMEOUT_SECONDS} s")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time one process has used so far (Linux ``/proc/<pid>/stat``, fields 14 and 15)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start_once(root: Path, enabled: bool) -> dict[str, float]:
    """Start one server, time it, stop it."""
    port = free_port()
    base = f"http://127.0.0.1:{port}/"
    command = [
        sys.executable, "-m", "jupyter_server", "--no-browser", "--allow-root", "--ip=127.0.0.1",
        f"--port={port}", f"--IdentityProvider.token={TOKEN}", f"--ServerApp.root_dir={root}",
        f"--ServerApp.jpserver_extensions={{'nndeploy_jupyter': {enabled}}}",
    ]
    started = time.perf_counter()
    proc = subprocess.Popen(command, cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        times = {"status": wait_until(base + "api/status", started, proc), "cpu": cpu_seconds(proc.pid)}
        if enabled:
            times["workflows"] = wait_until(base + "nndeploy/api/workflows", started, proc)
        return times
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def bench(runs: int) -> dict[str, float | int]:
    samples: dict[bool, list[dict[str, float]]] = {False: [], True: []}
    with tempfile.TemporaryDirectory(prefix="nndeploy-bench-") as scratch:
        roots = {flag: Path(scratch) / ("enabled" if flag else "disabled") for flag in (False, True)}
        for root in roots.values():
            root.mkdir()
        for run in range(runs):
            for flag in ((False, True) if run % 2 == 0 else (True, False)):
                times = start_once(roots[flag], flag)
                samples[flag].append(times)
                print(f"run {run + 1}/{runs} {'with' if flag else 'without'} nndeploy_jupyter: "
                      + ", ".join(f"{k} {v:.3f} s" for k, v in times.items()), file=sys.stderr)

    def median(flag: bool, key: str) -> float:
        return statistics.median(sample[key] for sample in samples[flag])

    return {
        "runs": runs,
        "without_status_s": round(median(False, "status"), 3),
        "with_status_s": round(median(True, "status"), 3),
        "with_workflows_s": round(median(True, "workflows"), 3),
        "ratio_status": round(median(True, "status") / median(False, "status"), 3),
        "ratio_workflows": round(median(True, "workflows") / median(False, "status"), 3),
        "without_cpu_s": round(median(False, "cpu"), 3),
        "with_cpu_s": round(median(True, "cpu"), 3),
        "ratio_cpu": round(median(True, "cpu") / median(False, "cpu"), 3),
        "goal": GOAL,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10, help="rounds; each starts the server once per mode")
    result = bench(parser.parse_args().runs)
    result["within_goal"] = result["ratio_status"] <= GOAL
    print(json.dumps(result))


if __name__ == "__main__":
    main()
