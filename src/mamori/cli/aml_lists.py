"""``mamori aml lists import|import-cases|export|search|remove|batches``, ``mamori aml screen CHAIN ADDRESS``
and ``mamori aml screen-names NAME...``: risk lists and screening from the command line.

Works on the project's database (``--data-dir`` / ``--database-url`` or ``MAMORI_*`` settings). Every
command is recorded in the audit log as ``cli:<OS user>``. A running server picks up list changes made
here within a few seconds (it checks the lists' version).
"""

from __future__ import annotations

import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import click
import orjson

from mamori.cli.common import cli_actor, database_options
from mamori.kit.errors import InvalidRequest


def _open(data_dir: Path | None, database_url: str | None) -> Any:
    from mamori.adapters.sql.store import SqlStore
    from mamori.aml.screening_service import ScreeningService
    from mamori.kit.settings import Settings

    overrides: dict[str, Any] = {k: v for k, v in (("data_dir", data_dir), ("database_url", database_url))
                                 if v is not None}
    settings = Settings(**overrides)
    return ScreeningService(SqlStore(settings.resolved_database_url(), synchronous=settings.sqlite_synchronous))




def _echo_json(value: Any) -> None:
    click.echo(orjson.dumps(value, option=orjson.OPT_INDENT_2).decode())


@click.group("lists")
def lists_group() -> None:
    """Risk lists of addresses and entities (リスクリスト): import, export, search, remove."""


@lists_group.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["csv", "json", "stix"]), default=None,
              help="File format (default: from the extension; .json files that are STIX bundles are read as STIX).")
@click.option("--source", required=True, help="Where the list comes from (e.g. 'ofac-sdn', 'jpcert', 'own').")
@click.option("--category", default=None, help="Category for lines that name none (scam, online_casino, mixer …).")
@database_options
def import_list(file: Path, fmt: str | None, source: str, category: str | None, data_dir: Path | None,
                database_url: str | None) -> None:
    """Import FILE; prints added/updated/rejected and each rejected line."""
    size = file.stat().st_size
    from mamori.aml.imports import MAX_BYTES

    if size > MAX_BYTES:
        raise InvalidRequest(f"{file} is larger than {MAX_BYTES} bytes")
    data = file.read_bytes()
    if fmt is None:
        suffix = file.suffix.lower()
        fmt = "csv" if suffix in (".csv", ".txt") else "json"
        if fmt == "json" and b'"bundle"' in data[:4096]:
            fmt = "stix"
    report = _open(data_dir, database_url).import_file(data, fmt, source=source, actor=cli_actor(),
                                                      default_category=category, filename=file.name)
    click.echo(f"batch {report.batch_id}: added={report.added} updated={report.updated} rejected={report.rejected}")
    for error in report.errors:
        click.echo(f"  line {error.line}: {error.message}", err=True)


@lists_group.command("import-cases")
@click.option("--category", default="fraud_collection", show_default=True)
@click.option("--confidence", default="0.9", show_default=True)
@database_options
def import_cases(category: str, confidence: str, data_dir: Path | None, database_url: str | None) -> None:
    """Add withdrawal destinations of cases closed as confirmed takeover or blocked fraud."""
    from mamori.aml.model import risk_category

    try:
        parsed = risk_category(category)
        level = Decimal(confidence)
    except (ValueError, ArithmeticError) as exc:
        raise InvalidRequest(str(exc)) from None
    if not 0 <= level <= 1:
        raise InvalidRequest("--confidence must be between 0 and 1")
    report = _open(data_dir, database_url).import_closed_cases(actor=cli_actor(), category=parsed, confidence=level)
    click.echo(f"batch {report.batch_id}: added={report.added} updated={report.updated} rejected={report.rejected}")


