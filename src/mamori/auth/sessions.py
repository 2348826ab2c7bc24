"""Customer sessions with idle and absolute timeouts and revocation (OWASP Session Management Cheat
Sheet: 128+ bits of entropy, server-side expiry, regenerated at login, idle and absolute limits).

The cookie carries a 256-bit random token; the database keeps only its SHA-256, so a copy of the
database does not let anyone ride a session. ``last_seen`` is written at most once a minute (the
idle timeout is minutes long; writing it on every request would put a commit on every page view).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass

from mamori.adapters.sql.store import now_us
from mamori.auth.store import AuthStore, SessionRow

TOUCH_EVERY_US = 60_000_000
ENROL_SESSION_S = 15 * 60  # a recovery session may only enrol a passkey, briefly


@dataclass(frozen=True, slots=True)
class ClientInfo:
    ip: str | None
    user_agent: str | None
    device_id: str | None


class SessionManager:
    def __init__(self, store: AuthStore, *, idle_s: float, absolute_s: float,
                 clock_us: Callable[[], int] = now_us) -> None:
        self.store = store
        self.idle_us = int(idle_s * 1_000_000)
        self.absolute_us = int(absolute_s * 1_000_000)
        self.clock_us = clock_us

    def create(self, account_id: str, *, acr: str, amr: tuple[str, ...], client: ClientInfo,
               purpose: str = "full", auth_time_us: int | None = None) -> tuple[str, str]:
        """A new session; returns ``(token, session_id)``. The token goes into the cookie only."""
        now = self.clock_us()
        token = secrets.token_urlsafe(32)
        session_id = secrets.token_urlsafe(16)
        lifetime = ENROL_SESSION_S * 1_000_000 if purpose == "enrol" else self.absolute_us
        self.store.create_session(token=token, session_id=session_id, account_id=account_id, acr=acr, amr=amr,
                                  auth_time_us=auth_time_us or now, now_us=now, expires_at_us=now + lifetime,
                                  ip=client.ip, user_agent=client.user_agent, device_id=client.device_id,
                                  purpose=purpose)
        return token, session_id

    def resolve(self, token: str | None) -> SessionRow | None:
        """The live session for a cookie token, or None (unknown, revoked, idle or past its end)."""
        if not token or len(token) > 128:
            return None
        row = self.store.session_by_token(token)
        now = self.clock_us()
        if row is None or row.revoked_at_us is not None or row.expires_at_us <= now \
                or row.last_seen_at_us + self.idle_us <= now:
            return None
        if now - row.last_seen_at_us >= TOUCH_EVERY_US:
            self.store.touch_session(row.session_id, now)
        return row

    def active(self, account_id: str) -> list[SessionRow]:
        now = self.clock_us()
        return self.store.sessions_of(account_id, active_since_us=now - self.idle_us, now_us=now)

    def revoke(self, account_id: str, *, reason: str, session_id: str | None = None) -> list[str]:
        return self.store.revoke_sessions(account_id, reason=reason, now_us=self.clock_us(), session_id=session_id)
