"""Crash safety of a real ``mamori serve`` process: what was acknowledged survives SIGKILL, resends
are idempotent across restarts, and feature state is rebuilt from the store at start-up."""

from __future__ import annotations

import asyncio
import os
import random
import re
import signal
from collections import Counter
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest

from server import RunningServer, running_server, start_server

JST = timezone(timedelta(hours=9))
N_EVENTS = 2000
N_ACCOUNTS = 40
CLIENTS = 8
GET_SAMPLE = 400  # acknowledged ids read back one by one (all of them are checked through the list)


def _event(i: int, base: datetime) -> dict[str, Any]:
    account = f"dur-acct-{i % N_ACCOUNTS:02d}"
    at = (base + timedelta(milliseconds=40 * i)).astimezone(JST).isoformat()
    common = {"id": f"dur-{i:05d}", "occurred_at": at, "account_id": account,
              "ip": f"153.156.{i % 7}.{10 + i % 50}", "device_id": f"dev-{i % N_ACCOUNTS}-{i % 3}"}
    kind = i % 6
    if kind == 0:
        return {**common, "type": "login", "result": "success", "method": "passkey"}
    if kind == 1:
        return {**common, "type": "login", "result": "failure", "method": "password",
                "failure_reason": "bad_credential", "device_id": f"stranger-{i % 5}", "ip": "3.112.1.1"}
    if kind == 2:
        return {**common, "type": "order", "order_id": f"o-{i}", "side": "buy" if i % 4 else "sell",
                "symbol": "7203", "market": "TSE", "quantity": "100", "price": "2850", "order_type": "limit"}
    if kind == 3:
        return {**common, "type": "settings_change", "setting": "email", "new_value_fingerprint": f"fp-{i % 9}"}
    if kind == 4:
        return {**common, "type": "crypto_withdrawal", "transfer_id": f"t-{i}", "asset": "BTC",
                "chain": "bitcoin", "address": f"bc1qdest{i % 11}", "amount": "0.01", "amount_jpy": "150000"}
    return {**common, "type": "logout"}


def _summary(body: dict[str, Any]) -> tuple[str, int, list[str]]:
    """What a decision says, in the shape both endpoints share."""
    rules = [r if isinstance(r, str) else r["id"] for r in body["rules"]]
    return body["decision"], body["score"], rules


def _chunks(events: list[dict[str, Any]], rng: random.Random) -> list[list[dict[str, Any]]]:
    """Single events (sent to /v1/decisions) and small batches (/v1/events), mixed."""
    out, i = [], 0
    while i < len(events):
        size = 1 if rng.random() < 0.7 else rng.randint(2, 8)
        out.append(events[i:i + size])
        i += size
    return out


async def _send_until_killed(server: RunningServer, chunks: list[list[dict[str, Any]]], kill_after: int,
                             ) -> tuple[dict[str, dict[str, Any]], bool, list[str]]:
    """Send ``chunks`` from several clients and SIGKILL the server once ``kill_after`` requests were
    acknowledged. Returns the acknowledged decisions by event id, whether the kill happened, and
    any non-200 answer seen before it."""
    queue: asyncio.Queue[list[dict[str, Any]]] = asyncio.Queue()
    for chunk in chunks:
        queue.put_nowait(chunk)
    acked: dict[str, dict[str, Any]] = {}
    problems: list[str] = []
    state = {"acks": 0, "killed": False}

    async def client() -> None:
        async with httpx.AsyncClient(base_url=server.url, headers=server.headers(), trust_env=False,
                                     timeout=30) as http:
            while not queue.empty():
                chunk = queue.get_nowait()
                try:
                    if len(chunk) == 1:
                        r = await http.post("/v1/decisions", json=chunk[0])
                    else:
                        r = await http.post("/v1/events", json={"events": chunk})
                except httpx.HTTPError:
                    if not state["killed"]:
                        problems.append("transport error before the kill")
                    return
                if r.status_code != 200:
                    if not state["killed"]:
                        problems.append(f"{r.status_code}: {r.text[:200]}")
                    continue
                body = r.json()
                for item in ([body] if len(chunk) == 1 else body["results"]):
                    acked[item["event_id"]] = item
                state["acks"] += 1
                if state["acks"] >= kill_after and not state["killed"]:
                    state["killed"] = True
                    os.kill(server.pid, signal.SIGKILL)  # requests of the other clients are in flight

    await asyncio.gather(*(client() for _ in range(CLIENTS)))
    return acked, bool(state["killed"]), problems


async def _get_all(server: RunningServer, ids: list[str]) -> dict[str, httpx.Response]:
    sem = asyncio.Semaphore(16)
    async with httpx.AsyncClient(base_url=server.url, headers=server.headers(), trust_env=False,
                                 timeout=30, limits=httpx.Limits(max_connections=16)) as http:
        async def one(event_id: str) -> tuple[str, httpx.Response]:
            async with sem:
                return event_id, await http.get(f"/v1/decisions/{event_id}")

        return dict(await asyncio.gather(*(one(e) for e in ids)))


