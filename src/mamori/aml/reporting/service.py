"""The report service: drafts from cases, edits, KYC import, the workflow, versions, diffs, exports.

Every view and every change is audited (:meth:`SqlStore.audit`, hash-chained) with ids, states,
codes and the *names* of changed fields, never their values: the report's personal data stays in
the encrypted document. A change writes its ``str_report_events`` row in the transaction that makes
it; the row is then appended to the audit log (if that fails the row stays pending and the next
action, or :meth:`StrService.flush_audit`, appends it). A read is appended to the audit log before
anything is returned; if that fails, nothing is shown.

``actor`` is the principal's name (``api-key:<id>`` or a console operator); the four-eyes check
compares it with the version's last editor.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any, Final

import orjson
from pydantic import ValidationError
from sqlalchemy import Connection, RowMapping, func, insert, select, update

from mamori.adapters.sql.audit_outbox import AuditRecord, flush_audit_outbox
from mamori.adapters.sql.store import SqlStore, now_us
from mamori.aml.reporting.crypto import ReportCipher
from mamori.aml.reporting.draft import DAY_US, build_draft
from mamori.aml.reporting.export import ExportFormat, export_report
from mamori.aml.reporting.kyc import apply_kyc
from mamori.aml.reporting.model import SECTIONS, ReportDocument, ReportingEntity
from mamori.aml.reporting.store import create_tables, str_report_events, str_reports
from mamori.aml.reporting.workflow import (
    FINAL,
    ReportState,
    changed_fields,
    check_editable,
    check_lock,
    check_new_version,
    check_return,
    check_submit,
    diff,
    field_errors,
)
from mamori.cases.store import begin_write
from mamori.cases.store import create_tables as create_case_tables
from mamori.kit.errors import InvalidRequest, NotFound, StorageUnavailable

MAX_LIST: Final = 200
_META: Final = ("id", "series_id", "version", "case_id", "state", "created_at_us", "created_by", "updated_at_us",
                "last_editor", "submitted_at_us", "submitted_by", "locked_at_us", "locked_by", "exported_at_us",
                "exported_by")


def reference(report_id: int, version: int) -> str:
    """The reference shown to people: ``STR-000012 v2``."""
    return f"STR-{report_id:06d} v{version}"


def _meta(row: Any) -> dict[str, Any]:
    out = {k: row[k] for k in _META}
    out["reference"] = reference(int(row["series_id"] or row["id"]), int(row["version"]))
    return out


class StrService:
    """Suspicious transaction reports on the shared store, documents sealed with ``cipher``."""

    def __init__(self, store: SqlStore, cipher: ReportCipher, *, entity: Callable[[], ReportingEntity] | None = None,
                 rule_texts: Callable[[], Mapping[str, str]] | None = None, lookback_days: float = 7.0,
                 clock: Callable[[], int] | None = None) -> None:
        self.store = store
        self.engine = store.engine
        self.cipher = cipher
        self.entity = entity or ReportingEntity
        self.rule_texts = rule_texts
        self.lookback_us = int(lookback_days * DAY_US)
        self.clock: Callable[[], int] = clock or now_us
        create_case_tables(self.engine)
        create_tables(self.engine)
        self._audit_lock = threading.Lock()

    # -- audit -----------------------------------------------------------------------------------
    def _event(self, conn: Connection, row: Mapping[str, Any], *, at: int, actor: str, action: str,
               to_state: str | None = None, details: dict[str, Any] | None = None, note: str | None = None) -> int:
        """A history row. ``details`` (ids and codes) also go to the audit log; ``note`` (free text that
        may name the customer, e.g. why a version went back to draft) is stored encrypted, never audited."""
        result = conn.execute(insert(str_report_events).values(
            report_id=row["id"], series_id=row["series_id"] or row["id"], at_us=at, actor=actor, action=action,
            from_state=row["state"], to_state=to_state or row["state"],
            details=orjson.dumps(details or {}, option=orjson.OPT_SORT_KEYS).decode(),
            note_enc=None if note is None else self.cipher.seal(int(row["id"]), {"note": note}),
            audit_pending=True)
            .returning(str_report_events.c.id))
        return int(result.scalar_one())

    def flush_audit(self, *, limit: int = 1000) -> int:
        """Append pending history rows to the audit log; never raises (they stay pending on failure)."""
        return flush_audit_outbox(self.store, str_report_events, str_report_events.c.audit_pending,
                                  _report_audit_record, lock=self._audit_lock, what="report actions", limit=limit)

    def _audit_read(self, actor: str, action: str, target: str, details: dict[str, Any]) -> None:
        self.store.audit(actor=actor, action=action, target=target, details=details)

    # -- loading ---------------------------------------------------------------------------------
    @staticmethod
    def _row(conn: Connection, report_id: int, *, for_update: bool = False) -> Mapping[str, Any]:
        stmt = select(str_reports).where(str_reports.c.id == report_id)
        if for_update and conn.dialect.name == "postgresql":
            stmt = stmt.with_for_update()
        row = conn.execute(stmt).mappings().first()
        if row is None:
            raise NotFound(f"no report {report_id}", details=[{"field": "report_id", "message": "unknown report",
                                                               "kind": "not_found"}])
        return dict(row)

    def _document(self, row: Mapping[str, Any]) -> dict[str, Any]:
        return self.cipher.open(int(row["id"]), bytes(row["content_enc"]))

    def _full(self, row: Mapping[str, Any]) -> dict[str, Any]:
        return {**_meta(row), "document": self._document(row)}

    # -- create ----------------------------------------------------------------------------------
    def create_from_case(self, actor: str, case_id: int) -> dict[str, Any]:
        """A new report (version 1, draft) pre-filled from case ``case_id``."""
        texts = dict(self.rule_texts()) if self.rule_texts else {}
        with self.engine.connect() as conn:
            document, facts = build_draft(conn, case_id, entity=self.entity(), lookback_us=self.lookback_us,
                                          rule_texts=texts)
        now = self.clock()
        with self.engine.begin() as conn:
            begin_write(conn)
            report_id = int(conn.execute(insert(str_reports).values(
                series_id=None, version=1, case_id=case_id, state=ReportState.DRAFT.value, created_at_us=now,
                created_by=actor, updated_at_us=now, last_editor=actor, content_enc=b"")
                .returning(str_reports.c.id)).scalar_one())
            conn.execute(update(str_reports).where(str_reports.c.id == report_id).values(
                series_id=report_id, content_enc=self.cipher.seal(report_id, document.to_json())))
            row = self._row(conn, report_id)
            self._event(conn, row, at=now, actor=actor, action="str.create", details=facts.to_dict())
        self.flush_audit()
        return {**self._full(row), "draft_facts": facts.to_dict()}

    # -- reads -----------------------------------------------------------------------------------
    def list_reports(self, actor: str, *, case_id: int | None = None, state: ReportState | None = None,
                     limit: int = 50, offset: int = 0) -> dict[str, Any]:
        """Report versions, newest first (metadata only: nothing personal is decrypted)."""
        if not 1 <= limit <= MAX_LIST or offset < 0:
            raise InvalidRequest(f"limit must be 1-{MAX_LIST} and offset not negative", details={"field": "limit"})
        cond = [c for c in ((str_reports.c.case_id == case_id) if case_id is not None else None,
                            (str_reports.c.state == state.value) if state is not None else None) if c is not None]
        with self.engine.connect() as conn:
            rows = conn.execute(select(*[str_reports.c[k] for k in _META]).where(*cond)
                                .order_by(str_reports.c.id.desc()).limit(limit).offset(offset)).mappings().all()
            total = int(conn.execute(select(func.count()).select_from(str_reports).where(*cond)).scalar_one())
        self._audit_read(actor, "str.list", "str", {"case_id": case_id, "state": state.value if state else None,
                                                    "report_ids": [r["id"] for r in rows]})
        nxt = offset + len(rows) if offset + len(rows) < total else None
        return {"reports": [_meta(r) for r in rows], "total": total, "next_offset": nxt}

    def view(self, actor: str, report_id: int) -> dict[str, Any]:
        with self.engine.connect() as conn:
            row = self._row(conn, report_id)
        out = self._full(row)
        self._audit_read(actor, "str.view", f"str:{report_id}", {"report_id": report_id, "case_id": row["case_id"]})
        return out

    def versions(self, actor: str, report_id: int) -> dict[str, Any]:
        """Every version of the report's series (who and when) and the series' history."""
        with self.engine.connect() as conn:
            row = self._row(conn, report_id)
            series = int(row["series_id"] or row["id"])
            rows = conn.execute(select(*[str_reports.c[k] for k in _META]).where(str_reports.c.series_id == series)
                                .order_by(str_reports.c.version)).mappings().all()
            history = conn.execute(select(str_report_events).where(str_report_events.c.series_id == series)
                                   .order_by(str_report_events.c.id)).mappings().all()
        self._audit_read(actor, "str.versions", f"str:{report_id}", {"report_id": report_id, "series_id": series})
        return {"series_id": series, "versions": [_meta(r) for r in rows],
                "history": [{k: h[k] for k in ("id", "report_id", "at_us", "actor", "action", "from_state", "to_state")}
                            | {"details": orjson.loads(h["details"]),
                               "note": None if h["note_enc"] is None
                               else self.cipher.open(int(h["report_id"]), h["note_enc"])["note"]}
                            for h in history]}

    def diff(self, actor: str, report_id: int, against: int | None = None) -> dict[str, Any]:
        """Field-level changes from ``against`` (default: the previous version) to ``report_id``."""
        with self.engine.connect() as conn:
            row = self._row(conn, report_id)
            series = int(row["series_id"] or row["id"])
            other: Any
            if against is None:
                other = conn.execute(select(str_reports).where(str_reports.c.series_id == series,
                                                               str_reports.c.version == int(row["version"]) - 1)
                                     ).mappings().first()
                if other is None:
                    raise InvalidRequest("this is the first version: name another report with ?against=",
                                         details={"field": "against"})
            else:
                other = self._row(conn, against)
        changes = diff(self._document(other), self._document(row))
        self._audit_read(actor, "str.diff", f"str:{report_id}", {"report_id": report_id, "against": other["id"],
                                                                 "fields": len(changes)})
        return {"report": _meta(row), "against": _meta(other), "changes": changes}

    # -- edits -----------------------------------------------------------------------------------
    def _edit(self, actor: str, report_id: int, action: str,
              change: Callable[[dict[str, Any]], tuple[ReportDocument, dict[str, Any]]]) -> dict[str, Any]:
        now = self.clock()
        with self.engine.begin() as conn:
            begin_write(conn)
            row = self._row(conn, report_id, for_update=True)
            state = ReportState(row["state"])
            check_editable(report_id, state)
            before = self._document(row)
            document, details = change(before)
            after = document.to_json()
            fields = changed_fields(before, after)
            conn.execute(update(str_reports).where(str_reports.c.id == report_id).values(
                state=ReportState.DRAFT.value, updated_at_us=now, last_editor=actor,
                content_enc=self.cipher.seal(report_id, after)))
            self._event(conn, row, at=now, actor=actor, action=action, to_state=ReportState.DRAFT.value,
                        details={**details, "fields": fields, "changed": len(fields)})
            row = self._row(conn, report_id)
        self.flush_audit()
        return self._full(row)

    def update(self, actor: str, report_id: int, sections: Mapping[str, Any]) -> dict[str, Any]:
        """Replace the sections named in ``sections`` (entity, filing, subjects, accounts, transactions,
        reasons); the result is validated as a whole (422 listing every bad field by its path)."""
        unknown = sorted(set(sections) - set(SECTIONS))
        if unknown:
            raise InvalidRequest(f"unknown section(s): {', '.join(unknown)}",
                                 details=[{"field": k, "message": f"sections are {', '.join(SECTIONS)}",
                                           "kind": "extra_forbidden"} for k in unknown])
        if not sections:
            raise InvalidRequest("nothing to change: send at least one section", details={"field": "(body)"})

        def change(before: dict[str, Any]) -> tuple[ReportDocument, dict[str, Any]]:
            merged = {**before, **sections}
            reasons = sections.get("reasons")
            if isinstance(reasons, dict) and reasons.get("text") != before["reasons"].get("text"):
                merged["reasons"] = {**reasons, "auto_drafted": False}
            try:
                return ReportDocument.model_validate(merged), {"sections": sorted(sections)}
            except ValidationError as exc:
                raise field_errors(exc) from None

        return self._edit(actor, report_id, "str.update", change)

    def import_kyc(self, actor: str, report_id: int, data: Any) -> dict[str, Any]:
        """Fill 取引時確認 and account items from the firm's KYC export (see :mod:`mamori.aml.reporting.kyc`)."""
        summary: dict[str, Any] = {}

        def change(before: dict[str, Any]) -> tuple[ReportDocument, dict[str, Any]]:
            document, result = apply_kyc(ReportDocument.model_validate(before), data)
            summary.update(result)
            return document, result

        out = self._edit(actor, report_id, "str.kyc_import", change)
        return {**out, "import": summary}

    # -- workflow --------------------------------------------------------------------------------
    def _move(self, actor: str, report_id: int, action: str, target: ReportState,
              check: Callable[[Mapping[str, Any]], None], stamp: Mapping[str, str] = {},
              details: dict[str, Any] | None = None, reason: str | None = None) -> dict[str, Any]:
        now = self.clock()
        with self.engine.begin() as conn:
            begin_write(conn)
            row = self._row(conn, report_id, for_update=True)
            check(row)
            values: dict[str, Any] = {"state": target.value, "updated_at_us": now}
            for at_col, by_col in stamp.items():
                values |= {at_col: now, by_col: actor}
            conn.execute(update(str_reports).where(str_reports.c.id == report_id).values(**values))
            self._event(conn, row, at=now, actor=actor, action=action, to_state=target.value,
                        details={**(details or {}), **({"reason_given": True} if reason else {})}, note=reason)
            row = self._row(conn, report_id)
        self.flush_audit()
        return _meta(row)

    def submit(self, actor: str, report_id: int) -> dict[str, Any]:
        return self._move(actor, report_id, "str.submit", ReportState.SUBMITTED,
                          lambda r: check_submit(report_id, ReportState(r["state"])),
                          {"submitted_at_us": "submitted_by"})

    def lock(self, actor: str, report_id: int) -> dict[str, Any]:
        """The compliance officer's lock (``str:approve``): a second person, never the last editor."""
        return self._move(actor, report_id, "str.lock", ReportState.LOCKED,
                          lambda r: check_lock(report_id, ReportState(r["state"]), actor=actor,
                                               last_editor=r["last_editor"]),
                          {"locked_at_us": "locked_by"})

    def return_to_draft(self, actor: str, report_id: int, reason: str | None) -> dict[str, Any]:
        """Send a submitted version back to its authors (the reason stays out of the audit log)."""
        return self._move(actor, report_id, "str.return", ReportState.DRAFT,
                          lambda r: check_return(report_id, ReportState(r["state"]), reason), reason=reason)

    def new_version(self, actor: str, report_id: int) -> dict[str, Any]:
        """Copy a locked version into a new draft of the same report (version + 1)."""
        now = self.clock()
        with self.engine.begin() as conn:
            begin_write(conn)
            row = self._row(conn, report_id, for_update=True)
            series = int(row["series_id"] or row["id"])
            open_version = conn.execute(select(str_reports.c.id).where(
                str_reports.c.series_id == series, str_reports.c.state.not_in([s.value for s in FINAL]))).scalar()
            check_new_version(report_id, ReportState(row["state"]), open_version)
            version = int(conn.execute(select(func.max(str_reports.c.version))
                                       .where(str_reports.c.series_id == series)).scalar_one()) + 1
            new_id = int(conn.execute(insert(str_reports).values(
                series_id=series, version=version, case_id=row["case_id"], state=ReportState.DRAFT.value,
                created_at_us=now, created_by=actor, updated_at_us=now, last_editor=actor, content_enc=b"")
                .returning(str_reports.c.id)).scalar_one())
            conn.execute(update(str_reports).where(str_reports.c.id == new_id).values(
                content_enc=self.cipher.seal(new_id, self._document(row))))
            new_row = self._row(conn, new_id)
            self._event(conn, new_row, at=now, actor=actor, action="str.version",
                        details={"copied_from": report_id, "version": version})
        self.flush_audit()
        return self._full(new_row)

    # -- export ----------------------------------------------------------------------------------
    def export(self, actor: str, report_id: int, fmt: ExportFormat, *,
               encoding: str = "utf-8") -> tuple[str, str, bytes]:
        """``(filename, media type, bytes)``. A locked version exports as final (and becomes ``exported``);
        any other exports watermarked 下書き / DRAFT."""
        with self.engine.connect() as conn:
            row = self._row(conn, report_id)
        final = ReportState(row["state"]) in FINAL
        document = ReportDocument.model_validate(self._document(row))
        name, media, data = export_report(document, _meta(row), fmt, final=final, encoding=encoding)
        now = self.clock()
        with self.engine.begin() as conn:
            begin_write(conn)
            current = self._row(conn, report_id, for_update=True)
            target = ReportState.EXPORTED if final else ReportState(current["state"])
            if final and current["state"] == ReportState.LOCKED.value:
                conn.execute(update(str_reports).where(str_reports.c.id == report_id).values(
                    state=target.value, exported_at_us=now, exported_by=actor, updated_at_us=now))
            event_id = self._event(conn, current, at=now, actor=actor, action="str.export", to_state=target.value,
                                   details={"format": fmt, "final": final, "encoding": encoding, "bytes": len(data)})
        self.flush_audit()
        with self.engine.connect() as conn:  # an export is a read of personal data: logged before it is given
            pending = conn.execute(select(str_report_events.c.audit_pending)
                                   .where(str_report_events.c.id == event_id)).scalar()
        if pending:
            raise StorageUnavailable("the export could not be recorded in the audit log, so it is not given out; "
                                     "try again")
        return name, media, data


def _report_audit_record(row: RowMapping) -> AuditRecord:
    details = {"report_id": row["report_id"], "series_id": row["series_id"], "str_event_id": row["id"],
               "from_state": row["from_state"], "to_state": row["to_state"], **orjson.loads(row["details"])}
    return AuditRecord(row["actor"], row["action"], f"str:{row['report_id']}", details)
