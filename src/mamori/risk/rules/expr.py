"""The safe rule expression language (``when:`` conditions in rule files).

A rule condition is a strict, whitelisted subset of Python expression syntax::

    event.result == "success" and new_device and ip_class in ("hosting", "vpn", "tor")
    event.amount >= 1_000_000 and secs_since_settings_change < hours(24)

:func:`compile_expr` parses the text with :mod:`ast`, rejects every node that is not on the
whitelist, and generates the Python source of one lambda which is compiled **once**; evaluating a
rule is then a single native call (this is the hot path of the engine). The generated code:

* reads the environment only as ``env[key]`` (``foo`` -> ``env["foo"]``, ``event.bar`` ->
  ``env["event.bar"]``), so the engine's lazy mapping computes a feature only when a rule reads it;
  user identifiers never become Python identifiers;
* runs with ``{"__builtins__": {}}`` as globals; constants, functions and helpers are closure
  variables of the generated lambda;
* makes ordering comparisons (``< <= > >=``) ``False`` when either side is ``None``, without
  evaluating any operand twice;
* mixes :class:`decimal.Decimal` and ``float`` in arithmetic by converting the float with
  ``Decimal(str(x))``;
* hoists collection literals out of the lambda (a ``frozenset`` for ``in`` tests).

The analyst-facing reference is ``docs/rule-language.md``.
"""

from __future__ import annotations

import ast
import contextlib
import difflib
import inspect
import io
import math
import re
import tokenize
from collections.abc import Callable, Collection, Iterable, Mapping, Set
from dataclasses import dataclass
from decimal import Decimal
from types import MappingProxyType
from typing import Any, NoReturn

from mamori.kit.errors import RuleCompileError

__all__ = ["DEFAULT_FUNCTIONS", "CompiledExpr", "compile_expr"]


@dataclass(frozen=True, slots=True)
class CompiledExpr:
    """A compiled condition. ``evaluate(env)`` returns the expression's value."""

    source: str
    names: frozenset[str]  # every environment key the expression may read ("new_device", "event.result")
    evaluate: Callable[[Mapping[str, Any]], Any]


# --------------------------------------------------------------------------------------------------
# Runtime helpers (also used for constant folding, so folded and evaluated results always agree)
# --------------------------------------------------------------------------------------------------


def _coerce(a: Any, b: Any, exc: TypeError) -> tuple[Any, Any]:
    """Decimal op float: convert the float through ``str`` (``Decimal(0.1)`` would be inexact)."""
    if isinstance(a, Decimal) and isinstance(b, float):
        return a, Decimal(str(b))
    if isinstance(a, float) and isinstance(b, Decimal):
        return Decimal(str(a)), b
    raise exc


def _add(a: Any, b: Any) -> Any:
    try:
        return a + b
    except TypeError as exc:
        x, y = _coerce(a, b, exc)
        return x + y


def _sub(a: Any, b: Any) -> Any:
    try:
        return a - b
    except TypeError as exc:
        x, y = _coerce(a, b, exc)
        return x - y


def _mul(a: Any, b: Any) -> Any:
    try:
        return a * b
    except TypeError as exc:
        x, y = _coerce(a, b, exc)
        return x * y


def _truediv(a: Any, b: Any) -> Any:
    try:
        return a / b
    except TypeError as exc:
        x, y = _coerce(a, b, exc)
        return x / y


def _floordiv(a: Any, b: Any) -> Any:
    try:
        return a // b
    except TypeError as exc:
        x, y = _coerce(a, b, exc)
        return x // y


def _mod(a: Any, b: Any) -> Any:
    try:
        return a % b
    except TypeError as exc:
        x, y = _coerce(a, b, exc)
        return x % y


# ast operator type -> (symbol, helper name, helper)
_BINOPS: dict[type[ast.operator], tuple[str, str, Callable[[Any, Any], Any]]] = {
    ast.Add: ("+", "_add", _add),
    ast.Sub: ("-", "_sub", _sub),
    ast.Mult: ("*", "_mul", _mul),
    ast.Div: ("/", "_truediv", _truediv),
    ast.FloorDiv: ("//", "_floordiv", _floordiv),
    ast.Mod: ("%", "_mod", _mod),
}

