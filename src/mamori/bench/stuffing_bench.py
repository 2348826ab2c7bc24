"""``mamori bench stuffing``: a credential-stuffing burst against mamori's own login service.

A bounded load test on loopback (issue 3: ≥ 1,000 login attempts/s; zero attacker logins past the
thresholds; decisions within target). ``mamori serve`` runs on a fresh data directory with a
policy under which a correct password alone opens a session (the worst case a firm in transition
can have), 300 customers with passwords and 40 with passkeys. Then, for ``seconds``:

* the attacker replays a combo list — 3 % of its pairs are real leaked passwords, the rest wrong or
  unknown login ids — at ``rate`` attempts/s from 16 addresses in two /24 networks, over keep-alive
  connections (the firm's proxy names each address in ``X-Forwarded-For``);
* customers sign in with their passkeys from their own residential addresses, ~20 per second.

Reported: attempts and the rate achieved, answers by status, attacker sessions (total, and after
the first refusal of that address — the figure that must be zero), the p99 of the throttle's
refusals (the decision path under attack) and of all attack answers (the first attempts of each
address queue behind Argon2id: that is the attacker's wait, by design), and the legitimate passkey
logins' p95. Last line: ``stuffing attempts_per_s=<n> attacker_logins_after_throttle=<k>
refused_p99_ms=<x> legit_passkey_p95_ms=<y>``.
"""

from __future__ import annotations

import asyncio
import platform
import random
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import orjson

from mamori.bench.engine_bench import percentile
from mamori.bench.http_bench import _free_port, start_server
from mamori.bench.softauthn import SoftAuthenticator

PASSWORD_OF = "Leaked-pass {i} kabu!"  # noqa: S105 (the benchmark's synthetic customers)
POLICY = "passkey_required: none\ntransition:\n  second_factor_required: false\n"
ATTACKER_IPS = [f"45.83.{net}.{host}" for net in (10, 11) for host in range(10, 18)]


def _json_post(path: str, host: str, body: bytes, origin: str, ip: str, cookie: str = "") -> bytes:
    extra = f"Cookie: {cookie}\r\n" if cookie else ""
    return (f"POST {path} HTTP/1.1\r\nHost: {host}\r\nOrigin: {origin}\r\nContent-Type: application/json\r\n"
            f"X-Forwarded-For: {ip}\r\n{extra}Content-Length: {len(body)}\r\n\r\n").encode() + body


async def _read_response(reader: asyncio.StreamReader) -> int:
    status = int((await reader.readline()).split(b" ", 2)[1])
    length = 0
    while (line := await reader.readline()) not in (b"\r\n", b""):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    await reader.readexactly(length)
    return status


async def _attacker(port: int, origin: str, combos: list[tuple[str, str]], rate: int, seconds: float,
                    connections: int) -> dict[str, Any]:
    statuses: Counter[int] = Counter()
    latencies: list[int] = []
    refused_latencies: list[int] = []
    refused_at: dict[str, float] = {}
    sessions_after_refusal = 0
    sessions = 0
    interval = connections / rate
    deadline = time.perf_counter() + seconds
    counter = iter(range(10**9))

    async def one(conn: int) -> None:
        nonlocal sessions, sessions_after_refusal
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        next_at = time.perf_counter() + conn * interval / connections
        while (now := time.perf_counter()) < deadline:
            if now < next_at:
                await asyncio.sleep(next_at - now)
            next_at += interval
            i = next(counter)
            login_id, password = combos[i % len(combos)]
            ip = ATTACKER_IPS[i % len(ATTACKER_IPS)]
            body = orjson.dumps({"login_id": login_id, "password": password})
            t0 = time.perf_counter_ns()
            writer.write(_json_post("/auth/api/password/login", "localhost", body, origin, ip))
            status = await _read_response(reader)
            latencies.append(time.perf_counter_ns() - t0)
            statuses[status] += 1
            if status == 429:
                refused_latencies.append(latencies[-1])
                refused_at.setdefault(ip, time.perf_counter())
            elif status == 200:
                sessions += 1
                if ip in refused_at:
                    sessions_after_refusal += 1
        writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(one(c) for c in range(connections)))
    elapsed = time.perf_counter() - started
    return {"statuses": dict(statuses), "attempts": sum(statuses.values()), "elapsed_s": elapsed,
            "latencies": sorted(latencies), "refused_latencies": sorted(refused_latencies), "sessions": sessions,
            "sessions_after_refusal": sessions_after_refusal, "addresses_refused": len(refused_at)}


