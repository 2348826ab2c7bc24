"""The durable store and the group-commit writer, against SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import functools
import hashlib
import itertools
import re
import threading
import traceback
from collections.abc import Callable, Iterator
from typing import Any

import orjson
import pytest
from sqlalchemy import delete, func, select, update
from sqlalchemy.engine import Connection

from mamori.adapters.sql.schema import alerts, audit_log, decisions, metadata, rulesets
from mamori.adapters.sql.store import AcceptedRecord, SqlStore
from mamori.adapters.sql.writer import GroupCommitWriter
from mamori.kit.errors import NotFound, StorageUnavailable
from pg import free_port

T0 = 1_700_000_000_000_000  # 2023-11-14T22:13:20Z in microseconds
SECOND = 1_000_000


def make_record(event_id: str, *, account: str = "acct-1", decision: str = "allow", alert: bool = False,
                occurred_at_us: int = T0, decided_at_us: int | None = None,
                rule_ids: tuple[str, ...] = ()) -> AcceptedRecord:
    decided = occurred_at_us + SECOND if decided_at_us is None else decided_at_us
    payload = orjson.dumps({"id": event_id, "type": "login", "account_id": account,
                            "occurred_at_us": occurred_at_us}).decode()
    body = orjson.dumps({"event_id": event_id, "account_id": account, "decision": decision,
                         "score": 90 if alert else 10, "rules": [{"id": r} for r in rule_ids]}).decode()
    return AcceptedRecord(event_id=event_id, event_type="login", account_id=account,
                          occurred_at_us=occurred_at_us, received_at_us=decided - 10, payload=payload,
                          decision=decision, score=90 if alert else 10, ruleset="default@1", alert=alert,
                          rule_ids=rule_ids, body=body, decided_at_us=decided)


def count(store: SqlStore, table: Any) -> int:
    with store.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def dump_database(conn: Connection) -> str:
    """Every value of every table, as one string."""
    return "\n".join(repr(tuple(row)) for table in metadata.sorted_tables
                     for row in conn.execute(select(table)))


def event_id_of(payload: str) -> str:
    return str(orjson.loads(payload)["id"])


@pytest.fixture
def store(store_url: str) -> Iterator[SqlStore]:
    opened = SqlStore(store_url)
    yield opened
    opened.close()


# -- write_accepted ---------------------------------------------------------------------------------
def test_given_a_batch_with_alerts_when_written_then_events_decisions_and_alerts_are_stored(
        store: SqlStore) -> None:
    batch = [make_record("e1"), make_record("e2", decision="block", alert=True, rule_ids=("r.a", "r.b")),
             make_record("e3", decision="hold", alert=True)]

    store.write_accepted(batch)

    assert store.event_ids() == {"e1", "e2", "e3"}
    assert store.count_events() == 3
    assert count(store, decisions) == 3
    assert store.get_decision("e2")["decision"] == "block"
    stored_alerts = store.query_alerts()
    assert [a["event_id"] for a in stored_alerts] == ["e3", "e2"]
    assert stored_alerts[1]["rules"] == ["r.a", "r.b"]
    assert {a["status"] for a in stored_alerts} == {"open"}


def test_given_an_empty_batch_when_written_then_nothing_happens(store: SqlStore) -> None:
    store.write_accepted([])

    assert store.count_events() == 0


def test_given_an_unknown_event_when_its_decision_is_read_then_not_found(store: SqlStore) -> None:
    with pytest.raises(NotFound):
        store.get_decision("missing")


@pytest.mark.parametrize("duplicate", ["within the batch", "of a stored event"])
def test_given_a_batch_with_a_duplicate_event_id_when_written_then_it_raises_and_stores_nothing(
        store: SqlStore, duplicate: str) -> None:
    store.write_accepted([make_record("old", alert=True)])
    repeated = "new-1" if duplicate == "within the batch" else "old"
    batch = [make_record("new-1", alert=True), make_record("new-2", decision="block", alert=True),
             make_record(repeated, alert=True)]

    with pytest.raises(StorageUnavailable, match="could not store 3 event"):
        store.write_accepted(batch)

    assert store.event_ids() == {"old"}
    assert count(store, decisions) == 1
    assert [a["event_id"] for a in store.query_alerts()] == ["old"]
    store.write_accepted([make_record("new-1")])  # the store is still usable
    assert store.event_ids() == {"old", "new-1"}


# -- history --------------------------------------------------------------------------------------
def _write_in_batches(store: SqlStore, ids: list[str], occurred: list[int], sizes: list[int]) -> None:
    records = [make_record(i, occurred_at_us=t, decision="hold" if n % 3 == 0 else "allow")
               for n, (i, t) in enumerate(zip(ids, occurred, strict=True))]
    start = 0
    for size in sizes:
        store.write_accepted(records[start:start + size])
        start += size
    assert start == len(records)


# Acceptance order differs from both event-id order and occurred-at order.
HISTORY_IDS = ["k", "c", "x", "a", "q", "b", "z", "m", "d", "y", "e"]
HISTORY_TIMES = [T0 + s * SECOND for s in (5, 1, 9, 3, 0, 7, 2, 8, 4, 6, 10)]


def test_given_events_accepted_in_several_batches_when_history_is_read_then_it_is_in_acceptance_order(
        store: SqlStore) -> None:
    _write_in_batches(store, HISTORY_IDS, HISTORY_TIMES, [4, 1, 3, 3])

    history = list(store.iter_history(batch=3))

    assert [event_id_of(p) for p, _ in history] == HISTORY_IDS
    assert [v for _, v in history] == ["hold" if n % 3 == 0 else "allow" for n in range(len(HISTORY_IDS))]


def test_given_an_empty_store_when_history_is_read_then_it_is_empty(store: SqlStore) -> None:
    assert list(store.iter_history(batch=3)) == []
    assert list(store.iter_events_between(None, None, batch=3)) == []


@pytest.mark.parametrize(("start_s", "end_s"),
                         [(None, None), (3, None), (None, 6), (2, 8), (4, 5), (11, None)])
def test_given_a_time_range_when_events_are_read_then_only_those_in_range_come_in_acceptance_order(
        store: SqlStore, start_s: int | None, end_s: int | None) -> None:
    _write_in_batches(store, HISTORY_IDS, HISTORY_TIMES, [2, 5, 4])
    start = None if start_s is None else T0 + start_s * SECOND
    end = None if end_s is None else T0 + end_s * SECOND

    got = [event_id_of(p) for p in store.iter_events_between(start, end, batch=3)]

    expected = [i for i, t in zip(HISTORY_IDS, HISTORY_TIMES, strict=True)
                if (start is None or t >= start) and (end is None or t < end)]
    assert got == expected


# -- query_decisions ------------------------------------------------------------------------------
def _decision_fixture(store: SqlStore) -> list[AcceptedRecord]:
    """30 decisions over 3 accounts and 3 verdicts; decided_at_us ties in groups of 4; event ids in
    mixed case and punctuation so the tie-break order is the database's own string order."""
    records = []
    for n in range(30):
        records.append(make_record(
            f"{'Ab'[n % 2]}-{(n * 7) % 30:02d}.{'xY'[n % 3 == 0]}",
            account=f"acct-{n % 3}", decision=("allow", "hold", "block", "allow", "block")[n % 5],
            alert=n % 4 == 0, occurred_at_us=T0 + n * SECOND, decided_at_us=T0 + 100 * SECOND + (n // 4)))
    store.write_accepted(records[:13])
    store.write_accepted(records[13:])
    return records


def _walk_decisions(store: SqlStore, page: int, **filters: Any) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []
    before = None
    for _ in range(100):
        rows = store.query_decisions(limit=page, before=before, **filters)
        assert len(rows) <= page
        seen.extend(rows)
        if len(rows) < page:
            return seen
        before = (rows[-1]["decided_at_us"], rows[-1]["event_id"])
    raise AssertionError("pagination did not end")


def test_given_decisions_when_queried_then_newest_first_with_a_stable_tie_break(store: SqlStore) -> None:
    records = _decision_fixture(store)

    rows = store.query_decisions(limit=1000)

    assert sorted(r["event_id"] for r in rows) == sorted(r.event_id for r in records)
    keys = [r["decided_at_us"] for r in rows]
    assert keys == sorted(keys, reverse=True)
    assert rows == store.query_decisions(limit=1000)


@pytest.mark.parametrize("page", [1, 3, 4, 7, 30, 31])
@pytest.mark.parametrize("filters", [{}, {"account_id": "acct-1"}, {"decision": "allow"},
                                     {"since_us": T0 + 5 * SECOND, "until_us": T0 + 21 * SECOND},
                                     {"account_id": "acct-0", "decision": "block", "since_us": T0}])
def test_given_decisions_when_paged_with_before_then_every_row_is_visited_once_newest_first(
        store: SqlStore, page: int, filters: dict[str, Any]) -> None:
    records = _decision_fixture(store)

    seen = _walk_decisions(store, page, **filters)

    expected = [r for r in records
                if r.account_id == filters.get("account_id", r.account_id)
                and r.decision == filters.get("decision", r.decision)
                and r.occurred_at_us >= filters.get("since_us", r.occurred_at_us)
                and r.occurred_at_us < filters.get("until_us", r.occurred_at_us + 1)]
    assert expected, "the filter should select something"
    ids = [r["event_id"] for r in seen]
    assert len(ids) == len(set(ids))
    assert set(ids) == {r.event_id for r in expected}
    assert seen == store.query_decisions(limit=1000, **filters)  # same order as one big page
    keys = [r["decided_at_us"] for r in seen]
    assert keys == sorted(keys, reverse=True)


def test_given_decisions_when_filtered_then_only_matching_rows_come_back(store: SqlStore) -> None:
    records = _decision_fixture(store)

    by_account = store.query_decisions(account_id="acct-2", limit=1000)
    by_verdict = store.query_decisions(decision="hold", limit=1000)
    in_range = store.query_decisions(since_us=T0 + 10 * SECOND, until_us=T0 + 12 * SECOND, limit=1000)
    nothing = store.query_decisions(account_id="nobody", limit=1000)

    assert {r["event_id"] for r in by_account} == {r.event_id for r in records if r.account_id == "acct-2"}
    assert {r["event_id"] for r in by_verdict} == {r.event_id for r in records if r.decision == "hold"}
    assert {r["event_id"] for r in in_range} == {records[10].event_id, records[11].event_id}
    assert nothing == []
    assert all(r["decided_at_us"] == rec.decided_at_us for r in by_account for rec in records
               if rec.event_id == r["event_id"])


# -- query_alerts ---------------------------------------------------------------------------------
def test_given_alerts_when_filtered_and_paged_then_each_matching_alert_comes_once_newest_first(
        store: SqlStore) -> None:
    records = [make_record(f"ev-{n:02d}", account=f"acct-{n % 2}", decision="hold", alert=True,
                           occurred_at_us=T0 + n) for n in range(11)]
    store.write_accepted(records[:5])
    store.write_accepted([make_record("quiet")])
    store.write_accepted(records[5:])
    with store.engine.begin() as conn:
        conn.execute(update(alerts).where(alerts.c.event_id.in_(["ev-01", "ev-04", "ev-07"]))
                     .values(status="closed"))

    everything = store.query_alerts(limit=1000)
    closed = store.query_alerts(status="closed")
    open_acct0 = store.query_alerts(status="open", account_id="acct-0")
    pages: list[dict[str, Any]] = []
    before_id = None
    while True:
        page = store.query_alerts(account_id="acct-1", limit=2, before_id=before_id)
        pages.extend(page)
        if len(page) < 2:
            break
        before_id = page[-1]["id"]

    assert [a["event_id"] for a in everything] == [f"ev-{n:02d}" for n in reversed(range(11))]
    assert [a["event_id"] for a in closed] == ["ev-07", "ev-04", "ev-01"]
    assert [a["event_id"] for a in open_acct0] == ["ev-10", "ev-08", "ev-06", "ev-02", "ev-00"]
    assert [a["event_id"] for a in pages] == ["ev-09", "ev-07", "ev-05", "ev-03", "ev-01"]
    assert store.query_alerts(status="nonexistent") == []


# -- API keys -------------------------------------------------------------------------------------
def test_given_a_new_api_key_when_created_then_only_its_sha256_is_stored(store: SqlStore) -> None:
    key_id, full_key = store.create_api_key(name="ops", scopes=frozenset({"events:write", "decisions:read"}))

    match = re.fullmatch(r"mk_([0-9a-f]+)_(.+)", full_key)
    assert match is not None and match.group(1) == key_id
    secret = match.group(2)
    assert len(secret) >= 40
    [key] = store.api_keys()
    assert (key.key_id, key.name, key.revoked) == (key_id, "ops", False)
    assert key.scopes == frozenset({"events:write", "decisions:read"})
    assert key.secret_sha256 == hashlib.sha256(secret.encode()).hexdigest()
    with store.engine.connect() as conn:
        dump = dump_database(conn)
    assert key.secret_sha256 in dump  # the dump does see the key row
    assert secret not in dump
    assert secret[:16] not in dump


def test_given_an_api_key_when_revoked_then_it_is_marked_revoked_and_keeps_its_revocation_time(
        store: SqlStore) -> None:
    key_id, _ = store.create_api_key(name="ops", scopes=frozenset({"admin"}))
    other_id, _ = store.create_api_key(name="other", scopes=frozenset({"admin"}))

    store.revoke_api_key(key_id)
    with store.engine.connect() as conn:
        first = conn.exec_driver_sql(f"SELECT revoked_at_us FROM api_keys WHERE key_id = '{key_id}'").scalar()
    store.revoke_api_key(key_id)  # revoking again is harmless and does not rewrite history

    keys = {k.key_id: k for k in store.api_keys()}
    assert keys[key_id].revoked and not keys[other_id].revoked
    with store.engine.connect() as conn:
        again = conn.exec_driver_sql(f"SELECT revoked_at_us FROM api_keys WHERE key_id = '{key_id}'").scalar()
    assert first is not None and again == first


def test_given_an_unknown_api_key_when_revoked_then_not_found(store: SqlStore) -> None:
    with pytest.raises(NotFound, match="nope"):
        store.revoke_api_key("nope")


# -- rule sets and audit --------------------------------------------------------------------------
def test_given_a_recorded_ruleset_when_recorded_again_then_the_first_record_stays(store: SqlStore) -> None:
    store.record_ruleset("default@abc", "default", 1, {"a.yaml": "rules: []"})

    store.record_ruleset("default@abc", "default", 1, {"a.yaml": "something else"})
    store.record_ruleset("default@def", "default", 2, {"a.yaml": "v2"})

    with store.engine.connect() as conn:
        rows = conn.execute(select(rulesets.c.identity, rulesets.c.sources)
                            .order_by(rulesets.c.identity)).all()
    assert [(i, orjson.loads(s)) for i, s in rows] == [("default@abc", {"a.yaml": "rules: []"}),
                                                       ("default@def", {"a.yaml": "v2"})]


def test_given_several_instances_when_they_record_the_same_ruleset_at_once_then_none_fails(
        store_url: str) -> None:
    stores = [SqlStore(store_url) for _ in range(6)]
    errors: list[BaseException] = []
    for round_ in range(15):
        barrier = threading.Barrier(len(stores))

        def record(s: SqlStore, version: int = round_, barrier: threading.Barrier = barrier) -> None:
            barrier.wait()
            try:
                s.record_ruleset(f"rs@{version}", "rs", version, {"f.yaml": "x"})
            except BaseException as exc:
                errors.append(exc)

        _run_threads([functools.partial(record, s) for s in stores])
    for s in stores:
        s.close()
    assert errors == []
    assert count(stores[0], rulesets) == 15


def _audit_records(store: SqlStore, n: int) -> None:
    for i in range(n):
        store.audit(actor="cli", action="api_key.create", target=f"key-{i}",
                    details={"n": i, "scopes": ["x"]})


def test_given_audit_records_when_the_chain_is_verified_then_it_counts_them(store: SqlStore) -> None:
    assert store.verify_audit_chain() == 0

    _audit_records(store, 5)
    store.audit(actor="system", action="ruleset.activate", target="default@1")

    assert store.verify_audit_chain() == 6
    with store.engine.connect() as conn:
        rows = conn.execute(select(audit_log).order_by(audit_log.c.seq)).mappings().all()
    assert rows[0]["prev_hash"] == "0" * 64
    assert all(b["prev_hash"] == a["hash"] for a, b in itertools.pairwise(rows))


def _seqs(store: SqlStore) -> list[int]:
    with store.engine.connect() as conn:
        return list(conn.execute(select(audit_log.c.seq).order_by(audit_log.c.seq)).scalars())


@pytest.mark.parametrize("tamper", ["details", "actor", "at_us"])
def test_given_a_record_changed_in_the_database_when_verified_then_the_record_is_named(
        store: SqlStore, tamper: str) -> None:
    _audit_records(store, 5)
    target = _seqs(store)[2]
    value = {"details": '{"n":99,"scopes":["x"]}', "actor": "mallory", "at_us": 1}[tamper]
    with store.engine.begin() as conn:
        conn.execute(update(audit_log).where(audit_log.c.seq == target).values({tamper: value}))

    with pytest.raises(ValueError, match=rf"record {target}\b"):
        store.verify_audit_chain()


def test_given_a_middle_record_deleted_when_verified_then_the_record_after_the_gap_is_named(
        store: SqlStore) -> None:
    _audit_records(store, 5)
    seqs = _seqs(store)
    with store.engine.begin() as conn:
        conn.execute(delete(audit_log).where(audit_log.c.seq == seqs[2]))

    with pytest.raises(ValueError, match=rf"record {seqs[3]}\b"):
        store.verify_audit_chain()


def _run_threads(targets: list[Callable[[], None]]) -> None:
    threads = [threading.Thread(target=t) for t in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads)


def test_given_several_threads_when_they_audit_at_once_then_the_chain_stays_valid(store_url: str) -> None:
    threads, per_thread = 8, 25
    stores = [SqlStore(store_url) for _ in range(2)]  # two instances sharing the database, too
    errors: list[BaseException] = []
    barrier = threading.Barrier(threads)

    def work(k: int) -> None:
        barrier.wait()
        try:
            for i in range(per_thread):
                stores[k % 2].audit(actor=f"t{k}", action="test", target=f"{k}-{i}", details={"i": i})
        except BaseException as exc:
            errors.append(exc)

    _run_threads([functools.partial(work, k) for k in range(threads)])

    assert errors == []
    assert stores[0].verify_audit_chain() == threads * per_thread
    for s in stores:
        s.close()


# -- group commit ---------------------------------------------------------------------------------
def test_given_200_concurrent_submits_when_written_then_all_complete_and_all_rows_exist(
        store: SqlStore) -> None:
    calls: list[int] = []

    def write(records: list[AcceptedRecord]) -> None:
        calls.append(len(records))
        store.write_accepted(records)

    writer = GroupCommitWriter(write)

    async def main() -> None:
        await asyncio.wait_for(asyncio.gather(*(writer.submit([make_record(f"g-{n:03d}", alert=n % 10 == 0)])
                                                for n in range(200))), timeout=60)

    try:
        asyncio.run(main())
    finally:
        writer.close()

    assert store.count_events() == 200
    assert store.event_ids() == {f"g-{n:03d}" for n in range(200)}
    assert len(store.query_alerts(limit=1000)) == 20
    assert sum(calls) == 200
    assert len(calls) < 200  # submits were grouped into shared transactions


def test_given_a_failing_write_when_many_submit_then_every_submit_gets_the_error_and_none_hangs() -> None:
    fail = threading.Event()
    fail.set()
    written: list[str] = []

    def write(records: list[AcceptedRecord]) -> None:
        if fail.is_set():
            raise StorageUnavailable("database down")
        written.extend(r.event_id for r in records)

    writer = GroupCommitWriter(write)

    async def main() -> list[BaseException | None]:
        submits = (writer.submit([make_record(f"f-{n}")]) for n in range(200))
        return await asyncio.wait_for(asyncio.gather(*submits, return_exceptions=True), timeout=10)

    try:
        results = asyncio.run(main())
        fail.clear()
        asyncio.run(asyncio.wait_for(writer.submit([make_record("after")]), timeout=10))
    finally:
        writer.close()

    assert len(results) == 200
    assert all(isinstance(r, StorageUnavailable) and r.message == "database down" for r in results)
    assert written == ["after"]  # the writer survived the failure


def test_given_a_submitter_whose_loop_is_gone_when_its_write_finishes_then_the_writer_keeps_working(
        ) -> None:
    started, release = threading.Event(), threading.Event()

    def write(records: list[AcceptedRecord]) -> None:
        started.set()
        release.wait(10)

    writer = GroupCommitWriter(write)
    try:
        gone = asyncio.new_event_loop()
        task = gone.create_task(writer.submit([make_record("a")]))
        gone.run_until_complete(asyncio.sleep(0))
        assert started.wait(10)
        task.cancel()
        gone.run_until_complete(asyncio.gather(task, return_exceptions=True))
        gone.close()
        release.set()

        asyncio.run(asyncio.wait_for(writer.submit([make_record("b")]), timeout=10))
    finally:
        release.set()
        writer.close()


def test_given_a_closed_writer_when_submitting_then_it_raises_instead_of_hanging() -> None:
    writer = GroupCommitWriter(lambda records: None)
    writer.close()

    with pytest.raises(StorageUnavailable):
        asyncio.run(asyncio.wait_for(writer.submit([make_record("late")]), timeout=10))


# -- unreachable database -------------------------------------------------------------------------
@pytest.mark.parametrize("url", [
    "postgresql+psycopg://mamori:{pw}@127.0.0.1:{port}/mamori",
    "postgresql+psycopg://mamori:{pw}@127.0.0.1:{port}/mamori?sslmode=disable",
    "postgresql+psycopg://mamori@127.0.0.1:{port}/mamori?password={pw}",
])
def test_given_an_unreachable_postgres_when_opening_the_store_then_storage_unavailable_without_password(
        url: str) -> None:
    password = "Pw-s3cr3t-do-not-print"

    with pytest.raises(StorageUnavailable) as caught:
        SqlStore(url.format(pw=password, port=free_port()))

    shown = str(caught.value) + "".join(traceback.format_exception(caught.value))
    assert "cannot open the store" in shown
    assert "127.0.0.1" in shown
    assert password not in shown
    assert password not in repr(caught.value.details)
