"""Turning bytes and dicts into typed events, with errors that name the field.

A pydantic ``ValidationError`` becomes :class:`~mamori.kit.errors.InvalidEvent` whose ``details``
is a list of ``{"field", "message", "kind"}`` entries; ``field`` is a dotted path such as
``amount`` or ``positions.3.quantity`` (prefixed with the batch index for batches).
"""

from __future__ import annotations

from typing import Any

import orjson
from pydantic import TypeAdapter, ValidationError

from mamori.events.models import Event, EventBase
from mamori.kit.errors import InvalidEvent

_ADAPTER: TypeAdapter[EventBase] = TypeAdapter(Event)
_LIST_ADAPTER: TypeAdapter[list[Any]] = TypeAdapter(list[Event])  # items are EventBase subclasses


_OBJECT_KINDS = frozenset({"dict_type", "model_type", "model_attributes_type"})


def _message(err: Any) -> str:
    """pydantic's message, reworded where it speaks Python rather than JSON."""
    kind = err["type"]
    if kind in _OBJECT_KINDS:
        return "expected a JSON object"
    if kind == "decimal_type":
        return "expected a decimal number: a JSON string such as \"1500.25\" (exact) or a number"
    return str(err["msg"]).removeprefix("Value error, ")


def _detail(err: Any, loc: tuple[Any, ...], prefix: str) -> dict[str, Any]:
    """One error entry. ``loc`` starts at the event (pydantic puts the discriminator value, e.g.
    'login', first for tagged-union members: it is dropped so the path names the real field)."""
    kind = err["type"]
    if kind == "union_tag_not_found":
        path, message = "type", "field required: the event type ('login', 'order', ...)"
    elif kind == "union_tag_invalid":
        given = err["input"].get("type") if isinstance(err.get("input"), dict) else err["ctx"]["tag"]
        what = (f"unknown event type {given[:64]!r}" if isinstance(given, str)
                else "the event type must be a string")
        path, message = "type", f"{what}; expected one of {err['ctx']['expected_tags']}"
    elif kind in _OBJECT_KINDS and not loc:
        path, message = "", "an event must be a JSON object"
    else:
        path, message = ".".join(str(p) for p in loc[1:]), _message(err)
    field = f"{prefix}{path}" if path else (prefix.rstrip(".") or "(event)")
    return {"field": field, "message": message, "kind": kind}


def validation_details(exc: ValidationError) -> list[dict[str, Any]]:
    """One entry per problem of a single event, naming the field with a dotted path."""
    return [_detail(err, tuple(err["loc"]), "") for err in exc.errors(include_url=False)]


def _summary(details: list[dict[str, Any]]) -> str:
    first = details[0]
    more = f" (and {len(details) - 1} more)" if len(details) > 1 else ""
    return f"invalid event: {first['field']}: {first['message']}{more}"


def parse_event(data: dict[str, Any] | bytes | str) -> EventBase:
    """Validate one event given as a dict or JSON text."""
    try:
        if isinstance(data, (bytes, str)):
            return _ADAPTER.validate_json(data)
        return _ADAPTER.validate_python(data)
    except ValidationError as exc:
        details = validation_details(exc)
        raise InvalidEvent(_summary(details), details=details) from None


def parse_event_line(line: bytes | str) -> EventBase:
    """Parse one JSON line; a line that is not a JSON object is reported as such."""
    try:
        data = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        raise InvalidEvent(f"not valid JSON: {exc}", details=[{"field": "(line)", "message": str(exc),
                                                                "kind": "json_invalid"}]) from None
    if not isinstance(data, dict):
        raise InvalidEvent("an event must be a JSON object",
                           details=[{"field": "(line)", "message": "expected a JSON object",
                                     "kind": "model_type"}])
    return parse_event(data)


def parse_batch(items: list[Any]) -> list[EventBase]:
    """Validate a batch; every problem of every event is reported, prefixed ``events.<index>.``."""
    try:
        return _LIST_ADAPTER.validate_python(items)
    except ValidationError as exc:
        details = []
        for err in exc.errors(include_url=False):
            if not err["loc"]:  # the batch itself is not a list
                details.append({"field": "events", "message": "expected a list of events",
                                "kind": err["type"]})
                continue
            index, *rest = err["loc"]
            details.append(_detail(err, tuple(rest), f"events.{index}."))
        raise InvalidEvent(_summary(details), details=details) from None


def event_json_schema() -> dict[str, Any]:
    """The JSON Schema (2020-12) of the event contract, as ``mamori schema`` prints it."""
    schema = _ADAPTER.json_schema(mode="validation", ref_template="#/$defs/{model}")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://mamori.dev/schemas/event/v1.json"
    schema["title"] = "mamori event (contract version 1)"
    return schema
