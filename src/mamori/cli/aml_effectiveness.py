"""``mamori aml effectiveness``: verifying that AML monitoring works (マネロン等対策の有効性検証).

* ``report --from --to --out DIR [--risk-assessment FILE] [--labels FILE] [--sweeps auto|none]`` - the
  HTML report (Japanese/English, inline SVG charts), the Excel workbook and the JSON behind them;
* ``metrics --from --to`` - per-scenario alert volume, conversion, precision, times (JSON);
* ``coverage [--risk-assessment FILE]`` - reference cases and the firm's risks against live scenarios;
* ``sweep --scenario ID --threshold NAME --values 5,8,10,12 --from --to`` - a threshold sweep with
  above/below-the-line samples;
* ``backtest --scenario ID --set NAME=VALUE --from --to`` - a candidate threshold against the current one.

Every command reads the store (``--database-url`` / ``--data-dir`` as for ``mamori serve``) and the
active rule set (``--rules`` or the configured one), and records what it did in the audit log.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Any

import click
import orjson

from mamori.cli.common import cli_actor
from mamori.kit.errors import InvalidRequest
from mamori.kit.settings import Settings


def _settings(data_dir: Path | None, database_url: str | None) -> Settings:
    values: dict[str, Any] = {k: v for k, v in (("data_dir", data_dir), ("database_url", database_url))
                              if v is not None}
    return Settings(**values)


def _service(data_dir: Path | None, database_url: str | None, rules: Path | None, workers: int,
             warmup_days: int | None = None) -> Any:
    from mamori.adapters.sql.store import SqlStore
    from mamori.aml.effectiveness.service import EffectivenessService
    from mamori.risk.rules.loader import builtin_rules_path, load_ruleset
    from mamori.rulesadmin.paths import managed_rules_paths

    settings = _settings(data_dir, database_url)
    if rules is None:
        rules, _shadow = managed_rules_paths(settings.data_dir, settings.rules_path or builtin_rules_path(), None)
    ruleset = load_ruleset(rules)
    geo = (("country_mmdb", settings.geo_country_mmdb), ("asn_mmdb", settings.geo_asn_mmdb),
           ("network_classes", settings.geo_network_classes), ("tor_exits", settings.geo_tor_exits))
    store = SqlStore(settings.resolved_database_url())
    return EffectivenessService(store, ruleset, geo=geo, home_country=settings.home_country, workers=workers,
                                warmup_days=warmup_days)


def _common(f: Any) -> Any:
    for option in reversed([
        click.option("--data-dir", type=click.Path(path_type=Path), default=None),
        click.option("--database-url", default=None),
        click.option("--rules", type=click.Path(exists=True, path_type=Path), default=None,
                     help="Rule set directory (default: the active one)."),
        click.option("--workers", type=click.IntRange(1, 16), default=2, show_default=True,
                     help="Processes for re-running scenarios (split by account when possible)."),
        click.option("--warmup-days", type=click.IntRange(0, 3660), default=None,
                     help="Days before --from whose events build feature state (default: all stored)."),
    ]):
        f = option(f)
    return f


def _period(start: str, end: str) -> Any:
    from mamori.aml.effectiveness.period import Period

    return Period.parse(start, end)


def _emit(data: Any) -> None:
    sys.stdout.buffer.write(orjson.dumps(data, option=orjson.OPT_INDENT_2) + b"\n")


def _read_text(path: Path | None) -> str | None:
    if path is None:
        return None
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidRequest(f"cannot read {path}: {exc}") from None


def _labels(path: Path | None) -> dict[str, str | None] | None:
    from mamori.aml.effectiveness.service import read_labels

    return None if path is None else read_labels(path)


def register(group: click.Group) -> None:
    @group.group("effectiveness")
    def effectiveness() -> None:
        """Effectiveness verification: metrics, sweeps, backtests, coverage, the report (有効性検証)."""

    @effectiveness.command("report")
    @click.option("--from", "start", required=True, help="First day (JST date) or RFC 3339 time.")
    @click.option("--to", "end", required=True, help="End (exclusive): JST date or RFC 3339 time.")
    @click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path))
    @click.option("--risk-assessment", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None)
    @click.option("--labels", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
                  help="A simulation's labels.json (default: labels from closed cases).")
    @click.option("--sweeps", type=click.Choice(["auto", "none"]), default="auto", show_default=True)
    @_common
    def report(start: str, end: str, out_dir: Path, risk_assessment: Path | None, labels: Path | None,
               sweeps: str, data_dir: Path | None, database_url: str | None, rules: Path | None,
               workers: int, warmup_days: int | None) -> None:
        """Write report.html, report.xlsx and report.json for the period."""
        from mamori.aml.effectiveness.report import ReportOptions
        from mamori.aml.effectiveness.service import write_report

        period = _period(start, end)
        service = _service(data_dir, database_url, rules, workers, warmup_days)
        try:
            assessment = service.assessment(_read_text(risk_assessment), str(risk_assessment or ""))
            command = ["mamori", "aml", "effectiveness", "report", "--from", start, "--to", end, "--out", "DIR",
                       "--sweeps", sweeps, *(["--risk-assessment", str(risk_assessment)] if risk_assessment else []),
                       *(["--labels", str(labels)] if labels else []), *(["--rules", str(rules)] if rules else []),
                       *(["--warmup-days", str(warmup_days)] if warmup_days is not None else [])]
            options = ReportOptions(sweeps=sweeps, labels=_labels(labels), workers=workers, geo=service.geo,
                                    home_country=service.home_country,
                                    warmup_start_us=service.warmup_start(period),
                                    extra={"command": shlex.join(command)})
            data = service.report(cli_actor(), period, assessment=assessment, options=options)
            for path in write_report(data, out_dir):
                click.echo(str(path))
            click.echo(f"report_id={data['report_id']} ruleset={data['version']['ruleset']}")
        finally:
            service.store.close()

    @effectiveness.command("metrics")
    @click.option("--from", "start", required=True)
    @click.option("--to", "end", required=True)
    @_common
    def metrics(start: str, end: str, data_dir: Path | None, database_url: str | None, rules: Path | None,
                workers: int, warmup_days: int | None) -> None:
        """Per-scenario alert volume, conversion, precision and times (JSON)."""
        service = _service(data_dir, database_url, rules, workers)
        try:
            _emit(service.metrics(cli_actor(), _period(start, end)))
        finally:
            service.store.close()

    @effectiveness.command("coverage")
    @click.option("--risk-assessment", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None)
    @_common
    def coverage(risk_assessment: Path | None, data_dir: Path | None, database_url: str | None,
                 rules: Path | None, workers: int, warmup_days: int | None) -> None:
        """Reference cases and the firm's risks against the live scenarios (JSON)."""
        service = _service(data_dir, database_url, rules, workers)
        try:
            assessment = service.assessment(_read_text(risk_assessment), str(risk_assessment or ""))
            _emit(service.coverage(cli_actor(), assessment))
        finally:
            service.store.close()

    @effectiveness.command("sweep")
    @click.option("--scenario", required=True)
    @click.option("--threshold", required=True, help="A rule-set constant (lists:) the scenario reads.")
    @click.option("--values", required=True, help="Comma-separated values, e.g. 5,8,10,12.")
    @click.option("--from", "start", required=True)
    @click.option("--to", "end", required=True)
    @click.option("--labels", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None)
    @_common
    def sweep_command(scenario: str, threshold: str, values: str, start: str, end: str, labels: Path | None,
                      data_dir: Path | None, database_url: str | None, rules: Path | None, workers: int,
                      warmup_days: int | None) -> None:
        """Re-run a scenario at several values of one threshold, with above/below-the-line samples."""
        from mamori.aml.effectiveness.runner import parse_threshold_value

        numbers = [parse_threshold_value(v) for v in values.split(",") if v.strip()]
        if not numbers:
            raise InvalidRequest("--values: give at least one number")
        service = _service(data_dir, database_url, rules, workers, warmup_days)
        try:
            _emit(service.sweep(cli_actor(), _period(start, end), scenario, threshold, numbers, labels=_labels(labels)))
        finally:
            service.store.close()

    @effectiveness.command("backtest")
    @click.option("--scenario", required=True)
    @click.option("--set", "assignments", multiple=True, required=True, help="NAME=VALUE (repeatable).")
    @click.option("--from", "start", required=True)
    @click.option("--to", "end", required=True)
    @click.option("--labels", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None)
    @_common
    def backtest_command(scenario: str, assignments: tuple[str, ...], start: str, end: str, labels: Path | None,
                         data_dir: Path | None, database_url: str | None, rules: Path | None, workers: int,
                         warmup_days: int | None) -> None:
        """Backtest candidate threshold values of a scenario against the current ones."""
        from mamori.aml.effectiveness.runner import parse_threshold_value

        candidate: dict[str, int | float] = {}
        for item in assignments:
            name, sep, value = item.partition("=")
            if not sep or not name.strip():
                raise InvalidRequest(f"--set {item!r}: expected NAME=VALUE")
            candidate[name.strip()] = parse_threshold_value(value.strip())
        service = _service(data_dir, database_url, rules, workers, warmup_days)
        try:
            _emit(service.backtest(cli_actor(), _period(start, end), scenario, candidate, labels=_labels(labels)))
        finally:
            service.store.close()
