"""Deliver rendered notices: by email (SMTP) and by a signed webhook to the firm's own systems.

Both senders implement :class:`NoticeSender`; :func:`send_all` hands one notice to several and
returns one :class:`SendResult` each. A sender never raises for a delivery problem (server down,
refused recipient, HTTP 500): failures are data, so that one broken channel cannot stop the others
or the risk decision that triggered the notice.

Email (:class:`SmtpNoticeSender`)
    One ``text/plain; charset=utf-8`` part (base64), Japanese first, then English after a separator
    line, under one bilingual subject. Not ``multipart/alternative``: RFC 2046 alternatives are the
    *same* content in different formats and mail clients show only one of them (usually the last),
    so a Japanese customer could see only the English. No HTML part, ever: HTML is what makes links
    clickable and hides where they lead, and the FSA's 2025 guidance is that customer emails carry no
    links. Headers follow RFC 5322 (``Date``, ``Message-ID``, ``From``, ``To``); the subject and any
    non-ASCII display name are encoded as RFC 2047 encoded-words by :mod:`email`'s SMTP policy;
    ``Auto-Submitted: auto-generated`` (RFC 3834) tells auto-responders not to answer, and
    ``Content-Language: ja, en`` (RFC 3282) names both languages. There is no ``List-Unsubscribe``
    (it would be a link) and no ``Reply-To``. Credentials are only sent after STARTTLS.

Webhook (:class:`WebhookNoticeSender`)
    ``POST`` of a JSON document (both languages, kind, reference, customer id) for the firm's own
    SMS, push or in-app channels, signed like Stripe's webhooks: ``X-Mamori-Signature:
    t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>." + body)>``. Receivers check it with
    :func:`verify_signature` (constant-time, with a replay window). Every attempt is re-signed with a
    fresh timestamp and carries the same ``X-Mamori-Delivery`` id so the receiver can de-duplicate.
    Timeouts on every attempt; retries on connection errors, timeouts, HTTP 5xx, 408, 425 and 429,
    with exponential backoff and jitter (honouring a ``Retry-After`` in seconds, capped), at most
    ``max_attempts`` tries; other 4xx answers are final. The secret is never logged, never put in a
    result and never shown by ``repr``; this module names URLs without query string or user info
    (httpx's own INFO log line does show the full URL, so authenticate receivers by the signature,
    not by a token in the query string).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import logging
import random
import re
import smtplib
import ssl
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from typing import Any, Final, Protocol, runtime_checkable
from urllib.parse import urlsplit

import httpx

from mamori import __version__
from mamori.notify.templates import JST, Notice

__all__ = [
    "SIGNATURE_HEADER",
    "NoticeSender",
    "SendResult",
    "SmtpNoticeSender",
    "WebhookNoticeSender",
    "send_all",
    "sign_payload",
    "verify_signature",
]

log = logging.getLogger(__name__)

SIGNATURE_HEADER: Final = "X-Mamori-Signature"
DELIVERY_HEADER: Final = "X-Mamori-Delivery"
_RETRY_STATUSES: Final = frozenset({408, 425, 429})
_ADDRESS_RE: Final = re.compile(r"[^@\s<>()\[\],;:\"]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9\-.]{0,252}[A-Za-z0-9])?")


@dataclass(frozen=True, slots=True)
class SendResult:
    """What happened when one sender tried to deliver one notice."""

    sender: str
    """The sender's :attr:`NoticeSender.name` (no secrets in it)."""
    ok: bool
    attempts: int
    """How many delivery attempts were made (0: not attempted, e.g. no email address)."""
    detail: str = ""
    """``accepted`` / ``HTTP 204`` on success; the reason on failure."""
    message_id: str | None = None
    """The email's ``Message-ID``, or the webhook's delivery id."""


