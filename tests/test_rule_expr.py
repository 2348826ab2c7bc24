"""The safe rule expression language (``mamori.risk.rules.expr``)."""

from __future__ import annotations

import operator
from collections.abc import Iterator, Mapping
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mamori.kit.errors import RuleCompileError
from mamori.risk.rules.expr import DEFAULT_FUNCTIONS, CompiledExpr, compile_expr

# --------------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------------


class StrictEnv(Mapping[str, Any]):
    """An environment that only supports ``env[key]`` (like the engine's lazy mapping promises),
    raises KeyError for any key it was not given, and records every read."""

    def __init__(self, values: Mapping[str, Any]) -> None:
        self.data = dict(values)
        self.reads: list[str] = []

    def __getitem__(self, key: str) -> Any:
        self.reads.append(key)
        return self.data[key]

    def __iter__(self) -> Iterator[str]:
        raise AssertionError("the generated code must not iterate the environment")

    def __len__(self) -> int:
        raise AssertionError("the generated code must not take len() of the environment")

    def __contains__(self, key: object) -> bool:
        raise AssertionError("the generated code must not use 'in' on the environment")

    def get(self, key: str, default: Any = None) -> Any:
        raise AssertionError("the generated code must not call env.get()")


def run(source: str, env: Mapping[str, Any] | None = None, **kwargs: Any) -> Any:
    return compile_expr(source, **kwargs).evaluate(StrictEnv(env or {}))


def compile_error(source: str, **kwargs: Any) -> RuleCompileError:
    with pytest.raises(RuleCompileError) as info:
        compile_expr(source, **kwargs)
    return info.value


def closure_values(compiled: CompiledExpr) -> list[Any]:
    cells = getattr(compiled.evaluate, "__closure__", None) or ()
    return [cell.cell_contents for cell in cells]


# --------------------------------------------------------------------------------------------------
# Allowed constructs
# --------------------------------------------------------------------------------------------------

LOGIN_ENV = {
    "event.result": "success",
    "event.method": "password",
    "new_device": True,
    "ip_class": "vpn",
    "acct_login_fail_10m": 6,
    "ip_country": "US",
}


