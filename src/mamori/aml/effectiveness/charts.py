"""Hand-written SVG charts for the effectiveness report (inline in the HTML, no plotting library,
nothing loaded from elsewhere): line charts over weeks or threshold values, horizontal bars for
rates and the alert → case → STR funnel."""

from __future__ import annotations

import math
from collections.abc import Sequence
from xml.sax.saxutils import escape

COLOURS = ("#1f6fb4", "#d9822b", "#3a9a4a", "#8e44ad", "#c0392b", "#16a085", "#7f8c8d", "#b7950b")
FONT = 'font-family="Hiragino Sans, Noto Sans CJK JP, Meiryo, Helvetica, Arial, sans-serif" font-size="12"'


def _nice_ceiling(value: float) -> float:
    if value <= 0:
        return 1.0
    exponent = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * exponent:
            return float(step * exponent)
    return float(10 * exponent)


def _head(width: int, height: int, title: str, chart_id: str) -> list[str]:
    return [f'<svg xmlns="http://www.w3.org/2000/svg" id="{escape(chart_id)}" class="chart" width="{width}" '
            f'height="{height}" viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}" {FONT}>',
            f"<title>{escape(title)}</title>", f'<rect width="{width}" height="{height}" fill="white"/>',
            f'<text x="{width / 2}" y="22" text-anchor="middle" font-size="14">{escape(title)}</text>']


def line_chart(x_labels: Sequence[str], series: Sequence[tuple[str, Sequence[float | None]]], *, title: str,
               chart_id: str, y_label: str = "", ratio: bool = False, highlight: int | None = None) -> str:
    """One line per series over categorical x positions; ``ratio`` draws 0–100 %; ``highlight`` marks
    one x position (the current threshold)."""
    width, height, left, right, top, bottom = 820, 380, 70, 230, 40, 70
    pw, ph = width - left - right, height - top - bottom
    values = [v for _, vs in series for v in vs if v is not None]
    ymax = 1.0 if ratio else _nice_ceiling(max(values, default=0.0))
    n = max(1, len(x_labels))

    def px(i: int) -> float:
        return left + (pw * (i + 0.5) / n)

    def py(v: float) -> float:
        return top + ph * (1 - min(max(v / ymax, 0.0), 1.0))

    out = _head(width, height, title, chart_id)
    for k in range(6):
        v = ymax * k / 5
        label = f"{v * 100:.0f}%" if ratio else (f"{v:.0f}" if ymax >= 5 else f"{v:.1f}")
        out.append(f'<line x1="{left}" y1="{py(v):.1f}" x2="{left + pw}" y2="{py(v):.1f}" stroke="#e4e4e4"/>')
        out.append(f'<text x="{left - 6}" y="{py(v) + 4:.1f}" text-anchor="end">{label}</text>')
    every = max(1, math.ceil(n / 14))
    for i, label in enumerate(x_labels):
        if i % every == 0:
            out.append(f'<text x="{px(i):.1f}" y="{top + ph + 16}" text-anchor="end" font-size="10" '
                       f'transform="rotate(-35 {px(i):.1f} {top + ph + 16})">{escape(label)}</text>')
    if highlight is not None and 0 <= highlight < n:
        out.append(f'<line x1="{px(highlight):.1f}" y1="{top}" x2="{px(highlight):.1f}" y2="{top + ph}" '
                   'stroke="#c0392b" stroke-dasharray="4 3"/>')
    out.append(f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="none" stroke="#444"/>')
    if y_label:
        out.append(f'<text x="16" y="{top + ph / 2}" text-anchor="middle" '
                   f'transform="rotate(-90 16 {top + ph / 2})">{escape(y_label)}</text>')
    for k, (name, vs) in enumerate(series):
        colour = COLOURS[k % len(COLOURS)]
        points = [(px(i), py(v), v) for i, v in enumerate(vs) if v is not None]
        if len(points) > 1:
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y, _ in points)
            out.append(f'<polyline class="series" points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>')
        for x, y, v in points:
            shown = f"{v * 100:.1f}%" if ratio else f"{v:g}"
            out.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}"><title>{escape(name)}: '
                       f"{shown}</title></circle>")
        ly = top + 12 + 16 * k
        out.append(f'<line x1="{left + pw + 12}" y1="{ly}" x2="{left + pw + 30}" y2="{ly}" stroke="{colour}" '
                   'stroke-width="2"/>')
        out.append(f'<text x="{left + pw + 35}" y="{ly + 4}" font-size="11">{escape(name[:30])}</text>')
    out.append("</svg>")
    return "\n".join(out)


def bar_chart(items: Sequence[tuple[str, float | None]], *, title: str, chart_id: str, ratio: bool = False,
              note_missing: str = "—") -> str:
    """Horizontal bars, one per item (``None``: no data, drawn as a dash)."""
    row, left, right, top = 26, 250, 80, 40
    width = 760
    height = top + row * max(1, len(items)) + 20
    pw = width - left - right
    values = [v for _, v in items if v is not None]
    vmax = 1.0 if ratio else _nice_ceiling(max(values, default=0.0))
    out = _head(width, height, title, chart_id)
    for i, (label, value) in enumerate(items):
        y = top + i * row
        out.append(f'<text x="{left - 8}" y="{y + 16}" text-anchor="end">{escape(label[:36])}</text>')
        if value is None:
            out.append(f'<text class="bar-missing" x="{left + 4}" y="{y + 16}" fill="#888">'
                       f"{escape(note_missing)}</text>")
            continue
        w = pw * min(max(value / vmax, 0.0), 1.0)
        shown = f"{value * 100:.1f}%" if ratio else f"{value:g}"
        out.append(f'<rect class="bar" x="{left}" y="{y + 4}" width="{w:.1f}" height="{row - 8}" '
                   f'fill="{COLOURS[i % len(COLOURS)]}"><title>{escape(label)}: {shown}</title></rect>')
        out.append(f'<text x="{left + w + 6:.1f}" y="{y + 16}">{shown}</text>')
    out.append("</svg>")
    return "\n".join(out)


def funnel_chart(stages: Sequence[tuple[str, int]], *, title: str, chart_id: str) -> str:
    """The conversion funnel: centred bars whose width is the stage's share of the first stage."""
    row, top = 44, 40
    width = 760
    height = top + row * len(stages) + 10
    first = max(1, stages[0][1]) if stages else 1
    out = _head(width, height, title, chart_id)
    for i, (label, count) in enumerate(stages):
        w = max(2.0, 520 * count / first)
        x = 120 + (520 - w) / 2
        y = top + i * row
        out.append(f'<rect class="stage" x="{x:.1f}" y="{y}" width="{w:.1f}" height="{row - 10}" '
                   f'fill="{COLOURS[i % len(COLOURS)]}"><title>{escape(label)}: {count}</title></rect>')
        share = f" ({count / first * 100:.1f}%)" if i else ""
        out.append(f'<text x="{width / 2}" y="{y + row / 2}" text-anchor="middle" fill="#111">'
                   f"{escape(label)}: {count}{share}</text>")
    out.append("</svg>")
    return "\n".join(out)
