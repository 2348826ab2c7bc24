"""The event contract (``mamori.events``), exhaustively.

Every event type parses from a minimal and a complete example and round-trips through JSON; every
field of every type is fed invalid values generated from the model's own annotations, and each must be
rejected with ``InvalidEvent`` naming exactly that field in readable words. Hypothesis builds random
valid events from the same field descriptions. The generated reference (``docs/events.md``) and the
JSON Schema are checked against the models and the examples.
"""

from __future__ import annotations

import copy
import functools
import ipaddress
import json
import re
import types
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import annotated_types
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, StringConstraints
from pydantic.fields import FieldInfo

from mamori.events import models as m
from mamori.events.docs import EXAMPLES, JAPANESE_NAMES, render_markdown
from mamori.events.parse import event_json_schema, parse_batch, parse_event, parse_event_line
from mamori.kit.errors import InvalidEvent

ROOT = Path(__file__).resolve().parents[1]
TYPES = list(m.EVENT_TYPES)
ALL_MODELS: list[type[BaseModel]] = [m.EventBase, *m.EVENT_TYPES.values(), m.Position]
UNREADABLE = ("<class", "<function", "typing.", "Decimal(", "datetime.", "NoneType", "pydantic",
              "Annotated", "function-", "instance of", "Traceback")


# ---------------------------------------------------------------------------------------------------
# Field descriptions derived from the models (the generators below work from these, never by name)
# ---------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Spec:
    """What one field accepts, read from its annotation and constraints."""

    name: str
    kind: str  # text | ip | decimal | timestamp | enum | type | version | list
    required: bool
    nullable: bool = False
    min_length: int | None = None
    max_length: int | None = None
    pattern: str | None = None
    gt: Any = None
    ge: Any = None
    values: tuple[Any, ...] = ()
    item: type[BaseModel] | None = None


def _unwrap(annotation: Any, metadata: list[Any]) -> tuple[Any, list[Any], bool]:
    """(core type, constraints, whether null is allowed)."""
    meta, nullable = list(metadata), False
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation, *extra = get_args(annotation)
            meta.extend(extra)
        elif origin in (Union, types.UnionType):
            nullable = nullable or type(None) in get_args(annotation)
            (annotation,) = [a for a in get_args(annotation) if a is not type(None)]
        else:
            break
    flat: list[Any] = []
    for item in meta:
        flat.extend(item.metadata if isinstance(item, FieldInfo) else [item])
    return annotation, flat, nullable


def spec_of(name: str, info: FieldInfo) -> Spec:
    core, meta, nullable = _unwrap(info.annotation, info.metadata)
    limits: dict[str, Any] = {"nullable": nullable}
    validators = set()
    for item in meta:
        if isinstance(item, StringConstraints):
            limits.update(min_length=item.min_length, max_length=item.max_length, pattern=item.pattern)
        elif isinstance(item, annotated_types.MaxLen):
            limits["max_length"] = item.max_length
        elif isinstance(item, annotated_types.Gt):
            limits["gt"] = item.gt
        elif isinstance(item, annotated_types.Ge):
            limits["ge"] = item.ge
        elif hasattr(item, "func"):
            validators.add(item.func)
    required = info.is_required()
    if get_origin(core) is Literal:
        values = get_args(core)
        if name == "type":
            return Spec(name, "type", required, nullable, values=values)
        if name == "version":
            return Spec(name, "version", required, nullable, values=values)
        return Spec(name, "enum", required, nullable, values=values)
    if isinstance(core, type) and issubclass(core, Enum):
        return Spec(name, "enum", required, nullable, values=tuple(e.value for e in core))
    if get_origin(core) is list:
        (item_type,) = get_args(core)
        return Spec(name, "list", required, item=item_type, **limits)
    if core is Decimal:
        return Spec(name, "decimal", required, **limits)
    if core is datetime:
        return Spec(name, "timestamp", required, nullable)
    if core is str and m._canonical_ip in validators:
        return Spec(name, "ip", required, **limits)
    if core is str and m._block_value in validators:
        return Spec(name, "block_value", required, **limits)
    if core is str:
        return Spec(name, "text", required, **limits)
    raise AssertionError(f"the contract test does not know the type of {name}: {core!r}")


def specs(model: type[BaseModel]) -> list[Spec]:
    return [spec_of(name, info) for name, info in model.model_fields.items()]


def maximal(type_name: str) -> dict[str, Any]:
    return copy.deepcopy(EXAMPLES[type_name])


def minimal(type_name: str) -> dict[str, Any]:
    fields = m.EVENT_TYPES[type_name].model_fields
    return {k: v for k, v in maximal(type_name).items() if fields[k].is_required()}


def assert_readable(text: str) -> None:
    assert text.strip(), "an error message must not be empty"
    for marker in UNREADABLE:
        assert marker not in text, f"error message shows Python internals ({marker!r}): {text}"


def reject(data: Any, field: str, *, via: str = "dict") -> list[dict[str, Any]]:
    """Parse ``data`` (as a dict or as JSON text) and check that it is rejected naming only ``field``."""
    payload = json.dumps(data) if via == "json" else data
    with pytest.raises(InvalidEvent) as caught:
        parse_event(payload)
    err = caught.value
    fields = {d["field"] for d in err.details}
    assert fields == {field}, f"expected only {field!r} to be named, got {err.details}"
    for detail in err.details:
        assert set(detail) == {"field", "message", "kind"}
        assert detail["kind"]
        assert_readable(detail["message"])
    assert err.message.startswith(f"invalid event: {field}: ")
    assert_readable(err.message)
    assert err.to_dict()["error"]["code"] == "mamori.events.invalid"
    return list(err.details)


# ---------------------------------------------------------------------------------------------------
# Invalid values per field kind
# ---------------------------------------------------------------------------------------------------

BAD_IPS = ["999.1.1.1", "1.2.3", "::g", "1.2.3.4.5", "256.0.0.1", "01.02.03.04", "localhost",
           "192.0.2.1/24", "2001:db8::1::2", "", 3232235521, True]