@pytest.mark.parametrize(
    ("source", "env", "expected"),
    [
        # the examples analysts write
        (
            'event.result == "success" and new_device and ip_class in ("hosting", "vpn", "tor")',
            LOGIN_ENV,
            True,
        ),
        ('acct_login_fail_10m >= 5 and event.method == "password"', LOGIN_ENV, True),
        (
            "event.amount >= 1_000_000 and secs_since_settings_change < hours(24)",
            {"event.amount": Decimal("2000000"), "secs_since_settings_change": 3600},
            True,
        ),
        (
            'sell_share_of_holdings > 0.8 and not (ip_country == "JP")',
            {"sell_share_of_holdings": 0.9, "ip_country": "JP"},
            False,
        ),
        # boolean operators return the deciding operand, as in Python
        ("a and b", {"a": 1, "b": 2}, 2),
        ("a or b", {"a": 0, "b": 2}, 2),
        ("not a", {"a": 0}, True),
        ("a and b or c", {"a": 1, "b": 0, "c": "x"}, "x"),
        # unary and binary arithmetic
        ("-a", {"a": 3}, -3),
        ("+a", {"a": 3}, 3),
        ("a + b", {"a": 3, "b": 4}, 7),
        ("a - b", {"a": 3, "b": 4}, -1),
        ("a * b", {"a": 3, "b": 4}, 12),
        ("a / b", {"a": 3, "b": 4}, 0.75),
        ("a // b", {"a": 7, "b": 2}, 3),
        ("a % b", {"a": 7, "b": 2}, 1),
        ("a + 2 * b - 1", {"a": 1, "b": 5}, 10),
        ("(a + 2) * b", {"a": 1, "b": 5}, 15),
        ('a + "-suffix"', {"a": "x"}, "x-suffix"),
        # comparisons
        ("a == b", {"a": 1, "b": 1}, True),
        ("a != b", {"a": 1, "b": 1}, False),
        ("a < b", {"a": 1, "b": 2}, True),
        ("a <= b", {"a": 2, "b": 2}, True),
        ("a > b", {"a": 1, "b": 2}, False),
        ("a >= b", {"a": 2, "b": 2}, True),
        ("1 < a < 3", {"a": 2}, True),
        ("1 < a < 3", {"a": 3}, False),
        ("a == b < c", {"a": 1, "b": 1, "c": 2}, True),
        ("a < b == c > d", {"a": 1, "b": 2, "c": 2, "d": 1}, True),
        # membership
        ('ip_class in ("hosting", "vpn")', {"ip_class": "vpn"}, True),
        ('ip_class in ["hosting", "vpn"]', {"ip_class": "tor"}, False),
        ('ip_class in {"hosting", "vpn"}', {"ip_class": "hosting"}, True),
        ('ip_class not in ("hosting", "vpn")', {"ip_class": "tor"}, True),
        ("n in (1, 2, -3)", {"n": -3}, True),
        ("n in ()", {"n": 1}, False),
        ("tag in tags", {"tag": "a", "tags": {"a", "b"}}, True),
        ("tag in event.tags", {"tag": "z", "event.tags": ["a", "b"]}, False),
        ('"@" in event.email', {"event.email": "a@b.jp"}, True),
        ('"ab" in "xaby"', {}, True),
        ("ip_country in high_risk", {"ip_country": "KP"}, True),
        # identity with None
        ("a is None", {"a": None}, True),
        ("a is not None", {"a": None}, False),
        ("None is a", {"a": 1}, False),
        # conditional expression
        ('"big" if a > 10 else "small"', {"a": 11}, "big"),
        ('"big" if a > 10 else "small"', {"a": None}, "small"),
        # constants
        ('"x"', {}, "x"),
        ("1.5", {}, 1.5),
        ("True", {}, True),
        ("None", {}, None),
        ("(1, 2)", {}, (1, 2)),
        ("[1, 2]", {}, (1, 2)),
        # event fields and names
        ("event.amount", {"event.amount": 5}, 5),
        ("new_device", {"new_device": False}, False),
        # functions
        ("abs(a)", {"a": -2}, 2),
        ("min(a, b, 3)", {"a": 5, "b": 4}, 3),
        ("max(a, b)", {"a": 5, "b": 4}, 5),
        ("len(s)", {"s": "abcd"}, 4),
        ("lower(s)", {"s": "ABC"}, "abc"),
        ("upper(s)", {"s": "abc"}, "ABC"),
        ("lower(s)", {"s": None}, None),
        ('startswith(s, "ab")', {"s": "abc"}, True),
        ('startswith(s, ("x", "a"))', {"s": "abc"}, True),
        ('endswith(s, "bc")', {"s": "abc"}, True),
        ('endswith(s, "bc")', {"s": None}, False),
        ('contains(s, "b")', {"s": "abc"}, True),
        ('contains(s, "b")', {"s": None}, False),
        ("seconds(a)", {"a": 5}, 5),
        ("minutes(a)", {"a": 2}, 120),
        ("hours(a)", {"a": 1.5}, 5400.0),
        ("days(a)", {"a": 1}, 86400),
        ("coalesce(a, b, 7)", {"a": None, "b": None}, 7),
        ("coalesce(a, b, 7)", {"a": None, "b": 0}, 0),
        ("coalesce(a)", {"a": None}, None),
        # line breaks, indentation and comments (YAML block scalars)
        ("a and\n  b", {"a": 1, "b": 2}, 2),
        ("  a == 1", {"a": 1}, True),
        ("a == 1  # only on weekdays\n  and b", {"a": 1, "b": True}, True),
        ("a == 1\n", {"a": 1}, True),
        # Japanese text
        ('event.memo == "テスト" and new_device', {"event.memo": "テスト", "new_device": True}, True),
    ],
)
def test_given_allowed_construct_when_evaluated_then_matches_python(
    source: str, env: dict[str, Any], expected: Any
) -> None:
    result = run(source, env, constants={"high_risk": ["KP", "IR"]})
    assert result == expected
    assert type(result) is type(expected)


