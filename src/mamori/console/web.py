"""The console shell: templates, the navigation registry, and rendering a page for a signed-in operator.

A page handler does three things::

    ctx = await shell.page(request, "cases:read")        # signed in? role has the scope? else redirect/403
    data = await run_in_threadpool(service.something, ctx.actor, ...)   # audited by the service
    return shell.render(request, ctx, "my_page.html", title_key="my_title", data=data)

``shell.page`` redirects a browser without a session to ``/console/login?next=...`` and answers an
operator whose role lacks the scope with a 403 page (:class:`PageForbidden`); ``render`` passes the
operator, the language, the words (``t``), the CSRF token and the navigation to the template.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import HTMLResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.concurrency import run_in_threadpool

from mamori.api.auth import Principal
from mamori.console.roles import ROLE_NAMES
from mamori.console.security import ConsoleGate, page_headers
from mamori.console.service import SignedIn
from mamori.console.text import LANG_COOKIE, choose_language, words

HERE = Path(__file__).resolve().parent
JST = timezone(timedelta(hours=9))


@dataclass(frozen=True, slots=True)
class NavItem:
    """One entry of the navigation: shown only to roles holding ``scope`` (None: everyone)."""

    key: str
    path: str
    label_key: str
    scope: str | None
    order: int = 100


NAV: list[NavItem] = []


def add_nav(item: NavItem) -> None:
    """Register a page in the navigation (idempotent by key)."""
    NAV[:] = [n for n in NAV if n.key != item.key] + [item]
    NAV.sort(key=lambda n: (n.order, n.key))


class PageForbidden(Exception):
    """The operator is signed in but the role lacks the page's scope (rendered as a 403 page)."""

    def __init__(self, ctx: PageContext, scope: str) -> None:
        super().__init__(scope)
        self.ctx = ctx
        self.scope = scope


class LoginRedirect(Exception):
    """No live session: the browser is sent to the login page (and back afterwards)."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


@dataclass(frozen=True, slots=True)
class PageContext:
    signed: SignedIn
    lang: str
    principal: Principal = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "principal", self.signed.principal())

    @property
    def actor(self) -> str:
        return self.principal.actor

    def can(self, scope: str) -> bool:
        return scope in self.principal.scopes


def jst(us: int | None, seconds: bool = False) -> str:
    """Microseconds UTC shown in JST (the console's time zone)."""
    if us is None:
        return "—"
    moment = datetime.fromtimestamp(us / 1_000_000, UTC).astimezone(JST)
    return moment.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")


def yen(value: Any) -> str:
    return f"¥{value:,}" if isinstance(value, int) and not isinstance(value, bool) else "—"


class ConsoleShell:
    def __init__(self, gate: ConsoleGate) -> None:
        self.gate = gate
        self.templates = Environment(loader=FileSystemLoader(HERE / "templates"),
                                     autoescape=select_autoescape(["html"]), auto_reload=False)
        self.templates.filters["jst"] = jst
        self.templates.filters["yen"] = yen

    def language(self, request: Request) -> str:
        return choose_language(request.cookies.get(LANG_COOKIE), request.headers.get("accept-language"))

    async def page(self, request: Request, scope: str | None) -> PageContext:
        """The signed-in operator for a page, or :class:`LoginRedirect` / :class:`PageForbidden`."""
        signed = await run_in_threadpool(self.gate.signed_in, request)
        if signed is None:
            path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            raise LoginRedirect(path)
        ctx = PageContext(signed, self.language(request))
        if scope is not None and not ctx.can(scope):
            raise PageForbidden(ctx, scope)
        return ctx

    def render(self, request: Request, ctx: PageContext | None, template: str, *, title_key: str,
               status: int = 200, **context: Any) -> Response:
        lang = ctx.lang if ctx is not None else self.language(request)
        t = words(lang)
        nav = [n for n in NAV if ctx is not None and (n.scope is None or ctx.can(n.scope))]
        here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        def label(code: Any) -> str:
            return t.get(f"v_{code}", str(code)) if code is not None else "—"

        html = self.templates.get_template(template).render(
            t=t, label=label, lang=lang, other_lang="en" if lang == "ja" else "ja", title=t.get(title_key, title_key),
            operator=ctx.signed.operator if ctx else None, csrf_token=ctx.signed.csrf_token if ctx else "",
            role_name=ROLE_NAMES.get(ctx.signed.operator.role, {}).get(lang, "") if ctx else "",
            nav=nav, current=request.url.path, lang_href=f"/console/lang?to={'en' if lang == 'ja' else 'ja'}"
            f"&next={quote(here, safe='')}", can=ctx.can if ctx else (lambda _s: False), **context)
        response = HTMLResponse(html, status_code=status)
        page_headers(response)
        return response
