"""Headless Chromium with a virtual WebAuthn authenticator, for passkey end-to-end tests.

Debian's ``/usr/bin/chromium`` (installed by ``scripts/system-deps``; Playwright's own browser downloads
are not used) is driven through Playwright's sync API. A Chrome DevTools Protocol (CDP) session on a
page adds a virtual CTAP2 platform authenticator to it, so the page can complete
``navigator.credentials.create`` / ``.get`` on ``http://localhost:<port>`` (a secure context, RP ID
``localhost``) without any UI.

Using it from a test module
---------------------------
``tests/conftest.py`` is shared, so the fixtures live here and a test module imports them; pytest
registers fixture functions found in a test module's namespace::

    from browser import VirtualAuthenticator, call_js, chromium_fixture, new_page_fixture  # noqa: F401

    def test_sign_in(new_page):
        page = new_page(locale="ja-JP")              # fresh BrowserContext, 10 s default timeouts
        auth = VirtualAuthenticator(page).add()      # before goto if the page starts a WebAuthn call on load
        page.goto(f"http://localhost:{port}/login")
        ...
        assert auth.credentials()[0]["signCount"] == 2

Import ``chromium_fixture`` as well as ``new_page_fixture`` (the page fixture depends on it). They are
registered under the names ``chromium`` and ``new_page`` (``@pytest.fixture(name=...)``), so test
arguments do not shadow the imported names (ruff F811); the ``noqa: F401`` keeps ruff from calling the
import unused. No ``pytest_plugins`` and no conftest change are needed, and it works unchanged with
``pytest -n 2 --dist loadfile``: each xdist worker is its own process and runs whole files.

One browser per test module, not per session
--------------------------------------------
``chromium`` is module-scoped: Playwright plus Chromium start in ~1 s on first use in a module and are
closed when the module's tests end. A session-wide browser is *not* safe here: while Playwright's sync
API is started, it marks its asyncio loop as the thread's running loop between calls, so
``asyncio.run()`` anywhere later in the same process (test_store.py, test_durability.py do that) fails
with "cannot be called from a running event loop", and so would a second ``sync_playwright()``. For the
same reason, don't call ``asyncio.run()`` in a browser test module after the browser has started. If the
test process dies (even SIGKILL), Playwright's driver sees its pipe close and takes Chromium down with it.

Nothing waits forever
---------------------
Playwright's ``page.evaluate`` has no timeout, and a WebAuthn promise can stay pending indefinitely (see
below). Await page promises with :func:`call_js` / :class:`JsPromise` (10 s default): the promise is
started in the page and Playwright's ``wait_for_function`` (which has a timeout) waits for it to settle.
Contexts from ``new_page`` get 10 s default timeouts for navigation, locators and waits.

What the virtual authenticator does (Chromium 150; tried by hand, the main points pinned by
test_browser_harness.py)
---------------------------------------------------------------------------------------------------
- ``WebAuthn.enable`` is sent with ``enableUI: false`` (the default): Chromium then answers requests
  from the virtual authenticator without showing account pickers. That is the only "switch" needed.
  With ``enableUI: true`` a conditional request stays pending in headless mode whatever the test does
  (focus, click, arrow keys + Enter), and a ``create`` waits for a dialog nobody can answer.
- Conditional mediation (passkey autofill) completes by itself: a
  ``navigator.credentials.get({mediation: "conditional", publicKey: {allowCredentials: [], ...}})``
  resolves within milliseconds with the authenticator's discoverable credential for the RP. No focus,
  click or keystroke is needed, and not even an ``<input autocomplete="username webauthn">`` on the page
  (keep it there anyway: real browsers need it). JS that works::

      const options = PublicKeyCredential.parseRequestOptionsFromJSON(optionsJSONFromServer);
      const abort = new AbortController();
      const credential = await navigator.credentials.get(
          {mediation: "conditional", publicKey: options, signal: abort.signal});
      await fetch("/login/finish", {method: "POST", body: JSON.stringify(credential.toJSON())});

  With several discoverable credentials for the RP, Chromium takes the first one listed by
  ``credentials()``, i.e. the lowest credential ID bytes (random, so effectively arbitrary; not the
  newest), and *every* one of them has its sign count increased. A conditional request ignores
  ``allowCredentials``; a modal one honours it. So keep one credential per RP when a test needs a
  particular account to come back from autofill.
- Unlike a real browser, a conditional request with no matching credential rejects at once with
  ``NotAllowedError`` instead of waiting silently.
- To hold a conditional request pending (e.g. to test a "sign in with a passkey" button on a page that
  starts autofill on load), call ``set_automatic_presence(False)`` before the request starts: it then
  stays pending (turning presence back on does not complete it) until the page aborts it
  (``AbortError``). A second ``get`` started while a conditional one is pending fails at once with
  ``OperationError``: the page must abort the conditional request first.
- A conditional request ignores ``timeout`` and stays pending while the page has no authenticator;
  adding one then makes it reject with ``NotAllowedError``. So add the authenticator (and its
  credentials) before the page issues a request.
- With ``set_user_verified(False)``, ``userVerification: "required"`` and ``"preferred"`` both fail with
  ``NotAllowedError``; ``"discouraged"`` succeeds with the UV flag clear.
- ``PublicKeyCredential.signalUnknownCredential({rpId, credentialId})`` deletes the credential from
  the virtual authenticator.
- The authenticator belongs to one page (tab): it survives reloads and navigations of that page, but a
  second page or a popup has none, and a WebAuthn call there waits for a UI that headless Chromium
  never shows (beyond its ``timeout``): create a :class:`VirtualAuthenticator` for every page that
  needs one.
- ``PublicKeyCredential.parseCreationOptionsFromJSON``, ``parseRequestOptionsFromJSON``,
  ``credential.toJSON()``, ``isConditionalMediationAvailable()`` (true) and ``getClientCapabilities()``
  are all available, so page JS needs no hand-written base64url code.
- Page language: ``--lang`` has no effect on pages in headless Chromium (``navigator.languages`` stays
  ``en-US``); the context ``locale`` sets ``navigator.languages`` and ``Accept-Language``.
  ``new_page`` defaults to ``en-US`` so that tests do not depend on the environment.
"""

