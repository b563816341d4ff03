"""HTTP and WebSocket handlers, one module per resource group; ``ROUTES`` is the whole API, in match order.

Paths are relative to ``{base_url}nndeploy/api/``.
"""

from . import batches, downloads, files, meta, nodes, progress, tasks, templates, workflows

ROUTES = [
    *workflows.ROUTES,
    *templates.ROUTES,
    *nodes.ROUTES,
    *batches.ROUTES,
    *tasks.ROUTES,
    *progress.ROUTES,
    *files.ROUTES,
    *downloads.ROUTES,
    *meta.ROUTES,
    (r"(?P<path>.*)", meta.UnknownRouteHandler),  # last: a JSON 404 for anything unknown
]
