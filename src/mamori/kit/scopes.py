"""The permission scopes of API keys (and of console roles, which are sets of these scopes).

One place for the names: the HTTP layer checks them, ``mamori keys create --scope`` offers them.
"""

from __future__ import annotations

from typing import Final

SCOPES: Final[dict[str, str]] = {
    "events:write": "send events and ask for decisions",
    "decisions:read": "read decisions and alerts",
    "rules:admin": "reload and inspect rule sets",
    "accounts:admin": "operator actions on customer accounts (unlock after re-identification, customer "
                      "authentication set-up, recovery)",
    "auth:stepup": "the trading site's back end: create operation-bound step-ups and consume approved ones",
    "pqc:admin": "the IT-risk team: the post-quantum cryptography inventory, assessment and roadmap",
    "cases:read": "read fraud cases, their alerts, victim contacts and letters (every read is audited)",
    "cases:write": "work fraud cases: state, assignment, comments, attachments, victim contacts, compensation",
    "reports:read": "management and FSA-format figures by month, live counters",
    "actions:propose": "propose actions on customers and controls (release/cancel held orders and withdrawals, "
                       "freeze/unfreeze, limits, firm-wide blocks); they run only after a second person approves",
    "actions:approve": "approve or reject actions proposed by someone else (four-eyes control)",
    "rules:draft": "edit rules into drafts, backtest them and run them in shadow",
    "rules:approve": "approve the publication of a rule draft proposed by someone else",
    "aml:read": "crypto AML: screening results, traces of funds, scenario effectiveness",
    "aml:write": "crypto AML: import risk lists and chain data, start traces",
    "str:write": "draft suspicious transaction reports from cases",
    "str:approve": "review and lock suspicious transaction report drafts (compliance officer)",
    "audit:read": "read, verify and export the audit log (internal audit)",
    "operators:admin": "manage console operators: create, disable, change roles, reset passkeys",
    "admin": "everything, including API key management",
}