async def _customers(url: str, origin: str, accounts: list[tuple[str, SoftAuthenticator, str]], seconds: float,
                     per_s: float) -> dict[str, Any]:
    latencies: list[int] = []
    failures = 0
    deadline = time.perf_counter() + seconds
    async with httpx.AsyncClient(base_url=url, trust_env=False, timeout=30) as http:
        i = 0
        while time.perf_counter() < deadline:
            _login_id, authenticator, ip = accounts[i % len(accounts)]
            i += 1
            headers = {"origin": origin, "content-type": "application/json", "x-forwarded-for": ip}
            t0 = time.perf_counter_ns()
            start = (await http.post("/auth/api/passkey/options", content=b"{}", headers=headers)).json()
            t1 = time.perf_counter_ns()
            credential = authenticator.get(start["publicKey"])  # the customer's device, not timed
            t2 = time.perf_counter_ns()
            r = await http.post("/auth/api/passkey/login", headers=headers,
                                content=orjson.dumps({"flow": start["flow"], "credential": credential}))
            latencies.append((t1 - t0) + (time.perf_counter_ns() - t2))
            failures += r.status_code != 200
            await asyncio.sleep(1 / per_s)
    return {"logins": len(latencies), "failures": failures, "latencies": sorted(latencies)}


def _setup(url: str, key: str, origin: str, n_password: int, n_passkey: int
           ) -> tuple[list[tuple[str, str]], list[tuple[str, SoftAuthenticator, str]]]:
    admin = httpx.Client(base_url=url, headers={"authorization": f"Bearer {key}"}, trust_env=False, timeout=60)
    for i in range(n_password + n_passkey):
        r = admin.post("/v1/auth/customers", json={"account_id": f"acct-{i}", "login_id": f"user{i}",
                                                    "password": PASSWORD_OF.format(i=i)})
        r.raise_for_status()
    passkey_users = []
    for i in range(n_password, n_password + n_passkey):
        ip = f"153.{156 + i % 4}.{i % 250}.{10 + i % 200}"
        with httpx.Client(base_url=url, trust_env=False, timeout=60,
                          headers={"origin": origin, "content-type": "application/json",
                                   "x-forwarded-for": ip}) as browser:
            browser.post("/auth/api/password/login",
                         content=orjson.dumps({"login_id": f"user{i}", "password": PASSWORD_OF.format(i=i)})
                         ).raise_for_status()
            start = browser.post("/auth/api/enrol/options", content=b"{}").json()
            authenticator = SoftAuthenticator(origin)
            browser.post("/auth/api/enrol", content=orjson.dumps({
                "flow": start["flow"], "name": "phone",
                "credential": authenticator.create(start["publicKey"])})).raise_for_status()
        passkey_users.append((f"user{i}", authenticator, ip))
    rng = random.Random(7)
    combos = []
    for j in range(50_000):
        i = rng.randrange(n_password * 3)  # two thirds of the ids do not exist here
        leaked = i < n_password and rng.random() < 0.03
        combos.append((f"user{i}", PASSWORD_OF.format(i=i) if leaked else f"guess-{j}"))
    return combos, passkey_users


def run(*, seconds: float = 20.0, rate: int = 1200, connections: int = 64) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="mamori-bench-stuffing-") as tmp:
        port = _free_port()
        origin = f"http://localhost:{port}"
        policy = Path(tmp) / "policy.yaml"
        policy.write_text(POLICY, encoding="utf-8")
        proc, url, key = start_server(Path(tmp) / "data", port=port, env_extra={
            "MAMORI_AUTH_ORIGIN": origin, "MAMORI_AUTH_TRUSTED_PROXIES": "127.0.0.1/32",
            "MAMORI_AUTH_POLICY_PATH": str(policy)})
        try:
            combos, passkey_users = _setup(url, key, origin, 300, 40)

            async def both() -> tuple[dict[str, Any], dict[str, Any]]:
                return await asyncio.gather(_attacker(port, origin, combos, rate, seconds, connections),
                                            _customers(url, origin, passkey_users, seconds, 20.0))
            attack, legit = asyncio.run(both())
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    return {
        "machine": f"{platform.machine()} {platform.python_implementation()} {platform.python_version()}",
        "offered_rate": rate, "attempts": attack["attempts"],
        "attempts_per_s": attack["attempts"] / attack["elapsed_s"],
        "statuses": attack["statuses"], "attacker_sessions": attack["sessions"],
        "attacker_sessions_after_throttle": attack["sessions_after_refusal"],
        "addresses_refused": attack["addresses_refused"],
        "attack_p50_ms": percentile(attack["latencies"], 0.5) / 1e6,
        "attack_p99_ms": percentile(attack["latencies"], 0.99) / 1e6,
        "refused_p99_ms": percentile(attack["refused_latencies"], 0.99) / 1e6,
        "legit_logins": legit["logins"], "legit_failures": legit["failures"],
        "legit_passkey_p95_ms": percentile(legit["latencies"], 0.95) / 1e6,
    }
