"""Submitting many tasks: one ``POST queue/batch`` against one ``POST queue`` per task, through a real server.

The server runs with no worker (``max_workers=0``), so tasks stay pending and only submission is measured:
validation of every graph, the SQLite writes, the ``status`` events, the HTTP round trips. Each size is cancelled
(``batch/{id}/cancel``, ``queue/flush``) before the next.

    python bench/bench_batch.py [--tasks 1000]

Progress goes to stderr; stdout gets one JSON line with the figures.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

TESTS = Path(__file__).resolve().parent.parent / "tests"
sys.path.insert(0, str(TESTS))

import graphs as fixtures  # noqa: E402  (the tests' graph builders and synthetic media)
from jupyter_process import JupyterProcess  # noqa: E402


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def entries(count: int) -> list[dict]:
    return [{"params": {"Canny": {"low_threshold": i % 200}}} for i in range(count)]


def batch_seconds(server: JupyterProcess, graph: dict, count: int) -> float:
    started = time.perf_counter()
    code, answer = server.post("nndeploy/api/queue/batch", {"graph": graph, "entries": entries(count)})
    elapsed = time.perf_counter() - started
    assert code == 202, answer
    code, cancelled = server.post(f"nndeploy/api/batch/{answer['result']['batch_id']}/cancel", {})
    assert code == 200 and cancelled["result"]["counts"]["CANCELLED"] == count, cancelled
    return elapsed


def one_by_one_seconds(server: JupyterProcess, graph: dict, count: int) -> float:
    started = time.perf_counter()
    for entry in entries(count):
        code, answer = server.post("nndeploy/api/queue", {"graph": graph, **entry})
        assert code == 202, answer
    elapsed = time.perf_counter() - started
    code, flushed = server.post("nndeploy/api/queue/flush", {})
    assert code == 200 and len(flushed["result"]["cancelled"]) == count, flushed
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "root"
        with JupyterProcess(root, "--ServerApp.jpserver_extensions={'nndeploy_jupyter': True}",
                            "--NnDeployExtension.max_workers=0",
                            f"--NnDeployExtension.history_limit={10 * args.tasks}") as server:
            graph = fixtures.canny_image_graph(root / "nndeploy", "bench")
            batch_seconds(server, graph, 10)  # warm: the node catalogue is loaded
            log(f"one batch of {args.tasks}...")
            batch = batch_seconds(server, graph, args.tasks)
            log(f"one batch of {10 * args.tasks}...")
            big = batch_seconds(server, graph, 10 * args.tasks)
            log(f"{args.tasks} single submissions...")
            single = one_by_one_seconds(server, graph, args.tasks)
    print(json.dumps({
        "tasks": args.tasks,
        "batch_ms": round(batch * 1000), "batch_per_task_ms": round(batch * 1000 / args.tasks, 3),
        f"batch_of_{10 * args.tasks}_ms": round(big * 1000),
        "one_by_one_ms": round(single * 1000), "one_by_one_per_task_ms": round(single * 1000 / args.tasks, 3),
        "speedup": round(single / batch, 1),
    }))


if __name__ == "__main__":
    main()
