"""The dashboard: live counters (logins, challenges, locks, held orders and withdrawals, alerts) from
:func:`mamori.investigate.figures.live_counters`, cases by state and the victim-contact SLA.

Aggregates only (no personal data), so viewing it is not audited, like ``GET /v1/reports/live``.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response
from sqlalchemy import Engine, func, select
from starlette.concurrency import run_in_threadpool

from mamori.adapters.sql.store import now_us
from mamori.cases.model import CaseState, Sla
from mamori.cases.queries import sla_condition
from mamori.cases.store import cases
from mamori.console.pages import ConsolePorts
from mamori.console.web import ConsoleShell
from mamori.investigate.figures import live_counters

COUNTERS = ("login_attempts", "challenges", "login_blocks", "lockouts", "held_orders", "held_withdrawals", "alerts",
            "freezes")
WINDOWS = ("last_hour", "last_24h", "today_jst")


def case_counts(engine: Engine, now: int) -> dict[str, Any]:
    """Cases by state, and open cases whose next victim contact is overdue (red) or due soon (amber)."""
    open_ = cases.c.state != CaseState.CLOSED.value
    with engine.connect() as conn:
        by_state = {str(s): int(n) for s, n in conn.execute(select(cases.c.state, func.count())
                                                            .group_by(cases.c.state)).all()}
        red = int(conn.execute(select(func.count()).select_from(cases)
                               .where(open_, sla_condition(Sla.RED, now))).scalar_one())
        amber = int(conn.execute(select(func.count()).select_from(cases)
                                 .where(open_, sla_condition(Sla.AMBER, now))).scalar_one())
    return {"by_state": {s.value: by_state.get(s.value, 0) for s in CaseState}, "sla_red": red, "sla_amber": amber}


def register_home(app: FastAPI, shell: ConsoleShell, ports: ConsolePorts) -> None:
    @app.get("/console/dashboard", include_in_schema=False)
    async def dashboard(request: Request) -> Response:
        ctx = await shell.page(request, "reports:read")
        engine = ports.store().engine
        live = await run_in_threadpool(live_counters, engine)
        counts = await run_in_threadpool(case_counts, engine, now_us())
        return shell.render(request, ctx, "dashboard.html", title_key="dashboard_title", live=live,
                            counters=COUNTERS, windows=WINDOWS, case_counts=counts)