def test_given_builtins_when_compiled_then_generated_code_has_none() -> None:
    compiled = compile_expr("a + 1")
    globals_ = compiled.evaluate.__globals__
    assert globals_ == {"__builtins__": {}}


def test_given_extra_functions_when_called_then_they_are_whitelisted() -> None:
    compiled = compile_expr("score(a, 2) > 3", functions={"score": lambda x, y: x * y})
    assert compiled.evaluate({"a": 2}) is True


def test_given_caller_function_with_constant_args_when_compiled_then_not_folded() -> None:
    calls: list[int] = []

    def tick(n: int) -> int:
        calls.append(n)
        return n

    compiled = compile_expr("tick(1) == 1", functions={"tick": tick})
    assert calls == []
    assert compiled.evaluate({}) is True
    assert compiled.evaluate({}) is True
    assert calls == [1, 1]


def test_given_default_functions_then_the_documented_set_is_present() -> None:
    assert set(DEFAULT_FUNCTIONS) == {
        "abs",
        "min",
        "max",
        "len",
        "lower",
        "upper",
        "startswith",
        "endswith",
        "contains",
        "seconds",
        "minutes",
        "hours",
        "days",
        "coalesce",
    }


# --------------------------------------------------------------------------------------------------
# None semantics
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("op", ["<", "<=", ">", ">="])
@pytest.mark.parametrize(
    ("left", "right"),
    [(None, 1), (1, None), (None, None), (None, Decimal("1")), ("a", None)],
)
def test_given_a_none_operand_when_ordering_compared_then_false(op: str, left: Any, right: Any) -> None:
    assert run(f"a {op} b", {"a": left, "b": right}) is False
    assert run(f"not (a {op} b)", {"a": left, "b": right}) is True


@pytest.mark.parametrize("op", ["<", "<=", ">", ">="])
def test_given_none_literal_when_ordering_compared_then_false(op: str) -> None:
    assert run(f"a {op} None", {"a": 1}) is False
    assert run(f"None {op} a", {"a": 1}) is False


@pytest.mark.parametrize(
    ("source", "env", "expected"),
    [
        ("a == None", {"a": None}, True),
        ("a != None", {"a": None}, False),
        ("a == b", {"a": None, "b": None}, True),
        ("a != b", {"a": None, "b": 1}, True),
        ("1 < a < 3", {"a": None}, False),
        ("a < b < c", {"a": 1, "b": None, "c": 3}, False),
        ("a < b < c", {"a": 1, "b": 2, "c": None}, False),
        ("a in (1, 2)", {"a": None}, False),
        ("a in (1, None)", {"a": None}, True),
    ],
)
def test_given_missing_values_when_compared_then_none_semantics(
    source: str, env: dict[str, Any], expected: bool
) -> None:
    assert run(source, env) is expected


def test_given_ordering_comparison_when_evaluated_then_each_operand_is_read_once() -> None:
    env = StrictEnv({"a": 1, "b": 2, "c": 3})
    assert compile_expr("a < b <= c").evaluate(env) is True
    assert sorted(env.reads) == ["a", "b", "c"]


