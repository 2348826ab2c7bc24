"""The parameters of each action kind, validated at the edge (pydantic); bad input names the field.

Unfreezing needs a recorded re-identification (FSA 2025 request 2 and 8: lift protection only after
the customer proved who they are again): how (``phone_callback`` to the registered number,
``in_person`` at a branch, ``ekyc``, ``documents``), when, by whom and the firm's reference.
"""

from __future__ import annotations

import ipaddress
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from mamori.actions.policy import ActionKind
from mamori.kit.errors import InvalidRequest

Identifier = Annotated[str, StringConstraints(min_length=1, max_length=128,
                                              pattern=r"^[A-Za-z0-9][A-Za-z0-9._:@/+=-]*$")]
Symbol = Annotated[str, StringConstraints(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9._:-]+$")]
Limit = Annotated[Decimal, Field(ge=0, le=Decimal(10) ** 15, allow_inf_nan=False, max_digits=20)]


def _cidr(value: str) -> str:
    try:
        return str(ipaddress.ip_network(value.strip(), strict=False))
    except ValueError:
        raise ValueError("not an IPv4 or IPv6 network in CIDR form (e.g. '203.0.113.0/24')") from None


Cidr = Annotated[str, StringConstraints(min_length=1, max_length=64), AfterValidator(_cidr)]


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class HeldParams(_Params):
    held_id: int = Field(ge=1, le=2**62, description="The held item (GET /v1/held).")


class FreezeParams(_Params):
    account_id: Identifier
    fraud_confirmed: bool = Field(default=False, description="An investigation confirmed a takeover.")


class Reidentification(_Params):
    method: Literal["phone_callback", "in_person", "ekyc", "documents"]
    at: AwareDatetime = Field(description="When the customer was identified again.")
    by: Identifier = Field(description="Who identified the customer (operator id).")
    reference: Annotated[str, StringConstraints(min_length=1, max_length=128)] = Field(
        description="The firm's ticket or record of the re-identification.")


class UnfreezeParams(_Params):
    account_id: Identifier
    reidentification: Reidentification


class LimitParams(_Params):
    account_id: Identifier
    per_order_limit_jpy: Limit | None = None
    daily_buy_limit_jpy: Limit | None = None
    daily_sell_limit_jpy: Limit | None = None
    daily_withdrawal_limit_jpy: Limit | None = Field(
        default=None, description="Enforced by the firm's systems from the webhook (mamori's engine applies the "
        "firm-wide daily_withdrawal_limit_jpy).")


class NetworkBlockParams(_Params):
    cidr: Cidr
    expires_at: AwareDatetime | None = None


class NetworkUnblockParams(_Params):
    cidr: Cidr


class SymbolBlockParams(_Params):
    symbol: Symbol
    expires_at: AwareDatetime | None = None


class SymbolUnblockParams(_Params):
    symbol: Symbol


PARAMS: dict[ActionKind, type[_Params]] = {
    ActionKind.release_order: HeldParams,
    ActionKind.cancel_order: HeldParams,
    ActionKind.release_withdrawal: HeldParams,
    ActionKind.cancel_withdrawal: HeldParams,
    ActionKind.freeze_account: FreezeParams,
    ActionKind.unfreeze_account: UnfreezeParams,
    ActionKind.set_limits: LimitParams,
    ActionKind.block_network: NetworkBlockParams,
    ActionKind.unblock_network: NetworkUnblockParams,
    ActionKind.block_symbol: SymbolBlockParams,
    ActionKind.unblock_symbol: SymbolUnblockParams,
}
LIMIT_FIELDS = ("per_order_limit_jpy", "daily_buy_limit_jpy", "daily_sell_limit_jpy", "daily_withdrawal_limit_jpy")


def parse_params(kind: ActionKind, raw: Any) -> _Params:
    """The validated parameters of ``kind``; :class:`InvalidRequest` naming each bad field."""
    if not isinstance(raw, dict):
        raise InvalidRequest("params must be an object", details=[{"field": "params", "kind": "model_type",
                                                                    "message": "expected an object"}])
    try:
        params = PARAMS[kind].model_validate(raw)
    except ValidationError as exc:
        details = [{"field": ".".join(["params", *(str(p) for p in e["loc"])]), "kind": e["type"],
                    "message": str(e["msg"]).removeprefix("Value error, ")} for e in exc.errors(include_url=False)]
        raise InvalidRequest(f"invalid params for {kind.value}", details=details) from None
    if isinstance(params, LimitParams) and all(getattr(params, f) is None for f in LIMIT_FIELDS):
        raise InvalidRequest("set_limits needs at least one limit",
                             details=[{"field": "params", "kind": "missing", "message": "no limit given"}])
    return params


def params_json(params: _Params) -> dict[str, Any]:
    """JSON-ready parameters (Decimal as exact text, times in RFC 3339), unset fields left out."""
    return params.model_dump(mode="json", exclude_none=True)
