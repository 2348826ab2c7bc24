"""Console pages on a large store: ``python -m mamori.bench.console_bench [--events N] [--hot N] [--cases N]``.

The store is filled like ``mamori bench timeline`` (:func:`mamori.bench.timeline_bench.fill`: the
benchmark stream decided by the engine, one *hot* account with ``--hot`` events including a takeover),
cases are filed from its alerts and topped up to ``--cases`` account cases (a quarter of them with an
overdue or soon-due victim contact). The console is mounted on a bare FastAPI app (no engine start-up,
which would replay the whole stream) exactly as ``create_app`` mounts it, an operator session is opened,
and each page is fetched in-process and timed server-side (wall clock, including the audit write and
the template): the hot account's investigation page (newest 200 events with decisions, fired rules and
feature values; overview; linked accounts), the case list (first page, and red SLA only), one case,
the dashboard and the audit log. Figures printed; nothing asserted (this is a benchmark, not a test).

Last line: ``console events=<n> cases=<n> account_page_p95_ms=<x> cases_page_p95_ms=<y>``.
"""

from __future__ import annotations

import argparse
import platform
import secrets
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from sqlalchemy import func, insert, select

with warnings.catch_warnings():  # Starlette's notice about httpx2; the in-process client is all we need
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from mamori.adapters.geo import open_geo_provider
from mamori.adapters.sql.store import SqlStore, now_us
from mamori.api.auth import Principal
from mamori.bench.timeline_bench import HOT, fill
from mamori.cases import CasesService
from mamori.cases.store import cases
from mamori.console.pages import ConsolePorts, register_console
from mamori.console.security import ConsoleGate
from mamori.console.setup import build_console
from mamori.investigate.common import ensure_schema
from mamori.investigate.linkindex import refresh_link_index
from mamori.kit.errors import MamoriError
from mamori.kit.runtime import tune_gc
from mamori.kit.settings import Settings

ORIGIN = "http://localhost:8600"
HOUR_US = 3_600_000_000


def _top_up_cases(store: SqlStore, target: int) -> int:
    """Synthetic open account cases (one per made-up account) until the store holds ``target`` cases."""
    now = now_us()
    with store.engine.begin() as conn:
        have = int(conn.execute(select(func.count()).select_from(cases)).scalar_one())
        rows = []
        for i in range(max(0, target - have)):
            due = now + ((i % 8) - 2) * 6 * HOUR_US if i % 4 == 0 else None  # some overdue, some due soon
            rows.append({"kind": "account", "key": f"bench-{i:06d}", "title": f"Account bench-{i:06d}",
                         "state": ("open", "investigating", "waiting_customer", "escalated")[i % 4],
                         "disposition": None, "priority": 1 + i % 4, "assignee": f"op{i % 20}" if i % 3 else None,
                         "due_at_us": now + (i % 50 - 10) * HOUR_US, "created_at_us": now, "updated_at_us": now,
                         "closed_at_us": None, "first_alert_at_us": now - HOUR_US, "last_alert_at_us": now,
                         "alert_count": 1 + i % 5, "account_count": 1, "max_score": 50 + i % 200,
                         "next_contact_due_at_us": due, "last_contact_at_us": None})
        for start in range(0, len(rows), 5000):
            conn.execute(insert(cases), rows[start:start + 5000])
        return have + len(rows)


def _app(store: SqlStore, cases_service: CasesService, data_dir: Path) -> tuple[FastAPI, str]:
    settings = Settings(data_dir=data_dir, console_origin=ORIGIN)
    console = build_console(settings, store)
    gate = ConsoleGate(lambda: console, origin=ORIGIN)
    geo = open_geo_provider()

    def principal(request: Request, scope: str) -> Principal:
        p = gate.principal(request)
        p.require(scope)
        return p

    app = FastAPI()

    @app.exception_handler(MamoriError)
    async def on_error(_request: Request, exc: MamoriError) -> Any:
        from fastapi.responses import JSONResponse

        return JSONResponse(exc.to_dict(), status_code=exc.http_status)

    register_console(app, gate, ConsolePorts(cases=lambda: cases_service, store=lambda: store, geo=lambda: geo),
                     principal)
    # An operator who may open every page but the operators page, with a session opened directly (the
    # passkey ceremony is measured by ``mamori bench auth``, not here).
    console.store.create(login_id="bench", name="Bench", role="compliance", user_handle=secrets.token_hex(16),
                         now_us=now_us())
    token = secrets.token_urlsafe(32)
    console.store.create_session(token=token, session_id=secrets.token_urlsafe(16), login_id="bench",
                                 now_us=now_us(), expires_at_us=now_us() + 8 * 3600 * 10**6, ip=None, user_agent=None)
    return app, token


