"""Actions with four-eyes control on a real store (SQLite and PostgreSQL through ``store_url``) and
the real risk service: held items from real decisions, four-eyes refusal, compare-and-set on
concurrent approvals, and effects visible in later engine decisions (freeze, unfreeze, blocks, limits).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from mamori.actions import ActionsService, ActionsSettings
from mamori.actions.tables import action_webhooks
from mamori.adapters.sql.schema import audit_log
from mamori.events.parse import parse_event
from mamori.kit.errors import Conflict, FourEyesRequired, InvalidRequest, NotFound
from mamori.kit.settings import Settings
from mamori.risk.service import RiskService

ANALYST, SUPERVISOR, SUPERVISOR2 = "operator:hanako", "operator:taro", "operator:jiro"
_n = [0]


def now() -> datetime:
    return datetime.now(UTC)


def ev(kind: str, account: str = "C1", at: datetime | None = None, **fields: Any) -> Any:
    _n[0] += 1
    return parse_event({"id": f"e{_n[0]}-{kind}", "type": kind, "account_id": account,
                        "occurred_at": (at or now()).isoformat(), **fields})


def login(ip: str = "153.156.10.20", account: str = "C1") -> Any:
    return ev("login", account, result="success", method="passkey", ip=ip, device_id="home")


def order(symbol: str, side: str, order_id: str, account: str = "C1", qty: str = "100") -> Any:
    return ev("order", account, order_id=order_id, side=side, symbol=symbol, market="TSE", quantity=qty,
              price="1000", order_type="limit", ip="153.156.10.20", device_id="home")


def withdrawal(transfer_id: str, amount: str, account: str = "C1") -> Any:
    return ev("fiat_withdrawal", account, transfer_id=transfer_id, amount=amount, bank_account_fingerprint="fp-own",
              ip="153.156.10.20", device_id="home")


@pytest.fixture
def world(tmp_path: Path, store_url: str) -> Iterator[tuple[RiskService, ActionsService]]:
    risk = RiskService.open(Settings(data_dir=tmp_path, database_url=store_url, snapshot_interval_s=0))
    try:
        yield risk, ActionsService(risk, ActionsSettings())
    finally:
        risk.close()


def run(coro: Any) -> Any:
    return asyncio.run(coro)


async def decide(risk: RiskService, event: Any) -> Any:
    return await risk.decide(event)


async def _held_world(risk: RiskService, actions: ActionsService) -> dict[str, Any]:
    """A held withdrawal (above the daily limit), a held order (sell of a blocked symbol), an allowed order."""
    out = {"withdrawal": await decide(risk, withdrawal("W-1", "25000000"))}
    await actions.propose(ANALYST, kind="block_symbol", reason="pump suspected", params={"symbol": "9999"})
    out["held_order"] = await decide(risk, order("9999", "sell", "O-1"))
    out["allowed"] = await decide(risk, order("7203", "buy", "O-2"))
    return out


def test_held_items_come_from_real_hold_decisions_once(world: tuple[RiskService, ActionsService]) -> None:
    risk, actions = world

    async def scenario() -> None:
        decided = await _held_world(risk, actions)
        assert decided["withdrawal"].decision == "hold" and decided["held_order"].decision == "hold"
        assert decided["allowed"].decision == "allow"
        items = await asyncio.to_thread(actions.held)
        assert {(i["kind"], i["reference"], i["state"]) for i in items} == {
            ("withdrawal", "W-1", "pending"), ("order", "O-1", "pending")}
        order_item = next(i for i in items if i["kind"] == "order")
        assert "CTRL-SYM-002" in order_item["rules"] and order_item["summary"]["symbol"] == "9999"
        assert await asyncio.to_thread(actions.refresh_held) == 0  # incremental: nothing filed twice
        assert [i["reference"] for i in actions.held(kind="withdrawal", state="pending")] == ["W-1"]
        assert actions.held(account_id="nobody") == []

    run(scenario())


def test_release_needs_a_second_person_and_a_settled_item_cannot_be_acted_on(
        world: tuple[RiskService, ActionsService]) -> None:
    risk, actions = world

    async def scenario() -> None:
        await _held_world(risk, actions)
        item = next(i for i in actions.held() if i["kind"] == "withdrawal")
        first = await actions.propose(ANALYST, kind="release_withdrawal", reason="customer confirmed by phone",
                                      params={"held_id": item["id"]}, case_id=7)
        second = await actions.propose(SUPERVISOR2, kind="cancel_withdrawal", reason="looks like a takeover",
                                       params={"held_id": item["id"]})
        assert first["state"] == "proposed" and first["control"] == "four_eyes" and first["case_id"] == 7
        with pytest.raises(FourEyesRequired):
            await actions.approve(ANALYST, first["id"])
        assert actions.held(state="pending")  # nothing moved
        done = await actions.approve(SUPERVISOR, first["id"], "ok")
        assert done["state"] == "done" and done["webhook"] == "not_configured"
        assert done["decided_by"] == SUPERVISOR and done["effects"]["held"]["state"] == "released"
        released = next(i for i in actions.held() if i["id"] == item["id"])
        assert (released["state"], released["resolved_by"], released["action_id"]) == ("released", SUPERVISOR,
                                                                                      first["id"])
        with pytest.raises(Conflict):  # the competing proposal cannot cancel a released withdrawal
            await actions.approve(SUPERVISOR, second["id"])
        assert actions.get(second["id"])["state"] == "proposed"
        with pytest.raises(Conflict):
            await actions.propose(ANALYST, kind="cancel_withdrawal", reason="x", params={"held_id": item["id"]})
        with pytest.raises(Conflict):
            await actions.approve(SUPERVISOR2, first["id"])  # already decided
        rejected = await actions.reject(SUPERVISOR, second["id"], "superseded")
        assert rejected["state"] == "rejected"

    run(scenario())


def test_bad_proposals_name_the_problem(world: tuple[RiskService, ActionsService]) -> None:
    risk, actions = world

    async def scenario() -> None:
        await _held_world(risk, actions)
        withdrawal_item = next(i for i in actions.held() if i["kind"] == "withdrawal")
        cases: list[tuple[dict[str, Any], type[Exception], str]] = [
            ({"kind": "explode", "reason": "r", "params": {}}, InvalidRequest, "kind"),
            ({"kind": "freeze_account", "reason": " ", "params": {"account_id": "C1"}}, InvalidRequest, "reason"),
            ({"kind": "release_order", "reason": "r", "params": {"held_id": withdrawal_item["id"]}}, InvalidRequest,
             "params.held_id"),
            ({"kind": "release_order", "reason": "r", "params": {"held_id": 999999}}, NotFound, ""),
            ({"kind": "unfreeze_account", "reason": "r", "params": {"account_id": "C1"}}, InvalidRequest,
             "params.reidentification"),
            ({"kind": "block_network", "reason": "r", "params": {"cidr": "300.1.1.0/24"}}, InvalidRequest,
             "params.cidr"),
            ({"kind": "set_limits", "reason": "r", "params": {"account_id": "C1"}}, InvalidRequest, "params"),
            ({"kind": "block_symbol", "reason": "r", "params": {"symbol": "9999", "extra": 1}}, InvalidRequest,
             "params.extra"),
        ]
        for body, error, field in cases:
            with pytest.raises(error) as caught:
                await actions.propose(ANALYST, **body)
            if field:
                assert field in [d["field"] for d in caught.value.details], body  # type: ignore[attr-defined]

    run(scenario())


def test_two_approvals_at_once_execute_once(world: tuple[RiskService, ActionsService]) -> None:
    risk, _ = world
    actions = ActionsService(risk, ActionsSettings(webhook_url="http://127.0.0.1:9/hook",
                                                   webhook_secret="s" * 32, webhook_trust_env=False))

    async def scenario() -> None:
        await decide(risk, withdrawal("W-9", "25000000"))
        item = actions.held()[0]
        proposed = await actions.propose(ANALYST, kind="cancel_withdrawal", reason="takeover",
                                         params={"held_id": item["id"]})
        results = await asyncio.gather(*(actions.approve(who, proposed["id"]) for who in (SUPERVISOR, SUPERVISOR2)),
                                       return_exceptions=True)
        won = [r for r in results if isinstance(r, dict)]
        lost = [r for r in results if isinstance(r, Exception)]
        assert len(won) == 1 and len(lost) == 1 and isinstance(lost[0], Conflict), results
        assert won[0]["state"] == "executed" and won[0]["delivery"]["status"] == "pending"
        with risk.store.engine.connect() as conn:
            hooks = conn.execute(select(func.count()).select_from(action_webhooks)).scalar_one()
            executed = conn.execute(select(func.count()).select_from(audit_log)
                                    .where(audit_log.c.action == "action.execute")).scalar_one()
        assert hooks == 1 and executed == 1
        assert actions.held()[0]["state"] == "cancelled"

    run(scenario())


def test_freeze_runs_at_once_and_unfreeze_needs_reidentification_and_a_second_person(
        world: tuple[RiskService, ActionsService]) -> None:
    risk, actions = world

    async def scenario() -> None:
        assert (await decide(risk, login())).decision == "allow"
        frozen = await actions.propose(ANALYST, kind="freeze_account", reason="customer reported not me",
                                       params={"account_id": "C1"})
        assert frozen["control"] == "single" and frozen["state"] == "done"
        assert frozen["effects"]["events"][0]["type"] == "account_freeze"
        blocked = await decide(risk, login())
        assert blocked.decision == "block" and "ACCT-FROZEN-001" in blocked.rules
        assert (await decide(risk, login(account="C2"))).decision == "allow"  # only that account
        reid = {"method": "phone_callback", "at": now().isoformat(), "by": "op-hanako", "reference": "CALL-42"}
        unfreeze = await actions.propose(ANALYST, kind="unfreeze_account", reason="identified by call-back",
                                         params={"account_id": "C1", "reidentification": reid})
        assert unfreeze["state"] == "proposed"
        assert "ACCT-FROZEN-001" in (await decide(risk, login())).rules  # still frozen until approved
        await actions.approve(SUPERVISOR, unfreeze["id"])
        after = await decide(risk, login())
        assert "ACCT-FROZEN-001" not in after.rules and after.decision == "allow"
        assert actions.get(unfreeze["id"])["params"]["reidentification"]["method"] == "phone_callback"

    run(scenario())


def test_network_and_symbol_blocks_act_on_later_decisions_and_unblocking_needs_approval(
        world: tuple[RiskService, ActionsService]) -> None:
    risk, actions = world

    async def scenario() -> None:
        block = await actions.propose(ANALYST, kind="block_network", reason="stuffing source",
                                      params={"cidr": "198.51.100.9/24"})
        assert block["state"] == "done" and block["target"] == "network:198.51.100.0/24"
        refused = await decide(risk, login(ip="198.51.100.200"))
        assert refused.decision == "block" and "CTRL-NET-001" in refused.rules
        assert "CTRL-NET-001" not in (await decide(risk, login(ip="198.51.101.1"))).rules
        unblock = await actions.propose(ANALYST, kind="unblock_network", reason="source cleaned",
                                        params={"cidr": "198.51.100.0/24"})
        assert unblock["state"] == "proposed"
        await actions.approve(SUPERVISOR, unblock["id"])
        assert "CTRL-NET-001" not in (await decide(risk, login(ip="198.51.100.200"))).rules

        until = (now() + timedelta(days=1)).isoformat()
        await actions.propose(ANALYST, kind="block_symbol", reason="pump", params={"symbol": "1234", "expires_at": until})
        buy = await decide(risk, order("1234", "buy", "B-1"))
        sell = await decide(risk, order("1234", "sell", "S-1"))
        assert buy.decision == "block" and "CTRL-SYM-001" in buy.rules
        assert sell.decision == "hold" and "CTRL-SYM-002" in sell.rules
        assert [i["reference"] for i in actions.held(kind="order")] == ["S-1"]

    run(scenario())


def test_lowering_a_limit_is_immediate_raising_it_needs_approval(world: tuple[RiskService, ActionsService]) -> None:
    risk, actions = world

    async def scenario() -> None:
        lower = await actions.propose(ANALYST, kind="set_limits", reason="customer asked",
                                      params={"account_id": "C1", "per_order_limit_jpy": "50000"})
        assert lower["control"] == "single" and lower["state"] == "done"
        refused = await decide(risk, order("7203", "buy", "L-1", qty="100"))  # 100 x 1000 = 100,000 yen
        assert refused.decision == "block" and "TRADE-LIMIT-001" in refused.rules
        raise_ = await actions.propose(ANALYST, kind="set_limits", reason="customer verified",
                                       params={"account_id": "C1", "per_order_limit_jpy": "500000"})
        assert raise_["control"] == "four_eyes" and raise_["state"] == "proposed"
        assert "TRADE-LIMIT-001" in (await decide(risk, order("7203", "buy", "L-2"))).rules
        await actions.approve(SUPERVISOR, raise_["id"])
        assert "TRADE-LIMIT-001" not in (await decide(risk, order("7203", "buy", "L-3"))).rules
        withdrawal_limit = await actions.propose(ANALYST, kind="set_limits", reason="firm enforces",
                                                 params={"account_id": "C1", "daily_withdrawal_limit_jpy": "1"})
        assert withdrawal_limit["control"] == "four_eyes"  # mamori cannot see the current value

    run(scenario())


def test_every_step_is_audited_with_ids_not_reasons(world: tuple[RiskService, ActionsService]) -> None:
    risk, actions = world

    async def scenario() -> None:
        proposed = await actions.propose(ANALYST, kind="unblock_symbol", reason="SECRET-REASON-TEXT",
                                         params={"symbol": "1234"})
        await actions.approve(SUPERVISOR, proposed["id"])

    run(scenario())
    with risk.store.engine.connect() as conn:
        rows = conn.execute(select(audit_log).where(audit_log.c.action.like("action.%"))
                            .order_by(audit_log.c.seq)).mappings().all()
    assert [(r["action"], r["actor"]) for r in rows] == [
        ("action.propose", ANALYST), ("action.approve", SUPERVISOR), ("action.execute", SUPERVISOR)]
    assert all("SECRET-REASON-TEXT" not in r["details"] for r in rows)
    assert risk.store.verify_audit_chain() >= 3


def test_blocks_survive_a_restart_through_the_event_log(tmp_path: Path, store_url: str) -> None:
    settings = Settings(data_dir=tmp_path, database_url=store_url, snapshot_interval_s=0)
    risk = RiskService.open(settings)
    try:
        run(ActionsService(risk).propose(ANALYST, kind="block_network", reason="r", params={"cidr": "203.0.113.0/24"}))
    finally:
        risk.close()
    again = RiskService.open(settings)
    try:
        assert "CTRL-NET-001" in run(decide(again, login(ip="203.0.113.5"))).rules
    finally:
        again.close()


def test_a_step_whose_audit_append_fails_is_appended_later(world: tuple[RiskService, ActionsService],
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """The step's record is written with the step; if the hash-chained log cannot take it at that moment
    (storage trouble), it stays queued and the next flush appends it."""
    from mamori.actions.tables import action_audit
    from mamori.kit.errors import StorageUnavailable

    risk, actions = world
    real = risk.store.audit

    def unavailable(**_kw: Any) -> None:
        raise StorageUnavailable("could not append to the audit log")

    monkeypatch.setattr(risk.store, "audit", unavailable)
    proposed = run(actions.propose(ANALYST, kind="unblock_symbol", reason="r", params={"symbol": "77"}))
    with risk.store.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(action_audit)
                            .where(action_audit.c.pending.is_(True))).scalar_one() == 1
        assert conn.execute(select(func.count()).select_from(audit_log)
                            .where(audit_log.c.action == "action.propose")).scalar_one() == 0
    monkeypatch.setattr(risk.store, "audit", real)
    assert actions.flush_audit() == 1
    with risk.store.engine.connect() as conn:
        row = conn.execute(select(audit_log).where(audit_log.c.action == "action.propose")).mappings().one()
    assert row["target"] == f"action:{proposed['id']}" and row["actor"] == ANALYST