_REJECTED_BINOPS: dict[type[ast.operator], str] = {
    ast.Pow: "**",
    ast.MatMult: "@",
    ast.BitAnd: "&",
    ast.BitOr: "|",
    ast.BitXor: "^",
    ast.LShift: "<<",
    ast.RShift: ">>",
}

_ORDERING: dict[type[ast.cmpop], str] = {ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">="}
_EQUALITY: dict[type[ast.cmpop], str] = {ast.Eq: "==", ast.NotEq: "!="}
_MEMBERSHIP: dict[type[ast.cmpop], str] = {ast.In: "in", ast.NotIn: "not in"}
_IDENTITY: dict[type[ast.cmpop], str] = {ast.Is: "is", ast.IsNot: "is not"}


def _compare(op: str, a: Any, b: Any) -> Any:
    """One comparison with the language's semantics (used for folding constant comparisons)."""
    if op in ("<", "<=", ">", ">="):
        if a is None or b is None:
            return False
        if op == "<":
            return a < b
        if op == "<=":
            return a <= b
        if op == ">":
            return a > b
        return a >= b
    if op == "==":
        return a == b
    if op == "!=":
        return a != b
    if op == "in":
        return a in b
    if op == "not in":
        return a not in b
    if op == "is":
        return a is b
    return a is not b


# --------------------------------------------------------------------------------------------------
# Default functions
# --------------------------------------------------------------------------------------------------


def _lower(s: Any) -> Any:
    """``lower(s)``: lower-cased string; ``None`` stays ``None``."""
    return None if s is None else str(s).lower()


def _upper(s: Any) -> Any:
    """``upper(s)``: upper-cased string; ``None`` stays ``None``."""
    return None if s is None else str(s).upper()


def _startswith(s: Any, prefix: Any) -> bool:
    """``startswith(s, prefix)``: ``prefix`` may be a tuple of prefixes; ``None`` -> False."""
    if s is None or prefix is None:
        return False
    return str(s).startswith(prefix)


def _endswith(s: Any, suffix: Any) -> bool:
    """``endswith(s, suffix)``: ``suffix`` may be a tuple of suffixes; ``None`` -> False."""
    if s is None or suffix is None:
        return False
    return str(s).endswith(suffix)


def _contains(s: Any, sub: Any) -> bool:
    """``contains(s, sub)``: ``sub in s``; ``None`` on either side -> False."""
    if s is None or sub is None:
        return False
    return bool(sub in s)


def _seconds(n: Any) -> Any:
    return n


def _minutes(n: Any) -> Any:
    return n * 60


def _hours(n: Any) -> Any:
    return n * 3600


def _days(n: Any) -> Any:
    return n * 86400


def _coalesce(*values: Any) -> Any:
    """``coalesce(a, b, ...)``: the first argument that is not ``None`` (else ``None``)."""
    for value in values:
        if value is not None:
            return value
    return None


DEFAULT_FUNCTIONS: Mapping[str, Callable[..., Any]] = MappingProxyType(
    {
        "abs": abs,
        "min": min,
        "max": max,
        "len": len,
        "lower": _lower,
        "upper": _upper,
        "startswith": _startswith,
        "endswith": _endswith,
        "contains": _contains,
        "seconds": _seconds,
        "minutes": _minutes,
        "hours": _hours,
        "days": _days,
        "coalesce": _coalesce,
    }
)

# Folding a string/tuple repetition or a %-format could build a huge value at compile time (the
# compiler runs on uploaded rule files); such expressions are left to run-time instead.
_MAX_FOLDED_LEN = 4096


# --------------------------------------------------------------------------------------------------
# Code generation
# --------------------------------------------------------------------------------------------------

_NO_VALUE: Any = object()


@dataclass(slots=True)
class _Code:
    """Generated Python text for one node; ``value`` is set when the node is a compile-time
    constant (``text`` then reads that constant)."""

    text: str
    value: Any = _NO_VALUE

    @property
    def const(self) -> bool:
        return self.value is not _NO_VALUE


