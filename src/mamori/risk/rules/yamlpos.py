"""YAML loading that remembers where each value was written, so rule errors can name file:line:col.

Only the YAML 1.1 safe subset is accepted (``yaml.SafeLoader``): no tags that build Python objects.
"""

from __future__ import annotations

from typing import Any

import yaml

from mamori.kit.errors import RuleCompileError


class Located(dict[str, Any]):
    """A mapping that also knows the (line, column) where each of its values starts (1-based)."""

    marks: dict[str, tuple[int, int]]
    line: int

    def pos(self, key: str) -> tuple[int, int]:
        return self.marks.get(key, (self.line, 1))


def _value_position(node: yaml.Node, lines: list[str]) -> tuple[int, int]:
    line, col = node.start_mark.line + 1, node.start_mark.column + 1
    if isinstance(node, yaml.ScalarNode):
        if node.style in ("|", ">"):
            # Block scalar: the text starts on the next line, after its indentation.
            nxt = lines[line] if line < len(lines) else ""
            return line + 1, len(nxt) - len(nxt.lstrip(" ")) + 1
        if node.style in ("'", '"'):
            return line, col + 1
    return line, col


def _build(node: yaml.Node, loader: yaml.SafeLoader, lines: list[str]) -> Any:
    if isinstance(node, yaml.MappingNode):
        out = Located()
        out.marks = {}
        out.line = node.start_mark.line + 1
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            if not isinstance(key, str):
                raise RuleCompileError(f"keys must be text (got {key!r})",
                                       details={"line": key_node.start_mark.line + 1,
                                                "column": key_node.start_mark.column + 1})
            if key in out:
                raise RuleCompileError(f"duplicate key {key!r}",
                                       details={"line": key_node.start_mark.line + 1,
                                                "column": key_node.start_mark.column + 1})
            out[key] = _build(value_node, loader, lines)
            out.marks[key] = _value_position(value_node, lines)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_build(n, loader, lines) for n in node.value]
    return loader.construct_object(node, deep=True)


def load_located(text: str, origin: str) -> Any:
    """Parse YAML text; mappings come back as :class:`Located`. Syntax errors name the position."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        return _build(node, loader, text.splitlines())
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        details = {"file": origin, "line": mark.line + 1 if mark else None,
                   "column": mark.column + 1 if mark else None}
        raise RuleCompileError(f"{origin}: YAML syntax error: {exc.problem}", details=details) from None
    except RuleCompileError as exc:
        details = {"file": origin, **(exc.details or {})}
        raise RuleCompileError(f"{origin}:{details.get('line')}:{details.get('column')}: {exc.message}",
                               details=details) from None
    finally:
        loader.dispose()