BAD_TIMESTAMPS = ["2024-04-01T09:30:00", "2024-04-01 09:30:00", "2024-04-01", "01/04/2024 09:30:00+09:00",
                  "2024/04/01T09:30:00Z", "Mon, 01 Apr 2024 09:30:00 GMT", "yesterday", "",
                  "2024-13-01T00:00:00Z", "2024-04-31T00:00:00Z", "2024-04-01T25:00:00Z",
                  1711931400, 1711931400.5, "1711931400", True, [], {}]
WRONG_TYPES_TEXT = [12345, 1.5, True, [], {}, ["a"]]
WRONG_TYPES_DECIMAL = [True, False, [], {}, ["1"], "abc", "", "1,000", "¥1000", "0x10"]
NON_FINITE = ["NaN", "nan", "sNaN", "Infinity", "-Infinity", "inf", float("nan"), float("inf"), float("-inf")]


def invalid_values(spec: Spec) -> list[tuple[str, Any]]:
    """(label, value) pairs that ``spec`` must reject, generated from its kind and constraints."""
    cases: list[tuple[str, Any]] = []
    if not spec.nullable:
        cases.append(("null", None))
    if spec.kind == "text":
        cases += [(f"wrong-type-{i}", v) for i, v in enumerate(WRONG_TYPES_TEXT)]
        if spec.max_length is not None:
            cases.append(("too-long", "a" * (spec.max_length + 1)))
        if spec.min_length:
            cases += [("empty", ""), ("only-spaces", "   ")]
        if spec.pattern:
            cases += [("bad-chars-space", "bad value!"), ("bad-chars-japanese", "日本語"),
                      ("bad-chars-newline", "a\nb"), ("bad-chars-semicolon", "a;b")]
            if spec.pattern.startswith("^[A-Za-z0-9]["):
                cases.append(("bad-first-char", "-leading-dash"))
            if spec.pattern == "^[A-Z]{3}$":
                cases += [("lowercase", "jpy"), ("four-letters", "JPYY"), ("symbol", "¥")]
            if spec.pattern == "^[a-z0-9_-]+$":
                cases.append(("uppercase", "Ethereum"))
    elif spec.kind == "ip":
        cases += [(f"bad-ip-{v}", v) for v in BAD_IPS]
        cases += [("too-long", "1" * (spec.max_length or 64) + "1")]
    elif spec.kind == "timestamp":
        cases += [(f"bad-timestamp-{i}", v) for i, v in enumerate(BAD_TIMESTAMPS)]
    elif spec.kind == "decimal":
        cases += [(f"wrong-type-{i}", v) for i, v in enumerate(WRONG_TYPES_DECIMAL)]
        cases += [(f"non-finite-{v}", v) for v in NON_FINITE]
        cases += [("39-digits", "1" * 39), ("1e50", "1e50")]
        if spec.gt is not None:
            cases += [("zero", "0"), ("zero-int", 0), ("negative", "-1"), ("tiny-negative", "-0.000001"),
                      ("negative-zero", "-0")]
        if spec.ge is not None:
            cases += [("negative", "-0.01"), ("negative-int", -1)]
    elif spec.kind == "enum":
        cases += [("not-allowed", "not_a_value"), ("int", 42), ("bool", True), ("list", [spec.values[0]])]
        first = str(spec.values[0])
        if first.upper() != first:
            cases.append(("wrong-case", first.upper()))
        cases.append(("padded-inner", first[:1] + " " + first[1:]))
    elif spec.kind == "version":
        cases += [("two", 2), ("zero", 0), ("string", "1"), ("text", "v1"), ("true", True), ("float", 1.5),
                  ("list", [1])]
    elif spec.kind == "type":
        cases += [("other-case", str(spec.values[0]).upper()), ("int", 42), ("bool", True), ("list", [])]
    elif spec.kind == "list":
        cases += [("string", "x"), ("object", {}), ("int", 5), ("bool", True)]
        if spec.max_length is not None:
            cases.append(("too-many", "TOO_MANY"))
    return cases


@dataclass(frozen=True)
class Case:
    type_name: str
    field: str
    label: str
    value: Any

    @property
    def id(self) -> str:
        return f"{self.type_name}.{self.field}.{self.label}"


MISSING = object()


def _field_cases() -> list[Case]:
    cases: list[Case] = []
    for type_name, model in m.EVENT_TYPES.items():
        for spec in specs(model):
            if spec.required:
                cases.append(Case(type_name, spec.name, "missing", MISSING))
            cases += [Case(type_name, spec.name, label, value) for label, value in invalid_values(spec)]
            if spec.kind == "list" and spec.item is not None:
                for item_spec in specs(spec.item):
                    path = f"{spec.name}.0.{item_spec.name}"
                    if item_spec.required:
                        cases.append(Case(type_name, path, "missing", MISSING))
                    cases += [Case(type_name, path, label, value)
                              for label, value in invalid_values(item_spec)]
                cases.append(Case(type_name, f"{spec.name}.0.unexpected", "extra-field", 1))
                cases.append(Case(type_name, f"{spec.name}.1", "not-an-object", "7203"))
        cases.append(Case(type_name, "unexpected_field", "extra-field", "x"))
        cases.append(Case(type_name, "Account_Id", "extra-field-wrong-case", "x"))
    return cases


FIELD_CASES = _field_cases()


def apply(case: Case) -> dict[str, Any]:
    data = maximal(case.type_name)
    *parents, leaf = case.field.split(".")
    target: Any = data
    for part in parents:
        target = target[int(part)] if part.isdigit() else target[part]
    value = case.value
    if value == "TOO_MANY":
        value = [{"symbol": "7203", "quantity": "1"}] * (m.HoldingsSnapshot.model_fields[leaf].metadata[0]
                                                          .max_length + 1)
    if value is MISSING:
        del target[leaf]
    elif isinstance(target, list):
        target[int(leaf)] = value
    else:
        target[leaf] = value
    return data


# ---------------------------------------------------------------------------------------------------
# Valid examples
# ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("type_name", TYPES)
def test_given_the_minimal_example_when_parsed_then_it_is_valid_with_defaults(type_name: str) -> None:
    """Given only the required fields of a type, when parsed, then the model has that type and the
    optional fields take their documented defaults."""
    data = minimal(type_name)
    event = parse_event(data)
    assert type(event) is m.EVENT_TYPES[type_name]
    assert event.type == type_name  # type: ignore[attr-defined]
    assert event.version == 1
    for name, info in type(event).model_fields.items():
        if name not in data:
            assert getattr(event, name) == info.get_default(), name