_INLINE_INT_LIMIT = 2**63


def _literal_text(value: Any) -> str | None:
    """Python source for ``value`` if it can be written inline, else None (it gets hoisted)."""
    if value is None or value is True or value is False:
        return repr(value)
    if type(value) is int and -_INLINE_INT_LIMIT < value < _INLINE_INT_LIMIT:
        return repr(value)
    if type(value) is float and math.isfinite(value):
        return repr(value)
    if type(value) is str:
        return repr(value)
    return None


def _freeze(value: Any) -> Any:
    """A read-only version of a caller-supplied constant (hoisted values are shared by every call)."""
    if isinstance(value, list | tuple):
        return tuple(value)
    if isinstance(value, Set) and not isinstance(value, frozenset):
        return frozenset(value)
    if isinstance(value, dict):
        return MappingProxyType(dict(value))
    return value


def _is_dunder(name: str) -> bool:
    return name.startswith("__") and name.endswith("__") and len(name) > 4


_REJECTED_NODES: dict[type[ast.AST], str] = {
    ast.Subscript: "subscripts (x[...]) are not allowed",
    ast.Slice: "slices are not allowed",
    ast.Lambda: "lambda is not allowed",
    ast.ListComp: "comprehensions are not allowed",
    ast.SetComp: "comprehensions are not allowed",
    ast.DictComp: "comprehensions are not allowed",
    ast.GeneratorExp: "generator expressions are not allowed",
    ast.NamedExpr: "assignment expressions (:=) are not allowed",
    ast.JoinedStr: "f-strings are not allowed",
    ast.FormattedValue: "f-strings are not allowed",
    ast.Starred: "'*' unpacking is not allowed",
    ast.Dict: "dict literals are not allowed",
    ast.Await: "'await' is not allowed",
    ast.Yield: "'yield' is not allowed",
    ast.YieldFrom: "'yield' is not allowed",
}


