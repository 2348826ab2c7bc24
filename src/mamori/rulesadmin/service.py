"""The rule management workflow: statistics, drafts, backtests, shadow runs, publication and rollback.

Four-eyes control on publication follows the FSA's 2025 requests on controls that change how
fraud is detected (and CONVENTIONS.md 11: every change of a rule set is audited): the person who
requests a publication, or who wrote the draft revision being published, cannot approve it. A
draft must have a finished backtest of its current text before it may be requested, unless the
request carries an explicit ``override_reason`` (recorded and audited). A request based on a rule
set that is no longer active is refused with :class:`Conflict` (someone else published first).

Database work is synchronous (the API runs it in the thread pool); activation is asynchronous: it
swaps rule sets through :meth:`RiskService.reload`, with event processing paused.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

import orjson
from sqlalchemy import insert, select, update

from mamori.adapters.sql.schema import rulesets
from mamori.adapters.sql.store import now_us
from mamori.cases import store as cases_store
from mamori.kit.errors import Conflict, FourEyesRequired, InvalidRequest, NotFound, RuleCompileError
from mamori.risk.rules.loader import ruleset_from_sources
from mamori.risk.rules.model import Ruleset
from mamori.risk.service import RiskService
from mamori.rulesadmin import backtests, paths
from mamori.rulesadmin.drafts import Candidate, apply_draft, bump_version, rule_text, sources_diff, unified_diff
from mamori.rulesadmin.stats import RuleCounter, hit_counts, precision, shadow_report
from mamori.rulesadmin.tables import (
    create_tables,
    rule_backtests,
    rule_draft_revisions,
    rule_drafts,
    rule_publications,
    rule_shadow_runs,
)

log = logging.getLogger("mamori.rulesadmin")

MIN_REASON: Final = 10
REQUEST_CATCH_UP: Final = 20_000  # decisions counted inside one GET /v1/rules; the rest in the background


def _row(row: Any) -> dict[str, Any]:
    # Column names are SQLAlchemy ``quoted_name`` (a str subclass), which orjson refuses as keys.
    return {str(k): v for k, v in row._mapping.items()}


class RulesAdmin:
    """Rule management over the running :class:`RiskService` (its store, engine and rule paths)."""

    def __init__(self, risk: RiskService, data_dir: Path, *, configured_rules: Path,
                 configured_shadow: Path | None = None, clock: Callable[[], int] = now_us) -> None:
        self.risk = risk
        self.store = risk.store
        self.engine = risk.store.engine
        self.data_dir = data_dir
        self.configured_rules = configured_rules
        self.configured_shadow = configured_shadow
        self.clock = clock
        create_tables(self.engine)
        cases_store.create_tables(self.engine)
        self.counter = RuleCounter(self.engine, shadow_rule_ids=self._shadow_rule_ids)
        self._shadow_ids: dict[str, frozenset[str]] = {}
        self._jobs: dict[int, backtests.Job] = {}
        self._activation = asyncio.Lock()
        with self.engine.begin() as conn:  # a server stopped mid-run leaves its backtests running
            conn.execute(update(rule_backtests).where(rule_backtests.c.status == "running")
                         .values(status="interrupted", finished_at_us=self.clock()))

    # -- statistics ----------------------------------------------------------------------------
    def _shadow_rule_ids(self, identity: str) -> frozenset[str]:
        known = self._shadow_ids.get(identity)
        if known is None:
            ruleset = self.risk.engine.ruleset
            if ruleset.identity != identity:
                with self.engine.connect() as conn:
                    sources = conn.execute(select(rulesets.c.sources).where(rulesets.c.identity == identity)).scalar()
                with contextlib.suppress(RuleCompileError):
                    ruleset = ruleset_from_sources(orjson.loads(sources)) if sources else ruleset
            known = frozenset(r.id for r in ruleset.rules if r.mode == "shadow")
            self._shadow_ids[identity] = known
        return known

    def catch_up(self, max_rows: int = 1_000_000) -> int:
        return self.counter.catch_up(now_us=self.clock(), max_rows=max_rows)

    def list_rules(self) -> dict[str, Any]:
        """Every rule of the active set with hit counts (24 h / 7 d / 30 d, active and shadow) and
        precision from closed cases."""
        self.catch_up(REQUEST_CATCH_UP)
        ruleset = self.risk.engine.ruleset
        hits = hit_counts(self.engine, now_us=self.clock())
        prec = precision(self.engine)
        zero = {"24h": 0, "7d": 0, "30d": 0}
        with self.engine.connect() as conn:
            drafts = conn.execute(select(rule_drafts.c.id, rule_drafts.c.rule_id)
                                  .where(rule_drafts.c.status == "open")).all()
        open_drafts: dict[str, list[int]] = {}
        for draft_id, rule_id in drafts:
            open_drafts.setdefault(rule_id, []).append(int(draft_id))
        rules = [{**_describe(r), "hits": hits.get(r.id, {}).get("active", zero),
                  "shadow_hits": hits.get(r.id, {}).get("shadow", zero),
                  "precision": prec.get(r.id, {"true_positive": 0, "false_positive": 0, "closed_cases": 0,
                                               "precision": None}),
                  "open_drafts": open_drafts.get(r.id, [])} for r in ruleset.rules]
        shadow = self.risk.engine.shadow
        return {"ruleset": ruleset.identity, "shadow": shadow.identity if shadow else None,
                "counted_through_seq": self.counter.cursor(), "behind": self.counter.backlog(), "rules": rules}

    def rule_detail(self, rule_id: str) -> dict[str, Any]:
        listing = self.list_rules()
        found = [r for r in listing["rules"] if r["id"] == rule_id]
        if not found:
            raise NotFound(f"no rule {rule_id!r} in the active rule set", details={"rule_id": rule_id})
        with self.engine.connect() as conn:
            drafts = conn.execute(select(rule_drafts).where(rule_drafts.c.rule_id == rule_id)
                                  .order_by(rule_drafts.c.id.desc()).limit(50)).all()
        return {**found[0], "ruleset": listing["ruleset"],
                "text": rule_text(self.risk.engine.ruleset.sources, rule_id), "drafts": [_row(d) for d in drafts]}

    # -- drafts --------------------------------------------------------------------------------
    def _candidate(self, rule_id: str, text: str, *, is_new: bool, base: Ruleset | None = None) -> Candidate:
        active = base or self.risk.engine.ruleset
        return apply_draft(active.sources, rule_id, text, is_new=is_new)

    def create_draft(self, actor: str, *, rule_id: str, text: str, note: str = "",
                     is_new: bool = False) -> dict[str, Any]:
        now = self.clock()
        with self.engine.begin() as conn:
            draft_id = int(conn.execute(insert(rule_drafts).values(
                rule_id=rule_id, is_new=int(is_new), status="open", author=actor, created_at_us=now,
                updated_at_us=now, revision=0)).inserted_primary_key[0])  # type: ignore[index]
        self._save_revision(actor, draft_id, rule_id, text, note, is_new=is_new)
        self.store.audit(actor=actor, action="rules.draft.create", target=f"draft:{draft_id}",
                         details={"rule_id": rule_id, "new_rule": is_new})
        return self.get_draft(draft_id)

    def update_draft(self, actor: str, draft_id: int, *, text: str, note: str = "") -> dict[str, Any]:
        draft = self._open_draft(draft_id)
        revision = self._save_revision(actor, draft_id, draft["rule_id"], text, note, is_new=bool(draft["is_new"]))
        self.store.audit(actor=actor, action="rules.draft.update", target=f"draft:{draft_id}",
                         details={"rule_id": draft["rule_id"], "revision": revision})
        return self.get_draft(draft_id)

    def withdraw_draft(self, actor: str, draft_id: int) -> dict[str, Any]:
        self._open_draft(draft_id)
        with self.engine.begin() as conn:
            conn.execute(update(rule_drafts).where(rule_drafts.c.id == draft_id)
                         .values(status="withdrawn", updated_at_us=self.clock()))
        self.store.audit(actor=actor, action="rules.draft.withdraw", target=f"draft:{draft_id}")
        return self.get_draft(draft_id)

    def _save_revision(self, actor: str, draft_id: int, rule_id: str, text: str, note: str, *, is_new: bool) -> int:
        base = self.risk.engine.ruleset
        cand = self._candidate(rule_id, text, is_new=is_new, base=base)
        now = self.clock()
        with self.engine.begin() as conn:
            revision = int(conn.execute(select(rule_drafts.c.revision).where(rule_drafts.c.id == draft_id))
                           .scalar_one()) + 1
            conn.execute(insert(rule_draft_revisions).values(
                draft_id=draft_id, revision=revision, text=text, note=note, author=actor, at_us=now,
                base_identity=base.identity,
                candidate_identity=cand.ruleset.identity if cand.ruleset is not None else None,
                errors=orjson.dumps(cand.errors).decode()))
            conn.execute(update(rule_drafts).where(rule_drafts.c.id == draft_id)
                         .values(revision=revision, updated_at_us=now))
        return revision

    def _draft(self, draft_id: int) -> dict[str, Any]:
        with self.engine.connect() as conn:
            row = conn.execute(select(rule_drafts).where(rule_drafts.c.id == draft_id)).first()
        if row is None:
            raise NotFound(f"no rule draft {draft_id}", details={"draft_id": draft_id})
        return _row(row)

    def _open_draft(self, draft_id: int) -> dict[str, Any]:
        draft = self._draft(draft_id)
        if draft["status"] != "open":
            raise Conflict(f"rule draft {draft_id} is {draft['status']}", details={"status": draft["status"]})
        return draft

    def _revision(self, draft_id: int, revision: int) -> dict[str, Any]:
        with self.engine.connect() as conn:
            row = conn.execute(select(rule_draft_revisions).where(rule_draft_revisions.c.draft_id == draft_id,
                                                                  rule_draft_revisions.c.revision == revision)).first()
        if row is None:
            raise NotFound(f"no revision {revision} of rule draft {draft_id}")
        out = _row(row)
        out["errors"] = orjson.loads(out["errors"])
        return out

    def list_drafts(self, status: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        stmt = select(rule_drafts).order_by(rule_drafts.c.id.desc()).limit(limit)
        if status is not None:
            stmt = stmt.where(rule_drafts.c.status == status)
        with self.engine.connect() as conn:
            return [_row(r) for r in conn.execute(stmt)]

    def get_draft(self, draft_id: int) -> dict[str, Any]:
        """The draft, its revisions, the current revision's compile errors, and its diff against
        the active rule set (rule text and files)."""
        draft = self._draft(draft_id)
        current = self._revision(draft_id, draft["revision"])
        active = self.risk.engine.ruleset
        cand = self._candidate(draft["rule_id"], current["text"], is_new=bool(draft["is_new"]))
        before = rule_text(active.sources, draft["rule_id"]) or ""
        with self.engine.connect() as conn:
            revisions = conn.execute(select(rule_draft_revisions.c.revision, rule_draft_revisions.c.author,
                                            rule_draft_revisions.c.at_us, rule_draft_revisions.c.note,
                                            rule_draft_revisions.c.candidate_identity)
                                     .where(rule_draft_revisions.c.draft_id == draft_id)
                                     .order_by(rule_draft_revisions.c.revision)).all()
            tests = conn.execute(select(rule_backtests.c.id, rule_backtests.c.revision, rule_backtests.c.status,
                                        rule_backtests.c.started_at_us)
                                 .where(rule_backtests.c.draft_id == draft_id)
                                 .order_by(rule_backtests.c.id.desc()).limit(20)).all()
            pubs = conn.execute(select(rule_publications).where(rule_publications.c.draft_id == draft_id)
                                .order_by(rule_publications.c.id.desc())).all()
        return {**draft, "text": current["text"], "errors": cand.errors, "compiles": cand.ruleset is not None,
                "base_identity": current["base_identity"], "active_identity": active.identity,
                "stale": current["base_identity"] != active.identity,
                "candidate_identity": cand.ruleset.identity if cand.ruleset is not None else None,
                "active_text": before, "diff": unified_diff(before, current["text"], f"{draft['rule_id']}.yaml"),
                "files_diff": sources_diff(active.sources, cand.sources),
                "revisions": [_row(r) for r in revisions], "backtests": [_row(b) for b in tests],
                "publications": [_row(p) for p in pubs]}

    def _compiled(self, draft: dict[str, Any]) -> tuple[Ruleset, Ruleset, dict[str, Any]]:
        """(active, candidate, current revision) of an open draft that compiles."""
        current = self._revision(draft["id"], draft["revision"])
        active = self.risk.engine.ruleset
        cand = self._candidate(draft["rule_id"], current["text"], is_new=bool(draft["is_new"]), base=active)
        if cand.ruleset is None:
            raise RuleCompileError(f"rule draft {draft['id']} does not compile; fix it first",
                                   details=cand.errors)
        return active, cand.ruleset, current

    # -- backtests -----------------------------------------------------------------------------
    def start_backtest(self, actor: str, draft_id: int, *, since_us: int | None, until_us: int | None,
                       max_events: int) -> dict[str, Any]:
        if not 1 <= max_events <= backtests.MAX_EVENTS:
            raise InvalidRequest(f"max_events must be between 1 and {backtests.MAX_EVENTS}",
                                 details={"field": "max_events"})
        if since_us is not None and until_us is not None and until_us <= since_us:
            raise InvalidRequest("until must be after since", details={"field": "until"})
        draft = self._open_draft(draft_id)
        active, candidate, current = self._compiled(draft)
        if any(j.thread is not None and j.thread.is_alive() for j in self._jobs.values()):
            raise Conflict("another backtest is running; wait for it or cancel it")
        total = min(backtests.count_period(self.engine, since_us, until_us), max_events)
        with self.engine.begin() as conn:
            backtest_id = int(conn.execute(insert(rule_backtests).values(
                draft_id=draft_id, revision=current["revision"], status="running", requested_by=actor,
                since_us=since_us, until_us=until_us, max_events=max_events, processed=0, total=total,
                started_at_us=self.clock(), result=orjson.dumps(
                    {"baseline": active.identity, "candidate": candidate.identity}).decode()))
                .inserted_primary_key[0])  # type: ignore[index]
        job = backtests.Job(backtest_id)
        self._jobs = {k: j for k, j in self._jobs.items() if j.thread is not None and j.thread.is_alive()}
        self._jobs[backtest_id] = job
        self.store.audit(actor=actor, action="rules.backtest.start", target=f"backtest:{backtest_id}",
                         details={"draft_id": draft_id, "revision": current["revision"], "events": total})
        backtests.start(self.store, job, baseline=active, candidate=candidate, geo=self.risk.engine.geo,
                        since_us=since_us, until_us=until_us, max_events=max_events)
        return self.get_backtest(actor, backtest_id, audit=False)

    def get_backtest(self, actor: str, backtest_id: int, *, audit: bool = True) -> dict[str, Any]:
        with self.engine.connect() as conn:
            row = conn.execute(select(rule_backtests).where(rule_backtests.c.id == backtest_id)).first()
        if row is None:
            raise NotFound(f"no backtest {backtest_id}")
        out = _row(row)
        job = self._jobs.get(backtest_id)
        if out["status"] == "running" and job is not None:
            out["processed"] = job.processed
        out["result"] = orjson.loads(out["result"]) if out["result"] else None
        if audit:  # the changed events name accounts
            self.store.audit(actor=actor, action="rules.backtest.view", target=f"backtest:{backtest_id}")
        return out

    def cancel_backtest(self, actor: str, backtest_id: int) -> dict[str, Any]:
        job = self._jobs.get(backtest_id)
        if job is None or job.thread is None or not job.thread.is_alive():
            raise Conflict(f"backtest {backtest_id} is not running")
        job.cancel.set()
        job.thread.join(timeout=30)
        self.store.audit(actor=actor, action="rules.backtest.cancel", target=f"backtest:{backtest_id}")
        return self.get_backtest(actor, backtest_id, audit=False)

    def wait_backtest(self, backtest_id: int, timeout: float) -> None:
        """For the CLI and tests: wait until the backtest's thread ends (at most ``timeout`` s)."""
        job = self._jobs.get(backtest_id)
        if job is not None and job.thread is not None:
            job.thread.join(timeout)

    def _backtested(self, draft_id: int, revision: int, candidate: str) -> bool:
        with self.engine.connect() as conn:
            rows = conn.execute(select(rule_backtests.c.result).where(
                rule_backtests.c.draft_id == draft_id, rule_backtests.c.revision == revision,
                rule_backtests.c.status == "done")).scalars().all()
        return any(orjson.loads(r).get("candidate") == candidate for r in rows if r)

    # -- shadow --------------------------------------------------------------------------------
    def _running_shadow(self) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(rule_shadow_runs).where(rule_shadow_runs.c.stopped_at_us.is_(None))
                               .order_by(rule_shadow_runs.c.id.desc()).limit(1)).first()
        return _row(row) if row is not None else None

    async def start_shadow(self, actor: str, draft_id: int) -> dict[str, Any]:
        """Run the draft's candidate rule set in the engine's shadow slot on live traffic."""
        draft = await asyncio.to_thread(self._open_draft, draft_id)
        async with self._activation:
            _active, candidate, current = await asyncio.to_thread(self._compiled, draft)
            directory = paths.versions_root(self.data_dir) / f"shadow-d{draft_id}-r{current['revision']}"
            await asyncio.to_thread(_write_dir, directory, candidate.sources, None)
            previous = self.risk.shadow_path
            self.risk.shadow_path = directory
            try:
                await self.risk.reload(actor=actor)
            except Exception:
                self.risk.shadow_path = previous
                raise
            await asyncio.to_thread(paths.write_pointer, self.data_dir, paths.SHADOW_POINTER, directory)
            run = await asyncio.to_thread(self._record_shadow, actor, draft_id, current["revision"],
                                          self.risk.engine.shadow.identity if self.risk.engine.shadow else "")
        return run

    def _record_shadow(self, actor: str, draft_id: int, revision: int, identity: str) -> dict[str, Any]:
        now = self.clock()
        with self.engine.begin() as conn:
            conn.execute(update(rule_shadow_runs).where(rule_shadow_runs.c.stopped_at_us.is_(None))
                         .values(stopped_at_us=now))
            conn.execute(insert(rule_shadow_runs).values(
                draft_id=draft_id, revision=revision, candidate_identity=identity, started_by=actor,
                started_at_us=now, from_seq=self.store.last_seq()))
        self.store.audit(actor=actor, action="rules.shadow.start", target=f"draft:{draft_id}",
                         details={"revision": revision, "candidate": identity})
        run = self._running_shadow()
        assert run is not None
        return run

    async def stop_shadow(self, actor: str) -> dict[str, Any]:
        async with self._activation:
            run = await asyncio.to_thread(self._running_shadow)
            if run is None:
                raise Conflict("no draft is running in shadow")
            self.risk.shadow_path = self.configured_shadow
            await self.risk.reload(actor=actor)
            await asyncio.to_thread(paths.write_pointer, self.data_dir, paths.SHADOW_POINTER, None)
            with self.engine.begin() as conn:
                conn.execute(update(rule_shadow_runs).where(rule_shadow_runs.c.id == run["id"])
                             .values(stopped_at_us=self.clock()))
            await asyncio.to_thread(self.store.audit, actor=actor, action="rules.shadow.stop",
                                    target=f"draft:{run['draft_id']}", details={"run": run["id"]})
        return {**run, "stopped": True}

    def shadow_status(self, actor: str, run_id: int | None = None) -> dict[str, Any]:
        """How the shadow candidate's verdicts differ from the active ones since it began."""
        self.catch_up(REQUEST_CATCH_UP)  # bounded inside a request, like list_rules; the rest in the background
        with self.engine.connect() as conn:
            stmt = select(rule_shadow_runs).order_by(rule_shadow_runs.c.id.desc()).limit(1)
            if run_id is not None:
                stmt = select(rule_shadow_runs).where(rule_shadow_runs.c.id == run_id)
            row = conn.execute(stmt).first()
        if row is None:
            raise NotFound("no shadow run" if run_id is None else f"no shadow run {run_id}")
        run = _row(row)
        self.store.audit(actor=actor, action="rules.shadow.view", target=f"shadow:{run['id']}")
        return {"run": run, "running": run["stopped_at_us"] is None,
                "report": shadow_report(self.engine, run["candidate_identity"])}

    # -- publication ---------------------------------------------------------------------------
    def request_publication(self, actor: str, draft_id: int, *, reason: str,
                            override_reason: str | None = None) -> dict[str, Any]:
        if len(reason.strip()) < MIN_REASON:
            raise InvalidRequest(f"give a reason of at least {MIN_REASON} characters", details={"field": "reason"})
        draft = self._open_draft(draft_id)
        active, candidate, current = self._compiled(draft)
        if current["base_identity"] != active.identity:
            raise Conflict("the draft was written against a rule set that is no longer active; save it again",
                           details={"base": current["base_identity"], "active": active.identity})
        backtested = self._backtested(draft_id, current["revision"], candidate.identity)
        if not backtested and not (override_reason and len(override_reason.strip()) >= MIN_REASON):
            raise Conflict("the draft's current revision has no finished backtest; run one, or give an "
                           "override_reason", details={"reason": "not_backtested"})
        with self.engine.begin() as conn:
            pending = conn.execute(select(rule_publications.c.id).where(
                rule_publications.c.draft_id == draft_id, rule_publications.c.status == "requested")).first()
            if pending is not None:
                raise Conflict(f"publication {pending[0]} of this draft is already waiting for approval")
            pub_id = int(conn.execute(insert(rule_publications).values(
                kind="publish", draft_id=draft_id, revision=current["revision"], status="requested",
                requested_by=actor, requested_at_us=self.clock(), reason=reason.strip(),
                override_reason=None if backtested else (override_reason or "").strip(),
                base_identity=active.identity)).inserted_primary_key[0])  # type: ignore[index]
        self.store.audit(actor=actor, action="rules.publication.request", target=f"publication:{pub_id}",
                         details={"draft_id": draft_id, "revision": current["revision"],
                                  "backtested": backtested, "override": not backtested})
        return self.get_publication(pub_id)

    def request_rollback(self, actor: str, *, reason: str) -> dict[str, Any]:
        if len(reason.strip()) < MIN_REASON:
            raise InvalidRequest(f"give a reason of at least {MIN_REASON} characters", details={"field": "reason"})
        current_dir = str(self.risk.rules_path.resolve())
        with self.engine.connect() as conn:
            last = conn.execute(select(rule_publications).where(
                rule_publications.c.status == "published", rule_publications.c.directory == current_dir)
                .order_by(rule_publications.c.id.desc()).limit(1)).first()
        if last is None or not last.previous_directory:
            raise Conflict("the active rule set was not published here: nothing to roll back to")
        with self.engine.begin() as conn:
            pub_id = int(conn.execute(insert(rule_publications).values(
                kind="rollback", status="requested", requested_by=actor, requested_at_us=self.clock(),
                reason=reason.strip(), base_identity=self.risk.engine.ruleset.identity,
                directory=last.previous_directory)).inserted_primary_key[0])  # type: ignore[index]
        self.store.audit(actor=actor, action="rules.rollback.request", target=f"publication:{pub_id}",
                         details={"from": self.risk.engine.ruleset.identity, "undoes": last.id})
        return self.get_publication(pub_id)

    def get_publication(self, pub_id: int) -> dict[str, Any]:
        with self.engine.connect() as conn:
            row = conn.execute(select(rule_publications).where(rule_publications.c.id == pub_id)).first()
        if row is None:
            raise NotFound(f"no publication {pub_id}")
        return _row(row)

    def list_publications(self, limit: int = 100) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            return [_row(r) for r in conn.execute(select(rule_publications)
                                                  .order_by(rule_publications.c.id.desc()).limit(limit))]

    def _decide(self, pub_id: int, **values: Any) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(rule_publications).where(rule_publications.c.id == pub_id)
                         .values(decided_at_us=self.clock(), **values))

    def _mark_draft(self, draft_id: int, status: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(rule_drafts).where(rule_drafts.c.id == draft_id)
                         .values(status=status, updated_at_us=self.clock()))

    def reject(self, actor: str, pub_id: int, *, reason: str = "") -> dict[str, Any]:
        pub = self.get_publication(pub_id)
        if pub["status"] != "requested":
            raise Conflict(f"publication {pub_id} is {pub['status']}")
        self._decide(pub_id, status="rejected", decided_by=actor)
        self.store.audit(actor=actor, action=f"rules.{pub['kind']}.reject", target=f"publication:{pub_id}",
                         details={"draft_id": pub["draft_id"], "has_reason": bool(reason.strip())})
        return self.get_publication(pub_id)

    async def approve(self, actor: str, pub_id: int) -> dict[str, Any]:
        """Approve and carry out a publication or rollback (four eyes; refused if outdated)."""
        pub = await asyncio.to_thread(self.get_publication, pub_id)
        if pub["status"] != "requested":
            raise Conflict(f"publication {pub_id} is {pub['status']}", details={"status": pub["status"]})
        authors = {pub["requested_by"]}
        if pub["kind"] == "publish":
            await asyncio.to_thread(self._open_draft, pub["draft_id"])
            authors.add((await asyncio.to_thread(self._revision, pub["draft_id"], pub["revision"]))["author"])
        if actor in authors:
            raise FourEyesRequired("the approver must be a different person from the one who requested the "
                                   "publication or wrote the draft", details={"publication": pub_id})
        async with self._activation:
            pub = await asyncio.to_thread(self.get_publication, pub_id)  # again: a concurrent approval
            if pub["status"] != "requested":
                raise Conflict(f"publication {pub_id} is {pub['status']}", details={"status": pub["status"]})
            active = self.risk.engine.ruleset
            if active.identity != pub["base_identity"]:
                await asyncio.to_thread(self._decide, pub_id, status="refused", decided_by=actor)
                await asyncio.to_thread(self.store.audit, actor=actor, action=f"rules.{pub['kind']}.refused",
                                        target=f"publication:{pub_id}",
                                        details={"base": pub["base_identity"], "active": active.identity})
                raise Conflict("another publication changed the active rule set since this was requested; "
                               "save the draft again and request a new publication",
                               details={"base": pub["base_identity"], "active": active.identity})
            if pub["kind"] == "publish":
                target = await asyncio.to_thread(self._write_version, pub)
            else:
                target = Path(pub["directory"])
            previous = self.risk.rules_path
            self.risk.rules_path = target
            try:
                await self.risk.reload(actor=actor)
            except Exception:
                self.risk.rules_path = previous
                raise
            configured = target.resolve() == self.configured_rules.resolve()
            await asyncio.to_thread(paths.write_pointer, self.data_dir, paths.ACTIVE_POINTER,
                                    None if configured else target)
            new = self.risk.engine.ruleset.identity
            await asyncio.to_thread(self._decide, pub_id, status="published", decided_by=actor, new_identity=new,
                                    directory=str(target.resolve()), previous_directory=str(previous.resolve()))
            if pub["kind"] == "publish":
                await asyncio.to_thread(self._mark_draft, pub["draft_id"], "published")
            await asyncio.to_thread(self.store.audit, actor=actor, action=f"rules.{pub['kind']}.approve",
                                    target=f"publication:{pub_id}",
                                    details={"from": active.identity, "to": new, "draft_id": pub["draft_id"]})
        return await asyncio.to_thread(self.get_publication, pub_id)

    def _write_version(self, pub: dict[str, Any]) -> Path:
        """Write the new version's directory: the active files with the draft applied, version bumped,
        plus the active directory's rule tests (``*.test.yaml``). Never touches the active directory."""
        draft = self._draft(pub["draft_id"])
        _active, candidate, _current = self._compiled({**draft, "revision": pub["revision"]})
        sources, version = bump_version(candidate.sources)
        ruleset = ruleset_from_sources(sources)
        directory = paths.versions_root(self.data_dir) / f"v{version:04d}-{ruleset.digest[:12]}"
        _write_dir(directory, sources, self.risk.rules_path)
        return directory

    async def stop_background(self) -> None:
        for job in list(self._jobs.values()):
            job.cancel.set()


def _write_dir(directory: Path, sources: dict[str, str], tests_from: Path | None) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    if tests_from is not None and tests_from.is_dir():
        for test in sorted(tests_from.glob("*.test.yaml")):
            (directory / test.name).write_bytes(test.read_bytes())
    for name, text in sources.items():
        (directory / name).write_text(text, encoding="utf-8")


def _describe(rule: Any) -> dict[str, Any]:
    return {"id": rule.id, "version": rule.version, "description": rule.description,
            "description_ja": rule.description_ja, "mode": rule.mode, "events": sorted(rule.events),
            "score": rule.score, "action": rule.action.name if rule.action is not None else None,
            "tags": list(rule.tags), "reference": rule.reference, "origin": rule.origin, "alert": rule.alert}
