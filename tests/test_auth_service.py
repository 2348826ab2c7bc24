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
