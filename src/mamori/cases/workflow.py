"""The analyst's actions on one case, each in one transaction with its history record.

Every method loads the case under a write lock (SQLite ``BEGIN IMMEDIATE``, PostgreSQL ``FOR
UPDATE``), applies the pure rules of :mod:`mamori.cases.model`, writes the change and appends a
``case_events`` row in the same transaction (Marble's same-transaction case events). Rows that
must reach the audit log are flagged ``audit_pending``; :class:`~mamori.cases.service.CasesService`
appends them to the hash-chained audit log right after the commit.

Errors: an unknown case is :class:`NotFound` (404), a transition the machine forbids or an action
that does not fit the case (a victim contact on a campaign case) is :class:`Conflict` (409), a
missing or bad value is :class:`InvalidRequest` (422) naming the field.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, Engine, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from mamori.adapters.sql.store import now_us
from mamori.cases.model import (
    CaseKind,
    CaseState,
    CompensationStatus,
    ContactChannel,
    Disposition,
    MissingField,
    TransitionError,
    check_transition,
)
from mamori.cases.store import (
    CaseRecord,
    add_event,
    begin_write,
    case_attachments,
    case_comments,
    case_compensation,
    case_contacts,
    cases,
    load_case,
)
from mamori.kit.errors import Conflict, InvalidRequest

MAX_YEN = 10**13
_FUTURE_SLACK_US = 5 * 60 * 1_000_000  # a contact may be logged with a clock a little ahead


def invalid(field: str, message: str, kind: str = "value_error") -> InvalidRequest:
    """A 422 naming ``field`` in the API's usual details shape."""
    return InvalidRequest(message, details=[{"field": field, "message": message, "kind": kind}])


