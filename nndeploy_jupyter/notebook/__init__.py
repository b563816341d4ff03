"""The notebook side: :class:`Client` and :class:`Task`, the ``%nndeploy`` magics, and progress/result widgets.

Importing this package stays light; IPython and ipywidgets are imported by the magics and widgets modules
only, when a notebook loads them.
"""

from .batch import Batch, grid
from .client import Client, Task, TaskFailed
from .discovery import ServerInfo, ServerNotFound, find_server
from .http import ApiError

__all__ = ["ApiError", "Batch", "Client", "ServerInfo", "ServerNotFound", "Task", "TaskFailed", "find_server", "grid"]
