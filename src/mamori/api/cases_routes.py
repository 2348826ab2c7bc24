"""HTTP API of case management (``/v1/cases/...``): scopes ``cases:read`` and ``cases:write``.

Reads (``cases:read``; each is recorded in the audit log before anything is returned):

* ``GET /v1/cases?state=&kind=&assignee=&sla=red|amber|green|none&priority=&account_id=&limit=&offset=``
  - cases, red SLA first, then amber, then by priority and due date; ``next_offset`` pages;
* ``GET /v1/cases/{id}`` - one case with its alerts (and their events), accounts, grouping keys, related
  cases, comments, attachments, victim contacts, compensation and history;
* ``GET /v1/cases/{id}/attachments/{attachment_id}`` - the file, always as a download, never with a
  type a browser would run;
* ``GET /v1/cases/{id}/letter?lang=ja|en`` and ``POST /v1/cases/{id}/letter`` (``{"lang", "customer_name",
  "message"}``: text the analyst typed, refused with 422 if it holds a link) - the victim letter, no links.

Actions (``cases:write``; each is recorded in the case's history and the audit log):

* ``POST /v1/cases/refresh`` - file new alerts into cases now;
* ``POST /v1/cases/{id}/state`` ``{"state", "disposition", "reason", "next_contact_due_at"}``;
* ``POST /v1/cases/{id}/assign`` ``{"assignee"}``, ``/priority`` ``{"priority"}``, ``/due`` ``{"due_at"}``;
* ``POST /v1/cases/{id}/comments`` ``{"body"}``;
* ``POST /v1/cases/{id}/attachments`` ``{"filename", "content_type", "data_base64"}`` (JSON with base64,
  at most 10 MiB decoded);
* ``POST /v1/cases/{id}/contacts`` ``{"channel", "at", "summary", "next_contact_due_at"}``;
* ``PUT /v1/cases/{id}/compensation`` ``{"damage_yen", "sells_yen", "buys_yen", "status", "notes"}``;
* ``POST /v1/cases/bulk`` ``{"campaign_id" | "case_ids", "action": "assign"|"state"|"comment", ...}``.

Times in requests are RFC 3339 with an offset; responses give integer microseconds UTC (``*_at_us``).
Bad input is 422 naming the field, an unknown case 404, a transition the workflow forbids 409.
Errors are :mod:`mamori.kit.errors` classes rendered by the application's handlers; database work
runs in the thread pool.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum
from typing import Annotated, Any, Final, Literal

import orjson
from fastapi import FastAPI, Path, Query, Request
from fastapi.responses import Response
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError
from starlette.concurrency import run_in_threadpool

from mamori.api.auth import Principal
from mamori.cases.attachments import download_headers, served_type
from mamori.cases.letters import Letter
from mamori.cases.model import CaseKind, CaseState, CompensationStatus, ContactChannel, Disposition, Sla
from mamori.cases.service import MAX_ATTACHMENT_BYTES, CasesService
from mamori.kit.errors import InvalidRequest
from mamori.notify.templates import Language

__all__ = ["READ_SCOPE", "SCOPES", "WRITE_SCOPE", "register_cases"]

READ_SCOPE: Final = "cases:read"
WRITE_SCOPE: Final = "cases:write"
SCOPES: Final = {
    READ_SCOPE: "read fraud cases, their alerts, victim contacts and letters (every read is audited)",
    WRITE_SCOPE: "work fraud cases: state, assignment, comments, attachments, victim contacts, compensation",
}
_ID: Final = r"^[A-Za-z0-9][A-Za-z0-9._:@/+=-]*$"
_MAX_INT: Final = 2**62
CaseId = Annotated[int, Path(ge=1, le=_MAX_INT, description="The case id.")]


class StateChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    state: CaseState
    disposition: Disposition | None = Field(default=None, description="Required to close; confirmed_takeover "
                                            "also requires next_contact_due_at on an account case.")
    reason: str | None = Field(default=None, max_length=2000, description="Why (required when reopening).")
    next_contact_due_at: AwareDatetime | None = None


class Assignment(BaseModel):
    model_config = ConfigDict(extra="forbid")

    assignee: str | None = Field(min_length=1, max_length=128, pattern=_ID, description="Operator id; null unassigns.")


class PriorityChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    priority: int = Field(ge=1, le=4, description="1 is the most urgent.")


class DueChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    due_at: AwareDatetime | None


class CommentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    body: str = Field(min_length=1, max_length=10_000)


class AttachmentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    filename: str = Field(min_length=1, max_length=255)
    content_type: str = Field(min_length=3, max_length=128)
    data_base64: str = Field(min_length=1, description=f"The file, base64 (at most {MAX_ATTACHMENT_BYTES} bytes "
                             "decoded).")


class ContactIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    channel: ContactChannel
    at: AwareDatetime | None = Field(default=None, description="When the contact happened (default: now).")
    summary: str = Field(min_length=1, max_length=5000)
    next_contact_due_at: AwareDatetime | None = Field(
        default=None, description="When the customer must next be contacted; required on an open confirmed takeover.")


class CompensationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    damage_yen: int = Field(ge=0, le=10**13)
    sells_yen: int = Field(default=0, ge=0, le=10**13, description="Value of the unauthorised sells.")
    buys_yen: int = Field(default=0, ge=0, le=10**13, description="Value of the unauthorised buys.")
    status: CompensationStatus
    notes: str = Field(default="", max_length=5000)


class LetterIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    lang: Language = Language.JA
    customer_name: str | None = Field(default=None, max_length=60)
    message: str | None = Field(default=None, max_length=2000)


class BulkIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    campaign_id: int | None = Field(default=None, ge=1, le=_MAX_INT)
    case_ids: list[int] | None = Field(default=None, min_length=1, max_length=500)
    include_campaign: bool = False
    action: Literal["assign", "state", "comment"]
    assignee: str | None = Field(default=None, min_length=1, max_length=128, pattern=_ID)
    state: CaseState | None = None
    disposition: Disposition | None = None
    reason: str | None = Field(default=None, max_length=2000)
    next_contact_due_at: AwareDatetime | None = None
    body: str | None = Field(default=None, max_length=10_000)


def _json(body: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json",
                    headers={"Cache-Control": "no-store"})


def _us(value: AwareDatetime | None) -> int | None:
    return None if value is None else int(value.timestamp() * 1_000_000)


def _letter(letter: Letter, case_id: int) -> dict[str, Any]:
    return {"case_id": case_id, "reference": letter.reference, "lang": letter.language.value,
            "subject": letter.subject, "body": letter.body, "sha256": letter.sha256}


async def _bounded_json(request: Request, model: type[BaseModel], limit: int) -> Any:
    """Read and validate a JSON body of at most ``limit`` bytes (stops reading as soon as it is larger)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise InvalidRequest(f"request body larger than {limit} bytes", details=[
            {"field": "(body)", "message": f"at most {limit} bytes", "kind": "too_large"}])
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise InvalidRequest(f"request body larger than {limit} bytes", details=[
                {"field": "(body)", "message": f"at most {limit} bytes", "kind": "too_large"}])
        chunks.append(chunk)
    try:
        return model.model_validate_json(b"".join(chunks))
    except ValidationError as exc:
        details = [{"field": ".".join(["body", *(str(p) for p in e["loc"])]), "message": e["msg"], "kind": e["type"]}
                   for e in exc.errors()]
        raise InvalidRequest("invalid request body", details=details) from None


