"""Console operators, enrolment codes and sessions against a real store (SQLite and PostgreSQL), with
time driven by a clock parameter: idle (15 min) and absolute (8 h) expiry, disabling, resets, the
role table and the words of both languages."""

from __future__ import annotations

import pytest

from mamori.adapters.sql.store import SqlStore
from mamori.auth.passkeys import RelyingParty
from mamori.bench.softauthn import SoftAuthenticator
from mamori.console.roles import ROLES, scopes_of
from mamori.console.service import ENROL_CODE_TTL_S, ConsoleService, csrf_token_for
from mamori.console.store import OperatorStore
from mamori.console.text import WORDS, choose_language, words
from mamori.kit.errors import Conflict, InvalidRequest, LoginFailed, WebAuthnRejected
from mamori.kit.scopes import SCOPES

ORIGIN = "https://console.example.co.jp"
MIN_US = 60_000_000
HOUR_US = 60 * MIN_US


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000_000_000

    def __call__(self) -> int:
        return self.now

    def advance(self, us: int) -> None:
        self.now += us


@pytest.fixture
def world(store_url: str) -> tuple[ConsoleService, Clock, SqlStore]:
    store = SqlStore(store_url)
    clock = Clock()
    service = ConsoleService(store=OperatorStore(store.engine),
                             rp=RelyingParty(rp_id="console.example.co.jp", rp_name="t", origins=[ORIGIN]),
                             audit=store.audit, idle_s=15 * 60, absolute_s=8 * 3600, clock_us=clock)
    return service, clock, store


def enrol_and_login(service: ConsoleService, login_id: str, role: str = "analyst") -> tuple[str, SoftAuthenticator]:
    _, code = service.create_operator(login_id=login_id, name="Hanako Sato", role=role, actor="test")
    device = SoftAuthenticator(origin=ORIGIN)
    flow, options = service.enrol_options(login_id, code)
    service.enrol(flow, device.create(options), "laptop")
    return login(service, device), device


def login(service: ConsoleService, device: SoftAuthenticator, previous: str | None = None) -> str:
    flow, options = service.login_options()
    return service.login(flow, device.get(options), ip="127.0.0.1", user_agent="t", previous_token=previous).token


def test_session_ends_after_15_idle_minutes(world: tuple[ConsoleService, Clock, SqlStore]) -> None:
    service, clock, _ = world
    token, _ = enrol_and_login(service, "hanako")
    clock.advance(14 * MIN_US)
    assert service.resolve(token) is not None  # activity at 14 min keeps it alive
    clock.advance(14 * MIN_US)
    assert service.resolve(token) is not None
    clock.advance(15 * MIN_US)
    assert service.resolve(token) is None


def test_session_ends_after_8_hours_even_when_busy(world: tuple[ConsoleService, Clock, SqlStore]) -> None:
    service, clock, _ = world
    token, _ = enrol_and_login(service, "hanako")
    for _ in range(8 * 6 - 1):  # a request every 10 minutes for 7 h 50 min
        clock.advance(10 * MIN_US)
        assert service.resolve(token) is not None
    clock.advance(10 * MIN_US)
    assert service.resolve(token) is None


def test_disabling_ends_sessions_at_once_and_refuses_login(world: tuple[ConsoleService, Clock, SqlStore]) -> None:
    service, _, store = world
    token, device = enrol_and_login(service, "hanako")
    assert service.disable("hanako", actor="operator:boss") == 1
    assert service.resolve(token) is None
    with pytest.raises(LoginFailed):
        login(service, device)
    service.enable("hanako", actor="operator:boss")
    assert service.resolve(login(service, device)) is not None
    assert store.verify_audit_chain() > 0


def test_login_rotates_the_session_and_the_csrf_token(world: tuple[ConsoleService, Clock, SqlStore]) -> None:
    service, _, _ = world
    first, device = enrol_and_login(service, "hanako")
    second = login(service, device, previous=first)
    assert first != second and csrf_token_for(first) != csrf_token_for(second)
    assert service.resolve(first) is None and service.resolve(second) is not None
    signed = service.resolve(second)
    assert signed is not None and signed.csrf_token == csrf_token_for(second)


def test_role_change_ends_sessions_and_principal_follows_the_role(world: tuple[ConsoleService, Clock, SqlStore]) -> None:
    service, _, _ = world
    token, device = enrol_and_login(service, "hanako", "analyst")
    signed = service.resolve(token)
    assert signed is not None
    p = signed.principal()
    assert p.actor == "operator:hanako" and p.kind == "operator" and "actions:approve" not in p.scopes
    service.set_role("hanako", "supervisor", actor="operator:boss")
    assert service.resolve(token) is None
    again = service.resolve(login(service, device))
    assert again is not None and "actions:approve" in again.principal().scopes


