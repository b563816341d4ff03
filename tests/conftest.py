"""Shared fixtures: a real Jupyter server (pytest-jupyter) with the extension on a temporary workspace."""

from __future__ import annotations

import asyncio
import json
import os
import time
from pathlib import Path

import pytest

pytest_plugins = ["pytest_jupyter.jupyter_server"]

# Every process the tests start (servers, kernels, workers) imports this checkout, not an older installed copy.
CHECKOUT = str(Path(__file__).resolve().parent.parent)
os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (CHECKOUT, os.environ.get("PYTHONPATH")) if p)


API = ("nndeploy", "api")
NO_AUTH = {"Authorization": ""}  # jp_fetch only setdefault()s the token header


@pytest.fixture
def jp_base_url() -> str:
    return "/prefix/with%20space/"


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    return tmp_path / "ws"


@pytest.fixture
def fault_plugin(workspace: Path) -> Path:
    """The fault-injection plugin (``graphs.write_fault_plugin``) in the workspace, before the server starts: a
    module that runs crashing, hanging or printing nodes marks itself ``pytest.mark.usefixtures("fault_plugin")``
    (marks' fixtures are set up before a test's own, the server among them)."""
    from graphs import write_fault_plugin

    write_fault_plugin(workspace / "resources" / "plugin")
    return workspace


@pytest.fixture
def extension_config() -> dict:
    """Extra ``NnDeployExtension`` traits a test module wants; override in the module."""
    return {}


@pytest.fixture
def jp_server_config(workspace: Path, extension_config: dict) -> dict:
    return {
        "ServerApp": {"jpserver_extensions": {"nndeploy_jupyter": True}},
        "NnDeployExtension": {"workspace": str(workspace), **extension_config},
    }


@pytest.fixture
def api(jp_fetch):
    """``await api("GET", "workflows")`` -> (status, parsed JSON body); 4xx/5xx are returned, not raised."""

    async def call(method: str, path: str, body=None, headers=None, raw: bool = False, **kwargs):
        if body is not None and not isinstance(body, (str, bytes)):
            body = json.dumps(body)
        if method == "POST" and body is None:
            body = b""
        response = await jp_fetch(*API, *path.split("/"), method=method, body=body, headers=headers or {},
                                  raise_error=False, **kwargs)
        if raw:
            return response
        text = response.body.decode() if response.body else ""
        return response.code, (json.loads(text) if text else None)

    return call


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the test item, so fixtures can tell at teardown that the test failed."""
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture
def browser(request):
    """Debian's Chromium (see lab_browser.py). A failed test leaves a screenshot of each of its pages in
    ``tests/artefacts/``."""
    from lab_browser import chromium, keep_screenshot

    with chromium() as browser:
        yield browser
        report = getattr(request.node, "report_call", None)
        if report is not None and report.failed:
            pages = [page for context in browser.contexts for page in context.pages]
            for number, page in enumerate(pages):
                keep_screenshot(page, f"FAILED-{request.node.name}-{number}")


FINAL_STATES = {"SUCCEEDED", "FAILED", "CANCELLED", "INTERRUPTED"}


async def submit(api, graph: dict, **query) -> str:
    """Queue a raw graph through the API; the task id."""
    code, answer = await api("POST", "queue", graph, params=query or None)
    assert code == 202, answer
    return answer["result"]["task_id"]


async def wait_for(api, task_id: str, states: set[str] = FINAL_STATES, timeout: float = 60) -> dict:
    """Poll ``queue/{id}`` until the task is in one of ``states``; its record."""
    deadline = time.monotonic() + timeout
    while True:
        code, answer = await api("GET", f"queue/{task_id}")
        assert code == 200, answer
        if answer["result"]["state"] in states:
            return answer["result"]
        assert time.monotonic() < deadline, f"task {task_id} still {answer['result']['state']}"
        await asyncio.sleep(0.05)


# -- loud reports: tests skipped for a missing tool, and the figures tests measured ----------------------

MISSING_TOOL = "MISSING TOOL"
_figures: list[str] = []


def requires_tool(present: bool, tool: str, remedy: str) -> pytest.MarkDecorator:
    """Skip when ``tool`` is absent, and say so in the run's summary (not only in ``-rs``)."""
    return pytest.mark.skipif(not present, reason=f"{MISSING_TOOL}: {tool} is absent ({remedy})")


def figure(text: str) -> None:
    """A measured figure (timings, counts) to show at the end of the run."""
    _figures.append(text)


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    missing = [r for r in terminalreporter.stats.get("skipped", []) if MISSING_TOOL in str(r.longrepr)]
    if missing:
        terminalreporter.section(f"{len(missing)} tests SKIPPED: a tool they need is missing", sep="!",
                                 red=True, bold=True)
        for report in missing:
            reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
            terminalreporter.line(f"{report.nodeid}: {reason.removeprefix('Skipped: ')}", red=True, bold=True)
    if _figures:
        terminalreporter.section("figures measured by the tests")
        for text in _figures:
            terminalreporter.line(text)


def wait_until(check, timeout: float, what: str):
    """Poll ``check`` (blocking, for tests outside the event loop) until it returns something true."""
    deadline = time.monotonic() + timeout
    while not (result := check()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)
    return result


def calls_to(client) -> list[tuple[str, str]]:
    """Record every (method, path) a notebook Client's HTTP layer sends from now on."""
    seen: list[tuple[str, str]] = []
    original = client.http.envelope

    def envelope(method, path, *args, **kwargs):
        seen.append((method, path))
        return original(method, path, *args, **kwargs)

    client.http.envelope = envelope
    return seen
