"""JSON Schema of each UIS version, for editor completion and for the docs."""

from __future__ import annotations

import json
from typing import Any

from uis_compiler.models import MODELS

VERSIONS = tuple(MODELS)


def uis_schema(version: str = "1.2") -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of UIS ``version``."""
    model = MODELS[version]
    schema = model.model_json_schema(by_alias=True, mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = f"https://headwater.dev/schemas/uis-{version}.schema.json"
    schema["title"] = f"UIS {version}"
    schema["description"] = (
        f"Unified Ingestion Spec {version}: one provider, its endpoints, transforms and sinks."
    )
    # Editors should offer exactly this version in completion.
    schema["properties"]["version"] = {
        "type": "string",
        "enum": [version],
        "default": "1.1",
        "description": "The UIS version; quote it.",
    }
    return schema


def dumps(schema: dict[str, Any]) -> str:
    """Deterministic JSON text."""
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
