"""HTTP API of suspicious transaction reports (疑わしい取引の届出): scopes ``str:write`` and ``str:approve``.

Drafting (``str:write``):

* ``POST /v1/cases/{id}/str`` - a new report pre-filled from the case (transactions, fired rules,
  reference cases, a drafted reason text); 201 with the report;
* ``PUT /v1/str/{id}`` ``{"entity"|"filing"|"subjects"|"accounts"|"transactions"|"reasons": ...}`` - replace
  the named sections (422 lists every bad field by path, e.g. ``subjects.0.name_kana``); editing a
  submitted report returns it to draft;
* ``POST /v1/str/{id}/kyc`` ``{"customers": [...]}`` - fill 取引時確認 items from the firm's KYC export;
* ``POST /v1/str/{id}/submit`` - hand the draft to compliance;
* ``POST /v1/str/{id}/versions`` - a new draft version copied from a locked one.

Review (``str:approve``, the compliance officer):

* ``POST /v1/str/{id}/lock`` - lock a submitted version (403 ``mamori.actions.four_eyes`` for its last
  editor); locked versions never change (409 ``mamori.str.locked``);
* ``POST /v1/str/{id}/return`` ``{"reason"}`` - send a submitted version back to draft.

Reading (either scope; every read is audited before it is answered):

* ``GET /v1/str?case_id=&state=&limit=&offset=`` - versions, newest first (metadata only);
* ``GET /v1/str/{id}`` - one version with its document; ``GET /v1/str/{id}/versions`` - the report's
  versions and history; ``GET /v1/str/{id}/diff?against=`` - field-level changes (default: against the
  previous version);
* ``GET /v1/str/{id}/export?format=xlsx|csv|json&encoding=utf-8|cp932`` - a locked version exports as
  final (and is marked exported), any other watermarked 下書き / DRAFT.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum
from typing import Annotated, Any, Final, Literal
from urllib.parse import quote

import orjson
from fastapi import FastAPI, Path, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from mamori.aml.reporting.service import StrService
from mamori.aml.reporting.workflow import ReportState
from mamori.api.auth import Principal
from mamori.kit.errors import Forbidden, InvalidRequest

__all__ = ["APPROVE_SCOPE", "WRITE_SCOPE", "register_str"]

WRITE_SCOPE: Final = "str:write"
APPROVE_SCOPE: Final = "str:approve"
_MAX_INT: Final = 2**62
_MAX_BODY: Final = 8 * 1024 * 1024
ReportId = Annotated[int, Path(ge=1, le=_MAX_INT, description="The report (version) id.")]
CaseId = Annotated[int, Path(ge=1, le=_MAX_INT, description="The case id.")]


_OBJECT: Final = {"type": "object"}
_LIST: Final = {"type": "array", "items": {"type": "object"}}
_SECTIONS_DOC: Final = {"requestBody": {"required": True, "content": {"application/json": {"schema": {
    "type": "object", "additionalProperties": False, "minProperties": 1,
    "description": "Sections to replace (each replaces the stored one whole); fields in docs/str.md.",
    "properties": {"entity": _OBJECT, "filing": _OBJECT, "subjects": _LIST, "accounts": _LIST,
                   "transactions": _LIST, "reasons": _OBJECT}}}}}}
_KYC_DOC: Final = {"requestBody": {"required": True, "content": {"application/json": {"schema": {
    "type": "object", "required": ["customers"], "description": "The firm's KYC export; fields in docs/str.md.",
    "properties": {"customers": _LIST}}}}}}


class ReturnIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=2000, description="Why the report goes back to its authors.")


def _json(body: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json",
                    headers={"Cache-Control": "no-store"})


async def _body(request: Request) -> Any:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > _MAX_BODY:
        raise InvalidRequest(f"request body larger than {_MAX_BODY} bytes", details={"field": "(body)"})
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > _MAX_BODY:
            raise InvalidRequest(f"request body larger than {_MAX_BODY} bytes", details={"field": "(body)"})
        chunks.append(chunk)
    try:
        data = orjson.loads(b"".join(chunks))
    except orjson.JSONDecodeError as exc:
        raise InvalidRequest(f"request body is not valid JSON: {exc}", details={"field": "(body)"}) from None
    return data


def register_str(app: FastAPI, get_service: Callable[[], StrService],
                 principal: Callable[[Request, str], Principal]) -> None:
    """Add the report routes. ``principal(request, scope)`` authenticates and checks one scope; its
    ``actor`` (``api-key:<id>`` or ``operator:<login id>``) is what the four-eyes check compares."""
    tags: list[str | Enum] = ["suspicious transaction reports"]

    def reader(request: Request) -> str:
        try:
            return principal(request, WRITE_SCOPE).actor
        except Forbidden:
            return principal(request, APPROVE_SCOPE).actor

    @app.post("/v1/cases/{case_id}/str", tags=tags, status_code=201,
              summary="Draft a suspicious transaction report from a case")
    async def create(request: Request, case_id: CaseId) -> Response:
        who = principal(request, WRITE_SCOPE).actor
        return _json(await run_in_threadpool(get_service().create_from_case, who, case_id), 201)

    @app.get("/v1/str", tags=tags, summary="Report versions, newest first (audited)")
    async def list_reports(request: Request, case_id: int | None = Query(None, ge=1, le=_MAX_INT),
                           state: ReportState | None = None, limit: int = Query(50, ge=1, le=200),
                           offset: int = Query(0, ge=0, le=1_000_000)) -> Response:
        who = reader(request)
        return _json(await run_in_threadpool(lambda: get_service().list_reports(
            who, case_id=case_id, state=state, limit=limit, offset=offset)))

    @app.get("/v1/str/{report_id}", tags=tags, summary="One report version with its document (audited)")
    async def view(request: Request, report_id: ReportId) -> Response:
        who = reader(request)
        return _json(await run_in_threadpool(get_service().view, who, report_id))

    @app.put("/v1/str/{report_id}", tags=tags, summary="Replace sections of a draft (validated field by field)",
             openapi_extra=_SECTIONS_DOC)
    async def update(request: Request, report_id: ReportId) -> Response:
        who = principal(request, WRITE_SCOPE).actor
        data = await _body(request)
        if not isinstance(data, dict):
            raise InvalidRequest("the body must be an object of sections", details={"field": "(body)"})
        return _json(await run_in_threadpool(get_service().update, who, report_id, data))

    @app.post("/v1/str/{report_id}/kyc", tags=tags, openapi_extra=_KYC_DOC,
              summary="Fill customer identification items from a KYC export")
    async def kyc(request: Request, report_id: ReportId) -> Response:
        who = principal(request, WRITE_SCOPE).actor
        data = await _body(request)
        return _json(await run_in_threadpool(get_service().import_kyc, who, report_id, data))

    @app.post("/v1/str/{report_id}/submit", tags=tags, summary="Submit a draft for the compliance officer's review")
    async def submit(request: Request, report_id: ReportId) -> Response:
        who = principal(request, WRITE_SCOPE).actor
        return _json(await run_in_threadpool(get_service().submit, who, report_id))

    @app.post("/v1/str/{report_id}/lock", tags=tags, summary="Lock a submitted report (compliance, four-eyes)")
    async def lock(request: Request, report_id: ReportId) -> Response:
        who = principal(request, APPROVE_SCOPE).actor
        return _json(await run_in_threadpool(get_service().lock, who, report_id))

    @app.post("/v1/str/{report_id}/return", tags=tags, summary="Return a submitted report to draft")
    async def return_to_draft(request: Request, report_id: ReportId, body: ReturnIn) -> Response:
        who = principal(request, APPROVE_SCOPE).actor
        return _json(await run_in_threadpool(get_service().return_to_draft, who, report_id, body.reason))

    @app.post("/v1/str/{report_id}/versions", tags=tags, status_code=201,
              summary="Start a new draft version from a locked one")
    async def new_version(request: Request, report_id: ReportId) -> Response:
        who = principal(request, WRITE_SCOPE).actor
        return _json(await run_in_threadpool(get_service().new_version, who, report_id), 201)

    @app.get("/v1/str/{report_id}/versions", tags=tags, summary="The report's versions and history (audited)")
    async def versions(request: Request, report_id: ReportId) -> Response:
        who = reader(request)
        return _json(await run_in_threadpool(get_service().versions, who, report_id))

    @app.get("/v1/str/{report_id}/diff", tags=tags, summary="Field-level changes between two versions (audited)")
    async def diff(request: Request, report_id: ReportId,
                   against: int | None = Query(None, ge=1, le=_MAX_INT)) -> Response:
        who = reader(request)
        return _json(await run_in_threadpool(get_service().diff, who, report_id, against))

    @app.get("/v1/str/{report_id}/export", tags=tags,
             summary="Export: Excel entry sheet, CSV of transactions, JSON (drafts watermarked)")
    async def export(request: Request, report_id: ReportId, format: Literal["xlsx", "csv", "json"] = "xlsx",
                     encoding: Literal["utf-8", "cp932"] = "utf-8") -> Response:
        who = reader(request)
        name, media, data = await run_in_threadpool(
            lambda: get_service().export(who, report_id, format, encoding=encoding))
        return Response(data, media_type=media, headers={
            "Content-Disposition": f"attachment; filename=\"{name}\"; filename*=UTF-8''{quote(name)}",
            "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"})