class CaseWorkflow:
    """State changes, assignment, priority, due dates, comments, attachments, contacts, compensation."""

    def __init__(self, engine: Engine, *, clock: Callable[[], int] = now_us) -> None:
        self.engine = engine
        self.clock = clock

    def _update(self, conn: Connection, case_id: int, now: int, **values: Any) -> None:
        conn.execute(update(cases).where(cases.c.id == case_id).values(updated_at_us=now, **values))

    def _reload(self, conn: Connection, case_id: int) -> CaseRecord:
        return load_case(conn, case_id)

    # -- state ---------------------------------------------------------------------------------
    def transition(self, case_id: int, *, actor: str, state: CaseState, disposition: Disposition | None = None,
                   reason: str | None = None, next_contact_due_us: int | None = None,
                   bulk_id: str | None = None) -> CaseRecord:
        """Move the case to ``state`` (see :func:`mamori.cases.model.check_transition`)."""
        now = self.clock()
        try:
            with self.engine.begin() as conn:
                begin_write(conn)
                case = load_case(conn, case_id, for_update=True)
                if next_contact_due_us is not None:
                    self._check_contact_due(case, next_contact_due_us, now)
                try:
                    check_transition(case.state, state, disposition=disposition,
                                     current_disposition=case.disposition, reason=reason,
                                     has_next_contact=(case.kind is not CaseKind.ACCOUNT
                                                       or next_contact_due_us is not None
                                                       or case.next_contact_due_at_us is not None))
                except TransitionError as exc:
                    raise Conflict(str(exc), details={"case_id": case_id, "state": case.state.value,
                                                      "requested": state.value}) from None
                except MissingField as exc:
                    raise invalid(exc.field, exc.message, "missing") from None
                reopening = case.state is CaseState.CLOSED and state is not CaseState.CLOSED
                new_disposition = disposition or (None if reopening else case.disposition)
                values: dict[str, Any] = {"state": state.value,
                                          "disposition": new_disposition.value if new_disposition else None}
                if state is CaseState.CLOSED and case.state is not CaseState.CLOSED:
                    values["closed_at_us"] = now
                if reopening:
                    values["closed_at_us"] = None
                if next_contact_due_us is not None:
                    values["next_contact_due_at_us"] = next_contact_due_us
                self._update(conn, case_id, now, **values)
                details: dict[str, Any] = {"disposition": values["disposition"]}
                if next_contact_due_us is not None:
                    details["next_contact_due_at_us"] = next_contact_due_us
                if bulk_id:
                    details["bulk_id"] = bulk_id
                add_event(conn, case_id=case_id, at_us=now, actor=actor,
                          action="case.reopen" if reopening else "case.state", from_state=case.state.value,
                          to_state=state.value, reason=reason.strip() if reason else None, details=details)
                return self._reload(conn, case_id)
        except IntegrityError:  # the partial unique index: one open case per (kind, key)
            raise Conflict("another case for the same account or key is open; add to that case instead",
                           details={"case_id": case_id}) from None

    def _check_contact_due(self, case: CaseRecord, due: int, now: int) -> None:
        if case.kind is not CaseKind.ACCOUNT:
            raise invalid("next_contact_due_at", "only account cases (one customer) have a victim contact date")
        if due <= now:
            raise invalid("next_contact_due_at", "the next contact date must be in the future")

    # -- assignment, priority, due date ----------------------------------------------------------
    def assign(self, case_id: int, *, actor: str, assignee: str | None, bulk_id: str | None = None) -> CaseRecord:
        return self._set(case_id, actor, "case.assign", {"assignee": assignee}, bulk_id)

    def set_priority(self, case_id: int, *, actor: str, priority: int) -> CaseRecord:
        if priority not in (1, 2, 3, 4):
            raise invalid("priority", "priority is 1 (most urgent) to 4")
        return self._set(case_id, actor, "case.priority", {"priority": priority}, None)

    def set_due(self, case_id: int, *, actor: str, due_at_us: int | None) -> CaseRecord:
        return self._set(case_id, actor, "case.due", {"due_at_us": due_at_us}, None)

    def _set(self, case_id: int, actor: str, action: str, values: dict[str, Any], bulk_id: str | None) -> CaseRecord:
        now = self.clock()
        with self.engine.begin() as conn:
            begin_write(conn)
            load_case(conn, case_id, for_update=True)
            self._update(conn, case_id, now, **values)
            add_event(conn, case_id=case_id, at_us=now, actor=actor, action=action,
                      details={**values, **({"bulk_id": bulk_id} if bulk_id else {})})
            return self._reload(conn, case_id)

    # -- comments and attachments ----------------------------------------------------------------
    def add_comment(self, case_id: int, *, actor: str, body: str, bulk_id: str | None = None) -> dict[str, Any]:
        body = body.strip()
        if not body or len(body) > 10_000:
            raise invalid("body", "a comment is 1-10000 characters")
        now = self.clock()
        with self.engine.begin() as conn:
            begin_write(conn)
            load_case(conn, case_id, for_update=True)
            comment_id = int(conn.execute(insert(case_comments).values(
                case_id=case_id, at_us=now, author=actor, body=body).returning(case_comments.c.id)).scalar_one())
            self._update(conn, case_id, now)
            add_event(conn, case_id=case_id, at_us=now, actor=actor, action="case.comment",
                      details={"comment_id": comment_id, **({"bulk_id": bulk_id} if bulk_id else {})})
        return {"id": comment_id, "case_id": case_id, "at_us": now, "author": actor, "body": body}

    def add_attachment(self, case_id: int, *, actor: str, filename: str, content_type: str, sha256: str,
                       size: int) -> dict[str, Any]:
        """Record an attachment whose file is already stored (:class:`~mamori.cases.attachments.AttachmentFiles`)."""
        now = self.clock()
        with self.engine.begin() as conn:
            begin_write(conn)
            load_case(conn, case_id, for_update=True)
            attachment_id = int(conn.execute(insert(case_attachments).values(
                case_id=case_id, at_us=now, author=actor, filename=filename, content_type=content_type,
                sha256=sha256, size=size).returning(case_attachments.c.id)).scalar_one())
            self._update(conn, case_id, now)
            add_event(conn, case_id=case_id, at_us=now, actor=actor, action="case.attachment.add",
                      details={"attachment_id": attachment_id, "sha256": sha256, "size": size,
                               "content_type": content_type})
        return {"id": attachment_id, "case_id": case_id, "at_us": now, "author": actor, "filename": filename,
                "content_type": content_type, "sha256": sha256, "size": size}

    # -- victim contact and compensation ---------------------------------------------------------
    def add_contact(self, case_id: int, *, actor: str, channel: ContactChannel, summary: str,
                    at_us: int | None = None, next_contact_due_us: int | None = None) -> dict[str, Any]:
        """Log a contact with the victim. The newest contact sets the case's next contact date (the SLA);
        on an open confirmed takeover it must give one."""
        now = self.clock()
        at = now if at_us is None else at_us
        summary = summary.strip()
        if not summary or len(summary) > 5000:
            raise invalid("summary", "a contact summary is 1-5000 characters")
        if at > now + _FUTURE_SLACK_US:
            raise invalid("at", "a contact cannot be in the future")
        with self.engine.begin() as conn:
            begin_write(conn)
            case = load_case(conn, case_id, for_update=True)
            if case.kind is not CaseKind.ACCOUNT:
                raise Conflict("victim contacts are logged on the customer's account case",
                               details={"case_id": case_id, "kind": case.kind.value})
            if next_contact_due_us is not None and next_contact_due_us <= max(at, now):
                raise invalid("next_contact_due_at", "the next contact date must be in the future")
            if next_contact_due_us is None and case.takeover_confirmed and case.is_open:
                raise invalid("next_contact_due_at", "a confirmed takeover requires the next contact date", "missing")
            contact_id = int(conn.execute(insert(case_contacts).values(
                case_id=case_id, channel=channel.value, at_us=at, summary=summary,
                next_contact_due_at_us=next_contact_due_us, by=actor, logged_at_us=now)
                .returning(case_contacts.c.id)).scalar_one())
            values: dict[str, Any] = {}
            if case.last_contact_at_us is None or at >= case.last_contact_at_us:
                values = {"last_contact_at_us": at, "next_contact_due_at_us": next_contact_due_us}
            self._update(conn, case_id, now, **values)
            add_event(conn, case_id=case_id, at_us=now, actor=actor, action="case.contact.add",
                      details={"contact_id": contact_id, "channel": channel.value,
                               "next_contact_due_at_us": next_contact_due_us})
        return {"id": contact_id, "case_id": case_id, "channel": channel.value, "at_us": at, "summary": summary,
                "next_contact_due_at_us": next_contact_due_us, "by": actor, "logged_at_us": now}

    def set_compensation(self, case_id: int, *, actor: str, damage_yen: int, sells_yen: int, buys_yen: int,
                         status: CompensationStatus, notes: str = "") -> dict[str, Any]:
        """Create or replace the damage and compensation record of an account case (amounts in whole yen)."""
        for field, value in (("damage_yen", damage_yen), ("sells_yen", sells_yen), ("buys_yen", buys_yen)):
            if isinstance(value, bool) or not 0 <= value <= MAX_YEN:
                raise invalid(field, f"{field} is whole yen from 0 to {MAX_YEN}")
        if len(notes) > 5000:
            raise invalid("notes", "notes are at most 5000 characters")
        now = self.clock()
        row = {"case_id": case_id, "damage_yen": damage_yen, "sells_yen": sells_yen, "buys_yen": buys_yen,
               "status": status.value, "notes": notes, "updated_at_us": now, "updated_by": actor}
        with self.engine.begin() as conn:
            begin_write(conn)
            case = load_case(conn, case_id, for_update=True)
            if case.kind is not CaseKind.ACCOUNT:
                raise Conflict("compensation is tracked on the customer's account case",
                               details={"case_id": case_id, "kind": case.kind.value})
            conn.execute(delete(case_compensation).where(case_compensation.c.case_id == case_id))
            conn.execute(insert(case_compensation).values(**row))
            self._update(conn, case_id, now)
            add_event(conn, case_id=case_id, at_us=now, actor=actor, action="case.compensation",
                      details={"status": status.value})
        return row

    def record(self, case_id: int, *, actor: str, action: str, details: dict[str, Any], audit: bool) -> int:
        """Append a history record without changing the case (e.g. a letter was generated)."""
        with self.engine.begin() as conn:
            load_case(conn, case_id)
            return add_event(conn, case_id=case_id, at_us=self.clock(), actor=actor, action=action, details=details,
                             audit=audit)


def compensation_of(conn: Connection, case_id: int) -> dict[str, Any] | None:
    row = conn.execute(select(case_compensation).where(case_compensation.c.case_id == case_id)).mappings().first()
    return None if row is None else {str(k): v for k, v in row.items()}
