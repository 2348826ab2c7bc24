"""Customer-facing login pages and their JSON calls (``/auth/...``), in Japanese and English.

Security of the pages themselves:

* CSRF: every state-changing call is a ``POST`` with a JSON body whose ``Origin`` must be the
  configured origin (OWASP CSRF Prevention Cheat Sheet: "verifying origin with standard headers";
  a cross-site form cannot send ``application/json`` without a CORS preflight that mamori never
  grants), on top of ``SameSite=Lax`` cookies.
* Content-Security-Policy ``default-src 'self'``: no third-party script, style, font or frame; the
  pages work offline on the firm's own origin. ``frame-ancestors 'none'`` against click-jacking.
* Cookies: the session token (``HttpOnly``; ``Secure`` and the ``__Host-`` prefix on https) and a
  random device id, which the risk engine uses to tell the customer's own devices from others.
* ``next`` (where to go after login) must be a path on this origin: no open redirect to a phishing
  site, and no page contains a link to a password-entry page elsewhere.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import secrets
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import orjson
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, select_autoescape

from mamori.api.same_origin import same_origin_json, text_field
from mamori.auth.client_ip import client_ip
from mamori.auth.oidc import LoginContext
from mamori.auth.service import AuthService, LoginStep, passkey_view
from mamori.auth.sessions import ClientInfo
from mamori.auth.store import SessionRow
from mamori.auth.text import TEXT, choose_language
from mamori.kit.errors import InvalidRequest, LoginThrottled, MamoriError, Unauthenticated
from mamori.kit.settings import Settings

WEB = Path(__file__).resolve().parent.parent / "auth" / "web"
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'")
DEVICE_COOKIE = "mamori_device"
DEFAULT_NEXT = "/auth/account"
_DEVICE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{15,63}")  # also a valid event ``device_id``


def safe_next(value: str | None) -> str:
    """Only a path on this origin: ``/x`` but not ``//evil``, ``/\\evil`` or ``https://...``."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value \
            or any(ord(c) < 0x20 for c in value) or len(value) > 2048:
        return DEFAULT_NEXT
    return value