@pytest.mark.parametrize("type_name", TYPES)
def test_given_the_complete_example_when_parsed_then_every_field_keeps_its_value(type_name: str) -> None:
    """Given the documented example (every field present), when parsed, then nothing is lost."""
    data = maximal(type_name)
    model = m.EVENT_TYPES[type_name]
    assert set(data) == set(model.model_fields), "the example in mamori.events.docs must use every field"
    event = parse_event(data)
    dumped = json.loads(event.model_dump_json())
    for name, value in data.items():
        if name == "occurred_at":
            assert event.occurred_at == datetime.fromisoformat(value)
        elif name == "positions":
            assert dumped[name] == value
        else:
            assert dumped[name] == value, name


def test_given_the_holdings_example_then_it_uses_every_position_field() -> None:
    """Given the holdings example, then each documented Position field appears in it."""
    for position in EXAMPLES["holdings_snapshot"]["positions"]:
        assert set(position) == set(m.Position.model_fields)


@pytest.mark.parametrize("shape", ["minimal", "maximal"])
@pytest.mark.parametrize("type_name", TYPES)
def test_given_a_valid_event_when_dumped_to_json_and_parsed_again_then_it_is_equal(
        type_name: str, shape: str) -> None:
    """Given a valid event, when it goes through model_dump_json and parse_event (also the stored form
    without nulls, as text and as bytes), then the same model comes back."""
    event = parse_event(minimal(type_name) if shape == "minimal" else maximal(type_name))
    assert parse_event(event.model_dump_json()) == event
    assert parse_event(event.model_dump_json(exclude_none=True).encode()) == event
    assert parse_event(json.loads(event.model_dump_json())) == event
    assert parse_event_line(event.model_dump_json() + "\n") == event


@pytest.mark.parametrize("type_name", TYPES)
def test_given_a_valid_event_as_json_text_when_parsed_then_it_equals_the_dict_form(type_name: str) -> None:
    """Given the same event as a dict, as JSON text and as bytes, then all three parse alike."""
    data = maximal(type_name)
    assert parse_event(json.dumps(data)) == parse_event(data) == parse_event(json.dumps(data).encode())


def test_given_an_event_when_parsed_then_it_is_immutable() -> None:
    """Given a parsed event, when a field is assigned, then pydantic refuses (events are facts)."""
    event = parse_event(maximal("login"))
    with pytest.raises(ValueError, match="frozen"):
        event.account_id = "someone-else"


def test_given_text_fields_with_surrounding_whitespace_then_it_is_stripped() -> None:
    """Given identifiers and symbols padded with spaces (also inside positions), then they are trimmed."""
    data = maximal("holdings_snapshot")
    data["account_id"] = "  C0012345 "
    data["positions"][0]["symbol"] = " 7203 "
    event = parse_event(data)
    assert event.account_id == "C0012345"
    assert event.positions[0].symbol == "7203"  # type: ignore[attr-defined]


# ---------------------------------------------------------------------------------------------------
# Invalid values, every field of every type
# ---------------------------------------------------------------------------------------------------

def test_given_the_generated_cases_then_every_field_of_every_type_is_covered() -> None:
    """Given the generated invalid cases, then each field of each type has a missing-or-invalid case,
    so a new field cannot be added without being exercised here."""
    covered = {(c.type_name, c.field.split(".")[0]) for c in FIELD_CASES}
    for type_name, model in m.EVENT_TYPES.items():
        for name in model.model_fields:
            assert (type_name, name) in covered, f"{type_name}.{name} has no invalid case"
    nested = {c.field.split(".", 2)[2] for c in FIELD_CASES if c.field.startswith("positions.0.")}
    assert set(m.Position.model_fields) <= nested


@pytest.mark.parametrize("case", FIELD_CASES, ids=[c.id for c in FIELD_CASES])
def test_given_one_invalid_field_when_parsed_then_invalid_event_names_exactly_that_field(case: Case) -> None:
    """Given a complete valid event with one field made invalid (missing, wrong type, not an allowed
    value, out of range, too long, bad characters, non-RFC-3339 or naive time, bad IP, extra field),
    when parsed as a dict and as JSON text, then InvalidEvent names that field path and only it, in
    readable words."""
    data = apply(case)
    reject(data, case.field)
    reject(data, case.field, via="json")


@pytest.mark.parametrize("type_name", TYPES)
def test_given_a_missing_required_field_then_the_message_says_it_is_required(type_name: str) -> None:
    """Given an event without account_id, then the detail says the field is required."""
    data = maximal(type_name)
    del data["account_id"]
    (detail,) = reject(data, "account_id")
    assert detail["kind"] == "missing"
    assert "required" in detail["message"].lower()


def test_given_an_enum_value_not_allowed_then_the_message_lists_the_allowed_values() -> None:
    """Given a login with result 'maybe', then the message lists 'success' and 'failure'."""
    (detail,) = reject({**maximal("login"), "result": "maybe"}, "result")
    assert "'success'" in detail["message"] and "'failure'" in detail["message"]


def test_given_a_non_positive_amount_then_the_message_states_the_bound() -> None:
    """Given a withdrawal of zero yen, then the message says it must be greater than 0."""
    (detail,) = reject({**maximal("fiat_withdrawal"), "amount": "0"}, "amount")
    assert "greater than 0" in detail["message"]


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity"])
def test_given_a_non_finite_amount_then_the_message_says_finite(value: str) -> None:
    """Given NaN or an infinity as an amount, then it is rejected as not a finite number."""
    (detail,) = reject({**maximal("crypto_withdrawal"), "amount": value}, "amount")
    assert "finite" in detail["message"]


def test_given_a_non_finite_json_number_when_parsed_from_text_then_amount_is_named() -> None:
    """Given JSON text with a bare NaN / Infinity literal or 1e400, then the amount is rejected."""
    for literal in ("NaN", "Infinity", "-Infinity", "1e400"):
        text = json.dumps(maximal("fiat_deposit")).replace('"amount": "1500000"', f'"amount": {literal}')
        assert literal in text
        with pytest.raises(InvalidEvent) as caught:
            parse_event(text)
        assert [d["field"] for d in caught.value.details] == ["amount"]


