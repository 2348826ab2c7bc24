"""Admin and integration API of the authentication service (``/v1/auth/...``, API keys).

* ``accounts:admin`` — the firm's back office: create customers, grant or end a fallback
  transition, set up TOTP, issue a recovery code after re-identification, list and end sessions,
  and read the policy with the whole transition schedule.
* ``auth:stepup`` — the trading site's back end: create an operation-bound step-up, read its
  status, consume it just before executing the operation.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable
from typing import Any, Literal

import orjson
from fastapi import FastAPI, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from mamori.api.auth import Principal
from mamori.auth.service import AuthService

IdentifierPattern = r"^[A-Za-z0-9][A-Za-z0-9._:@/+=-]*$"


class CustomerCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    account_id: str = Field(min_length=1, max_length=128, pattern=IdentifierPattern)
    login_id: str = Field(min_length=1, max_length=128, pattern=IdentifierPattern)
    segment: str | None = Field(default=None, min_length=1, max_length=64)
    password: str | None = Field(default=None, min_length=1, max_length=1024,
                                 description="Initial password (customers in a fallback transition only).")
    transition_days: int | None = Field(default=None, ge=1, le=3650,
                                        description="Grant a fallback transition (capped by the policy).")


class TransitionUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    until: dt.date | None = Field(description="Last day (JST) a weaker factor is accepted; null ends it now.")


class RecoveryRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    operator_id: str = Field(min_length=1, max_length=128, pattern=IdentifierPattern)
    method: Literal["in_person", "video_call", "jpki", "postal"] = Field(
        description="How the customer was identified again (eKYC, My Number card (JPKI), counter, post).")
    reference: str | None = Field(default=None, min_length=1, max_length=128)
    remove_passkeys: bool = Field(default=False, description="Remove all passkeys (lost or stolen device).")


class StepUpCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    account_id: str = Field(min_length=1, max_length=128, pattern=IdentifierPattern)
    operation: dict[str, Any] = Field(description="kind plus the values the approval binds: withdrawal "
                                      "{amount, currency, destination}, withdrawal_account_change {destination}, "
                                      "email_change / phone_change / mfa_change {new_value}, order {symbol, side, "
                                      "quantity[, price]}.")
    reference: str | None = Field(default=None, min_length=1, max_length=128)


class StepUpConsume(BaseModel):
    model_config = ConfigDict(extra="forbid")

    account_id: str = Field(min_length=1, max_length=128, pattern=IdentifierPattern)
    operation: dict[str, Any]


def _json(body: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json",
                    headers={"Cache-Control": "no-store"})


def register_auth_admin(app: FastAPI, get_auth: Callable[[], AuthService],
                        principal: Callable[[Request, str], Principal]) -> None:
    @app.post("/v1/auth/customers", tags=["authentication"], status_code=201,
              summary="Register a customer with the login service")
    async def create_customer(request: Request, body: CustomerCreate) -> Response:
        p = principal(request, "accounts:admin")
        auth = get_auth()
        await auth.create_customer(account_id=body.account_id, login_id=body.login_id, segment=body.segment,
                                   password=body.password, transition_days=body.transition_days, actor=p.actor)
        return _json(await auth.customer_view(body.account_id), 201)

    @app.get("/v1/auth/customers/{account_id}", tags=["authentication"],
             summary="A customer's factors, passkeys and transition")
    async def get_customer(request: Request, account_id: str) -> Response:
        principal(request, "accounts:admin")
        return _json(await get_auth().customer_view(account_id))

    @app.put("/v1/auth/customers/{account_id}/transition", tags=["authentication"],
             summary="Grant, change or end a customer's fallback transition (audited)")
    async def set_transition(request: Request, account_id: str, body: TransitionUpdate) -> Response:
        p = principal(request, "accounts:admin")
        auth = get_auth()
        await auth.set_transition(account_id, body.until, p.actor)
        return _json(await auth.customer_view(account_id))

    @app.post("/v1/auth/customers/{account_id}/totp", tags=["authentication"],
              summary="Create the customer's authenticator-app secret (shown once; audited)")
    async def set_totp(request: Request, account_id: str) -> Response:
        p = principal(request, "accounts:admin")
        secret, uri = await get_auth().set_totp(account_id, p.actor)
        return _json({"account_id": account_id, "secret": secret, "otpauth_uri": uri})

    @app.post("/v1/auth/customers/{account_id}/recovery", tags=["authentication"],
              summary="After re-identification: end sessions, lift locks, issue a one-time recovery code")
    async def recovery(request: Request, account_id: str, body: RecoveryRequest) -> Response:
        p = principal(request, "accounts:admin")
        code, expires_us = await get_auth().issue_recovery(
            account_id, operator_id=body.operator_id, method=body.method, reference=body.reference,
            remove_passkeys=body.remove_passkeys, actor=p.actor)
        return _json({"account_id": account_id, "recovery_code": code,
                      "expires_at": dt.datetime.fromtimestamp(expires_us / 1e6, dt.UTC).isoformat(),
                      "deliver": "Tell the customer by phone, post or at the counter; never by e-mail or link."})

    @app.get("/v1/auth/customers/{account_id}/sessions", tags=["authentication"],
             summary="The customer's active sessions")
    async def list_sessions(request: Request, account_id: str) -> Response:
        principal(request, "accounts:admin")
        rows = await asyncio.to_thread(get_auth().sessions.active, account_id)
        return _json({"sessions": [{"session_id": s.session_id, "acr": s.acr, "amr": list(s.amr), "ip": s.ip,
                                    "user_agent": s.user_agent, "created_at_us": s.created_at_us,
                                    "last_seen_at_us": s.last_seen_at_us} for s in rows]})

    @app.delete("/v1/auth/customers/{account_id}/sessions", tags=["authentication"],
                summary="End all of the customer's sessions (audited)")
    async def end_sessions(request: Request, account_id: str) -> Response:
        p = principal(request, "accounts:admin")
        auth = get_auth()
        ended = await asyncio.to_thread(auth.sessions.revoke, account_id, reason="operator")
        if auth.oidc is not None:
            for session_id in ended:
                auth.oidc.revoke_session(session_id)
        await asyncio.to_thread(auth.audit, actor=p.actor, action="auth.sessions.revoke", target=account_id,
                                details={"sessions": len(ended)})
        return _json({"ended": len(ended)})

    @app.get("/v1/auth/policy", tags=["authentication"],
             summary="The authentication policy and the published fallback transition schedule")
    async def policy(request: Request) -> Response:
        principal(request, "accounts:admin")
        return _json(await get_auth().schedule())

    @app.post("/v1/auth/stepups", tags=["authentication"], status_code=201,
              summary="Ask the customer to approve one exact operation with a passkey")
    async def create_stepup(request: Request, body: StepUpCreate) -> Response:
        p = principal(request, "auth:stepup")
        auth = get_auth()
        await asyncio.to_thread(auth.store.customer, body.account_id)
        step = auth.stepups.create(body.account_id, body.operation, reference=body.reference)
        await asyncio.to_thread(auth.audit, actor=p.actor, action="auth.stepup.create", target=body.account_id,
                                details={"stepup_id": step.id, "kind": step.kind,
                                         "operation_sha256": step.digest.hex(), "reference": body.reference})
        return _json({**step.public(), "page": f"/auth/stepup/{step.id}"}, 201)

    @app.get("/v1/auth/stepups/{stepup_id}", tags=["authentication"], summary="A step-up's status")
    async def get_stepup(request: Request, stepup_id: str, account_id: str) -> Response:
        principal(request, "auth:stepup")
        return _json(get_auth().stepups.get(stepup_id, account_id).public())

    @app.post("/v1/auth/stepups/{stepup_id}/consume", tags=["authentication"],
              summary="Use an approved step-up for exactly the approved operation, once")
    async def consume_stepup(request: Request, stepup_id: str, body: StepUpConsume) -> Response:
        p = principal(request, "auth:stepup")
        auth = get_auth()
        step = auth.stepups.consume(stepup_id, body.account_id, body.operation)
        await asyncio.to_thread(auth.audit, actor=p.actor, action="auth.stepup.consume", target=body.account_id,
                                details={"stepup_id": step.id, "kind": step.kind,
                                         "operation_sha256": step.digest.hex()})
        return _json(step.public())
