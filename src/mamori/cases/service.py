"""The case-management service: grouping, workflow, letters and attachments, every step audited.

:class:`CasesService` is what the HTTP layer (:mod:`mamori.api.cases_routes`) and the background
loop (:func:`refresh_periodically`) use. ``actor`` is the API key principal (``api-key:<id>``).

Audit (internal audit must see everything an analyst does, and every view of personal data):

* an action writes its ``case_events`` row in the transaction that changes the case; the row is
  then appended to the hash-chained audit log (:meth:`SqlStore.audit`) and marked done. If that
  append fails the action stands and the row stays pending: :meth:`CasesService.flush_audit` (after
  every action and every background round) appends it later, so the log gets every action at least
  once (a crash between the append and the mark repeats one record, with the same ``case_event_id``);
* a read that shows personal data (``case.list``, ``case.view``, ``case.attachment.view``,
  ``case.letter``) is appended to the audit log before the data is returned; if that fails, the
  request fails and nothing is shown.

Audit details hold ids and codes only (case, alert, comment, contact and attachment ids, states,
dispositions, channels, digests), never names, comment or contact text, or amounts.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import threading
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

import orjson
from sqlalchemy import RowMapping, select

from mamori.adapters.sql.audit_outbox import AuditRecord, flush_audit_outbox
from mamori.adapters.sql.store import SqlStore, now_us
from mamori.cases import queries
from mamori.cases.attachments import AttachmentFiles, clean_filename, normalise_content_type
from mamori.cases.grouping import BuildReport, CaseBuilder, GroupingPolicy
from mamori.cases.letters import Firm, Letter, LetterRefused, render_letter
from mamori.cases.model import CaseKind, CaseState, CompensationStatus, ContactChannel, Disposition, Sla
from mamori.cases.store import CaseRecord, case_attachments, case_events, create_tables, load_case
from mamori.cases.workflow import CaseWorkflow, invalid
from mamori.kit.errors import Conflict, MamoriError, NotFound
from mamori.notify.templates import Language

log = logging.getLogger("mamori.cases")

MAX_ATTACHMENT_BYTES: Final = 10 * 1024 * 1024
MAX_BULK: Final = 500


class CasesService:
    """Case management on the shared store. Built by the application as ``CasesService(store, data_dir)``
    (plus the firm's name and support phone from the settings, needed for letters)."""

    def __init__(self, store: SqlStore, data_dir: Path, *, firm_name_ja: str | None = None,
                 firm_name_en: str | None = None, support_phone: str | None = None,
                 clock: Callable[[], int] | None = None, policy: GroupingPolicy | None = None,
                 max_attachment_bytes: int = MAX_ATTACHMENT_BYTES) -> None:
        self.store = store
        self.clock: Callable[[], int] = clock or now_us
        create_tables(store.engine)
        self.builder = CaseBuilder(store.engine, policy=policy, clock=lambda: self.clock())
        self.workflow = CaseWorkflow(store.engine, clock=lambda: self.clock())
        self.files = AttachmentFiles(data_dir / "case-attachments")
        self.max_attachment_bytes = max_attachment_bytes
        self.firm = (Firm(firm_name_ja or "当社", firm_name_en or firm_name_ja or "our firm", support_phone)
                     if support_phone else None)
        self._audit_lock = threading.Lock()

    # -- audit ---------------------------------------------------------------------------------
    def _audit_now(self, actor: str, action: str, target: str, details: dict[str, Any]) -> None:
        self.store.audit(actor=actor, action=action, target=target, details=details)

    def flush_audit(self, *, limit: int = 1000) -> int:
        """Append pending ``case_events`` rows to the audit log; returns how many (never raises)."""
        return flush_audit_outbox(self.store, case_events, case_events.c.audit_pending, _case_audit_record,
                                  lock=self._audit_lock, what="case actions", limit=limit)

    def _acted(self, record: CaseRecord) -> dict[str, Any]:
        self.flush_audit()
        return record.to_dict(self.clock())

    # -- grouping ------------------------------------------------------------------------------
    def refresh(self, actor: str = "system") -> BuildReport:
        """File new alerts into cases now (audited when an operator asks for it)."""
        report = self.builder.run()
        if actor != "system" or report.cases_created:
            details = {k: v for k, v in report.to_dict().items() if k != "seconds"}
            self._audit_now(actor, "case.refresh", "cases", details)
        self.flush_audit()
        return report

    # -- reads (audited before anything is returned) ---------------------------------------------
    def list_cases(self, actor: str, *, state: CaseState | None = None, kind: CaseKind | None = None,
             assignee: str | None = None, sla: Sla | None = None, priority: int | None = None,
             account_id: str | None = None, limit: int = 50, offset: int = 0) -> dict[str, Any]:
        now = self.clock()
        with self.store.engine.connect() as conn:
            rows, total = queries.list_cases(conn, now=now, state=state, kind=kind, assignee=assignee, sla=sla,
                                     priority=priority, account_id=account_id, limit=limit, offset=offset)
        filters = {k: v for k, v in (("state", state), ("kind", kind), ("assignee", assignee), ("sla", sla),
                                     ("priority", priority), ("account_id", account_id)) if v is not None}
        self._audit_now(actor, "case.list", "cases", {"filters": filters, "offset": offset,
                                                      "case_ids": [r.id for r in rows]})
        nxt = offset + len(rows) if offset + len(rows) < total else None
        return {"cases": [r.to_dict(now) for r in rows], "total": total, "next_offset": nxt}

    def view(self, actor: str, case_id: int) -> dict[str, Any]:
        with self.store.engine.connect() as conn:
            detail = queries.case_detail(conn, case_id, now=self.clock())
        self._audit_now(actor, "case.view", f"case:{case_id}",
                        {"case_id": case_id, "alert_ids": [a["id"] for a in detail["alerts"]]})
        return detail

    def attachment(self, actor: str, case_id: int, attachment_id: int) -> tuple[dict[str, Any], bytes]:
        with self.store.engine.connect() as conn:
            load_case(conn, case_id)
            row = conn.execute(select(case_attachments).where(case_attachments.c.id == attachment_id,
                                                              case_attachments.c.case_id == case_id)).mappings().first()
        if row is None:
            raise NotFound(f"case {case_id} has no attachment {attachment_id}")
        data = self.files.get(row["sha256"])
        self._audit_now(actor, "case.attachment.view", f"case:{case_id}",
                        {"case_id": case_id, "attachment_id": attachment_id, "sha256": row["sha256"]})
        return queries.plain(row), data

    def letter(self, actor: str, case_id: int, language: Language, *, customer_name: str | None = None,
               message: str | None = None) -> Letter:
        """The victim letter of an account case (no links; refused if the typed text has one)."""
        if self.firm is None:
            raise Conflict("letters need the firm's support phone number (MAMORI_SUPPORT_PHONE) configured")
        with self.store.engine.connect() as conn:
            record = load_case(conn, case_id)
            if record.kind is not CaseKind.ACCOUNT:
                raise Conflict("letters are written from the customer's account case",
                               details={"case_id": case_id, "kind": record.kind.value})
            facts = queries.letter_facts(conn, record)
        try:
            letter = render_letter(facts, self.firm, language, customer_name=customer_name, message=message)
        except LetterRefused as exc:
            raise invalid(exc.field, exc.message, "link_found") from None
        details = {"language": language.value, "sha256": letter.sha256, "with_name": customer_name is not None,
                   "with_message": message is not None}
        self.workflow.record(case_id, actor=actor, action="case.letter", details=details, audit=False)
        self._audit_now(actor, "case.letter", f"case:{case_id}", {"case_id": case_id, **details})
        return letter

    # -- actions (history in the same transaction, then the audit log) ---------------------------
    def transition(self, actor: str, case_id: int, state: CaseState, *, disposition: Disposition | None = None,
                   reason: str | None = None, next_contact_due_us: int | None = None) -> dict[str, Any]:
        return self._acted(self.workflow.transition(case_id, actor=actor, state=state, disposition=disposition,
                                                    reason=reason, next_contact_due_us=next_contact_due_us))

    def assign(self, actor: str, case_id: int, assignee: str | None) -> dict[str, Any]:
        return self._acted(self.workflow.assign(case_id, actor=actor, assignee=assignee))

    def set_priority(self, actor: str, case_id: int, priority: int) -> dict[str, Any]:
        return self._acted(self.workflow.set_priority(case_id, actor=actor, priority=priority))

    def set_due(self, actor: str, case_id: int, due_at_us: int | None) -> dict[str, Any]:
        return self._acted(self.workflow.set_due(case_id, actor=actor, due_at_us=due_at_us))

    def comment(self, actor: str, case_id: int, body: str) -> dict[str, Any]:
        out = self.workflow.add_comment(case_id, actor=actor, body=body)
        self.flush_audit()
        return out

    def add_contact(self, actor: str, case_id: int, *, channel: ContactChannel, summary: str,
                    at_us: int | None = None, next_contact_due_us: int | None = None) -> dict[str, Any]:
        out = self.workflow.add_contact(case_id, actor=actor, channel=channel, summary=summary, at_us=at_us,
                                        next_contact_due_us=next_contact_due_us)
        self.flush_audit()
        return out

    def set_compensation(self, actor: str, case_id: int, *, damage_yen: int, sells_yen: int, buys_yen: int,
                         status: CompensationStatus, notes: str = "") -> dict[str, Any]:
        out = self.workflow.set_compensation(case_id, actor=actor, damage_yen=damage_yen, sells_yen=sells_yen,
                                             buys_yen=buys_yen, status=status, notes=notes)
        self.flush_audit()
        return out

    def add_attachment(self, actor: str, case_id: int, *, filename: str, content_type: str,
                       data_base64: str) -> dict[str, Any]:
        """Store an attachment sent as base64 (at most ``max_attachment_bytes`` once decoded)."""
        name = clean_filename(filename)
        if name is None:
            raise invalid("filename", "the file name is empty")
        ctype = normalise_content_type(content_type)
        if ctype is None:
            raise invalid("content_type", "not a media type (type/subtype)")
        if len(data_base64) > (self.max_attachment_bytes + 2) // 3 * 4 + 4:
            raise self._too_large()
        try:
            data = base64.b64decode(data_base64, validate=True)
        except (binascii.Error, ValueError):
            raise invalid("data_base64", "not valid base64") from None
        if not data:
            raise invalid("data_base64", "the attachment is empty")
        if len(data) > self.max_attachment_bytes:
            raise self._too_large()
        with self.store.engine.connect() as conn:
            load_case(conn, case_id)  # 404 before writing any file
        digest = self.files.put(data)
        out = self.workflow.add_attachment(case_id, actor=actor, filename=name, content_type=ctype, sha256=digest,
                                           size=len(data))
        self.flush_audit()
        return out

    def _too_large(self) -> MamoriError:
        return invalid("data_base64", f"the attachment is larger than {self.max_attachment_bytes} bytes", "too_large")

    def bulk(self, actor: str, *, action: str, campaign_id: int | None = None, case_ids: list[int] | None = None,
             include_campaign: bool = False, assignee: str | None = None, state: CaseState | None = None,
             disposition: Disposition | None = None, reason: str | None = None, body: str | None = None,
             next_contact_due_us: int | None = None) -> dict[str, Any]:
        """Apply one action to a campaign's (or counterparty's) open account cases, or to listed cases.

        Each case is changed in its own transaction; a case the action does not fit (an illegal
        transition, say) is reported under ``skipped`` with its error code, the others proceed."""
        op = self._bulk_op(action, assignee=assignee, state=state, disposition=disposition, reason=reason,
                           body=body, next_contact_due_us=next_contact_due_us)
        targets = self._bulk_targets(campaign_id, case_ids, include_campaign)
        bulk_id = uuid.uuid4().hex[:16]
        updated: list[int] = []
        skipped: list[dict[str, Any]] = []
        for case_id in targets:
            try:
                op(case_id, actor, bulk_id)
                updated.append(case_id)
            except MamoriError as exc:
                skipped.append({"case_id": case_id, "code": exc.code, "message": exc.message})
        self.flush_audit()
        self._audit_now(actor, "case.bulk", f"case:{campaign_id}" if campaign_id else "cases",
                        {"bulk_id": bulk_id, "action": action, "campaign_id": campaign_id, "updated": updated,
                         "skipped": [s["case_id"] for s in skipped]})
        return {"bulk_id": bulk_id, "action": action, "updated": updated, "skipped": skipped}

    def _bulk_op(self, action: str, *, assignee: str | None, state: CaseState | None,
                 disposition: Disposition | None, reason: str | None, body: str | None,
                 next_contact_due_us: int | None) -> Callable[[int, str, str], object]:
        w = self.workflow
        if action == "assign":
            return lambda cid, actor, bid: w.assign(cid, actor=actor, assignee=assignee, bulk_id=bid)
        if action == "state":
            if state is None:
                raise invalid("state", "a bulk state change needs the state", "missing")
            return lambda cid, actor, bid: w.transition(cid, actor=actor, state=state, disposition=disposition,
                                                        reason=reason, next_contact_due_us=next_contact_due_us,
                                                        bulk_id=bid)
        if action == "comment":
            if not body or not body.strip():
                raise invalid("body", "a bulk comment needs its text", "missing")
            return lambda cid, actor, bid: w.add_comment(cid, actor=actor, body=body, bulk_id=bid)
        raise invalid("action", "action is one of assign, state, comment")

    def _bulk_targets(self, campaign_id: int | None, case_ids: list[int] | None, include_campaign: bool) -> list[int]:
        if (campaign_id is None) == (case_ids is None):
            raise invalid("campaign_id", "give either campaign_id or case_ids")
        if case_ids is not None:
            if not case_ids or len(case_ids) > MAX_BULK:
                raise invalid("case_ids", f"1-{MAX_BULK} case ids")
            return list(dict.fromkeys(case_ids))
        assert campaign_id is not None
        with self.store.engine.connect() as conn:
            group = load_case(conn, campaign_id)
            if group.kind is CaseKind.ACCOUNT:
                raise Conflict("bulk actions run over a campaign or counterparty case's account cases",
                               details={"case_id": campaign_id, "kind": group.kind.value})
            members = [m["id"] for m in queries.member_account_cases(conn, campaign_id, open_only=True)]
        return ([campaign_id] if include_campaign else []) + members


def _case_audit_record(row: RowMapping) -> AuditRecord:
    details = {"case_id": row["case_id"], "case_event_id": row["id"], **orjson.loads(row["details"])}
    if row["from_state"] or row["to_state"]:
        details |= {"from_state": row["from_state"], "to_state": row["to_state"]}
    return AuditRecord(row["actor"], row["action"], f"case:{row['case_id']}", details)


async def refresh_periodically(service: CasesService, interval_s: float = 5.0) -> None:
    """Background loop for the application's lifespan: file new alerts and flush queued audit records
    every ``interval_s`` seconds. A failing round is logged and the next one runs as usual."""
    while True:
        await asyncio.sleep(interval_s)
        try:
            await asyncio.to_thread(service.refresh)
        except Exception:
            log.exception("case grouping round failed; retrying in %.0f s", interval_s)