def test_given_a_decimal_of_the_wrong_type_then_the_message_speaks_json() -> None:
    """Given an amount that is a list, then the message asks for a decimal string or number and does
    not mention Python's Decimal object."""
    (detail,) = reject({**maximal("fiat_deposit"), "amount": [1]}, "amount")
    assert "decimal" in detail["message"] and "object" not in detail["message"]


@pytest.mark.parametrize("value", ["2024-04-01T09:30:00", "2024-04-01"])
def test_given_a_naive_timestamp_then_the_message_asks_for_an_offset(value: str) -> None:
    """Given a time without offset, then the message explains that an offset such as +09:00 is needed."""
    (detail,) = reject({**maximal("login"), "occurred_at": value}, "occurred_at")
    assert "timezone offset" in detail["message"] and "+09:00" in detail["message"]


@pytest.mark.parametrize("value", [1711931400, 1711931400123, 1711931400.5, "1711931400"])
def test_given_a_unix_timestamp_then_it_is_rejected_with_an_rfc3339_hint(value: Any) -> None:
    """Given seconds or milliseconds since the epoch (pydantic would guess which), then the event is
    rejected and the message shows the RFC 3339 form to use."""
    for via in ("dict", "json"):
        (detail,) = reject({**maximal("order"), "occurred_at": value}, "occurred_at", via=via)
        assert "RFC 3339" in detail["message"]


@pytest.mark.parametrize("value", ["999.1.1.1", "1.2.3", "::g"])
def test_given_an_invalid_ip_then_the_message_says_so(value: str) -> None:
    """Given an IP that is not an IPv4 or IPv6 literal, then the message says exactly that."""
    (detail,) = reject({**maximal("login"), "ip": value}, "ip")
    assert detail["message"] == "not a valid IPv4 or IPv6 address"


@pytest.mark.parametrize("value", [2, 0, "1", True])
def test_given_a_wrong_version_then_version_is_named(value: Any) -> None:
    """Given any version but the integer 1 (also JSON true, which Python treats as 1), then it is
    rejected naming version."""
    for via in ("dict", "json"):
        (detail,) = reject({**maximal("logout"), "version": value}, "version", via=via)
        assert "1" in detail["message"]


def test_given_version_1_0_then_it_is_accepted_as_json_schema_does() -> None:
    """Given version 1.0 (the same number as 1 for JSON Schema), then it is accepted as version 1."""
    assert parse_event({**maximal("logout"), "version": 1.0}).version == 1


def test_given_an_extra_field_then_the_message_says_it_is_not_permitted() -> None:
    """Given a misspelt field, then the detail names the misspelt field, not the correct one."""
    data = maximal("fiat_withdrawal")
    data["amout"] = data.pop("amount")
    details = _details(data)
    assert {d["field"] for d in details} == {"amout", "amount"}
    assert {d["kind"] for d in details} == {"extra_forbidden", "missing"}


def _details(data: Any) -> list[dict[str, Any]]:
    with pytest.raises(InvalidEvent) as caught:
        parse_event(data)
    return list(caught.value.details)


def test_given_several_invalid_fields_then_every_one_is_reported_and_the_summary_counts_them() -> None:
    """Given an order with three problems, then three details are listed and the summary mentions the
    other two."""
    data = {**maximal("order"), "quantity": "-5", "side": "hold", "ip": "1.2.3"}
    with pytest.raises(InvalidEvent) as caught:
        parse_event(data)
    assert {d["field"] for d in caught.value.details} == {"quantity", "side", "ip"}
    assert "(and 2 more)" in caught.value.message


def test_given_a_bad_position_deep_in_a_snapshot_then_its_index_is_in_the_path() -> None:
    """Given a snapshot whose third position has a negative quantity, then the path is
    positions.2.quantity."""
    data = maximal("holdings_snapshot")
    data["positions"].append({"symbol": "6758", "quantity": "-1"})
    reject(data, "positions.2.quantity")


# ---------------------------------------------------------------------------------------------------
# The discriminator, whole-event and line errors, batches
# ---------------------------------------------------------------------------------------------------

def test_given_an_unknown_type_then_type_is_named_with_the_value_and_the_known_types() -> None:
    """Given type 'withdrawal' (not a type), then the message quotes it and lists every known type."""
    (detail,) = reject({**maximal("login"), "type": "withdrawal"}, "type")
    assert detail["kind"] == "union_tag_invalid"
    assert "unknown event type 'withdrawal'" in detail["message"]
    for type_name in TYPES:
        assert f"'{type_name}'" in detail["message"]


@pytest.mark.parametrize("value", [None, 5, True, ["login"]])
def test_given_a_type_that_is_not_a_string_then_the_message_says_it_must_be_one(value: Any) -> None:
    """Given type null, a number, a boolean or a list, then the message says the type must be a string
    (it does not pretend the type is the text 'None' or '5')."""
    for via in ("dict", "json"):
        (detail,) = reject({**maximal("login"), "type": value}, "type", via=via)
        assert detail["message"].startswith("the event type must be a string")


def test_given_no_type_then_type_is_named_as_required() -> None:
    """Given an event without type, then type is named as a required field."""
    data = maximal("login")
    del data["type"]
    (detail,) = reject(data, "type")
    assert detail["kind"] == "union_tag_not_found"
    assert "required" in detail["message"]


def test_given_a_very_long_unknown_type_then_the_message_stays_short() -> None:
    """Given a 10 000-character type, then the message quotes only its beginning."""
    (detail,) = reject({**maximal("login"), "type": "x" * 10_000}, "type")
    assert len(detail["message"]) < 400


@pytest.mark.parametrize("payload", [[], 5, None, True, [maximal("login")]])
def test_given_something_that_is_not_an_object_then_the_event_itself_is_named(payload: Any) -> None:
    """Given a list, number, boolean or null instead of an event (as a value and as JSON text), then the
    error names (event) and says an event must be a JSON object."""
    for via in ("dict", "json"):
        (detail,) = reject(payload, "(event)", via=via)
        assert detail["message"] == "an event must be a JSON object"


