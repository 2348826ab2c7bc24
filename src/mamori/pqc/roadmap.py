"""The migration roadmap (移行計画): waves of work in dependency order, aligned to renewals, with a Gantt chart.

The FSA asks firms to draw up a roadmap with their IT vendors now, without waiting for the industry template
(金融庁, exchange of views with JSDA, 2025-06-17, §6), and notes that large renewals come only once every
few years, so the windows for migration are few. The plan here:

1. Every asset that is not already safe becomes an item: ``replace`` (a disallowed algorithm is in use),
   ``migrate`` (quantum-vulnerable), ``review`` (unrecognised cryptography) or ``inventory`` (no finding
   linked yet). Reviews and inventories are planned for half a year (:data:`REVIEW_YEARS`); the migration
   they reveal is planned when its findings are recorded.
2. Items are ordered topologically by ``depends_on`` - a PKI root before the leaf certificates it issues,
   HSM firmware before the applications that use it - and, among the items that are free to go, the
   highest priority first (a prerequisite inherits the priority of what waits on it). A cycle is
   reported and broken at its highest-priority member.
3. Each item starts when its prerequisites are finished (finish-to-start). If its next renewal (更改) can
   carry the work - the renewal is late enough to fit the migration time after the prerequisites and early
   enough to meet the deadline - the item is aligned to it; otherwise it starts as soon as it can.
   Capacity is not modelled: items in parallel are assumed staffable.
4. Each item states its target year and whether it meets its deadline (the earlier of the policy date and
   the CRQC less the shelf life; :mod:`mamori.pqc.risk`). Waves group items by start year
   (``wave_years`` wide, default 2).

The chart (:func:`render_gantt`) is a PNG drawn with Pillow. Japanese labels are used only when a
Japanese-capable font is installed (``fc-list :lang=ja``); otherwise the labels are English and non-ASCII
characters in asset names are replaced by ``?`` (the workbook carries the Japanese text either way).
"""

from __future__ import annotations

import datetime as dt
import functools
import heapq
import shutil
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal

from mamori.pqc.policy_data import Scenario, default_policy
from mamori.pqc.risk import AssetRisk, Band, add_years, frac_year

__all__ = ["GanttInfo", "Roadmap", "RoadmapItem", "japanese_font", "plan_roadmap", "render_gantt"]

Action = Literal["replace", "migrate", "review", "inventory"]
_ACTION: Final[dict[str, Action]] = {"replace": "replace", "migrate": "migrate", "review": "review",
                                     "not-inventoried": "inventory"}
ACTION_JA: Final = {"replace": "使用不可暗号の置換", "migrate": "PQC移行", "review": "暗号の確認",
                    "inventory": "暗号の棚卸し"}
REVIEW_YEARS: Final = 0.5
"""How long an ``inventory`` or ``review`` item is planned for: finding out which cryptography the asset
uses; the migration it reveals is planned once the findings are in the register."""


@dataclass(frozen=True, slots=True)
class RoadmapItem:
    order: int
    wave: int
    asset_id: str
    system: str
    asset_type: str
    action: Action
    priority: int
    band: Band
    start: dt.date
    finish: dt.date
    due: dt.date | None
    due_basis_ja: str
    due_basis_en: str
    meets_deadline: bool | None
    aligned_to_renewal: bool
    next_renewal: dt.date | None
    depends_on: tuple[str, ...]
    hndl_now: bool | None

    @property
    def target_year(self) -> int:
        return (self.finish - dt.timedelta(days=1)).year

    def to_dict(self) -> dict[str, Any]:
        return {"order": self.order, "wave": self.wave, "asset_id": self.asset_id, "system": self.system,
                "asset_type": self.asset_type, "action": self.action, "priority": self.priority, "band": self.band,
                "start": self.start.isoformat(), "finish": self.finish.isoformat(), "target_year": self.target_year,
                "due": self.due.isoformat() if self.due else None, "due_basis_ja": self.due_basis_ja,
                "due_basis_en": self.due_basis_en, "meets_deadline": self.meets_deadline,
                "aligned_to_renewal": self.aligned_to_renewal,
                "next_renewal": self.next_renewal.isoformat() if self.next_renewal else None,
                "depends_on": list(self.depends_on), "hndl_now": self.hndl_now}