# --------------------------------------------------------------------------------------------------
# Numbers: Decimal, float, int
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("op", "func"),
    [
        ("+", operator.add),
        ("-", operator.sub),
        ("*", operator.mul),
        ("/", operator.truediv),
        ("//", operator.floordiv),
        ("%", operator.mod),
    ],
)
def test_given_decimal_and_float_when_combined_then_float_goes_through_str(op: str, func: Any) -> None:
    d, f = Decimal("10.5"), 0.1
    assert run(f"d {op} f", {"d": d, "f": f}) == func(d, Decimal("0.1"))
    assert run(f"f {op} d", {"d": d, "f": f}) == func(Decimal("0.1"), d)
    assert run(f"d {op} 0.1", {"d": d}) == func(d, Decimal("0.1"))
    assert isinstance(run(f"d {op} f", {"d": d, "f": f}), Decimal)


@pytest.mark.parametrize(
    ("source", "env", "expected"),
    [
        ("d * 2", {"d": Decimal("1.25")}, Decimal("2.50")),
        ("d + n", {"d": Decimal("1.25"), "n": 1}, Decimal("2.25")),
        ("n + f", {"n": 1, "f": 0.5}, 1.5),
        ("d * 1.1 > 1000", {"d": Decimal("1000")}, True),
        ("d > 0.8", {"d": Decimal("0.9")}, True),
        ("d == 0.5", {"d": Decimal("0.5")}, True),
    ],
)
def test_given_mixed_numbers_when_evaluated_then_python_rules_apply(
    source: str, env: dict[str, Any], expected: Any
) -> None:
    result = run(source, env)
    assert result == expected
    assert type(result) is type(expected)


@pytest.mark.parametrize(
    ("source", "env", "error"),
    [
        ("a / b", {"a": 1, "b": 0}, ZeroDivisionError),
        ("a // 0", {"a": 1}, ZeroDivisionError),
        ("a / b", {"a": Decimal(1), "b": Decimal(0)}, ZeroDivisionError),
        ("1 / 0", {}, ZeroDivisionError),
        ("a + 1", {"a": None}, TypeError),
        ("a + b", {"a": "x", "b": 1.5}, TypeError),
        ("missing", {}, KeyError),
    ],
)
def test_given_runtime_error_when_evaluated_then_it_is_raised(
    source: str, env: dict[str, Any], error: type[Exception]
) -> None:
    compiled = compile_expr(source)
    with pytest.raises(error):
        compiled.evaluate(StrictEnv(env))


# --------------------------------------------------------------------------------------------------
# Laziness, names, folding, hoisting
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "env"),
    [
        ("a and unread", {"a": False}),
        ("a or unread", {"a": True}),
        ("a > 1 and unread", {"a": 0}),
        ("a > 1 and unread", {"a": None}),
        ("a if b else unread", {"a": 1, "b": True}),
        ("unread if b else a", {"a": 1, "b": False}),
        ("a < b < unread", {"a": 2, "b": 1}),
        ("not (a and unread)", {"a": 0}),
        ("a and event.unread", {"a": 0}),
    ],
)
def test_given_short_circuit_when_evaluated_then_unneeded_names_are_not_read(
    source: str, env: dict[str, Any]
) -> None:
    strict = StrictEnv(env)
    compile_expr(source).evaluate(strict)  # StrictEnv raises KeyError if "unread" is read
    assert not any("unread" in key for key in strict.reads)


@pytest.mark.parametrize(
    ("source", "names"),
    [
        (
            'event.result == "success" and new_device and ip_class in ("hosting", "vpn")',
            {"event.result", "new_device", "ip_class"},
        ),
        ("a < b < a", {"a", "b"}),
        ("hours(24) > coalesce(x, y)", {"x", "y"}),
        ("ip_country in high_risk and limit < event.amount", {"ip_country", "event.amount"}),
        ('"constant"', set()),
    ],
)
def test_given_expression_then_names_lists_every_environment_key(source: str, names: set[str]) -> None:
    compiled = compile_expr(source, constants={"high_risk": frozenset({"KP"}), "limit": 10})
    assert compiled.names == frozenset(names)
    assert compiled.source == source