def test_given_json_text_holding_a_string_then_the_event_itself_is_named() -> None:
    """Given the JSON text '"login"' (a string, not an object), then (event) is named."""
    (detail,) = reject("login", "(event)", via="json")
    assert detail["message"] == "an event must be a JSON object"


def test_given_text_that_is_not_json_then_parse_event_names_the_event() -> None:
    """Given a str that is not JSON (parse_event reads str and bytes as JSON text), then the error
    names (event) as invalid JSON."""
    (detail,) = _details("login")
    assert detail["field"] == "(event)" and detail["kind"] == "json_invalid"
    assert_readable(detail["message"])


@pytest.mark.parametrize("line", ["[1, 2]", "42", '"login"', "null", "true"])
def test_given_a_json_line_that_is_not_an_object_then_the_line_is_named(line: str) -> None:
    """Given a JSON line holding a list, number, string, null or boolean, then (line) is named."""
    with pytest.raises(InvalidEvent) as caught:
        parse_event_line(line)
    assert caught.value.details == [{"field": "(line)", "message": "expected a JSON object",
                                     "kind": "model_type"}]
    assert_readable(caught.value.message)


@pytest.mark.parametrize("line", ["{bad", '{"id": "e1",', "", "   ", "{'id': 'e1'}", b"\xff\xfe"])
def test_given_an_invalid_json_line_then_it_is_reported_as_invalid_json(line: str | bytes) -> None:
    """Given text that is not JSON, then the error says so, with kind json_invalid."""
    with pytest.raises(InvalidEvent) as caught:
        parse_event_line(line)
    (detail,) = caught.value.details
    assert detail["field"] == "(line)" and detail["kind"] == "json_invalid"
    assert caught.value.message.startswith("not valid JSON")
    assert_readable(caught.value.message)


def test_given_a_valid_json_line_with_an_invalid_field_then_the_field_is_named() -> None:
    """Given a JSON object line with a bad amount, then the error names amount (not the line)."""
    line = json.dumps({**maximal("fiat_deposit"), "amount": "-3"}).encode()
    with pytest.raises(InvalidEvent) as caught:
        parse_event_line(line)
    assert [d["field"] for d in caught.value.details] == ["amount"]


def test_given_a_batch_with_bad_events_at_1_and_3_then_both_are_reported_by_index() -> None:
    """Given five events of which the second has a bad amount and the fourth a bad IP, then exactly
    events.1.amount and events.3.ip are reported."""
    batch = [maximal(t) for t in ("login", "fiat_withdrawal", "order", "logout", "execution")]
    batch[1]["amount"] = "0"
    batch[3]["ip"] = "999.1.1.1"
    with pytest.raises(InvalidEvent) as caught:
        parse_batch(batch)
    assert [d["field"] for d in caught.value.details] == ["events.1.amount", "events.3.ip"]
    assert caught.value.message.startswith("invalid event: events.1.amount: ")
    for detail in caught.value.details:
        assert_readable(detail["message"])


def test_given_a_batch_with_a_bad_nested_field_and_a_bad_type_then_the_paths_are_complete() -> None:
    """Given a batch whose event 0 has a bad position and event 2 an unknown type, then the paths are
    events.0.positions.1.quantity and events.2.type."""
    snapshot = maximal("holdings_snapshot")
    snapshot["positions"][1]["quantity"] = "NaN"
    batch = [snapshot, maximal("logout"), {**maximal("logout"), "type": "logon"}]
    with pytest.raises(InvalidEvent) as caught:
        parse_batch(batch)
    assert [d["field"] for d in caught.value.details] == ["events.0.positions.1.quantity", "events.2.type"]


def test_given_a_batch_with_an_item_that_is_not_an_object_then_the_item_is_named() -> None:
    """Given a batch whose second item is a string, then events.1 is named as not an object."""
    with pytest.raises(InvalidEvent) as caught:
        parse_batch([maximal("logout"), "logout"])
    assert caught.value.details == [{"field": "events.1", "message": "an event must be a JSON object",
                                     "kind": "model_attributes_type"}]


@pytest.mark.parametrize("batch", ["not a list", {"events": []}, 5, None])
def test_given_a_batch_that_is_not_a_list_then_events_is_named(batch: Any) -> None:
    """Given something other than a list as the batch, then InvalidEvent names events (this used to
    crash with a ValueError while building the path)."""
    with pytest.raises(InvalidEvent) as caught:
        parse_batch(batch)
    assert caught.value.details[0]["field"] == "events"
    assert_readable(caught.value.details[0]["message"])


def test_given_a_valid_batch_then_typed_events_come_back_in_order() -> None:
    """Given one valid event of every type, then parse_batch returns the typed models in order."""
    events = parse_batch([maximal(t) for t in TYPES])
    assert [type(e) for e in events] == list(m.EVENT_TYPES.values())
    assert parse_batch([]) == []


# ---------------------------------------------------------------------------------------------------
# Canonical values: IPs, decimals, timestamps
# ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("given", "canonical"), [
    ("2001:DB8::1", "2001:db8::1"),
    ("2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1"),
    ("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"),
    ("::FFFF:192.0.2.1", "::ffff:c000:201"),
    (" 192.0.2.1 ", "192.0.2.1"),
    ("203.0.113.10", "203.0.113.10"),
    ("::1", "::1"),
])
def test_given_an_ip_in_any_spelling_then_it_is_stored_canonically(given: str, canonical: str) -> None:
    """Given the same address written differently, then ip holds one canonical text, so features keyed
    by IP see one address."""
    expected = str(ipaddress.ip_address(canonical))
    event = parse_event({**maximal("login"), "ip": given})
    assert event.ip == expected
    assert parse_event(event.model_dump_json()).ip == expected


@pytest.mark.parametrize("text", ["0.1", "123456789012345678.123456789", "0.00000001", "1500000",
                                  "99999999999999999999999999999999999999", "1E+5", "2850.50"])
