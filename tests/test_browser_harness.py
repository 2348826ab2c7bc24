"""The browser harness itself: Chromium + a CDP virtual authenticator complete WebAuthn ceremonies on a
static page served over real HTTP on localhost, including conditional mediation (passkey autofill).

The page only runs the browser side; Python plays the relying party minimally (challenge, origin, type,
RP ID hash, flags, counter). Signature checks belong to the real server tests.
"""

from __future__ import annotations

import hashlib
import secrets
import struct
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from playwright.sync_api import Page

from browser import (  # noqa: F401  (chromium_fixture, new_page_fixture: pytest fixtures)
    JsPromise,
    JsRejected,
    VirtualAuthenticator,
    b64url_decode,
    b64url_encode,
    call_js,
    chromium_fixture,
    client_data,
    new_page_fixture,
    serve_static,
)

PAGE = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>mamori passkey harness</title></head>
<body>
<form id="login" onsubmit="return false">
  <label>Login ID <input id="username" name="username" autocomplete="username webauthn"></label>
</form>
<script>
"use strict";
// The page JS a real login page would have: options come as JSON from the server, results go back as JSON.
let conditionalAbort = null;
window.passkeys = {
  async register(optionsJSON) {
    const publicKey = PublicKeyCredential.parseCreationOptionsFromJSON(optionsJSON);
    return (await navigator.credentials.create({publicKey})).toJSON();
  },
  async signIn(optionsJSON) {
    if (conditionalAbort) conditionalAbort.abort();   // a pending conditional request blocks a modal one
    const publicKey = PublicKeyCredential.parseRequestOptionsFromJSON(optionsJSON);
    return (await navigator.credentials.get({publicKey})).toJSON();
  },
  async autofill(optionsJSON) {
    conditionalAbort = new AbortController();
    const publicKey = PublicKeyCredential.parseRequestOptionsFromJSON(optionsJSON);
    const credential = await navigator.credentials.get(
        {mediation: "conditional", publicKey, signal: conditionalAbort.signal});
    return credential.toJSON();
  },
  cancelAutofill() { if (conditionalAbort) conditionalAbort.abort(); },
};
</script>
</body>
</html>
"""

RP_ID = "localhost"
FLAG_UP, FLAG_UV, FLAG_AT = 0x01, 0x04, 0x40


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    with serve_static({"/": PAGE}) as base_url:
        yield base_url


def open_site(new_page: Callable[..., Page], site: str, **authenticator: Any) -> tuple[Page, VirtualAuthenticator]:
    """A fresh page with a virtual authenticator (added before navigation), on the test page."""
    page = new_page()
    auth = VirtualAuthenticator(page).add(**authenticator)
    page.goto(site + "/")
    return page, auth


def creation_options(user_id: bytes, challenge: bytes) -> dict[str, Any]:
    """What the server would send for registration: discoverable credential, UV required, ES256."""
    return {"rp": {"id": RP_ID, "name": "mamori"},
            "user": {"id": b64url_encode(user_id), "name": "taro.yamada", "displayName": "山田 太郎"},
            "challenge": b64url_encode(challenge),
            "pubKeyCredParams": [{"type": "public-key", "alg": -7}],
            "authenticatorSelection": {"residentKey": "required", "userVerification": "required"},
            "attestation": "none", "timeout": 10_000}


def request_options(challenge: bytes, user_verification: str = "required") -> dict[str, Any]:
    """What the server would send for sign-in: no allowCredentials (discoverable credentials)."""
    return {"challenge": b64url_encode(challenge), "rpId": RP_ID, "allowCredentials": [],
            "userVerification": user_verification, "timeout": 10_000}


def check_response(credential: dict[str, Any], *, kind: str, challenge: bytes, origin: str) -> tuple[int, int]:
    """The relying party's cheap checks; returns (flags, signCount) from authenticatorData."""
    data = client_data(credential)
    assert data["type"] == kind
    assert data["origin"] == origin
    assert b64url_decode(data["challenge"]) == challenge
    assert data.get("crossOrigin", False) is False
    assert credential["type"] == "public-key"
    assert credential["id"] == credential["rawId"]
    auth_data = b64url_decode(credential["response"]["authenticatorData"])
    assert auth_data[:32] == hashlib.sha256(RP_ID.encode()).digest()
    flags, sign_count = auth_data[32], struct.unpack(">I", auth_data[33:37])[0]
    return flags, sign_count


