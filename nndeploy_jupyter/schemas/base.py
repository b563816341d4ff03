"""What every model of the API shares."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Model(BaseModel):
    """Base of the API's models. Fields with defaults are always sent, so the exported schema marks them
    required (a generated TypeScript type says ``error: string | null``, not ``error?: ...``)."""

    model_config = ConfigDict(json_schema_serialization_defaults_required=True, defer_build=True)