class _Compiler:
    def __init__(
        self,
        source: str,
        *,
        allowed_names: Callable[[str], bool] | None,
        known_names: Iterable[str] | None,
        constants: Mapping[str, Any],
        functions: Mapping[str, Callable[..., Any]],
        origin: str,
        line: int,
        column: int,
    ) -> None:
        self.source = source
        self.lines = re.split(r"\r\n|\r|\n", source)
        self.allowed_names = allowed_names
        self.known_names = known_names
        self.constants = constants
        self.functions = functions
        self.origin = origin
        self.line = line
        self.column = column
        self.line_shift = 0  # source line = ast lineno - line_shift
        self.names: set[str] = set()
        self.params: dict[str, Any] = {}  # closure variable name -> value
        self.const_count = 0
        self.function_vars: dict[str, str] = {}
        self.temp_count = 0

    # -- errors -------------------------------------------------------------------------------------

    def fail_at(self, message: str, src_line: int, char_col: int) -> NoReturn:
        """Raise with a 1-based ``src_line`` of the source and a 0-based character column."""
        src_line = max(1, min(src_line, len(self.lines)))
        char_col = max(0, char_col)
        file_line = self.line + src_line - 1
        file_column = self.column + char_col if src_line == 1 else char_col + 1
        raise RuleCompileError(
            message,
            details={"file": self.origin, "line": file_line, "column": file_column, "source": self.source},
        )

    def char_col(self, src_line: int, byte_col: int) -> int:
        if not 1 <= src_line <= len(self.lines):
            return byte_col
        text = self.lines[src_line - 1]
        return len(text.encode("utf-8")[:byte_col].decode("utf-8", errors="ignore"))

    def fail(self, message: str, node: ast.AST, *, byte_col: int | None = None) -> NoReturn:
        lineno = getattr(node, "lineno", 1 + self.line_shift)
        col = getattr(node, "col_offset", 0) if byte_col is None else byte_col
        src_line = lineno - self.line_shift
        if src_line < 1:  # the wrapping parenthesis added for multi-line sources
            self.fail_at(message, 1, 0)
        self.fail_at(message, src_line, self.char_col(src_line, col))

    def fail_attr(self, message: str, node: ast.Attribute) -> NoReturn:
        """Point at the attribute name itself (``event.__class__`` -> the ``__class__``)."""
        end_line = node.end_lineno if node.end_lineno is not None else node.lineno
        end_col = node.end_col_offset if node.end_col_offset is not None else node.col_offset
        start = end_col - len(node.attr.encode("utf-8"))
        if start < 0:
            self.fail(message, node)
        src_line = end_line - self.line_shift
        self.fail_at(message, src_line, self.char_col(src_line, start))

    def suggestion(self, name: str, candidates: Iterable[str]) -> str:
        matches = difflib.get_close_matches(name, sorted(set(candidates)), n=1, cutoff=0.6)
        return f"; did you mean {matches[0]!r}?" if matches else ""

    def name_candidates(self) -> list[str]:
        pool: list[str] = list(self.constants)
        known: Any = self.known_names
        if known is None:
            # ``allowed_names=frozenset(...).__contains__`` (or a set passed as-is): use the set.
            owner = getattr(self.allowed_names, "__self__", self.allowed_names)
            if isinstance(owner, Collection) and not isinstance(owner, str):
                known = owner
        if known is not None:
            pool.extend(n for n in known if isinstance(n, str))
        return pool

    # -- parsing ------------------------------------------------------------------------------------

    def parse(self) -> ast.expr:
        source = self.source
        if not source.strip():
            self.fail_at("empty expression", 1, 0)
        if "\x00" in source:
            index = source.index("\x00")
            before = source[:index]
            column = len(before.rsplit("\n", 1)[-1])
            self.fail_at("syntax error: null bytes are not allowed", before.count("\n") + 1, column)
        try:
            tree = ast.parse(source, mode="eval")
        except SyntaxError as original:
            tree = self.parse_wrapped(original)
        except (RecursionError, MemoryError):
            self.fail_at("expression is too deeply nested", 1, 0)
        return tree.body

    def parse_wrapped(self, original: SyntaxError) -> ast.Expression:
        """Multi-line sources (YAML block scalars) and leading indentation: parse inside an
        implicit pair of parentheses on their own lines, so line numbers shift by exactly one."""
        wrapped = "(\n" + self.source + "\n)"
        try:
            tree = ast.parse(wrapped, mode="eval")
        except SyntaxError as exc:
            if original.msg.startswith(("unmatched", "unterminated", "'", "closing parenthesis")):
                self.syntax_error(original)  # bracket/string errors: the implicit parentheses would mislead
            last = len(self.lines)
            if exc.lineno == last + 2:  # stumbled on the implicit closing parenthesis
                self.fail_at("syntax error: unexpected end of expression", last, len(self.lines[-1]))
            if exc.lineno is not None and 2 <= exc.lineno <= last + 1:
                self.line_shift = 1
                self.syntax_error(exc)
            self.syntax_error(original)  # about the implicit opening parenthesis: report the original
        except (RecursionError, MemoryError):
            self.fail_at("expression is too deeply nested", 1, 0)
        if not self.wrapper_is_balanced(wrapped):
            self.syntax_error(original)
        self.line_shift = 1
        if isinstance(tree.body, ast.Tuple) and not tree.body.elts and tree.body.lineno == 1:
            self.fail_at("empty expression", 1, 0)  # only a comment
        return tree

    @staticmethod
    def wrapper_is_balanced(wrapped: str) -> bool:
        """``a) or (b`` must not become ``(a) or (b)``: the implicit parenthesis opened first must
        be the one closed last."""
        depth = 0
        try:
            tokens = list(tokenize.generate_tokens(io.StringIO(wrapped).readline))
        except (tokenize.TokenError, SyntaxError):
            return False
        closers = [t for t in tokens if t.type == tokenize.OP and t.string in ")]}"]
        last_closer = closers[-1] if closers else None
        for token in tokens:
            if token.type != tokenize.OP:
                continue
            if token.string in "([{":
                depth += 1
            elif token.string in ")]}":
                depth -= 1
                if depth == 0 and token is not last_closer:
                    return False
        return True

    def syntax_error(self, exc: SyntaxError) -> NoReturn:
        lineno = (exc.lineno or 1) - self.line_shift
        offset = (exc.offset or 1) - 1  # SyntaxError.offset is 1-based, in characters
        if lineno > len(self.lines):
            lineno, offset = len(self.lines), len(self.lines[-1])
        elif lineno < 1:
            lineno, offset = 1, 0
        self.fail_at(f"syntax error: {exc.msg}", lineno, offset)

    # -- helpers for emitted code -------------------------------------------------------------------

    def hoist(self, value: Any) -> str:
        var = f"_k{self.const_count}"
        self.const_count += 1
        self.params[var] = value
        return var

    def const(self, value: Any) -> _Code:
        text = _literal_text(value)
        return _Code(text if text is not None else self.hoist(value), value)

    def helper(self, name: str, func: Callable[..., Any]) -> str:
        self.params[name] = func
        return name

    def temp(self) -> str:
        self.temp_count += 1
        return f"_t{self.temp_count}"

    def env_read(self, key: str) -> _Code:
        self.names.add(key)
        return _Code(f"_e[{key!r}]")

    # -- visitor ------------------------------------------------------------------------------------

    def visit(self, node: ast.expr) -> _Code:
        if isinstance(node, ast.Constant):
            return self.visit_constant(node)
        if isinstance(node, ast.Name):
            return self.visit_name(node)
        if isinstance(node, ast.Attribute):
            return self.visit_attribute(node)
        if isinstance(node, ast.BoolOp):
            return self.visit_boolop(node)
        if isinstance(node, ast.UnaryOp):
            return self.visit_unaryop(node)
        if isinstance(node, ast.BinOp):
            return self.visit_binop(node)
        if isinstance(node, ast.Compare):
            return self.visit_compare(node)
        if isinstance(node, ast.IfExp):
            return self.visit_ifexp(node)
        if isinstance(node, ast.Call):
            return self.visit_call(node)
        if isinstance(node, ast.Tuple | ast.List | ast.Set):
            return self.visit_collection(node, for_membership=False)
        message = _REJECTED_NODES.get(type(node), f"{type(node).__name__} expressions are not allowed")
        self.fail(message, node)

    def visit_constant(self, node: ast.Constant) -> _Code:
        value = node.value
        if value is None or isinstance(value, bool | int | float | str):
            return self.const(value)
        kind = {bytes: "bytes literals", complex: "complex numbers"}.get(type(value), repr(value))
        self.fail(f"{kind} are not allowed", node)

    def visit_name(self, node: ast.Name) -> _Code:
        name = node.id
        if _is_dunder(name):
            self.fail(f"{name!r} is not allowed", node)
        if name in self.constants:
            return self.const(_freeze(self.constants[name]))
        if name == "event":
            self.fail("'event' needs a field name, e.g. event.amount", node)
        self.check_allowed(name, node)
        return self.env_read(name)

    def check_allowed(self, key: str, node: ast.AST) -> None:
        if self.allowed_names is None or self.allowed_names(key):
            return
        self.fail(f"unknown name {key!r}" + self.suggestion(key, self.name_candidates()), node)

    def visit_attribute(self, node: ast.Attribute) -> _Code:
        if _is_dunder(node.attr):
            self.fail_attr(f"{node.attr!r} is not allowed", node)
        value = node.value
        if isinstance(value, ast.Attribute):
            root: ast.expr = value
            while isinstance(root, ast.Attribute):
                root = root.value
            if isinstance(root, ast.Name) and root.id == "event":
                self.fail(
                    f"nested attribute access is not allowed (got {ast.unparse(node)!r}); use event.<field>",
                    node,
                )
        if not (isinstance(value, ast.Name) and value.id == "event"):
            self.fail(f"attribute access is only allowed on 'event' (got {ast.unparse(node)!r})", node)
        key = f"event.{node.attr}"
        self.check_allowed(key, node)
        return self.env_read(key)

    def visit_boolop(self, node: ast.BoolOp) -> _Code:
        parts = [self.visit(v) for v in node.values]
        joiner = " and " if isinstance(node.op, ast.And) else " or "
        if all(p.const for p in parts):
            result = parts[0].value
            is_and = isinstance(node.op, ast.And)
            for part in parts[1:]:
                result = (result and part.value) if is_and else (result or part.value)
            return self.const(result)
        return _Code("(" + joiner.join(p.text for p in parts) + ")")

    def visit_unaryop(self, node: ast.UnaryOp) -> _Code:
        operand = self.visit(node.operand)
        if isinstance(node.op, ast.Not):
            symbol = "not "
        elif isinstance(node.op, ast.USub):
            symbol = "-"
        elif isinstance(node.op, ast.UAdd):
            symbol = "+"
        else:
            self.fail("operator '~' is not allowed", node)
        if operand.const:
            try:
                if symbol == "not ":
                    return self.const(not operand.value)
                return self.const(-operand.value if symbol == "-" else +operand.value)
            except Exception:  # noqa: S110 - not foldable: it raises at run time like Python would
                pass
        return _Code(f"({symbol}{operand.text})")

    def visit_binop(self, node: ast.BinOp) -> _Code:
        spec = _BINOPS.get(type(node.op))
        if spec is None:
            symbol = _REJECTED_BINOPS.get(type(node.op), type(node.op).__name__)
            hint = "; use 'and' / 'or'" if symbol in ("&", "|") else ""
            self.fail(f"operator {symbol!r} is not allowed{hint}", node)
        symbol, helper_name, helper = spec
        left = self.visit(node.left)
        right = self.visit(node.right)
        if left.const and right.const and self.foldable_binop(symbol, left.value, right.value):
            try:
                return self.const(helper(left.value, right.value))
            except Exception:  # noqa: S110 - e.g. 1 // 0: left to raise at run time
                pass
        # An int/bool/str constant on either side can never meet the Decimal/float problem, so the
        # plain operator is used; otherwise the helper converts float <-> Decimal when needed.
        plain = any(p.const and type(p.value) in (int, bool, str) for p in (left, right))
        if plain:
            return _Code(f"({left.text} {symbol} {right.text})")
        name = self.helper(helper_name, helper)
        return _Code(f"{name}({left.text}, {right.text})")

    @staticmethod
    def foldable_binop(symbol: str, a: Any, b: Any) -> bool:
        if symbol == "%" and isinstance(a, str):
            return False  # %-formatting can build arbitrarily wide strings ("%*d")
        if symbol == "*":
            for seq, count in ((a, b), (b, a)):
                if isinstance(seq, str | tuple) and isinstance(count, int):
                    return len(seq) * max(count, 0) <= _MAX_FOLDED_LEN
        return True

    def visit_ifexp(self, node: ast.IfExp) -> _Code:
        test = self.visit(node.test)
        body = self.visit(node.body)
        orelse = self.visit(node.orelse)
        if test.const and body.const and orelse.const:
            return self.const(body.value if test.value else orelse.value)
        return _Code(f"({body.text} if {test.text} else {orelse.text})")

    def visit_call(self, node: ast.Call) -> _Code:
        func = node.func
        if isinstance(func, ast.Attribute):
            self.visit_attribute(func)  # raises for anything but event.<field>
            self.fail(f"{ast.unparse(func)!r} is not a function; methods cannot be called", func)
        if not isinstance(func, ast.Name):
            self.fail("only named functions can be called, e.g. lower(event.email)", func)
        name = func.id
        if _is_dunder(name):
            self.fail(f"{name!r} is not allowed", func)
        target = self.functions.get(name)
        if target is None:
            message = f"function {name!r} is not allowed" + self.suggestion(name, self.functions)
            self.fail(message, func)
        if node.keywords:
            keyword = node.keywords[0]
            what = "'**' unpacking" if keyword.arg is None else "keyword arguments"
            self.fail(f"{what} are not allowed in calls", keyword)
        for arg in node.args:
            if isinstance(arg, ast.Starred):
                self.fail("'*' unpacking is not allowed", arg)
        self.check_arity(name, target, len(node.args), node)
        args = [self.visit(a) for a in node.args]
        if all(a.const for a in args) and DEFAULT_FUNCTIONS.get(name) is target:
            try:
                return self.const(target(*(a.value for a in args)))
            except Exception:  # noqa: S110 - not foldable: it raises at run time like Python would
                pass
        var = self.function_vars.get(name)
        if var is None:
            var = f"_f{len(self.function_vars)}"
            self.function_vars[name] = var
            self.params[var] = target
        return _Code(f"{var}({', '.join(a.text for a in args)})")

    def check_arity(self, name: str, target: Callable[..., Any], count: int, node: ast.AST) -> None:
        try:
            signature = inspect.signature(target)
        except (TypeError, ValueError):
            return  # builtins such as min/max have no introspectable signature
        try:
            signature.bind(*([None] * count))
        except TypeError as exc:
            self.fail(f"wrong number of arguments for {name}(): {exc}", node)

    def visit_collection(self, node: ast.Tuple | ast.List | ast.Set, *, for_membership: bool) -> _Code:
        values = []
        for element in node.elts:
            if isinstance(element, ast.Starred):
                self.fail("'*' unpacking is not allowed", element)
            code = self.visit(element)
            if not code.const:
                self.fail("collection literals may only contain constants", element)
            values.append(code.value)
        if for_membership or isinstance(node, ast.Set):
            try:
                return _Code(self.hoist(frozenset(values)), frozenset(values))
            except TypeError:
                pass
        return _Code(self.hoist(tuple(values)), tuple(values))

    def visit_container(self, node: ast.expr) -> _Code:
        """The right-hand side of ``in`` / ``not in``."""
        if isinstance(node, ast.Tuple | ast.List | ast.Set):
            return self.visit_collection(node, for_membership=True)
        if isinstance(node, ast.Name) and node.id in self.constants:
            value = _freeze(self.constants[node.id])
            if isinstance(value, tuple | Set | Mapping):
                with contextlib.suppress(TypeError):  # unhashable members: keep the tuple
                    value = frozenset(value)
            elif not isinstance(value, str | Collection):
                self.fail(
                    f"'in' needs a collection literal, a name or a constant list "
                    f"({node.id!r} is a {type(value).__name__})",
                    node,
                )
            return self.const(value)
        if isinstance(node, ast.Name | ast.Attribute):
            return self.visit(node)
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return self.visit(node)
        self.fail("'in' needs a collection literal, a name or a constant list", node)

    def visit_compare(self, node: ast.Compare) -> _Code:
        ops: list[str] = []
        operands: list[_Code] = [self.visit(node.left)]
        for cmpop, comparator in zip(node.ops, node.comparators, strict=True):
            op_type = type(cmpop)
            if op_type in _MEMBERSHIP:
                operands.append(self.visit_container(comparator))
                ops.append(_MEMBERSHIP[op_type])
                continue
            operands.append(self.visit(comparator))
            if op_type in _IDENTITY:
                left_none = operands[-2].const and operands[-2].value is None
                right_none = operands[-1].const and operands[-1].value is None
                if not (left_none or right_none):
                    message = "'is' / 'is not' can only compare with None (e.g. x is None); use =="
                    self.fail(message, comparator)
                ops.append(_IDENTITY[op_type])
            elif op_type in _ORDERING:
                ops.append(_ORDERING[op_type])
            else:
                ops.append(_EQUALITY[op_type])

        if all(o.const for o in operands):
            folded = self.fold_compare(ops, [o.value for o in operands])
            if folded is not _NO_VALUE:
                return self.const(folded)

        # Each operand is evaluated at most once: an operand that is read more than once (the middle
        # of a chain, or a side of a None-safe ordering comparison) is bound to a lambda-local temp.
        count = len(operands)
        uses = [0] * count
        for i, op in enumerate(ops):
            per_side = 2 if op in ("<", "<=", ">", ">=") else 1
            uses[i] += per_side
            uses[i + 1] += per_side
        temps: list[str | None] = [
            self.temp() if not operands[i].const and uses[i] > 1 else None for i in range(count)
        ]
        emitted = [False] * count
        checked = [False] * count  # known not to be None at this point of the conjunction

        def ref(i: int) -> str:
            temp = temps[i]
            if temp is None:
                return operands[i].text
            if emitted[i]:
                return temp
            emitted[i] = True
            return f"({temp} := {operands[i].text})"

        parts: list[str] = []
        for i, op in enumerate(ops):
            left, right = operands[i], operands[i + 1]
            if op in ("<", "<=", ">", ">="):
                if (left.const and left.value is None) or (right.const and right.value is None):
                    parts.append("False")  # ordering against a literal None is always False
                    break
                guards = []
                for j in (i, i + 1):
                    if not operands[j].const and not checked[j]:
                        guards.append(f"{ref(j)} is not None")
                        checked[j] = True
                parts.append(" and ".join([*guards, f"{ref(i)} {op} {ref(i + 1)}"]))
            else:
                parts.append(f"{ref(i)} {op} {ref(i + 1)}")
        return _Code("(" + " and ".join(parts) + ")")

    @staticmethod
    def fold_compare(ops: list[str], values: list[Any]) -> Any:
        try:
            result: Any = True
            for i, op in enumerate(ops):
                result = _compare(op, values[i], values[i + 1])
                if not result:
                    return result
            return result
        except Exception:
            return _NO_VALUE

    # -- entry point --------------------------------------------------------------------------------

    def compile(self) -> CompiledExpr:
        tree = self.parse()
        try:
            body = self.visit(tree)
        except RecursionError:
            self.fail_at("expression is too deeply nested", 1, 0)
        params = list(self.params)
        code_text = f"lambda {', '.join(params)}: lambda _e: {body.text}"
        filename = f"<rule {self.origin}:{self.line}>"
        try:
            code = compile(code_text, filename, "eval")
        except (RecursionError, MemoryError, SyntaxError, ValueError):
            self.fail_at("expression is too complex", 1, 0)
        # The code object is generated from the whitelisted AST above (user identifiers only ever
        # appear as string keys), and runs with builtins disabled: this eval is the compiler's one
        # intentional use of dynamic code.
        factory = eval(code, {"__builtins__": {}})  # noqa: S307
        evaluate: Callable[[Mapping[str, Any]], Any] = factory(*(self.params[p] for p in params))
        return CompiledExpr(source=self.source, names=frozenset(self.names), evaluate=evaluate)