def register_cases(app: FastAPI, get_cases: Callable[[], CasesService],
                   principal: Callable[[Request, str], Principal]) -> None:
    """Add the ``/v1/cases`` routes. ``get_cases`` returns the application's :class:`CasesService`;
    ``principal(request, scope)`` authenticates the API key and checks the scope (returns the principal,
    whose ``actor`` - ``api-key:<id>`` or ``operator:<login id>`` - is named in the audit log)."""
    tags: list[str | Enum] = ["cases"]

    @app.get("/v1/cases", tags=tags, summary="Cases, red victim-contact SLA first")
    async def list_cases(request: Request, state: CaseState | None = None, kind: CaseKind | None = None,
                         assignee: str | None = Query(None, min_length=1, max_length=128, pattern=_ID),
                         sla: Sla | None = None, priority: int | None = Query(None, ge=1, le=4),
                         account_id: str | None = Query(None, min_length=1, max_length=128),
                         limit: int = Query(50, ge=1, le=500), offset: int = Query(0, ge=0, le=1_000_000)) -> Response:
        p = principal(request, READ_SCOPE)
        return _json(await run_in_threadpool(
            lambda: get_cases().list_cases(p.actor, state=state, kind=kind, assignee=assignee, sla=sla,
                                           priority=priority, account_id=account_id, limit=limit, offset=offset)))

    @app.post("/v1/cases/refresh", tags=tags, summary="File new alerts into cases now")
    async def refresh(request: Request) -> Response:
        p = principal(request, WRITE_SCOPE)
        report = await run_in_threadpool(get_cases().refresh, p.actor)
        return _json(report.to_dict())

    @app.post("/v1/cases/bulk", tags=tags, summary="One action over a campaign's account cases (or listed cases)")
    async def bulk(request: Request, body: BulkIn) -> Response:
        p = principal(request, WRITE_SCOPE)
        return _json(await run_in_threadpool(
            lambda: get_cases().bulk(p.actor, action=body.action, campaign_id=body.campaign_id,
                                     case_ids=body.case_ids, include_campaign=body.include_campaign,
                                     assignee=body.assignee, state=body.state, disposition=body.disposition,
                                     reason=body.reason, body=body.body,
                                     next_contact_due_us=_us(body.next_contact_due_at))))

    @app.get("/v1/cases/{case_id}", tags=tags, summary="One case in full (audited view of personal data)")
    async def get_case(request: Request, case_id: CaseId) -> Response:
        p = principal(request, READ_SCOPE)
        return _json(await run_in_threadpool(get_cases().view, p.actor, case_id))

    @app.post("/v1/cases/{case_id}/state", tags=tags, summary="Change the case's state or disposition")
    async def change_state(request: Request, body: StateChange, case_id: CaseId) -> Response:
        p = principal(request, WRITE_SCOPE)
        return _json(await run_in_threadpool(
            lambda: get_cases().transition(p.actor, case_id, body.state, disposition=body.disposition,
                                           reason=body.reason, next_contact_due_us=_us(body.next_contact_due_at))))

    @app.post("/v1/cases/{case_id}/assign", tags=tags, summary="Assign the case to an operator (or unassign)")
    async def assign(request: Request, body: Assignment, case_id: CaseId) -> Response:
        p = principal(request, WRITE_SCOPE)
        return _json(await run_in_threadpool(get_cases().assign, p.actor, case_id, body.assignee))

    @app.post("/v1/cases/{case_id}/priority", tags=tags, summary="Set the case's priority (1-4)")
    async def priority(request: Request, body: PriorityChange, case_id: CaseId) -> Response:
        p = principal(request, WRITE_SCOPE)
        return _json(await run_in_threadpool(get_cases().set_priority, p.actor, case_id, body.priority))

    @app.post("/v1/cases/{case_id}/due", tags=tags, summary="Set or clear the case's due date")
    async def due(request: Request, body: DueChange, case_id: CaseId) -> Response:
        p = principal(request, WRITE_SCOPE)
        return _json(await run_in_threadpool(get_cases().set_due, p.actor, case_id, _us(body.due_at)))

    @app.post("/v1/cases/{case_id}/comments", tags=tags, status_code=201, summary="Add a comment")
    async def comment(request: Request, body: CommentIn, case_id: CaseId) -> Response:
        p = principal(request, WRITE_SCOPE)
        return _json(await run_in_threadpool(get_cases().comment, p.actor, case_id, body.body), 201)

    attachment_schema = {"requestBody": {"required": True, "content": {
        "application/json": {"schema": AttachmentIn.model_json_schema()}}}}

    @app.post("/v1/cases/{case_id}/attachments", tags=tags, status_code=201, openapi_extra=attachment_schema,
              summary="Attach a file (JSON with base64 data, bounded size)")
    async def attach(request: Request, case_id: CaseId) -> Response:
        p = principal(request, WRITE_SCOPE)
        cases = get_cases()
        limit = (cases.max_attachment_bytes + 2) // 3 * 4 + 64 * 1024
        body: AttachmentIn = await _bounded_json(request, AttachmentIn, limit)
        return _json(await run_in_threadpool(
            lambda: cases.add_attachment(p.actor, case_id, filename=body.filename, content_type=body.content_type,
                                         data_base64=body.data_base64)), 201)

    @app.get("/v1/cases/{case_id}/attachments/{attachment_id}", tags=tags,
             summary="Download an attachment (always as a file; audited)")
    async def download(request: Request, case_id: CaseId,
                       attachment_id: Annotated[int, Path(ge=1, le=_MAX_INT)]) -> Response:
        p = principal(request, READ_SCOPE)
        meta, data = await run_in_threadpool(get_cases().attachment, p.actor, case_id, attachment_id)
        return Response(data, media_type=served_type(meta["content_type"]),
                        headers=download_headers(meta["filename"], meta["sha256"]))

    @app.post("/v1/cases/{case_id}/contacts", tags=tags, status_code=201, summary="Log a contact with the victim")
    async def contact(request: Request, body: ContactIn, case_id: CaseId) -> Response:
        p = principal(request, WRITE_SCOPE)
        return _json(await run_in_threadpool(
            lambda: get_cases().add_contact(p.actor, case_id, channel=body.channel, summary=body.summary,
                                            at_us=_us(body.at), next_contact_due_us=_us(body.next_contact_due_at))),
            201)

    @app.put("/v1/cases/{case_id}/compensation", tags=tags, summary="Record damage and compensation status")
    async def compensation(request: Request, body: CompensationIn, case_id: CaseId) -> Response:
        p = principal(request, WRITE_SCOPE)
        return _json(await run_in_threadpool(
            lambda: get_cases().set_compensation(p.actor, case_id, damage_yen=body.damage_yen,
                                                 sells_yen=body.sells_yen, buys_yen=body.buys_yen,
                                                 status=body.status, notes=body.notes)))

    @app.get("/v1/cases/{case_id}/letter", tags=tags, summary="The victim letter (no links), Japanese or English")
    async def letter(request: Request, case_id: CaseId, lang: Language = Language.JA) -> Response:
        p = principal(request, READ_SCOPE)
        out = await run_in_threadpool(lambda: get_cases().letter(p.actor, case_id, lang))
        return _json(_letter(out, case_id))

    @app.post("/v1/cases/{case_id}/letter", tags=tags,
              summary="The victim letter with the customer's name and a note typed by the analyst (no links)")
    async def letter_with_text(request: Request, body: LetterIn, case_id: CaseId) -> Response:
        p = principal(request, READ_SCOPE)
        out = await run_in_threadpool(lambda: get_cases().letter(p.actor, case_id, body.lang,
                                                                 customer_name=body.customer_name,
                                                                 message=body.message))
        return _json(_letter(out, case_id))