from __future__ import annotations

import base64
import http.server
import json
import mimetypes
import os
import shutil
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",  # containers often have a tiny /dev/shm
)
TIMEOUT_S = 10.0
MISSING = (f"Chromium not found at {CHROMIUM}: the browser tests need Debian's chromium package. "
           "Run scripts/system-deps (CI does).")


class ChromiumUnavailable(RuntimeError):
    """Debian's Chromium is not installed."""


def chromium_path() -> str | None:
    """The Chromium executable: ``/usr/bin/chromium``, else ``chromium`` on PATH, else None."""
    if os.access(CHROMIUM, os.X_OK):
        return CHROMIUM
    return shutil.which("chromium")


def chromium_available() -> bool:
    """Whether a Chromium executable is installed."""
    return chromium_path() is not None


@contextmanager
def launch_chromium(*, extra_args: Sequence[str] = (), headless: bool = True) -> Iterator[Browser]:
    """Start Playwright and a headless Chromium; both are closed on exit.

    Must not be nested with, or run while, another Playwright sync instance in the same thread, nor
    inside a running asyncio loop. Raises :class:`ChromiumUnavailable` when Chromium is missing.
    """
    executable = chromium_path()
    if executable is None:
        raise ChromiumUnavailable(MISSING)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, headless=headless,
                                             args=[*CHROMIUM_ARGS, *extra_args], timeout=30_000)
        try:
            yield browser
        finally:
            browser.close()


def new_context(browser: Browser, *, locale: str = "en-US", **options: Any) -> BrowserContext:
    """A fresh context (own cookies and storage) with 10 s default timeouts. ``options`` go to
    ``Browser.new_context`` (e.g. ``timezone_id="Asia/Tokyo"``)."""
    context = browser.new_context(locale=locale, **options)
    context.set_default_timeout(TIMEOUT_S * 1000)
    context.set_default_navigation_timeout(TIMEOUT_S * 1000)
    return context


@pytest.fixture(scope="module", name="chromium")
def chromium_fixture() -> Iterator[Browser]:
    """The module's Chromium. Fails (never skips) without Chromium: CI must run the browser tests."""
    if not chromium_available():
        pytest.fail(MISSING, pytrace=False)
    with launch_chromium() as browser:
        yield browser


@pytest.fixture(name="new_page")
def new_page_fixture(chromium: Browser) -> Iterator[Callable[..., Page]]:
    """A factory: ``new_page(locale="ja-JP", **context_options)`` opens a page in a fresh context
    (see :func:`new_context`). Every context it made is closed after the test."""
    contexts: list[BrowserContext] = []

    def open_page(locale: str = "en-US", **options: Any) -> Page:
        context = new_context(chromium, locale=locale, **options)
        contexts.append(context)
        return context.new_page()

    yield open_page
    for context in contexts:
        context.close()


