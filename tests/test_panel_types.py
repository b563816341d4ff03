"""The panel's TypeScript types are the server's models: ``labextension/src/api/schema.ts`` is what the generator
makes of ``python -m nndeploy_jupyter.schemas`` today, so a model changed without the panel fails here."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from conftest import requires_tool

ROOT = Path(__file__).resolve().parent.parent
LAB = ROOT / "labextension"
GENERATOR = LAB / "node_modules" / "json-schema-to-typescript"


@requires_tool(shutil.which("node") is not None and GENERATOR.is_dir(), "node and json-schema-to-typescript",
               "make setup builds the labextension, which installs labextension/node_modules")
def test_the_panels_types_are_generated_from_the_servers_models():
    schema = subprocess.run([sys.executable, "-m", "nndeploy_jupyter.schemas"], cwd=ROOT, check=True,
                            capture_output=True).stdout
    generated = subprocess.run(["node", "scripts/schema-types.mjs"], cwd=LAB, input=schema, check=True,
                               capture_output=True).stdout.decode()
    committed = (LAB / "src" / "api" / "schema.ts").read_text()
    assert generated == committed, "src/api/schema.ts is out of date: run `jlpm build:types` in labextension/"
    for name in ("TaskState", "TaskRecord", "StatusEvent", "ProgressEvent", "TaskRunInfoEvent", "ServerInfo"):
        assert f"export type {name} " in committed or f"export interface {name} " in committed
