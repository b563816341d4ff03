"""The node catalogue and parameter enums come from nndeploy itself, computed in a child process."""

from __future__ import annotations

import sys

from graphs import PASS_THROUGH, simple_plugin


async def test_dag_info_lists_nndeploy_nodes_and_the_builtin_plugin(api):
    code, body = await api("GET", "dag/info")
    assert code == 200 and body["flag"] == "success"
    info = body["result"]
    assert {"graph", "nodes", "accepted_edge_types"} <= set(info)
    keys = {n["nodeEntity"]["key_"] for n in info["nodes"] if "nodeEntity" in n}
    assert {"nndeploy::codec::OpenCvImageDecode", "nndeploy::infer::Infer", "nndeploy.image.CannyNumpy"} <= keys
    assert "nndeploy_jupyter.demo.Posterize" in keys


async def test_param_types(api):
    code, body = await api("GET", "param/types")
    assert code == 200
    assert "kDataTypeCodeFp32" in body["result"]["kDataTypeCodeUint8"]  # each value maps to all of its enum


async def test_catalogue_follows_plugin_changes(api, workspace):
    await api("GET", "dag/info")
    (workspace / "resources" / "plugin" / "my_nodes.py").write_text(simple_plugin("tests.Mine", PASS_THROUGH))
    (workspace / "resources" / "plugin" / "broken.py").write_text("raise RuntimeError('broken on purpose')\n")
    _, body = await api("GET", "dag/info")
    keys = {n["nodeEntity"]["key_"] for n in body["result"]["nodes"] if "nodeEntity" in n}
    assert "tests.Mine" in keys  # the broken plugin beside it did not stop it loading


async def test_a_plugin_named_like_a_module_does_not_replace_it(api, workspace):
    # once: sys.modules["json"] became the plugin, nndeploy's own `import json` broke, and so did every task
    await api("GET", "dag/info")
    (workspace / "resources" / "plugin" / "json.py").write_text(simple_plugin("tests.JsonNamed", PASS_THROUGH))
    code, body = await api("GET", "dag/info")
    assert code == 200, body
    keys = {n["nodeEntity"]["key_"] for n in body["result"]["nodes"] if "nodeEntity" in n}
    assert "tests.JsonNamed" in keys  # its node is registered all the same


async def test_the_server_process_never_imports_nndeploy(api):
    await api("GET", "dag/info")
    await api("GET", "template")
    assert "nndeploy" not in sys.modules