@dataclass(frozen=True, slots=True)
class Roadmap:
    today: dt.date
    scenario: str
    crqc_year: int
    wave_years: int
    items: tuple[RoadmapItem, ...]
    problems: tuple[str, ...]

    def waves(self) -> list[tuple[int, int, int, list[RoadmapItem]]]:
        """(wave, first year, last year, items) in wave order."""
        out: dict[int, list[RoadmapItem]] = {}
        for item in self.items:
            out.setdefault(item.wave, []).append(item)
        return [(w, self.today.year + (w - 1) * self.wave_years, self.today.year + w * self.wave_years - 1, items)
                for w, items in sorted(out.items())]

    def to_dict(self) -> dict[str, Any]:
        return {"today": self.today.isoformat(), "scenario": self.scenario, "crqc_year": self.crqc_year,
                "wave_years": self.wave_years,
                "waves": [{"wave": w, "from": a, "to": b, "items": len(items),
                           "missing_deadline": sum(1 for i in items if i.meets_deadline is False)}
                          for w, a, b, items in self.waves()],
                "items": [i.to_dict() for i in self.items], "problems": list(self.problems)}


@dataclass(slots=True)
class _Node:
    asset_id: str
    system: str
    asset_type: str
    action: Action
    priority: int
    band: Band
    y: float
    due: dt.date | None
    basis_ja: str
    basis_en: str
    renewal: dt.date | None
    deps: tuple[str, ...]
    hndl: bool | None
    effective: int = 0


def plan_roadmap(risks: Iterable[AssetRisk], *, today: dt.date, wave_years: int = 2,
                 scenario: Scenario | None = None) -> Roadmap:
    """Plan the migration from the assets' risk evaluations (streamed; only a compact node per item is kept).
    ``scenario`` names the CRQC scenario in the result (default: that of the evaluations, else the policy's)."""
    if wave_years < 1:
        raise ValueError("wave_years must be at least 1")
    nodes: dict[str, _Node] = {}
    known: set[str] = set()
    sc = scenario or default_policy().scenario()
    name, crqc_year = sc.name, sc.year
    for r in risks:
        known.add(r.asset_id)
        if scenario is None:
            name, crqc_year = r.scenario, r.crqc_year
        if r.state == "safe":
            continue
        nodes[r.asset_id] = _Node(r.asset_id, r.system, r.asset_type, _ACTION[r.state], r.priority, r.band, r.y,
                                  r.due, r.due_basis_ja, r.due_basis_en, r.next_renewal, r.depends_on, r.hndl_now)
    problems: list[str] = []
    for n in nodes.values():
        missing = [d for d in n.deps if d not in known]
        if missing:
            problems.append(f"{n.asset_id}: depends on unknown asset(s) {', '.join(missing)} (ignored)")
        n.deps = tuple(d for d in n.deps if d in nodes)
    order = _ordered(nodes, problems)

    items: list[RoadmapItem] = []
    finish: dict[str, dt.date] = {}
    for position, n in enumerate(order, start=1):
        earliest = max([today, *(finish[d] for d in n.deps if d in finish)])
        years = n.y if n.action in ("migrate", "replace") else min(n.y, REVIEW_YEARS)
        start, end, aligned = earliest, add_years(earliest, years), False
        if n.renewal is not None and n.action in ("migrate", "replace"):
            at_renewal = add_years(n.renewal, -n.y)
            if at_renewal >= earliest and (n.due is None or n.renewal <= n.due):
                start, end, aligned = at_renewal, n.renewal, True
        finish[n.asset_id] = end
        items.append(RoadmapItem(
            order=position, wave=1 + (start.year - today.year) // wave_years, asset_id=n.asset_id, system=n.system,
            asset_type=n.asset_type, action=n.action, priority=n.priority, band=n.band, start=start, finish=end,
            due=n.due, due_basis_ja=n.basis_ja, due_basis_en=n.basis_en,
            meets_deadline=None if n.due is None else end <= n.due, aligned_to_renewal=aligned,
            next_renewal=n.renewal, depends_on=n.deps, hndl_now=n.hndl))
    return Roadmap(today=today, scenario=name, crqc_year=crqc_year, wave_years=wave_years, items=tuple(items),
                   problems=tuple(problems))