def test_given_a_decimal_string_then_it_is_kept_exactly(text: str) -> None:
    """Given an amount as a JSON string, then the Decimal is exactly that value (no float rounding),
    from a dict and from JSON text, and it survives a round trip."""
    for via in ("dict", "json"):
        data = {**maximal("fiat_deposit"), "amount": text}
        event = parse_event(json.dumps(data) if via == "json" else data)
        assert isinstance(event.amount, Decimal)  # type: ignore[attr-defined]
        assert event.amount == Decimal(text)  # type: ignore[attr-defined]
        assert str(event.amount) == str(Decimal(text))  # type: ignore[attr-defined]
        assert parse_event(event.model_dump_json()).amount == Decimal(text)  # type: ignore[attr-defined]


def test_given_point_one_then_sums_are_exact() -> None:
    """Given three deposits of "0.1", then their amounts add up to exactly 0.3."""
    amounts = [parse_event({**maximal("crypto_deposit"), "amount": "0.1"}).amount  # type: ignore[attr-defined]
               for _ in range(3)]
    assert sum(amounts, Decimal(0)) == Decimal("0.3")


def test_given_large_json_integers_then_they_are_exact() -> None:
    """Given a 30-digit integer as a JSON number, then it is exact (integers need no quotes)."""
    text = json.dumps(maximal("fiat_deposit")).replace('"1500000"', "123456789012345678901234567890")
    assert parse_event(text).amount == Decimal("123456789012345678901234567890")  # type: ignore[attr-defined]


def test_given_the_same_instant_with_different_offsets_then_offsets_are_kept_and_times_compare() -> None:
    """Given 09:30 in Tokyo and 00:30 UTC, then both keep their offset, compare equal, and sort with
    other events by instant."""
    tokyo = parse_event({**maximal("login"), "occurred_at": "2024-04-01T09:30:00+09:00"})
    utc = parse_event({**maximal("login"), "occurred_at": "2024-04-01T00:30:00Z"})
    new_york = parse_event({**maximal("login"), "occurred_at": "2024-03-31T20:31:00-04:00"})
    assert tokyo.occurred_at.utcoffset() == timedelta(hours=9)
    assert utc.occurred_at.utcoffset() == timedelta(0)
    assert tokyo.occurred_at == utc.occurred_at
    assert sorted([new_york, tokyo], key=lambda e: e.occurred_at) == [tokyo, new_york]
    assert '"2024-04-01T09:30:00+09:00"' in tokyo.model_dump_json()


def test_given_a_late_event_then_it_keeps_its_own_time() -> None:
    """Given an event that happened an hour before the one parsed first, then its occurred_at is its
    own time (placement by occurred_at is the engine's job; the contract preserves the time)."""
    first = parse_event({**maximal("login"), "id": "a", "occurred_at": "2024-04-01T10:00:00+09:00"})
    late = parse_event({**maximal("login"), "id": "b", "occurred_at": "2024-04-01T09:00:00+09:00"})
    assert late.occurred_at < first.occurred_at
    assert late.occurred_at == datetime(2024, 4, 1, 0, 0, tzinfo=UTC)


def test_given_fractional_seconds_then_they_are_kept() -> None:
    """Given a time with microseconds, then they are kept through a round trip."""
    event = parse_event({**maximal("login"), "occurred_at": "2024-04-01T09:30:00.123456+09:00"})
    assert event.occurred_at.microsecond == 123456
    assert parse_event(event.model_dump_json()).occurred_at == event.occurred_at


# ---------------------------------------------------------------------------------------------------
# Hypothesis: random valid events, random wrong-type mutations
# ---------------------------------------------------------------------------------------------------

_PRINTABLE = st.characters(blacklist_categories=("C", "Z"))
_OFFSETS = st.integers(-14 * 4, 14 * 4).map(lambda q: timezone(timedelta(minutes=15 * q)))


def _text(spec: Spec) -> st.SearchStrategy[str]:
    low, high = spec.min_length or 0, spec.max_length or 200
    if spec.pattern:
        return st.from_regex(spec.pattern, fullmatch=True).filter(lambda s: low <= len(s) <= high)
    return st.text(_PRINTABLE, min_size=low, max_size=min(high, 40))


def _decimal(spec: Spec) -> st.SearchStrategy[Any]:
    low = Decimal("0.00000001") if spec.gt is not None else Decimal(0)
    numbers = st.decimals(min_value=low, max_value=Decimal("1e18"), places=8, allow_nan=False,
                          allow_infinity=False)
    return st.one_of(numbers.map(str), st.integers(min_value=1 if spec.gt is not None else 0,
                                                   max_value=10**30))


def _timestamp() -> st.SearchStrategy[str]:
    naive = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1))
    return st.builds(lambda dt, tz: dt.replace(tzinfo=tz).isoformat(), naive, _OFFSETS)


def value_strategy(spec: Spec) -> st.SearchStrategy[Any]:
    if spec.kind == "text":
        return _text(spec)
    if spec.kind == "ip":
        return st.ip_addresses().map(str)
    if spec.kind == "block_value":  # an IPv4 address is both a network (/32) and a symbol: valid for any target
        return st.ip_addresses(v=4).map(str)
    if spec.kind == "decimal":
        return _decimal(spec)
    if spec.kind == "timestamp":
        return _timestamp()
    if spec.kind in ("enum", "type", "version"):
        return st.sampled_from(spec.values)
    if spec.kind == "list":
        assert spec.item is not None
        return st.lists(model_strategy(spec.item), max_size=4)
    raise AssertionError(spec.kind)


def model_strategy(model: type[BaseModel]) -> st.SearchStrategy[dict[str, Any]]:
    required, optional = {}, {}
    for spec in specs(model):
        if spec.required:
            required[spec.name] = value_strategy(spec)
        elif spec.nullable:
            optional[spec.name] = st.one_of(st.none(), value_strategy(spec))
        else:
            optional[spec.name] = value_strategy(spec)
    return st.fixed_dictionaries(required, optional=optional)


