"""Console operators for HTTP-level tests: create one (CLI or API), enrol a passkey with the software
authenticator (``mamori.bench.softauthn``), sign in, and call pages or the JSON API with the session
cookie, the CSRF token and the console's ``Origin`` - what the console's script does in a browser.
:class:`Watch` collects what went wrong on a Playwright page (page errors, console errors, failed requests)."""

from __future__ import annotations

import re
from typing import Any

import httpx
from playwright.sync_api import ConsoleMessage, Page, Request, Response

from mamori.bench.softauthn import SoftAuthenticator
from server import RunningServer

CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]*)">')


def console_base(server: RunningServer) -> str:
    """The console origin of a test server (the default: http://localhost:<port>)."""
    return f"http://localhost:{server.port}"


def create_operator(server: RunningServer, login_id: str, role: str, name: str = "Test Operator") -> str:
    """Create an operator through the API with the admin key; returns the one-time enrolment code."""
    with server.client() as admin:
        response = admin.post("/v1/operators", json={"login_id": login_id, "name": name, "role": role})
    assert response.status_code == 201, response.text
    return str(response.json()["enrolment_code"])


class Operator:
    """One operator's browser-like HTTP session."""

    def __init__(self, server: RunningServer, login_id: str) -> None:
        self.server = server
        self.login_id = login_id
        self.origin = console_base(server)
        self.authenticator = SoftAuthenticator(origin=self.origin)
        # No keep-alive: a test may sit idle (a CLI run) longer than the server keeps a connection open, and a
        # request racing the server's close would fail with "server disconnected".
        self.http = httpx.Client(base_url=self.origin, trust_env=False, timeout=30.0, follow_redirects=False,
                                 limits=httpx.Limits(max_keepalive_connections=0))
        self.csrf = ""

    def close(self) -> None:
        self.http.close()

    def post_json(self, path: str, body: Any, *, csrf: str | None = None, origin: str | None = None,
                  method: str = "POST", headers: dict[str, str] | None = None) -> httpx.Response:
        sent = {"Origin": self.origin if origin is None else origin, "X-CSRF-Token": self.csrf if csrf is None else csrf}
        sent = {k: v for k, v in sent.items() if v}
        sent.update(headers or {})
        return self.http.request(method, path, json=body, headers=sent)

    def enrol(self, code: str) -> None:
        options = self.post_json("/console/api/enrol/options", {"login_id": self.login_id, "code": code})
        assert options.status_code == 200, options.text
        start = options.json()
        credential = self.authenticator.create(start["publicKey"])
        done = self.post_json("/console/api/enrol", {"flow": start["flow"], "credential": credential, "name": "key"})
        assert done.status_code == 200, done.text

    def login(self) -> httpx.Response:
        start = self.post_json("/console/api/login/options", {}).json()
        assertion = self.authenticator.get(start["publicKey"])
        response = self.post_json("/console/api/login", {"flow": start["flow"], "credential": assertion,
                                                         "next": "/console/cases"})
        if response.status_code == 200:
            self.refresh_csrf()
        return response

    def refresh_csrf(self) -> None:
        page = self.http.get("/console/login")
        found = CSRF_META.search(page.text)
        assert found is not None
        # The login page has no session context; read the token from a page that has one.
        for path in ("/console/cases", "/console/audit", "/console/operators", "/console/dashboard"):
            response = self.http.get(path)
            found = CSRF_META.search(response.text)
            if response.status_code in (200, 403) and found and found.group(1):
                self.csrf = found.group(1)
                return
        raise AssertionError("no page showed a CSRF token")


def signed_in_operator(server: RunningServer, login_id: str, role: str) -> Operator:
    code = create_operator(server, login_id, role)
    op = Operator(server, login_id)
    op.enrol(code)
    assert op.login().status_code == 200
    return op


class Watch:
    """Everything that went wrong on a page: page errors, console errors, failed or refused requests."""

    def __init__(self, page: Page) -> None:
        self.problems: list[str] = []
        page.on("pageerror", lambda exc: self.problems.append(f"pageerror: {exc}"))
        page.on("console", self._console)
        page.on("requestfailed", self._failed)
        page.on("response", self._response)

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.problems.append(f"console: {message.text}")

    def _failed(self, request: Request) -> None:
        self.problems.append(f"requestfailed: {request.url} {request.failure}")

    def _response(self, response: Response) -> None:
        if response.status >= 400:
            self.problems.append(f"HTTP {response.status}: {response.url}")

    def take(self) -> list[str]:
        out, self.problems = self.problems, []
        return out
