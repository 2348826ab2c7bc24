"""``mamori bench auth``: the login service's three costs on this machine.

* ``passkey_login_p95_ms`` — the full server side of a passkey login, in process, on the embedded
  default (SQLite, ``synchronous=FULL``): challenge issue and lookup, assertion verification,
  signature-counter compare-and-set, the login event through the risk engine (durable), and the
  session write. The software authenticator's signing time is not counted (it is the customer's
  device). Target p95 ≤ 20 ms.
* ``password_verifications_per_s`` — Argon2id verifications per second on one core at the OWASP
  minimum (m=19 MiB, t=2, p=1). Target ≥ 50.
* ``throttle_decisions_per_s`` — pre-hash source-throttle decisions per second on one core.
  Target ≥ 20,000.
"""

from __future__ import annotations

import asyncio
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

from mamori.auth.passwords import bench_password_verifications
from mamori.auth.sessions import ClientInfo
from mamori.auth.setup import build_auth_service
from mamori.auth.throttle import bench_throttle
from mamori.bench.engine_bench import percentile
from mamori.bench.softauthn import SoftAuthenticator
from mamori.kit.settings import Settings
from mamori.risk.service import RiskService

ORIGIN = "http://localhost:8600"


async def _passkey_logins(data_dir: Path, n: int) -> list[int]:
    settings = Settings(data_dir=data_dir, auth_origin=ORIGIN)
    risk = RiskService.open(settings)
    try:
        auth = build_auth_service(settings, risk)
        await auth.create_customer(account_id="BENCH-1", login_id="bench", segment=None, password=None,
                                   transition_days=None, actor="bench")
        authenticator = SoftAuthenticator(ORIGIN)
        customer = auth.store.customer("BENCH-1")
        flow, options = "bench", auth.rp.registration_options(customer, [], b"\x01" * 32)
        key = auth.rp.verify_registration(authenticator.create(options), b"\x01" * 32, account_id="BENCH-1",
                                          name="bench", now_us=time.time_ns() // 1000)
        auth.store.add_passkey(key)
        client = ClientInfo(ip="153.156.10.20", user_agent="Mozilla/5.0 bench", device_id="dbench-device-0001")
        latencies = []
        for _ in range(n):
            t0 = time.perf_counter_ns()
            flow, options = auth.passkey_login_options()
            t1 = time.perf_counter_ns()
            credential = authenticator.get(options)
            t2 = time.perf_counter_ns()
            step = await auth.passkey_login(flow, credential, client)
            t3 = time.perf_counter_ns()
            assert step.session_token is not None
            latencies.append((t1 - t0) + (t3 - t2))
        await risk.drain()
        return latencies
    finally:
        risk.close()


def run(n_logins: int = 500, *, password_seconds: float = 3.0, throttle_seconds: float = 2.0) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="mamori-bench-auth-") as tmp:
        latencies = sorted(asyncio.run(_passkey_logins(Path(tmp), n_logins)))
    return {
        "machine": f"{platform.machine()} {platform.processor() or ''} {platform.python_implementation()} "
                   f"{platform.python_version()}".strip(),
        "logins": len(latencies),
        "passkey_login_p50_ms": percentile(latencies, 0.50) / 1e6,
        "passkey_login_p95_ms": percentile(latencies, 0.95) / 1e6,
        "passkey_login_p99_ms": percentile(latencies, 0.99) / 1e6,
        "password_verifications_per_s": bench_password_verifications(password_seconds),
        "throttle_decisions_per_s": bench_throttle(throttle_seconds),
    }
