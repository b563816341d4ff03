"""How the server starts its child processes (workers, the catalogue probe)."""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_PARENT = str(Path(__file__).resolve().parent.parent.parent)


def child_env(**extra: str) -> dict[str, str]:
    """The server's environment, with this package importable (whatever the install mode) and unbuffered
    output, so a child's log lines arrive as they are written."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (PACKAGE_PARENT, env.get("PYTHONPATH")) if p)
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env
