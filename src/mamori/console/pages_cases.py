"""Case pages: the list (filters, SLA badges, bulk actions for a campaign) and one case in full.

Reads go through :class:`mamori.cases.CasesService` with the operator as actor, so every view is in
the audit log before the page is sent (``case.list``, ``case.view``). Changes are made by the page's
script through the JSON API (``/v1/cases/...``), which checks ``cases:write`` and the CSRF token.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.responses import Response
from sqlalchemy import Engine, select
from starlette.concurrency import run_in_threadpool

from mamori.adapters.sql.schema import decisions
from mamori.cases.model import CaseKind, CaseState, CompensationStatus, ContactChannel, Disposition, Sla
from mamori.console.pages import ConsolePorts
from mamori.console.web import ConsoleShell
from mamori.kit.errors import InvalidRequest, NotFound

PAGE_SIZE = 50
MAX_EXPLAINED = 200
_ID_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._:@/+=-")


def _enum(enum: Any, value: str | None, field: str) -> Any:
    if not value:
        return None
    try:
        return enum(value)
    except ValueError:
        raise InvalidRequest(f"{field} must be one of {', '.join(e.value for e in enum)}",
                             details={"field": field}) from None


def _filters(request: Request) -> dict[str, Any]:
    q = request.query_params
    assignee = q.get("assignee") or None
    if assignee is not None and (len(assignee) > 128 or not set(assignee) <= _ID_CHARS):
        raise InvalidRequest("assignee is not a valid operator id", details={"field": "assignee"})
    offset = q.get("offset") or "0"
    if not offset.isdigit() or int(offset) > 1_000_000:
        raise InvalidRequest("offset must be a number", details={"field": "offset"})
    return {"state": _enum(CaseState, q.get("state"), "state"), "kind": _enum(CaseKind, q.get("kind"), "kind"),
            "sla": _enum(Sla, q.get("sla"), "sla"), "assignee": assignee, "offset": int(offset)}


def fired_rules(engine: Engine, event_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
    """For each alert's event, the rules that fired with the feature values they read (from the stored
    decision: explainable without replaying anything)."""
    if not event_ids:
        return {}
    with engine.connect() as conn:
        rows = conn.execute(select(decisions.c.event_id, decisions.c.body)
                            .where(decisions.c.event_id.in_(event_ids[:MAX_EXPLAINED]))).all()
    out: dict[str, list[dict[str, Any]]] = {}
    for event_id, raw in rows:
        body = orjson.loads(raw) if raw else {}
        out[str(event_id)] = [{"id": r.get("id"), "action": r.get("action"), "score": r.get("score"),
                               "description": r.get("description"), "values": r.get("values") or {}}
                              for r in body.get("rules", ()) if isinstance(r, dict)]
    return out


def register_case_pages(app: FastAPI, shell: ConsoleShell, ports: ConsolePorts) -> None:
    @app.get("/console/cases", include_in_schema=False)
    async def case_list(request: Request) -> Response:
        ctx = await shell.page(request, "cases:read")
        try:
            filters = _filters(request)
        except InvalidRequest as exc:
            return shell.render(request, ctx, "message.html", title_key="cases_title", status=422,
                                message=exc.message)
        page = await run_in_threadpool(lambda: ports.cases().list_cases(ctx.actor, limit=PAGE_SIZE, **filters))
        query = {k: (v.value if hasattr(v, "value") else v) for k, v in filters.items() if v and k != "offset"}
        return shell.render(request, ctx, "cases.html", title_key="cases_title", page=page, filters=query,
                            states=[s.value for s in CaseState], kinds=[k.value for k in CaseKind],
                            slas=[s.value for s in Sla], dispositions=[d.value for d in Disposition])

    @app.get("/console/cases/{case_id}", include_in_schema=False)
    async def case_detail(request: Request, case_id: str) -> Response:
        ctx = await shell.page(request, "cases:read")
        if not case_id.isdigit() or not 1 <= int(case_id) <= 2**62:
            return shell.render(request, ctx, "message.html", title_key="not_found_title", status=404)
        try:
            detail = await run_in_threadpool(ports.cases().view, ctx.actor, int(case_id))
        except NotFound:
            return shell.render(request, ctx, "message.html", title_key="not_found_title", status=404)
        explained = await run_in_threadpool(fired_rules, ports.store().engine,
                                            [a["event_id"] for a in detail["alerts"]])
        return shell.render(request, ctx, "case.html", title_key="case_title", case=detail, explained=explained,
                            states=[s.value for s in CaseState], dispositions=[d.value for d in Disposition],
                            channels=[c.value for c in ContactChannel],
                            compensation_states=[c.value for c in CompensationStatus])
