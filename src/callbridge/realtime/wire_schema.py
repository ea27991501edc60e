"""The JSON Schema of every wire type, for the browser code's type check.

`scripts/setup` turns it into TypeScript declarations (`build/types/wire.d.ts`, with the npm package
json-schema-to-typescript) that the console's JSDoc imports as `callbridge-wire`, so the types the browser
code checks against are the Pydantic models themselves, never a hand-made copy.

    python -m callbridge.realtime.wire_schema > wire.schema.json
"""

from __future__ import annotations

import json
import sys
import types
import typing
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from callbridge.realtime import wire

# Unions the browser code narrows on `type`; each becomes a named TypeScript union.
UNIONS: dict[str, Any] = {
    "WireEvent": wire.WireEvent,
    "ChatWireEvent": wire.ChatWireEvent,
    "ConsoleEvent": wire.WireEvent | wire.ChatWireEvent | wire.ScreenPopRequestedEvent,
}


def wire_models() -> list[type[BaseModel]]:
    """Every model the wire module defines, in source order."""
    return [
        value
        for value in vars(wire).values()
        if isinstance(value, type)
        and issubclass(value, wire.Strict)
        and value is not wire.Strict
        and value.__module__ == wire.__name__
    ]


def _members(union: Any) -> list[type[BaseModel]]:
    if isinstance(union, types.UnionType) or typing.get_origin(union) is typing.Union:
        return [member for part in typing.get_args(union) for member in _members(part)]
    return [union]


def wire_schema() -> dict[str, Any]:
    """One schema whose `$defs` name every wire model and union. Every property is marked required: the
    server serialises every field of a strict model, defaults included, so the browser may rely on each."""
    _, schema = models_json_schema(
        [(model, "serialization") for model in wire_models()], ref_template="#/$defs/{model}"
    )
    definitions: dict[str, Any] = schema["$defs"]
    for definition in definitions.values():
        properties = definition.get("properties", {})
        definition["required"] = list(properties)
        for field in properties.values():
            field.pop("title", None)  # a title would make each field a type alias of its own
    for name, union in UNIONS.items():
        definitions[name] = {
            "title": name,
            "anyOf": [{"$ref": f"#/$defs/{member.__name__}"} for member in _members(union)],
        }
    return {"title": "CallbridgeWire", "$defs": definitions}


def main() -> None:
    json.dump(wire_schema(), sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
