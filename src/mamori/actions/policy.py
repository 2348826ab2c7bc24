"""The four-eyes policy of actions, in one table (issue 5 item 3; FSA 2025 guidance: money movements
and the lifting of protection need a second person, protective steps must not wait for one).

``FOUR_EYES`` means the action runs only after a *different* principal with ``actions:approve``
approves it; ``SINGLE`` means it runs at once on the proposer's say (speed protects the customer) and
is still audited and still sent to the firm's systems. ``set_limits`` is four-eyes only when it
raises an effective limit (or touches the withdrawal limit, whose current value mamori cannot see),
single otherwise: see :func:`mamori.actions.effects.raises_limits`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final, Literal


class ActionKind(StrEnum):
    release_order = "release_order"
    cancel_order = "cancel_order"
    release_withdrawal = "release_withdrawal"
    cancel_withdrawal = "cancel_withdrawal"
    freeze_account = "freeze_account"
    unfreeze_account = "unfreeze_account"
    set_limits = "set_limits"
    block_network = "block_network"
    unblock_network = "unblock_network"
    block_symbol = "block_symbol"
    unblock_symbol = "unblock_symbol"


class ActionState(StrEnum):
    """proposed -> approved | rejected; approved -> executed (effects inside mamori done) -> done
    (the firm's systems acknowledged the webhook) | failed (delivery gave up; an operator may retry)."""

    proposed = "proposed"
    rejected = "rejected"
    approved = "approved"
    executed = "executed"
    done = "done"
    failed = "failed"


Control = Literal["four_eyes", "single", "four_eyes_if_raising"]
Target = Literal["held_order", "held_withdrawal", "account", "network", "symbol"]


@dataclass(frozen=True, slots=True)
class KindPolicy:
    control: Control
    target: Target
    held_outcome: Literal["released", "cancelled"] | None
    en: str
    ja: str


POLICY: Final[dict[ActionKind, KindPolicy]] = {
    ActionKind.release_order: KindPolicy("four_eyes", "held_order", "released",
                                         "Release a held order", "保留中の注文を解除（執行へ）"),
    ActionKind.cancel_order: KindPolicy("four_eyes", "held_order", "cancelled",
                                        "Cancel a held order", "保留中の注文を取消"),
    ActionKind.release_withdrawal: KindPolicy("four_eyes", "held_withdrawal", "released",
                                              "Release a held withdrawal", "保留中の出金を解除（実行へ）"),
    ActionKind.cancel_withdrawal: KindPolicy("four_eyes", "held_withdrawal", "cancelled",
                                             "Cancel a held withdrawal", "保留中の出金を取消"),
    ActionKind.freeze_account: KindPolicy("single", "account", None, "Freeze an account", "口座を凍結"),
    ActionKind.unfreeze_account: KindPolicy("four_eyes", "account", None,
                                            "Unfreeze an account (after re-identification)",
                                            "口座の凍結解除（本人再確認後）"),
    ActionKind.set_limits: KindPolicy("four_eyes_if_raising", "account", None,
                                      "Set the customer's trading and withdrawal limits", "取引・出金上限の変更"),
    ActionKind.block_network: KindPolicy("single", "network", None, "Block a source network firm-wide",
                                         "接続元ネットワークを全社で遮断"),
    ActionKind.unblock_network: KindPolicy("four_eyes", "network", None, "Lift a network block",
                                           "ネットワーク遮断の解除"),
    ActionKind.block_symbol: KindPolicy("single", "symbol", None, "Block a symbol firm-wide", "銘柄の取引を全社で停止"),
    ActionKind.unblock_symbol: KindPolicy("four_eyes", "symbol", None, "Lift a symbol block", "銘柄停止の解除"),
}
"""Every kind, its control and its target. Documented as a table in ``docs/actions.md``."""


def needs_second_person(kind: ActionKind, *, raises_limits: bool = False) -> bool:
    """Whether ``kind`` waits for a different approver (``raises_limits`` matters for ``set_limits``)."""
    control = POLICY[kind].control
    return control == "four_eyes" or (control == "four_eyes_if_raising" and raises_limits)
