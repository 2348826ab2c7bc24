"""``mamori aml str list|show|export``: suspicious transaction reports from the command line.

Works on the project's database (``--data-dir`` / ``--database-url`` or ``MAMORI_*`` settings) with the
same key as the server (``MAMORI_CONTACTS_KEY`` or ``contacts.key`` in the data directory). Every
command is recorded in the audit log as ``cli:<OS user>``, like the API's reads. Drafting, locking and
KYC import go through the API (``/v1/cases/{id}/str``, ``/v1/str/...``), where keys carry scopes.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click
import orjson

from mamori.cli.common import cli_actor, database_options


def _open(data_dir: Path | None, database_url: str | None) -> Any:
    from mamori.adapters.sql.store import SqlStore
    from mamori.aml.reporting.setup import build_str_service
    from mamori.kit.settings import Settings

    overrides: dict[str, Any] = {k: v for k, v in (("data_dir", data_dir), ("database_url", database_url))
                                 if v is not None}
    settings = Settings(**overrides)
    store = SqlStore(settings.resolved_database_url(), synchronous=settings.sqlite_synchronous)
    return build_str_service(settings, store)




@click.group("str")
def str_group() -> None:
    """Suspicious transaction reports (疑わしい取引の届出): list, show, export."""


@str_group.command("list")
@click.option("--case-id", type=click.IntRange(1), default=None, help="Only reports drafted from this case.")
@click.option("--state", type=click.Choice(["draft", "submitted", "locked", "exported"]), default=None)
@click.option("--limit", type=click.IntRange(1, 200), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="JSON instead of a table.")
@database_options
def list_reports(case_id: int | None, state: str | None, limit: int, as_json: bool, data_dir: Path | None,
                 database_url: str | None) -> None:
    """Report versions, newest first (no personal data is shown)."""
    from mamori.aml.reporting.workflow import ReportState

    out = _open(data_dir, database_url).list_reports(cli_actor(), case_id=case_id,
                                                     state=ReportState(state) if state else None, limit=limit)
    if as_json:
        sys.stdout.buffer.write(orjson.dumps(out) + b"\n")
        return
    click.echo(f"{'id':>6}  {'reference':<14} {'case':>6}  {'state':<10} {'last editor':<24} locked by")
    for r in out["reports"]:
        click.echo(f"{r['id']:>6}  {r['reference']:<14} {r['case_id']:>6}  {r['state']:<10} "
                   f"{r['last_editor']:<24} {r['locked_by'] or '-'}")
    click.echo(f"{out['total']} report version(s)")


@str_group.command("show")
@click.argument("report_id", type=click.IntRange(1))
@database_options
def show(report_id: int, data_dir: Path | None, database_url: str | None) -> None:
    """One report version with its document, as JSON (personal data: the view is audited)."""
    out = _open(data_dir, database_url).view(cli_actor(), report_id)
    sys.stdout.buffer.write(orjson.dumps(out, option=orjson.OPT_INDENT_2) + b"\n")


@str_group.command("export")
@click.argument("report_id", type=click.IntRange(1))
@click.option("--format", "fmt", type=click.Choice(["xlsx", "csv", "json"]), default="xlsx", show_default=True)
@click.option("--encoding", type=click.Choice(["utf-8", "cp932"]), default="utf-8", show_default=True,
              help="CSV only: UTF-8 with BOM, or Shift_JIS (cp932) for Japanese desktop tools.")
@click.option("-o", "--out", "out_path", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Output file (default: the report's file name in the current directory).")
@database_options
def export(report_id: int, fmt: str, encoding: str, out_path: Path | None, data_dir: Path | None,
           database_url: str | None) -> None:
    """Export a report: Excel entry sheet, CSV of transactions or JSON. A locked version is final; any
    other is watermarked 下書き / DRAFT."""
    name, _media, data = _open(data_dir, database_url).export(cli_actor(), report_id, fmt, encoding=encoding)
    target = out_path or Path(name)
    target.write_bytes(data)
    target.chmod(0o600)
    click.echo(f"wrote {target} ({len(data)} bytes){'' if '-final' in name else ' — DRAFT (下書き)'}")


def register(group: click.Group) -> None:
    group.add_command(str_group)
