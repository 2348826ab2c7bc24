"""Who gets what: the outgoing-mail policy of the SMTP proxy (FSA: no password-protected attachments
mailed with the password by mail (PPAP); no links in mail to customers).

The policy file (YAML, ``MAMORI_MAIL_POLICY_PATH``)::

    firm_domains: [example-sec.co.jp]          # mail from these is outgoing mail the proxy polices
    counterparty_domains: [partner-bank.co.jp]  # business counterparties
    customer_domains: []                        # whole domains that are customers' (rare)
    departments:                                # sender → department, for the evidence counts
      "sales-*@example-sec.co.jp": 営業部
      "*@ir.example-sec.co.jp": IR室
    actions:                                    # per recipient class and finding
      customer:     {links: reject, encrypted_attachment: reject, ppap_password: reject}
      counterparty: {links: pass, encrypted_attachment: quarantine, ppap_password: quarantine}
      external:     {links: pass, encrypted_attachment: quarantine, ppap_password: quarantine}
      internal:     {links: pass, encrypted_attachment: pass, ppap_password: pass}

A recipient is a *customer* when their address is registered in mamori's contact directory (the
customers notices go to) or their domain is listed; *internal* when it is one of the firm's domains;
*counterparty* when listed; otherwise *external*. The strictest action over all recipients applies
to the message (SMTP decides once per message at DATA).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from mamori.kit.errors import ConfigError

Action = Literal["pass", "quarantine", "reject"]
RecipientClass = Literal["customer", "counterparty", "external", "internal"]
FINDINGS = ("links", "encrypted_attachment", "ppap_password")
CLASSES: tuple[RecipientClass, ...] = ("customer", "counterparty", "external", "internal")
STRICTNESS = {"pass": 0, "quarantine": 1, "reject": 2}
DEFAULT_ACTIONS: dict[str, dict[str, Action]] = {
    "customer": {"links": "reject", "encrypted_attachment": "reject", "ppap_password": "reject"},
    "counterparty": {"links": "pass", "encrypted_attachment": "quarantine", "ppap_password": "quarantine"},
    "external": {"links": "pass", "encrypted_attachment": "quarantine", "ppap_password": "quarantine"},
    "internal": {"links": "pass", "encrypted_attachment": "pass", "ppap_password": "pass"},
}


def domain_of(address: str) -> str:
    return address.rsplit("@", 1)[-1].strip().strip(">").lower()


@dataclass(frozen=True)
class MailPolicy:
    firm_domains: frozenset[str]
    counterparty_domains: frozenset[str] = frozenset()
    customer_domains: frozenset[str] = frozenset()
    departments: tuple[tuple[str, str], ...] = ()
    actions: dict[str, dict[str, Action]] = field(default_factory=lambda: {k: dict(v) for k, v in
                                                                            DEFAULT_ACTIONS.items()})

    def is_outgoing(self, sender: str) -> bool:
        return _in(domain_of(sender), self.firm_domains)

    def recipient_class(self, address: str, is_customer: Callable[[str], bool]) -> RecipientClass:
        domain = domain_of(address)
        if _in(domain, self.firm_domains):
            return "internal"
        if _in(domain, self.customer_domains) or is_customer(address):
            return "customer"
        if _in(domain, self.counterparty_domains):
            return "counterparty"
        return "external"

    def department(self, sender: str) -> str:
        address = sender.strip("<>").lower()
        for pattern, name in self.departments:
            if fnmatch.fnmatchcase(address, pattern.lower()):
                return name
        return "(unassigned)"

    def action(self, recipient_class: str, finding: str) -> Action:
        return self.actions.get(recipient_class, {}).get(finding, "pass")


def _in(domain: str, domains: frozenset[str]) -> bool:
    """The domain or any parent of it is listed (``mail.example.co.jp`` is in ``example.co.jp``)."""
    parts = domain.split(".")
    return any(".".join(parts[i:]) in domains for i in range(len(parts)))


def load_mail_policy(path: Path) -> MailPolicy:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read the mail policy: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the mail policy must be a mapping")
    unknown = set(data) - {"firm_domains", "counterparty_domains", "customer_domains", "departments", "actions"}
    if unknown:
        raise ConfigError(f"{path}: unknown field(s): {', '.join(sorted(unknown))}")
    firm = _domains(path, "firm_domains", data.get("firm_domains"))
    if not firm:
        raise ConfigError(f"{path}: firm_domains must list the firm's own mail domains")
    departments = data.get("departments") or {}
    if not isinstance(departments, dict) or not all(isinstance(k, str) and isinstance(v, str)
                                                    for k, v in departments.items()):
        raise ConfigError(f"{path}: departments must map sender patterns to department names")
    actions = {k: dict(v) for k, v in DEFAULT_ACTIONS.items()}
    given = data.get("actions") or {}
    if not isinstance(given, dict):
        raise ConfigError(f"{path}: actions must be a mapping of recipient class to findings")
    for cls, table in given.items():
        if cls not in CLASSES or not isinstance(table, dict):
            raise ConfigError(f"{path}: actions.{cls}: the classes are {', '.join(CLASSES)}")
        for finding, action in table.items():
            if finding not in FINDINGS or action not in STRICTNESS:
                raise ConfigError(f"{path}: actions.{cls}.{finding}: findings are {', '.join(FINDINGS)}; "
                                  "actions are pass, quarantine, reject")
            actions[cls][finding] = action
    return MailPolicy(firm_domains=firm,
                      counterparty_domains=_domains(path, "counterparty_domains", data.get("counterparty_domains")),
                      customer_domains=_domains(path, "customer_domains", data.get("customer_domains")),
                      departments=tuple(departments.items()), actions=actions)


def _domains(path: Path, name: str, value: Any) -> frozenset[str]:
    if value is None:
        return frozenset()
    if not isinstance(value, list) or not all(isinstance(v, str) and "." in v for v in value):
        raise ConfigError(f"{path}: {name} must be a list of domain names")
    return frozenset(v.strip().lower().lstrip("@") for v in value)
