"""The HTTP API (FastAPI). Thin: authenticate, validate at the edge, call the risk service, render.

Errors always have the shape ``{"error": {"code", "message", "details"}}`` (codes in docs/errors.md).
The hot endpoints read the raw body and validate it with the event contract's own adapter (one
validation pass); their request schemas are still published in the OpenAPI document.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import re
import signal
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any, Literal

import orjson
from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Route

from mamori import __version__
from mamori.aml.reporting.setup import build_str_service
from mamori.aml.screening import refresh_periodically as refresh_screening_periodically
from mamori.api.actions_routes import register_actions
from mamori.api.aml_effectiveness_routes import effectiveness_service_for, register_aml_effectiveness
from mamori.api.aml_routes import register_aml
from mamori.api.aml_trace_routes import register_aml_traces, trace_service_for
from mamori.api.auth import KeyRing, Principal
from mamori.api.auth_admin import register_auth_admin
from mamori.api.auth_pages import register_auth_pages
from mamori.api.cases_routes import register_cases
from mamori.api.investigate_routes import register_investigate
from mamori.api.oidc_routes import oidc_router
from mamori.api.pqc_routes import pqc_router
from mamori.api.rules_routes import register_rules
from mamori.api.str_routes import register_str
from mamori.auth.setup import build_auth_service, build_oidc_provider, trusted_proxies_of
from mamori.cases import CasesService, refresh_periodically
from mamori.console.actions_pages import register_actions_pages
from mamori.console.aml_pages import AmlPorts, register_aml_pages
from mamori.console.pages import ConsolePorts, register_console
from mamori.console.rules_pages import register_rules_pages
from mamori.console.security import ConsoleGate
from mamori.console.setup import build_console, console_origin_of
from mamori.events.models import Event, IpAddress
from mamori.events.parse import event_json_schema, parse_batch, parse_event
from mamori.investigate import ensure_schema
from mamori.kit.errors import InvalidEvent, InvalidRequest, MamoriError, NotFound
from mamori.kit.runtime import tune_gc
from mamori.kit.settings import Settings, ensure_private_dir
from mamori.notify.service import contacts_for, notice_worker_for
from mamori.pqc.register import PqcRegister
from mamori.risk.service import RiskService

log = logging.getLogger("mamori.api")


class NotMeRequest(BaseModel):
    """What the firm's app sends when the customer taps "this was not me"."""

    model_config = ConfigDict(extra="forbid")

    reference: str | None = Field(default=None, min_length=1, max_length=128,
                                  description="The notice reference or event id the customer answered.")


class FreezeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    operator_id: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:@/+=-]*$")
    reason: Literal["operator", "fraud_confirmed"] = "operator"
    reference: str | None = Field(default=None, min_length=1, max_length=128)


class ContactRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str | None = Field(default=None, min_length=3, max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")
    language: Literal["ja", "en", "both"] = "both"
    webhook_ref: str | None = Field(default=None, min_length=1, max_length=128)


class ThrottleCheck(BaseModel):
    """The client address of a login attempt the firm's own login service is about to check."""

    model_config = ConfigDict(extra="forbid")

    ip: IpAddress = Field(description="The client's IP address (after the firm's trusted proxies).")


class UnlockRequest(BaseModel):
    """Who unlocks, and on what grounds (recorded in the audit log)."""

    model_config = ConfigDict(extra="forbid")

    operator_id: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:@/+=-]*$")
    reason: Literal["reidentified", "false_positive"]
    reference: str | None = Field(default=None, min_length=1, max_length=128)

_EVENT_SCHEMA = TypeAdapter(Event).json_schema(ref_template="#/components/schemas/{model}")
# The event models are published once under components/schemas (where the references point).
_EVENT_COMPONENTS: dict[str, Any] = _EVENT_SCHEMA.pop("$defs", {})
_MAX_INT64 = 2**63 - 1
_CONTROL_EVENTS = frozenset({"account_unlock", "firm_block"})
_SPACE_OFFSET = re.compile(r"(?<=\d) (\d{2}:?\d{2})$")