@pytest.mark.parametrize(
    ("source", "value"),
    [
        ("hours(24)", 86400),
        ("days(1) + minutes(30)", 88200),
        ("-(3) * 2", -6),
        ('lower("ABC")', "abc"),
        ("coalesce(None, 5)", 5),
        ("1 < 2 < 3", True),
        ("not (1 == 2)", True),
        ("1 if True else 2", 1),
        ("1.5 + 1", 2.5),
    ],
)
def test_given_constant_subexpressions_when_compiled_then_folded(source: str, value: Any) -> None:
    compiled = compile_expr(source)
    assert compiled.evaluate(StrictEnv({})) == value
    # folded to one constant: nothing but the constant is left in the lambda
    assert value in compiled.evaluate.__code__.co_consts
    assert closure_values(compiled) == []


def test_given_hours_call_in_comparison_when_compiled_then_folded_to_seconds() -> None:
    compiled = compile_expr("x < hours(24)")
    assert 86400 in compiled.evaluate.__code__.co_consts
    assert closure_values(compiled) == []


def test_given_literal_collection_in_membership_when_compiled_then_frozenset_is_hoisted() -> None:
    compiled = compile_expr('ip_class in ("hosting", "vpn", "tor")')
    assert frozenset({"hosting", "vpn", "tor"}) in closure_values(compiled)


def test_given_constant_list_when_compiled_then_inlined_and_not_read() -> None:
    constants = {"high_risk_countries": ["KP", "IR"]}
    compiled = compile_expr("ip_country in high_risk_countries", constants=constants)
    assert compiled.names == frozenset({"ip_country"})
    assert frozenset({"KP", "IR"}) in closure_values(compiled)
    constants["high_risk_countries"].append("JP")  # compiled once: later edits have no effect
    assert compiled.evaluate(StrictEnv({"ip_country": "JP"})) is False


def test_given_constant_folding_would_fail_when_compiled_then_error_is_left_to_run_time() -> None:
    compiled = compile_expr("1 // 0 if a else 2")
    assert compiled.evaluate({"a": False}) == 2
    with pytest.raises(ZeroDivisionError):
        compiled.evaluate({"a": True})


