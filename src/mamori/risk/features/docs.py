"""Renders ``docs/features.md`` from the registry: ``python -m mamori.risk.features.docs > docs/features.md``."""

from __future__ import annotations

from mamori.risk.features.registry import builtin_plugins

INTRO = """# Features (特徴量)

Features are the values rule expressions read. Built-in features come from the plugins below (one
module each in `src/mamori/risk/features/`); a rule set adds sliding-window aggregates of its own in
its `features:` section (see `docs/rules.md`). `event.<field>` reads a field of the event itself
(see `docs/events.md`). A feature that does not apply (no IP on the event, no history yet) is
`None`; ordering comparisons with `None` are false.

特徴量はルール式から参照する値です。組み込み特徴量は以下のプラグインが計算し、ルールセットは
`features:` 節で独自のスライディングウィンドウ集計を追加できます。

Generated from the code; do not edit by hand.
"""


def render_markdown() -> str:
    lines = [INTRO]
    for plugin in builtin_plugins():
        defs = [f for f in plugin.features() if not f.name.startswith("event.")]
        if not defs:
            continue
        module = type(plugin).__module__
        doc = (__import__(module, fromlist=["_"]).__doc__ or "").strip().split("\n\n")[0].replace("\n", " ")
        lines.append(f"## {plugin.name}\n\n{doc}\n\n| feature | kind | events | description |\n|---|---|---|---|")
        for f in defs:
            events = "all" if f.event_types is None else ", ".join(sorted(f.event_types))
            lines.append(f"| `{f.name}` | {f.kind} | {events} | {f.description} |")
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    print(render_markdown(), end="")
