"""Micro-benchmark of compiled rule expressions (``mamori.risk.rules.expr``).

Plain script: ``.venv/bin/python bench/bench_expr.py``. Prints evaluations per second for three
representative ``when:`` conditions against a plain dict environment, plus the cost of a 40-rule
ruleset built from them (the engine's budget is well under 30 µs per event for the whole ruleset).
"""

from __future__ import annotations

import timeit
from decimal import Decimal

from mamori.risk.rules.expr import compile_expr

ENV = {
    "event.result": "success",
    "event.method": "password",
    "event.amount": Decimal("2500000"),
    "new_device": True,
    "ip_class": "vpn",
    "ip_country": "JP",
    "acct_login_fail_10m": 6,
    "secs_since_settings_change": 7200,
    "sell_share_of_holdings": 0.85,
}

EXPRESSIONS = {
    "login/membership": 'event.result == "success" and new_device and ip_class in ("hosting", "vpn", "tor")',
    "counter/ordering": 'acct_login_fail_10m >= 5 and event.method == "password"',
    "decimal+duration": "event.amount >= 1_000_000 and secs_since_settings_change < hours(24)"
    ' and sell_share_of_holdings * 1.5 > 0.8 and not (ip_country == "KP")',
}


def best_per_call(func: object, env: dict[str, object], number: int) -> float:
    timer = timeit.Timer(lambda: func(env))  # type: ignore[operator]
    return min(timer.repeat(repeat=5, number=number)) / number


def main() -> None:
    number = 200_000
    compiled = {label: compile_expr(src) for label, src in EXPRESSIONS.items()}
    baseline = best_per_call(lambda env: None, ENV, number)  # the lambda-call overhead of the harness
    print(f"{'expression':<20} {'result':>7} {'evals/s':>12} {'ns/eval':>9}")
    for label, expr in compiled.items():
        per_call = max(best_per_call(expr.evaluate, ENV, number) - baseline, 1e-12)
        result = expr.evaluate(ENV)
        print(f"{label:<20} {result!s:>7} {1 / per_call:>12,.0f} {per_call * 1e9:>9.0f}")

    ruleset = [compiled[label].evaluate for label in compiled] * 14  # 42 rules
    ruleset = ruleset[:40]

    def evaluate_ruleset(env: dict[str, object]) -> None:
        for evaluate in ruleset:
            evaluate(env)

    per_event = best_per_call(evaluate_ruleset, ENV, 20_000)
    print(f"40-rule ruleset (these three, cycled): {per_event * 1e6:.2f} µs per event")


if __name__ == "__main__":
    main()
