"""The crypto evaluation's report as text (a table per typology and a machine-readable last line) and as
``report-crypto.json``; the numbers come from :func:`mamori.sim.crypto.evaluate.metrics`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from mamori.sim.crypto.evaluate import NORMAL
from mamori.sim.crypto.world import ATTACK_TYPOLOGIES, BENIGN_TYPOLOGIES


def _fmt(x: float | None, digits: int = 3) -> str:
    return "n/a" if x is None else f"{x:.{digits}f}"


def summary_lines(report: dict[str, Any]) -> list[str]:
    """A table per typology and the last, machine-readable line:
    ``evaluate-crypto recall=.. precision=.. <typology>_recall=..``."""
    o = report["overall"]
    seeds = ",".join(str(x) for x in report.get("seeds", [report["params"]["seed"]]))
    lines = [f"rules {report['ruleset']}  customers {report['params']['customers']}  days {report['params']['days']}"
             f"  seeds {seeds}  risk list: {report['screening'].get('status')}"]
    lines.append(f"{'typology':<28}{'episodes':>9}{'caught':>8}{'recall':>8}{'ttd h':>8}  top rules")
    for t in ATTACK_TYPOLOGIES:
        r = report["by_typology"][t]
        top = ", ".join(f"{k}x{v}" for k, v in list(r["top_rules"].items())[:3])
        lines.append(f"{t:<28}{r['episodes']:>9}{r['flagged']:>8}{_fmt(r['recall'], 2):>8}"
                     f"{_fmt(r['time_to_detect_median_h'], 1):>8}  {top}")
    lines.append(f"{'look-alike / normal':<28}{'episodes':>9}{'flagged':>8}{'FP rate':>8}{'':>8}  top rules")
    for t in (*BENIGN_TYPOLOGIES, NORMAL):
        r = report["by_typology"][t]
        top = ", ".join(f"{k}x{v}" for k, v in list(r["top_rules"].items())[:3])
        lines.append(f"{t:<28}{r['episodes']:>9}{r['flagged']:>8}{_fmt(r['false_positive_rate'], 3):>8}{'':>8}  {top}")
    busiest = sorted(report["by_rule"].items(), key=lambda kv: -(kv[1]["attack"] + kv[1]["benign"] + kv[1]["normal"]))
    lines.append("rules, flagged episodes attack/benign/normal: " + ", ".join(
        f"{rule} {r['attack']}/{r['benign']}/{r['normal']}" for rule, r in busiest[:8]))
    lines.append(f"attack episodes {o['attack_episodes']} caught {o['caught']} recall {_fmt(o['recall'])}; flagged "
                 f"episodes {o['flagged_episodes']} precision {_fmt(o['precision'])}; alerts {o['alerts']} = "
                 f"{o['alerts_per_1000_customers_30d']} per 1,000 customers per 30 days")
    per = " ".join(f"{t}_recall={_fmt(report['by_typology'][t]['recall'] or 0.0, 4)}" for t in ATTACK_TYPOLOGIES)
    lines.append(f"evaluate-crypto recall={_fmt(o['recall'] or 0.0, 4)} precision={_fmt(o['precision'] or 0.0, 4)} "
                 f"alerts_per_1000={o['alerts_per_1000_customers_30d']} {per}")
    return lines


def write_report(report: dict[str, Any], out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    path = out / "report-crypto.json"
    path.write_bytes(orjson.dumps(report, option=orjson.OPT_INDENT_2) + b"\n")
    return path
