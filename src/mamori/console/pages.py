"""Mount the console: static files, sign-in/enrolment/sign-out, the language switch and every page.

``register_console`` is the one call ``create_app`` makes; it returns the :class:`ConsoleShell`,
also kept at ``app.state.console_shell`` for page modules added later (see the package docstring).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool

from mamori.adapters.geo import GeoProvider
from mamori.adapters.sql.store import SqlStore
from mamori.api.auth import Principal
from mamori.api.same_origin import same_origin_json, text_field
from mamori.cases import CasesService
from mamori.console.security import ConsoleGate
from mamori.console.text import LANG_COOKIE, LANGS
from mamori.console.web import HERE, NAV, ConsoleShell, LoginRedirect, NavItem, PageForbidden, add_nav

DEFAULT_PAGE = "/console/"  # redirects to the first page the role may open


@dataclass(frozen=True, slots=True)
class ConsolePorts:
    """What the pages read, as getters (the services exist only once the app has started)."""

    cases: Callable[[], CasesService]
    store: Callable[[], SqlStore]
    geo: Callable[[], GeoProvider | None]


def safe_next(value: str | None) -> str:
    """Only a console path on this origin (no open redirect)."""
    if not value or not value.startswith("/console/") or value.startswith("//") or "\\" in value \
            or any(ord(c) < 0x20 for c in value) or len(value) > 2048:
        return DEFAULT_PAGE
    return value


def json_response(body: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json",
                    headers={"Cache-Control": "no-store"})


async def json_body(request: Request, gate: ConsoleGate) -> dict[str, Any]:
    """A small JSON body from this origin only (sign-in calls, before there is a session and its token)."""
    return await same_origin_json(request, (gate.origin,))


def register_console(app: FastAPI, gate: ConsoleGate, ports: ConsolePorts,
                     principal: Callable[[Request, str], Principal]) -> ConsoleShell:
    from mamori.console.pages_account import register_account_pages
    from mamori.console.pages_admin import register_admin_pages
    from mamori.console.pages_cases import register_case_pages
    from mamori.console.pages_home import register_home

    shell = ConsoleShell(gate)
    app.state.console_shell = shell
    app.mount("/console/static", StaticFiles(directory=HERE / "static"), name="console-static")

    @app.exception_handler(LoginRedirect)
    async def to_login(_request: Request, exc: LoginRedirect) -> Response:
        return RedirectResponse(f"/console/login?next={_quote(exc.next_path)}", status_code=303)

    @app.exception_handler(PageForbidden)
    async def forbidden(request: Request, exc: PageForbidden) -> Response:
        return shell.render(request, exc.ctx, "message.html", title_key="forbidden_title", status=403,
                            lead_key="forbidden_lead", scope=exc.scope)

    _register_sign_in(app, shell, gate)
    register_home(app, shell, ports)
    register_case_pages(app, shell, ports)
    register_account_pages(app, shell, ports)
    register_admin_pages(app, shell, ports, principal)
    return shell


def _quote(path: str) -> str:
    from urllib.parse import quote

    return quote(path, safe="/")


def _register_sign_in(app: FastAPI, shell: ConsoleShell, gate: ConsoleGate) -> None:
    def client(request: Request) -> tuple[str | None, str | None]:
        return (request.client.host if request.client else None), request.headers.get("user-agent")

    @app.get("/console", include_in_schema=False)
    @app.get("/console/", include_in_schema=False)
    async def home(request: Request) -> Response:
        ctx = await shell.page(request, None)
        first = next((n.path for n in NAV if n.scope is None or ctx.can(n.scope)), "/console/dashboard")
        return RedirectResponse(first, status_code=303)

    @app.get("/console/login", include_in_schema=False)
    async def login_page(request: Request) -> Response:
        return shell.render(request, None, "login.html", title_key="login_title",
                            next=safe_next(request.query_params.get("next")),
                            enrolled=request.query_params.get("enrolled") == "1")

    @app.get("/console/enrol", include_in_schema=False)
    async def enrol_page(request: Request) -> Response:
        return shell.render(request, None, "enrol.html", title_key="enrol_title")

    @app.get("/console/lang", include_in_schema=False)
    async def switch_language(request: Request) -> Response:
        lang = request.query_params.get("to")
        response = RedirectResponse(safe_next(request.query_params.get("next")), status_code=303)
        if lang in LANGS:
            response.set_cookie(LANG_COOKIE, lang, max_age=400 * 86400, httponly=True, secure=gate.secure,
                                samesite="strict", path="/")
        return response

    @app.post("/console/api/login/options", include_in_schema=False)
    async def login_options(request: Request) -> Response:
        await json_body(request, gate)
        flow, options = gate.get_service().login_options()
        return json_response({"flow": flow, "publicKey": options})

    @app.post("/console/api/login", include_in_schema=False)
    async def login(request: Request) -> Response:
        data = await json_body(request, gate)
        ip, agent = client(request)
        signed = await run_in_threadpool(lambda: gate.get_service().login(
            text_field(data, "flow"), data.get("credential"), ip=ip, user_agent=agent,
            previous_token=request.cookies.get(gate.cookie)))
        response = json_response({"redirect": safe_next(data.get("next") if isinstance(data.get("next"), str)
                                                        else None)})
        gate.set_cookie(response, signed.token)
        return response

    @app.post("/console/api/enrol/options", include_in_schema=False)
    async def enrol_options(request: Request) -> Response:
        data = await json_body(request, gate)
        flow, options = await run_in_threadpool(
            gate.get_service().enrol_options, text_field(data, "login_id", 64), text_field(data, "code", 64))
        return json_response({"flow": flow, "publicKey": options})

    @app.post("/console/api/enrol", include_in_schema=False)
    async def enrol(request: Request) -> Response:
        data = await json_body(request, gate)
        name = data.get("name") if isinstance(data.get("name"), str) else "passkey"
        await run_in_threadpool(gate.get_service().enrol, text_field(data, "flow"), data.get("credential"), str(name))
        return json_response({"redirect": "/console/login?enrolled=1"})

    @app.post("/console/api/logout", include_in_schema=False)
    async def logout(request: Request) -> Response:
        signed = await gate.require_form(request)  # JSON with the header, or a plain form with the field
        await run_in_threadpool(gate.get_service().logout, signed.token)
        response = json_response({"redirect": "/console/login"})
        gate.clear_cookie(response)
        return response


for _item in (NavItem("dashboard", "/console/dashboard", "nav_dashboard", "reports:read", 10),
              NavItem("cases", "/console/cases", "nav_cases", "cases:read", 20),
              NavItem("account", "/console/accounts", "nav_account", "cases:read", 30),
              NavItem("reports", "/console/reports", "nav_reports", "reports:read", 60),
              NavItem("audit", "/console/audit", "nav_audit", "audit:read", 80),
              NavItem("operators", "/console/operators", "nav_operators", "operators:admin", 90)):
    add_nav(_item)