EVENT_STRATEGIES = {t: model_strategy(model) for t, model in m.EVENT_TYPES.items()}
ANY_EVENT = st.sampled_from(TYPES).flatmap(lambda t: EVENT_STRATEGIES[t])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=ANY_EVENT)
def test_given_any_valid_event_from_the_strategies_then_it_parses_and_round_trips(
        data: dict[str, Any]) -> None:
    """Given a random event built from the field descriptions, then it parses into its type and the
    JSON round trip gives the same model."""
    event = parse_event(data)
    assert type(event) is m.EVENT_TYPES[data["type"]]
    assert parse_event(event.model_dump_json()) == event
    assert parse_batch([data, data]) == [event, event]


def _wrong_type_values(spec: Spec) -> st.SearchStrategy[Any]:
    containers = st.one_of(st.lists(st.integers(), max_size=2),
                           st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))
    numbers = st.one_of(st.integers(), st.floats(allow_nan=False))
    if spec.kind == "decimal":  # numbers are valid decimals
        return st.one_of(st.booleans(), containers)
    if spec.kind == "version":
        return st.one_of(st.booleans(), containers, st.text(max_size=3),
                         numbers.filter(lambda v: v != 1))
    if spec.kind == "list":  # a list of junk would be reported per item
        return st.one_of(st.booleans(), numbers, st.text(max_size=3),
                         st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))
    return st.one_of(st.booleans(), numbers, containers)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_given_a_valid_event_with_one_field_of_the_wrong_type_then_that_field_is_named(
        data: st.DataObject) -> None:
    """Given a random valid event whose one random field is replaced by a value of the wrong JSON type,
    then InvalidEvent names exactly that field."""
    type_name = data.draw(st.sampled_from(TYPES), label="type")
    event = data.draw(EVENT_STRATEGIES[type_name], label="event")
    spec = data.draw(st.sampled_from(specs(m.EVENT_TYPES[type_name])), label="field")
    event[spec.name] = data.draw(_wrong_type_values(spec), label="wrong value")
    reject(event, spec.name)


# ---------------------------------------------------------------------------------------------------
# JSON Schema
# ---------------------------------------------------------------------------------------------------

_KEYWORDS = {"$ref", "$defs", "$schema", "$id", "title", "description", "default", "type", "properties",
             "required", "additionalProperties", "anyOf", "oneOf", "discriminator", "const", "enum",
             "pattern", "minLength", "maxLength", "format", "exclusiveMinimum", "minimum", "maxItems",
             "items"}
_JSON_TYPES: dict[str, Any] = {
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: (isinstance(v, int) and not isinstance(v, bool))
    or (isinstance(v, float) and v.is_integer()),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
}


def _subschemas(schema: dict[str, Any]) -> list[dict[str, Any]]:
    subs = [*schema.get("$defs", {}).values(), *schema.get("properties", {}).values(),
            *schema.get("anyOf", []), *schema.get("oneOf", [])]
    if isinstance(schema.get("items"), dict):
        subs.append(schema["items"])
    return subs


def _validate(schema: dict[str, Any], value: Any, root: dict[str, Any], path: str = "$") -> list[str]:
    """A small validator for the JSON Schema keywords the event schema uses (checked to be all)."""
    if "$ref" in schema:
        name = schema["$ref"].removeprefix("#/$defs/")
        return _validate(root["$defs"][name], value, root, path)
    errors: list[str] = []
    if "anyOf" in schema and all(_validate(s, value, root, path) for s in schema["anyOf"]):
        errors.append(f"{path}: matches no anyOf branch")
    if "oneOf" in schema:
        matching = sum(not _validate(s, value, root, path) for s in schema["oneOf"])
        if matching != 1:
            errors.append(f"{path}: matches {matching} oneOf branches")
    if "type" in schema and not _JSON_TYPES[schema["type"]](value):
        return [*errors, f"{path}: not of type {schema['type']}"]
    if "const" in schema and (value != schema["const"] or isinstance(value, bool)
                              != isinstance(schema["const"], bool)):
        errors.append(f"{path}: not {schema['const']!r}")
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{path}: not one of {schema['enum']}")
    if isinstance(value, str):
        if len(value) > schema.get("maxLength", len(value)) or len(value) < schema.get("minLength", 0):
            errors.append(f"{path}: bad length")
        if "pattern" in schema and not re.search(schema["pattern"], value):
            errors.append(f"{path}: does not match {schema['pattern']}")
        if schema.get("format") == "date-time":
            try:
                datetime.fromisoformat(value)
            except ValueError:
                errors.append(f"{path}: not a date-time")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if "exclusiveMinimum" in schema and not value > schema["exclusiveMinimum"]:
            errors.append(f"{path}: not > {schema['exclusiveMinimum']}")
        if "minimum" in schema and not value >= schema["minimum"]:
            errors.append(f"{path}: not >= {schema['minimum']}")
    if isinstance(value, dict):
        errors += [f"{path}.{k}: required" for k in schema.get("required", []) if k not in value]
        props = schema.get("properties", {})
        if schema.get("additionalProperties") is False:
            errors += [f"{path}.{k}: not allowed" for k in value if k not in props]
        for key, sub in props.items():
            if key in value:
                errors += _validate(sub, value[key], root, f"{path}.{key}")
    if isinstance(value, list):
        if len(value) > schema.get("maxItems", len(value)):
            errors.append(f"{path}: too many items")
        for i, item in enumerate(value):
            errors += _validate(schema.get("items", {}), item, root, f"{path}.{i}")
    return errors


@functools.cache
def _schema() -> dict[str, Any]:
    return event_json_schema()


@pytest.fixture
def schema() -> dict[str, Any]:
    return copy.deepcopy(_schema())


def test_given_the_json_schema_then_it_is_2020_12_with_a_discriminated_one_of(schema: dict[str, Any]) -> None:
    """Given event_json_schema(), then it declares 2020-12, is plain JSON, and its oneOf and the
    discriminator on type cover exactly the 15 event types."""
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"].startswith("https://")
    assert json.loads(json.dumps(schema)) == schema
    refs = [branch["$ref"] for branch in schema["oneOf"]]
    assert len(refs) == len(TYPES) == 15
    assert schema["discriminator"]["propertyName"] == "type"
    mapping = schema["discriminator"]["mapping"]
    assert set(mapping) == set(TYPES)
    assert sorted(mapping.values()) == sorted(refs)
    for ref in refs:
        assert ref.removeprefix("#/$defs/") in schema["$defs"]


