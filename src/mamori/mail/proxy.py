"""The SMTP policy proxy: sits on loopback before the firm's relay, scans each outgoing message and
passes, quarantines or rejects it by policy, with the reason in the SMTP reply (RFC 5321 §4.2,
enhanced status codes RFC 3463: ``5.7.1`` delivery not authorised).

A message is accepted (``250``) only once it is either relayed upstream or written intact to the
quarantine; if the upstream relay cannot take it, the client gets a temporary failure (``451``) and
keeps the message — nothing accepted is ever lost. The proxy relays only mail from the firm's own
domains (no open relay).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import logging
import smtplib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiosmtpd.controller import Controller

from mamori.adapters.sql.store import now_us
from mamori.mail.model import MessageReport
from mamori.mail.policy import STRICTNESS, Action, MailPolicy, RecipientClass, domain_of
from mamori.mail.store import MailStore

log = logging.getLogger("mamori.mail")
JST = dt.timezone(dt.timedelta(hours=9))
REASONS_EN = {
    "links": "it contains a link ({detail}); mail to customers must carry no links (FSA)",
    "encrypted_attachment": "it carries a password-protected attachment ({detail}); use the firm's secure file "
                            "transfer instead of PPAP",
    "ppap_password": "it sends a password for an attachment by mail (PPAP); share it through the secure channel",
}


@dataclass(frozen=True)
class Verdict:
    action: Action
    reasons: tuple[str, ...]
    """``finding:class:detail`` strings, most severe first."""
    classes: dict[str, RecipientClass]
    findings: dict[str, str]


def decide(report: MessageReport, recipients: list[str], policy: MailPolicy, is_customer: Callable[[str], bool],
           ppap_followup: bool = False) -> Verdict:
    """The strictest action over every recipient's class and every finding."""
    findings: dict[str, str] = {}
    # An image that could not be read for QR codes is not a link (a HEIC photo, a corrupt file).
    links = [x for x in report.links if x.kind != "image_unscannable"]
    if links:
        findings["links"] = links[0].text[:80]
    encrypted = [a for a in report.attachments if a.verdict in ("encrypted", "unscannable")]
    if encrypted:
        findings["encrypted_attachment"] = f"{encrypted[0].path}: {encrypted[0].method}"[:120]
    if report.password_in_body or ppap_followup:
        findings["ppap_password"] = "follow-up to an encrypted attachment" if ppap_followup else "password in body"
    classes = {r: policy.recipient_class(r, is_customer) for r in recipients}
    action: Action = "pass"
    reasons: list[tuple[int, str]] = []
    for finding, detail in findings.items():
        for cls in sorted(set(classes.values())):
            chosen = policy.action(cls, finding)
            if chosen != "pass":
                reasons.append((STRICTNESS[chosen], f"{finding}:{cls}:{detail}"))
            if STRICTNESS[chosen] > STRICTNESS[action]:
                action = chosen
    return Verdict(action, tuple(r for _, r in sorted(reasons, key=lambda x: -x[0])), classes, findings)


def reply_for(verdict: Verdict, reference: str) -> str:
    finding, cls, detail = verdict.reasons[0].split(":", 2)
    text = REASONS_EN[finding].format(detail=detail)
    text = text.encode("ascii", "replace").decode()  # SMTP replies are ASCII (RFC 5321 §4.2)
    if verdict.action == "reject":
        return f"550 5.7.1 mamori: not sent to a {cls} recipient: {text} [ref {reference}]"
    return f"250 2.0.0 mamori: held for review, not yet delivered: {text} [quarantine {reference}]"


class PolicyHandler:
    """aiosmtpd handler. ``scan`` turns raw bytes into a :class:`MessageReport`; ``tracker`` (optional)
    matches password follow-ups to earlier encrypted attachments (PPAP's second mail)."""

    def __init__(self, *, policy: MailPolicy, store: MailStore, scan: Callable[[bytes], MessageReport],
                 upstream: tuple[str, int], is_customer: Callable[[str], bool] = lambda _a: False,
                 tracker: Any = None) -> None:
        self.policy = policy
        self.store = store
        self.scan = scan
        self.upstream = upstream
        self.is_customer = is_customer
        self.tracker = tracker

    async def handle_MAIL(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if not self.policy.is_outgoing(address):
            return "550 5.7.1 mamori: relaying denied: only the firm's own senders may send through this proxy"
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw: bytes = envelope.original_content or envelope.content
        recipients = list(envelope.rcpt_tos)
        report = await asyncio.to_thread(self.scan, raw)
        now = dt.datetime.now(dt.UTC)
        followup = bool(self.tracker is not None and self.tracker.observe(report, at=now))
        verdict = decide(report, recipients, self.policy, self.is_customer, followup)
        at_us = now_us()
        digest = hashlib.sha256(raw).hexdigest()
        reference = digest[:12]
        try:
            if verdict.action == "quarantine":
                reference = await asyncio.to_thread(self.store.hold, raw, sender=envelope.mail_from,
                                                    recipients=recipients, reasons=list(verdict.reasons), at_us=at_us)
            elif verdict.action == "pass":
                await asyncio.to_thread(self._relay, envelope.mail_from, recipients, raw)
        except (OSError, smtplib.SMTPException) as exc:
            log.warning("upstream relay %s:%d refused or unreachable: %s", *self.upstream, exc.__class__.__name__)
            return "451 4.4.1 mamori: the firm's relay is unavailable; try again later"
        await asyncio.to_thread(self.store.log, self._rows(envelope.mail_from, verdict, now, at_us, digest))
        log.info("mail from %s to %d recipient(s): %s %s", domain_of(envelope.mail_from), len(recipients),
                 verdict.action, ",".join(r.split(":", 2)[0] for r in verdict.reasons))
        if verdict.action == "pass":
            return "250 2.0.0 OK: relayed"
        return reply_for(verdict, reference)

    def _relay(self, sender: str, recipients: list[str], raw: bytes) -> None:
        with smtplib.SMTP(*self.upstream, timeout=30) as smtp:
            smtp.sendmail(sender, recipients, raw)

    def release(self, held_id: str, *, by: str) -> None:
        """Deliver a quarantined message exactly as it was received, then mark it released."""
        item, raw = self.store.get(held_id)
        self._relay(item.sender, list(item.recipients), raw)
        self.store.decide(held_id, status="released", by=by, at_us=now_us())

    def _rows(self, sender: str, verdict: Verdict, now: dt.datetime, at_us: int, digest: str) -> list[dict[str, Any]]:
        month = now.astimezone(JST).strftime("%Y-%m")
        department = self.policy.department(sender)
        rows = []
        by_class: dict[str, set[str]] = {}
        for address, recipient_class in verdict.classes.items():
            by_class.setdefault(recipient_class, set()).add(domain_of(address))
        for name, domains in sorted(by_class.items()):
            for domain in sorted(domains):
                rows.append({"at_us": at_us, "month": month, "source": "proxy", "department": department,
                             "recipient_class": name, "counterparty": domain,
                             "encrypted_attachment": int("encrypted_attachment" in verdict.findings),
                             "ppap_password": int("ppap_password" in verdict.findings),
                             "links": int("links" in verdict.findings and name == "customer"),
                             "action": verdict.action, "message_sha256": digest})
        return rows


def start_proxy(handler: PolicyHandler, *, host: str = "127.0.0.1", port: int = 10025,
                max_message_bytes: int = 50 * 1024 * 1024) -> Controller:
    controller = Controller(handler, hostname=host, port=port, data_size_limit=max_message_bytes,
                            decode_data=False, ident="mamori mail policy proxy")
    controller.start()
    return controller
