"""A rule edited as YAML text, applied to the active rule set's files and compiled with the real loader.

The analyst edits one rule as a YAML mapping (what is under ``- `` in a rule file, see
``docs/rule-language.md``). :func:`apply_draft` puts that text in place of the rule in its file (a new
rule goes to ``local.yaml``), leaving every other byte of the rule set as it was, and compiles the
result with :func:`mamori.risk.rules.loader.compile_sources`. Problems inside the draft are reported
at the line and column of the draft text the analyst typed; problems elsewhere keep their file.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any, Final

import yaml

from mamori.kit.errors import RuleCompileError
from mamori.risk.rules.loader import compile_sources
from mamori.risk.rules.model import Ruleset
from mamori.risk.rules.yamlpos import Located, load_located

NEW_RULES_FILE: Final = "local.yaml"
MAX_DRAFT_BYTES: Final = 64 * 1024


@dataclass(frozen=True, slots=True)
class Span:
    """Where one rule's list item sits in its file: lines [start, end) (0-based) and the dash column."""

    file: str
    start: int
    end: int
    dash: int


@dataclass
class Candidate:
    """The active sources with the draft applied, and the outcome of compiling them."""

    sources: dict[str, str]
    ruleset: Ruleset | None = None
    errors: list[dict[str, Any]] = field(default_factory=list)


def _rule_items(text: str) -> list[tuple[str | None, yaml.Node]]:
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return []
    if not isinstance(root, yaml.MappingNode):
        return []
    for key, value in root.value:
        if isinstance(key, yaml.ScalarNode) and key.value == "rules" and isinstance(value, yaml.SequenceNode):
            out: list[tuple[str | None, yaml.Node]] = []
            for item in value.value:
                rule_id = None
                if isinstance(item, yaml.MappingNode):
                    for k, v in item.value:
                        if isinstance(k, yaml.ScalarNode) and k.value == "id" and isinstance(v, yaml.ScalarNode):
                            rule_id = str(v.value)
                out.append((rule_id, item))
            return out
    return []


def rule_spans(sources: dict[str, str]) -> dict[str, Span]:
    """Rule id -> :class:`Span`, for every rule written as a block list item."""
    spans: dict[str, Span] = {}
    for name, text in sources.items():
        lines = text.splitlines()
        items = _rule_items(text)
        for i, (rule_id, node) in enumerate(items):
            if rule_id is None:
                continue
            start = node.start_mark.line
            head = lines[start][:node.start_mark.column].rstrip() if start < len(lines) else ""
            if not head.endswith("-"):
                continue  # a flow-style item: not editable as text
            end = items[i + 1][1].start_mark.line if i + 1 < len(items) else min(node.end_mark.line + 1, len(lines))
            while end > start + 1 and (not lines[end - 1].strip() or lines[end - 1].lstrip().startswith("#")):
                end -= 1
            spans[rule_id] = Span(name, start, end, len(head) - 1)
    return spans


def rule_text(sources: dict[str, str], rule_id: str) -> str | None:
    """The YAML text of one rule as an analyst edits it (the list item without its dash), or None."""
    span = rule_spans(sources).get(rule_id)
    if span is None:
        return None
    lines = sources[span.file].splitlines()[span.start:span.end]
    cut = span.dash + 2
    return "\n".join(line[cut:] if line[:cut].strip() in ("", "-") else line.lstrip() for line in lines) + "\n"


def _as_item(draft: str, dash: int) -> list[str]:
    lines = draft.rstrip("\n").splitlines() or [""]
    first = " " * dash + "- " + lines[0]
    return [first] + [(" " * (dash + 2) + line) if line.strip() else "" for line in lines[1:]]


def _check_draft_text(draft: str, rule_id: str, *, is_new: bool, known: set[str]) -> list[dict[str, Any]]:
    if len(draft.encode("utf-8")) > MAX_DRAFT_BYTES:
        return [_problem(f"the draft is larger than {MAX_DRAFT_BYTES} bytes", 1, 1)]
    try:
        doc = load_located(draft, "draft")
    except RuleCompileError as exc:
        d = exc.details if isinstance(exc.details, dict) else {}
        return [_problem(exc.message.removeprefix("draft: "), d.get("line") or 1, d.get("column") or 1)]
    if not isinstance(doc, Located):
        return [_problem("a draft is one rule: a mapping with id, description, events, when, score or action", 1, 1)]
    if doc.get("id") != rule_id:
        line, column = doc.pos("id")
        return [_problem(f"the draft's 'id' must be {rule_id!r} (got {doc.get('id')!r}); a different id is "
                         "a new rule", line, column)]
    if is_new and rule_id in known:
        line, column = doc.pos("id")
        return [_problem(f"rule {rule_id!r} exists already; edit it instead of adding it", line, column)]
    return []