def test_given_the_json_schema_then_it_uses_only_keywords_the_test_validator_checks(
        schema: dict[str, Any]) -> None:
    """Given the schema, then every keyword in it is one the validator below understands, so the
    validation tests are not silently partial (extend _validate when pydantic adds a keyword)."""
    todo, seen = [schema], set()
    while todo:
        node = todo.pop()
        seen |= set(node)
        todo += _subschemas(node)
    assert seen <= _KEYWORDS, seen - _KEYWORDS


@pytest.mark.parametrize("type_name", TYPES)
def test_given_each_type_then_its_schema_lists_its_fields_and_required_fields(
        schema: dict[str, Any], type_name: str) -> None:
    """Given the schema of one type, then its properties are the model's fields, its required list is
    the model's required fields, type is a constant, and extra properties are forbidden."""
    model = m.EVENT_TYPES[type_name]
    definition = schema["$defs"][schema["discriminator"]["mapping"][type_name].removeprefix("#/$defs/")]
    assert set(definition["properties"]) == set(model.model_fields)
    assert set(definition["required"]) == {n for n, f in model.model_fields.items() if f.is_required()}
    assert definition["properties"]["type"]["const"] == type_name
    assert definition["additionalProperties"] is False
    for name, info in model.model_fields.items():
        assert definition["properties"][name]["description"] == info.description
    assert definition["properties"]["occurred_at"]["format"] == "date-time"
    assert definition["properties"]["version"]["const"] == 1


@pytest.mark.parametrize("shape", ["minimal", "maximal"])
@pytest.mark.parametrize("type_name", TYPES)
def test_given_every_valid_example_then_it_validates_against_the_schema(
        schema: dict[str, Any], type_name: str, shape: str) -> None:
    """Given the minimal and the complete example of each type, and the JSON the parser writes back,
    then each validates against the published schema."""
    data = minimal(type_name) if shape == "minimal" else maximal(type_name)
    assert _validate(schema, data, schema) == []
    event = parse_event(data)
    assert _validate(schema, json.loads(event.model_dump_json(exclude_none=True)), schema) == []


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=ANY_EVENT)
def test_given_any_generated_valid_event_then_the_schema_accepts_it(data: dict[str, Any]) -> None:
    """Given random valid events (nulls dropped, as senders omit them), then the schema accepts them."""
    schema = _schema()
    clean = {k: v for k, v in data.items() if v is not None}
    assert _validate(schema, clean, schema) == []


@pytest.mark.parametrize(("change", "field"), [
    ({"unexpected": 1}, "unexpected"), ({"type": "withdrawal"}, "type"), ({"result": "maybe"}, "result"),
    ({"id": "-x"}, "id"), ({"version": 2}, "version"), ({"occurred_at": 1711931400}, "occurred_at"),
    ({"version": True}, "version"),
])
def test_given_an_invalid_login_then_schema_and_parser_both_reject_it(
        schema: dict[str, Any], change: dict[str, Any], field: str) -> None:
    """Given invalid events, then the schema rejects them too (the validator above is not vacuous and
    the schema agrees with the parser)."""
    data = {**maximal("login"), **change}
    assert _validate(schema, data, schema) != []
    reject(data, field)


# ---------------------------------------------------------------------------------------------------
# The generated reference, docs/events.md
# ---------------------------------------------------------------------------------------------------

def test_given_the_committed_reference_then_it_equals_the_generated_one() -> None:
    """Given docs/events.md, then it is exactly what render_markdown() produces from the models."""
    path = ROOT / "docs" / "events.md"
    committed = path.read_text(encoding="utf-8") if path.exists() else ""
    assert committed == render_markdown(), (
        "docs/events.md is out of date with mamori.events.models; regenerate it with:\n"
        "    python -m mamori.events.docs > docs/events.md")


@pytest.mark.parametrize("model", ALL_MODELS, ids=lambda model: model.__name__)
def test_given_every_model_then_every_field_has_a_description(model: type[BaseModel]) -> None:
    """Given each event model (and Position), then every field has a non-empty description, which the
    reference and the JSON Schema show."""
    for name, info in model.model_fields.items():
        assert info.description and info.description.strip(), f"{model.__name__}.{name} has no description"


def test_given_every_event_type_then_it_has_a_japanese_name_and_an_example() -> None:
    """Given the event types, then each has a Japanese name and a documented example, and no extra."""
    assert set(JAPANESE_NAMES) == set(m.EVENT_TYPES) == set(EXAMPLES)
    assert all(JAPANESE_NAMES.values())


@pytest.mark.parametrize("type_name", TYPES)
def test_given_the_reference_then_each_type_section_documents_all_its_fields(type_name: str) -> None:
    """Given the rendered reference, then each type has a bilingual heading, its docstring, a row per
    field of its own, and a JSON example that parses."""
    text = render_markdown()
    heading = f"### {type_name} ({JAPANESE_NAMES[type_name]})"
    assert text.count(heading) == 1
    section = text.split(heading, 1)[1].split("\n### ", 1)[0]
    model = m.EVENT_TYPES[type_name]
    for name in model.model_fields:
        if name not in m.EventBase.model_fields:
            assert f"| `{name}` |" in section, name
    assert " ".join((model.__doc__ or "").split()) in section
    example = json.loads(section.split("```json\n", 1)[1].split("\n```", 1)[0])
    assert example == EXAMPLES[type_name]
    assert type(parse_event(example)) is model


def test_given_the_reference_then_it_covers_the_envelope_and_the_contract_rules() -> None:
    """Given the rendered reference, then it documents every envelope field, enum values, bounds, and
    the rules on idempotency, offsets, late events, decimals, version and the JSON Schema."""
    text = render_markdown()
    for name in m.EventBase.model_fields:
        assert f"| `{name}` |" in text
    for phrase in ("idempot", "offset", "late event", "JSON strings", "`version`", "mamori schema",
                   "GET /v1/schema/events", "> 0", "≥ 0", "1–128 characters",
                   "`success`, `failure`", "`call_center`", "≤ 10000 items", "(共通項目)"):
        assert phrase in text, phrase
    assert text.endswith("\n") and not text.endswith("\n\n")
