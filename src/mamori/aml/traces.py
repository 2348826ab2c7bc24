"""Traces as case evidence: stored, attached to cases, re-checked when new chain data arrives.

A trace (:func:`mamori.aml.tracer.trace`) is stored with its start, method, parameters and result
(paths and reached entities), status ``open`` or ``closed``, and the history of its re-checks.
Created for a case, its result is attached to the case (a JSON attachment and a bilingual comment
naming the entities reached), so the analyst sees the path next to the alerts.

Every import of chain data re-checks the open traces. When traced funds newly reach a *risky*
entity (:data:`mamori.aml.model.RISKY_CATEGORIES`: casino, scam, mixer, sanctioned …), an alert
``AML-TRACE-REACH-001`` (verdict hold) is raised for the customer (:meth:`SqlStore.raise_alert`) and
filed into the customer's account case by the case machinery's own filing
(:class:`mamori.cases.filing.Filing`), the trace's case gets the new evidence, and the re-check is
recorded. This answers the FSA's request to keep following funds after they leave the exchange.

Audit: creating, viewing, closing, re-checking traces and importing chain data are written to the
hash-chained audit log with ids and counts only.
"""

from __future__ import annotations

import base64
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Final

import orjson
from sqlalchemy import BigInteger, Column, Engine, Index, Integer, MetaData, String, Table, Text, insert, select, update

from mamori.adapters.sql.schema import AUTO_ID
from mamori.adapters.sql.store import SqlStore, now_us
from mamori.aml.addresses import normalise_address, normalise_chain
from mamori.aml.chaindata import ChainTx, LineProblem, normalise_txid
from mamori.aml.graph import GraphStore, ImportReport
from mamori.aml.model import LabelLookup
from mamori.aml.tracer import TraceLimits, TraceResult, trace
from mamori.cases.filing import Filing, GroupingPolicy, NewAlert
from mamori.cases.store import begin_write, case_alerts, load_case
from mamori.cases.store import create_tables as create_case_tables
from mamori.kit.errors import InvalidAddress, InvalidRequest, MamoriError, NotFound

RULE_ID: Final = "AML-TRACE-REACH-001"
EVENT_TYPE: Final = "aml_trace_hit"
ALERT_SCORE: Final = 80
MAX_RECHECK: Final = 1000

metadata = MetaData()

aml_traces = Table(
    "aml_traces", metadata,
    Column("id", AUTO_ID, primary_key=True, autoincrement=True),
    Column("case_id", BigInteger, nullable=True),
    Column("account_id", String(128), nullable=True),
    Column("chain", String(32), nullable=False),
    Column("start", Text, nullable=False),        # JSON: txid / address, at_us, amount, asset
    Column("method", String(16), nullable=False),
    Column("params", Text, nullable=False),       # JSON: max_hops, limits
    Column("result", Text, nullable=False),       # JSON: TraceResult.to_dict()
    Column("alerted", Text, nullable=False),      # JSON: risky entity addresses already known
    Column("status", String(16), nullable=False),
    Column("graph_version", Integer, nullable=False),
    Column("created_by", String(128), nullable=False),
    Column("created_at_us", BigInteger, nullable=False),
    Column("updated_at_us", BigInteger, nullable=False),
)
Index("ix_aml_traces_status", aml_traces.c.status, aml_traces.c.updated_at_us)
Index("ix_aml_traces_case", aml_traces.c.case_id)

aml_trace_checks = Table(
    "aml_trace_checks", metadata,
    Column("id", AUTO_ID, primary_key=True, autoincrement=True),
    Column("trace_id", BigInteger, nullable=False),
    Column("at_us", BigInteger, nullable=False),
    Column("graph_version", Integer, nullable=False),
    Column("new_entities", Text, nullable=False),  # JSON list of entity dicts
    Column("alert_id", BigInteger, nullable=True),
)
Index("ix_aml_trace_checks_trace", aml_trace_checks.c.trace_id)


@dataclass(frozen=True, slots=True)
class TraceRequest:
    """What to trace. ``start`` is a txid, or an address with ``at_us`` (and optionally ``amount``)."""

    chain: str
    start: str
    method: str = "haircut"
    max_hops: int = 5
    address: str | None = None
    at_us: int | None = None
    amount: float | None = None
    asset: str | None = None
    case_id: int | None = None
    account_id: str | None = None
    limits: TraceLimits = field(default_factory=TraceLimits)


