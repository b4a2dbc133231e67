"""The config's JSON Schema and its list of keys, both read off the pydantic models.

Editors (through yaml-language-server's `# yaml-language-server: $schema=...` line) validate and
complete the YAML with the schema; `config/watcher.schema.json` in the repository is this
output, and a test keeps it current. `config_keys` is what the README's key table must list.
"""

from __future__ import annotations

import json
from typing import Any, get_args, get_origin

from pydantic import BaseModel

from watcher.config.model import ConfigFile
from watcher.config.problems import _expand

SCHEMA_FILE = "config/watcher.schema.json"
DIALECT = "https://json-schema.org/draft/2020-12/schema"


def config_schema() -> dict[str, Any]:
    schema = ConfigFile.model_json_schema(mode="validation")
    return {"$schema": DIALECT, **schema}


def schema_text() -> str:
    return json.dumps(config_schema(), indent=2, ensure_ascii=False) + "\n"


def config_keys() -> list[str]:
    """Every key a config may hold, as the README writes them: `polling.interval`,
    `feeds[].url`, `notifiers.NAME.urls`; a mapping with free keys gives `terms.NAME`."""
    return sorted(_keys(ConfigFile, ""))


def _keys(model: type[BaseModel], prefix: str) -> set[str]:
    out: set[str] = set()
    for name, field in model.model_fields.items():
        key = f"{prefix}{name}"
        out.add(key)
        out |= _below(field.annotation, key)
    return out


def _below(annotation: Any, key: str) -> set[str]:
    out: set[str] = set()
    for t, _ in _expand(annotation):
        origin, args = get_origin(t), get_args(t)
        if isinstance(t, type) and issubclass(t, BaseModel):
            out |= _keys(t, f"{key}.")
        elif origin is tuple and args and args[-1] is not Ellipsis:
            continue  # a value that is a pair, like a rate: not a list of entries
        elif origin in (tuple, list) and args:
            out |= {k for k in _below(args[0], f"{key}[]") if k != f"{key}[]"}
        elif origin is dict and len(args) == 2:
            out.add(f"{key}.NAME")
            out |= _below(args[1], f"{key}.NAME")
    return out
