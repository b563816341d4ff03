"""The extension in a real `jupyter server` process: enabled, configurable from the command line, durable."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from jupyter_process import JupyterProcess


def test_restart_keeps_workflows_and_workspace_trait_works(tmp_path: Path):
    workspace = tmp_path / "elsewhere"
    args = ("--ServerApp.jpserver_extensions={'nndeploy_jupyter': True}", f"--NnDeployExtension.workspace={workspace}")
    graph = {"name_": "kept", "node_repository_": []}
    with JupyterProcess(tmp_path / "root", *args, base_url="/base/") as server:
        code, body = server.post("nndeploy/api/workflow/save", {"businessContent": graph})
        assert code == 200
        workflow_id = body["result"]["id"]
        assert server.get("nndeploy/api/resources")["result"] == str(workspace / "resources")
    assert (workspace / "resources" / "workflow" / "kept.json").is_file()
    assert (workspace / "resources" / "db" / "nndeploy.db").is_file()

    with JupyterProcess(tmp_path / "root", *args, base_url="/base/") as server:
        listed = server.get("nndeploy/api/workflows")["result"]
        assert [(w["id"], w["name_"]) for w in listed] == [(workflow_id, "kept")]
        assert server.get(f"nndeploy/api/workflow/{workflow_id}")["result"] == graph


def test_default_workspace_is_in_the_root_dir(tmp_path: Path):
    with JupyterProcess(tmp_path / "root", "--ServerApp.jpserver_extensions={'nndeploy_jupyter': True}") as server:
        assert server.get("nndeploy/api/resources")["result"] == str(tmp_path / "root" / "nndeploy" / "resources")
    assert (tmp_path / "root" / "nndeploy" / "resources" / "images" / "nndeploy-demo.jpg").is_file()


def test_pip_install_enables_the_server_extension():
    """After `pip install .` (what `make test` does) the extension is enabled by its installed config file."""
    out = subprocess.run([sys.executable, "-m", "jupyter", "server", "extension", "list"],
                         capture_output=True, text=True, timeout=60)
    lines = [line for line in (out.stdout + out.stderr).splitlines() if "nndeploy_jupyter" in line]
    assert lines and "enabled" in lines[0], out.stdout + out.stderr
    assert any("OK" in line for line in (out.stdout + out.stderr).splitlines() if "nndeploy_jupyter" in line)


def test_every_setting_has_help_text():
    from nndeploy_jupyter.app import NnDeployExtension

    help_text = NnDeployExtension.class_get_help()
    for trait in ("workspace", "max_workers", "history_limit", "max_upload_bytes", "template_dirs",
                  "cancel_grace_seconds"):
        assert f"--NnDeployExtension.{trait}" in help_text, trait
        assert NnDeployExtension.class_traits()[trait].help, trait


def test_a_workspace_that_cannot_be_created_is_a_503_with_the_reason(tmp_path: Path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")  # once: every route answered an anonymous 500
    args = ("--ServerApp.jpserver_extensions={'nndeploy_jupyter': True}", f"--NnDeployExtension.workspace={blocker}")
    with JupyterProcess(tmp_path / "root", *args) as server:
        code, body = server.request("nndeploy/api/workflows")
    assert code == 503 and str(blocker) in json.loads(body)["message"]


def test_impossible_settings_are_refused():
    from traitlets import TraitError

    from nndeploy_jupyter.app import NnDeployExtension

    for trait, value in (("max_workers", -1), ("history_limit", 0), ("max_upload_bytes", -1),
                         ("max_json_bytes", -5), ("cancel_grace_seconds", -1.0)):
        with pytest.raises(TraitError):  # max_workers=-1 once queued tasks that never ran
            NnDeployExtension(**{trait: value})