def _stored(api: httpx.Client, account: str) -> list[dict[str, Any]]:
    """Every stored decision of ``account`` (following the cursor)."""
    rows: list[dict[str, Any]] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"account_id": account, "limit": 1000, **({"cursor": cursor} if cursor else {})}
        r = api.get("/v1/decisions", params=params)
        assert r.status_code == 200, r.text
        rows += r.json()["decisions"]
        cursor = r.json()["next_cursor"]
        if cursor is None:
            return rows


def _stored_ids(api: httpx.Client, account: str) -> list[str]:
    return [d["event_id"] for d in _stored(api, account)]


def _restored_count(server: RunningServer) -> int:
    """Events in the restored engine state: covered by the snapshot plus replayed after it."""
    match = re.search(r"state from snapshot up to event #(\d+), (\d+) events replayed", server.log())
    assert match, server.log()[-2000:]
    return int(match.group(1)) + int(match.group(2))


@pytest.mark.slow
def test_nothing_acknowledged_is_lost_when_killed_mid_stream(tmp_path: Path) -> None:
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    why = f"(random seed {seed})"
    base = datetime.now(UTC) - timedelta(hours=2)
    events = [_event(i, base) for i in range(N_EVENTS)]
    by_id = {e["id"]: e for e in events}
    data = tmp_path / "data"

    chunks = _chunks(events, rng)
    server = start_server(data)
    try:
        kill_after = rng.randint(len(chunks) // 20, len(chunks) * 4 // 5)  # anywhere in the stream
        acked, killed, problems = asyncio.run(_send_until_killed(server, chunks, kill_after))
    finally:
        server.kill()
    assert killed, f"the stream ended before the kill point {why}"
    assert problems == [], f"{problems[:5]} {why}"
    assert acked and len(acked) < N_EVENTS, why

    server = start_server(data)
    try:
        # Every acknowledged event is stored, with the decision that was acknowledged ...
        with server.client() as api:
            stored = {d["event_id"]: d for a in range(N_ACCOUNTS) for d in _stored(api, f"dur-acct-{a:02d}")}
        stored_before = set(stored)
        lost = sorted(set(acked) - stored_before)
        assert lost == [], f"{len(lost)} acknowledged events lost, e.g. {lost[:5]} {why}"
        assert _restored_count(server) == len(stored_before), why
        for event_id, ack in acked.items():
            assert _summary(stored[event_id]) == _summary(ack), f"{event_id} {why}"
        # ... and can be read back one by one.
        sample = sorted(acked) if len(acked) <= GET_SAMPLE else rng.sample(sorted(acked), GET_SAMPLE)
        responses = asyncio.run(_get_all(server, sample))
        for event_id, r in responses.items():
            assert r.status_code == 200, f"{event_id}: {r.text[:300]} {why}"
            assert _summary(r.json()) == _summary(acked[event_id]), f"{event_id} {why}"
            if "features" in acked[event_id]:  # a single-event answer: the whole body is the stored one
                assert r.json() == acked[event_id], f"{event_id} {why}"

        with server.client() as api:

            # Resend everything: what is stored comes back as a duplicate with its decision, the
            # rest is accepted now.
            results: dict[str, dict[str, Any]] = {}
            for i in range(0, N_EVENTS, 200):
                r = api.post("/v1/events", json={"events": events[i:i + 200]})
                assert r.status_code == 200, f"{r.text[:500]} {why}"
                body = r.json()
                for item in body["results"]:
                    results[item["event_id"]] = item
            assert set(results) == set(by_id)
            for event_id, item in results.items():
                assert item["duplicate"] is (event_id in stored_before), f"{event_id} {why}"
                if event_id in acked:
                    assert _summary(item) == _summary(acked[event_id]), f"{event_id} {why}"

            # Nothing is stored twice, nothing is missing.
            per_account = Counter(e["account_id"] for e in events)
            for account, expected in per_account.items():
                ids = _stored_ids(api, account)
                assert len(ids) == len(set(ids)) == expected, f"{account} {why}"
            # A second resend is all duplicates.
            again = api.post("/v1/events", json={"events": events[:200]}).json()
            assert again["duplicates"] == 200 and again["accepted"] == 0
        assert "Traceback" not in server.log()
    finally:
        server.stop()

    # And the store survives a clean restart with the same contents.
    server = start_server(data)
    try:
        assert _restored_count(server) == N_EVENTS
    finally:
        server.stop()


def _failure(account: str, i: int, at: datetime) -> dict[str, Any]:
    return {"id": f"{account}-fail-{i}", "type": "login", "occurred_at": at.astimezone(JST).isoformat(),
            "account_id": account, "result": "failure", "method": "password", "failure_reason": "bad_credential",
            "ip": "3.112.1.1", "device_id": "attacker-box"}


def _rules(body: dict[str, Any]) -> set[str]:
    return {r["id"] for r in body["rules"]}


@pytest.mark.slow
@pytest.mark.parametrize("how", ["kill", "stop"])
def test_restart_restores_feature_state(tmp_path: Path, how: str) -> None:
    data = tmp_path / "data"
    account = f"restart-{how}"
    t0 = datetime.now(UTC) - timedelta(minutes=5)
    home = {"type": "login", "account_id": account, "result": "success", "method": "passkey",
            "ip": "153.156.77.8", "device_id": "home-pc"}
    server = start_server(data)
    try:
        with server.client() as api:
            first = api.post("/v1/decisions", json={**home, "id": f"{account}-home-1",
                                                    "occurred_at": (t0 - timedelta(days=3)).isoformat()})
            assert first.json()["decision"] == "allow"
            for i in range(4):
                body = api.post("/v1/decisions", json=_failure(account, i, t0 + timedelta(seconds=10 * i))).json()
                assert "LOGIN-LOCK-001" not in _rules(body), body
    finally:
        server.kill() if how == "kill" else server.stop()

    server = start_server(data)
    try:
        assert _restored_count(server) == 5
        with server.client() as api:
            # Idempotency survived: a resent failure is a duplicate and is not counted again.
            again = api.post("/v1/decisions", json=_failure(account, 3, t0 + timedelta(seconds=30))).json()
            assert again["duplicate"] is True
            assert "LOGIN-LOCK-001" not in _rules(again)
            # The failure window survived: the 5th failure locks, and so does the 6th.
            fifth = api.post("/v1/decisions", json=_failure(account, 4, t0 + timedelta(seconds=40))).json()
            assert "LOGIN-LOCK-001" in _rules(fifth), fifth
            assert fifth["decision"] == "block"
            lock = next(r for r in fifth["rules"] if r["id"] == "LOGIN-LOCK-001")
            assert lock["values"]["login_locked"] is True
            sixth = api.post("/v1/decisions", json=_failure(account, 5, t0 + timedelta(seconds=50))).json()
            assert "LOGIN-LOCK-001" in _rules(sixth)
            assert sixth["decision"] == "block"
            # Known devices survived too: the home PC is not a new device after the restart.
            back = api.post("/v1/decisions", json={**home, "id": f"{account}-home-2",
                                                   "occurred_at": (t0 + timedelta(minutes=2)).isoformat()}).json()
            assert back["features"]["new_device"] is False, back
            assert back["decision"] == "allow"
    finally:
        server.stop()


@pytest.mark.slow
def test_a_clean_stop_writes_a_snapshot_and_the_restart_replays_only_newer_events(tmp_path: Path) -> None:
    """Given a server that decided events and stopped cleanly, when it restarts, then its state comes
    from the snapshot (nothing replayed), later events are replayed on top, and a corrupt snapshot is
    ignored in favour of a full rebuild."""
    def send(server: RunningServer, ids: range) -> None:
        with server.client(server.admin_key) as c:
            for i in ids:
                r = c.post("/v1/decisions", json={
                    "id": f"snap-{i}", "type": "login", "account_id": "acct-snap", "result": "failure",
                    "method": "password", "ip": "153.156.1.1", "device_id": "dev-x",
                    "occurred_at": f"2026-03-02T10:00:{i:02d}+09:00"})
                assert r.status_code == 200, r.text

    with running_server(tmp_path) as server:
        send(server, range(0, 4))
        server.stop()
    assert (tmp_path / "engine.snapshot").exists()
    with running_server(tmp_path) as server:
        assert re.search(r"snapshot up to event #4, 0 events replayed", server.log())
        send(server, range(4, 5))
        with server.client(server.admin_key) as c:
            fifth = c.get("/v1/decisions/snap-4").json()
        assert "LOGIN-LOCK-001" in [r["id"] for r in fifth["rules"]]  # the 4 earlier failures came from the snapshot
        server.kill()
    (tmp_path / "engine.snapshot").write_bytes(b"MAMORI-ENGINE-SNAPSHOT 1\n{\"seq\": 1, \"sha256\": \"00\"}\ngarbage")
    with running_server(tmp_path) as server:
        assert re.search(r"snapshot up to event #0, 5 events replayed", server.log())
        assert "not used (checksum mismatch)" in server.log()


def test_the_data_directory_is_private_to_its_owner(tmp_path: Path) -> None:
    """Given a fresh data directory, when the server starts and stops, then the directory, the
    initial key and the snapshot are readable by the owner only."""
    from mamori.kit.settings import ensure_private_dir

    created = tmp_path / "a" / "new"
    ensure_private_dir(created)
    assert (created.stat().st_mode & 0o777) == 0o700  # a directory mamori creates itself
    data = tmp_path / "fresh"
    with running_server(data) as server:
        server.stop()
    assert ((data / "initial-api-key").stat().st_mode & 0o777) == 0o600
    assert ((data / "engine.snapshot").stat().st_mode & 0o777) == 0o600
