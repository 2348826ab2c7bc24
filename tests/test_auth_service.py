"""The login service in process, for what cannot be staged over HTTP: the risk engine failing."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from mamori.auth.policy import AuthPolicy
from mamori.auth.service import AuthService
from mamori.auth.sessions import ClientInfo
from mamori.auth.setup import build_auth_service
from mamori.kit.errors import PasskeyRequired, StorageUnavailable
from mamori.kit.settings import Settings
from mamori.risk.service import RiskService

PASSWORD = "Kabuto-yama 2026 autumn!"
CLIENT = ClientInfo(ip="153.156.1.2", user_agent="Mozilla/5.0", device_id="dtest-device-00001")


@pytest.fixture
def auth(tmp_path: Path) -> Any:
    settings = Settings(data_dir=tmp_path, auth_origin="http://localhost:8600")
    risk = RiskService.open(settings)
    service = build_auth_service(settings, risk)
    # Password alone would do under this policy when the engine allows: the engine's answer decides.
    service.policy = AuthPolicy(passkey_required="none", second_factor_required=False)
    yield service
    risk.close()


def test_a_password_login_is_complete_when_the_engine_allows(auth: AuthService) -> None:
    async def go() -> None:
        await auth.create_customer(account_id="C-1", login_id="taro", segment=None, password=PASSWORD,
                                   transition_days=None, actor="test")
        step = await auth.password_login("taro", PASSWORD, CLIENT)
        assert step.session_token is not None
    asyncio.run(go())


def test_when_the_engine_cannot_answer_the_flow_challenges_and_never_allows(auth: AuthService) -> None:
    async def failing_decide(_event: Any) -> Any:
        raise StorageUnavailable("database down")

    async def go() -> None:
        await auth.create_customer(account_id="C-2", login_id="hanako", segment=None, password=PASSWORD,
                                   transition_days=None, actor="test")
        await auth.set_totp("C-2", actor="test")
        auth.risk.decide = failing_decide
        step = await auth.password_login("hanako", PASSWORD, CLIENT)
        assert step.session_token is None and step.next == "totp"  # a challenge, not a session
        await auth.create_customer(account_id="C-3", login_id="jiro", segment=None, password=PASSWORD,
                                   transition_days=None, actor="test")
        with pytest.raises(PasskeyRequired):  # no stronger factor to ask for: refused, not allowed
            await auth.password_login("jiro", PASSWORD, CLIENT)
    asyncio.run(go())


def test_one_address_gets_only_a_few_password_checks_in_flight(auth: AuthService) -> None:
    """The throttle learns from finished attempts; parallel ones from one address are capped before
    any hashing, so a burst cannot slip a hundred guesses past it."""
    from mamori.auth.service import MAX_IN_FLIGHT_PER_SOURCE
    from mamori.kit.errors import LoginFailed, LoginThrottled

    async def go() -> None:
        for i in range(10):
            await auth.create_customer(account_id=f"C-{i}", login_id=f"user{i}", segment=None, password=PASSWORD,
                                       transition_days=None, actor="test")
        results = await asyncio.gather(*(auth.password_login(f"user{i}", "wrong password", CLIENT)
                                         for i in range(10)), return_exceptions=True)
        throttled = [r for r in results if isinstance(r, LoginThrottled)]
        failed = [r for r in results if isinstance(r, LoginFailed)]
        assert len(failed) == MAX_IN_FLIGHT_PER_SOURCE and len(throttled) == 10 - MAX_IN_FLIGHT_PER_SOURCE
        other = ClientInfo(ip="153.157.9.9", user_agent="Mozilla/5.0", device_id="dother-device-0001")
        with pytest.raises(LoginFailed):  # another address is not affected, and the count went back to zero
            await auth.password_login("user0", "wrong again", other)
        assert auth._in_flight == {}
    asyncio.run(go())