def _plain(row: Any) -> dict[str, Any]:
    """A row as a dict with plain ``str`` keys (SQLAlchemy's ``quoted_name`` keys are not JSON-encodable by orjson)."""
    return {str(k): v for k, v in row.items()}


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


class TraceService:
    """Traces on the shared store and the data directory's chain graph."""

    def __init__(self, store: SqlStore, graphs: GraphStore, *, cases: Any | None = None,
                 labels: Callable[[], LabelLookup | None] = lambda: None,
                 clock: Callable[[], int] = now_us) -> None:
        self.store = store
        self.graphs = graphs
        self.cases = cases            # mamori.cases.service.CasesService (evidence as comments/attachments)
        self.labels = labels
        self.clock = clock
        self._lock = threading.Lock()
        create_case_tables(store.engine)
        metadata.create_all(store.engine)

    @property
    def engine(self) -> Engine:
        return self.store.engine

    # -- create, read, close --------------------------------------------------------------------------
    def create(self, actor: str, request: TraceRequest) -> dict[str, Any]:
        chain = normalise_chain(request.chain)
        request = _normalised(request, chain)
        account = request.account_id
        if request.case_id is not None:
            with self.engine.connect() as conn:
                record = load_case(conn, request.case_id)
            if account is None and record.kind.value == "account":
                account = record.key
        graph = self.graphs.graph
        result = self._run(request, chain)
        risky = sorted({e.address for e in result.entities if e.risky})
        now = self.clock()
        start = {"start": request.start, "address": request.address, "at_us": request.at_us,
                 "amount": request.amount, "asset": request.asset}
        params = {"max_hops": request.max_hops, "limits": request.limits.to_dict()}
        with self.engine.begin() as conn:
            trace_id = int(conn.execute(insert(aml_traces).values(
                case_id=request.case_id, account_id=account, chain=chain, start=_dumps(start),
                method=request.method, params=_dumps(params), result=_dumps(result.to_dict()),
                alerted=_dumps(risky), status="open", graph_version=graph.version, created_by=actor,
                created_at_us=now, updated_at_us=now)).inserted_primary_key[0])  # type: ignore[index]
        self.store.audit(actor=actor, action="aml.trace.create", target=f"aml-trace:{trace_id}",
                         details={"trace_id": trace_id, "case_id": request.case_id, "chain": chain,
                                  "method": request.method, "max_hops": request.max_hops,
                                  "entities": len(result.entities), "truncated": result.truncated})
        if request.case_id is not None:
            self._attach(actor, request.case_id, trace_id, result, new=None)
        return self._load(trace_id)

    def get(self, actor: str, trace_id: int) -> dict[str, Any]:
        record = self._load(trace_id)
        self.store.audit(actor=actor, action="aml.trace.view", target=f"aml-trace:{trace_id}",
                         details={"trace_id": trace_id, "case_id": record["case_id"]})
        return record

    def list_traces(self, actor: str, *, status: str | None = None, case_id: int | None = None,
             limit: int = 100) -> list[dict[str, Any]]:
        cond = []
        if status is not None:
            cond.append(aml_traces.c.status == status)
        if case_id is not None:
            cond.append(aml_traces.c.case_id == case_id)
        with self.engine.connect() as conn:
            rows = conn.execute(select(aml_traces.c.id, aml_traces.c.case_id, aml_traces.c.chain,
                                       aml_traces.c.method, aml_traces.c.status, aml_traces.c.created_at_us,
                                       aml_traces.c.updated_at_us).where(*cond)
                                .order_by(aml_traces.c.id.desc()).limit(limit)).mappings().all()
        out = [_plain(r) for r in rows]
        self.store.audit(actor=actor, action="aml.trace.list", target="aml-traces",
                         details={"trace_ids": [r["id"] for r in out]})
        return out

    def close(self, actor: str, trace_id: int) -> dict[str, Any]:
        self._load(trace_id)
        with self.engine.begin() as conn:
            conn.execute(update(aml_traces).where(aml_traces.c.id == trace_id)
                         .values(status="closed", updated_at_us=self.clock()))
        self.store.audit(actor=actor, action="aml.trace.close", target=f"aml-trace:{trace_id}",
                         details={"trace_id": trace_id})
        return self._load(trace_id)

    def _load(self, trace_id: int) -> dict[str, Any]:
        with self.engine.connect() as conn:
            row = conn.execute(select(aml_traces).where(aml_traces.c.id == trace_id)).mappings().first()
            if row is None:
                raise NotFound(f"no trace {trace_id}")
            checks = conn.execute(select(aml_trace_checks).where(aml_trace_checks.c.trace_id == trace_id)
                                  .order_by(aml_trace_checks.c.id)).mappings().all()
        out = _plain(row)
        for key in ("start", "params", "result", "alerted"):
            out[key] = orjson.loads(out[key])
        out["checks"] = [_plain(c) | {"new_entities": orjson.loads(c["new_entities"])} for c in checks]
        return out

    # -- chain data and re-checks ----------------------------------------------------------------------
    def import_chain(self, actor: str, items: Iterable[tuple[int, ChainTx | LineProblem]]) -> dict[str, Any]:
        """Import chain data (see :class:`GraphStore`), then re-check the open traces."""
        report: ImportReport = self.graphs.import_items(items)
        self.store.audit(actor=actor, action="aml.chain.import", target="aml-graph",
                         details={"added": report.added, "known": report.known, "skipped": len(report.problems),
                                  "graph_version": self.graphs.graph.version})
        out = report.to_dict()
        out["recheck"] = self.recheck(actor) if report.added else {"checked": 0, "alerts": []}
        return out

    def recheck(self, actor: str = "system") -> dict[str, Any]:
        """Re-run every open trace made on an older graph; alert on newly reached risky entities."""
        with self._lock:
            graph = self.graphs.graph
            with self.engine.connect() as conn:
                rows = conn.execute(select(aml_traces).where(aml_traces.c.status == "open",
                                                             aml_traces.c.graph_version < graph.version)
                                    .order_by(aml_traces.c.id).limit(MAX_RECHECK)).mappings().all()
            alerts: list[dict[str, Any]] = []
            for row in rows:
                alert = self._recheck_one(actor, row, graph.version)
                if alert is not None:
                    alerts.append(alert)
        self.store.audit(actor=actor, action="aml.trace.recheck", target="aml-traces",
                         details={"trace_ids": [int(r["id"]) for r in rows], "graph_version": graph.version,
                                  "alert_ids": [a["alert_id"] for a in alerts]})
        return {"checked": len(rows), "alerts": alerts}

    def _recheck_one(self, actor: str, row: Any, version: int) -> dict[str, Any] | None:
        start, params = orjson.loads(row["start"]), orjson.loads(row["params"])
        request = TraceRequest(chain=row["chain"], start=start["start"], method=row["method"],
                               max_hops=int(params["max_hops"]), address=start.get("address"),
                               at_us=start.get("at_us"), amount=start.get("amount"), asset=start.get("asset"),
                               limits=TraceLimits(**params["limits"]))
        try:
            result = self._run(request, row["chain"])
        except MamoriError as exc:  # e.g. the start disappeared: recorded, the others go on
            new_entities: list[dict[str, Any]] = [{"error": exc.code, "message": exc.message}]
            self._record_check(int(row["id"]), version, new_entities, None, None, None)
            return None
        known = set(orjson.loads(row["alerted"]))
        new = [e for e in result.entities if e.risky and e.address not in known]
        alert_id = None
        now = self.clock()
        trace_id = int(row["id"])
        if new:
            account = row["account_id"] or f"aml-trace-{trace_id}"
            body = {"event_id": f"aml-trace:{trace_id}:v{version}", "type": EVENT_TYPE, "decision": "hold",
                    "score": ALERT_SCORE, "trace_id": trace_id, "case_id": row["case_id"],
                    "rules": [{"id": RULE_ID, "tags": ["aml", "trace", "exposure"],
                               "description": "traced funds reached a risky entity / 追跡資金がリスク先に到達",
                               "entities": [{"category": e.category, "hop": e.hop} for e in new]}],
                    "entities": [e.to_dict() for e in new]}
            alert_id, _fresh = self.store.raise_alert(
                event_id=body["event_id"], event_type=EVENT_TYPE, account_id=account, occurred_at_us=now,
                decision="hold", score=ALERT_SCORE, rule_ids=(RULE_ID,), body=body, ruleset="aml-tracer")
            self._file(alert_id, account, now)
        self._record_check(trace_id, version, [e.to_dict() for e in new], alert_id, result,
                           sorted(known | {e.address for e in new}))
        if new and row["case_id"] is not None:
            self._attach(actor, int(row["case_id"]), trace_id, result, new=[e.to_dict() for e in new])
        return None if alert_id is None else {"trace_id": trace_id, "alert_id": alert_id, "entities": len(new)}

    def _record_check(self, trace_id: int, version: int, new_entities: list[dict[str, Any]], alert_id: int | None,
                      result: TraceResult | None, alerted: list[str] | None) -> None:
        now = self.clock()
        with self.engine.begin() as conn:
            conn.execute(insert(aml_trace_checks).values(trace_id=trace_id, at_us=now, graph_version=version,
                                                         new_entities=_dumps(new_entities), alert_id=alert_id))
            values: dict[str, Any] = {"graph_version": version, "updated_at_us": now}
            if result is not None:
                values["result"] = _dumps(result.to_dict())
            if alerted is not None:
                values["alerted"] = _dumps(alerted)
            conn.execute(update(aml_traces).where(aml_traces.c.id == trace_id).values(**values))

    def _file(self, alert_id: int, account: str, at_us: int) -> None:
        """File the alert into the account's case, exactly as the case builder files engine alerts."""
        with self.engine.begin() as conn:
            begin_write(conn)
            if conn.execute(select(case_alerts.c.alert_id).where(case_alerts.c.alert_id == alert_id)).first():
                return
            Filing(conn, GroupingPolicy(), self.clock()).file(
                [NewAlert(alert_id, account, at_us, "hold", ALERT_SCORE, [])])
        if self.cases is not None:
            self.cases.flush_audit()

    # -- helpers -----------------------------------------------------------------------------------------
    def _run(self, request: TraceRequest, chain: str) -> TraceResult:
        return trace(self.graphs.graph, chain, request.start, method=request.method, max_hops=request.max_hops,
                     labels=self.labels(), limits=request.limits, address=request.address, at_us=request.at_us,
                     amount=request.amount, asset=request.asset)

    def _attach(self, actor: str, case_id: int, trace_id: int, result: TraceResult,
                new: list[dict[str, Any]] | None) -> None:
        if self.cases is None:
            return
        evidence = {"trace_id": trace_id, "new_entities": new, "result": result.to_dict()}
        data = base64.b64encode(orjson.dumps(evidence, option=orjson.OPT_INDENT_2)).decode()
        suffix = "" if new is None else f"-recheck-{self.clock()}"
        self.cases.add_attachment(actor, case_id, filename=f"aml-trace-{trace_id}{suffix}.json",
                                  content_type="application/json", data_base64=data)
        self.cases.comment(actor, case_id, summary(trace_id, result, new))


