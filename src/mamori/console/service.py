"""Console operators: management (create, disable, role, reset), passkey enrolment and login, sessions.

Ceremonies follow W3C Web Authentication Level 3 through :class:`mamori.auth.passkeys.RelyingParty`
(the same pinned RP id and origin checks as customers, user verification required, discoverable
credentials for autofill). Sessions follow the OWASP Session Management Cheat Sheet: 256-bit random
token, only its SHA-256 stored, a new token at every login, idle (15 min) and absolute (8 h) limits
enforced on the server, revoked at once when the operator is disabled, reset or changes role.

The CSRF synchronizer token (OWASP CSRF Prevention Cheat Sheet) is derived from the session token,
``HMAC-SHA256(token, "mamori-console-csrf")``: bound to the session, never stored, useless without
the HttpOnly cookie. Every change is written to the hash-chained audit log (ids and codes only).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mamori.adapters.sql.store import now_us
from mamori.api.auth import Principal
from mamori.auth.ephemeral import Ephemeral
from mamori.auth.passkeys import RelyingParty, new_challenge, new_user_handle
from mamori.auth.store import Customer
from mamori.console.roles import ROLES, scopes_of
from mamori.console.store import Operator, OperatorSession, OperatorStore
from mamori.kit.errors import InvalidRequest, LoginFailed, NotFound, WebAuthnRejected

log = logging.getLogger("mamori.console")

LOGIN_ID = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
ENROL_CODE_TTL_S = 72 * 3600
ENROL_MAX_ATTEMPTS = 5
FLOW_TTL_S = 180.0
TOUCH_EVERY_US = 30_000_000
_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I


def check_login_id(value: Any) -> str:
    if not isinstance(value, str) or not LOGIN_ID.fullmatch(value):
        raise InvalidRequest("login id: 1-64 characters a-z, 0-9, '.', '_', '-' (starting with a letter or digit)",
                             details={"field": "login_id"})
    return value


def check_role(value: Any) -> str:
    if value not in ROLES:
        raise InvalidRequest(f"role must be one of {', '.join(ROLES)}", details={"field": "role"})
    return str(value)


def check_name(value: Any) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > 128 or any(ord(c) < 0x20 for c in value):
        raise InvalidRequest("name: 1-128 printable characters", details={"field": "name"})
    return value.strip()


def new_enrolment_code() -> str:
    """20 characters from a 32-letter alphabet (100 bits), in groups of five for reading aloud."""
    raw = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(20))
    return "-".join(raw[i:i + 5] for i in range(0, 20, 5))


def normalise_code(value: str) -> str:
    raw = re.sub(r"[\s-]", "", value.upper())[:64]
    return "-".join(raw[i:i + 5] for i in range(0, len(raw), 5))


def csrf_token_for(session_token: str) -> str:
    digest = hmac.new(session_token.encode(), b"mamori-console-csrf", hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


@dataclass(frozen=True, slots=True)
class SignedIn:
    """A live console session and its (active) operator."""

    session: OperatorSession
    operator: Operator
    token: str

    @property
    def csrf_token(self) -> str:
        return csrf_token_for(self.token)

    def principal(self) -> Principal:
        return Principal(self.operator.login_id, self.operator.name, scopes_of(self.operator.role),
                         kind="operator", role=self.operator.role)


@dataclass(frozen=True, slots=True)
class _EnrolFlow:
    login_id: str
    code: str
    challenge: bytes


class ConsoleService:
    def __init__(self, *, store: OperatorStore, rp: RelyingParty, audit: Callable[..., None], idle_s: float,
                 absolute_s: float, clock_us: Callable[[], int] = now_us) -> None:
        self.store = store
        self.rp = rp
        self.audit = audit
        self.idle_us = int(idle_s * 1_000_000)
        self.absolute_us = int(absolute_s * 1_000_000)
        self.clock_us = clock_us
        self._enrol_flows: Ephemeral[_EnrolFlow] = Ephemeral(ttl_s=FLOW_TTL_S, max_entries=10_000)
        self._login_flows: Ephemeral[bytes] = Ephemeral(ttl_s=FLOW_TTL_S, max_entries=100_000)

    # -- operator management (CLI and the operators page) ------------------------------------------
    def create_operator(self, *, login_id: str, name: str, role: str, actor: str) -> tuple[Operator, str]:
        """A new operator and its one-time enrolment code (shown once; only its hash is kept)."""
        now = self.clock_us()
        op = self.store.create(login_id=check_login_id(login_id), name=check_name(name), role=check_role(role),
                               user_handle=new_user_handle(), now_us=now)
        code = self._issue_code(op.login_id, now)
        self.audit(actor=actor, action="operator.create", target=op.login_id, details={"role": op.role})
        return op, code

    def _issue_code(self, login_id: str, now: int) -> str:
        code = new_enrolment_code()
        self.store.set_enrolment(login_id=login_id, code=code, now_us=now, expires_at_us=now + ENROL_CODE_TTL_S * 10**6)
        return code

    def operators(self) -> list[dict[str, Any]]:
        counts = self.store.passkey_counts()
        return [{"login_id": o.login_id, "name": o.name, "role": o.role, "active": o.active,
                 "passkeys": counts.get(o.login_id, 0), "created_at_us": o.created_at_us,
                 "disabled_at_us": o.disabled_at_us} for o in self.store.all()]

    def disable(self, login_id: str, *, actor: str) -> int:
        """Disable the operator; every session ends at once. Returns the number of sessions ended."""
        now = self.clock_us()
        self.store.get(login_id)
        self.store.update(login_id, now_us=now, disabled_at_us=now)
        ended = self.store.revoke_sessions(login_id, reason="disabled", now_us=now)
        self.audit(actor=actor, action="operator.disable", target=login_id, details={"sessions_ended": ended})
        return ended

    def enable(self, login_id: str, *, actor: str) -> None:
        self.store.get(login_id)
        self.store.update(login_id, now_us=self.clock_us(), disabled_at_us=None)
        self.audit(actor=actor, action="operator.enable", target=login_id, details={})

    def set_role(self, login_id: str, role: str, *, actor: str) -> None:
        """Change the role; live sessions end so the operator signs in again under the new role."""
        now = self.clock_us()
        old = self.store.get(login_id).role
        self.store.update(login_id, now_us=now, role=check_role(role))
        ended = self.store.revoke_sessions(login_id, reason="role_changed", now_us=now)
        self.audit(actor=actor, action="operator.set_role", target=login_id,
                   details={"from": old, "to": role, "sessions_ended": ended})

    def reset(self, login_id: str, *, actor: str) -> str:
        """Lost device: passkeys removed, sessions ended, a new enrolment code (returned, shown once)."""
        now = self.clock_us()
        self.store.get(login_id)
        removed = self.store.remove_passkeys(login_id)
        ended = self.store.revoke_sessions(login_id, reason="reset", now_us=now)
        code = self._issue_code(login_id, now)
        self.audit(actor=actor, action="operator.reset", target=login_id,
                   details={"passkeys_removed": removed, "sessions_ended": ended})
        return code

    # -- enrolment: code -> passkey ---------------------------------------------------------------
    def enrol_options(self, login_id: str, code: str) -> tuple[str, dict[str, Any]]:
        """Check the one-time code and return registration options (W3C WebAuthn L3 §5.4)."""
        now = self.clock_us()
        op = self.store.find(login_id) if LOGIN_ID.fullmatch(login_id) else None
        code = normalise_code(code)
        if op is None or not op.active or not self.store.check_enrolment(op.login_id, code, now,
                                                                         max_attempts=ENROL_MAX_ATTEMPTS):
            if op is not None:  # unknown ids are only logged: strangers must not be able to grow the audit log
                self.audit(actor=f"operator:{op.login_id}", action="operator.enrol_refused", target=op.login_id,
                           details={})
            else:
                log.warning("console enrolment refused for an unknown login id")
            raise LoginFailed("unknown login id, or the enrolment code is wrong, used or expired")
        challenge = new_challenge()
        flow = secrets.token_urlsafe(24)
        self._enrol_flows.put(flow, _EnrolFlow(op.login_id, code, challenge))
        holder = Customer(op.login_id, op.login_id, op.user_handle, None, None, None, None, None)
        return flow, self.rp.registration_options(holder, self.store.passkeys_of(op.login_id), challenge)

    def enrol(self, flow_id: str, credential: Any, name: str) -> Operator:
        flow = self._enrol_flows.take(flow_id)
        if flow is None:
            raise WebAuthnRejected("the enrolment expired; enter the code again")
        if not isinstance(credential, dict):
            raise WebAuthnRejected("malformed passkey registration")
        now = self.clock_us()
        key = self.rp.verify_registration(credential, flow.challenge, account_id=flow.login_id,
                                          name=(name.strip() or "passkey")[:64], now_us=now)
        if not self.store.use_enrolment(flow.login_id, flow.code, now):
            raise LoginFailed("the enrolment code was used or expired meanwhile")
        self.store.add_passkey(key)
        self.audit(actor=f"operator:{flow.login_id}", action="operator.enrol", target=flow.login_id,
                   details={"backup_eligible": key.backup_eligible})
        return self.store.get(flow.login_id)

    # -- login: discoverable passkey ---------------------------------------------------------------
    def login_options(self) -> tuple[str, dict[str, Any]]:
        challenge = new_challenge()
        flow = secrets.token_urlsafe(24)
        self._login_flows.put(flow, challenge)
        return flow, self.rp.authentication_options(challenge)

    def login(self, flow_id: str, credential: Any, *, ip: str | None, user_agent: str | None,
              previous_token: str | None = None) -> SignedIn:
        """Verify the assertion (W3C WebAuthn L3 §7.2) and open a new session (the old one, if the browser
        still had one, is revoked: the token changes at every login)."""
        challenge = self._login_flows.take(flow_id)
        if challenge is None:
            raise WebAuthnRejected("the sign-in expired; try again")
        if not isinstance(credential, dict):
            raise WebAuthnRejected("malformed passkey assertion")
        credential_id, handle = self.rp.credential_id_of(credential)
        key = self.store.passkey(credential_id)
        op = self.store.find(key.account_id) if key is not None else None
        if key is None or op is None or (handle is not None and handle != op.user_handle):
            log.warning("console sign-in with an unknown passkey refused")
            raise WebAuthnRejected("this passkey is not registered for the console")
        if not op.active:
            self.audit(actor=f"operator:{op.login_id}", action="operator.login_failed", target=op.login_id,
                       details={"reason": "disabled"})
            raise LoginFailed("this operator is disabled")
        verified = self.rp.verify_assertion(credential, challenge, key)
        now = self.clock_us()
        if not self.store.record_passkey_use(key.credential_id, old_count=key.sign_count,
                                             new_count=verified.new_sign_count, backed_up=verified.backed_up,
                                             now_us=now):
            self.audit(actor=f"operator:{op.login_id}", action="operator.login_failed", target=op.login_id,
                       details={"reason": "sign_count"})
            raise WebAuthnRejected("passkey counter did not advance (possibly a cloned authenticator)")
        if previous_token:
            self.logout(previous_token, reason="rotated")
        token = secrets.token_urlsafe(32)
        session_id = secrets.token_urlsafe(16)
        self.store.create_session(token=token, session_id=session_id, login_id=op.login_id, now_us=now,
                                  expires_at_us=now + self.absolute_us, ip=ip, user_agent=user_agent)
        self.audit(actor=f"operator:{op.login_id}", action="operator.login", target=op.login_id,
                   details={"session": session_id[:8]})
        return SignedIn(OperatorSession(session_id, op.login_id, now, now, now + self.absolute_us, None), op, token)

    # -- sessions ------------------------------------------------------------------------------------
    def resolve(self, token: str | None) -> SignedIn | None:
        """The live session for a cookie token, or None: unknown, revoked, idle for too long, past its
        absolute end, or its operator disabled."""
        if not token or len(token) > 128:
            return None
        found = self.store.session_by_token(token)
        if found is None:
            return None
        session, op = found
        now = self.clock_us()
        if session.revoked_at_us is not None or session.expires_at_us <= now or not op.active \
                or session.last_seen_at_us + self.idle_us <= now:
            return None
        if now - session.last_seen_at_us >= TOUCH_EVERY_US:
            self.store.touch_session(session.session_id, now)
        return SignedIn(session, op, token)

    def logout(self, token: str, *, reason: str = "logout") -> bool:
        found = self.store.session_by_token(token) if token and len(token) <= 128 else None
        if found is None or found[0].revoked_at_us is not None:
            return False
        session, op = found
        self.store.revoke_sessions(op.login_id, reason=reason, now_us=self.clock_us(), session_id=session.session_id)
        if reason == "logout":
            self.audit(actor=f"operator:{op.login_id}", action="operator.logout", target=op.login_id, details={})
        return True

    def require_operator(self, login_id: str) -> Operator:
        op = self.store.find(login_id)
        if op is None:
            raise NotFound("no such operator", details={"login_id": login_id})
        return op
