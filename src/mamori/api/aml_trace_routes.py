"""HTTP API of funds tracing (``/v1/aml/traces``, ``/v1/aml/chain``, ``/v1/aml/exposure``).

Reads (``aml:read``; trace views are audited):

* ``GET /v1/aml/traces/{id}`` — one trace: start, method, parameters, result (reached entities with
  their paths, tainted addresses), status and the history of re-checks;
* ``GET /v1/aml/traces?status=open|closed&case_id=&limit=`` — traces, newest first;
* ``GET /v1/aml/chain`` — the imported chain graph's size and version;
* ``GET /v1/aml/exposure?chain=&address=&direction=both|forward|backward`` — indirect exposure.

Actions (``aml:write``; audited):

* ``POST /v1/aml/traces`` ``{"chain", "start", "address", "at", "amount", "asset", "method", "max_hops",
  "case_id", "account_id", "limits"}`` — trace a withdrawal (``start`` a txid; or an address with ``at``);
  with ``case_id`` the result is attached to the case as evidence;
* ``POST /v1/aml/traces/{id}/close`` — stop re-checking a trace;
* ``POST /v1/aml/traces/recheck`` — re-check open traces now;
* ``POST /v1/aml/chain`` — the body is "mamori chain JSONL" (at most the server's body limit): imported,
  then open traces re-checked; answers the import report (added, known, per-line problems) and alerts.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Callable
from decimal import Decimal
from enum import Enum
from typing import Any, Final, Literal

import orjson
from fastapi import FastAPI, Path, Query, Request
from fastapi.responses import Response
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from mamori.aml.chaindata import read_jsonl
from mamori.aml.exposure import GraphExposure
from mamori.aml.graph import GraphStore
from mamori.aml.tracer import MAX_HOPS_LIMIT, TraceLimits
from mamori.aml.traces import TraceRequest, TraceService
from mamori.api.auth import Principal
from mamori.kit.errors import InvalidRequest
from mamori.kit.settings import Settings

__all__ = ["register_aml_traces", "trace_service_for"]

READ_SCOPE: Final = "aml:read"
WRITE_SCOPE: Final = "aml:write"
_MAX_INT: Final = 2**62


class LimitsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    max_nodes: int = Field(default=10_000, ge=1, le=200_000)
    max_edges_per_node: int = Field(default=1_000, ge=1, le=100_000)
    dust: Decimal | None = Field(default=None, ge=0, description="Taint below this (asset units) is not followed.")
    dust_fraction: float = Field(default=1e-3, ge=0, le=1, description="Default dust: this share of the start.")
    time_budget_s: float = Field(default=5.0, gt=0, le=60)


class TraceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    chain: str = Field(min_length=1, max_length=32)
    start: str = Field(min_length=1, max_length=130, description="The withdrawal's txid, or an address (with at).")
    address: str | None = Field(default=None, max_length=128, description="Only the outputs to this address.")
    at: AwareDatetime | None = Field(default=None, description="When the start address received the funds.")
    amount: Decimal | None = Field(default=None, gt=0, description="Amount received (default: all at that time).")
    asset: str | None = Field(default=None, max_length=64)
    method: Literal["haircut", "poison"] = "haircut"
    max_hops: int = Field(default=5, ge=1, le=MAX_HOPS_LIMIT)
    case_id: int | None = Field(default=None, ge=1, le=_MAX_INT)
    account_id: str | None = Field(default=None, min_length=1, max_length=128)
    limits: LimitsIn = Field(default_factory=LimitsIn)


def _json(body: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


def trace_service_for(get_risk: Callable[[], Any], settings: Settings,
                      get_cases: Callable[[], Any]) -> Callable[[], TraceService]:
    """A lazy factory of the application's :class:`TraceService`: the graph under the data directory,
    labels from the screening lists (the engine's screener), evidence into the case service. It also
    attaches the graph's :class:`GraphExposure` to the screener, so the engine's exposure features see it."""
    made: dict[str, TraceService] = {}
    lock = threading.Lock()

    def labels() -> Any:
        screening = getattr(get_risk(), "screening", None)
        return getattr(screening, "screener", None)

    def get() -> TraceService:
        with lock:
            if "service" not in made:
                graphs = GraphStore(settings.data_dir / "aml-graph")
                screener = labels()
                if screener is not None and getattr(screener, "exposure_lookup", "absent") is None:
                    screener.exposure_lookup = GraphExposure(graphs, screener, max_hops=3, max_nodes=500)
                made["service"] = TraceService(get_risk().store, graphs, cases=get_cases(), labels=labels)
            return made["service"]

    return get


def register_aml_traces(app: FastAPI, get_service: Callable[[], TraceService],
                        principal: Callable[[Request, str], Principal]) -> None:
    """Add the tracing routes (see the module docstring)."""
    tags: list[str | Enum] = ["aml"]

    @app.post("/v1/aml/traces", tags=tags, summary="Trace a withdrawal forward (haircut or poison taint)")
    async def create(request: Request, body: TraceIn) -> Response:
        p = principal(request, WRITE_SCOPE)
        limits = TraceLimits(max_nodes=body.limits.max_nodes, max_edges_per_node=body.limits.max_edges_per_node,
                             dust=None if body.limits.dust is None else float(body.limits.dust),
                             dust_fraction=body.limits.dust_fraction, time_budget_s=body.limits.time_budget_s)
        trace_request = TraceRequest(
            chain=body.chain, start=body.start, method=body.method, max_hops=body.max_hops, address=body.address,
            at_us=None if body.at is None else int(body.at.timestamp() * 1_000_000),
            amount=None if body.amount is None else float(body.amount), asset=body.asset, case_id=body.case_id,
            account_id=body.account_id, limits=limits)
        record = await run_in_threadpool(get_service().create, p.actor, trace_request)
        return _json(record, 201)

    @app.get("/v1/aml/traces", tags=tags, summary="Traces, newest first")
    async def list_traces(request: Request, status: Literal["open", "closed"] | None = None,
                          case_id: int | None = Query(None, ge=1, le=_MAX_INT),
                          limit: int = Query(100, ge=1, le=1000)) -> Response:
        p = principal(request, READ_SCOPE)
        rows = await run_in_threadpool(lambda: get_service().list_traces(p.actor, status=status, case_id=case_id,
                                                                         limit=limit))
        return _json({"traces": rows})

    @app.post("/v1/aml/traces/recheck", tags=tags, summary="Re-check open traces against the chain data now")
    async def recheck(request: Request) -> Response:
        p = principal(request, WRITE_SCOPE)
        return _json(await run_in_threadpool(get_service().recheck, p.actor))

    @app.get("/v1/aml/traces/{trace_id}", tags=tags, summary="One trace with its paths and re-checks")
    async def get_trace(request: Request, trace_id: int = Path(ge=1, le=_MAX_INT)) -> Response:
        p = principal(request, READ_SCOPE)
        return _json(await run_in_threadpool(get_service().get, p.actor, trace_id))

    @app.post("/v1/aml/traces/{trace_id}/close", tags=tags, summary="Close a trace (no more re-checks)")
    async def close(request: Request, trace_id: int = Path(ge=1, le=_MAX_INT)) -> Response:
        p = principal(request, WRITE_SCOPE)
        return _json(await run_in_threadpool(get_service().close, p.actor, trace_id))

    @app.post("/v1/aml/chain", tags=tags, summary="Import chain data (mamori chain JSONL), then re-check traces")
    async def import_chain(request: Request) -> Response:
        p = principal(request, WRITE_SCOPE)
        limit = int(getattr(request.app.state, "max_body_bytes", 4 * 1024 * 1024))
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise InvalidRequest(f"the body is larger than {limit} bytes; import large files with "
                                     "`mamori aml chain import`", details={"limit": limit})
            chunks.append(chunk)
        data = b"".join(chunks)

        def run() -> dict[str, Any]:
            return get_service().import_chain(p.actor, read_jsonl(io.BytesIO(data)))

        return _json(await run_in_threadpool(run))

    @app.get("/v1/aml/chain", tags=tags, summary="The imported chain graph: size and version")
    async def chain_stats(request: Request) -> Response:
        principal(request, READ_SCOPE)
        return _json(await run_in_threadpool(lambda: get_service().graphs.stats()))

    @app.get("/v1/aml/exposure", tags=tags, summary="Indirect exposure of an address to risky entities")
    async def exposure(request: Request, chain: str = Query(min_length=1, max_length=32),
                       address: str = Query(min_length=1, max_length=128),
                       direction: Literal["both", "forward", "backward"] = "both",
                       max_hops: int = Query(3, ge=1, le=6)) -> Response:
        principal(request, READ_SCOPE)

        def run() -> dict[str, Any]:
            service = get_service()
            labels = service.labels()
            if labels is None:
                return {"chain": chain, "address": address, "exposure": None}
            found = GraphExposure(service.graphs, labels, max_hops=max_hops).exposure_directed(chain, address,
                                                                                                direction)
            return {"chain": chain, "address": address, "direction": direction,
                    "exposure": None if found is None else {"category": found[0].value, "hops": found[1]}}

        return _json(await run_in_threadpool(run))
