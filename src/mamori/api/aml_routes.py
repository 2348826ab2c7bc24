"""HTTP API of risk lists and screening (``/v1/aml/...``): scopes ``aml:read`` and ``aml:write``.

Reads (``aml:read``; audited with counts, never the addresses or names):

* ``POST /v1/aml/screen`` ``{"chain", "address"}`` — one screening result (422 for an unknown chain or a
  malformed address); ``{"items": [{"chain", "address"}, ...]}`` (at most 10,000) — ``{"results": [...]}``
  with a per-item error object where an item is bad;
* ``POST /v1/aml/screen/names`` ``{"names": ["山田太郎", "ヤマダ タロウ", "Taro Yamada"], "threshold": 0.88,
  "subject": "customer id"}`` — listed persons and organisations whose names match, with the reasons;
* ``GET /v1/aml/lists?q=&chain=&category=&source=&kind=&active_only=&limit=&after_id=`` — list entries;
* ``GET /v1/aml/lists/export?format=csv|jsonl&active_only=`` — the lists as a file (CSV re-importable);
* ``GET /v1/aml/lists/batches`` — recent imports with their counts and line errors.

Actions (``aml:write``; audited):

* ``POST /v1/aml/lists/import?format=csv|json|stix&source=&category=&filename=`` — the body is the file
  (at most 64 MiB); answers the batch report (added, updated, rejected, per-line errors);
* ``POST /v1/aml/lists/import-cases`` ``{"category": "fraud_collection", "confidence": "0.9"}`` — withdrawal
  destinations of cases closed as confirmed takeover or blocked fraud;
* ``POST /v1/aml/lists/remove`` ``{"ids": [..], "reason": "..."}`` — delete entries.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from decimal import Decimal
from enum import Enum
from typing import Any, Final, Literal

import orjson
from fastapi import FastAPI, Query, Request
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.concurrency import iterate_in_threadpool, run_in_threadpool

from mamori.aml.imports import MAX_BYTES
from mamori.aml.lists import from_us
from mamori.aml.model import ListEntry, RiskCategory
from mamori.aml.names import DEFAULT_THRESHOLD
from mamori.aml.screening_service import MAX_BATCH_SCREEN, ScreeningService
from mamori.api.auth import Principal
from mamori.kit.errors import InvalidRequest, MamoriError, NotFound

__all__ = ["READ_SCOPE", "WRITE_SCOPE", "register_aml"]

READ_SCOPE: Final = "aml:read"
WRITE_SCOPE: Final = "aml:write"
_JSON_LIMIT: Final = 4 * 1024 * 1024


class AddressIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    chain: str = Field(min_length=1, max_length=32)
    address: str = Field(min_length=1, max_length=128)


class ScreenIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    chain: str | None = Field(default=None, min_length=1, max_length=32)
    address: str | None = Field(default=None, min_length=1, max_length=128)
    items: list[AddressIn] | None = Field(default=None, max_length=MAX_BATCH_SCREEN)


class NamesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    names: list[str] = Field(min_length=1, max_length=10)
    threshold: float = Field(default=DEFAULT_THRESHOLD, ge=0.5, le=1.0)
    subject: str | None = Field(default=None, min_length=1, max_length=128, description="Whose names (customer "
                                "or counterparty id), for the audit record.")


class CasesImportIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    category: RiskCategory = RiskCategory.fraud_collection
    confidence: Decimal = Field(default=Decimal("0.9"), ge=0, le=1)


class RemoveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ids: list[int] = Field(min_length=1, max_length=10_000)
    reason: str | None = Field(default=None, max_length=500)


def _json(body: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


def entry_dict(entry: ListEntry) -> dict[str, Any]:
    return {"id": entry.id, "kind": entry.kind.value, "chain": entry.chain, "address": entry.address,
            "name": entry.name, "aliases": list(entry.aliases), "category": entry.category.value,
            "source": entry.source, "confidence": str(entry.confidence),
            "first_seen": entry.first_seen.isoformat() if entry.first_seen else None,
            "expires_at": entry.expires_at.isoformat() if entry.expires_at else None,
            "reference": entry.reference, "added_by": entry.added_by}


async def _read_limited(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise InvalidRequest(f"request body larger than {limit} bytes", details={"field": "(body)", "max_bytes": limit})
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise InvalidRequest(f"request body larger than {limit} bytes",
                                 details={"field": "(body)", "max_bytes": limit})
        chunks.append(chunk)
    return b"".join(chunks)


async def _model(request: Request, model: type[BaseModel]) -> Any:
    raw = await _read_limited(request, _JSON_LIMIT)
    try:
        return model.model_validate_json(raw or b"{}")
    except ValidationError as exc:
        details = [{"field": ".".join(["body", *(str(p) for p in e["loc"])]), "message": e["msg"], "kind": e["type"]}
                   for e in exc.errors()]
        raise InvalidRequest("invalid request body", details=details) from None


def register_aml(app: FastAPI, get_screening: Callable[[], ScreeningService | None],
                 principal: Callable[[Request, str], Principal]) -> None:
    """Add the ``/v1/aml`` screening and list routes. ``get_screening`` returns the risk service's
    :class:`ScreeningService` (the one whose screener the engine uses)."""
    tags: list[str | Enum] = ["aml"]

    def service() -> ScreeningService:
        screening = get_screening()
        if screening is None:
            raise MamoriError("screening is not configured")
        return screening

    @app.post("/v1/aml/screen", tags=tags, summary="Screen one crypto address or a batch against the risk lists")
    async def screen(request: Request) -> Response:
        p = principal(request, READ_SCOPE)
        body: ScreenIn = await _model(request, ScreenIn)
        if body.items is not None:
            if body.chain or body.address:
                raise InvalidRequest("give either chain and address, or items", details={"field": "body"})
            pairs = [(i.chain, i.address) for i in body.items]
            results = await run_in_threadpool(service().screen_many, pairs, actor=p.actor)
            return _json({"results": results})
        if not body.chain or not body.address:
            raise InvalidRequest("chain and address are required (or items)", details={"field": "body"})
        results = await run_in_threadpool(service().screen_many, [(body.chain, body.address)], actor=p.actor)
        if "error" in results[0]:
            raise error_from(results[0])
        return _json(results[0])

    @app.post("/v1/aml/screen/names", tags=tags, summary="Match names (kanji, kana, romaji) against listed parties")
    async def screen_names(request: Request) -> Response:
        p = principal(request, READ_SCOPE)
        body: NamesIn = await _model(request, NamesIn)
        hits = await run_in_threadpool(service().screen_names, body.names, actor=p.actor, threshold=body.threshold,
                                       subject=body.subject)
        return _json({"hits": [h.as_dict() for h in hits], "threshold": body.threshold})

    @app.get("/v1/aml/lists", tags=tags, summary="Search the risk lists")
    async def search(request: Request, q: str | None = Query(None, min_length=1, max_length=128),
                     chain: str | None = Query(None, max_length=32), category: str | None = Query(None, max_length=32),
                     source: str | None = Query(None, max_length=128), kind: Literal["address", "entity"] | None = None,
                     active_only: bool = False, limit: int = Query(100, ge=1, le=1000),
                     after_id: int = Query(0, ge=0)) -> Response:
        p = principal(request, READ_SCOPE)
        entries = await run_in_threadpool(service().search, actor=p.actor, text=q, chain=chain, category=category,
                                          source=source, kind=kind, active_only=active_only, limit=limit,
                                          after_id=after_id)
        return _json({"entries": [entry_dict(e) for e in entries],
                      "next_after_id": entries[-1].id if len(entries) == limit else None})

    @app.get("/v1/aml/lists/export", tags=tags, summary="Export the risk lists (CSV or JSON lines)")
    async def export(request: Request, format: Literal["csv", "jsonl"] = "csv",
                     active_only: bool = True) -> StreamingResponse:
        p = principal(request, READ_SCOPE)
        chunks: Iterator[bytes] = await run_in_threadpool(
            lambda: service().export(actor=p.actor, fmt=format, active_only=active_only))
        media = "text/csv; charset=utf-8" if format == "csv" else "application/x-ndjson"
        return StreamingResponse(iterate_in_threadpool(chunks), media_type=media, headers={
            "content-disposition": f'attachment; filename="mamori-risk-lists.{format}"'})

    @app.get("/v1/aml/lists/batches", tags=tags, summary="Recent list imports")
    async def batches(request: Request, limit: int = Query(50, ge=1, le=500)) -> Response:
        principal(request, READ_SCOPE)
        rows = await run_in_threadpool(service().lists.batches, limit=limit)
        for row in rows:
            row["created_at"] = from_us(row.pop("created_at_us")).isoformat()  # type: ignore[union-attr]
        return _json({"batches": rows})

    @app.post("/v1/aml/lists/import", tags=tags, summary="Import a list file (CSV, JSON or STIX 2.1)")
    async def import_file(request: Request, format: Literal["csv", "json", "stix"] = "csv",
                          source: str = Query(min_length=1, max_length=128),
                          category: str | None = Query(None, max_length=32),
                          filename: str | None = Query(None, max_length=255)) -> Response:
        p = principal(request, WRITE_SCOPE)
        data = await _read_limited(request, MAX_BYTES)
        report = await run_in_threadpool(service().import_file, data, format, source=source, actor=p.actor,
                                         default_category=category, filename=filename)
        return _json(report.as_dict())

    @app.post("/v1/aml/lists/import-cases", tags=tags, summary="Add destinations of closed fraud cases to the lists")
    async def import_cases(request: Request) -> Response:
        p = principal(request, WRITE_SCOPE)
        body: CasesImportIn = await _model(request, CasesImportIn)
        report = await run_in_threadpool(service().import_closed_cases, actor=p.actor, category=body.category,
                                         confidence=body.confidence)
        return _json(report.as_dict())

    @app.post("/v1/aml/lists/remove", tags=tags, summary="Remove list entries (audited)")
    async def remove(request: Request) -> Response:
        p = principal(request, WRITE_SCOPE)
        body: RemoveIn = await _model(request, RemoveIn)
        removed = await run_in_threadpool(service().remove, body.ids, actor=p.actor, reason=body.reason)
        return _json({"removed": [e.id for e in removed]})


def error_from(body: dict[str, Any]) -> MamoriError:
    from mamori.kit.errors import ALL_ERRORS

    error = body["error"]
    cls = next((c for c in ALL_ERRORS if c.code == error["code"]), NotFound)
    return cls(error["message"], details=error.get("details"))