def test_enrolment_code_is_single_use_and_expires(world: tuple[ConsoleService, Clock, SqlStore]) -> None:
    service, clock, _ = world
    _, code = service.create_operator(login_id="taro", name="Taro", role="auditor", actor="test")
    flow, options = service.enrol_options("taro", code.lower().replace("-", ""))  # typed loosely: still accepted
    service.enrol(flow, SoftAuthenticator(origin=ORIGIN).create(options), "k")
    with pytest.raises(LoginFailed):
        service.enrol_options("taro", code)
    fresh = service.reset("taro", actor="operator:boss")
    assert service.store.passkeys_of("taro") == []
    clock.advance(ENROL_CODE_TTL_S * 1_000_000)
    with pytest.raises(LoginFailed):
        service.enrol_options("taro", fresh)


def test_enrolment_code_dies_after_five_wrong_guesses(world: tuple[ConsoleService, Clock, SqlStore]) -> None:
    service, _, _ = world
    _, code = service.create_operator(login_id="jiro", name="Jiro", role="analyst", actor="test")
    for _ in range(5):
        with pytest.raises(LoginFailed):
            service.enrol_options("jiro", "AAAAA-AAAAA-AAAAA-AAAAA")
    with pytest.raises(LoginFailed):
        service.enrol_options("jiro", code)


def test_passkey_from_another_origin_or_without_user_verification_is_refused(
        world: tuple[ConsoleService, Clock, SqlStore]) -> None:
    service, _, _ = world
    _, device = enrol_and_login(service, "hanako")
    flow, options = service.login_options()
    with pytest.raises(WebAuthnRejected):
        service.login(flow, device.get(options, origin="https://console.examp1e.co.jp"), ip=None, user_agent=None)
    device.user_verified = False
    flow, options = service.login_options()
    with pytest.raises(WebAuthnRejected):
        service.login(flow, device.get(options), ip=None, user_agent=None)


def test_bad_operator_fields_are_named(world: tuple[ConsoleService, Clock, SqlStore]) -> None:
    service, _, _ = world
    for kwargs, field in (({"login_id": "Hanako!", "name": "x", "role": "analyst"}, "login_id"),
                          ({"login_id": "ok", "name": "", "role": "analyst"}, "name"),
                          ({"login_id": "ok", "name": "x", "role": "root"}, "role")):
        with pytest.raises(InvalidRequest) as info:
            service.create_operator(actor="t", **kwargs)
        assert info.value.details == {"field": field}
    service.create_operator(login_id="ok", name="x", role="admin", actor="t")
    with pytest.raises(Conflict):
        service.create_operator(login_id="ok", name="y", role="admin", actor="t")


def test_role_table_least_privilege() -> None:
    assert set(ROLES) == {"analyst", "supervisor", "compliance", "admin", "auditor"}
    assert all(scopes <= set(SCOPES) and "admin" not in scopes for scopes in ROLES.values())
    assert "actions:approve" not in scopes_of("analyst") and "actions:approve" in scopes_of("supervisor")
    assert "actions:approve" not in scopes_of("admin") and "cases:read" not in scopes_of("admin")
    assert not any(s.endswith((":write", ":propose", ":approve", ":draft", ":admin")) for s in scopes_of("auditor"))
    assert scopes_of("nobody") == frozenset()


def test_every_word_exists_in_both_languages() -> None:
    assert all(ja.strip() and en.strip() for ja, en in WORDS.values())
    assert words("ja")["logout"] == "ログアウト" and words("en")["logout"] == "Sign out"
    assert choose_language("en", "ja-JP") == "en"
    assert choose_language(None, "en-US,en;q=0.9") == "en"
    assert choose_language("xx", None) == "ja"


def test_strangers_cannot_grow_the_audit_log(world: tuple[ConsoleService, Clock, SqlStore]) -> None:
    service, _, store = world
    before = store.verify_audit_chain()
    stranger = SoftAuthenticator(origin=ORIGIN)
    stranger.create({"rp": {"id": "console.example.co.jp"}, "user": {"id": "AAAA"}, "challenge": "AAAA"})
    for _ in range(3):
        flow, options = service.login_options()
        with pytest.raises(WebAuthnRejected):
            service.login(flow, stranger.get(options), ip=None, user_agent=None)
        with pytest.raises(LoginFailed):
            service.enrol_options("nobody", "AAAAA-AAAAA-AAAAA-AAAAA")
    assert store.verify_audit_chain() == before
