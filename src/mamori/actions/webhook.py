"""The call to the firm's systems when an action is approved: signed JSON per the Standard Webhooks
specification (https://www.standardwebhooks.com/, spec v1: "Signature scheme").

Headers: ``webhook-id`` (the message id; the same on every retry, so the receiver de-duplicates by
it), ``webhook-timestamp`` (Unix seconds of this attempt) and ``webhook-signature: v1,<base64 of
HMAC-SHA256(key, "<webhook-id>.<webhook-timestamp>.<body>")>``. The key is the secret's bytes: a
``whsec_``-prefixed secret is base64 after the prefix (the spec's format); any other secret is used
as UTF-8 text and must be at least 16 bytes. :func:`verify` is the receiver's check (constant-time,
with a replay window of five minutes).

Delivery is one HTTP attempt per due outbox row (:mod:`mamori.actions.service` keeps the row and the
backoff); success is any 2xx. What counts as a permanent failure and the backoff schedule are the
notice outbox's (:func:`mamori.notify.outbox.is_permanent`, :class:`mamori.notify.outbox.RetryPolicy`).
The secret is never logged or shown by ``repr``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import ipaddress
import time
from collections.abc import Mapping
from datetime import timedelta
from typing import Final
from urllib.parse import urlsplit

import httpx
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from mamori import __version__
from mamori.notify.outbox import RetryPolicy
from mamori.notify.sender import SendResult

TOLERANCE_S: Final = 300


class ActionsSettings(BaseSettings):
    """``MAMORI_ACTIONS_*`` environment variables."""

    model_config = SettingsConfigDict(env_prefix="MAMORI_ACTIONS_", extra="ignore")

    webhook_url: str | None = Field(default=None, description="The firm's endpoint for approved actions "
                                    "(https; http only to a loopback host). None: actions end at 'done' inside "
                                    "mamori and the firm's systems are not called.")
    webhook_secret: str | None = Field(default=None, description="Standard Webhooks secret (whsec_<base64>).")
    webhook_timeout_s: float = Field(default=5.0, gt=0, le=60)
    webhook_retry_s: float = Field(default=60.0, gt=0, description="First retry delay; doubles after each failure.")
    webhook_max_attempts: int = Field(default=10, ge=1, le=50)
    webhook_max_age_hours: float = Field(default=24.0, gt=0)
    webhook_trust_env: bool = Field(default=True, description="Use proxy settings from the environment.")
    worker_interval_s: float = Field(default=1.0, gt=0, description="How often the worker looks for due work.")

    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(first_delay=timedelta(seconds=self.webhook_retry_s),
                           max_attempts=self.webhook_max_attempts,
                           max_age=timedelta(hours=self.webhook_max_age_hours))


def signing_key(secret: str) -> bytes:
    """The HMAC key of ``secret`` (see the module docstring); ``ValueError`` if it is unusable."""
    if secret.startswith("whsec_"):
        try:
            key = base64.b64decode(secret.removeprefix("whsec_"), validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("a whsec_ secret must be base64 after the prefix") from None
    else:
        key = secret.encode("utf-8")
    if len(key) < 16:
        raise ValueError("the webhook secret must be at least 16 bytes")
    return key


def sign(key: bytes, webhook_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` value: ``v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">``."""
    digest = hmac.new(key, f"{webhook_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def verify(secret: str, headers: Mapping[str, str], body: bytes, *, now: float | None = None,
           tolerance_s: int = TOLERANCE_S) -> bool:
    """For receivers: whether ``headers`` carry a valid Standard Webhooks signature of ``body`` made
    within ``tolerance_s`` of ``now`` (several space-separated signatures allowed, for key rotation)."""
    webhook_id, stamp = headers.get("webhook-id", ""), headers.get("webhook-timestamp", "")
    if not webhook_id or not stamp.isdigit():
        return False
    if abs((time.time() if now is None else now) - int(stamp)) > tolerance_s:
        return False
    expected = sign(signing_key(secret), webhook_id, int(stamp), body).encode()
    return any(hmac.compare_digest(expected, c.encode()) for c in headers.get("webhook-signature", "").split()
               if c.startswith("v1,"))


def check_url(url: str) -> str:
    """``url`` if it is an absolute https URL (http only to a loopback host) without user info."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ValueError("the actions webhook URL must be an absolute http(s) URL")
    if parts.username is not None or parts.password is not None:
        raise ValueError("the actions webhook URL must not carry user info; the signature authenticates")
    if parts.scheme == "http" and not _loopback(parts.hostname):
        raise ValueError("the actions webhook URL must use https (http only to a loopback host)")
    return url


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class ActionWebhook:
    """Posts one signed message per call (the outbox decides when to call again)."""

    def __init__(self, url: str, *, secret: str, timeout_s: float = 5.0, trust_env: bool = True,
                 transport: httpx.BaseTransport | None = None) -> None:
        self.url = check_url(url)
        self._key = signing_key(secret)
        self.timeout_s = timeout_s
        self._transport = transport
        self._trust_env = trust_env
        parts = urlsplit(url)
        self.name = f"actions-webhook:{parts.scheme}://{parts.hostname}{f':{parts.port}' if parts.port else ''}" \
                    f"{parts.path}"

    def __repr__(self) -> str:
        return f"ActionWebhook({self.name!r}, secret=<redacted>)"

    def post(self, webhook_id: str, body: bytes) -> SendResult:
        """One attempt; never raises for a delivery problem (the result says what happened)."""
        timestamp = int(time.time())
        headers = {"content-type": "application/json", "user-agent": f"mamori-actions/{__version__}",
                   "webhook-id": webhook_id, "webhook-timestamp": str(timestamp),
                   "webhook-signature": sign(self._key, webhook_id, timestamp, body)}
        timeout = httpx.Timeout(self.timeout_s, connect=min(self.timeout_s, 3.0))
        try:
            with httpx.Client(timeout=timeout, follow_redirects=False, trust_env=self._trust_env,
                              transport=self._transport) as client:
                response = client.post(self.url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            return SendResult(self.name, ok=False, attempts=1, detail=f"{type(exc).__name__}: {exc}"[:300],
                              message_id=webhook_id)
        ok = 200 <= response.status_code < 300
        return SendResult(self.name, ok=ok, attempts=1, detail=f"HTTP {response.status_code}", message_id=webhook_id)