class JsRejected(Exception):
    """A page promise rejected; ``name`` is the JS error's name (e.g. ``NotAllowedError``)."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(f"{name}: {message}")
        self.name = name
        self.message = message


_START = """([key, arg]) => {
  const slots = (globalThis.__mamoriJsPromises ??= {});
  slots[key] = {state: "pending"};
  Promise.resolve().then(() => (__SCRIPT__)(arg)).then(
    (value) => { slots[key] = {state: "fulfilled", value}; },
    (error) => { slots[key] = {state: "rejected", name: String(error?.name ?? "Error"),
                               message: String(error?.message ?? error)}; });
}"""


class JsPromise:
    """A promise started in a page and awaited from Python with a timeout.

    ``script`` is a JS function expression of one argument (``arg``, JSON-serializable); its result
    must be serializable by Playwright (return ``credential.toJSON()``, not the credential).
    """

    def __init__(self, page: Page, key: str) -> None:
        self.page = page
        self.key = key

    @classmethod
    def start(cls, page: Page, script: str, arg: Any = None) -> JsPromise:
        key = uuid.uuid4().hex
        page.evaluate(_START.replace("__SCRIPT__", script), [key, arg])
        return cls(page, key)

    def state(self) -> str:
        """``pending``, ``fulfilled``, ``rejected``, or ``gone`` (the page navigated away)."""
        return str(self.page.evaluate("(key) => globalThis.__mamoriJsPromises?.[key]?.state ?? 'gone'", self.key))

    def result(self, timeout: float = TIMEOUT_S) -> Any:
        """The fulfilled value. Raises :class:`JsRejected` if the promise rejected, ``TimeoutError`` if it
        is still pending after ``timeout`` seconds, ``RuntimeError`` if the page navigated away."""
        try:
            self.page.wait_for_function("(key) => globalThis.__mamoriJsPromises?.[key]?.state !== 'pending'",
                                        arg=self.key, timeout=timeout * 1000, polling=50)
        except PlaywrightTimeoutError as exc:
            raise TimeoutError(f"page promise still pending after {timeout} s") from exc
        slot = self.page.evaluate("(key) => globalThis.__mamoriJsPromises?.[key] ?? null", self.key)
        if slot is None:
            raise RuntimeError("the page navigated away before the promise settled")
        if slot["state"] == "rejected":
            raise JsRejected(slot["name"], slot["message"])
        return slot.get("value")


def call_js(page: Page, script: str, arg: Any = None, *, timeout: float = TIMEOUT_S) -> Any:
    """Run ``script`` (a JS function expression, may be async) with ``arg`` in the page and return its
    result; like ``page.evaluate`` but bounded by ``timeout`` seconds (see :class:`JsPromise`)."""
    return JsPromise.start(page, script, arg).result(timeout)


def b64url_encode(data: bytes) -> str:
    """Unpadded base64url, as WebAuthn JSON uses."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Decode base64url with or without padding."""
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _cdp_to_b64url(text: str) -> str:
    """CDP sends binary fields as standard, padded base64."""
    return b64url_encode(base64.b64decode(text))