# --------------------------------------------------------------------------------------------------
# Rejected constructs
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("event.__class__", "'__class__' is not allowed"),
        ("x.__class__.__bases__", "'__bases__' is not allowed"),
        ("__import__('os')", "'__import__' is not allowed"),
        ("__builtins__", "'__builtins__' is not allowed"),
        ("a[0]", "subscripts (x[...]) are not allowed"),
        ("event.tags[0:2]", "subscripts (x[...]) are not allowed"),
        ("lambda: 1", "lambda is not allowed"),
        ("[x for x in y]", "comprehensions are not allowed"),
        ("{x for x in y}", "comprehensions are not allowed"),
        ("{x: 1 for x in y}", "comprehensions are not allowed"),
        ("max(x for x in y)", "generator expressions are not allowed"),
        ("(y := 1)", "assignment expressions (:=) are not allowed"),
        ("f'{x}'", "f-strings are not allowed"),
        ("max(*a)", "'*' unpacking is not allowed"),
        ("(*a, 1)", "'*' unpacking is not allowed"),
        ("min(a, key=b)", "keyword arguments are not allowed"),
        ("max(**a)", "'**' unpacking are not allowed"),
        ("exec('1')", "function 'exec' is not allowed"),
        ("eval('1')", "function 'eval' is not allowed"),
        ("open('/etc/passwd')", "function 'open' is not allowed"),
        ("getattr(event, 'x')", "function 'getattr' is not allowed"),
        ("os.system('ls')", "attribute access is only allowed on 'event' (got 'os.system')"),
        ("user.name", "attribute access is only allowed on 'event' (got 'user.name')"),
        ("'abc'.upper()", "attribute access is only allowed on 'event'"),
        ("event.a.b", "nested attribute access is not allowed (got 'event.a.b')"),
        ("event.email()", "'event.email' is not a function"),
        ("lower(s)(1)", "only named functions can be called"),
        ("x is 5", "'is' / 'is not' can only compare with None"),
        ("x is not y", "'is' / 'is not' can only compare with None"),
        ("x in 5", "'in' needs a collection literal, a name or a constant list"),
        ("x in a + b", "'in' needs a collection literal, a name or a constant list"),
        ("x in limit", "'in' needs a collection literal, a name or a constant list ('limit' is a int)"),
        ("x in (a, b)", "collection literals may only contain constants"),
        ("x == (a, 1)", "collection literals may only contain constants"),
        ("{'a': 1}", "dict literals are not allowed"),
        ("b'x'", "bytes literals are not allowed"),
        ("1j", "complex numbers are not allowed"),
        ("...", "Ellipsis are not allowed"),
        ("x ** 2", "operator '**' is not allowed"),
        ("x & y", "operator '&' is not allowed; use 'and' / 'or'"),
        ("x | y", "operator '|' is not allowed; use 'and' / 'or'"),
        ("x << 2", "operator '<<' is not allowed"),
        ("~x", "operator '~' is not allowed"),
        ("event", "'event' needs a field name"),
        ("hours(1, 2)", "wrong number of arguments for hours()"),
        ("startswith(s)", "wrong number of arguments for startswith()"),
        ("", "empty expression"),
        ("   \n  ", "empty expression"),
        ("# just a comment", "empty expression"),
        ("a ==", "syntax error: unexpected end of expression"),
        ("a) or (b", "syntax error: unmatched ')'"),
        ("(a and\nb", "syntax error: '(' was never closed"),
        ("x = 1", "syntax error"),
        ("import os", "syntax error"),
        ("a\x00", "syntax error: null bytes are not allowed"),
    ],
)
def test_given_forbidden_construct_when_compiled_then_rule_compile_error(source: str, message: str) -> None:
    error = compile_error(source, constants={"limit": 5})
    assert message in error.message
    assert error.code == "mamori.rules.compile_error"
    assert set(error.details) == {"file", "line", "column", "source"}
    assert error.details["source"] == source


@pytest.mark.parametrize(
    ("kwargs", "source", "message"),
    [
        (
            {"allowed_names": frozenset({"new_device", "ip_class"}).__contains__},
            "new_devcie",
            "unknown name 'new_devcie'; did you mean 'new_device'?",
        ),
        (
            {"allowed_names": lambda n: n in {"new_device"}, "known_names": ["new_device"]},
            "new_devcie",
            "unknown name 'new_devcie'; did you mean 'new_device'?",
        ),
        (
            {"allowed_names": {"event.amount"}.__contains__},
            "event.amout > 1",
            "unknown name 'event.amout'; did you mean 'event.amount'?",
        ),
        ({"allowed_names": lambda n: False}, "zzz", "unknown name 'zzz'"),
        ({}, "hour(3)", "function 'hour' is not allowed; did you mean 'hours'?"),
    ],
)
def test_given_unknown_name_when_compiled_then_error_suggests_a_close_match(
    kwargs: dict[str, Any], source: str, message: str
) -> None:
    assert compile_error(source, **kwargs).message == message


def test_given_allowed_names_when_names_are_known_then_compiles() -> None:
    allowed = frozenset({"new_device", "event.amount"})
    compiled = compile_expr("new_device and event.amount > 5", allowed_names=allowed.__contains__)
    assert compiled.names == allowed


def test_given_constant_or_function_names_then_they_bypass_allowed_names() -> None:
    compiled = compile_expr(
        "x in hot and hours(1) > 0", allowed_names={"x"}.__contains__, constants={"hot": ("a",)}
    )
    assert compiled.evaluate({"x": "a"}) is True