def register(page: Page, origin: str, user_id: bytes = b"user-0001") -> dict[str, Any]:
    challenge = secrets.token_bytes(32)
    credential = call_js(page, "(o) => passkeys.register(o)", creation_options(user_id, challenge))
    flags, _ = check_response(credential, kind="webauthn.create", challenge=challenge, origin=origin)
    assert flags & (FLAG_UP | FLAG_UV | FLAG_AT) == FLAG_UP | FLAG_UV | FLAG_AT
    return dict(credential)


def test_json_helpers_and_conditional_mediation_are_available(new_page: Callable[..., Page], site: str) -> None:
    page, _ = open_site(new_page, site)
    support = call_js(page, """async () => ({
        parseCreationOptionsFromJSON: typeof PublicKeyCredential.parseCreationOptionsFromJSON,
        parseRequestOptionsFromJSON: typeof PublicKeyCredential.parseRequestOptionsFromJSON,
        toJSON: typeof PublicKeyCredential.prototype.toJSON,
        conditional: await PublicKeyCredential.isConditionalMediationAvailable(),
        platform: await PublicKeyCredential.isUserVerifyingPlatformAuthenticatorAvailable(),
        capabilities: await PublicKeyCredential.getClientCapabilities(),
        secure: window.isSecureContext,
    })""")
    assert support["parseCreationOptionsFromJSON"] == "function"
    assert support["parseRequestOptionsFromJSON"] == "function"
    assert support["toJSON"] == "function"
    assert support["conditional"] is True
    assert support["platform"] is True
    assert support["capabilities"]["conditionalGet"] is True
    assert support["secure"] is True


def test_register_then_sign_in(new_page: Callable[..., Page], site: str) -> None:
    page, auth = open_site(new_page, site)
    assert auth.credentials() == []

    created = register(page, site, user_id=b"user-0001")
    [stored] = auth.credentials()
    assert stored["id"] == created["id"]
    assert stored["rpId"] == RP_ID
    assert stored["isResidentCredential"] is True
    assert stored["userHandle"] == b64url_encode(b"user-0001")
    assert stored["userName"] == "taro.yamada"
    assert created["response"]["publicKeyAlgorithm"] == -7
    assert created["authenticatorAttachment"] == "platform"
    count_after_create = stored["signCount"]

    challenge = secrets.token_bytes(32)
    asserted = call_js(page, "(o) => passkeys.signIn(o)", request_options(challenge))
    flags, counter = check_response(asserted, kind="webauthn.get", challenge=challenge, origin=site)
    assert asserted["id"] == created["id"]
    assert b64url_decode(asserted["response"]["userHandle"]) == b"user-0001"
    assert flags & (FLAG_UP | FLAG_UV) == FLAG_UP | FLAG_UV
    [stored] = auth.credentials()
    assert stored["signCount"] > count_after_create
    assert counter == stored["signCount"]


def test_conditional_get_completes_without_any_interaction(new_page: Callable[..., Page], site: str) -> None:
    """Chromium (WebAuthn UI disabled) picks the discoverable credential itself: no focus, no click."""
    page, auth = open_site(new_page, site)
    created = register(page, site)
    before = auth.credentials()[0]["signCount"]

    challenge = secrets.token_bytes(32)
    asserted = call_js(page, "(o) => passkeys.autofill(o)", request_options(challenge))
    check_response(asserted, kind="webauthn.get", challenge=challenge, origin=site)
    assert asserted["id"] == created["id"]
    assert page.evaluate("document.activeElement === document.getElementById('username')") is False
    assert auth.credentials()[0]["signCount"] > before


def test_with_several_credentials_the_first_listed_is_used_and_all_counters_move(
        new_page: Callable[..., Page], site: str) -> None:
    """The first credential by ID bytes (arbitrary, not the newest) answers; allowCredentials picks one
    in a modal request but is ignored by a conditional one."""
    page, auth = open_site(new_page, site)
    made = [register(page, site, user_id=user)["id"] for user in (b"older", b"newer", b"newest")]
    listed = [c["id"] for c in auth.credentials()]
    assert sorted(listed) == sorted(made)
    assert listed == sorted(listed, key=b64url_decode)
    counts = {c["id"]: c["signCount"] for c in auth.credentials()}

    asserted = call_js(page, "(o) => passkeys.autofill(o)", request_options(secrets.token_bytes(32)))
    assert asserted["id"] == listed[0]
    # one assertion bumps the counter of every discoverable credential for the RP
    assert all(c["signCount"] > counts[c["id"]] for c in auth.credentials())

    wanted = listed[-1]
    only_wanted = {**request_options(secrets.token_bytes(32)), "allowCredentials": [{"type": "public-key", "id": wanted}]}
    assert call_js(page, "(o) => passkeys.signIn(o)", only_wanted)["id"] == wanted
    assert call_js(page, "(o) => passkeys.autofill(o)", only_wanted)["id"] == listed[0]