@lists_group.command("export")
@click.option("--format", "fmt", type=click.Choice(["csv", "jsonl"]), default="csv", show_default=True)
@click.option("--all", "include_expired", is_flag=True, help="Include expired entries.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write to this file (default: standard output).")
@database_options
def export_lists(fmt: str, include_expired: bool, output: Path | None, data_dir: Path | None,
                 database_url: str | None) -> None:
    """Export the lists (CSV re-importable with ``lists import``)."""
    chunks = _open(data_dir, database_url).export(actor=cli_actor(), fmt=fmt, active_only=not include_expired)
    if output is None:
        for chunk in chunks:
            sys.stdout.buffer.write(chunk)
        return
    with output.open("wb") as handle:
        for chunk in chunks:
            handle.write(chunk)
    click.echo(f"wrote {output}")


@lists_group.command("search")
@click.argument("text", required=False)
@click.option("--chain", default=None)
@click.option("--category", default=None)
@click.option("--source", default=None)
@click.option("--kind", type=click.Choice(["address", "entity"]), default=None)
@click.option("--limit", type=click.IntRange(1, 1000), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@database_options
def search(text: str | None, chain: str | None, category: str | None, source: str | None, kind: str | None,
           limit: int, as_json: bool, data_dir: Path | None, database_url: str | None) -> None:
    """Entries whose address, name or reference contains TEXT (and match the filters)."""
    from mamori.api.aml_routes import entry_dict

    entries = _open(data_dir, database_url).search(actor=cli_actor(), text=text, chain=chain, category=category,
                                                   source=source, kind=kind, limit=limit)
    if as_json:
        _echo_json([entry_dict(e) for e in entries])
        return
    for e in entries:
        what = f"{e.chain}:{e.address}" if e.address else (e.name or "")
        expires = f" expires={e.expires_at.date()}" if e.expires_at else ""
        click.echo(f"{e.id}\t{e.category.value}\t{e.source}\t{e.confidence}\t{what}{expires}")


@lists_group.command("remove")
@click.argument("ids", nargs=-1, type=click.IntRange(1), required=True)
@click.option("--reason", default=None, help="Why (recorded as given/not given; keep personal data out).")
@database_options
def remove(ids: tuple[int, ...], reason: str | None, data_dir: Path | None, database_url: str | None) -> None:
    """Remove entries by id (audited)."""
    removed = _open(data_dir, database_url).remove(list(ids), actor=cli_actor(), reason=reason)
    click.echo(f"removed {len(removed)}: {' '.join(str(e.id) for e in removed)}")


@lists_group.command("batches")
@click.option("--limit", type=click.IntRange(1, 500), default=20, show_default=True)
@database_options
def batches(limit: int, data_dir: Path | None, database_url: str | None) -> None:
    """Recent imports with their counts."""
    for b in _open(data_dir, database_url).lists.batches(limit=limit):
        click.echo(f"{b['batch_id']}\t{b['format']}\t{b['source']}\tadded={b['added']} updated={b['updated']} "
                   f"rejected={b['rejected']}\t{b['actor']}")


@click.command("screen")
@click.argument("chain")
@click.argument("address")
@database_options
def screen(chain: str, address: str, data_dir: Path | None, database_url: str | None) -> None:
    """Screen ADDRESS on CHAIN against the lists (exit code 3 when it is listed as risky)."""
    service = _open(data_dir, database_url)
    [result] = service.screen_many([(chain, address)], actor=cli_actor())
    if "error" in result:
        from mamori.api.aml_routes import error_from

        raise error_from(result)
    _echo_json(result)
    if any(h["category"] not in ("exchange", "payment_processor") for h in result["hits"]):
        sys.exit(3)


@click.command("screen-names")
@click.argument("names", nargs=-1, required=True)
@click.option("--threshold", type=click.FloatRange(0.5, 1.0), default=0.88, show_default=True)
@database_options
def screen_names(names: tuple[str, ...], threshold: float, data_dir: Path | None, database_url: str | None) -> None:
    """Match NAMES (kanji, kana reading, romaji of one person) against listed persons and organisations."""
    hits = _open(data_dir, database_url).screen_names(list(names), actor=cli_actor(), threshold=threshold)
    _echo_json([h.as_dict() for h in hits])
    if hits:
        sys.exit(3)


def register(group: click.Group) -> None:
    group.add_command(lists_group)
    group.add_command(screen)
    group.add_command(screen_names)
