"""nndeploy-jupyter: nndeploy's workflow backend as a Jupyter server extension.

Importing this package is cheap: the server side loads through :func:`_jupyter_server_extension_points`,
and the notebook side (``Client``, magics, widgets) is imported only when asked for.
"""

from typing import Any

__version__ = "0.1.0"


def _jupyter_server_extension_points() -> list[dict[str, Any]]:
    from .app import NnDeployExtension

    return [{"module": "nndeploy_jupyter", "app": NnDeployExtension}]


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext nndeploy_jupyter``: registers ``%nndeploy`` / ``%%nndeploy``."""
    from .notebook.magics import NnDeployMagics

    ipython.register_magics(NnDeployMagics)


def __getattr__(name: str) -> Any:
    # ``from nndeploy_jupyter import Client`` without paying for the notebook side at package import.
    if name in ("Batch", "Client", "Task", "TaskFailed", "grid"):
        from . import notebook

        return getattr(notebook, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    return [{"src": "labextension", "dest": "nndeploy-jupyter"}]
