"""schemathesis over the served openapi.json, as a client under JupyterHub would see it (base_url /user/acc/):
every generated request reaches a handler, none gets a 5xx, answers match their documented schemas, the server
is healthy after, and nothing is written outside resources/.

The number of examples per operation is bounded (FUZZ_EXAMPLES) and the seed fixed, so the run is repeatable
and takes well under a minute; ``NNDEPLOY_FUZZ_EXAMPLES`` / ``NNDEPLOY_FUZZ_SEED`` widen it for a longer hunt.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from jupyter_process import JupyterProcess

SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
FUZZ_EXAMPLES = int(os.environ.get("NNDEPLOY_FUZZ_EXAMPLES", "8"))
FUZZ_SEED = int(os.environ.get("NNDEPLOY_FUZZ_SEED", "20261202"))
CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"
TOKEN = "fuzz-token"

pytestmark = pytest.mark.skipif(not SCHEMATHESIS.exists(),
                                reason=f"schemathesis is not installed ({SCHEMATHESIS}): pip install '.[test]'")


def snapshot(root: Path, skip: list[Path]) -> dict[str, tuple[int, int]]:
    """Every file and folder under ``root`` but those under ``skip``: (size, mtime_ns)."""
    found = {}
    for path in root.rglob("*"):
        if any(path == s or s in path.parents for s in skip):
            continue
        st = path.lstat()
        found[str(path.relative_to(root))] = (st.st_size if path.is_file() else 0, st.st_mtime_ns)
    return found


def responses(report: Path) -> Counter:
    """Status codes of every request schemathesis sent, from its NDJSON report."""
    codes: Counter = Counter()
    for line in report.read_text().splitlines():
        finished = json.loads(line).get("ScenarioFinished")
        for interaction in ((finished or {}).get("recorder") or {}).get("interactions", {}).values():
            response = interaction.get("response")
            codes[response["status_code"] if response else "no response"] += 1
    return codes


def run_task(server: JupyterProcess) -> dict:
    code, answer = server.post("nndeploy/api/queue", {"template_id": "Image_Edge_Detection"})
    assert code == 202, answer
    deadline = time.monotonic() + 120
    while True:
        task = server.get(f"nndeploy/api/queue/{answer['result']['task_id']}")["result"]
        if task["state"] in ("SUCCEEDED", "FAILED", "CANCELLED", "INTERRUPTED"):
            return task
        assert time.monotonic() < deadline, task
        time.sleep(0.1)


def test_fuzzing_the_served_spec_finds_no_server_error(tmp_path: Path):
    root = tmp_path / "root"
    (tmp_path / "canary.txt").write_text("outside the server's root: nothing may touch it\n")
    with JupyterProcess(root, "--ServerApp.jpserver_extensions={'nndeploy_jupyter': True}", base_url="/user/acc/",
                        token=TOKEN) as server:
        assert run_task(server)["state"] == "SUCCEEDED"  # warm: the catalogue is loaded, a worker is ready
        resources = root / "nndeploy" / "resources"
        fuzzer = tmp_path / "fuzzer"  # schemathesis' own files (hypothesis' database, its report)
        fuzzer.mkdir()
        skip = [resources, fuzzer, tmp_path / f"jupyter-{server.port}.log"]
        before = snapshot(tmp_path, skip)

        report = fuzzer / "events.ndjson"
        run = subprocess.run(
            [str(SCHEMATHESIS), "run", server.url + "nndeploy/api/openapi.json", "-H", f"Authorization: token {TOKEN}",
             "--max-examples", str(FUZZ_EXAMPLES), "--seed", str(FUZZ_SEED), "--workers", "1", "--checks", CHECKS,
             "--phases", "examples,coverage,fuzzing", "--report", "ndjson", "--report-ndjson-path", str(report),
             "--request-timeout", "30", "--no-color"],
            capture_output=True, text=True, timeout=600, cwd=fuzzer)
        codes = responses(report)
        summary = f"{sum(codes.values())} requests, by status: {dict(sorted(codes.items(), key=str))}"
        print(f"schemathesis (seed {FUZZ_SEED}, {FUZZ_EXAMPLES} examples per operation): {summary}")
        print("\n".join(line for line in run.stdout.splitlines() if " (in " in line or "generated" in line))
        assert run.returncode == 0, f"{summary}\n{run.stdout[-6000:]}\n{run.stderr[-2000:]}"
        assert sum(codes.values()) > 200 and not [c for c in codes if isinstance(c, int) and c >= 500], summary
        assert codes.get(404, 0) < sum(codes.values()) / 2, summary  # the routes were reached

        assert server.get("api/status")  # healthy: it answers, and still runs a graph
        assert run_task(server)["state"] == "SUCCEEDED"
        assert "Traceback" not in server.log_text()
        assert snapshot(tmp_path, skip) == before  # nothing written, changed or deleted outside resources/
