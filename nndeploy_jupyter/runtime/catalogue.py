"""Child process: write nndeploy's node catalogue and type enums as JSON. Imports nndeploy.

Usage: ``python -m nndeploy_jupyter.runtime.catalogue OUTPUT_JSON PLUGIN_DIR...``. Runs in a scratch working
directory (nndeploy creates ``./logs`` and prints at import); the result goes to a file, not stdout.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def build(plugin_dirs: list[Path]) -> dict:
    import nndeploy
    import nndeploy.dag

    from .plugins import load_plugins

    plugin_errors = {name: error for d in plugin_dirs for name, error in load_plugins(d).items()}
    dag = json.loads(nndeploy.dag.get_dag_json())
    listed = {n["nodeEntity"]["key_"] for n in dag["nodes"] if "nodeEntity" in n}
    keys = sorted(listed | set(nndeploy.dag.get_node_keys()))
    return {"dag": dag, "param_types": nndeploy.get_type_enum_json(), "node_keys": keys,
            "plugin_errors": plugin_errors}


def main() -> None:
    output, plugin_dirs = Path(sys.argv[1]), [Path(d) for d in sys.argv[2:]]
    tmp = output.with_suffix(".tmp")
    tmp.write_text(json.dumps(build(plugin_dirs)), encoding="utf-8")
    tmp.replace(output)


if __name__ == "__main__":
    main()
