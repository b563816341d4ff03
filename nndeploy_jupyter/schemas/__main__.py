"""``python -m nndeploy_jupyter.schemas``: the JSON Schema of every model, on stdout."""

import json

from .export import json_schema

print(json.dumps(json_schema(), indent=2))
