"""HTTP API of rule management (``/v1/rules/...``), issue 5 item 8.

Reads:

* ``GET /v1/rules`` (``decisions:read``) - every active rule with hit counts over 24 h / 7 d / 30 d
  (active and shadow), precision from closed cases and open drafts;
* ``GET /v1/rules/{rule_id}`` (``decisions:read``) - one rule, with its YAML text and drafts;
* ``GET /v1/rules/drafts``, ``GET /v1/rules/drafts/{id}`` (``rules:draft``) - drafts with compile
  errors (line/column in the draft text) and the diff against the active rule set;
* ``GET /v1/rules/backtests/{id}``, ``GET /v1/rules/shadow`` (``rules:draft``; audited, they name accounts);
* ``GET /v1/rules/publications`` (``rules:draft`` or ``rules:approve``).

Actions (each audited):

* ``POST /v1/rules/drafts`` ``{"rule_id", "text", "note", "new"}``, ``PUT /v1/rules/drafts/{id}``
  ``{"text", "note"}``, ``DELETE /v1/rules/drafts/{id}`` (withdraw) - ``rules:draft``;
* ``POST /v1/rules/drafts/{id}/backtests`` ``{"since", "until", "max_events"}`` (202, runs in the
  background), ``POST /v1/rules/backtests/{id}/cancel`` - ``rules:draft``;
* ``POST /v1/rules/drafts/{id}/shadow`` (start), ``DELETE /v1/rules/shadow`` (stop) - ``rules:draft``;
* ``POST /v1/rules/drafts/{id}/publication`` ``{"reason", "override_reason"}``, ``POST /v1/rules/rollback``
  ``{"reason"}`` - ``rules:draft``; ``POST /v1/rules/publications/{id}/approve`` and ``/reject`` -
  ``rules:approve``, by someone else than the requester and the draft's author (``FourEyesRequired``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from enum import Enum
from typing import Annotated, Any, Final

import orjson
from fastapi import FastAPI, Path, Query, Request
from fastapi.responses import Response
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from mamori.api.auth import Principal
from mamori.kit.errors import Forbidden
from mamori.kit.settings import Settings
from mamori.risk.rules.loader import builtin_rules_path
from mamori.risk.service import RiskService
from mamori.rulesadmin.backtests import MAX_EVENTS
from mamori.rulesadmin.drafts import MAX_DRAFT_BYTES
from mamori.rulesadmin.service import RulesAdmin

__all__ = ["register_rules"]

log = logging.getLogger("mamori.rulesadmin")

READ: Final = "decisions:read"
DRAFT: Final = "rules:draft"
APPROVE: Final = "rules:approve"
_RULE_ID: Final = r"^[A-Za-z][A-Za-z0-9_.-]{0,63}$"
Id = Annotated[int, Path(ge=1, le=2**62)]
COUNT_INTERVAL_S: Final = 5.0


class DraftIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rule_id: str = Field(pattern=_RULE_ID, description="The rule to edit (or the id of a new rule).")
    text: str = Field(min_length=1, max_length=MAX_DRAFT_BYTES, description="The rule as YAML (one mapping).")
    note: str = Field(default="", max_length=2000)
    new: bool = Field(default=False, description="A new rule (added to local.yaml) instead of an edit.")


class RevisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=MAX_DRAFT_BYTES)
    note: str = Field(default="", max_length=2000)


class BacktestIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    since: AwareDatetime | None = Field(default=None, description="Events that occurred at or after (RFC 3339).")
    until: AwareDatetime | None = Field(default=None, description="Events that occurred before (RFC 3339).")
    max_events: int = Field(default=100_000, ge=1, le=MAX_EVENTS)


class PublicationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=2000)
    override_reason: str | None = Field(default=None, max_length=2000, description="Publish without a finished "
                                        "backtest of the current revision: why (recorded and audited).")


class ReasonIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(default="", max_length=2000)


def _json(body: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json",
                    headers={"Cache-Control": "no-store"})


def _us(value: AwareDatetime | None) -> int | None:
    return None if value is None else int(value.timestamp() * 1_000_000)


def rules_admin_factory(get_service: Callable[[], RiskService],
                        settings: Settings) -> Callable[[], RulesAdmin]:
    """The application's :class:`RulesAdmin`, made on first use, and a background task that keeps the
    hit counts current (it ends with the server's event loop)."""
    holder: dict[str, Any] = {}

    def get() -> RulesAdmin:
        admin: RulesAdmin | None = holder.get("admin")
        if admin is None or admin.risk is not get_service():
            admin = RulesAdmin(get_service(), settings.data_dir,
                               configured_rules=settings.rules_path or builtin_rules_path(),
                               configured_shadow=settings.shadow_rules_path)
            holder["admin"] = admin
        return admin

    return get


async def _count_periodically(get: Callable[[], RulesAdmin]) -> None:
    while True:
        try:
            await asyncio.to_thread(get().catch_up, 50_000)
        except Exception as exc:  # the store may be closing; the next round tries again
            log.debug("rule hit counts not updated: %s", exc)
        await asyncio.sleep(COUNT_INTERVAL_S)


def register_rules(app: FastAPI, get_service: Callable[[], RiskService], principal: Callable[[Request, str], Principal],
                   settings: Settings) -> Callable[[], RulesAdmin]:
    """Add the ``/v1/rules`` routes; returns the getter of the :class:`RulesAdmin` (for the console)."""
    tags: list[str | Enum] = ["rules"]
    made = rules_admin_factory(get_service, settings)
    counting: set[asyncio.Task[None]] = set()

    async def admin() -> RulesAdmin:
        got = await run_in_threadpool(made)
        if not counting:
            counting.add(asyncio.get_running_loop().create_task(_count_periodically(made)))
        return got

    @app.get("/v1/rules", tags=tags, summary="Active rules with hit counts and precision from closed cases")
    async def list_rules(request: Request) -> Response:
        principal(request, READ)
        a = await admin()
        return _json(await run_in_threadpool(a.list_rules))

    @app.get("/v1/rules/drafts", tags=tags, summary="Rule drafts, newest first")
    async def list_drafts(request: Request, status: str | None = Query(None, pattern="^(open|published|withdrawn)$"),
                          limit: int = Query(100, ge=1, le=500)) -> Response:
        principal(request, DRAFT)
        a = await admin()
        return _json({"drafts": await run_in_threadpool(a.list_drafts, status, limit)})

    @app.post("/v1/rules/drafts", tags=tags, summary="Edit a rule (or add one) into a draft", status_code=201)
    async def create_draft(request: Request, body: DraftIn) -> Response:
        p = principal(request, DRAFT)
        a = await admin()
        return _json(await run_in_threadpool(lambda: a.create_draft(p.actor, rule_id=body.rule_id, text=body.text,
                                                                    note=body.note, is_new=body.new)), 201)

    @app.get("/v1/rules/drafts/{draft_id}", tags=tags, summary="A draft: text, compile errors, diff, history")
    async def get_draft(request: Request, draft_id: Id) -> Response:
        principal(request, DRAFT)
        a = await admin()
        return _json(await run_in_threadpool(a.get_draft, draft_id))

    @app.put("/v1/rules/drafts/{draft_id}", tags=tags, summary="Save a new revision of a draft")
    async def update_draft(request: Request, draft_id: Id, body: RevisionIn) -> Response:
        p = principal(request, DRAFT)
        a = await admin()
        return _json(await run_in_threadpool(lambda: a.update_draft(p.actor, draft_id, text=body.text,
                                                                    note=body.note)))

    @app.delete("/v1/rules/drafts/{draft_id}", tags=tags, summary="Withdraw a draft")
    async def withdraw_draft(request: Request, draft_id: Id) -> Response:
        p = principal(request, DRAFT)
        a = await admin()
        return _json(await run_in_threadpool(a.withdraw_draft, p.actor, draft_id))

    @app.post("/v1/rules/drafts/{draft_id}/backtests", tags=tags, status_code=202,
              summary="Backtest the draft on stored history (runs in the background)")
    async def start_backtest(request: Request, draft_id: Id, body: BacktestIn) -> Response:
        p = principal(request, DRAFT)
        a = await admin()
        return _json(await run_in_threadpool(lambda: a.start_backtest(
            p.actor, draft_id, since_us=_us(body.since), until_us=_us(body.until), max_events=body.max_events)),
            202)

    @app.get("/v1/rules/backtests/{backtest_id}", tags=tags, summary="A backtest: progress and result")
    async def get_backtest(request: Request, backtest_id: Id) -> Response:
        p = principal(request, DRAFT)
        a = await admin()
        return _json(await run_in_threadpool(a.get_backtest, p.actor, backtest_id))

    @app.post("/v1/rules/backtests/{backtest_id}/cancel", tags=tags, summary="Cancel a running backtest")
    async def cancel_backtest(request: Request, backtest_id: Id) -> Response:
        p = principal(request, DRAFT)
        a = await admin()
        return _json(await run_in_threadpool(a.cancel_backtest, p.actor, backtest_id))

    @app.post("/v1/rules/drafts/{draft_id}/shadow", tags=tags, summary="Run the draft in shadow on live traffic")
    async def start_shadow(request: Request, draft_id: Id) -> Response:
        p = principal(request, DRAFT)
        a = await admin()
        return _json(await a.start_shadow(p.actor, draft_id))

    @app.get("/v1/rules/shadow", tags=tags, summary="How the shadow candidate's verdicts differ from the active ones")
    async def shadow(request: Request, run: int | None = Query(None, ge=1, le=2**62)) -> Response:
        p = principal(request, DRAFT)
        a = await admin()
        return _json(await run_in_threadpool(a.shadow_status, p.actor, run))

    @app.delete("/v1/rules/shadow", tags=tags, summary="Stop the shadow run")
    async def stop_shadow(request: Request) -> Response:
        p = principal(request, DRAFT)
        a = await admin()
        return _json(await a.stop_shadow(p.actor))

    @app.post("/v1/rules/drafts/{draft_id}/publication", tags=tags, status_code=201,
              summary="Request the publication of a draft (a second person approves)")
    async def request_publication(request: Request, draft_id: Id, body: PublicationIn) -> Response:
        p = principal(request, DRAFT)
        a = await admin()
        return _json(await run_in_threadpool(lambda: a.request_publication(
            p.actor, draft_id, reason=body.reason, override_reason=body.override_reason)), 201)

    @app.post("/v1/rules/rollback", tags=tags, status_code=201,
              summary="Request a rollback to the rule set active before the last publication")
    async def request_rollback(request: Request, body: PublicationIn) -> Response:
        p = principal(request, DRAFT)
        a = await admin()
        return _json(await run_in_threadpool(lambda: a.request_rollback(p.actor, reason=body.reason)), 201)

    @app.get("/v1/rules/publications", tags=tags, summary="Publication and rollback requests, newest first")
    async def publications(request: Request, limit: int = Query(100, ge=1, le=500)) -> Response:
        try:
            principal(request, DRAFT)
        except Forbidden:
            principal(request, APPROVE)
        a = await admin()
        return _json({"publications": await run_in_threadpool(a.list_publications, limit)})

    @app.post("/v1/rules/publications/{pub_id}/approve", tags=tags, summary="Approve and activate (four eyes)")
    async def approve(request: Request, pub_id: Id) -> Response:
        p = principal(request, APPROVE)
        a = await admin()
        return _json(await a.approve(p.actor, pub_id))

    @app.post("/v1/rules/publications/{pub_id}/reject", tags=tags, summary="Reject a publication request")
    async def reject(request: Request, pub_id: Id, body: ReasonIn) -> Response:
        p = principal(request, APPROVE)
        a = await admin()
        return _json(await run_in_threadpool(lambda: a.reject(p.actor, pub_id, reason=body.reason)))

    @app.get("/v1/rules/{rule_id}", tags=tags, summary="One active rule: text, hit counts, precision, drafts")
    async def get_rule(request: Request, rule_id: Annotated[str, Path(pattern=_RULE_ID)]) -> Response:
        principal(request, READ)
        a = await admin()
        return _json(await run_in_threadpool(a.rule_detail, rule_id))

    return made

