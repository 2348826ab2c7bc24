"""HTTP API of actions and held items (issue 5 item 3); the guide with payloads is ``docs/actions.md``.

* ``GET /v1/held?state=pending|released|cancelled&account_id=&kind=order|withdrawal&limit=&cursor=``
  (``decisions:read``) - held orders and withdrawals, newest first;
* ``POST /v1/actions`` ``{"kind", "reason", "params", "case_id"}`` (``actions:propose``) - propose; a
  protective kind (freeze, block, lowering a limit) runs at once;
* ``POST /v1/held/{held_id}/propose`` ``{"outcome": "release"|"cancel", "reason", "case_id"}``
  (``actions:propose``) - the same for one held item (what the console's held page sends);
* ``GET /v1/actions?state=&account_id=&kind=&limit=&offset=`` and ``GET /v1/actions/{id}`` (``decisions:read``);
* ``POST /v1/actions/{id}/approve`` / ``reject`` ``{"note"}`` (``actions:approve``; the approver must not
  be the proposer: ``mamori.actions.four_eyes``);
* ``POST /v1/actions/{id}/retry`` (``actions:propose``) - send a failed action's webhook again.

The actor in audit records is ``Principal.actor`` (``api-key:<id>`` or ``operator:<login id>``). The
router's lifespan starts the actions worker (held items, recovery, webhook deliveries) once the
application's own start-up has opened the risk service, and stops it first at shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any, Final, Literal

import orjson
from fastapi import APIRouter, FastAPI, Path, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from mamori.actions import ActionsService, ActionsSettings
from mamori.api.auth import Principal
from mamori.risk.service import RiskService

__all__ = ["register_actions"]

ActionId = Path(pattern=r"^[0-9a-f]{32}$", description="The action id.")
_MAX_INT: Final = 2**62
_STATES: Final = "^(proposed|rejected|approved|executed|done|failed)$"


class ProposeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: str = Field(min_length=1, max_length=40, description="release_order, cancel_order, release_withdrawal, "
                      "cancel_withdrawal, freeze_account, unfreeze_account, set_limits, block_network, "
                      "unblock_network, block_symbol, unblock_symbol")
    reason: str = Field(min_length=1, max_length=2000, description="Why (required; kept with the action).")
    params: dict[str, Any] = Field(description="The kind's parameters (docs/actions.md).")
    case_id: int | None = Field(default=None, ge=1, le=_MAX_INT, description="The case this action belongs to.")


class HeldProposalIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    outcome: Literal["release", "cancel"] = Field(description="Release the held item, or cancel it.")
    reason: str = Field(min_length=1, max_length=2000)
    case_id: int | None = Field(default=None, ge=1, le=_MAX_INT)


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str | None = Field(default=None, max_length=2000)


def _json(body: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


def session_ender(get_auth: Callable[[], Any]) -> Callable[[str], int]:
    """End a frozen account's sessions and their OpenID Connect tokens (as ``POST .../freeze`` does)."""
    def end(account_id: str) -> int:
        auth = get_auth()
        ended = auth.sessions.revoke(account_id, reason="frozen")
        if auth.oidc is not None:
            for session_id in ended:
                auth.oidc.revoke_session(session_id)
        return len(ended)

    return end


