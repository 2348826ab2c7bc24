"""The OpenID Connect provider: unit tests of ``mamori.auth.oidc`` (injected clock, in-memory stores)
and end-to-end tests of ``mamori.api.oidc_routes`` on a real uvicorn server, driven by Authlib's
standard OAuth 2.0 client with the redirect chain followed hop by hop."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import logging
import secrets
import socket
import stat
import threading
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from joserfc import jwt
from joserfc.errors import BadSignatureError, InvalidKeyIdError
from joserfc.jwk import KeySet, RSAKey

from mamori.api.oidc_routes import oidc_router
from mamori.auth.oidc import (
    ACR_MFA,
    ACR_PASSWORD,
    ACR_PHISHING_RESISTANT,
    AMR_PASSKEY,
    AMR_PASSWORD,
    LOGIN_MARKER,
    AuthorizationPageError,
    AuthorizationRedirectError,
    AuthorizationRequest,
    BearerTokenError,
    ClientConfigError,
    LoginContext,
    MemoryCodeStore,
    OidcClient,
    OidcProvider,
    RedirectToClient,
    RedirectToLogin,
    SigningKeyError,
    SigningKeys,
    TokenError,
    hash_client_secret,
    load_clients,
    new_client_secret,
    pkce_s256,
    verify_pkce_s256,
)

with warnings.catch_warnings():  # Authlib warns that it falls back from httpx2 to httpx
    import authlib.deprecate  # adds an "always" filter for its warnings when imported: ours goes after it

    warnings.simplefilter("ignore", authlib.deprecate.AuthlibDeprecationWarning)
    from authlib.integrations.base_client import OAuthError
    from authlib.integrations.httpx_client import OAuth2Client
    from authlib.oidc.core import CodeIDToken

ISSUER = "https://login.example.jp"
WEB_SECRET = "test-only-secret-Zb3kqKc0Vn1YbKq5sY0p8w4aJpW2tE"  # fixed: parametrize ids must agree across xdist workers
WEB_SECRET_HASH = hash_client_secret(WEB_SECRET)
WEB_CB = "https://trade.example.jp/oidc/callback"
APP_CB = "https://trade.example.jp/app/callback?source=app"
STRICT_CB = "https://admin.example.jp/cb"
T0 = 1_800_000_000.0


class Clock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def registered_clients() -> dict[str, OidcClient]:
    return {c.client_id: c for c in (
        OidcClient("trading-web", (WEB_CB,), client_secret_sha256=WEB_SECRET_HASH),
        OidcClient("trading-app", (APP_CB,), token_endpoint_auth_method="none"),
        OidcClient("back-office", (STRICT_CB,), client_secret_sha256=WEB_SECRET_HASH,
                   require_acr=ACR_PHISHING_RESISTANT),
    )}


@pytest.fixture(scope="module")
def keys() -> SigningKeys:
    return SigningKeys.generate()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def provider(keys: SigningKeys, clock: Clock) -> OidcProvider:
    return OidcProvider(ISSUER, keys, registered_clients(), clock=clock)


def passkey_login(clock: Clock, *, age_s: int = 5, session_id: str = "sess-1") -> LoginContext:
    return LoginContext(subject="acct-42", session_id=session_id, auth_time=int(clock.now) - age_s,
                        amr=AMR_PASSKEY, acr=ACR_PHISHING_RESISTANT)


def password_login(clock: Clock, *, age_s: int = 5, session_id: str = "sess-2") -> LoginContext:
    return LoginContext(subject="acct-42", session_id=session_id, auth_time=int(clock.now) - age_s,
                        amr=AMR_PASSWORD, acr=ACR_PASSWORD)


def auth_params(client_id: str = "trading-web", redirect_uri: str = WEB_CB, **extra: str) -> tuple[dict[str, str], str]:
    verifier = secrets.token_urlsafe(48)
    params = {"client_id": client_id, "redirect_uri": redirect_uri, "response_type": "code", "scope": "openid",
              "state": "st-" + secrets.token_hex(4), "nonce": "n-" + secrets.token_hex(4),
              "code_challenge": pkce_s256(verifier), "code_challenge_method": "S256"}
    params.update(extra)
    return {k: v for k, v in params.items() if v != "<omit>"}, verifier


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query, keep_blank_values=True).items()}


@dataclass
class Issued:
    request: AuthorizationRequest
    verifier: str
    redirect_url: str
    code: str = field(init=False)

    def __post_init__(self) -> None:
        self.code = query_of(self.redirect_url)["code"]


def issue(provider: OidcProvider, login: LoginContext, client_id: str = "trading-web",
          redirect_uri: str = WEB_CB, **extra: str) -> Issued:
    params, verifier = auth_params(client_id, redirect_uri, **extra)
    request = provider.validate_authorization_request(params)
    outcome = provider.authorize(request, login)
    assert isinstance(outcome, RedirectToClient), outcome
    return Issued(request, verifier, outcome.url)


def basic(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


def redeem(provider: OidcProvider, issued: Issued, *, verifier: str | None = None, redirect_uri: str = WEB_CB,
           authorization: str | None = None, **form: str) -> dict[str, Any]:
    body = {"grant_type": "authorization_code", "code": issued.code, "redirect_uri": redirect_uri,
            "code_verifier": verifier or issued.verifier, **form}
    if authorization is None and "client_id" not in form:
        authorization = basic("trading-web", WEB_SECRET)
    return provider.exchange(body, authorization)


def token_error(fn: Any, *args: Any, **kwargs: Any) -> TokenError:
    with pytest.raises(TokenError) as caught:
        fn(*args, **kwargs)
    return caught.value


# --------------------------------------------------------------------------------------------------
# PKCE (RFC 7636)
# --------------------------------------------------------------------------------------------------


def test_s256_matches_rfc7636_appendix_b() -> None:
    assert pkce_s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk") == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    assert verify_pkce_s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM")


def test_verifier_must_match_and_be_well_formed() -> None:
    assert not verify_pkce_s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXj", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM")
    short = "a" * 42  # RFC 7636 §4.1: at least 43 characters
    assert not verify_pkce_s256(short, pkce_s256(short))
    assert verify_pkce_s256("a" * 43, pkce_s256("a" * 43))
    assert not verify_pkce_s256("a" * 42 + "!", pkce_s256("a" * 42 + "!"))


def test_token_request_with_wrong_verifier_fails_and_burns_the_code(provider: OidcProvider, clock: Clock) -> None:
    issued = issue(provider, passkey_login(clock))
    err = token_error(redeem, provider, issued, verifier=secrets.token_urlsafe(48))
    assert (err.error, err.status) == ("invalid_grant", 400)
    assert "code_verifier" in err.description
    assert token_error(redeem, provider, issued).error == "invalid_grant"  # single use, even after a failure


@pytest.mark.parametrize(("change", "expected"), [
    ({"code_challenge_method": "plain"}, "code_challenge_method must be S256"),
    ({"code_challenge_method": "<omit>"}, "code_challenge_method must be S256"),  # RFC 7636 default: plain
    ({"code_challenge": "<omit>"}, "code_challenge is required"),
    ({"code_challenge": "x" * 42}, "43 base64url"),
])
def test_pkce_is_required_with_s256(provider: OidcProvider, change: dict[str, str], expected: str) -> None:
    params, _ = auth_params(**change)
    with pytest.raises(AuthorizationRedirectError) as caught:
        provider.validate_authorization_request(params)
    assert caught.value.error == "invalid_request"
    assert expected in caught.value.description
    back = query_of(caught.value.redirect_url)
    assert back["state"] == params["state"] and back["iss"] == ISSUER and back["error"] == "invalid_request"


def test_public_client_without_verifier_gets_nothing(provider: OidcProvider, clock: Clock) -> None:
    issued = issue(provider, passkey_login(clock), "trading-app", APP_CB)
    body = {"grant_type": "authorization_code", "code": issued.code, "redirect_uri": APP_CB,
            "client_id": "trading-app"}
    err = token_error(provider.exchange, body, None)
    assert err.error == "invalid_request" and "code_verifier" in err.description


# --------------------------------------------------------------------------------------------------
# Authorization codes
# --------------------------------------------------------------------------------------------------


def test_code_redirect_carries_state_and_iss_and_the_code_is_stored_hashed(keys: SigningKeys, clock: Clock) -> None:
    store = MemoryCodeStore()
    provider = OidcProvider(ISSUER, keys, registered_clients(), clock=clock, code_store=store)
    issued = issue(provider, passkey_login(clock))
    back = query_of(issued.redirect_url)
    assert issued.redirect_url.startswith(WEB_CB + "?")
    assert back["state"] == issued.request.state and back["iss"] == ISSUER
    assert len(base64.urlsafe_b64decode(issued.code + "=")) == 32  # 256 bits
    assert len(store) == 1
    assert issued.code not in store._entries and hashlib.sha256(issued.code.encode()).hexdigest() in store._entries


def test_redirect_uri_query_is_kept(provider: OidcProvider, clock: Clock) -> None:
    issued = issue(provider, passkey_login(clock), "trading-app", APP_CB)
    assert urlsplit(issued.redirect_url).path == "/app/callback"
    assert query_of(issued.redirect_url)["source"] == "app"


def test_code_reuse_fails_and_revokes_the_tokens_issued_from_it(provider: OidcProvider, clock: Clock) -> None:
    issued = issue(provider, passkey_login(clock))
    tokens = redeem(provider, issued)
    assert provider.userinfo(tokens["access_token"]) == {"sub": "acct-42"}
    err = token_error(redeem, provider, issued)
    assert (err.error, err.description) == ("invalid_grant", "the authorization code was already used")
    with pytest.raises(BearerTokenError) as caught:
        provider.userinfo(tokens["access_token"])
    assert caught.value.error == "invalid_token"


def test_code_expires_after_60_seconds(provider: OidcProvider, clock: Clock) -> None:
    fresh, stale = issue(provider, passkey_login(clock)), issue(provider, passkey_login(clock))
    clock.now += 59
    assert redeem(provider, fresh)["token_type"] == "Bearer"
    clock.now += 1
    err = token_error(redeem, provider, stale)
    assert err.error == "invalid_grant" and "expired" in err.description


def test_redirect_uri_must_equal_the_authorization_requests(keys: SigningKeys, clock: Clock) -> None:
    other_cb = "https://trade.example.jp/other"
    clients = registered_clients()
    clients["trading-web"] = OidcClient("trading-web", (WEB_CB, other_cb), client_secret_sha256=WEB_SECRET_HASH)
    provider = OidcProvider(ISSUER, keys, clients, clock=clock)
    issued = issue(provider, passkey_login(clock))
    err = token_error(redeem, provider, issued, redirect_uri=other_cb)  # registered, but not the one used
    assert err.error == "invalid_grant" and "redirect_uri" in err.description


def test_code_is_bound_to_its_client(provider: OidcProvider, clock: Clock) -> None:
    issued = issue(provider, passkey_login(clock), "trading-app", APP_CB)
    err = token_error(redeem, provider, issued, redirect_uri=APP_CB)  # redeemed by trading-web
    assert err.error == "invalid_grant" and "another client" in err.description


def test_unknown_code(provider: OidcProvider, clock: Clock) -> None:
    issued = issue(provider, passkey_login(clock))
    issued.code = secrets.token_urlsafe(32)
    assert token_error(redeem, provider, issued).error == "invalid_grant"


def test_logout_revokes_access_tokens_and_pending_codes(provider: OidcProvider, clock: Clock) -> None:
    login, other = passkey_login(clock), passkey_login(clock, session_id="sess-other")
    tokens = redeem(provider, issue(provider, login))
    pending = issue(provider, login)
    other_tokens = redeem(provider, issue(provider, other))
    provider.revoke_session(login.session_id)
    with pytest.raises(BearerTokenError):
        provider.userinfo(tokens["access_token"])
    assert token_error(redeem, provider, pending).error == "invalid_grant"
    assert provider.userinfo(other_tokens["access_token"]) == {"sub": "acct-42"}


def test_access_token_expires(provider: OidcProvider, clock: Clock) -> None:
    tokens = redeem(provider, issue(provider, passkey_login(clock)))
    assert tokens["expires_in"] == 600
    clock.now += 599
    assert provider.userinfo(tokens["access_token"]) == {"sub": "acct-42"}
    clock.now += 1
    with pytest.raises(BearerTokenError):
        provider.userinfo(tokens["access_token"])


# --------------------------------------------------------------------------------------------------
# Authorization requests
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("change", "error"), [
    ({"client_id": "no-such-client"}, "invalid_client"),
    ({"client_id": "<omit>"}, "invalid_request"),
    ({"redirect_uri": "<omit>"}, "invalid_request"),
    ({"redirect_uri": "https://evil.example/cb"}, "invalid_request"),
    ({"redirect_uri": WEB_CB + "/"}, "invalid_request"),
    ({"redirect_uri": WEB_CB + "?x=1"}, "invalid_request"),
    ({"redirect_uri": APP_CB}, "invalid_request"),  # another client's
])
def test_bad_client_or_redirect_uri_is_never_redirected(provider: OidcProvider, change: dict[str, str],
                                                         error: str) -> None:
    params, _ = auth_params(**change)
    with pytest.raises(AuthorizationPageError) as caught:
        provider.validate_authorization_request(params)
    assert caught.value.error == error
    assert not isinstance(caught.value, AuthorizationRedirectError)
    assert "evil" not in caught.value.description


@pytest.mark.parametrize(("change", "error"), [
    ({"response_type": "token"}, "unsupported_response_type"),
    ({"response_type": "<omit>"}, "invalid_request"),
    ({"scope": "profile"}, "invalid_scope"),
    ({"scope": "openid admin"}, "invalid_scope"),
    ({"scope": "<omit>"}, "invalid_request"),
    ({"prompt": "none login"}, "invalid_request"),
    ({"prompt": "create"}, "invalid_request"),
    ({"max_age": "-1"}, "invalid_request"),
    ({"response_mode": "fragment"}, "invalid_request"),
    ({"request": "eyJ..."}, "request_not_supported"),
    ({"request_uri": "urn:x"}, "request_uri_not_supported"),
    ({"claims": "{}"}, "invalid_request"),
])
def test_other_errors_go_back_to_the_client(provider: OidcProvider, change: dict[str, str], error: str) -> None:
    params, _ = auth_params(**change)
    with pytest.raises(AuthorizationRedirectError) as caught:
        provider.validate_authorization_request(params)
    back = query_of(caught.value.redirect_url)
    assert caught.value.redirect_url.startswith(WEB_CB + "?")
    assert (back["error"], back["state"], back["iss"]) == (error, params["state"], ISSUER)
    assert back["error_description"] and '"' not in back["error_description"]


def test_state_is_optional(provider: OidcProvider, clock: Clock) -> None:
    issued = issue(provider, passkey_login(clock), state="<omit>")
    assert "state" not in query_of(issued.redirect_url)


# --------------------------------------------------------------------------------------------------
# When to ask for a login: sessions, prompt, max_age, acr
# --------------------------------------------------------------------------------------------------


def validated(provider: OidcProvider, client_id: str = "trading-web", redirect_uri: str = WEB_CB,
              **extra: str) -> AuthorizationRequest:
    return provider.validate_authorization_request(auth_params(client_id, redirect_uri, **extra)[0])


def resumed(provider: OidcProvider, next_path: str) -> AuthorizationRequest:
    """What the authorization endpoint sees when the login page sends the browser back to ``next``."""
    assert next_path.startswith("/oidc/authorize?")
    return provider.validate_authorization_request(query_of(next_path))


def test_without_a_session_the_customer_logs_in(provider: OidcProvider, clock: Clock) -> None:
    request = validated(provider)
    assert provider.needs_login(request, None, clock.now)
    outcome = provider.authorize(request, None)
    assert isinstance(outcome, RedirectToLogin)
    assert query_of(outcome.next_path)["client_id"] == "trading-web"
    assert query_of(outcome.next_path)[LOGIN_MARKER] == str(int(clock.now))
    assert isinstance(provider.authorize(resumed(provider, outcome.next_path), passkey_login(clock)), RedirectToClient)


def test_acr_requested_but_not_met_needs_login(provider: OidcProvider, clock: Clock) -> None:
    phr = validated(provider, acr_values=ACR_PHISHING_RESISTANT)
    assert provider.needs_login(phr, password_login(clock), clock.now)
    assert not provider.needs_login(phr, passkey_login(clock), clock.now)
    mfa = validated(provider, acr_values=f"{ACR_PHISHING_RESISTANT} {ACR_MFA}")  # either will do
    assert not provider.needs_login(mfa, passkey_login(clock), clock.now)  # stronger satisfies
    assert provider.needs_login(mfa, password_login(clock), clock.now)
    assert not provider.needs_login(validated(provider), password_login(clock), clock.now)


def test_client_required_acr_applies_to_every_request(provider: OidcProvider, clock: Clock) -> None:
    request = validated(provider, "back-office", STRICT_CB, acr_values=ACR_PASSWORD)
    assert request.required_acr == ACR_PHISHING_RESISTANT
    assert isinstance(provider.authorize(request, password_login(clock)), RedirectToLogin)
    with pytest.raises(AuthorizationRedirectError) as caught:  # even when called directly
        provider.issue_code(request, password_login(clock))
    assert caught.value.error == "unmet_authentication_requirements"


def test_fresh_login_still_below_the_required_acr_ends_the_flow(provider: OidcProvider, clock: Clock) -> None:
    first = provider.authorize(validated(provider, acr_values=ACR_PHISHING_RESISTANT), password_login(clock))
    assert isinstance(first, RedirectToLogin)
    clock.now += 20
    with pytest.raises(AuthorizationRedirectError) as caught:  # logged in again, with a password again
        provider.authorize(resumed(provider, first.next_path), password_login(clock, age_s=3))
    assert caught.value.error == "unmet_authentication_requirements"
    assert query_of(caught.value.redirect_url)["iss"] == ISSUER


def test_prompt_none_without_a_usable_session_is_login_required(provider: OidcProvider, clock: Clock) -> None:
    for request, login in ((validated(provider, prompt="none"), None),
                           (validated(provider, prompt="none", acr_values="phr"), password_login(clock))):
        with pytest.raises(AuthorizationRedirectError) as caught:
            provider.authorize(request, login)
        back = query_of(caught.value.redirect_url)
        assert (back["error"], back["state"], back["iss"]) == ("login_required", request.state, ISSUER)
    assert isinstance(provider.authorize(validated(provider, prompt="none"), passkey_login(clock)), RedirectToClient)


def test_prompt_login_reauthenticates_once(provider: OidcProvider, clock: Clock) -> None:
    session = passkey_login(clock, age_s=100)
    first = provider.authorize(validated(provider, prompt="login"), session)
    assert isinstance(first, RedirectToLogin)
    clock.now += 30
    again = resumed(provider, first.next_path)
    assert isinstance(provider.authorize(again, session), RedirectToLogin)  # the old session is not enough
    relogged = passkey_login(clock, age_s=2)
    outcome = provider.authorize(again, relogged)
    assert isinstance(outcome, RedirectToClient)
    assert query_of(outcome.url)["state"] == again.state


def test_max_age(provider: OidcProvider, clock: Clock) -> None:
    request = validated(provider, max_age="300")
    assert not provider.needs_login(request, passkey_login(clock, age_s=300), clock.now)
    assert provider.needs_login(request, passkey_login(clock, age_s=301), clock.now)
    zero = provider.authorize(validated(provider, max_age="0"), passkey_login(clock, age_s=10))
    assert isinstance(zero, RedirectToLogin)
    clock.now += 5
    assert isinstance(provider.authorize(resumed(provider, zero.next_path), passkey_login(clock, age_s=1)),
                      RedirectToClient)  # no loop: the login after the redirect counts even a second later


def test_the_return_path_is_relative_and_drops_ignored_parameters(provider: OidcProvider) -> None:
    params, _ = auth_params(ui_locales="ja", **{LOGIN_MARKER: "1"})
    outcome = provider.authorize(provider.validate_authorization_request(params), None)
    assert isinstance(outcome, RedirectToLogin)
    parts = urlsplit(outcome.next_path)
    assert (parts.scheme, parts.netloc, parts.path) == ("", "", "/oidc/authorize")
    back = query_of(outcome.next_path)
    assert "ui_locales" not in back and back[LOGIN_MARKER] != "1"
    assert {k: back[k] for k in params if k not in ("ui_locales", LOGIN_MARKER)} == {
        k: v for k, v in params.items() if k not in ("ui_locales", LOGIN_MARKER)}


# --------------------------------------------------------------------------------------------------
# Token endpoint: client authentication and grant types (RFC 6749 §2.3.1, §5.2)
# --------------------------------------------------------------------------------------------------


def test_confidential_client_with_wrong_secret_gets_401(provider: OidcProvider, clock: Clock) -> None:
    issued = issue(provider, passkey_login(clock))
    err = token_error(redeem, provider, issued, authorization=basic("trading-web", WEB_SECRET + "x"))
    assert (err.error, err.status) == ("invalid_client", 401)
    assert err.headers["WWW-Authenticate"].startswith("Basic ")
    assert err.body == {"error": "invalid_client", "error_description": "client authentication failed"}
    assert redeem(provider, issued)["token_type"] == "Bearer"  # the failed attempt did not consume the code


@pytest.mark.parametrize("authorization", [
    basic("nobody", WEB_SECRET),
    "Basic !!!",
    "Bearer abc",
])
def test_unknown_or_malformed_client_credentials_get_401(provider: OidcProvider, clock: Clock,
                                                          authorization: str) -> None:
    err = token_error(redeem, provider, issue(provider, passkey_login(clock)), authorization=authorization)
    assert (err.error, err.status) == ("invalid_client", 401)


def test_confidential_client_must_authenticate(provider: OidcProvider, clock: Clock) -> None:
    err = token_error(redeem, provider, issue(provider, passkey_login(clock)), client_id="trading-web")
    assert (err.error, err.status) == ("invalid_client", 401)


def test_client_secret_post_and_url_encoded_basic(provider: OidcProvider, clock: Clock) -> None:
    assert redeem(provider, issue(provider, passkey_login(clock)), client_id="trading-web",
                  client_secret=WEB_SECRET)["token_type"] == "Bearer"
    # RFC 6749 §2.3.1: id and secret are form-encoded before Basic; our ids and secrets need no escaping
    assert redeem(provider, issue(provider, passkey_login(clock)),
                  authorization=basic("trading%2Dweb", WEB_SECRET))["token_type"] == "Bearer"


def test_two_authentication_methods_are_refused(provider: OidcProvider, clock: Clock) -> None:
    err = token_error(redeem, provider, issue(provider, passkey_login(clock)),
                      authorization=basic("trading-web", WEB_SECRET), client_secret=WEB_SECRET)
    assert err.error == "invalid_request"


def test_public_client(provider: OidcProvider, clock: Clock) -> None:
    issued = issue(provider, passkey_login(clock), "trading-app", APP_CB)
    tokens = redeem(provider, issued, redirect_uri=APP_CB, client_id="trading-app")
    assert tokens["token_type"] == "Bearer"
    issued = issue(provider, passkey_login(clock), "trading-app", APP_CB)
    err = token_error(redeem, provider, issued, redirect_uri=APP_CB, client_id="trading-app", client_secret="x")
    assert (err.error, err.status) == ("invalid_client", 401)


@pytest.mark.parametrize(("change", "error"), [
    ({"grant_type": "refresh_token"}, "unsupported_grant_type"),
    ({"grant_type": ""}, "invalid_request"),
    ({"code": ""}, "invalid_request"),
    ({"redirect_uri": ""}, "invalid_request"),
    ({"code_verifier": "short"}, "invalid_request"),
])
def test_token_request_errors(provider: OidcProvider, clock: Clock, change: dict[str, str], error: str) -> None:
    issued = issue(provider, passkey_login(clock))
    body = {"grant_type": "authorization_code", "code": issued.code, "redirect_uri": WEB_CB,
            "code_verifier": issued.verifier, **change}
    err = token_error(provider.exchange, body, basic("trading-web", WEB_SECRET))
    assert (err.error, err.status) == (error, 400)


# --------------------------------------------------------------------------------------------------
# ID tokens and signing keys
# --------------------------------------------------------------------------------------------------


def test_id_token_verifies_with_the_jwks_and_carries_the_login(provider: OidcProvider, clock: Clock) -> None:
    login = passkey_login(clock, age_s=42)
    issued = issue(provider, login, acr_values="phr")
    tokens = redeem(provider, issued)
    key_set = KeySet.import_key_set(json.loads(json.dumps(provider.jwks())))
    token = jwt.decode(tokens["id_token"], key_set, algorithms=["RS256"])
    assert token.header["alg"] == "RS256" and token.header["kid"] == provider.keys.kid
    claims = token.claims
    assert claims["iss"] == ISSUER and claims["sub"] == "acct-42" and claims["aud"] == "trading-web"
    assert claims["iat"] == int(clock.now) and claims["exp"] == int(clock.now) + 600
    assert claims["auth_time"] == int(clock.now) - 42
    assert claims["nonce"] == issued.request.nonce
    assert claims["acr"] == "phr" and claims["amr"] == ["pop", "user", "mfa"]
    digest = hashlib.sha256(tokens["access_token"].encode()).digest()
    assert claims["at_hash"] == base64.urlsafe_b64encode(digest[:16]).rstrip(b"=").decode()
    assert claims["sid"] and login.session_id not in claims["sid"]
    # Authlib's OIDC validation (nonce, at_hash, iss, aud, exp) agrees
    CodeIDToken(claims, token.header, options={"iss": {"essential": True, "value": ISSUER},
                                               "aud": {"essential": True, "value": "trading-web"}},
                params={"nonce": issued.request.nonce, "access_token": tokens["access_token"],
                        "client_id": "trading-web"}).validate(now=int(clock.now))


def test_id_token_without_nonce_has_no_nonce_claim(provider: OidcProvider, clock: Clock) -> None:
    tokens = redeem(provider, issue(provider, passkey_login(clock), nonce="<omit>"))
    assert "nonce" not in jwt.decode(tokens["id_token"], provider.keys.key_set(), algorithms=["RS256"]).claims


def rfc7638_thumbprint(jwk: dict[str, Any]) -> str:
    members = json.dumps({"e": jwk["e"], "kty": jwk["kty"], "n": jwk["n"]}, separators=(",", ":"), sort_keys=True)
    return base64.urlsafe_b64encode(hashlib.sha256(members.encode()).digest()).rstrip(b"=").decode()


def test_key_file_is_private_and_kid_is_the_rfc7638_thumbprint(tmp_path: Path) -> None:
    path = tmp_path / "oidc-keys.json"
    keys = SigningKeys.load_or_create(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    (public,) = keys.jwks()["keys"]
    assert "d" not in public and public["kty"] == "RSA" and public["alg"] == "RS256"
    assert keys.kid == public["kid"] == rfc7638_thumbprint(public)
    assert len(base64.urlsafe_b64decode(public["n"] + "==")) * 8 >= 2048
    assert SigningKeys.load_or_create(path).kid == keys.kid  # loaded, not regenerated
    assert [p.name for p in tmp_path.iterdir()] == ["oidc-keys.json"]  # no temporary file left


def test_key_file_readable_by_others_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "oidc-keys.json"
    SigningKeys.load_or_create(path)
    path.chmod(0o644)
    with pytest.raises(SigningKeyError, match="chmod 600"):
        SigningKeys.load_or_create(path)


def test_rotation_keeps_the_previous_key_for_tokens_in_flight(tmp_path: Path, clock: Clock) -> None:
    path = tmp_path / "oidc-keys.json"
    keys = SigningKeys.load_or_create(path)
    provider = OidcProvider(ISSUER, keys, registered_clients(), clock=clock)
    before = redeem(provider, issue(provider, passkey_login(clock)))["id_token"]
    old_kid = keys.kid
    new_kid = keys.rotate()
    assert new_kid != old_kid
    assert [k["kid"] for k in provider.jwks()["keys"]] == [new_kid, old_kid]
    after = redeem(provider, issue(provider, passkey_login(clock)))["id_token"]
    jwks_now = KeySet.import_key_set(provider.jwks())
    assert jwt.decode(before, jwks_now, algorithms=["RS256"]).header["kid"] == old_kid
    assert jwt.decode(after, jwks_now, algorithms=["RS256"]).header["kid"] == new_kid
    reloaded = SigningKeys.load_or_create(path)  # persisted, previous key public only
    assert reloaded.kid == new_kid and [k["kid"] for k in reloaded.jwks()["keys"]] == [new_kid, old_kid]
    stored = json.loads(path.read_text())
    assert "d" in stored["current"] and all("d" not in k for k in stored["previous"])
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    keys.rotate()
    assert old_kid not in [k["kid"] for k in keys.jwks()["keys"]]
    with pytest.raises(InvalidKeyIdError):  # a token signed by a dropped key no longer verifies
        jwt.decode(before, keys.key_set(), algorithms=["RS256"])
    with pytest.raises(BadSignatureError):  # not even when a client ignores kid
        jwt.decode(before, RSAKey.import_key(keys.jwks()["keys"][0]), algorithms=["RS256"])


@pytest.mark.parametrize("content", ['{"current": {"kty": "RSA"}}', "not json", '{"previous": []}', "[]"])
def test_corrupt_key_file_is_refused_with_its_name(tmp_path: Path, content: str) -> None:
    path = tmp_path / "oidc-keys.json"
    path.write_text(content)
    path.chmod(0o600)
    with pytest.raises(SigningKeyError, match=r"oidc-keys\.json"):
        SigningKeys.load_or_create(path)


def test_key_file_with_a_kid_that_is_not_the_thumbprint_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "oidc-keys.json"
    SigningKeys.load_or_create(path)
    stored = json.loads(path.read_text())
    stored["current"]["kid"] = "chosen-by-hand"
    path.write_text(json.dumps(stored))
    with pytest.raises(SigningKeyError, match="thumbprint"):
        SigningKeys.load_or_create(path)


def test_small_rsa_keys_are_refused() -> None:
    with pytest.raises(SigningKeyError, match="2048"):
        SigningKeys.generate(key_size=1024)


# --------------------------------------------------------------------------------------------------
# Client registrations
# --------------------------------------------------------------------------------------------------


def write_clients(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "oidc-clients.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_load_clients(tmp_path: Path) -> None:
    secret, digest = new_client_secret()
    path = write_clients(tmp_path, f"""
