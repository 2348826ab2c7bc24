"""Rules and rule sets as data: what an analyst writes, after compilation.

A rule set is immutable once built; its ``identity`` (name, declared version and a content hash) is
stored on every decision so the decision can be explained and replayed.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from enum import IntEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mamori.risk.features.aggregates import AggregateDef
    from mamori.risk.rules.expr import CompiledExpr


class Verdict(IntEnum):
    """Ordered: the strongest verdict of all fired rules wins."""

    allow = 0
    challenge = 1
    hold = 2
    block = 3

    def __str__(self) -> str:
        return self.name


# What a failing rule does, by event type, unless the rule says otherwise (ARCHITECTURE.md):
# money movements fail closed (hold), logins fail to challenge, never to allow.
DEFAULT_FAILURE_VERDICT: dict[str, Verdict] = {
    "order": Verdict.hold,
    "fiat_withdrawal": Verdict.hold,
    "crypto_withdrawal": Verdict.hold,
    "settings_change": Verdict.hold,
    "login": Verdict.challenge,
}

RULE_MODES = ("active", "shadow", "disabled")


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    version: int
    description: str
    when: CompiledExpr
    events: frozenset[str]
    score: int = 0
    action: Verdict | None = None
    tags: tuple[str, ...] = ()
    reference: str | None = None
    mode: str = "active"
    on_error: Verdict | None = None
    alert: bool = False
    description_ja: str | None = None
    origin: str = ""


@dataclass(frozen=True)
class Ruleset:
    name: str
    version: int
    digest: str
    rules: tuple[Rule, ...]
    aggregates: tuple[AggregateDef, ...] = ()
    thresholds: dict[Verdict, int] = field(default_factory=dict)
    thresholds_by_event: dict[str, dict[Verdict, int]] = field(default_factory=dict)
    lists: dict[str, Any] = field(default_factory=dict)
    description: str = ""
    allowed_lateness_s: float = 900.0
    sources: dict[str, str] = field(default_factory=dict)  # file name -> text, for storage and backtests

    @functools.cached_property
    def identity(self) -> str:
        """``name@version:hash``: what decisions record to say which rules made them."""
        return f"{self.name}@{self.version}:{self.digest[:12]}"

    def rules_for(self, event_type: str, mode: str) -> tuple[Rule, ...]:
        return tuple(r for r in self.rules if r.mode == mode and event_type in r.events)

    def verdict_for_score(self, score: int, event_type: str) -> Verdict:
        """The verdict the summed score reaches; an event type may have its own thresholds (a login
        can be challenged or blocked, but not held for review)."""
        if score <= 0:
            return Verdict.allow
        verdict = Verdict.allow
        for v, threshold in self.thresholds_by_event.get(event_type, self.thresholds).items():
            if score >= threshold and v > verdict:
                verdict = v
        return verdict
