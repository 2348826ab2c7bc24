"""The login service: every authentication attempt becomes a ``login`` event for the risk engine,
and the engine's decision (allow / challenge / block) drives the flow.

Order of checks on a password attempt (each is cheaper than the next, and an attacker must pass
all of them before costing the firm an Argon2id hash):

1. the source throttle (per IP, network and ASN; :mod:`mamori.auth.throttle`) — refused with 429,
   no hash, no lockout counted against the victims;
2. the policy: a customer for whom a passkey is required and whose transition is over cannot use a
   password at all;
3. the lock, read from the engine without recording anything — per account, per factor, and only
   for devices the account does not know (a passkey login, or a login from the customer's own
   device, is never blocked by password failures from elsewhere);
4. the Argon2id verification, in a worker thread, under a per-account lock so that 100 concurrent
   wrong passwords are evaluated one after another: exactly the threshold is verified, the rest are
   refused as locked (Zitadel GHSA-… race: counters read and written in parallel);
5. the engine's decision on the attempt: ``block`` refuses, ``challenge`` asks for the next stronger
   factor the customer has (TOTP, then passkey) and refuses when none is left — and if the engine
   cannot answer, the flow treats it as ``challenge``, never as ``allow``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import secrets
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from mamori.adapters.sql.store import now_us
from mamori.auth import totp
from mamori.auth.ephemeral import Ephemeral
from mamori.auth.oidc import LoginContext, OidcProvider
from mamori.auth.passkeys import RelyingParty, new_challenge, new_user_handle
from mamori.auth.passwords import PasswordHasher, check_password
from mamori.auth.policy import AuthPolicy
from mamori.auth.sessions import ClientInfo, SessionManager
from mamori.auth.stepup import StepUp, StepUps
from mamori.auth.store import AuthStore, Customer, Passkey, SessionRow
from mamori.auth.throttle import SourceThrottle
from mamori.events.parse import parse_event
from mamori.kit.errors import (
    InvalidRequest,
    LoginFailed,
    LoginThrottled,
    NotFound,
    PasskeyRequired,
    StepUpRejected,
    WebAuthnRejected,
)

log = logging.getLogger("mamori.auth")

ACR_PASSKEY = "phr"
ACR_MFA = "urn:mamori:acr:mfa"
ACR_PASSWORD = "urn:mamori:acr:password"  # noqa: S105 (an ACR name)
FLOW_TTL_S = 300.0
ENGINE_TIMEOUT_S = 2.0
MAX_IN_FLIGHT_PER_SOURCE = 4  # password/recovery attempts one address may have being checked at once
RECOVERY_CODE_TTL_US = 24 * 3600 * 1_000_000
RECOVERY_MAX_ATTEMPTS = 5


@dataclass
class LoginFlow:
    """A login in progress between factors (password done, TOTP or passkey next)."""

    account_id: str
    client: ClientInfo
    done: list[str] = field(default_factory=list)
    next: str = ""
    challenge: bytes | None = None


@dataclass(frozen=True)
class LoginStep:
    """What the page does next: either the login is complete (``session_token``), or another factor
    is needed (``next`` = ``totp`` / ``passkey``, continuing ``flow``)."""

    session_token: str | None = None
    session_id: str | None = None
    next: str | None = None
    flow: str | None = None
    public_key: dict[str, Any] | None = None


Decider = Callable[[Any], Awaitable[str]]


class AuthService:
    def __init__(self, *, store: AuthStore, sessions: SessionManager, rp: RelyingParty, policy: AuthPolicy,
                 hasher: PasswordHasher, throttle: SourceThrottle, risk: Any, secret_key: bytes,
                 audit: Callable[..., None], breached: Any = None) -> None:
        self.store = store
        self.sessions = sessions
        self.rp = rp
        self.policy = policy
        self.hasher = hasher
        self.throttle = throttle
        self.risk = risk  # RiskService: decide(event) and engine.peek(event)
        self.audit = audit
        self.breached = breached
        self._cipher = AESGCM(HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                                   info=b"mamori-auth-totp-v1").derive(secret_key))
        self._challenges: Ephemeral[tuple[str, bytes, str | None]] = Ephemeral(ttl_s=FLOW_TTL_S)
        self._flows: Ephemeral[LoginFlow] = Ephemeral(ttl_s=FLOW_TTL_S)
        self._account_locks: dict[str, asyncio.Lock] = {}
        self._in_flight: dict[str, int] = {}
        self.stepups = StepUps()
        self.oidc: OidcProvider | None = None
        self.totp = totp.TotpVerifier()

    # -- risk engine -----------------------------------------------------------------------------
    async def _decide(self, event_type: str, account_id: str, client: ClientInfo, **fields: Any) -> str:
        """Send the event and return the verdict; if the engine cannot answer: ``challenge``."""
        body = {"id": f"auth-{uuid.uuid4().hex}", "type": event_type, "account_id": account_id,
                "occurred_at": dt.datetime.now(dt.UTC).isoformat(), "channel": "web", **fields}
        if client.ip:
            body["ip"] = client.ip
        if client.user_agent:
            body["user_agent"] = client.user_agent[:512]
        if client.device_id:
            body["device_id"] = client.device_id
        try:
            outcome = await asyncio.wait_for(self.risk.decide(parse_event(body)), ENGINE_TIMEOUT_S)
            return str(outcome.decision)
        except Exception:
            log.exception("risk engine unavailable for a %s event: the flow falls back to challenge", event_type)
            return "challenge"

    async def _login_event(self, account_id: str, client: ClientInfo, method: str, ok: bool,
                           reason: str | None = None) -> str:
        fields: dict[str, Any] = {"result": "success" if ok else "failure", "method": method}
        if not ok:
            fields["failure_reason"] = reason or "bad_credential"
        return await self._decide("login", account_id, client, **fields)

    def _locked(self, account_id: str, method: str, client: ClientInfo) -> bool:
        """Is this factor locked for this device? Read from the engine without recording anything.
        If the engine cannot tell, the attempt is treated as locked (fail closed)."""
        try:
            probe = parse_event({"id": f"probe-{uuid.uuid4().hex}", "type": "login", "account_id": account_id,
                                 "occurred_at": dt.datetime.now(dt.UTC).isoformat(), "result": "failure",
                                 "method": method, **({"device_id": client.device_id} if client.device_id else {}),
                                 **({"ip": client.ip} if client.ip else {})})
            env = self.risk.engine.peek(probe)
            return bool(env["login_locked"]) and env["new_device"] is not False
        except Exception:
            log.exception("could not read the lock state; refusing the attempt")
            return True

    def _check_source(self, ip: str) -> None:
        """The pre-hash source throttle (IP, network, ASN): refuse before any work is done."""
        verdict = self.throttle.check(ip)
        if not verdict.allowed:
            raise LoginThrottled("too many failed sign-ins from your network; try again later",
                                 details={"retry_after_s": verdict.retry_after_s})

    def _lock_for(self, account_id: str) -> asyncio.Lock:
        lock = self._account_locks.get(account_id)
        if lock is None:
            if len(self._account_locks) > 100_000:
                for key in [k for k, v in self._account_locks.items() if not v.locked()]:
                    del self._account_locks[key]
            lock = self._account_locks[account_id] = asyncio.Lock()
        return lock

    # -- customers -------------------------------------------------------------------------------
    async def create_customer(self, *, account_id: str, login_id: str, segment: str | None,
                              password: str | None, transition_days: int | None, actor: str) -> Customer:
        password_hash = None
        if password is not None:
            problems = await asyncio.to_thread(check_password, password, user_inputs=[login_id, account_id],
                                               breached=self.breached)
            if problems:
                raise InvalidRequest("the initial password is not acceptable",
                                     details=[{"field": "password", "code": p.code, "message": p.message_en,
                                               "message_ja": p.message_ja} for p in problems])
            password_hash = await asyncio.to_thread(self.hasher.hash, password)
        now = now_us()
        until = None
        if transition_days:
            until = self.policy.clamp_transition(now + transition_days * 86_400_000_000, now)
        customer = await asyncio.to_thread(
            self.store.create_customer, account_id=account_id, login_id=login_id, user_handle=new_user_handle(),
            segment=segment, password_hash=password_hash, fallback_until_us=until, now_us=now)
        await asyncio.to_thread(self.audit, actor=actor, action="auth.customer.create", target=account_id,
                                details={"login_id": login_id, "segment": segment,
                                         "password_set": password is not None, "fallback_until_us": until})
        return customer

    async def set_transition(self, account_id: str, until: dt.date | None, actor: str) -> int | None:
        now = now_us()
        value = None
        if until is not None:
            end = dt.datetime.combine(until + dt.timedelta(days=1), dt.time(), dt.timezone(dt.timedelta(hours=9)))
            value = self.policy.clamp_transition(int(end.timestamp() * 1_000_000), now)
        await asyncio.to_thread(self.store.update_customer, account_id, now_us=now, fallback_until_us=value)
        await asyncio.to_thread(self.audit, actor=actor, action="auth.transition.set", target=account_id,
                                details={"fallback_until_us": value})
        return value

    # -- passkey login ---------------------------------------------------------------------------
    def passkey_login_options(self) -> tuple[str, dict[str, Any]]:
        """Options for a discoverable-credential login (autofill or the passkey button)."""
        flow = secrets.token_urlsafe(24)
        challenge = new_challenge()
        self._challenges.put(flow, ("login", challenge, None))
        return flow, self.rp.authentication_options(challenge)

    async def passkey_login(self, flow: str, credential: Any, client: ClientInfo) -> LoginStep:
        self._check_source(client.ip or "0.0.0.0")  # noqa: S104 (an address to throttle, not a bind)
        entry = self._challenges.take(flow) if isinstance(flow, str) else None
        if entry is None or entry[0] != "login":
            raise WebAuthnRejected("the sign-in request expired; reload the page and try again")
        customer, key = await self._passkey_owner(credential)
        return await self._finish_passkey(customer, key, credential, entry[1], client)

    async def _passkey_owner(self, credential: Any) -> tuple[Customer, Passkey]:
        if not isinstance(credential, dict):
            raise WebAuthnRejected("malformed passkey assertion: expected a credential object")
        credential_id, handle = self.rp.credential_id_of(credential)
        key = await asyncio.to_thread(self.store.passkey, credential_id)
        if key is None:
            raise WebAuthnRejected("this passkey is not registered here (it may have been removed)")
        customer = await asyncio.to_thread(self.store.customer, key.account_id)
        if handle is not None and handle != customer.user_handle:
            raise WebAuthnRejected("the passkey's user handle does not match its account")
        return customer, key

    async def _verify_passkey(self, customer: Customer, key: Passkey, credential: Any, challenge: bytes,
                              client: ClientInfo) -> None:
        try:
            verified = self.rp.verify_assertion(credential, challenge, key)
        except WebAuthnRejected:
            await self._login_event(customer.account_id, client, "passkey", False)
            self.throttle.record(client.ip or "0.0.0.0", account=customer.account_id, success=False)  # noqa: S104
            raise
        if not await asyncio.to_thread(self.store.record_passkey_use, key.credential_id, old_count=key.sign_count,
                                       new_count=verified.new_sign_count, backed_up=verified.backed_up,
                                       now_us=now_us()):
            raise WebAuthnRejected("the passkey was used concurrently; try again")

    async def _finish_passkey(self, customer: Customer, key: Passkey, credential: Any, challenge: bytes,
                              client: ClientInfo) -> LoginStep:
        await self._verify_passkey(customer, key, credential, challenge, client)
        verdict = await self._login_event(customer.account_id, client, "passkey", True)
        self.throttle.record(client.ip or "0.0.0.0", account=customer.account_id, success=True)  # noqa: S104
        if verdict == "block":
            raise LoginFailed("sign-in refused; please contact the support desk")
        amr = ("swk" if key.backup_eligible else "hwk", "user", "mfa")
        token, session_id = await asyncio.to_thread(self.sessions.create, customer.account_id, acr=ACR_PASSKEY,
                                                    amr=amr, client=client)
        return LoginStep(session_token=token, session_id=session_id)

    # -- password (+ TOTP) login -----------------------------------------------------------------
    async def password_login(self, login_id: str, password: str, client: ClientInfo) -> LoginStep:
        ip = client.ip or "0.0.0.0"  # noqa: S104
        self._check_source(ip)
        # The throttle learns from finished attempts; a burst of parallel ones would all pass its check
        # while the first are still hashing. One address gets a few checks at a time, no more.
        if self._in_flight.get(ip, 0) >= MAX_IN_FLIGHT_PER_SOURCE:
            raise LoginThrottled("too many sign-ins in progress from your address; try again shortly",
                                 details={"retry_after_s": 1})
        self._in_flight[ip] = self._in_flight.get(ip, 0) + 1
        try:
            return await self._password_login(login_id, password, client, ip)
        finally:
            left = self._in_flight[ip] - 1
            if left:
                self._in_flight[ip] = left
            else:
                del self._in_flight[ip]

    async def _password_login(self, login_id: str, password: str, client: ClientInfo, ip: str) -> LoginStep:
        customer = await asyncio.to_thread(self.store.find_customer, login_id=login_id)
        now = now_us()
        if customer is None or customer.password_hash is None:
            await asyncio.to_thread(self.hasher.verify_dummy, password)  # same time as a real check
            self.throttle.record(ip, account=login_id, success=False)
            await self._login_event(login_id if customer is None else customer.account_id, client, "password",
                                    False, "unknown_account" if customer is None else "bad_credential")
            if self.policy.passkey_required == "all":
                raise PasskeyRequired("sign in with your passkey")
            raise LoginFailed("the login id or password is wrong")
        if not self.policy.fallback_allowed(customer.segment, customer.fallback_until_us, now):
            await asyncio.to_thread(self.hasher.verify_dummy, password)
            raise PasskeyRequired("sign in with your passkey")
        async with self._lock_for(customer.account_id):
            if self._locked(customer.account_id, "password", client):
                await self._login_event(customer.account_id, client, "password", False, "locked")
                raise LoginFailed("the login id or password is wrong")
            ok = await asyncio.to_thread(self.hasher.verify, customer.password_hash, password)
            decision = await self._login_event(customer.account_id, client, "password", ok)
        self.throttle.record(ip, account=customer.account_id, success=ok)
        if not ok or decision == "block":
            raise LoginFailed("the login id or password is wrong" if not ok else
                              "sign-in refused; please contact the support desk")
        flow = LoginFlow(account_id=customer.account_id, client=client, done=["password"])
        return await self._next_factor(customer, flow, decision)

    async def _next_factor(self, customer: Customer, flow: LoginFlow, decision: str) -> LoginStep:
        """After a successful weaker factor: complete, or ask for the next stronger one."""
        has_totp = customer.totp_secret_enc is not None
        keys = await asyncio.to_thread(self.store.passkeys_of, customer.account_id)
        need_second = self.policy.second_factor_required and "totp" not in flow.done
        if (need_second or decision == "challenge") and has_totp and "totp" not in flow.done:
            flow.next = "totp"
        elif decision == "challenge" and keys:
            flow.next = "passkey"
            flow.challenge = new_challenge()
        elif need_second:
            # No second factor enrolled: under a policy that requires one the password alone is refused.
            raise PasskeyRequired("a second factor is required: sign in with your passkey or ask the support "
                                  "desk to set up an authenticator app")
        elif decision == "challenge":
            # The engine wants more than the customer has (or could not answer): refused, never allowed.
            # The customer can still sign in from a device they used before, or with a passkey.
            raise PasskeyRequired("additional verification is needed for this sign-in: use your passkey or a "
                                  "device you have signed in from before, or call the support desk")
        else:
            acr = ACR_MFA if "totp" in flow.done else ACR_PASSWORD
            amr = tuple(["pwd"] + (["otp", "mfa"] if "totp" in flow.done else []))
            token, session_id = await asyncio.to_thread(self.sessions.create, customer.account_id, acr=acr,
                                                        amr=amr, client=flow.client)
            return LoginStep(session_token=token, session_id=session_id)
        flow_id = secrets.token_urlsafe(24)
        self._flows.put(flow_id, flow)
        public_key = self.rp.authentication_options(flow.challenge, keys) if flow.challenge else None
        return LoginStep(next=flow.next, flow=flow_id, public_key=public_key)

    def _flow(self, flow_id: Any, expected: str, client: ClientInfo) -> LoginFlow:
        flow = self._flows.take(flow_id) if isinstance(flow_id, str) else None
        if flow is None or flow.next != expected or flow.client.device_id != client.device_id:
            raise LoginFailed("the sign-in expired; start again")
        return flow

    async def totp_step(self, flow_id: str, code: str, client: ClientInfo) -> LoginStep:
        flow = self._flow(flow_id, "totp", client)
        customer = await asyncio.to_thread(self.store.customer, flow.account_id)
        if customer.totp_secret_enc is None:
            raise LoginFailed("the sign-in expired; start again")
        async with self._lock_for(customer.account_id):
            if self._locked(customer.account_id, "totp", client):
                await self._login_event(customer.account_id, client, "totp", False, "locked")
                raise LoginFailed("the code is wrong or expired")
            secret = self._decrypt(customer.account_id, customer.totp_secret_enc)
            step = self.totp.verify(secret, code, last_used_step=customer.totp_last_step)
            ok = step is not None and await asyncio.to_thread(self.store.accept_totp_step, customer.account_id,
                                                              step, now_us())
            decision = await self._login_event(customer.account_id, client, "totp", ok,
                                               None if ok else "bad_otp")
        if not ok:
            self._flows.put(flow_id, flow)  # the customer may retry within the flow (the lock counts)
            raise LoginFailed("the code is wrong or expired")
        if decision == "block":
            raise LoginFailed("sign-in refused; please contact the support desk")
        flow.done.append("totp")
        return await self._next_factor(customer, flow, decision)

    async def passkey_step(self, flow_id: str, credential: Any, client: ClientInfo) -> LoginStep:
        flow = self._flow(flow_id, "passkey", client)
        customer, key = await self._passkey_owner(credential)
        if customer.account_id != flow.account_id or flow.challenge is None:
            raise WebAuthnRejected("this passkey belongs to another account")
        return await self._finish_passkey(customer, key, credential, flow.challenge, client)

    # -- sessions --------------------------------------------------------------------------------
    def resolve(self, token: str | None) -> SessionRow | None:
        return self.sessions.resolve(token)

    @staticmethod
    def login_context(row: SessionRow) -> LoginContext:
        return LoginContext(subject=row.account_id, session_id=row.session_id,
                            auth_time=row.auth_time_us // 1_000_000, amr=row.amr, acr=row.acr)

    # -- enrolment -------------------------------------------------------------------------------
    async def enrol_options(self, session: SessionRow, stepup_id: str | None) -> tuple[str, dict[str, Any]]:
        customer = await asyncio.to_thread(self.store.customer, session.account_id)
        keys = await asyncio.to_thread(self.store.passkeys_of, customer.account_id)
        if keys and session.purpose != "enrol":
            # Adding another passkey changes the MFA devices: a passkey step-up bound to it first.
            self._require_stepup(stepup_id, customer.account_id, {"kind": "mfa_change", "new_value": "passkey:add"})
        elif not keys and session.purpose != "enrol" and now_us() - session.auth_time_us > 10 * 60 * 1_000_000:
            raise StepUpRejected("sign in again before adding your first passkey (the sign-in must be recent)")
        flow = secrets.token_urlsafe(24)
        challenge = new_challenge()
        self._challenges.put(flow, ("register", challenge, customer.account_id))
        return flow, self.rp.registration_options(customer, keys, challenge)

    def _require_stepup(self, stepup_id: str | None, account_id: str, operation: dict[str, str]) -> None:
        if not stepup_id:
            raise StepUpRejected("this change needs a passkey confirmation first", details={"operation": operation})
        self.stepups.consume(stepup_id, account_id, operation)

    async def enrol(self, session: SessionRow, flow: str, credential: Any, name: str,
                    client: ClientInfo) -> Passkey:
        entry = self._challenges.take(flow) if isinstance(flow, str) else None
        if entry is None or entry[0] != "register" or entry[2] != session.account_id:
            raise WebAuthnRejected("the registration request expired; try again")
        if not isinstance(credential, dict):
            raise WebAuthnRejected("malformed passkey registration: expected a credential object")
        clean = name.strip()[:64] or "passkey"
        key = self.rp.verify_registration(credential, entry[1], account_id=session.account_id, name=clean,
                                          now_us=now_us())
        await asyncio.to_thread(self.store.add_passkey, key)
        await self._decide("settings_change", session.account_id, client, setting="mfa_device", change="added")
        await asyncio.to_thread(self.audit, actor=f"customer:{session.account_id}", action="auth.passkey.add",
                                target=session.account_id, details={"credential_id": key.credential_id,
                                                                    "name": clean, "aaguid": key.aaguid})
        if session.purpose == "enrol":  # a recovery session ends once it did its one job
            await asyncio.to_thread(self.sessions.revoke, session.account_id, reason="recovery_done",
                                    session_id=session.session_id)
        return key

    async def rename_passkey(self, session: SessionRow, credential_id: str, name: str) -> None:
        clean = name.strip()[:64]
        if not clean:
            raise InvalidRequest("the name must not be empty", details={"field": "name"})
        await asyncio.to_thread(self.store.rename_passkey, session.account_id, credential_id, clean)
        await asyncio.to_thread(self.audit, actor=f"customer:{session.account_id}", action="auth.passkey.rename",
                                target=session.account_id, details={"credential_id": credential_id})

    async def remove_passkey(self, session: SessionRow, credential_id: str, stepup_id: str | None,
                             client: ClientInfo) -> None:
        customer = await asyncio.to_thread(self.store.customer, session.account_id)
        keys = await asyncio.to_thread(self.store.passkeys_of, customer.account_id)
        if not any(k.credential_id == credential_id for k in keys):
            raise NotFound("no such passkey", details={"field": "credential_id"})
        if len(keys) == 1 and self.policy.passkey_required_for(customer.segment):
            raise PasskeyRequired("this is your only passkey and a passkey is required: add another one first")
        self._require_stepup(stepup_id, customer.account_id, {"kind": "passkey_remove",
                                                               "credential_id": credential_id})
        await asyncio.to_thread(self.store.remove_passkey, customer.account_id, credential_id)
        await self._decide("settings_change", customer.account_id, client, setting="mfa_device", change="removed")
        await asyncio.to_thread(self.audit, actor=f"customer:{customer.account_id}", action="auth.passkey.remove",
                                target=customer.account_id, details={"credential_id": credential_id})

    # -- operation-bound step-up -----------------------------------------------------------------
    async def stepup_options(self, session: SessionRow, stepup_id: str) -> tuple[StepUp, dict[str, Any]]:
        step = self.stepups.get(stepup_id, session.account_id)
        if step.status != "pending":
            raise StepUpRejected("this step-up was already approved; start a new one")
        keys = await asyncio.to_thread(self.store.passkeys_of, session.account_id)
        if not keys:
            raise PasskeyRequired("register a passkey first: this operation needs one")
        return step, self.rp.authentication_options(step.challenge, keys)

    async def stepup_approve(self, session: SessionRow, stepup_id: str, credential: Any,
                             client: ClientInfo) -> StepUp:
        step = self.stepups.get(stepup_id, session.account_id)
        if step.status != "pending":
            raise StepUpRejected("this step-up was already approved; start a new one")
        customer, key = await self._passkey_owner(credential)
        if customer.account_id != session.account_id:
            raise WebAuthnRejected("this passkey belongs to another account")
        await self._verify_passkey(customer, key, credential, step.challenge, client)
        self.stepups.approve(step, key.credential_id, time.time())
        await asyncio.to_thread(self.audit, actor=f"customer:{customer.account_id}", action="auth.stepup.approve",
                                target=customer.account_id, details={"stepup_id": step.id, "kind": step.kind,
                                                                     "operation_sha256": step.digest.hex()})
        return step

    # -- TOTP enrolment --------------------------------------------------------------------------
    def _encrypt(self, account_id: str, secret: str) -> bytes:
        nonce = secrets.token_bytes(12)
        return b"\x01" + nonce + self._cipher.encrypt(nonce, secret.encode(), account_id.encode())

    def _decrypt(self, account_id: str, blob: bytes) -> str:
        try:
            return self._cipher.decrypt(blob[1:13], blob[13:], account_id.encode()).decode()
        except (InvalidTag, ValueError):
            raise LoginFailed("the authenticator app secret cannot be read; contact the support desk") from None

    async def set_totp(self, account_id: str, actor: str) -> tuple[str, str]:
        """Create a TOTP secret for the customer (operator action after identification); returns the
        secret and its otpauth URI, shown once."""
        customer = await asyncio.to_thread(self.store.customer, account_id)
        secret = totp.new_secret()
        await asyncio.to_thread(self.store.update_customer, account_id, now_us=now_us(),
                                totp_secret_enc=self._encrypt(account_id, secret), totp_last_step=None)
        await asyncio.to_thread(self.audit, actor=actor, action="auth.totp.set", target=account_id, details={})
        return secret, totp.provisioning_uri(secret, customer.login_id, self.rp.rp_name)

    # -- recovery --------------------------------------------------------------------------------
    async def issue_recovery(self, account_id: str, *, operator_id: str, method: str, reference: str | None,
                             remove_passkeys: bool, actor: str) -> tuple[str, int]:
        """After an operator re-identified the customer: end every session, optionally drop lost
        passkeys, lift locks and freezes (``account_unlock``), and issue a one-time code the operator
        hands over by phone, post or at the counter — never an e-mailed link."""
        await asyncio.to_thread(self.store.customer, account_id)
        now = now_us()
        code = "-".join(secrets.token_hex(2).upper() for _ in range(4))
        await asyncio.to_thread(self.sessions.revoke, account_id, reason="recovery")
        removed = await asyncio.to_thread(self.store.remove_all_passkeys, account_id) if remove_passkeys else 0
        await asyncio.to_thread(self.store.add_recovery_code, code=code, account_id=account_id,
                                operator_id=operator_id, now_us=now, expires_at_us=now + RECOVERY_CODE_TTL_US)
        body = {"operator_id": operator_id, "reason": "reidentified"}
        if reference:
            body["reference"] = reference
        await self._decide("account_unlock", account_id, ClientInfo(None, None, None), **body)
        await asyncio.to_thread(self.audit, actor=actor, action="auth.recovery.issue", target=account_id,
                                details={"operator_id": operator_id, "method": method, "reference": reference,
                                         "passkeys_removed": removed})
        return code, now + RECOVERY_CODE_TTL_US

    async def redeem_recovery(self, login_id: str, code: str, client: ClientInfo) -> LoginStep:
        ip = client.ip or "0.0.0.0"  # noqa: S104
        self._check_source(ip)
        customer = await asyncio.to_thread(self.store.find_customer, login_id=login_id)
        normalised = code.strip().upper().replace(" ", "")
        ok = customer is not None and await asyncio.to_thread(
            self.store.use_recovery_code, customer.account_id, normalised, now_us(), max_attempts=RECOVERY_MAX_ATTEMPTS)
        self.throttle.record(ip, account=login_id, success=ok)
        if not ok or customer is None:
            raise LoginFailed("the login id or recovery code is wrong or expired")
        await asyncio.to_thread(self.audit, actor=f"customer:{customer.account_id}", action="auth.recovery.redeem",
                                target=customer.account_id, details={})
        token, session_id = await asyncio.to_thread(self.sessions.create, customer.account_id, acr=ACR_PASSWORD,
                                                    amr=("otp",), client=client, purpose="enrol")
        return LoginStep(session_token=token, session_id=session_id)

    # -- admin views -----------------------------------------------------------------------------
    async def customer_view(self, account_id: str) -> dict[str, Any]:
        customer = await asyncio.to_thread(self.store.customer, account_id)
        keys = await asyncio.to_thread(self.store.passkeys_of, account_id)
        now = now_us()
        return {"account_id": customer.account_id, "login_id": customer.login_id, "segment": customer.segment,
                "password_set": customer.password_hash is not None, "totp_set": customer.totp_secret_enc is not None,
                "passkeys": [passkey_view(k) for k in keys],
                "passkey_required": self.policy.passkey_required_for(customer.segment),
                "fallback_until": _iso(customer.fallback_until_us),
                "fallback_allowed_now": self.policy.fallback_allowed(customer.segment, customer.fallback_until_us,
                                                                     now)}

    async def schedule(self) -> dict[str, Any]:
        rows = await asyncio.to_thread(self.store.customers_in_transition)
        now = now_us()
        return {"policy": self.policy.to_dict(),
                "customers_in_transition": [{"account_id": c.account_id, "segment": c.segment,
                                             "fallback_until": _iso(c.fallback_until_us),
                                             "active": (c.fallback_until_us or 0) > now} for c in rows]}


def passkey_view(key: Passkey) -> dict[str, Any]:
    return {"credential_id": key.credential_id, "name": key.name, "created_at": _iso(key.created_at_us),
            "last_used_at": _iso(key.last_used_at_us), "synced": key.backup_eligible, "backed_up": key.backed_up,
            "aaguid": key.aaguid}


def _iso(us: int | None) -> str | None:
    if us is None:
        return None
    return dt.datetime.fromtimestamp(us / 1_000_000, dt.UTC).isoformat().replace("+00:00", "Z")