@runtime_checkable
class NoticeSender(Protocol):
    """Something that delivers a :class:`~mamori.notify.templates.Notice`. ``send`` must not raise
    for delivery failures; it returns a failed :class:`SendResult` instead."""

    @property
    def name(self) -> str: ...

    def send(self, notice: Notice) -> SendResult: ...


def send_all(notice: Notice, senders: Iterable[NoticeSender]) -> list[SendResult]:
    """Give ``notice`` to every sender in turn; one result per sender, in order. A sender that
    raises anyway (a bug) yields a failed result too. Blocking: from async code, call it through
    ``asyncio.to_thread``."""
    results = []
    for sender in senders:
        try:
            results.append(sender.send(notice))
        except Exception as exc:  # failures are data: one broken sender must not stop the others
            name = getattr(sender, "name", type(sender).__name__)
            log.exception("notice sender %s raised", name)
            results.append(SendResult(str(name), ok=False, attempts=1, detail=f"{type(exc).__name__}: {exc}"))
    return results


# ---------------------------------------------------------------------------------------------
# SMTP


class SmtpNoticeSender:
    """Sends a notice as one plain-text bilingual email (see the module docstring)."""

    def __init__(
        self,
        host: str,
        port: int = 25,
        *,
        from_addr: str,
        starttls: bool,
        username: str | None = None,
        password: str | None = None,
        timeout: float = 10.0,
        ssl_context: ssl.SSLContext | None = None,
        local_hostname: str | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        """``from_addr`` may carry a display name (``まもり証券 <no-reply@mamori.example>``).
        ``username``/``password`` need ``starttls=True``: credentials never cross the wire in clear."""
        _, address = parseaddr(from_addr)
        if not _ADDRESS_RE.fullmatch(address) or "\n" in from_addr or "\r" in from_addr:
            raise ValueError(f"from_addr is not an email address: {from_addr!r}")
        if (username is None) != (password is None):
            raise ValueError("give both username and password, or neither")
        if username is not None and not starttls:
            raise ValueError("SMTP credentials need starttls=True")
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        self.host, self.port = host, port
        self.from_addr = from_addr
        self.starttls = starttls
        self.username = username
        self._password = password
        self.timeout = timeout
        self._ssl_context = ssl_context
        self.local_hostname = local_hostname
        self._domain = address.rsplit("@", 1)[1]
        self._clock = clock or (lambda: datetime.now(UTC))

    @property
    def name(self) -> str:
        return f"smtp:{self.host}:{self.port}"

    def __repr__(self) -> str:
        return f"SmtpNoticeSender({self.host!r}, {self.port}, from_addr={self.from_addr!r}, starttls={self.starttls})"

    def build_message(self, notice: Notice) -> EmailMessage:
        """The RFC 5322 message for ``notice`` (raises ``ValueError`` if it has no valid address)."""
        to = notice.recipient.email
        if to is None or not _ADDRESS_RE.fullmatch(to):
            raise ValueError(f"recipient {notice.recipient.customer_id} has no valid email address")
        msg = EmailMessage(policy=policy.SMTP)
        msg["From"] = self.from_addr
        msg["To"] = to
        msg["Subject"] = notice.subject
        msg["Date"] = format_datetime(self._clock().astimezone(JST))
        msg["Message-ID"] = f"<{uuid.uuid4().hex}@{self._domain}>"  # unique, and no DNS look-up
        msg["Auto-Submitted"] = "auto-generated"  # RFC 3834 section 5
        msg["X-Auto-Response-Suppress"] = "All"  # the same request to Microsoft Exchange
        msg["X-Mamori-Notice"] = f"{notice.kind}; reference={notice.reference}"
        msg.set_content(notice.text(), subtype="plain", charset="utf-8", cte="base64")
        # RFC 3282 (after set_content, which clears Content-*): the languages this notice carries.
        language = getattr(notice, "language", "both")
        msg["Content-Language"] = {"ja": "ja", "en": "en"}.get(language, "ja, en")
        return msg

    def send(self, notice: Notice) -> SendResult:
        try:
            msg = self.build_message(notice)
        except ValueError as exc:
            return SendResult(self.name, ok=False, attempts=0, detail=str(exc))
        message_id = str(msg["Message-ID"])
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout, local_hostname=self.local_hostname) as smtp:
                if self.starttls:
                    smtp.starttls(context=self._ssl_context or ssl.create_default_context())
                if self.username is not None and self._password is not None:
                    smtp.login(self.username, self._password)
                smtp.send_message(msg)
        except (smtplib.SMTPException, OSError) as exc:
            detail = _smtp_error(exc)
            log.warning("notice %s to %s via %s failed: %s", notice.reference, notice.recipient.customer_id,
                        self.name, detail)  # fmt: skip
            return SendResult(self.name, ok=False, attempts=1, detail=detail, message_id=message_id)
        return SendResult(self.name, ok=True, attempts=1, detail="accepted", message_id=message_id)