def summary(trace_id: int, result: TraceResult, new: list[dict[str, Any]] | None) -> str:
    """A bilingual case comment: the entities the traced funds reached, with hops and amounts."""
    entities = [e.to_dict() for e in result.entities] if new is None else new
    lines = [f"資金追跡 #{trace_id}（{result.method}、最大{result.max_hops}ホップ）"
             + ("：新たにリスク先へ到達" if new is not None else "") + f" / Funds trace #{trace_id} "
             f"({result.method}, up to {result.max_hops} hops)" + (": newly reached risky entities" if new else "")]
    for e in entities[:20]:
        lines.append(f"- {e['category']} {e['address']}: {e['hop']} hop(s), {e['taint']} {result.asset}"
                     + (" (stop)" if e["stopped"] else ""))
    if not entities:
        lines.append("- 既知の主体には未到達 / no known entity reached")
    if result.truncated:
        lines.append(f"打ち切り / truncated: {', '.join(result.reasons)}")
    return "\n".join(lines)


def _normalised(request: TraceRequest, chain: str) -> TraceRequest:
    address = None if request.address is None else normalise_address(chain, request.address)
    if request.at_us is not None:
        start = normalise_address(chain, request.start)
    else:
        start = normalise_txid(request.start)
        try:  # an address given without a time: say so rather than "no transaction"
            normalise_address(chain, start)
        except InvalidAddress:
            pass
        else:
            raise InvalidRequest("a trace from an address needs the time it received the funds (at)",
                                 details={"field": "at"})
    return TraceRequest(chain=chain, start=start, method=request.method, max_hops=request.max_hops, address=address,
                        at_us=request.at_us, amount=request.amount, asset=request.asset, case_id=request.case_id,
                        account_id=request.account_id, limits=request.limits)