def _ordered(nodes: dict[str, _Node], problems: list[str]) -> list[_Node]:
    """Kahn's algorithm with a priority heap; prerequisites inherit their dependents' priority."""
    dependents: dict[str, list[str]] = {k: [] for k in nodes}
    waiting = {k: len(n.deps) for k, n in nodes.items()}
    for n in nodes.values():
        for d in n.deps:
            dependents[d].append(n.asset_id)
        n.effective = n.priority
    # effective priority: propagate from dependents to prerequisites (bounded passes, cycles are harmless)
    for _ in range(len(nodes)):
        changed = False
        for n in nodes.values():
            for d in n.deps:
                if nodes[d].effective < n.effective:
                    nodes[d].effective = n.effective
                    changed = True
        if not changed:
            break
    heap = [(-n.effective, -n.priority, k) for k, n in nodes.items() if waiting[k] == 0]
    heapq.heapify(heap)
    out: list[_Node] = []
    done: set[str] = set()
    while len(out) < len(nodes):
        if not heap:  # a cycle: start with its most important member, ignoring its unmet prerequisites
            stuck = sorted((k for k in nodes if k not in done), key=lambda k: (-nodes[k].effective, k))
            problems.append(f"dependency cycle among {', '.join(stuck[:10])}"
                            f"{' ...' if len(stuck) > 10 else ''}: broken at {stuck[0]}")
            waiting[stuck[0]] = 0
            heap.append((-nodes[stuck[0]].effective, -nodes[stuck[0]].priority, stuck[0]))
        _, _, key = heapq.heappop(heap)
        if key in done:
            continue
        done.add(key)
        out.append(nodes[key])
        for nxt in dependents[key]:
            waiting[nxt] -= 1
            if waiting[nxt] == 0 and nxt not in done:
                heapq.heappush(heap, (-nodes[nxt].effective, -nodes[nxt].priority, nxt))
    return out


# -- the Gantt chart ----------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class GanttInfo:
    path: Path
    rows: int
    hidden: int
    japanese: bool
    font: str


