"""AML effectiveness report from a simulated month: the crypto simulator's events go through a real
``mamori serve`` (engine, store, alerts, cases), then the report is fetched over HTTP (HTML with its
SVG charts parsed, the Excel workbook opened, JSON cross-checked) and written by the CLI."""

from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import select

from mamori.adapters.sql.schema import audit_log, decisions
from mamori.adapters.sql.store import SqlStore
from mamori.aml.reference_cases import REFERENCE_CASES
from mamori.sim.crypto import simulate
from server import RunningServer, run_cli, start_server

DOCS = Path(__file__).resolve().parent.parent / "docs"
PERIOD = {"from": "2026-05-01", "to": "2026-06-15"}
SVG = "{http://www.w3.org/2000/svg}"


@dataclass
class World:
    server: RunningServer
    reader: str
    outsider: str
    labels_path: Path
    db_url: str


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("aml-effectiveness")
    server = start_server(root / "serve")
    sim = simulate(60, 30, 5)
    try:
        with server.client() as client:
            for i in range(0, len(sim.events), 500):
                response = client.post("/v1/events", json={"events": sim.events[i:i + 500]})
                assert response.status_code == 200, response.text
            assert client.post("/v1/cases/refresh").status_code == 200
        db_url = f"sqlite:///{(root / 'serve' / 'mamori.db').resolve()}"
        store = SqlStore(db_url)
        _, reader = store.create_api_key(name="aml-auditor", scopes=frozenset({"aml:read"}))
        _, outsider = store.create_api_key(name="cases-only", scopes=frozenset({"cases:read"}))
        store.close()
        labels_path = root / "labels.json"
        labels_path.write_bytes(orjson.dumps(sim.labels))
        yield World(server, reader, outsider, labels_path, db_url)
    finally:
        server.stop()


