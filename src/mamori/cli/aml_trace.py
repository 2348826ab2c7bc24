"""``mamori aml chain import|stats`` and ``mamori aml trace run|show|list|recheck|close``: chain data
and funds tracing from the command line.

Works on the project's database and data directory (``--data-dir`` / ``--database-url`` or the
``MAMORI_*`` settings); the chain graph lives in ``<data dir>/aml-graph`` and a running server picks
up a new import within seconds. Labels (exchanges, casinos, mixers …) come from the risk lists
(``mamori aml lists``). Every command is audited as ``cli:<OS user>``.
"""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import click
import orjson

from mamori.aml.chaindata import FORMATS
from mamori.aml.tracer import MAX_HOPS_LIMIT, METHODS
from mamori.cli.common import cli_actor, database_options


def _open(data_dir: Path | None, database_url: str | None) -> Any:
    from mamori.adapters.sql.store import SqlStore
    from mamori.aml.graph import GraphStore
    from mamori.aml.screening_service import ScreeningService
    from mamori.aml.traces import TraceService
    from mamori.cases.service import CasesService
    from mamori.kit.settings import Settings

    overrides: dict[str, Any] = {k: v for k, v in (("data_dir", data_dir), ("database_url", database_url))
                                 if v is not None}
    settings = Settings(**overrides)
    store = SqlStore(settings.resolved_database_url(), synchronous=settings.sqlite_synchronous)
    screener = ScreeningService(store).screener
    cases = CasesService(store, settings.data_dir)
    return TraceService(store, GraphStore(settings.data_dir / "aml-graph"), cases=cases, labels=lambda: screener)




def _out(obj: Any) -> None:
    sys.stdout.buffer.write(orjson.dumps(obj, option=orjson.OPT_INDENT_2) + b"\n")


@click.group("chain")
def chain_group() -> None:
    """Chain data for tracing (チェーンデータ): import transactions, show the graph."""


@chain_group.command("import")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--format", "fmt", type=click.Choice(FORMATS), default=None,
              help="Default: csv for .csv files, else jsonl (mamori chain JSONL).")
@click.option("--chain", default=None, help="Chain of a node export (default bitcoin / ethereum).")
@click.option("--json", "as_json", is_flag=True, help="The full report as JSON.")
@database_options
def import_chain(file: Path, fmt: str | None, chain: str | None, as_json: bool, data_dir: Path | None,
                 database_url: str | None) -> None:
    """Import FILE into the chain graph (bad lines are named and skipped; known transactions are skipped),
    then re-check the open traces."""
    from mamori.aml.chaindata import read_chain_file

    service = _open(data_dir, database_url)
    report = service.import_chain(cli_actor(), read_chain_file(file, fmt, chain=chain))
    if as_json:
        _out(report)
        return
    for problem in report["problems"]:
        click.echo(f"{file}:{problem['line']}: {problem['code']}: {problem['message']}", err=True)
    recheck = report["recheck"]
    click.echo(f"added={report['added']} known={report['known']} skipped={report['skipped']} "
               f"seconds={report['seconds']} traces_rechecked={recheck['checked']} alerts={len(recheck['alerts'])}")


@chain_group.command("stats")
@database_options
def chain_stats(data_dir: Path | None, database_url: str | None) -> None:
    """Size and version of the imported chain graph."""
    _out(_open(data_dir, database_url).graphs.stats())


@click.group("trace")
def trace_group() -> None:
    """Follow funds after a withdrawal (資金追跡): run, show, list, recheck, close."""


@trace_group.command("run")
@click.argument("start")
@click.option("--chain", required=True, help="bitcoin, ethereum, tron, … (aliases btc, eth, trx accepted).")
@click.option("--address", default=None, help="Only the withdrawal's outputs to this address.")
@click.option("--at", "at", default=None, help="START is an address that received the funds at this RFC 3339 time.")
@click.option("--amount", type=float, default=None, help="Amount received at --at (default: all of it).")
@click.option("--asset", default=None, help="Asset of an address start (default: the address's busiest).")
@click.option("--method", type=click.Choice(METHODS), default="haircut", show_default=True)
@click.option("--max-hops", type=click.IntRange(1, MAX_HOPS_LIMIT), default=5, show_default=True)
@click.option("--case-id", type=click.IntRange(1), default=None, help="Attach the result to this case.")
@click.option("--account-id", default=None, help="The customer (alerts on re-checks are raised for them).")
@database_options
def run_trace(start: str, chain: str, address: str | None, at: str | None, amount: float | None, asset: str | None,
              method: str, max_hops: int, case_id: int | None, account_id: str | None, data_dir: Path | None,
              database_url: str | None) -> None:
    """Trace START (a withdrawal's txid, or an address with --at) forward; prints the stored trace."""
    from mamori.aml.traces import TraceRequest

    at_us = None
    if at is not None:
        try:
            parsed = datetime.fromisoformat(at.replace("Z", "+00:00"))
        except ValueError:
            raise click.BadParameter("an RFC 3339 time such as 2026-05-01T10:00:00Z", param_hint="--at") from None
        if parsed.tzinfo is None:
            raise click.BadParameter("the time needs a timezone offset (Z or +09:00)", param_hint="--at")
        at_us = int(parsed.timestamp() * 1_000_000)
    request = TraceRequest(chain=chain, start=start, method=method, max_hops=max_hops, address=address, at_us=at_us,
                           amount=amount, asset=asset, case_id=case_id, account_id=account_id)
    _out(_open(data_dir, database_url).create(cli_actor(), request))


@trace_group.command("show")
@click.argument("trace_id", type=click.IntRange(1))
@database_options
def show_trace(trace_id: int, data_dir: Path | None, database_url: str | None) -> None:
    """One trace: result, paths to the entities reached, re-checks."""
    _out(_open(data_dir, database_url).get(cli_actor(), trace_id))


@trace_group.command("list")
@click.option("--status", type=click.Choice(["open", "closed"]), default=None)
@click.option("--case-id", type=click.IntRange(1), default=None)
@database_options
def list_traces(status: str | None, case_id: int | None, data_dir: Path | None, database_url: str | None) -> None:
    """Traces, newest first."""
    _out(_open(data_dir, database_url).list_traces(cli_actor(), status=status, case_id=case_id))


@trace_group.command("recheck")
@database_options
def recheck(data_dir: Path | None, database_url: str | None) -> None:
    """Re-check open traces against the current chain data (alerts on newly reached risky entities)."""
    _out(_open(data_dir, database_url).recheck(cli_actor()))


@trace_group.command("close")
@click.argument("trace_id", type=click.IntRange(1))
@database_options
def close_trace(trace_id: int, data_dir: Path | None, database_url: str | None) -> None:
    """Stop re-checking a trace."""
    _out(_open(data_dir, database_url).close(cli_actor(), trace_id))


def register(group: click.Group) -> None:
    group.add_command(chain_group)
    group.add_command(trace_group)