clients:
  - client_id: trading-web
    name: Trading site
    redirect_uris: [https://trade.example.jp/cb, "http://localhost:8080/cb", "http://127.0.0.1/cb"]
    client_secret_sha256: {digest}
    require_acr: phr
  - client_id: trading-app
    token_endpoint_auth_method: none
    redirect_uris: [https://trade.example.jp/app]
""")
    clients = load_clients(path)
    web, app = clients["trading-web"], clients["trading-app"]
    assert web.redirect_uris == ("https://trade.example.jp/cb", "http://localhost:8080/cb", "http://127.0.0.1/cb")
    assert web.client_secret_sha256 == hash_client_secret(secret) == hashlib.sha256(secret.encode()).hexdigest()
    assert web.require_acr == "phr" and not web.is_public and web.scopes == {"openid"}
    assert app.is_public and app.client_secret_sha256 is None
    assert new_client_secret()[0] != secret and len(secret) >= 43


HASH = "0" * 64


@pytest.mark.parametrize(("entry", "field_name", "words"), [
    ("redirect_uris: [http://trade.example.jp/cb]", "redirect_uris[0]", "https"),
    ("redirect_uris: [https://trade.example.jp/cb, 'https://trade.example.jp/cb#top']", "redirect_uris[1]",
     "fragment"),
    ("redirect_uris: ['https://*.example.jp/cb']", "redirect_uris[0]", "wildcard"),
    ("redirect_uris: [/relative/cb]", "redirect_uris[0]", "absolute"),
    ("redirect_uris: ['https://user:pw@trade.example.jp/cb']", "redirect_uris[0]", "user information"),
    ("redirect_uris: []", "redirect_uris", "at least one"),
    ("redirect_uris: [https://a.jp/cb]\n    redirect_uri: https://a.jp/cb", "redirect_uri", "unknown field"),
    ("redirect_uris: [https://a.jp/cb]\n    require_acr: gold", "require_acr", "phr"),
    ("redirect_uris: [https://a.jp/cb]\n    scopes: [profile]", "scopes", "openid"),
])
def test_bad_client_entries_name_file_entry_and_field(tmp_path: Path, entry: str, field_name: str,
                                                      words: str) -> None:
    path = write_clients(tmp_path, f"""
clients:
  - client_id: good
    redirect_uris: [https://a.jp/cb]
    client_secret_sha256: "{HASH}"
  - client_id: bad
    client_secret_sha256: "{HASH}"
    {entry}
""")
    with pytest.raises(ClientConfigError) as caught:
        load_clients(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: clients[1] (bad): {field_name}: "), message
    assert words in message


@pytest.mark.parametrize(("text", "words"), [
    ("clients:\n  - client_id: c\n    redirect_uris: [https://a.jp/cb]\n", "client_secret_sha256"),
    ("clients:\n  - client_id: c\n    redirect_uris: [https://a.jp/cb]\n    client_secret_sha256: 'abc'\n",
     "client_secret_sha256"),
    ("clients:\n  - client_id: c\n    redirect_uris: [https://a.jp/cb]\n    token_endpoint_auth_method: none\n"
     f"    client_secret_sha256: '{HASH}'\n", "public client"),
    (f"clients:\n  - {{client_id: c, redirect_uris: [https://a.jp/cb], client_secret_sha256: '{HASH}'}}\n"
     f"  - {{client_id: c, redirect_uris: [https://a.jp/x], client_secret_sha256: '{HASH}'}}\n", "registered twice"),
    ("clients:\n  - client_id: 'has space'\n    redirect_uris: [https://a.jp/cb]\n", "client_id"),
    ("- client_id: c\n", "expected a mapping with one key"),
])
def test_more_bad_client_files(tmp_path: Path, text: str, words: str) -> None:
    path = write_clients(tmp_path, text)
    with pytest.raises(ClientConfigError) as caught:
        load_clients(path)
    assert str(caught.value).startswith(f"{path}: ") and words in str(caught.value)


# --------------------------------------------------------------------------------------------------
# Discovery
# --------------------------------------------------------------------------------------------------


def test_discovery_document(provider: OidcProvider) -> None:
    doc = provider.discovery()
    assert doc["issuer"] == ISSUER
    assert doc["authorization_endpoint"] == f"{ISSUER}/oidc/authorize"
    assert doc["token_endpoint"] == f"{ISSUER}/oidc/token"
    assert doc["userinfo_endpoint"] == f"{ISSUER}/oidc/userinfo"
    assert doc["jwks_uri"] == f"{ISSUER}/oidc/jwks"
    assert doc["response_types_supported"] == ["code"]
    assert doc["code_challenge_methods_supported"] == ["S256"]
    assert doc["id_token_signing_alg_values_supported"] == ["RS256"]
    assert doc["acr_values_supported"] == [ACR_PASSWORD, ACR_MFA, ACR_PHISHING_RESISTANT]
    assert doc["authorization_response_iss_parameter_supported"] is True
    assert doc["request_uri_parameter_supported"] is False  # the default would be true
    assert "end_session_endpoint" not in doc


def test_issuer_with_a_path_prefixes_every_route(keys: SigningKeys, clock: Clock) -> None:
    provider = OidcProvider(ISSUER + "/idp", keys, registered_clients(), clock=clock)
    assert provider.discovery()["jwks_uri"] == f"{ISSUER}/idp/oidc/jwks"
    outcome = provider.authorize(validated(provider), None)
    assert isinstance(outcome, RedirectToLogin) and outcome.next_path.startswith("/idp/oidc/authorize?")

    async def nobody(_request: Request) -> LoginContext | None:
        return None

    paths = {getattr(route, "path", "") for route in oidc_router(provider, nobody).routes}
    assert paths == {"/idp/.well-known/openid-configuration", "/idp/oidc/jwks", "/idp/oidc/authorize",
                     "/idp/oidc/token", "/idp/oidc/userinfo"}


@pytest.mark.parametrize("issuer", ["http://login.example.jp", "https://login.example.jp/", "https://x.jp?a=1"])
def test_issuer_must_be_https_without_trailing_slash(keys: SigningKeys, issuer: str) -> None:
    with pytest.raises(ValueError, match="issuer"):
        OidcProvider(issuer, keys, {})


# --------------------------------------------------------------------------------------------------
# End to end: a real uvicorn server, Authlib as the relying party, httpx as the browser
# --------------------------------------------------------------------------------------------------

RP_CB = "https://rp.example.test/callback"
SESSION_COOKIE = "test_session"


@dataclass
class Server:
    url: str
    provider: OidcProvider
    sessions: dict[str, LoginContext]


def build_app(provider: OidcProvider, sessions: dict[str, LoginContext]) -> FastAPI:
    """The OIDC router plus a stand-in for mamori's login pages (a cookie naming a test session)."""
    app = FastAPI()

    async def current_login(request: Request) -> LoginContext | None:
        return sessions.get(request.cookies.get(SESSION_COOKIE, ""))

    app.include_router(oidc_router(provider, current_login))

    @app.get("/auth/login")
    async def login_page() -> Response:
        return HTMLResponse("<form method=post>login</form>")

    @app.post("/auth/login")
    async def log_in(request: Request) -> Response:
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
        target = form["next"]
        if not target.startswith("/") or target.startswith("//"):
            return Response(status_code=400)
        session_id = secrets.token_urlsafe(16)
        sessions[session_id] = LoginContext(subject=form["subject"], session_id=session_id,
                                            auth_time=int(time.time()), amr=AMR_PASSKEY, acr=ACR_PHISHING_RESISTANT)
        response = RedirectResponse(target, status_code=303)
        response.set_cookie(SESSION_COOKIE, session_id, httponly=True)
        return response

    return app


@contextlib.contextmanager
def serving(app_for: Any) -> Iterator[str]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    server = uvicorn.Server(uvicorn.Config(app_for(url), log_config=None, lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 15
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.01)
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@pytest.fixture(scope="module")
def server(keys: SigningKeys) -> Iterator[Server]:
    holder: dict[str, Server] = {}

    def app_for(url: str) -> FastAPI:
        clients = {
            "trading-web": OidcClient("trading-web", (RP_CB,), client_secret_sha256=WEB_SECRET_HASH),
            "trading-app": OidcClient("trading-app", ("http://127.0.0.1:9/cb",), token_endpoint_auth_method="none"),
        }
        provider = OidcProvider(url, keys, clients)
        holder["server"] = Server(url, provider, {})
        return build_app(provider, holder["server"].sessions)

    with serving(app_for):
        yield holder["server"]


def browser() -> httpx.Client:
    return httpx.Client(follow_redirects=False, trust_env=False, timeout=10)


def test_end_to_end_authorization_code_flow_with_authlib(server: Server, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    web = browser()
    disc = web.get(f"{server.url}/.well-known/openid-configuration").json()
    assert disc["issuer"] == server.url and disc["token_endpoint"] == f"{server.url}/oidc/token"

    rp = OAuth2Client(client_id="trading-web", client_secret=WEB_SECRET, scope="openid", redirect_uri=RP_CB,
                      code_challenge_method="S256", trust_env=False, timeout=10)
    verifier, nonce = secrets.token_urlsafe(64), secrets.token_urlsafe(16)
    url, state = rp.create_authorization_url(disc["authorization_endpoint"], code_verifier=verifier, nonce=nonce,
                                             acr_values="phr")
    assert query_of(url)["code_challenge"] == pkce_s256(verifier)

    # 1. authorize without a session: to the login page, next = the authorize request (relative)
    hop1 = web.get(url)
    assert hop1.status_code == 303 and hop1.headers["cache-control"] == "no-store"
    login_url = urlsplit(hop1.headers["location"])
    assert (login_url.scheme, login_url.netloc, login_url.path) == ("", "", "/auth/login")
    next_path = parse_qs(login_url.query)["next"][0]
    assert next_path.startswith("/oidc/authorize?") and not next_path.startswith("//")
    assert query_of(next_path)["nonce"] == nonce and query_of(next_path)["state"] == state
    # 2. the login page
    hop2 = web.get(server.url + hop1.headers["location"])
    assert hop2.status_code == 200
    # 3. logging in creates the session and goes back to next
    hop3 = web.post(f"{server.url}/auth/login", data={"next": next_path, "subject": "acct-42"})
    assert hop3.status_code == 303 and hop3.headers["location"] == next_path
    assert SESSION_COOKIE in web.cookies
    # 4. authorize again, now with the session: back to the client with code, state and iss
    hop4 = web.get(server.url + next_path)
    assert hop4.status_code == 303
    callback = hop4.headers["location"]
    assert callback.startswith(RP_CB + "?")
    back = query_of(callback)
    assert back["state"] == state and back["iss"] == server.url
    code = back["code"]

    token = rp.fetch_token(disc["token_endpoint"], authorization_response=callback, code_verifier=verifier,
                           state=state)
    assert token["token_type"] == "Bearer" and token["expires_in"] == 600

    key_set = KeySet.import_key_set(web.get(disc["jwks_uri"]).json())
    decoded = jwt.decode(token["id_token"], key_set, algorithms=disc["id_token_signing_alg_values_supported"])
    id_token = CodeIDToken(decoded.claims, decoded.header,
                           options={"iss": {"essential": True, "value": disc["issuer"]},
                                    "aud": {"essential": True, "value": "trading-web"}},
                           params={"nonce": nonce, "access_token": token["access_token"], "client_id": "trading-web"})
    id_token.validate()
    assert id_token["sub"] == "acct-42" and id_token["acr"] == "phr" and id_token["amr"] == ["pop", "user", "mfa"]

    assert rp.get(disc["userinfo_endpoint"]).json() == {"sub": "acct-42"}

    with pytest.raises(OAuthError) as replay:  # the same code again
        rp.fetch_token(disc["token_endpoint"], authorization_response=callback, code_verifier=verifier, state=state)
    assert replay.value.error == "invalid_grant"
    revoked = web.get(disc["userinfo_endpoint"], headers={"Authorization": f"Bearer {token['access_token']}"})
    assert revoked.status_code == 401 and 'error="invalid_token"' in revoked.headers["www-authenticate"]

    server_logs = [r.getMessage() for r in caplog.records if not r.name.startswith(("httpx", "httpcore"))]
    assert any("POST /oidc/token" in m for m in server_logs), "the server's access log was not captured"
    for secret in (code, token["access_token"], token["id_token"], WEB_SECRET, verifier):
        assert not [m for m in server_logs if secret in m]


def test_end_to_end_public_client_with_an_existing_session(server: Server) -> None:
    web = browser()
    session_id = secrets.token_urlsafe(16)
    server.sessions[session_id] = LoginContext("acct-7", session_id, int(time.time()) - 60, AMR_PASSKEY, "phr")
    web.cookies.set(SESSION_COOKIE, session_id)
    rp = OAuth2Client(client_id="trading-app", scope="openid", redirect_uri="http://127.0.0.1:9/cb",
                      code_challenge_method="S256", trust_env=False, timeout=10)
    verifier = secrets.token_urlsafe(48)
    url, state = rp.create_authorization_url(f"{server.url}/oidc/authorize", code_verifier=verifier)
    hop = web.get(url)
    assert hop.status_code == 303 and hop.headers["location"].startswith("http://127.0.0.1:9/cb?")
    token = rp.fetch_token(f"{server.url}/oidc/token", authorization_response=hop.headers["location"],
                           code_verifier=verifier, state=state)
    claims = jwt.decode(token["id_token"], server.provider.keys.key_set(), algorithms=["RS256"]).claims
    assert claims["sub"] == "acct-7" and claims["aud"] == "trading-app" and "nonce" not in claims

    web.post(f"{server.url}/oidc/userinfo", headers={"Authorization": f"Bearer {token['access_token']}"})
    server.provider.revoke_session(session_id)  # what mamori's logout does
    after = web.post(f"{server.url}/oidc/userinfo", headers={"Authorization": f"Bearer {token['access_token']}"})
    assert after.status_code == 401


def test_http_error_page_for_an_unknown_client(server: Server) -> None:
    params, _ = auth_params("no-such-client", "https://evil.example/cb")
    response = browser().get(f"{server.url}/oidc/authorize", params=params)
    assert response.status_code == 400 and "location" not in response.headers
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    assert '<html lang="ja">' in page and "ログインを続行できません" in page and "Sign-in cannot continue" in page
    assert "invalid_client" in page
    for external in ("evil.example", "http://", "https://", "<a ", "<script", "<link", "<img", "src=", "href="):
        assert external not in page
    assert "default-src 'none'" in response.headers["content-security-policy"]


def test_http_repeated_authorize_parameter_is_an_error_page(server: Server) -> None:
    params, _ = auth_params()
    query = urlencode(params) + "&redirect_uri=" + "https%3A%2F%2Fevil.example%2Fcb"
    response = browser().get(f"{server.url}/oidc/authorize?{query}")
    assert response.status_code == 400 and "location" not in response.headers


def test_http_authorize_by_post(server: Server) -> None:
    params, _ = auth_params("trading-web", RP_CB)
    response = browser().post(f"{server.url}/oidc/authorize", data=params)
    assert response.status_code == 303 and response.headers["location"].startswith("/auth/login?next=%2Foidc%2F")


def test_http_token_endpoint_errors(server: Server) -> None:
    web = browser()
    form = {"grant_type": "authorization_code", "code": "x", "redirect_uri": RP_CB, "code_verifier": "v" * 43}
    wrong = web.post(f"{server.url}/oidc/token", data=form, auth=("trading-web", "wrong"))
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"
    assert wrong.headers["www-authenticate"].startswith("Basic ")
    assert wrong.headers["cache-control"] == "no-store" and wrong.headers["pragma"] == "no-cache"
    as_json = web.post(f"{server.url}/oidc/token", json=form, auth=("trading-web", WEB_SECRET))
    assert as_json.status_code == 400 and as_json.json()["error"] == "invalid_request"
    repeated = web.post(f"{server.url}/oidc/token", content=urlencode(form) + "&code=y",
                        headers={"content-type": "application/x-www-form-urlencoded"},
                        auth=("trading-web", WEB_SECRET))
    assert repeated.status_code == 400 and repeated.json()["error"] == "invalid_request"
    unknown = web.post(f"{server.url}/oidc/token", data=form, auth=("trading-web", WEB_SECRET))
    assert unknown.status_code == 400 and unknown.json()["error"] == "invalid_grant"


def test_http_userinfo_errors(server: Server) -> None:
    web = browser()
    bare = web.get(f"{server.url}/oidc/userinfo")
    assert bare.status_code == 401 and bare.headers["www-authenticate"] == 'Bearer realm="mamori"'
    bad = web.get(f"{server.url}/oidc/userinfo", headers={"Authorization": "Bearer " + secrets.token_urlsafe(32)})
    assert bad.status_code == 401 and 'error="invalid_token"' in bad.headers["www-authenticate"]
    assert bad.headers["cache-control"] == "no-store"
    malformed = web.get(f"{server.url}/oidc/userinfo", headers={"Authorization": "Bearer a b"})
    assert malformed.status_code == 400 and 'error="invalid_request"' in malformed.headers["www-authenticate"]


def test_http_discovery_and_jwks(server: Server) -> None:
    web = browser()
    doc = web.get(f"{server.url}/.well-known/openid-configuration").json()
    assert doc == server.provider.discovery()
    jwks = web.get(doc["jwks_uri"])
    assert jwks.headers["content-type"].startswith("application/jwk-set+json")
    assert [k["kid"] for k in jwks.json()["keys"]] == [server.provider.keys.kid]
    assert all("d" not in k for k in jwks.json()["keys"])
