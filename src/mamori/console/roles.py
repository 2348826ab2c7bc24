"""Console roles and the scopes each one carries: one table, read by the server on every request.

The scopes are those of API keys (:mod:`mamori.kit.scopes`), so one check point
(``principal(request, scope)``) serves keys and operators alike. Least privilege and separation of
duties (FSA "Comprehensive Guidelines for Supervision of Financial Instruments Business Operators"
III-2-8 on system risk: access rights by duty; JSDA internal-control guidance):

* ``analyst`` works cases and proposes actions, but approves nothing;
* ``supervisor`` is an analyst who may also approve someone else's action or rule (four-eyes);
* ``compliance`` reads everything needed for AML/STR, approves suspicious transaction reports and reads
  the audit log, but does not work customer cases;
* ``admin`` manages operators, account set-up and rule files, and deliberately does **not** hold
  ``actions:approve`` nor ``cases:read``: whoever can create operators must not also be able to move
  money or read customer data, or one person could mint a second "approver" and release a held order;
* ``auditor`` reads (cases, decisions, reports, AML, the audit log) and changes nothing.

No role holds the catch-all ``admin`` scope of API keys.
"""

from __future__ import annotations

from typing import Final

from mamori.kit.scopes import SCOPES

OPERATORS_SCOPE: Final = "operators:admin"

_ANALYST: Final = frozenset({"cases:read", "cases:write", "decisions:read", "reports:read", "actions:propose",
                             "rules:draft", "aml:read", "str:write"})

ROLES: Final[dict[str, frozenset[str]]] = {
    "analyst": _ANALYST,
    "supervisor": _ANALYST | {"actions:approve", "rules:approve"},
    "compliance": frozenset({"cases:read", "decisions:read", "reports:read", "aml:read", "aml:write", "str:write",
                             "str:approve", "audit:read"}),
    "admin": frozenset({OPERATORS_SCOPE, "accounts:admin", "rules:admin"}),
    "auditor": frozenset({"cases:read", "decisions:read", "reports:read", "aml:read", "audit:read"}),
}

ROLE_NAMES: Final[dict[str, dict[str, str]]] = {
    "analyst": {"ja": "アナリスト", "en": "Analyst"},
    "supervisor": {"ja": "スーパーバイザー", "en": "Supervisor"},
    "compliance": {"ja": "コンプライアンス", "en": "Compliance officer"},
    "admin": {"ja": "管理者", "en": "Administrator"},
    "auditor": {"ja": "監査（閲覧のみ）", "en": "Auditor (read-only)"},
}


def scopes_of(role: str) -> frozenset[str]:
    """The scopes of ``role``; an unknown role (e.g. removed from this table) has none."""
    return ROLES.get(role, frozenset())


def _check() -> None:
    unknown = {s for scopes in ROLES.values() for s in scopes} - set(SCOPES)
    if unknown:  # pragma: no cover - a programming error caught at import
        raise RuntimeError(f"console roles name unknown scopes: {sorted(unknown)}")


_check()