def _percentile(sorted_values: list[float], q: float) -> float:
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))] if sorted_values else 0.0


def _time(client: TestClient, path: str, repeats: int) -> tuple[float, float, int]:
    samples = []
    size = 0
    for _ in range(repeats):
        t0 = time.perf_counter()
        response = client.get(path)
        samples.append((time.perf_counter() - t0) * 1000)
        if response.status_code != 200:
            raise RuntimeError(f"{path}: HTTP {response.status_code}: {response.text[:300]}")
        size = len(response.content)
    samples.sort()
    return _percentile(samples, 0.5), _percentile(samples, 0.95), size


def run(n_events: int = 1_000_000, hot_events: int = 10_000, n_cases: int = 10_000, *, repeats: int = 10,
        seed: int = 7) -> dict[str, Any]:
    tune_gc()
    out: dict[str, Any] = {"python": platform.python_version(), "machine": platform.machine()}
    with tempfile.TemporaryDirectory(prefix="mamori-console-bench-") as tmp:
        store = SqlStore(f"sqlite:///{Path(tmp) / 'bench.db'}", synchronous="OFF")
        try:
            out.update(fill(store, n_events, hot_events, seed))
            ensure_schema(store.engine)
            cases_service = CasesService(store, Path(tmp) / "cases")
            t0 = time.perf_counter()
            try:
                cases_service.refresh()
                out["case_filing"] = "ok"
            except Exception as exc:  # a filing bug must not hide the page figures
                out["case_filing"] = f"failed: {type(exc).__name__}: {str(exc).splitlines()[0][:160]}"
            out["case_filing_s"] = time.perf_counter() - t0
            out["cases"] = _top_up_cases(store, n_cases)
            t0 = time.perf_counter()
            refresh_link_index(store.engine, settle_s=0)  # as a running server keeps it current
            out["link_index_build_s"] = time.perf_counter() - t0
            app, token = _app(store, cases_service, Path(tmp))
            with TestClient(app, base_url=ORIGIN) as client:
                client.cookies.set("mamori_console", token)
                first_case = client.get("/console/cases").text.split('href="/console/cases/', 1)[1].split('"', 1)[0]
                client.get(f"/console/accounts/{HOT}")  # warm-up
                pages = {"account_page": f"/console/accounts/{HOT}", "cases_page": "/console/cases",
                         "cases_red_page": "/console/cases?sla=red", "case_page": f"/console/cases/{first_case}",
                         "dashboard_page": "/console/dashboard", "audit_page": "/console/audit"}
                for name, path in pages.items():
                    p50, p95, size = _time(client, path, repeats)
                    out.update({f"{name}_p50_ms": p50, f"{name}_p95_ms": p95, f"{name}_bytes": size})
        finally:
            store.close()
    return out


def report(r: dict[str, Any]) -> list[str]:
    lines = [f"store: {r['events']} events (filled in {r['fill_s']:.0f} s), {r['cases']} cases "
             f"(filing {r['case_filing']}, {r['case_filing_s']:.1f} s); link index {r['link_index_build_s']:.0f} s; "
             f"python {r['python']} on {r['machine']}"]
    for name in ("account_page", "cases_page", "cases_red_page", "case_page", "dashboard_page", "audit_page"):
        lines.append(f"{name:<15} p50 {r[f'{name}_p50_ms']:8.1f} ms   p95 {r[f'{name}_p95_ms']:8.1f} ms   "
                     f"{r[f'{name}_bytes'] / 1024:7.0f} KiB")
    lines.append(f"console events={r['events']} cases={r['cases']} account_page_p95_ms={r['account_page_p95_ms']:.1f} "
                 f"cases_page_p95_ms={r['cases_page_p95_ms']:.1f}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--hot", type=int, default=10_000)
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args()
    for line in report(run(args.events, args.hot, args.cases, repeats=args.repeats)):
        print(line, flush=True)


if __name__ == "__main__":
    main()
