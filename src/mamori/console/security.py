"""The console's check point: who is this browser, and may it change anything?

``ConsoleGate.principal(request)`` turns the operator session cookie into a
:class:`mamori.api.auth.Principal` with the role's scopes; the application's ``principal(request,
scope)`` calls it when a request carries no API key, so every JSON endpoint works for the console's
script with the operator's permissions, and there is one place that decides.

For a session, every unsafe method (POST, PUT, PATCH, DELETE) must carry (OWASP CSRF Prevention Cheat
Sheet, defence in depth):

1. the synchronizer token bound to the session, in the ``X-CSRF-Token`` header (or the ``csrf_token``
   form field, for the console's own form posts), compared in constant time; and
2. a same-origin ``Origin`` header equal to the console origin, or, when a browser sends no
   ``Origin``, ``Sec-Fetch-Site: same-origin`` (Fetch Metadata Request Headers, W3C).

Otherwise :class:`mamori.kit.errors.CsrfRejected`. API keys are not cookies and are unaffected. The
cookie itself is ``HttpOnly``, ``SameSite=Strict``, ``Secure`` (with the ``__Host-`` prefix) on https.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable

from fastapi import Request
from fastapi.responses import Response

from mamori.api.auth import Principal
from mamori.console.service import ConsoleService, SignedIn
from mamori.kit.errors import CsrfRejected, Unauthenticated

UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'")


class ConsoleGate:
    def __init__(self, get_service: Callable[[], ConsoleService], *, origin: str) -> None:
        self.get_service = get_service
        self.origin = origin.rstrip("/")
        self.secure = origin.startswith("https://")
        self.cookie = "__Host-mamori_console" if self.secure else "mamori_console"

    def has_session_cookie(self, request: Request) -> bool:
        return self.cookie in request.cookies

    def signed_in(self, request: Request) -> SignedIn | None:
        return self.get_service().resolve(request.cookies.get(self.cookie))

    def check_csrf(self, request: Request, signed: SignedIn, form_token: str | None = None) -> None:
        """Raise :class:`CsrfRejected` unless an unsafe request is same-origin and carries the token."""
        if request.method.upper() not in UNSAFE:
            return
        origin = request.headers.get("origin")
        if origin is not None:
            if origin.rstrip("/") != self.origin:
                raise CsrfRejected("request from another origin refused", details={"origin": origin[:200]})
        elif request.headers.get("sec-fetch-site") != "same-origin":
            raise CsrfRejected("request without a same-origin Origin or Sec-Fetch-Site header refused")
        sent = request.headers.get(CSRF_HEADER) or form_token or ""
        if not hmac.compare_digest(sent.encode(), signed.csrf_token.encode()):
            raise CsrfRejected("missing or wrong CSRF token", details={"header": "X-CSRF-Token"})

    def require(self, request: Request, form_token: str | None = None) -> SignedIn:
        signed = self.signed_in(request)
        if signed is None:
            raise Unauthenticated("sign in to the console first (or send an API key)")
        self.check_csrf(request, signed, form_token)
        return signed

    async def require_form(self, request: Request) -> SignedIn:
        """For a page's own ``<form method="post">`` (urlencoded or multipart): the token may come in the
        ``csrf_token`` field instead of the header. The form is read at most once (Starlette caches it)."""
        token: str | None = None
        content_type = request.headers.get("content-type", "")
        if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            value = (await request.form()).get(CSRF_FIELD)
            token = value if isinstance(value, str) else None
        return self.require(request, token)

    def principal(self, request: Request) -> Principal:
        """The operator's principal for a JSON API call (sync: one indexed query)."""
        return self.require(request).principal()

    def set_cookie(self, response: Response, token: str) -> None:
        response.set_cookie(self.cookie, token, httponly=True, secure=self.secure, samesite="strict", path="/")

    def clear_cookie(self, response: Response) -> None:
        response.delete_cookie(self.cookie, path="/", secure=self.secure, httponly=True, samesite="strict")


def page_headers(response: Response) -> None:
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    response.headers["Cross-Origin-Opener-Policy"] = "same-origin"
    response.headers["X-Frame-Options"] = "DENY"
