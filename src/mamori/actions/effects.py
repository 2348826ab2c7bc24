"""What an approved action does inside mamori: the engine events it sends through
:meth:`mamori.risk.service.RiskService.decide`, so that its effect is in the event log, survives
restarts and snapshots, and shows in later decisions like any event from the firm.

Event ids are derived from the action id (``action-<id>-<n>``): executing an action again (after a
crash, or by the worker's recovery) is a duplicate the risk service recognises, never a second event.

* ``freeze_account`` -> ``account_freeze`` (reason ``operator`` or ``fraud_confirmed``);
* ``unfreeze_account`` -> ``account_unlock`` (reason ``reidentified``, the re-identification's reference);
* ``set_limits`` -> ``account_profile`` carrying the account's current segment and limits with the
  changed ones replaced (an ``account_profile`` replaces the whole profile);
* ``block_*`` / ``unblock_*`` -> ``firm_block`` on the ``firm-controls`` account;
* release / cancel of held items -> no event (the held item's state changes in the approving
  transaction; the firm's order and payment systems act on the webhook).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from mamori.actions.params import (
    FreezeParams,
    LimitParams,
    NetworkBlockParams,
    NetworkUnblockParams,
    SymbolBlockParams,
    SymbolUnblockParams,
    UnfreezeParams,
    _Params,
)
from mamori.events.models import FIRM_CONTROLS_ACCOUNT
from mamori.risk.engine import Engine

_ENGINE_LIMITS = {"per_order_limit_jpy": "per_order", "daily_buy_limit_jpy": "daily_buy",
                  "daily_sell_limit_jpy": "daily_sell"}


def _limits_plugin(engine: Engine) -> Any:
    return next(p for p in engine.plugins if p.name == "limits")


def effective_limits(engine: Engine, account_id: str, overrides: dict[str, Decimal] | None = None
                     ) -> dict[str, Decimal | None]:
    """The effective per-order / daily buy / daily sell limits of the account (lowest of the firm's,
    the segment's and the customer's), optionally with some customer limits replaced."""
    plugin = _limits_plugin(engine)
    profile = dict(plugin.profiles.get(account_id, {}))
    for field, value in (overrides or {}).items():
        profile[_ENGINE_LIMITS[field]] = value
    out: dict[str, Decimal | None] = {}
    for field, kind in _ENGINE_LIMITS.items():
        present = [c for c in (plugin.firm[kind], plugin.segment[kind].get(profile.get("segment") or ""),
                               profile.get(kind)) if c is not None]
        out[field] = min(present) if present else None
    return out


def raises_limits(engine: Engine, params: LimitParams) -> bool:
    """Whether ``params`` lift protection: an effective limit goes up, or the withdrawal limit (whose
    current value only the firm's systems know) changes at all."""
    if params.daily_withdrawal_limit_jpy is not None:
        return True
    changes = {f: v for f in _ENGINE_LIMITS if (v := getattr(params, f)) is not None}
    before = effective_limits(engine, params.account_id)
    after = effective_limits(engine, params.account_id, changes)
    return any(_above(after[f], before[f]) for f in changes)


def _above(new: Decimal | None, old: Decimal | None) -> bool:
    if new is None:
        return old is not None
    return old is not None and new > old


def engine_events(engine: Engine, action_id: str, params: _Params, *, operator: str,
                  now: datetime) -> list[dict[str, Any]]:
    """The events that carry out the action (none for held items)."""
    base = {"id": f"action-{action_id}-1", "occurred_at": now.isoformat()}
    reference = f"action:{action_id}"
    if isinstance(params, FreezeParams):
        return [{**base, "type": "account_freeze", "account_id": params.account_id, "operator_id": operator,
                 "reason": "fraud_confirmed" if params.fraud_confirmed else "operator", "reference": reference}]
    if isinstance(params, UnfreezeParams):
        return [{**base, "type": "account_unlock", "account_id": params.account_id,
                 "operator_id": params.reidentification.by, "reason": "reidentified",
                 "reference": params.reidentification.reference}]
    if isinstance(params, LimitParams):
        profile = dict(_limits_plugin(engine).profiles.get(params.account_id, {}))
        event: dict[str, Any] = {**base, "type": "account_profile", "account_id": params.account_id}
        if profile.get("segment"):
            event["segment"] = profile["segment"]
        for field, kind in _ENGINE_LIMITS.items():
            value = getattr(params, field)
            value = value if value is not None else profile.get(kind)
            if value is not None:
                event[field] = str(value)
        return [event]
    if isinstance(params, (NetworkBlockParams, NetworkUnblockParams, SymbolBlockParams, SymbolUnblockParams)):
        network = isinstance(params, (NetworkBlockParams, NetworkUnblockParams))
        block = isinstance(params, (NetworkBlockParams, SymbolBlockParams))
        expires = getattr(params, "expires_at", None)
        return [{**base, "type": "firm_block", "account_id": FIRM_CONTROLS_ACCOUNT,
                 "target": "network" if network else "symbol",
                 "value": params.cidr if network else params.symbol,  # type: ignore[union-attr]
                 "operation": "block" if block else "unblock", "operator_id": operator,
                 "reason": f"mamori action {action_id}", "reference": reference,
                 **({"expires_at": expires.isoformat()} if expires is not None else {})}]
    return []