def register_auth_pages(app: FastAPI, get_auth: Callable[[], AuthService], settings: Settings,
                        trusted_proxies: list[ipaddress.IPv4Network | ipaddress.IPv6Network]
                        ) -> Callable[[Request], Awaitable[LoginContext | None]]:
    """Mount the pages; returns ``current_login`` for the OpenID Connect routes (a full session
    only: a recovery session, which may only enrol a passkey, is no login)."""
    secure = settings.auth_origin.startswith("https://")
    session_cookie = "__Host-mamori_session" if secure else "mamori_session"
    allowed_origins = {settings.auth_origin.rstrip("/")} | {
        o.strip().rstrip("/") for o in settings.auth_extra_origins.split(",") if o.strip()}
    templates = Environment(loader=FileSystemLoader(WEB / "templates"), autoescape=select_autoescape(["html"]),
                            auto_reload=False)
    app.mount("/auth/static", StaticFiles(directory=WEB / "static"), name="auth-static")

    def client(request: Request) -> ClientInfo:
        peer = request.client.host if request.client else "0.0.0.0"  # noqa: S104
        try:
            ip = client_ip(peer, request.headers.get("x-forwarded-for"), trusted_proxies)
        except ValueError:  # a peer that is no IP address (a Unix socket): nothing to throttle by
            ip = None
        device = request.cookies.get(DEVICE_COOKIE)
        if device is not None and not _DEVICE_ID.fullmatch(device):
            device = None
        return ClientInfo(ip=ip, user_agent=request.headers.get("user-agent"), device_id=device)

    def page(request: Request, name: str, status: int = 200, **context: Any) -> Response:
        lang = choose_language(request.query_params.get("lang"), request.headers.get("accept-language"))
        other = dict(request.query_params)
        other["lang"] = TEXT[lang]["lang_other"]
        lang_href = f"{request.url.path}?{urlencode(other)}"
        html = templates.get_template(name).render(t=TEXT[lang], lang=lang, lang_href=lang_href, **context)
        response = HTMLResponse(html, status_code=status)
        _page_headers(response)
        if DEVICE_COOKIE not in request.cookies:
            response.set_cookie(DEVICE_COOKIE, "d" + secrets.token_urlsafe(24), max_age=400 * 86400, httponly=True,
                                secure=secure, samesite="lax", path="/")
        return response

    def session_of(request: Request) -> SessionRow | None:
        return get_auth().resolve(request.cookies.get(session_cookie))

    def require_session(request: Request, *, enrol_ok: bool = False) -> SessionRow:
        row = session_of(request)
        if row is None or (row.purpose != "full" and not enrol_ok):
            raise Unauthenticated("sign in first")
        return row

    async def body_of(request: Request) -> dict[str, Any]:
        return await same_origin_json(request, allowed_origins)

    def json_response(body: Any, status: int = 200) -> Response:
        response = Response(orjson.dumps(body), status_code=status, media_type="application/json")
        response.headers["Cache-Control"] = "no-store"
        return response

    def step_response(step: LoginStep, next_path: str) -> Response:
        if step.session_token is None:
            return json_response({"next": step.next, "flow": step.flow, "publicKey": step.public_key})
        response = json_response({"redirect": next_path})
        set_session(response, step.session_token)
        return response

    def set_session(response: Response, token: str) -> None:
        response.set_cookie(session_cookie, token, httponly=True, secure=secure, samesite="lax", path="/")

    # -- pages -----------------------------------------------------------------------------------
    @app.get("/auth/login", include_in_schema=False)
    async def login_page(request: Request) -> Response:
        return page(request, "login.html", next=safe_next(request.query_params.get("next")))

    @app.get("/auth/recover", include_in_schema=False)
    async def recover_page(request: Request) -> Response:
        return page(request, "recover.html")

    @app.get("/auth/account", include_in_schema=False)
    async def account_page(request: Request) -> Response:
        row = await asyncio.to_thread(session_of, request)
        if row is None:
            return RedirectResponse("/auth/login?next=/auth/account", status_code=303)
        auth = get_auth()
        keys = [passkey_view(k) for k in await asyncio.to_thread(auth.store.passkeys_of, row.account_id)]
        sessions = [{"id": s.session_id, "current": s.session_id == row.session_id, "ip": s.ip,
                     "user_agent": (s.user_agent or "")[:80], "created_at_us": s.created_at_us,
                     "last_seen_at_us": s.last_seen_at_us, "acr": s.acr}
                    for s in await asyncio.to_thread(auth.sessions.active, row.account_id)]
        return page(request, "account.html", passkeys=keys, sessions=sessions, enrol_only=row.purpose == "enrol")

    @app.get("/auth/stepup/{stepup_id}", include_in_schema=False)
    async def stepup_page(request: Request, stepup_id: str) -> Response:
        row = session_of(request)
        if row is None or row.purpose != "full":
            return RedirectResponse(f"/auth/login?next=/auth/stepup/{stepup_id}", status_code=303)
        try:
            step = get_auth().stepups.get(stepup_id, row.account_id)
        except MamoriError:
            return page(request, "message.html", status=404, message_key="stepup_unknown")
        return page(request, "stepup.html", step=step.public(), done=step.status != "pending")

    # -- passkey login ---------------------------------------------------------------------------
    @app.post("/auth/api/passkey/options", include_in_schema=False)
    async def passkey_options(request: Request) -> Response:
        await body_of(request)
        flow, options = get_auth().passkey_login_options()
        return json_response({"flow": flow, "publicKey": options})

    @app.post("/auth/api/passkey/login", include_in_schema=False)
    async def passkey_login(request: Request) -> Response:
        data = await body_of(request)
        step = await get_auth().passkey_login(text_field(data, "flow"), data.get("credential"), client(request))
        return step_response(step, safe_next(data.get("next")))

    @app.post("/auth/api/password/login", include_in_schema=False)
    async def password_login(request: Request) -> Response:
        data = await body_of(request)
        step = await get_auth().password_login(text_field(data, "login_id", 128), text_field(data, "password", 1024),
                                               client(request))
        return step_response(step, safe_next(data.get("next")))

    @app.post("/auth/api/totp", include_in_schema=False)
    async def totp(request: Request) -> Response:
        data = await body_of(request)
        step = await get_auth().totp_step(text_field(data, "flow"), text_field(data, "code", 16), client(request))
        return step_response(step, safe_next(data.get("next")))

    @app.post("/auth/api/passkey/step", include_in_schema=False)
    async def passkey_step(request: Request) -> Response:
        data = await body_of(request)
        step = await get_auth().passkey_step(text_field(data, "flow"), data.get("credential"), client(request))
        return step_response(step, safe_next(data.get("next")))

    @app.post("/auth/api/recover", include_in_schema=False)
    async def recover(request: Request) -> Response:
        data = await body_of(request)
        step = await get_auth().redeem_recovery(text_field(data, "login_id", 128), text_field(data, "code", 64),
                                                client(request))
        return step_response(step, "/auth/account")

    @app.post("/auth/api/logout", include_in_schema=False)
    async def logout(request: Request) -> Response:
        await body_of(request)
        row = await asyncio.to_thread(session_of, request)
        if row is not None:
            ended = await asyncio.to_thread(get_auth().sessions.revoke, row.account_id, reason="logout",
                                            session_id=row.session_id)
            await _revoke_oidc(get_auth(), ended)
        response = json_response({"redirect": "/auth/login"})
        response.delete_cookie(session_cookie, path="/", secure=secure, httponly=True, samesite="lax")
        return response

    # -- account: passkeys and sessions ----------------------------------------------------------
    @app.post("/auth/api/enrol/options", include_in_schema=False)
    async def enrol_options(request: Request) -> Response:
        data = await body_of(request)
        row = require_session(request, enrol_ok=True)
        stepup = data.get("stepup_id")
        flow, options = await get_auth().enrol_options(row, stepup if isinstance(stepup, str) else None)
        return json_response({"flow": flow, "publicKey": options})

    @app.post("/auth/api/enrol", include_in_schema=False)
    async def enrol(request: Request) -> Response:
        data = await body_of(request)
        row = require_session(request, enrol_ok=True)
        name = data.get("name") if isinstance(data.get("name"), str) else "passkey"
        key = await get_auth().enrol(row, text_field(data, "flow"), data.get("credential"), str(name), client(request))
        return json_response({"passkey": passkey_view(key), "signed_out": row.purpose == "enrol"})

    @app.post("/auth/api/passkeys/rename", include_in_schema=False)
    async def rename(request: Request) -> Response:
        data = await body_of(request)
        row = require_session(request)
        await get_auth().rename_passkey(row, text_field(data, "credential_id", 1400), text_field(data, "name", 64))
        return json_response({"ok": True})

    @app.post("/auth/api/passkeys/remove", include_in_schema=False)
    async def remove(request: Request) -> Response:
        data = await body_of(request)
        row = require_session(request)
        stepup = data.get("stepup_id")
        await get_auth().remove_passkey(row, text_field(data, "credential_id", 1400),
                                        stepup if isinstance(stepup, str) else None, client(request))
        return json_response({"ok": True})

    @app.post("/auth/api/stepup/self", include_in_schema=False)
    async def self_stepup(request: Request) -> Response:
        """The customer's own passkey changes (add another, remove one) need a bound step-up too."""
        data = await body_of(request)
        row = require_session(request)
        operation = data.get("operation")
        if not isinstance(operation, dict) or operation.get("kind") not in ("mfa_change", "passkey_remove"):
            raise InvalidRequest("only passkey changes can be confirmed here", details={"field": "operation.kind"})
        step = get_auth().stepups.create(row.account_id, operation)
        return json_response({"id": step.id})

    @app.post("/auth/api/stepup/{stepup_id}/options", include_in_schema=False)
    async def stepup_options(request: Request, stepup_id: str) -> Response:
        await body_of(request)
        row = require_session(request)
        step, options = await get_auth().stepup_options(row, stepup_id)
        return json_response({"publicKey": options, "operation": step.public()["operation"]})

    @app.post("/auth/api/stepup/{stepup_id}/approve", include_in_schema=False)
    async def stepup_approve(request: Request, stepup_id: str) -> Response:
        data = await body_of(request)
        row = require_session(request)
        step = await get_auth().stepup_approve(row, stepup_id, data.get("credential"), client(request))
        return json_response({"status": step.status})

    @app.post("/auth/api/sessions/end", include_in_schema=False)
    async def end_session(request: Request) -> Response:
        data = await body_of(request)
        row = require_session(request)
        auth = get_auth()
        ended = await asyncio.to_thread(auth.sessions.revoke, row.account_id, reason="ended_by_customer",
                                        session_id=text_field(data, "session_id", 64))
        if ended:
            await _revoke_oidc(auth, ended)
            await asyncio.to_thread(auth.audit, actor=f"customer:{row.account_id}", action="auth.session.end",
                                    target=row.account_id, details={"sessions": len(ended)})
        return json_response({"ended": len(ended)})

    async def current_login(request: Request) -> LoginContext | None:
        row = await asyncio.to_thread(session_of, request)
        return AuthService.login_context(row) if row is not None and row.purpose == "full" else None

    @app.exception_handler(LoginThrottled)
    async def on_throttled(_request: Request, exc: LoginThrottled) -> Response:
        retry = int((exc.details or {}).get("retry_after_s", 60))
        return Response(orjson.dumps(exc.to_dict()), status_code=429, media_type="application/json",
                        headers={"Retry-After": str(max(1, retry))})

    return current_login


async def _revoke_oidc(auth: AuthService, session_ids: list[str]) -> None:
    if auth.oidc is not None:
        for session_id in session_ids:
            auth.oidc.revoke_session(session_id)


def _page_headers(response: Response) -> None:
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    response.headers["Cross-Origin-Opener-Policy"] = "same-origin"