def register_actions(app: FastAPI, get_risk: Callable[[], RiskService], principal: Callable[[Request, str], Principal],
                     settings: ActionsSettings | None = None,
                     get_auth: Callable[[], Any] | None = None) -> Callable[[], ActionsService]:
    """Add the routes and the worker's lifespan; returns the service getter (for the console pages).
    ``get_auth`` gives the customer authentication service, whose sessions a freeze ends."""
    holder: dict[str, ActionsService] = {}

    def service() -> ActionsService:
        if "svc" not in holder:
            holder["svc"] = ActionsService(get_risk(), settings,
                                           end_sessions=session_ender(get_auth) if get_auth is not None else None)
        return holder["svc"]

    @contextlib.asynccontextmanager
    async def lifespan(_app: Any) -> AsyncIterator[None]:
        svc = await asyncio.to_thread(service)
        app.state.actions = svc
        await svc.start()
        try:
            yield
        finally:
            await svc.stop()
            holder.clear()

    router = APIRouter(lifespan=lifespan, tags=["actions"])

    @router.get("/v1/held", summary="Held orders and withdrawals, newest first")
    async def list_held(request: Request, state: str | None = Query(None, pattern="^(pending|released|cancelled)$"),
                        account_id: str | None = Query(None, max_length=128),
                        kind: str | None = Query(None, pattern="^(order|withdrawal)$"),
                        limit: int = Query(100, ge=1, le=1000),
                        cursor: int | None = Query(None, ge=1, le=_MAX_INT)) -> Response:
        p = principal(request, "decisions:read")
        rows = await asyncio.to_thread(service().held, state=state, account_id=account_id, kind=kind, limit=limit,
                                       before_id=cursor)
        await asyncio.to_thread(get_risk().store.audit, actor=p.actor, action="held.list", target="held",
                                details={"filters": {"state": state, "account_id": account_id, "kind": kind},
                                         "held_ids": [r["id"] for r in rows]})
        return _json({"held": rows, "next_cursor": rows[-1]["id"] if len(rows) == limit else None})

    @router.post("/v1/actions", summary="Propose an action (protective ones run at once)", status_code=201)
    async def propose(request: Request, body: ProposeIn) -> Response:
        p = principal(request, "actions:propose")
        out = await service().propose(p.actor, kind=body.kind, reason=body.reason, params=body.params,
                                      case_id=body.case_id)
        return _json(out, 201)

    @router.post("/v1/held/{held_id}/propose", summary="Propose releasing or cancelling one held item",
                 status_code=201)
    async def propose_for_held(request: Request, body: HeldProposalIn,
                               held_id: int = Path(ge=1, le=_MAX_INT)) -> Response:
        p = principal(request, "actions:propose")
        item = await asyncio.to_thread(service().held_item, held_id)
        kind = f"{body.outcome}_{item.kind}"
        out = await service().propose(p.actor, kind=kind, reason=body.reason, params={"held_id": held_id},
                                      case_id=body.case_id)
        return _json(out, 201)

    @router.get("/v1/actions", summary="Actions, newest first")
    async def list_actions(request: Request, state: str | None = Query(None, pattern=_STATES),
                           account_id: str | None = Query(None, max_length=128),
                           kind: str | None = Query(None, pattern="^[a-z_]{1,40}$"),
                           limit: int = Query(100, ge=1, le=500),
                           offset: int = Query(0, ge=0, le=1_000_000)) -> Response:
        principal(request, "decisions:read")
        rows = await asyncio.to_thread(service().list, state=state, account_id=account_id, kind=kind, limit=limit,
                                       offset=offset)
        return _json({"actions": rows, "next_offset": offset + len(rows) if len(rows) == limit else None})

    @router.get("/v1/actions/{action_id}", summary="One action with its approvals, effects and webhook delivery")
    async def get_action(request: Request, action_id: str = ActionId) -> Response:
        principal(request, "decisions:read")
        return _json(await asyncio.to_thread(service().get, action_id))

    @router.post("/v1/actions/{action_id}/approve", summary="Approve (a different principal from the proposer)")
    async def approve(request: Request, body: DecisionIn | None = None, action_id: str = ActionId) -> Response:
        p = principal(request, "actions:approve")
        return _json(await service().approve(p.actor, action_id, body.note if body else None))

    @router.post("/v1/actions/{action_id}/reject", summary="Reject a proposed action")
    async def reject(request: Request, body: DecisionIn | None = None, action_id: str = ActionId) -> Response:
        p = principal(request, "actions:approve")
        return _json(await service().reject(p.actor, action_id, body.note if body else None))

    @router.post("/v1/actions/{action_id}/retry", summary="Send a failed action to the firm's systems again")
    async def retry(request: Request, action_id: str = ActionId) -> Response:
        p = principal(request, "actions:propose")
        return _json(await service().retry(p.actor, action_id))

    app.include_router(router)
    return service