def test_conditional_get_without_a_credential_rejects_at_once(new_page: Callable[..., Page], site: str) -> None:
    """A real browser would wait silently; the virtual authenticator answers NotAllowedError."""
    page, _ = open_site(new_page, site)
    with pytest.raises(JsRejected) as rejected:
        call_js(page, "(o) => passkeys.autofill(o)", request_options(secrets.token_bytes(32)))
    assert rejected.value.name == "NotAllowedError"


def test_pending_conditional_request_must_be_aborted_before_a_modal_one(new_page: Callable[..., Page], site: str) -> None:
    page, auth = open_site(new_page, site)
    created = register(page, site)

    auth.set_automatic_presence(False)  # no touch: the conditional request stays pending
    autofill = JsPromise.start(page, "(o) => passkeys.autofill(o)", request_options(secrets.token_bytes(32)))
    time.sleep(0.5)
    assert autofill.state() == "pending"

    with pytest.raises(JsRejected) as rejected:  # a second request while the first is pending
        call_js(page, "(o) => navigator.credentials.get({publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(o)})",
                request_options(secrets.token_bytes(32)))
    assert rejected.value.name == "OperationError"
    auth.set_automatic_presence(True)
    assert autofill.state() == "pending"  # presence does not complete an already pending request

    challenge = secrets.token_bytes(32)
    asserted = call_js(page, "(o) => passkeys.signIn(o)", request_options(challenge))  # aborts autofill first
    check_response(asserted, kind="webauthn.get", challenge=challenge, origin=site)
    assert asserted["id"] == created["id"]
    with pytest.raises(JsRejected) as aborted:
        autofill.result()
    assert aborted.value.name == "AbortError"


def test_user_verification_required_fails_when_the_user_is_not_verified(new_page: Callable[..., Page], site: str) -> None:
    page, auth = open_site(new_page, site)
    register(page, site)
    before = auth.credentials()[0]["signCount"]

    auth.set_user_verified(False)
    for script in ("(o) => passkeys.signIn(o)", "(o) => passkeys.autofill(o)"):
        with pytest.raises(JsRejected) as rejected:
            call_js(page, script, request_options(secrets.token_bytes(32), "required"))
        assert rejected.value.name == "NotAllowedError"
    assert auth.credentials()[0]["signCount"] == before

    # "discouraged" still signs, with the UV flag clear: the server must check the flag itself
    challenge = secrets.token_bytes(32)
    asserted = call_js(page, "(o) => passkeys.signIn(o)", request_options(challenge, "discouraged"))
    flags, _ = check_response(asserted, kind="webauthn.get", challenge=challenge, origin=site)
    assert flags & FLAG_UP and not flags & FLAG_UV

    auth.set_user_verified(True)
    call_js(page, "(o) => passkeys.signIn(o)", request_options(secrets.token_bytes(32)))


def test_clear_and_remove(new_page: Callable[..., Page], site: str) -> None:
    page, auth = open_site(new_page, site)
    first = register(page, site, user_id=b"a")
    second = register(page, site, user_id=b"b")
    auth.remove_credential(second["id"])
    assert [c["id"] for c in auth.credentials()] == [first["id"]]
    auth.clear_credentials()
    assert auth.credentials() == []
    with pytest.raises(JsRejected) as rejected:
        call_js(page, "(o) => passkeys.signIn(o)", request_options(secrets.token_bytes(32)))
    assert rejected.value.name == "NotAllowedError"

    auth.remove()
    with pytest.raises(RuntimeError):
        auth.credentials()
    auth.add()  # a fresh, empty authenticator works again
    register(page, site)
    assert len(auth.credentials()) == 1
    auth.close()


@pytest.mark.parametrize("locale", ["ja-JP", "en-US"])
def test_locale_sets_page_language_and_accept_language(new_page: Callable[..., Page], site: str, locale: str) -> None:
    page = new_page(locale=locale)
    response = page.goto(site + "/")
    assert response is not None and response.ok
    assert response.request.all_headers()["accept-language"].startswith(locale)
    assert page.evaluate("navigator.language") == locale


def test_waits_on_page_promises_are_bounded(new_page: Callable[..., Page], site: str) -> None:
    page = new_page()
    page.goto(site + "/")
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        call_js(page, "() => new Promise(() => {})", timeout=0.5)
    assert time.monotonic() - started < 5
    assert call_js(page, "async (x) => x * 2", 21) == 42
