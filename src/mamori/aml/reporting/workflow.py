"""The report workflow's pure rules: states, who may move a version where, and the field-level diff.

::

    draft ──submit──► submitted ──lock (str:approve, not the last editor)──► locked ──export──► exported
      ▲                  │ │                                                   │                   │
      └──return (reason)─┘ └──edit (back to draft)                             └──new version──────┘
                                                                                  (a new draft, version + 1)

A locked version never changes (:class:`~mamori.kit.errors.ReportLocked`); the four-eyes rule
(:class:`~mamori.kit.errors.FourEyesRequired`) keeps the person who last wrote a version from locking it.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Final

from pydantic import ValidationError

from mamori.kit.errors import Conflict, FourEyesRequired, InvalidRequest, ReportLocked


class ReportState(StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    LOCKED = "locked"
    EXPORTED = "exported"


FINAL: Final = frozenset({ReportState.LOCKED, ReportState.EXPORTED})
EDITABLE: Final = frozenset({ReportState.DRAFT, ReportState.SUBMITTED})
MAX_DIFF_ENTRIES: Final = 5000


def check_editable(report_id: int, state: ReportState) -> None:
    if state in FINAL:
        raise ReportLocked(f"report {report_id} is {state.value}: locked versions cannot change; "
                           "start a new version (POST /v1/str/{id}/versions)",
                           details={"report_id": report_id, "state": state.value})


def check_submit(report_id: int, state: ReportState) -> None:
    check_editable(report_id, state)
    if state is not ReportState.DRAFT:
        raise Conflict(f"report {report_id} is already {state.value}", details={"report_id": report_id,
                                                                                "state": state.value})


def check_lock(report_id: int, state: ReportState, *, actor: str, last_editor: str) -> None:
    """Only a submitted version is locked, and never by the person who last wrote it."""
    check_editable(report_id, state)
    if state is not ReportState.SUBMITTED:
        raise Conflict(f"report {report_id} must be submitted before it is locked (it is {state.value})",
                       details={"report_id": report_id, "state": state.value})
    if actor == last_editor:
        raise FourEyesRequired("the compliance officer who locks a report must not be its last editor "
                               "(報告書の最終編集者は確定（ロック）できません)",
                               details={"report_id": report_id, "last_editor": last_editor})


def check_return(report_id: int, state: ReportState, reason: str | None) -> None:
    check_editable(report_id, state)
    if state is not ReportState.SUBMITTED:
        raise Conflict(f"only a submitted report can be returned to draft (report {report_id} is {state.value})",
                       details={"report_id": report_id, "state": state.value})
    if not reason or not reason.strip():
        raise InvalidRequest("returning a report needs a reason", details=[
            {"field": "reason", "message": "required", "kind": "missing"}])


def check_new_version(report_id: int, state: ReportState, open_version: int | None) -> None:
    if state not in FINAL:
        raise Conflict(f"report {report_id} is still {state.value}: edit it instead of starting a new version",
                       details={"report_id": report_id, "state": state.value})
    if open_version is not None:
        raise Conflict(f"this report already has an open version (report {open_version})",
                       details={"report_id": report_id, "open_report_id": open_version})


def field_errors(exc: ValidationError, prefix: str = "") -> InvalidRequest:
    """A 422 listing every invalid field by its path (``subjects.0.name_kana``), never echoing the value."""
    details = []
    for error in exc.errors(include_input=False, include_url=False):
        path = ".".join(str(p) for p in (prefix, *error["loc"]) if p != "")
        message = str(error["msg"]).removeprefix("Value error, ")
        details.append({"field": path or "(body)", "message": message, "kind": error["type"]})
    first = details[0]
    return InvalidRequest(f"{first['field']}: {first['message']}" + (f" (and {len(details) - 1} more)"
                                                                     if len(details) > 1 else ""), details=details)


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """``{"subjects.0.name_kana": "ヤマダ タロウ", ...}``: the leaves of a JSON document by path."""
    out: dict[str, Any] = {}
    stack: list[tuple[str, Any]] = [(prefix, value)]
    while stack:
        path, item = stack.pop()
        if isinstance(item, dict) and item:
            stack.extend((f"{path}.{k}" if path else str(k), v) for k, v in item.items())
        elif isinstance(item, list) and item:
            stack.extend((f"{path}.{i}" if path else str(i), v) for i, v in enumerate(item))
        else:
            out[path] = item
    return out


def diff(before: dict[str, Any], after: dict[str, Any]) -> list[dict[str, Any]]:
    """Field-level changes from ``before`` to ``after``: ``[{"field", "before", "after"}]`` sorted by field
    (a field absent on one side shows ``None`` there); at most :data:`MAX_DIFF_ENTRIES` entries."""
    old, new = flatten(before), flatten(after)
    changed = sorted(k for k in old.keys() | new.keys() if old.get(k) != new.get(k) or (k in old) != (k in new))
    return [{"field": k, "before": old.get(k), "after": new.get(k)} for k in changed[:MAX_DIFF_ENTRIES]]


def changed_fields(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """Names of the changed fields (for the history and the audit log: names only, never values)."""
    return [d["field"] for d in diff(before, after)][:200]