def _json(body: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


def body_too_large(limit: int) -> InvalidRequest:
    return InvalidRequest(f"request body larger than {limit} bytes", details={"field": "(body)", "max_bytes": limit})


def _loads(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidEvent(f"request body is not valid JSON: {exc}",
                           details=[{"field": "(body)", "message": str(exc), "kind": "json_invalid"}]) from None


def _error(exc: MamoriError) -> Response:
    return _json(exc.to_dict(), exc.http_status)


def _cursor_encode(at: int, event_id: str) -> str:
    return base64.urlsafe_b64encode(orjson.dumps([at, event_id])).decode().rstrip("=")


def _cursor_decode(cursor: str) -> tuple[int, str]:
    try:
        at, event_id = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(at, int) or isinstance(at, bool) or not 0 <= at <= _MAX_INT64 \
                or not isinstance(event_id, str):
            raise ValueError(cursor)
        return at, event_id
    except Exception:
        raise InvalidRequest("malformed cursor", details={"field": "cursor"}) from None


def _time_param(value: str | None, name: str) -> int | None:
    if value is None:
        return None
    from datetime import datetime

    # An unencoded '+09:00' in a query string arrives as ' 09:00' ('+' means space there).
    value = _SPACE_OFFSET.sub(r"+\1", value)
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidRequest(f"{name} must be an RFC 3339 time", details={"field": name}) from None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise InvalidRequest(f"{name} must include a timezone offset", details={"field": name})
    return int(parsed.timestamp() * 1_000_000)


def create_app(settings: Settings, service: RiskService | None = None) -> FastAPI:
    """Build the app. Without ``service``, one is opened from ``settings`` at start-up."""
    state: dict[str, Any] = {}
    oidc = build_oidc_provider(settings)
    console_gate = ConsoleGate(lambda: state["console"], origin=console_origin_of(settings))

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        svc: RiskService = service if service is not None else await asyncio.to_thread(RiskService.open, settings)
        state["service"] = svc
        state["keys"] = KeyRing(svc.store)
        state["auth"] = await asyncio.to_thread(build_auth_service, settings, svc, oidc)
        state["pqc"] = await asyncio.to_thread(PqcRegister, svc.store.engine)
        await asyncio.to_thread(ensure_schema, svc.store.engine)
        state["console"] = await asyncio.to_thread(build_console, settings, svc.store)
        state["cases"] = await asyncio.to_thread(
            CasesService, svc.store, settings.data_dir, firm_name_ja=settings.firm_name_ja,
            firm_name_en=settings.firm_name_en, support_phone=settings.support_phone)
        cases_loop = asyncio.create_task(refresh_periodically(state["cases"], 5.0))
        # List changes made elsewhere (the CLI, another node) reach the engine's screening from here, never
        # from inside a decision.
        lists_loop = (asyncio.create_task(refresh_screening_periodically(svc.screening.screener, 5.0))
                      if svc.screening is not None else None)
        # The funds tracer's graph also gives the engine's screening its indirect exposure (n hops):
        # open it now rather than at the first tracing request.
        await asyncio.to_thread(state["traces"])
        state["str"] = await asyncio.to_thread(build_str_service, settings, svc.store,
                                               active_rules=lambda: svc.engine.ruleset.rules)
        ensure_initial_key(settings, svc, state["keys"])
        tune_gc()
        poller = asyncio.create_task(_watch(svc, state["keys"], settings.rules_reload_interval_s))
        snapshots = asyncio.create_task(_snapshot_periodically(svc, settings.snapshot_interval_s))
        contacts = await asyncio.to_thread(contacts_for, settings, svc.store)
        state["contacts"] = contacts
        notices = await asyncio.to_thread(notice_worker_for, settings, svc.store, contacts)
        if notices is not None:
            await notices.start()  # loads the cursor; catches up (due before a stop or crash) in the background
            svc.on_decided = notices.submit
        log.info("customer notices: %s", "on" if notices is not None else
                 "off (set MAMORI_FIRM_NAME_JA and MAMORI_SUPPORT_PHONE to turn them on)")
        loop = asyncio.get_running_loop()
        reloads: set[asyncio.Task[None]] = set()

        def on_sighup() -> None:
            task = loop.create_task(_reload(svc, "SIGHUP"))
            reloads.add(task)
            task.add_done_callback(reloads.discard)

        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(signal.SIGHUP, on_sighup)
        log.info("mamori %s ready: state from snapshot up to event #%d, %d events replayed, rule set %s",
                 __version__, svc.restored_from_snapshot, svc.restored, svc.engine.ruleset.identity)
        try:
            yield
        finally:
            poller.cancel()
            snapshots.cancel()
            cases_loop.cancel()
            if lists_loop is not None:
                lists_loop.cancel()
            if notices is not None:
                svc.on_decided = None
                await notices.stop()
            if service is None:
                try:
                    await svc.save_snapshot()
                except Exception:
                    log.exception("could not write the engine snapshot at shutdown (the next start "
                                  "replays more events, nothing is lost)")
                await asyncio.to_thread(svc.close)

    app = FastAPI(title="mamori", version=__version__, lifespan=lifespan,
                  description="Real-time risk decisions for logins, orders and transfers. "
                  "ログイン・注文・送金のリアルタイム不正判定API。")

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            doc = FastAPI.openapi(app)
            doc.setdefault("components", {}).setdefault("schemas", {}).update(_EVENT_COMPONENTS)
        return app.openapi_schema  # type: ignore[return-value]

    app.openapi = openapi  # type: ignore[method-assign]

    def svc() -> RiskService:
        return state["service"]  # type: ignore[no-any-return]

    def principal(request: Request, scope: str) -> Principal:
        """The one check point: an API key, or else a console operator's session cookie (with the
        role's scopes; unsafe methods need the CSRF token and a same-origin request)."""
        keys: KeyRing = state["keys"]
        header = request.headers.get("authorization") or request.headers.get("x-api-key")
        if not header and "console" in state and console_gate.has_session_cookie(request):
            p = console_gate.principal(request)
        else:
            p = keys.authenticate(header)
        p.require(scope)
        return p

    async def read_body(request: Request) -> bytes:
        limit = settings.max_body_bytes
        declared = request.headers.get("content-length", "")
        if declared.isdigit():
            if int(declared) > limit:
                raise body_too_large(limit)
            return await request.body()  # uvicorn never delivers more than the declared length
        chunks, size = [], 0
        async for chunk in request.stream():  # chunked: stop reading as soon as it is too large
            size += len(chunk)
            if size > limit:
                raise body_too_large(limit)
            chunks.append(chunk)
        return b"".join(chunks)

    async def read_json(request: Request) -> Any:
        return _loads(await read_body(request))

    register_auth_admin(app, lambda: state["auth"], principal)
    register_cases(app, lambda: state["cases"], principal)
    register_str(app, lambda: state["str"], principal)
    register_aml_effectiveness(app, effectiveness_service_for(svc, settings), principal)
    register_aml(app, lambda: svc().screening, principal)
    traces = trace_service_for(svc, settings, lambda: state["cases"])
    state["traces"] = traces
    register_aml_traces(app, traces, principal)
    actions_service = register_actions(app, svc, principal, get_auth=lambda: state["auth"])
    register_investigate(app, lambda: svc().store, principal, get_geo=lambda: svc().engine.geo)
    rules_admin = register_rules(app, svc, principal, settings)
    current_login = register_auth_pages(app, lambda: state["auth"], settings, trusted_proxies_of(settings))
    app.include_router(oidc_router(oidc, current_login))
    app.include_router(pqc_router(lambda: state["pqc"], principal))
    register_console(app, console_gate, ConsolePorts(
        cases=lambda: state["cases"], store=lambda: svc().store, geo=lambda: svc().engine.geo), principal)
    register_rules_pages(app, app.state.console_shell, rules_admin)
    register_actions_pages(app, app.state.console_shell, actions_service)
    register_aml_pages(app, app.state.console_shell, AmlPorts(lambda: state["str"], lambda: svc().screening, traces,
                                                              effectiveness_service_for(svc, settings)))

    @app.exception_handler(MamoriError)
    async def on_mamori_error(_request: Request, exc: MamoriError) -> Response:
        if exc.http_status >= 500:
            log.error("%s: %s", exc.code, exc.message)
        return _error(exc)

    @app.exception_handler(StarletteHTTPException)
    async def on_http_error(_request: Request, exc: StarletteHTTPException) -> Response:
        # Routing errors (unknown path, wrong method) in the same shape as every other error.
        if exc.status_code == 404:
            body = NotFound("no such endpoint").to_dict()
        else:
            body = {"error": {"code": "mamori.api.invalid_request", "message": str(exc.detail)}}
        return Response(orjson.dumps(body), status_code=exc.status_code, media_type="application/json",
                        headers=getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def on_validation(_request: Request, exc: RequestValidationError) -> Response:
        details = [{"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"], "kind": e["type"]}
                   for e in exc.errors()]
        return _error(InvalidRequest("invalid request parameters", details=details))

    @app.exception_handler(Exception)
    async def on_unexpected(_request: Request, exc: Exception) -> Response:
        log.exception("unexpected error")
        return _json({"error": {"code": "mamori.internal", "message": "internal error"}}, 500)

    @app.get("/healthz", tags=["operations"], summary="Liveness and the active rule set")
    async def healthz() -> Response:
        s = svc()
        return _json({"status": "ok", "version": __version__, "ruleset": s.engine.ruleset.identity})

    @app.post("/v1/decisions", tags=["decisions"], summary="Decide one event synchronously",
              openapi_extra={"requestBody": {"required": True, "content": {
                  "application/json": {"schema": _EVENT_SCHEMA}}}})
    async def post_decision(request: Request) -> Response:
        return Response(await decide_body(request.headers.get("authorization") or request.headers.get("x-api-key"),
                                          await read_body(request)), media_type="application/json")

    async def decide_body(auth_header: str | None, body: bytes) -> bytes:
        """The whole of ``POST /v1/decisions`` after the body is read: shared by the FastAPI route
        and the ASGI fast path (:class:`mamori.api.fastpath.DecisionFastPath`)."""
        keys: KeyRing = state["keys"]
        sender = keys.authenticate(auth_header)
        sender.require("events:write")
        data = _loads(body)
        if not isinstance(data, dict):
            raise InvalidEvent("the body must be one event (a JSON object)",
                               details=[{"field": "(body)", "message": "expected an object",
                                         "kind": "model_type"}])
        event = parse_event(data)
        require_control_scope(sender, [event])
        outcome = await svc().decide(event)
        feed_throttle(event, outcome)
        if outcome.duplicate:
            return orjson.dumps({**orjson.loads(outcome.body), "duplicate": True})
        return outcome.body

    def require_control_scope(sender: Principal, events: list[Any]) -> None:
        """Events that lift a protection or act firm-wide (``account_unlock``, ``firm_block``) need
        ``accounts:admin`` besides ``events:write``: the order system's key must not unlock accounts
        or lift firm-wide blocks (mamori's own actions send them after a second person approved)."""
        for event in events:
            if event.type in _CONTROL_EVENTS:
                sender.require("accounts:admin")

    def feed_throttle(event: Any, outcome: Any) -> None:
        """Logins the firm's own login service reports teach the same pre-hash source throttle that
        ``POST /v1/login-throttle/check`` answers from (mamori's own login service feeds it directly)."""
        if event.type == "login" and event.ip and not outcome.duplicate:
            state["auth"].throttle.record(event.ip, account=event.account_id, success=event.result == "success")

    @app.post("/v1/login-throttle/check", tags=["decisions"],
              summary="Before hashing a password: may this client address try at all? (credential stuffing)")
    async def throttle_check(request: Request, body: ThrottleCheck) -> Response:
        principal(request, "events:write")
        verdict = state["auth"].throttle.check(body.ip)
        return _json({"allowed": verdict.allowed, "scope": verdict.scope, "retry_after_s": verdict.retry_after_s})

    app.state.decide_body = decide_body
    app.state.max_body_bytes = settings.max_body_bytes

    @app.post("/v1/events", tags=["events"], summary="Send a batch of events (all or nothing)",
              openapi_extra={"requestBody": {"required": True, "content": {"application/json": {"schema": {
                  "type": "object", "required": ["events"],
                  "properties": {"events": {"type": "array", "items": _EVENT_SCHEMA,
                                            "maxItems": settings.max_batch}}}}}}})
    async def post_events(request: Request) -> Response:
        sender = principal(request, "events:write")
        data = await read_json(request)
        items = data.get("events") if isinstance(data, dict) else None
        if not isinstance(items, list):
            raise InvalidEvent("the body must be {\"events\": [...]}",
                               details=[{"field": "events", "message": "expected a list",
                                         "kind": "list_type"}])
        if len(items) > settings.max_batch:
            raise InvalidRequest(f"at most {settings.max_batch} events per batch (got {len(items)})",
                                 details={"field": "events", "max": settings.max_batch})
        events = parse_batch(items)
        require_control_scope(sender, events)
        outcomes = await svc().ingest(events)
        for event, outcome in zip(events, outcomes, strict=True):
            feed_throttle(event, outcome)
        results = [{"event_id": o.event_id, "decision": o.decision, "score": o.score, "rules": o.rules,
                    "duplicate": o.duplicate} for o in outcomes]
        return _json({"accepted": sum(not o.duplicate for o in outcomes),
                      "duplicates": sum(o.duplicate for o in outcomes), "results": results})

    @app.get("/v1/decisions", tags=["decisions"], summary="Query decisions, newest first")
    async def list_decisions(request: Request, account_id: str | None = None,
                             decision: str | None = Query(None, pattern="^(allow|challenge|hold|block)$"),
                             since: str | None = None, until: str | None = None,
                             limit: int = Query(100, ge=1, le=1000), cursor: str | None = None) -> Response:
        principal(request, "decisions:read")
        rows = await asyncio.to_thread(
            svc().store.query_decisions, account_id=account_id, decision=decision,
            since_us=_time_param(since, "since"), until_us=_time_param(until, "until"), limit=limit,
            before=_cursor_decode(cursor) if cursor else None)
        nxt = _cursor_encode(rows[-1]["decided_at_us"], rows[-1]["event_id"]) if len(rows) == limit else None
        return _json({"decisions": rows, "next_cursor": nxt})

    # ``:path``: event ids may contain '/' (e.g. 'oms/2024/1').
    @app.get("/v1/decisions/{event_id:path}", tags=["decisions"], summary="The decision for one event")
    async def get_decision(request: Request, event_id: str) -> Response:
        principal(request, "decisions:read")
        return _json(await asyncio.to_thread(svc().store.get_decision, event_id))

    @app.get("/v1/alerts", tags=["alerts"], summary="Query alerts, newest first")
    async def list_alerts(request: Request, status: str | None = Query(None, pattern="^[a-z_]{1,16}$"),
                          account_id: str | None = None, limit: int = Query(100, ge=1, le=1000),
                          cursor: int | None = Query(None, ge=1, le=_MAX_INT64)) -> Response:
        principal(request, "decisions:read")
        rows = await asyncio.to_thread(svc().store.query_alerts, status=status, account_id=account_id,
                                       limit=limit, before_id=cursor)
        return _json({"alerts": rows, "next_cursor": rows[-1]["id"] if len(rows) == limit else None})

    @app.post("/v1/accounts/{account_id}/unlock", tags=["accounts"],
              summary="Lift login locks after the customer was identified again (audited)")
    async def unlock_account(request: Request, account_id: str, body: UnlockRequest) -> Response:
        p = principal(request, "accounts:admin")
        now = datetime.now(UTC)
        event = parse_event({"id": f"unlock-{uuid.uuid4().hex}", "type": "account_unlock",
                             "occurred_at": now.isoformat(), "account_id": account_id,
                             "operator_id": body.operator_id, "reason": body.reason,
                             **({"reference": body.reference} if body.reference else {})})
        outcome = await svc().decide(event)
        await asyncio.to_thread(svc().store.audit, actor=p.actor, action="account.unlock",
                                target=account_id, details={"operator_id": body.operator_id, "reason": body.reason,
                                                            "reference": body.reference, "event_id": event.id})
        return _json({"account_id": account_id, "unlocked": True, "event_id": outcome.event_id})

    async def freeze(account_id: str, *, reason: str, actor: str, operator_id: str | None,
                     reference: str | None) -> dict[str, Any]:
        event = parse_event({"id": f"freeze-{uuid.uuid4().hex}", "type": "account_freeze",
                             "occurred_at": datetime.now(UTC).isoformat(), "account_id": account_id,
                             "reason": reason, **({"operator_id": operator_id} if operator_id else {}),
                             **({"reference": reference} if reference else {})})
        await svc().decide(event)
        # A frozen account has no live session anywhere (the attacker's included), nor OIDC tokens.
        auth = state["auth"]
        ended = await asyncio.to_thread(auth.sessions.revoke, account_id, reason="frozen")
        if auth.oidc is not None:
            for session_id in ended:
                auth.oidc.revoke_session(session_id)
        since = int((datetime.now(UTC).timestamp() - 7 * 86400) * 1_000_000)
        labelled = 0
        if reason != "operator":
            labelled = await asyncio.to_thread(svc().store.mark_alerts, account_id, status="reported_takeover",
                                               since_us=since)
        await asyncio.to_thread(svc().store.audit, actor=actor, action="account.freeze", target=account_id,
                                details={"reason": reason, "operator_id": operator_id, "reference": reference,
                                         "event_id": event.id, "alerts_labelled": labelled,
                                         "sessions_ended": len(ended)})
        return {"account_id": account_id, "frozen": True, "event_id": event.id, "alerts_labelled": labelled,
                "sessions_ended": len(ended)}

    @app.post("/v1/accounts/{account_id}/not-me", tags=["accounts"],
              summary="The customer reports a login or action that was not theirs: freeze the account at once")
    async def not_me(request: Request, account_id: str, body: NotMeRequest) -> Response:
        p = principal(request, "events:write")
        return _json(await freeze(account_id, reason="customer_reported_not_me", actor=p.actor,
                                  operator_id=None, reference=body.reference))

    @app.post("/v1/accounts/{account_id}/freeze", tags=["accounts"], summary="An operator freezes an account")
    async def freeze_account(request: Request, account_id: str, body: FreezeRequest) -> Response:
        p = principal(request, "accounts:admin")
        return _json(await freeze(account_id, reason=body.reason, actor=p.actor,
                                  operator_id=body.operator_id, reference=body.reference))

    @app.put("/v1/accounts/{account_id}/contact", tags=["accounts"],
             summary="Where the customer's notices go (the e-mail is stored encrypted)")
    async def set_contact(request: Request, account_id: str, body: ContactRequest) -> Response:
        p = principal(request, "accounts:admin")
        await asyncio.to_thread(state["contacts"].set, account_id, email=body.email, language=body.language,
                                webhook_ref=body.webhook_ref)
        await asyncio.to_thread(svc().store.audit, actor=p.actor, action="contact.set",
                                target=account_id, details={"email_set": body.email is not None,
                                                            "language": body.language,
                                                            "webhook_ref_set": body.webhook_ref is not None})
        return _json({"account_id": account_id, "updated": True})

    @app.get("/v1/rulesets/active", tags=["rules"], summary="The active (and shadow) rule set")
    async def active_ruleset(request: Request) -> Response:
        principal(request, "decisions:read")
        engine = svc().engine

        def describe(rs: Any) -> dict[str, Any] | None:
            if rs is None:
                return None
            return {"identity": rs.identity, "name": rs.name, "version": rs.version,
                    "rules": [{"id": r.id, "version": r.version, "mode": r.mode, "description": r.description,
                               "events": sorted(r.events), "score": r.score,
                               "action": r.action.name if r.action is not None else None,
                               "tags": list(r.tags)} for r in rs.rules]}

        return _json({"active": describe(engine.ruleset), "shadow": describe(engine.shadow)})

    @app.post("/v1/rulesets/reload", tags=["rules"], summary="Reload rule files from disk now")
    async def reload_rules(request: Request) -> Response:
        p = principal(request, "rules:admin")
        identity = await svc().reload(actor=p.actor)
        return _json({"changed": identity is not None, "active": svc().engine.ruleset.identity})

    @app.get("/v1/schema/events", tags=["events"], summary="JSON Schema of the event contract")
    async def schema() -> Response:
        return _json(event_json_schema())

    # The batch endpoint is also mounted as a plain Starlette route in front of the router: the
    # FastAPI route above documents it in the OpenAPI spec, but serving it without FastAPI's
    # per-request dependency machinery saves ~60 us per request (measured with bench/http). The
    # decision endpoint goes further: see mamori.api.fastpath. Errors go through the same handlers.
    app.router.routes.insert(0, Route("/v1/events", post_events, methods=["POST"]))
    return app


async def _reload(service: RiskService, actor: str) -> None:
    try:
        identity = await service.reload(actor=actor)
        if identity:
            log.info("rule set reloaded: %s", identity)
    except MamoriError as exc:
        log.error("rule set not reloaded, keeping %s: %s", service.engine.ruleset.identity, exc.message)
    except Exception:
        log.exception("rule set not reloaded, keeping %s", service.engine.ruleset.identity)


async def _snapshot_periodically(service: RiskService, interval: float) -> None:
    """Save the engine state now and then, so that a restart after a crash replays little."""
    if interval <= 0:
        return
    while True:
        await asyncio.sleep(interval)
        try:
            await service.save_snapshot()
        except Exception:
            log.exception("could not write the engine snapshot; retrying in %.0f s", interval)


async def _watch(service: RiskService, keys: KeyRing, interval: float) -> None:
    """Reload changed rule files and refresh API keys (revocations) in the background. A failing
    round is logged and the next one runs as usual: the watcher never stops."""
    period = interval if interval > 0 else 5.0
    while True:
        await asyncio.sleep(period)
        try:
            await asyncio.to_thread(keys.refresh)
        except Exception:
            log.exception("could not refresh API keys; retrying in %.1f s", period)
        if interval > 0 and service.rules_changed_on_disk():
            await _reload(service, "file-watch")


def ensure_initial_key(settings: Settings, service: RiskService, keys: KeyRing) -> None:
    """On first start, create an admin key and write it to ``data_dir/initial-api-key`` (mode 0600).
    The key never goes to the log; the log names the file."""
    if len(keys) > 0:
        return
    key_id, key = service.store.create_api_key(name="initial admin key", scopes=frozenset({"admin"}))
    service.store.audit(actor="system", action="api_key.create", target=key_id, details={"scopes": ["admin"]})
    keys.refresh()
    ensure_private_dir(settings.data_dir)
    path = settings.data_dir / "initial-api-key"
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)
    path.write_text(key + "\n", encoding="utf-8")
    log.warning("created an admin API key; it is in %s (readable only by you). Create scoped keys with "
                "'mamori keys create' and delete that file.", path.resolve())
