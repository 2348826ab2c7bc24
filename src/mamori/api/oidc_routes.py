"""HTTP binding of the OpenID Connect provider (:mod:`mamori.auth.oidc`).

Routes, relative to the issuer's path (usually the origin's root):

* ``GET /.well-known/openid-configuration`` (OpenID Connect Discovery 1.0 §4) and ``GET /oidc/jwks``.
* ``GET`` and ``POST /oidc/authorize`` (OIDC Core §3.1.2.1 requires both). Without a usable session
  the browser goes to ``{login_path}?next=<relative authorize path and query>``; the login page sends
  it back there. Errors about the client or redirect URI are shown as a small Japanese/English page
  (RFC 6749 §4.1.2.1: never redirected); all others go back to the client.
* ``POST /oidc/token`` (RFC 6749 §4.1.3, form-encoded, ``Cache-Control: no-store`` per §5.1).
* ``GET``/``POST /oidc/userinfo`` (OIDC Core §5.3) with a Bearer token (RFC 6750 §2.1; errors carry
  ``WWW-Authenticate``, §3).

Nothing here logs codes, tokens, secrets or request bodies.
"""

from __future__ import annotations

import html
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl, urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from mamori.auth.oidc import (
    AuthorizationPageError,
    AuthorizationRedirectError,
    BearerTokenError,
    LoginContext,
    OidcProvider,
    RedirectToLogin,
    TokenError,
)

CurrentLogin = Callable[[Request], Awaitable[LoginContext | None]]

_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
_PUBLIC_METADATA = {"Cache-Control": "public, max-age=300"}
_PAGE_HEADERS = {
    **_NO_STORE,
    "Content-Security-Policy": "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
_MAX_FORM_BYTES = 64 * 1024
_MAX_FORM_FIELDS = 64


class _BadForm(Exception):
    """The body is not a single-valued ``application/x-www-form-urlencoded`` form."""


def oidc_router(provider: OidcProvider, current_login: CurrentLogin, login_path: str = "/auth/login") -> APIRouter:
    """The provider's routes. ``current_login(request)`` returns the customer's session as a
    :class:`LoginContext`, or None. ``login_path`` is the login page, a path on this origin."""
    if not login_path.startswith("/") or login_path.startswith("//") or "\\" in login_path:
        raise ValueError(f"login_path {login_path!r} must be a path on this origin, like /auth/login")
    router = APIRouter(prefix=provider.path_prefix)

    @router.get("/.well-known/openid-configuration", include_in_schema=False)
    async def discovery() -> Response:
        return JSONResponse(provider.discovery(), headers=_PUBLIC_METADATA)

    @router.get("/oidc/jwks", include_in_schema=False)
    async def jwks() -> Response:
        return JSONResponse(provider.jwks(), headers=_PUBLIC_METADATA,
                            media_type="application/jwk-set+json")  # RFC 7517 §8.5.1

    async def authorize(request: Request, pairs: Iterable[tuple[str, str]]) -> Response:
        try:
            params = _single_valued(pairs)
        except _BadForm:
            return _error_page(AuthorizationPageError("invalid_request", "A request parameter is repeated."))
        try:
            auth_request = provider.validate_authorization_request(params)
            outcome = provider.authorize(auth_request, await current_login(request))
        except AuthorizationPageError as exc:
            return _error_page(exc)
        except AuthorizationRedirectError as exc:
            return _redirect(exc.redirect_url)
        if isinstance(outcome, RedirectToLogin):
            separator = "&" if "?" in login_path else "?"
            return _redirect(f"{login_path}{separator}{urlencode({'next': outcome.next_path})}")
        return _redirect(outcome.url)

    @router.get("/oidc/authorize", include_in_schema=False)
    async def authorize_get(request: Request) -> Response:
        return await authorize(request, request.query_params.multi_items())

    @router.post("/oidc/authorize", include_in_schema=False)
    async def authorize_post(request: Request) -> Response:
        try:
            pairs = await _form_pairs(request)
        except _BadForm:
            return _error_page(AuthorizationPageError("invalid_request", "The request is not a valid form."))
        return await authorize(request, pairs)

    @router.post("/oidc/token", include_in_schema=False)
    async def token(request: Request) -> Response:
        try:
            try:
                form = _single_valued(await _form_pairs(request))
            except _BadForm as exc:
                raise TokenError("invalid_request", str(exc)) from None
            body = provider.exchange(form, request.headers.get("authorization"))
        except TokenError as exc:
            return JSONResponse(exc.body, status_code=exc.status, headers={**_NO_STORE, **exc.headers})
        return JSONResponse(body, headers=_NO_STORE)

    @router.api_route("/oidc/userinfo", methods=["GET", "POST"], include_in_schema=False)
    async def userinfo(request: Request) -> Response:
        try:
            claims = provider.userinfo(provider.bearer_token(request.headers.get("authorization")))
        except BearerTokenError as exc:
            body: dict[str, Any] = {"error": exc.error, "error_description": exc.description} if exc.error else {}
            return JSONResponse(body, status_code=exc.status,
                                headers={**_NO_STORE, "WWW-Authenticate": exc.www_authenticate})
        return JSONResponse(claims, headers=_NO_STORE)

    return router


def _redirect(url: str) -> Response:
    return RedirectResponse(url, status_code=303, headers={**_NO_STORE, "Referrer-Policy": "no-referrer"})


def _single_valued(pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    """RFC 6749 §3.1 / §3.2: parameters must not be repeated."""
    params: dict[str, str] = {}
    for name, value in pairs:
        if name in params:
            raise _BadForm("a parameter is repeated")
        params[name] = value
    return params


async def _form_pairs(request: Request) -> list[tuple[str, str]]:
    """The ``application/x-www-form-urlencoded`` body (RFC 6749 §4.1.3, Appendix B), at most 64 KiB."""
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type != "application/x-www-form-urlencoded":
        raise _BadForm("the body must be application/x-www-form-urlencoded")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > _MAX_FORM_BYTES:
            raise _BadForm("the body is too large")
    try:
        return parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=_MAX_FORM_FIELDS)
    except (UnicodeDecodeError, ValueError):
        raise _BadForm("the body is not a valid form") from None


# Japanese first (the customers' language), then English; no links, no external resources.
_JA: Mapping[str, str] = {
    "invalid_client": "ログインを求めたアプリケーションは、このサービスに登録されていません。",
    "invalid_request": "ログインの要求に誤りがあるため、続行できません（戻り先のアドレスが登録されていない等）。",
}
_PAGE = """<!doctype html>
<html lang="ja">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>ログインを続行できません / Sign-in cannot continue</title>
</head>
<body>
<main>
<h1>ログインを続行できません</h1>
<p>{ja}</p>
<p>お手数ですが、元のサイトに戻ってもう一度お試しください。解決しない場合は、ご利用の証券会社にお問い合わせください。</p>
<div lang="en">
<h2>Sign-in cannot continue</h2>
<p>{en}</p>
<p>Please return to the site you came from and try again. If this keeps happening, contact your securities firm.</p>
</div>
<p><small>error: <code>{code}</code></small></p>
</main>
</body>
</html>
"""


def _error_page(exc: AuthorizationPageError) -> Response:
    """RFC 6749 §4.1.2.1: inform the resource owner, do not redirect."""
    page = _PAGE.format(ja=html.escape(_JA.get(exc.error, _JA["invalid_request"])),
                        en=html.escape(exc.description), code=html.escape(exc.error))
    return HTMLResponse(page, status_code=400, headers=_PAGE_HEADERS)
