"""Export the canonical event's JSON Schema (the file committed as schemas/activity.schema.json)."""

from __future__ import annotations

import json
from pathlib import Path

from touchline.schemas.activity import activity_adapter

SCHEMA_FILE = Path(__file__).with_name("activity.schema.json")


def activity_json_schema() -> dict:
    """The JSON Schema of one canonical activity event, as validation accepts it."""
    schema = activity_adapter.json_schema(mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "touchline activity event (schema_version 1)"
    return schema


def render() -> str:
    """The schema as the committed file's text."""
    return json.dumps(activity_json_schema(), indent=2, sort_keys=True) + "\n"


def write(path: Path = SCHEMA_FILE) -> Path:
    """Write the schema file and return its path."""
    path.write_text(render())
    return path