class VirtualAuthenticator:
    """A CDP virtual authenticator for one page (tab); by default a CTAP2 platform authenticator
    (transport ``internal``) with resident keys and user verification, which verifies the user.

    ``VirtualAuthenticator(page)`` opens the CDP session and enables the WebAuthn domain without UI;
    :meth:`add` then creates the authenticator. Do that before the page makes a WebAuthn call. Usable as
    a context manager (:meth:`close` on exit); closing the page's context also disposes of it.
    Credential ids and user handles are unpadded base64url, like ``credential.id`` in the page.
    """

    def __init__(self, page: Page) -> None:
        self.page = page
        self._cdp = page.context.new_cdp_session(page)
        self._cdp.send("WebAuthn.enable", {"enableUI": False})
        self.authenticator_id: str | None = None

    def add(self, *, user_verified: bool = True, resident_key: bool = True, user_verification: bool = True,
            protocol: str = "ctap2", transport: str = "internal", **options: Any) -> VirtualAuthenticator:
        """Create the authenticator and return ``self``. ``options`` are further
        ``WebAuthn.VirtualAuthenticatorOptions`` (e.g. ``defaultBackupEligibility=True``)."""
        if self.authenticator_id is not None:
            raise RuntimeError("authenticator already added; remove() it first")
        spec = {"protocol": protocol, "transport": transport, "hasResidentKey": resident_key,
                "hasUserVerification": user_verification, "isUserVerified": user_verified,
                "automaticPresenceSimulation": True, **options}
        self.authenticator_id = self._cdp.send("WebAuthn.addVirtualAuthenticator", {"options": spec})["authenticatorId"]
        return self

    def _id(self) -> str:
        if self.authenticator_id is None:
            raise RuntimeError("no authenticator: call add() first")
        return self.authenticator_id

    def credentials(self) -> list[dict[str, Any]]:
        """The stored credentials (ordered by credential ID bytes): ``id``, ``rpId``, ``signCount``,
        ``userHandle``, ``isResidentCredential``, ``userName``, ``backupEligibility``, ``backupState``."""
        raw = self._cdp.send("WebAuthn.getCredentials", {"authenticatorId": self._id()})["credentials"]
        return [{"id": _cdp_to_b64url(c["credentialId"]),
                 "rpId": c.get("rpId"),
                 "signCount": c["signCount"],
                 "userHandle": _cdp_to_b64url(c["userHandle"]) if c.get("userHandle") else None,
                 "isResidentCredential": c["isResidentCredential"],
                 "userName": c.get("userName"),
                 "backupEligibility": c.get("backupEligibility"),
                 "backupState": c.get("backupState")} for c in raw]

    def set_user_verified(self, verified: bool) -> None:
        """Whether user verification (biometrics/PIN) succeeds from now on."""
        self._cdp.send("WebAuthn.setUserVerified", {"authenticatorId": self._id(), "isUserVerified": verified})

    def set_automatic_presence(self, enabled: bool) -> None:
        """Whether the user's touch is simulated. Off, requests wait for a touch that never comes:
        modal ones fail after their ``timeout``, conditional ones stay pending until aborted."""
        self._cdp.send("WebAuthn.setAutomaticPresenceSimulation", {"authenticatorId": self._id(), "enabled": enabled})

    def remove_credential(self, credential_id: str) -> None:
        """Delete one credential (id in base64url, as ``credential.id``)."""
        cdp_id = base64.b64encode(b64url_decode(credential_id)).decode("ascii")
        self._cdp.send("WebAuthn.removeCredential", {"authenticatorId": self._id(), "credentialId": cdp_id})

    def clear_credentials(self) -> None:
        """Delete every credential."""
        self._cdp.send("WebAuthn.clearCredentials", {"authenticatorId": self._id()})

    def remove(self) -> None:
        """Remove the authenticator (its credentials are lost); :meth:`add` may be called again."""
        self._cdp.send("WebAuthn.removeVirtualAuthenticator", {"authenticatorId": self._id()})
        self.authenticator_id = None

    def close(self) -> None:
        """Remove the authenticator and detach the CDP session; a no-op once the page is closed."""
        try:
            if self.authenticator_id is not None:
                self.remove()
            self._cdp.send("WebAuthn.disable")
            self._cdp.detach()
        except PlaywrightError:
            pass  # page or context already closed

    def __enter__(self) -> VirtualAuthenticator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _StaticHandler(http.server.BaseHTTPRequestHandler):
    pages: Mapping[str, str | bytes] = {}

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        body = self.pages.get(path)
        if body is None:
            self.send_error(404)
            return
        data = body.encode("utf-8") if isinstance(body, str) else body
        guessed = mimetypes.guess_type(path)[0]
        ctype = guessed or "text/html"
        if ctype.startswith("text/") or ctype in ("application/javascript", "application/json"):
            ctype += "; charset=utf-8"
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def serve_static(pages: Mapping[str, str | bytes]) -> Iterator[str]:
    """Serve ``pages`` (URL path -> content; ``/`` is HTML) on 127.0.0.1 from a thread; yields the base
    URL ``http://localhost:<port>`` (localhost is a secure context and a valid RP ID)."""
    handler = type("StaticHandler", (_StaticHandler,), {"pages": dict(pages)})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="static-http", daemon=True)
    thread.start()
    try:
        yield f"http://localhost:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=TIMEOUT_S)


def client_data(credential_json: Mapping[str, Any]) -> dict[str, Any]:
    """The decoded ``clientDataJSON`` of a ``credential.toJSON()`` result."""
    return dict(json.loads(b64url_decode(credential_json["response"]["clientDataJSON"])))