# --------------------------------------------------------------------------------------------------
# Error positions
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "line", "column", "expected_line", "expected_column"),
    [
        # offending token on the first source line: offset by `column`
        ("new_device and exec(1)", 1, 1, 1, 16),
        ("new_device and exec(1)", 12, 9, 12, 24),
        ("a and event.__class__", 3, 7, 3, 19),  # points at the attribute name
        ("x == 'テスト' and ~y", 1, 1, 1, 16),  # columns count characters, not UTF-8 bytes
        ("min(a, key=b)", 5, 1, 5, 8),
        ("x is 5", 5, 1, 5, 6),
        # syntax errors: where Python reports them
        ("x == 'テスト' and )", 2, 3, 2, 18),
        ("a ==", 2, 3, 2, 7),  # end of the expression
        ("a) or (b", 1, 1, 1, 2),
        # later lines start at column 1 of the file
        ("a and\n   b\n  and c.d", 3, 9, 5, 7),
        ("new_device\nand exec(1)", 10, 15, 11, 5),
        ("a and\n  b ==", 4, 9, 5, 7),
        ("a and\n  b[0]", 4, 9, 5, 3),
        ("x > 1 and\n  'テ' == y and\n  __import__('os')", 20, 7, 22, 3),
    ],
)
def test_given_error_when_compiled_then_position_is_in_file_coordinates(
    source: str, line: int, column: int, expected_line: int, expected_column: int
) -> None:
    error = compile_error(source, origin="rules/ato.yaml", line=line, column=column)
    assert error.details["file"] == "rules/ato.yaml"
    assert (error.details["line"], error.details["column"]) == (expected_line, expected_column)


def test_given_multiline_unknown_name_when_compiled_then_position_and_suggestion() -> None:
    source = 'event.result == "success"\n  and new_devcie\n  and ip_class in ("vpn", "tor")'
    error = compile_error(
        source,
        allowed_names=lambda n: n in {"event.result", "new_device", "ip_class"},
        known_names=["event.result", "new_device", "ip_class"],
        origin="rules/ato.yaml",
        line=8,
        column=11,
    )
    assert error.message == "unknown name 'new_devcie'; did you mean 'new_device'?"
    assert error.details == {"file": "rules/ato.yaml", "line": 9, "column": 7, "source": source}


# --------------------------------------------------------------------------------------------------
# Agreement with Python
# --------------------------------------------------------------------------------------------------

_VARS = {"a": 3, "b": -7, "c": 0, "d": 12}


def _leaves() -> st.SearchStrategy[str]:
    return st.one_of(st.integers(min_value=-20, max_value=20).map(str), st.sampled_from(sorted(_VARS)))


def _combine(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    binary = st.tuples(
        children,
        st.sampled_from(["+", "-", "*", "/", "//", "%", "<", "<=", ">", ">=", "==", "!=", "and", "or"]),
        children,
    ).map(lambda t: f"{t[0]} {t[1]} {t[2]}")
    parenthesised = children.map(lambda s: f"({s})")
    unary = st.tuples(st.sampled_from(["-", "+", "not "]), children).map(lambda t: f"({t[0]}({t[1]}))")
    ternary = st.tuples(children, children, children).map(lambda t: f"({t[0]} if {t[1]} else {t[2]})")
    return st.one_of(binary, parenthesised, unary, ternary)


_EXPRESSIONS = st.recursive(_leaves(), _combine, max_leaves=12)


def _outcome(thunk: Any) -> tuple[str, Any]:
    try:
        value = thunk()
    except (SyntaxError, RuleCompileError) as exc:
        return ("rejected", isinstance(exc, SyntaxError) or exc.message.startswith("syntax error"))
    except Exception as exc:
        return ("raises", type(exc))
    return (type(value).__name__, value)


@settings(max_examples=400, deadline=None)
@given(_EXPRESSIONS)
def test_given_random_int_expression_when_evaluated_then_agrees_with_python_eval(text: str) -> None:
    expected = _outcome(lambda: eval(text, {"__builtins__": {}}, dict(_VARS)))
    actual = _outcome(lambda: compile_expr(text).evaluate(StrictEnv(_VARS)))
    assert actual == expected, text