def _problem(message: str, line: int, column: int, *, file: str = "draft") -> dict[str, Any]:
    return {"file": file, "line": int(line), "column": int(column), "message": message}


def apply_draft(sources: dict[str, str], rule_id: str, draft: str, *, is_new: bool) -> Candidate:
    """The active ``sources`` with ``draft`` in place of rule ``rule_id`` (or added), compiled."""
    spans = rule_spans(sources)
    if not is_new and rule_id not in spans:
        return Candidate(dict(sources), errors=[_problem(f"no rule {rule_id!r} in the active rule set", 1, 1)])
    problems = _check_draft_text(draft, rule_id, is_new=is_new, known=set(spans))
    if problems:
        return Candidate(dict(sources), errors=problems)
    out = dict(sources)
    if is_new:
        existing = out.get(NEW_RULES_FILE, "rules:\n")
        base = existing.rstrip("\n").splitlines()
        start, dash, target = len(base), 2, NEW_RULES_FILE
        out[target] = "\n".join([*base, *_as_item(draft, dash)]) + "\n"
    else:
        span = spans[rule_id]
        lines = sources[span.file].splitlines()
        start, dash, target = span.start, span.dash, span.file
        tail = "\n" if sources[span.file].endswith("\n") else ""
        out[target] = "\n".join([*lines[:span.start], *_as_item(draft, dash), *lines[span.end:]]) + tail
    n_lines = len(draft.rstrip("\n").splitlines() or [""])
    ruleset, errors = compile_sources(out)
    mapped = []
    for exc in errors:
        d = exc.details if isinstance(exc.details, dict) else {}
        line, column = d.get("line"), d.get("column")
        message = exc.message
        if d.get("file") == target and isinstance(line, int) and start < line <= start + n_lines:
            prefix = f"{target}:{line}:{column}: "
            mapped.append(_problem(message.removeprefix(prefix), line - start,
                                   max(1, int(column or 1) - dash - 2)))
        else:
            mapped.append({"file": d.get("file"), "line": line, "column": column, "message": message})
    return Candidate(out, ruleset=ruleset, errors=mapped)


def bump_version(sources: dict[str, str]) -> tuple[dict[str, str], int]:
    """The sources with ``ruleset.version`` raised by one (text edit of that one scalar), and the new
    version. A published set always gets a new version, so decisions name it unambiguously."""
    for name, text in sources.items():
        try:
            root = yaml.compose(text, Loader=yaml.SafeLoader)
        except yaml.YAMLError:
            continue
        if not isinstance(root, yaml.MappingNode):
            continue
        for key, value in root.value:
            if not (isinstance(key, yaml.ScalarNode) and key.value == "ruleset"
                    and isinstance(value, yaml.MappingNode)):
                continue
            for k, v in value.value:
                if isinstance(k, yaml.ScalarNode) and k.value == "version" and isinstance(v, yaml.ScalarNode):
                    new = int(v.value) + 1
                    a, b = v.start_mark.index, v.end_mark.index
                    return {**sources, name: text[:a] + str(new) + text[b:]}, new
            end = value.end_mark.index
            head = text[:end].rstrip("\n")
            indent = " " * value.start_mark.column
            return {**sources, name: head + f"\n{indent}version: 2\n" + text[end:].lstrip("\n")}, 2
    raise RuleCompileError("no 'ruleset:' section with a version found", details={"line": 1, "column": 1})


def unified_diff(before: str, after: str, name: str) -> str:
    return "".join(difflib.unified_diff(before.splitlines(keepends=True), after.splitlines(keepends=True),
                                        fromfile=f"active/{name}", tofile=f"draft/{name}"))


def sources_diff(before: dict[str, str], after: dict[str, str]) -> str:
    """A unified diff of every file that differs."""
    return "".join(unified_diff(before.get(n, ""), after.get(n, ""), n)
                   for n in sorted(set(before) | set(after)) if before.get(n) != after.get(n))