def _smtp_error(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPResponseException):
        text = exc.smtp_error.decode("utf-8", "replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
        return f"{type(exc).__name__}: {exc.smtp_code} {text}"
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = ", ".join(f"{code} {msg.decode('utf-8', 'replace')}" for code, msg in exc.recipients.values())
        return f"SMTPRecipientsRefused: {codes}"
    return f"{type(exc).__name__}: {exc}"


# ---------------------------------------------------------------------------------------------
# Webhook


def sign_payload(secret: bytes, timestamp: int, body: bytes) -> str:
    """The ``X-Mamori-Signature`` value: ``t=<timestamp>,v1=<hex HMAC-SHA256 of "<t>." + body>``."""
    digest = hmac.new(secret, f"{timestamp}.".encode("ascii") + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify_signature(
    secret: str | bytes, header: str, body: bytes, *, now: float | None = None, tolerance_s: int = 300
) -> bool:
    """For receivers: whether ``header`` (``t=...,v1=...``; several ``v1`` allowed, for secret
    rotation) signs ``body`` with ``secret`` and its timestamp is within ``tolerance_s`` of ``now``."""
    key = secret.encode("utf-8") if isinstance(secret, str) else secret
    timestamp: int | None = None
    signatures: list[str] = []
    for item in header.split(","):
        name, _, value = item.strip().partition("=")
        if name == "t" and value.isdigit():
            timestamp = int(value)
        elif name == "v1":
            signatures.append(value)
    if timestamp is None or not signatures:
        return False
    if abs((time.time() if now is None else now) - timestamp) > tolerance_s:
        return False
    expected = sign_payload(key, timestamp, body).split("v1=", 1)[1]
    return any(hmac.compare_digest(expected, candidate) for candidate in signatures)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class WebhookNoticeSender:
    """POSTs a notice as signed JSON (see the module docstring)."""

    def __init__(
        self,
        url: str,
        *,
        secret: str | bytes,
        timeout: float = 5.0,
        max_attempts: int = 4,
        backoff_initial_s: float = 0.5,
        backoff_max_s: float = 8.0,
        trust_env: bool = True,
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """``url`` must be ``https://`` (``http://`` only to a loopback host, for tests and local
        relays) and carry no user info. ``secret`` should be at least 16 bytes of randomness.
        ``trust_env`` lets httpx use proxy settings from the environment."""
        parts = urlsplit(url)
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise ValueError("webhook url must be an absolute http(s) URL")
        if parts.scheme == "http" and not _is_loopback(parts.hostname):
            raise ValueError("webhook url must use https (http is allowed only to a loopback host)")
        if parts.username is not None or parts.password is not None:
            raise ValueError("webhook url must not carry user info; authenticate with the signature")
        key = secret.encode("utf-8") if isinstance(secret, str) else bytes(secret)
        if len(key) < 16:
            raise ValueError("webhook secret must be at least 16 bytes")
        if not 1 <= max_attempts <= 10:
            raise ValueError("max_attempts must be between 1 and 10")
        if timeout <= 0 or backoff_initial_s < 0 or backoff_max_s < backoff_initial_s:
            raise ValueError("timeout must be positive and 0 <= backoff_initial_s <= backoff_max_s")
        self.url = url
        self._secret = key
        self.timeout = timeout
        self.max_attempts = max_attempts
        self.backoff_initial_s = backoff_initial_s
        self.backoff_max_s = backoff_max_s
        self._trust_env = trust_env
        self._transport = transport
        self._clock = clock
        self._sleep = sleep
        port = f":{parts.port}" if parts.port else ""
        self._name = f"webhook:{parts.scheme}://{parts.hostname}{port}{parts.path}"

    @property
    def name(self) -> str:
        """The URL without query string or user info."""
        return self._name

    def __repr__(self) -> str:
        return f"WebhookNoticeSender({self._name!r}, secret=<redacted>, max_attempts={self.max_attempts})"

    @staticmethod
    def payload(notice: Notice, delivery_id: str) -> dict[str, Any]:
        """The JSON document posted for ``notice``."""
        return {
            "type": "mamori.notice",
            "delivery_id": delivery_id,
            "kind": str(notice.kind),
            "reference": notice.reference,
            "customer_id": notice.recipient.customer_id,
            "webhook_ref": notice.recipient.webhook_ref,
            "occurred_at": notice.occurred_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
            "subject": notice.subject,
            "ja": {"subject": notice.ja.subject, "body": notice.ja.body},
            "en": {"subject": notice.en.subject, "body": notice.en.body},
        }

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        delay = min(self.backoff_max_s, self.backoff_initial_s * 2.0 ** (attempt - 1))
        delay *= random.uniform(0.5, 1.0)  # jitter: retries from many notices do not arrive in step
        if retry_after is not None:
            delay = max(delay, min(retry_after, self.backoff_max_s))
        return delay

    def send(self, notice: Notice) -> SendResult:
        delivery_id = uuid.uuid4().hex
        body = json.dumps(self.payload(notice, delivery_id), ensure_ascii=False, separators=(",", ":")).encode()
        detail = ""
        attempts = 0
        timeout = httpx.Timeout(self.timeout, connect=min(self.timeout, 3.0))
        with httpx.Client(
            timeout=timeout, follow_redirects=False, trust_env=self._trust_env, transport=self._transport
        ) as client:
            while attempts < self.max_attempts:
                attempts += 1
                timestamp = int(self._clock())
                headers = {
                    "Content-Type": "application/json; charset=utf-8",
                    "User-Agent": f"mamori-notify/{__version__}",
                    DELIVERY_HEADER: delivery_id,
                    SIGNATURE_HEADER: sign_payload(self._secret, timestamp, body),
                }
                retry_after: float | None = None
                try:
                    response = client.post(self.url, content=body, headers=headers)
                except httpx.HTTPError as exc:
                    detail = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
                    retryable = True
                else:
                    if 200 <= response.status_code < 300:
                        return SendResult(
                            self.name, ok=True, attempts=attempts, detail=f"HTTP {response.status_code}",
                            message_id=delivery_id,
                        )  # fmt: skip
                    detail = f"HTTP {response.status_code}"
                    retryable = response.status_code >= 500 or response.status_code in _RETRY_STATUSES
                    header = response.headers.get("Retry-After", "")
                    if header.strip().isdigit():
                        retry_after = float(header.strip())
                log.warning("notice %s via %s: attempt %d/%d failed: %s", notice.reference, self.name, attempts,
                            self.max_attempts, detail)  # fmt: skip
                if not retryable or attempts >= self.max_attempts:
                    break
                self._sleep(self._delay(attempts, retry_after))
        return SendResult(self.name, ok=False, attempts=attempts, detail=detail, message_id=delivery_id)