@functools.cache
def japanese_font() -> Path | None:
    """A font file that covers Japanese (``fc-list :lang=ja``), or None."""
    fc_list = shutil.which("fc-list")
    if fc_list is None:
        return None
    try:
        out = subprocess.run([fc_list, ":lang=ja", "file"],  # noqa: S603 - fixed arguments, no user input
                             capture_output=True, text=True, timeout=10, check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    files = sorted({line.split(":", 1)[0].strip() for line in out.splitlines() if line.strip()})
    files = [f for f in files if f.lower().endswith((".ttf", ".otf", ".ttc")) and Path(f).is_file()]
    preferred = [f for f in files if "gothic" in f.lower() or "sans" in f.lower()]
    chosen = preferred or files
    return Path(chosen[0]) if chosen else None


def _ascii(text: str) -> str:
    return "".join(ch if 32 <= ord(ch) < 127 else "?" for ch in text)


def render_gantt(roadmap: Roadmap, path: Path, *, max_rows: int = 60, font_path: Path | None = None) -> GanttInfo:
    """Draw the roadmap as a PNG Gantt chart (one row per item, in plan order; deadlines as markers; the
    CRQC year of the scenario and the NIST IR 8547 years 2030/2035 as vertical lines)."""
    from PIL import Image, ImageDraw, ImageFont

    jp = font_path or japanese_font()
    size, small = 13, 11
    font: Any
    font_small: Any
    if jp is not None:
        font, font_small, font_name = ImageFont.truetype(str(jp), size), ImageFont.truetype(str(jp), small), jp.name
    else:
        try:
            font = ImageFont.truetype("DejaVuSans.ttf", size)
            font_small = ImageFont.truetype("DejaVuSans.ttf", small)
            font_name = "DejaVuSans.ttf"
        except OSError:
            font, font_small, font_name = ImageFont.load_default(size), ImageFont.load_default(small), "default"
    japanese = jp is not None

    def label(text: str) -> str:
        return text if japanese else _ascii(text)

    items = list(roadmap.items[:max_rows])
    hidden = len(roadmap.items) - len(items)
    y0 = roadmap.today.year
    last = max([y0 + 2, 2037, roadmap.crqc_year + 2,
                *(i.finish.year + 1 for i in items), *(i.due.year + 1 for i in items if i.due)])
    y1 = min(last, y0 + 25)
    left, right, top, row_h = 360, 30, 92, 20
    width = 1400
    height = top + row_h * max(1, len(items)) + 100
    img = Image.new("RGB", (width, height), "white")
    d = ImageDraw.Draw(img)
    plot_w = width - left - right

    def xpos(day: dt.date) -> float:
        v = min(max(frac_year(day), y0), y1)
        return left + (v - y0) / (y1 - y0) * plot_w

    scenario = f"{roadmap.scenario}: CRQC {roadmap.crqc_year}"
    title = (f"耐量子計算機暗号 移行計画 / PQC migration roadmap - シナリオ {scenario}" if japanese
             else f"PQC migration roadmap - scenario {scenario}")
    d.text((10, 10), title, fill="black", font=font)
    d.text((10, 30), f"{roadmap.today.isoformat()} · {len(roadmap.items)} items"
           + (f" ({hidden} more in the workbook)" if hidden else ""), fill="#555555", font=font_small)
    # year grid
    for year in range(y0, y1 + 1):
        x = xpos(dt.date(year, 1, 1))
        d.line([(x, top - 18), (x, height - 90)], fill="#e0e0e0")
        if year < y1:
            d.text((x + 3, top - 18), str(year), fill="#333333", font=font_small)
    # reference lines: today, NIST IR 8547 years, the CRQC of the scenario
    refs = [(roadmap.today, "#1565c0", "今日" if japanese else "today"),
            (dt.date(2031, 1, 1), "#9e9e9e", "IR 8547: 112-bit deprecated"),
            (dt.date(2036, 1, 1), "#616161", "IR 8547: disallowed"),
            (dt.date(roadmap.crqc_year, 1, 1), "#ef6c00", f"CRQC {roadmap.crqc_year}")]
    for day, colour, text in refs:
        if y0 <= frac_year(day) <= y1:
            x = xpos(day)
            for yy in range(top - 4, height - 90, 8):
                d.line([(x, yy), (x, yy + 4)], fill=colour, width=2)
            text_w = d.textlength(text, font=font_small)
            d.text((x + 3 if x + 3 + text_w < width - 5 else x - 3 - text_w, top - 36), text, fill=colour,
                   font=font_small)
    for row, item in enumerate(items):
        yy = top + row * row_h
        if row % 2 == 0:
            d.rectangle([(0, yy), (width, yy + row_h - 1)], fill="#fafafa")
        name = f"{item.asset_id} {item.system}".strip() if japanese else item.asset_id
        d.text((10, yy + 3), label(f"{item.wave}. {name}")[:48], fill="black", font=font_small)
        colour = ("#9e9e9e" if item.action == "inventory" else "#2e7d32" if item.meets_deadline
                  else "#c62828" if item.meets_deadline is False else "#1565c0")
        x_a, x_b = xpos(item.start), max(xpos(item.finish), xpos(item.start) + 3)
        d.rectangle([(x_a, yy + 4), (x_b, yy + row_h - 5)], fill=colour,
                    outline="#0d47a1" if item.aligned_to_renewal else colour, width=2)
        if item.due is not None and y0 <= frac_year(item.due) <= y1:
            xd = xpos(item.due)
            d.polygon([(xd - 5, yy + row_h - 2), (xd + 5, yy + row_h - 2), (xd, yy + 6)], fill="black")
    # legend
    ly = height - 70
    legend = [("#2e7d32", "期限内に完了" if japanese else "meets its deadline"),
              ("#c62828", "期限超過" if japanese else "misses its deadline"),
              ("#9e9e9e", "棚卸し未実施" if japanese else "inventory first"),
              ("black", "▲ 移行完了期限" if japanese else "triangle: deadline")]
    x = 10
    for colour, text in legend:
        d.rectangle([(x, ly), (x + 14, ly + 12)], fill=colour)
        d.text((x + 20, ly - 1), text, fill="black", font=font_small)
        x += 230
    d.text((10, ly + 22), "blue outline: aligned to the next renewal (更改)" if japanese
           else "blue outline: aligned to the next renewal", fill="#0d47a1", font=font_small)
    path = Path(path)
    img.save(path, format="PNG", optimize=True)
    return GanttInfo(path=path, rows=len(items), hidden=hidden, japanese=japanese, font=font_name)
