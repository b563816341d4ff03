"""The node catalogue and parameter enums come from nndeploy itself, computed in a child process."""

from __future__ import annotations

import sys


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
    (workspace / "resources" / "plugin" / "my_nodes.py").write_text(
        "import nndeploy.dag, nndeploy.base, numpy as np\n"
        "class Mine(nndeploy.dag.Node):\n"
        "    def __init__(self, name, inputs=None, outputs=None):\n"
        "        super().__init__(name, inputs, outputs)\n"
        "        self.set_key('tests.Mine'); self.set_input_type(np.ndarray); self.set_output_type(np.ndarray)\n"
        "    def run(self):\n"
        "        return nndeploy.base.Status.ok()\n"
        "class MineCreator(nndeploy.dag.NodeCreator):\n"
        "    def create_node(self, name, inputs, outputs):\n"
        "        self.node = Mine(name, inputs, outputs)\n"
        "        return self.node\n"
        "creator = MineCreator()\n"
        "nndeploy.dag.register_node('tests.Mine', creator)\n"
    )
    (workspace / "resources" / "plugin" / "broken.py").write_text("raise RuntimeError('broken on purpose')\n")
    _, body = await api("GET", "dag/info")
    keys = {n["nodeEntity"]["key_"] for n in body["result"]["nodes"] if "nodeEntity" in n}
    assert "tests.Mine" in keys  # the broken plugin beside it did not stop it loading


async def test_the_server_process_never_imports_nndeploy(api):
    await api("GET", "dag/info")
    await api("GET", "template")
    assert "nndeploy" not in sys.modules