class _Collect(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.svgs: list[str] = []
        self.tables = 0
        self.external: list[str] = []
        self._depth = 0
        self._buffer: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self.tables += 1
        for name, value in attrs:
            if name in ("src", "href") and value and not value.startswith("#"):
                self.external.append(value)
        if tag in ("script", "link", "img", "iframe"):
            self.external.append(tag)


def _svgs(html: str) -> dict[str, ET.Element]:
    """Every inline SVG, parsed as XML (so each must be well-formed), by its id."""
    out = {}
    start = 0
    while (begin := html.find("<svg", start)) != -1:
        end = html.index("</svg>", begin) + len("</svg>")
        element = ET.fromstring(html[begin:end])
        out[element.get("id", f"svg-{begin}")] = element
        start = end
    return out


def test_the_html_report_has_its_charts_and_tables(world: World) -> None:
    with world.server.client(world.reader) as client:
        response = client.get("/v1/aml/effectiveness/report", params={**PERIOD, "format": "html"}, timeout=300)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in response.headers["content-security-policy"]
    html = response.text
    parser = _Collect()
    parser.feed(html)
    assert parser.external == []  # self-contained: no script, no external resource
    assert parser.tables >= 5
    svgs = _svgs(html)
    for chart in ("chart-alert-volume", "chart-funnel", "chart-precision", "chart-sweep-0-alerts",
                  "chart-sweep-0-quality"):
        assert chart in svgs, sorted(svgs)
    assert svgs["chart-alert-volume"].findall(f".//{SVG}polyline")  # weekly lines drawn
    assert len(svgs["chart-funnel"].findall(f".//{SVG}rect[@class='stage']")) == 4
    assert "マネロン等対策の有効性検証報告" in html and "AML monitoring effectiveness report" in html
    for case in REFERENCE_CASES:
        assert f"<td>{case.id}</td>" in html


def test_the_json_report_matches_the_store_and_is_versioned(world: World) -> None:
    with world.server.client(world.reader) as client:
        data = client.get("/v1/aml/effectiveness/report", params={**PERIOD, "format": "json", "sweeps": "none"},
                          timeout=300).json()
        again = client.get("/v1/aml/effectiveness/report", params={**PERIOD, "format": "json", "sweeps": "none"},
                           timeout=300).json()
    store = SqlStore(world.db_url)
    try:
        stored_alerts = len(store.query_alerts(limit=100_000))
        with store.engine.connect() as conn:
            actions = [r.action for r in conn.execute(select(audit_log.c.action))]
    finally:
        store.close()
    everything = data["metrics"][-1]
    assert everything["scenario"] == "ALL" and everything["alerts"] == stored_alerts > 0
    assert everything["in_case"] == stored_alerts  # the case builder filed every alert
    assert data["version"]["ruleset"].startswith("mamori-builtin") or "@" in data["version"]["ruleset"]
    assert sum(data["data_quality"]["events_by_type"].values()) > 1000
    assert data["report_id"] == again["report_id"] and data["sweeps"] == []
    assert actions.count("aml.effectiveness.report") >= 2


def test_the_workbook_has_the_same_tables(world: World) -> None:
    from openpyxl import load_workbook  # type: ignore[import-untyped]

    with world.server.client(world.reader) as client:
        response = client.get("/v1/aml/effectiveness/report", params={**PERIOD, "format": "xlsx"}, timeout=300)
        data = client.get("/v1/aml/effectiveness/report", params={**PERIOD, "format": "json"}, timeout=300).json()
    assert response.status_code == 200 and "attachment" in response.headers["content-disposition"]
    book = load_workbook(io.BytesIO(response.content))
    assert book.sheetnames[:3] == ["概要 Summary", "指標 Metrics", "週次 Weekly"]
    metrics = list(book["指標 Metrics"].iter_rows(min_row=3, values_only=True))
    assert [row[0] for row in metrics] == [m["scenario"] for m in data["metrics"]]
    assert [row[3] for row in metrics] == [m["alerts"] for m in data["metrics"]]
    cases = list(book["参考事例 Reference cases"].iter_rows(min_row=3, values_only=True))
    assert len(cases) == len(REFERENCE_CASES)
    sweeps = list(book["閾値 Sweeps"].iter_rows(min_row=3, values_only=True))
    assert len(sweeps) == sum(len(s["rows"]) for s in data["sweeps"]) > 0


def test_scope_and_bad_input(world: World) -> None:
    with world.server.client(world.outsider) as client:
        assert client.get("/v1/aml/effectiveness/metrics", params=PERIOD).status_code == 403
    with world.server.client(world.reader) as client:
        bad = client.get("/v1/aml/effectiveness/metrics", params={"from": "2026-06-01", "to": "2026-05-01"})
        assert bad.status_code == 422 and bad.json()["error"]["details"][0]["field"] == "to"
        sweep = client.post("/v1/aml/effectiveness/sweep", json={"scenario": "AML-NOPE", "threshold": "x",
                                                                 "values": [1], **PERIOD})
        assert sweep.status_code == 422 and "unknown scenario" in sweep.json()["error"]["message"]
        extra = client.post("/v1/aml/effectiveness/backtest", json={"scenario": "AML-LARGE", "set": {}, **PERIOD,
                                                                    "colour": "red"})
        assert extra.status_code == 422
        coverage = client.post("/v1/aml/effectiveness/coverage",
                               json={"risk_assessment": "risks:\n  - id: R-1\n    title_ja: x\n    rating: low\n"
                                                        "    scenarios: [AML-NOPE]\n"})
        assert coverage.status_code == 422 and coverage.json()["error"]["details"][0]["line"] == 5
        metrics = client.get("/v1/aml/effectiveness/metrics", params=PERIOD)
        assert metrics.status_code == 200 and metrics.json()["scenarios"][-1]["scenario"] == "ALL"
        backtest = client.post("/v1/aml/effectiveness/backtest",
                               json={"scenario": "AML-LARGE", "set": {"large_withdrawal_jpy": 1_000_000}, **PERIOD},
                               timeout=300)
        assert backtest.status_code == 200, backtest.text
        body: dict[str, Any] = backtest.json()
        assert body["candidate"]["alerts"] >= body["current"]["alerts"]


def test_the_cli_writes_a_reproducible_report_with_simulation_labels(world: World, tmp_path: Path) -> None:
    args = ["aml", "effectiveness", "report", "--from", PERIOD["from"], "--to", PERIOD["to"],
            "--labels", str(world.labels_path), "--risk-assessment", str(DOCS / "aml-risk-assessment.example.yaml"),
            "--database-url", world.db_url]
    first = run_cli(*args, "--out", str(tmp_path / "one"), timeout=600)
    second = run_cli(*args, "--out", str(tmp_path / "two"), "--workers", "1", timeout=600)
    one = orjson.loads((tmp_path / "one" / "report.json").read_bytes())
    two = orjson.loads((tmp_path / "two" / "report.json").read_bytes())
    assert (tmp_path / "one" / "report.html").stat().st_size > 10_000 and (tmp_path / "one" / "report.xlsx").exists()
    assert f"report_id={one['report_id']}" in first.stdout
    # The same data and parameters give the same report, whatever the number of processes.
    def results(report: dict[str, Any]) -> list[dict[str, Any]]:
        return [{k: v for k, v in s.items() if k != "run"} for s in report["sweeps"]]

    assert results(one) == results(two) and one["metrics"] == two["metrics"]
    assert one["report_id"] == two["report_id"]
    assert one["sweeps"] and all(s["labels"] == "simulation" for s in one["sweeps"])
    assert any(r["recall"] is not None for s in one["sweeps"] for r in s["rows"])
    assert one["risk_coverage"] and {r["id"] for r in one["risk_coverage"]} == {"R-01", "R-02", "R-03", "R-04",
                                                                              "R-05"}
    assert second.returncode == 0
    bad = run_cli("aml", "effectiveness", "coverage", "--risk-assessment", str(world.labels_path),
                  "--database-url", world.db_url, check=False)
    assert bad.returncode != 0 and "error:" in bad.stderr


def test_bench_aml_prints_one_summary_line_last() -> None:
    result = run_cli("bench", "aml", "--edges", "2000", "--traces", "3", "--screenings", "200", "--events", "3000",
                     "--workers", "1", timeout=600)
    last = result.stdout.strip().splitlines()[-1]
    assert re.fullmatch(r"aml screenings_per_s=\d+ trace_p95_ms=\d+\.\d backtest_events_per_s=\d+", last), \
        result.stdout
    assert "error" not in result.stdout + result.stderr, result.stdout + result.stderr
    assert any(line.startswith("backtest: events=3000") for line in result.stdout.splitlines()), result.stdout


def test_rerun_scenarios_agree_with_the_live_engine_on_the_simulated_month(world: World) -> None:
    # Correct first: for every live scenario, re-running only its rules over the stored month flags
    # exactly the events on which the live engine (full rule set) fired one of them.
    from mamori.aml.effectiveness.history import run
    from mamori.aml.effectiveness.period import Period
    from mamori.aml.effectiveness.runner import RunSpec, Variant
    from mamori.aml.scenarios import SCENARIOS
    from mamori.risk.rules.loader import builtin_ruleset

    ruleset = builtin_ruleset()
    store = SqlStore(world.db_url)
    try:
        with store.engine.connect() as conn:
            bodies = [orjson.loads(b) for b in conn.execute(select(decisions.c.body)).scalars()]
    finally:
        store.close()
    assert {b["ruleset"] for b in bodies} == {ruleset.identity}
    fired = [{r["id"] for r in b["rules"]} | {r["id"] for r in b.get("shadow", {}).get("rules", [])} for b in bodies]
    present = {r.id for r in ruleset.rules if r.mode != "disabled"}
    period = Period.parse(PERIOD["from"], PERIOD["to"])
    checked = 0
    for scenario in SCENARIOS:
        rule_ids = tuple(r for r in scenario.rule_ids if r in present)
        if not rule_ids:
            continue
        spec = RunSpec(tuple(ruleset.sources.items()), rule_ids, (Variant("current"),))
        result = run(spec, world.db_url, period, workers=1)
        expected = sum(1 for ids in fired if ids & set(rule_ids))
        assert result.tally.flagged[0] == expected, (scenario.id, result.tally.fires)
        checked += expected > 0
    assert checked >= 3  # the month exercises several scenarios
