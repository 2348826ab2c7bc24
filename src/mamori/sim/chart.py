"""A small hand-written SVG line chart (no plotting library needed): the trade-off between the
challenge rate of legitimate logins and takeover recall as the login challenge threshold varies."""

from __future__ import annotations

from dataclasses import dataclass
from xml.sax.saxutils import escape

W, H = 720, 480
LEFT, RIGHT, TOP, BOTTOM = 70, 30, 50, 60
COLOURS = ("#1f6fb4", "#d9822b", "#3a9a4a", "#8e44ad")


@dataclass(frozen=True)
class Series:
    name: str
    points: list[tuple[float, float, str]]  # (x, y, point label)
    highlight: str | None = None            # label of the point to emphasise (the configured threshold)


def _nice_max(value: float) -> float:
    for step in (0.01, 0.02, 0.05, 0.1, 0.2, 0.25, 0.5, 1.0):
        if value <= step:
            return step
    return value


def tradeoff_svg(series: list[Series], *, title: str, x_label: str, y_label: str) -> str:
    xmax = _nice_max(max([x for s in series for x, _, _ in s.points] + [0.0]) * 1.08 or 0.01)
    pw, ph = W - LEFT - RIGHT, H - TOP - BOTTOM

    def px(x: float) -> float:
        return LEFT + pw * min(x, xmax) / xmax

    def py(y: float) -> float:
        return TOP + ph * (1 - max(0.0, min(1.0, y)))

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" '
           'font-family="Helvetica, Arial, sans-serif" font-size="12">',
           f'<rect width="{W}" height="{H}" fill="white"/>',
           f'<text x="{W / 2}" y="24" text-anchor="middle" font-size="15">{escape(title)}</text>']
    for i in range(6):
        y = i / 5
        out.append(f'<line x1="{LEFT}" y1="{py(y):.1f}" x2="{LEFT + pw}" y2="{py(y):.1f}" stroke="#e4e4e4"/>')
        out.append(f'<text x="{LEFT - 8}" y="{py(y) + 4:.1f}" text-anchor="end">{y:.1f}</text>')
        x = xmax * i / 5
        out.append(f'<line x1="{px(x):.1f}" y1="{TOP}" x2="{px(x):.1f}" y2="{TOP + ph}" stroke="#e4e4e4"/>')
        out.append(f'<text x="{px(x):.1f}" y="{TOP + ph + 18}" text-anchor="middle">{x * 100:.1f}%</text>')
    out.append(f'<rect x="{LEFT}" y="{TOP}" width="{pw}" height="{ph}" fill="none" stroke="#444"/>')
    out.append(f'<text x="{LEFT + pw / 2}" y="{H - 18}" text-anchor="middle">{escape(x_label)}</text>')
    out.append(f'<text x="18" y="{TOP + ph / 2}" text-anchor="middle" '
               f'transform="rotate(-90 18 {TOP + ph / 2})">{escape(y_label)}</text>')
    for k, s in enumerate(series):
        colour = COLOURS[k % len(COLOURS)]
        pts = sorted(s.points)
        if pts:
            path = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y, _ in pts)
            out.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>')
        for x, y, label in pts:
            hot = label == s.highlight
            out.append(f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="{5 if hot else 3}" '
                       f'fill="{"#c0392b" if hot else colour}"><title>{escape(label)}</title></circle>')
            out.append(f'<text x="{px(x) + 6:.1f}" y="{py(y) - 6:.1f}" font-size="10" fill="#555">'
                       f'{escape(label)}</text>')
        out.append(f'<line x1="{LEFT + 12}" y1="{TOP + 14 + 16 * k}" x2="{LEFT + 36}" y2="{TOP + 14 + 16 * k}" '
                   f'stroke="{colour}" stroke-width="2"/>')
        out.append(f'<text x="{LEFT + 42}" y="{TOP + 18 + 16 * k}">{escape(s.name)}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"