def compile_expr(
    source: str,
    *,
    allowed_names: Callable[[str], bool] | None = None,
    constants: Mapping[str, Any] | None = None,
    functions: Mapping[str, Callable[..., Any]] | None = None,
    origin: str = "<expr>",
    line: int = 1,
    column: int = 1,
    known_names: Iterable[str] | None = None,
) -> CompiledExpr:
    """Compile one rule expression.

    ``allowed_names`` decides which environment keys may be read (``"new_device"``,
    ``"event.amount"``); None allows any name. ``known_names`` (or the set behind
    ``allowed_names=some_set.__contains__``) feeds "did you mean" suggestions. ``constants`` are
    inlined at compile time; ``functions`` extend :data:`DEFAULT_FUNCTIONS`. ``origin``, ``line``
    and ``column`` locate ``source`` in its file for error positions (the first line starts at
    ``column``, later lines at column 1).

    Raises :class:`~mamori.kit.errors.RuleCompileError` with ``details`` ``{"file", "line",
    "column", "source"}``.
    """
    all_functions = dict(DEFAULT_FUNCTIONS)
    if functions:
        all_functions.update(functions)
    return _Compiler(
        source,
        allowed_names=allowed_names,
        known_names=known_names,
        constants=constants or {},
        functions=all_functions,
        origin=origin,
        line=line,
        column=column,
    ).compile()
