"""``mamori pqc`` commands for the asset register, the assessment and the outputs:

* ``mamori pqc assets import FILE`` - an asset list (CSV or XLSX, Japanese or English headers) into the
  register; rows that name an algorithm also become findings of an ``asset-list`` scan.
* ``mamori pqc assets list``, ``mamori pqc scans`` - what is in the register.
* ``mamori pqc assess [--scenario median]`` - HNDL, Mosca and the three FSA axes per asset.
* ``mamori pqc roadmap [-o gantt.png]`` - the migration waves, optionally drawn as a Gantt chart.
* ``mamori pqc report --format xlsx|json [-o FILE]`` - the inventory ledger workbook or the JSON report.
* ``mamori pqc diff SCAN_A SCAN_B`` - findings added, removed and changed between two scans.
* ``mamori pqc gate`` - CI exit code: 0 pass, 3 disallowed algorithm, 4 deadline passed, 5/6/7 deprecated /
  quantum-vulnerable / unknown (with ``--fail-on``), 8 HNDL exposure (``--fail-on hndl``).

The database is the project's (``--data-dir`` / ``--database-url`` or ``MAMORI_*`` settings). Dates default
to today in Japan (JST); ``--today`` fixes them for reproducible reports.
"""

from __future__ import annotations

import csv
import datetime as dt
import importlib
import io
import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import click
import orjson

from mamori.cli.common import database_options
from mamori.kit.errors import InvalidRequest
from mamori.pqc.model import CryptoFinding, Primitive, ScanResult

F = TypeVar("F", bound=Callable[..., Any])
_JST = ZoneInfo("Asia/Tokyo")
_PRIMITIVES: dict[str, Primitive] = {
    "key-exchange": "key-exchange", "keyexchange": "key-exchange", "kex": "key-exchange", "鍵交換": "key-exchange",
    "鍵共有": "key-exchange", "鍵確立": "key-exchange", "signature": "signature", "署名": "signature",
    "public-key-encryption": "public-key-encryption", "公開鍵暗号": "public-key-encryption",
    "守秘": "public-key-encryption", "鍵輸送": "public-key-encryption", "cipher": "cipher", "encryption": "cipher",
    "暗号化": "cipher", "共通鍵暗号": "cipher", "hash": "hash", "ハッシュ": "hash", "ハッシュ関数": "hash",
    "mac": "mac", "メッセージ認証": "mac", "kdf": "kdf", "鍵導出": "kdf", "protocol": "protocol",
    "プロトコル": "protocol", "certificate": "certificate", "証明書": "certificate", "key": "key", "鍵": "key"}
_CRYPTO_COLUMNS = {"algorithm": "algorithm", "アルゴリズム": "algorithm", "暗号アルゴリズム": "algorithm",
                   "暗号方式": "algorithm", "parameter": "parameter", "パラメータ": "parameter", "鍵長": "parameter",
                   "keysize": "parameter", "keylength": "parameter", "primitive": "primitive", "用途": "primitive",
                   "purpose": "primitive", "context": "context", "文脈": "context", "利用箇所": "context"}



def _today_option(func: F) -> F:
    return click.option("--today", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
                        help="The date to assess at (default: today in JST).")(func)


def _check_scenario(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    from mamori.pqc.policy_data import default_policy

    names = default_policy().scenarios
    if value is not None and value not in names:
        raise click.BadParameter(f"{value!r} is not one of {', '.join(sorted(names))}")
    return value


def _scenario_option(func: F) -> F:
    return click.option("--scenario", default=None, metavar="NAME", callback=_check_scenario,
                        help="CRQC arrival scenario from the policy: optimistic (2040), median (2035, default), "
                             "pessimistic (2030).")(func)


def _open(data_dir: Path | None, database_url: str | None) -> Any:
    from mamori.adapters.sql.store import SqlStore
    from mamori.kit.settings import Settings
    from mamori.pqc.register import PqcRegister

    overrides: dict[str, Any] = {k: v for k, v in (("data_dir", data_dir), ("database_url", database_url))
                                 if v is not None}
    settings = Settings(**overrides)
    store = SqlStore(settings.resolved_database_url(), synchronous=settings.sqlite_synchronous)
    return store, PqcRegister(store.engine)


def _day(value: dt.datetime | None) -> dt.date:
    return value.date() if value else dt.datetime.now(_JST).date()


def _emit(obj: Any) -> None:
    sys.stdout.buffer.write(orjson.dumps(obj, default=str) + b"\n")


# -- asset lists -----------------------------------------------------------------------------------------
def read_asset_file(path: Path) -> tuple[list[Any], list[CryptoFinding]]:
    """Assets and findings from an asset list: ``mamori.pqc.cbom.read_asset_list`` when that module is
    installed, else the minimal CSV/XLSX reader here (one row per asset or per asset and algorithm)."""
    try:
        reader = importlib.import_module("mamori.pqc.cbom").read_asset_list
    except ModuleNotFoundError as exc:
        if exc.name != "mamori.pqc.cbom":
            raise
        return _read_rows(path)
    except AttributeError:
        return _read_rows(path)
    try:
        assets, findings = reader(path)
    except ValueError as exc:  # mamori.pqc.cbom.AssetListError: one line per bad row
        errors = getattr(exc, "errors", None) or [str(exc)]
        raise InvalidRequest(f"{path.name}: {len(errors)} problem(s): " + "; ".join(errors[:5]),
                             details=errors) from None
    return list(assets), [f if isinstance(f, CryptoFinding) else CryptoFinding(**f) for f in findings]


def _read_rows(path: Path) -> tuple[list[Any], list[CryptoFinding]]:
    from mamori.pqc.register import Asset, asset_field_name

    rows = _xlsx_rows(path) if path.suffix.lower() in (".xlsx", ".xlsm") else _csv_rows(path)
    merged: dict[str, dict[str, Any]] = {}
    findings: list[CryptoFinding] = []
    for line, row in rows:
        asset_part = {k: v for k, v in row.items() if _crypto_key(k) is None}
        crypto = {_crypto_key(k): v for k, v in row.items() if _crypto_key(k) is not None}
        raw_id = next((str(v).strip() for k, v in asset_part.items() if asset_field_name(k) == "asset_id"), "")
        if asset_field_name(raw_id) == "asset_id":
            continue  # a second (English) header row, as in mamori's own workbook
        try:
            probe = Asset.from_mapping({**merged.get(raw_id, {}), **asset_part})
        except ValueError as exc:
            raise InvalidRequest(f"{path.name} row {line}: {exc}") from None
        base = merged.setdefault(probe.asset_id, {})
        base.update({k: v for k, v in asset_part.items() if v not in (None, "")})
        algorithm = str(crypto.get("algorithm") or "").strip()
        if algorithm:
            primitive = _PRIMITIVES.get(str(crypto.get("primitive") or "").strip().lower(), "unknown")
            findings.append(CryptoFinding(source="asset-list", location=probe.asset_id, primitive=primitive,
                                          algorithm=algorithm, parameter=str(crypto.get("parameter") or "").strip(),
                                          context=str(crypto.get("context") or "").strip(),
                                          detail={"file": path.name, "row": line}))
    return [Asset.from_mapping(v) for v in merged.values()], findings


def _crypto_key(key: str) -> str | None:
    return _CRYPTO_COLUMNS.get(key.strip().lower().replace(" ", "").replace("_", ""))


def _csv_rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    raw = path.read_bytes()
    for encoding in ("utf-8-sig", "cp932"):  # Excel in Japan saves CSV as Shift_JIS (cp932) by default
        try:
            text = raw.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise InvalidRequest(f"{path.name}: not UTF-8 or Shift_JIS text")
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames:
        raise InvalidRequest(f"{path.name}: no header row")
    for n, row in enumerate(reader, start=2):
        if any((v or "").strip() for v in row.values() if isinstance(v, str)):
            yield n, {k: v for k, v in row.items() if k}


def _xlsx_rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    from openpyxl import load_workbook  # type: ignore[import-untyped]

    wb = load_workbook(path, read_only=True, data_only=True)
    try:
        ws = next((wb[n] for n in wb.sheetnames if "資産台帳" in n or "assets" in n.lower()), wb.worksheets[0])
        header: list[str] | None = None
        for n, values in enumerate(ws.iter_rows(values_only=True), start=1):
            cells = ["" if v is None else v for v in values]
            if header is None:
                if any(str(c).strip() for c in cells):
                    header = [str(c).strip() for c in cells]
                continue
            if any(str(c).strip() for c in cells):
                yield n, {h: c for h, c in zip(header, cells, strict=False) if h}
    finally:
        wb.close()


# -- commands ---------------------------------------------------------------------------------------------
@click.command("import")
@click.argument("file", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@database_options
def assets_import(file: Path, data_dir: Path | None, database_url: str | None) -> None:
    """Import an asset list (CSV in UTF-8 or Shift_JIS, or XLSX) into the register.

    The rows are read by ``mamori.pqc.cbom.read_asset_list``: system/システム名 (required), id/資産ID,
    owner/所管部署, function/業務, data/保有データ, retention_years/秘匿期間(年), exposure/公開区分,
    renewal/次回更改, vendor/ベンダー, algorithms/暗号方式 (``RSA-2048; X25519``: each becomes a finding).
    Further columns the register uses: asset_type/資産種別, data_class/情報区分, migration_years/移行期間,
    depends_on/依存先 and locations/所在パターン (both ``;``-separated)."""
    from mamori.pqc.register import Asset

    raw_assets, findings = read_asset_file(file)
    try:
        assets = [Asset.coerce(a) for a in raw_assets]
    except ValueError as exc:
        raise InvalidRequest(f"{file.name}: {exc}") from None
    store, reg = _open(data_dir, database_url)
    try:
        n = reg.upsert_assets(assets)
        scan = None
        if findings:
            scan = reg.record_scan(ScanResult(source="asset-list", target=file.name, findings=tuple(findings),
                                              started_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds")))
    finally:
        store.close()
    click.echo(f"資産 {n} 件を登録 / imported {n} asset(s)"
               + (f"; 暗号 {len(findings)} 件 / {len(findings)} finding(s) as scan #{scan}" if scan else ""))


@click.command("list")
@click.option("--limit", type=click.IntRange(1), default=None)
@database_options
def assets_list(limit: int | None, data_dir: Path | None, database_url: str | None) -> None:
    """Print the registered assets as JSON lines."""
    store, reg = _open(data_dir, database_url)
    try:
        for asset in reg.iter_assets(limit=limit):
            _emit(asset.to_dict())
    finally:
        store.close()


@click.command("scans")
@database_options
def scans(data_dir: Path | None, database_url: str | None) -> None:
    """List the recorded scans (ids for ``mamori pqc diff``)."""
    store, reg = _open(data_dir, database_url)
    try:
        for s in reg.iter_scans():
            click.echo(f"#{s.scan_id}  {s.started_at}  {s.source:10} {s.target}  findings={s.findings} "
                       f"new={s.new_findings} problems={len(s.problems)}")
    finally:
        store.close()


@click.command("assess")
@_scenario_option
@_today_option
@click.option("--top", type=click.IntRange(1), default=20, show_default=True, help="Assets to print.")
@click.option("--json", "as_json", is_flag=True, help="Every asset's evaluation as JSON lines instead.")
@database_options
def assess(scenario: str | None, today: dt.datetime | None, top: int, as_json: bool, data_dir: Path | None,
           database_url: str | None) -> None:
    """Evaluate every asset: HNDL exposure, Mosca's inequality, and priority on the FSA's three axes
    (猶予期間・攻撃リスク・情報の重要度)."""
    import heapq

    from mamori.pqc.risk import Assessor

    store, reg = _open(data_dir, database_url)
    try:
        assessor = Assessor(reg, today=_day(today), scenario=scenario)
        if as_json:
            for _, risk in assessor.risks():
                _emit(risk.to_dict())
            return
        counts = {"assets": 0, "hndl": 0, "mosca": 0, "not-inventoried": 0}
        best: list[tuple[int, str, Any]] = []
        for _, risk in assessor.risks():
            counts["assets"] += 1
            counts["hndl"] += bool(risk.hndl_now)
            counts["mosca"] += bool(risk.mosca_exposed)
            counts["not-inventoried"] += risk.state == "not-inventoried"
            item = (risk.priority, risk.asset_id, risk)
            if len(best) < top:
                heapq.heappush(best, item)
            elif item[:2] > best[0][:2]:
                heapq.heapreplace(best, item)
        sc = assessor.scenario
        click.echo(f"シナリオ {sc.name}（CRQC {sc.year}年） / scenario {sc.name} (CRQC {sc.year}); policy "
                   f"{assessor.policy.version}")
        click.echo(f"資産 {counts['assets']} / assets; 暗号 {assessor.findings} / findings "
                   f"(未紐付け unlinked {assessor.unlinked}); HNDL対象 {counts['hndl']}; "
                   f"Mosca x+y>z {counts['mosca']}; 棚卸し未実施 not inventoried {counts['not-inventoried']}")
        for _, _, r in sorted(best, key=lambda t: (-t[0], t[1])):
            click.echo(f"\n[{r.priority:3}] {r.asset_id} {r.system} - {r.state}, HNDL "
                       f"{'yes' if r.hndl_now else 'no' if r.hndl_now is False else '?'}, "
                       f"due {r.due.isoformat() if r.due else '-'}")
            for name_ja, name_en, axis in (("猶予期間", "grace period", r.grace),
                                           ("攻撃リスク", "attack risk", r.attack),
                                           ("情報の重要度", "importance", r.importance)):
                click.echo(f"   {name_ja} / {name_en}: {axis.score}  {axis.reason_ja}")
                click.echo(f"   {'':{len(name_ja) * 2 + len(name_en) + 5}}{axis.reason_en}")
            click.echo(f"   Mosca: {r.mosca_ja}")
    finally:
        store.close()


@click.command("roadmap")
@click.option("-o", "--output", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Also draw the Gantt chart to this PNG file.")
@click.option("--wave-years", type=click.IntRange(1, 10), default=2, show_default=True)
@_scenario_option
@_today_option
@click.option("--json", "as_json", is_flag=True, help="Print the roadmap as JSON.")
@database_options
def roadmap(output: Path | None, wave_years: int, scenario: str | None, today: dt.datetime | None, as_json: bool,
            data_dir: Path | None, database_url: str | None) -> None:
    """Plan the migration: waves in dependency order (PKI roots and HSM firmware first), aligned to renewals,
    highest priority first, each with its target year and the deadline it meets or misses."""
    from mamori.pqc.risk import Assessor
    from mamori.pqc.roadmap import ACTION_JA, plan_roadmap, render_gantt

    day = _day(today)
    store, reg = _open(data_dir, database_url)
    try:
        assessor = Assessor(reg, today=day, scenario=scenario)
        plan = plan_roadmap((r for _, r in assessor.risks()), today=day, wave_years=wave_years,
                            scenario=assessor.scenario)
    finally:
        store.close()
    if as_json:
        _emit(plan.to_dict())
    else:
        for wave, first, last, items in plan.waves():
            missing = sum(1 for i in items if i.meets_deadline is False)
            click.echo(f"第{wave}波 / wave {wave} ({first}-{last}): {len(items)} item(s)"
                       + (f", {missing} missing the deadline" if missing else ""))
            for i in items:
                verdict = ("期限内 meets" if i.meets_deadline else "期限超過 MISSES" if i.meets_deadline is False
                           else "-")
                click.echo(f"  {i.order:4}. {i.asset_id} [{ACTION_JA[i.action]} / {i.action}] {i.start} -> "
                           f"{i.finish} (target {i.target_year}); due {i.due or '-'} {verdict}"
                           + ("; at renewal" if i.aligned_to_renewal else "")
                           + (f"; after {', '.join(i.depends_on)}" if i.depends_on else ""))
        for p in plan.problems:
            click.echo(f"problem: {p}", err=True)
    if output is not None:
        info = render_gantt(plan, output)
        click.echo(f"wrote {info.path} ({info.rows} rows; {'Japanese' if info.japanese else 'English'} labels, "
                   f"font {info.font})", err=as_json)


@click.command("report")
@click.option("--format", "fmt", type=click.Choice(["xlsx", "json", "cyclonedx"]), default="xlsx", show_default=True)
@click.option("-o", "--output", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Output file (default: pqc-inventory-<date>.xlsx; JSON and CycloneDX go to stdout).")
@_scenario_option
@_today_option
@database_options
def report(fmt: str, output: Path | None, scenario: str | None, today: dt.datetime | None, data_dir: Path | None,
           database_url: str | None) -> None:
    """Write the inventory ledger (台帳) workbook - 資産台帳, 暗号一覧, リスク評価, 移行計画, 出典 - the JSON
    report, or the current findings as a CycloneDX 1.6 CBOM (with mamori's classification as properties)."""
    from mamori.pqc.report import write_json_report, write_workbook

    day = _day(today)
    store, reg = _open(data_dir, database_url)
    try:
        if fmt == "cyclonedx":
            from mamori.pqc.cbom import to_cbom
            from mamori.pqc.policy_data import classify

            def properties(finding: Any) -> dict[str, Any]:
                c = classify(finding)
                return {"mamori:status": c.status, "mamori:disallowed_after": str(c.disallowed_after or ""),
                        "mamori:rule": c.rule_id}

            doc = to_cbom((s.finding for s in reg.iter_findings()), classify=properties)
            data = json.dumps(doc, ensure_ascii=False, indent=1)
            if output is None:
                click.echo(data)
            else:
                output.write_text(data, encoding="utf-8")
                click.echo(f"wrote {output}: {len(doc.get('components', []))} components", err=True)
        elif fmt == "xlsx":
            path = output or Path(f"pqc-inventory-{day:%Y%m%d}.xlsx")
            summary = write_workbook(reg, path, today=day, scenario=scenario)
            click.echo(f"wrote {path}: {summary.assets} assets, {summary.findings} findings, "
                       f"{summary.roadmap_items} roadmap items ({summary.missing_deadline} missing the deadline)")
        elif output is None:
            write_json_report(reg, sys.stdout.buffer, today=day, scenario=scenario)
        else:
            with output.open("wb") as fh:
                summary = write_json_report(reg, fh, today=day, scenario=scenario)
            click.echo(f"wrote {output}: {summary.assets} assets, {summary.findings} findings")
    finally:
        store.close()


@click.command("diff")
@click.argument("scan_a", type=int)
@click.argument("scan_b", type=int)
@click.option("--json", "as_json", is_flag=True)
@database_options
def diff(scan_a: int, scan_b: int, as_json: bool, data_dir: Path | None, database_url: str | None) -> None:
    """What changed between two scans: findings added, removed, and changed (same place and use, another
    algorithm or parameter, or other details)."""
    store, reg = _open(data_dir, database_url)
    try:
        d = reg.diff(scan_a, scan_b)
    finally:
        store.close()
    if as_json:
        _emit(d.to_dict())
        return
    click.echo(f"scan #{scan_a} -> #{scan_b}: +{len(d.added)} added, -{len(d.removed)} removed, "
               f"~{len(d.changed)} changed, {d.unchanged} unchanged")
    for f in d.added:
        click.echo(f"  + {f.location} {f.primitive} {f.algorithm} {f.parameter} ({f.context})")
    for f in d.removed:
        click.echo(f"  - {f.location} {f.primitive} {f.algorithm} {f.parameter} ({f.context})")
    for c in d.changed:
        click.echo(f"  ~ {c.after.location} {c.after.primitive}: {c.before.algorithm} {c.before.parameter} -> "
                   f"{c.after.algorithm} {c.after.parameter} [{', '.join(c.what)}]")


def _findings_file(path: Path) -> list[CryptoFinding]:
    """A JSON list of findings, an object with ``findings``, or JSON lines of either."""
    text = path.read_bytes()
    try:
        docs = [orjson.loads(text)]
    except orjson.JSONDecodeError:
        try:
            docs = [orjson.loads(line) for line in text.splitlines() if line.strip()]
        except orjson.JSONDecodeError as exc:
            raise InvalidRequest(f"{path.name}: not JSON: {exc}") from None
    out: list[CryptoFinding] = []
    fields = ("source", "location", "primitive", "algorithm", "parameter", "context", "confidence", "detail")
    for doc in docs:
        items = doc.get("findings", []) if isinstance(doc, dict) and "findings" in doc else doc
        for item in items if isinstance(items, list) else [items]:
            if not isinstance(item, dict) or "algorithm" not in item:
                raise InvalidRequest(f"{path.name}: expected findings with source, location, primitive, algorithm")
            out.append(CryptoFinding(**{k: item[k] for k in fields if k in item}))
    return out


@click.command("gate")
@click.option("--fail-on", "fail_on", default="", metavar="LIST",
              help="Also fail on: deprecated, quantum-vulnerable, unknown, hndl (comma-separated).")
@click.option("--findings", "findings_file", type=click.Path(path_type=Path, exists=True, dir_okay=False),
              default=None, help="Check findings from a JSON file instead of the register (CI without a database).")
@_scenario_option
@_today_option
@database_options
def gate_command(fail_on: str, findings_file: Path | None, scenario: str | None, today: dt.datetime | None,
                 data_dir: Path | None, database_url: str | None) -> None:
    """CI gate. Exit 0 = pass; 3 = a disallowed algorithm (MD5, SHA-1 signature, RC4, 3DES, RSA < 2048,
    TLS < 1.2 ...); 4 = a policy disallowance date has passed; 5/6/7 = deprecated / quantum-vulnerable /
    unknown algorithms (only with --fail-on); 8 = an asset exposed to HNDL (--fail-on hndl)."""
    from mamori.pqc.report import GATE_HNDL, GATE_PASS, evaluate_gate
    from mamori.pqc.risk import Assessor

    day = _day(today)
    wanted = {w.strip() for w in fail_on.split(",") if w.strip()}
    want_hndl = "hndl" in wanted
    wanted.discard("hndl")
    try:
        if findings_file is not None:
            if want_hndl:
                raise click.BadParameter("hndl needs the register (asset shelf lives), not --findings",
                                         param_hint="--fail-on")
            result = evaluate_gate(_findings_file(findings_file), today=day, fail_on=wanted)
            hndl_assets: list[str] = []
        else:
            store, reg = _open(data_dir, database_url)
            try:
                result = evaluate_gate((s.finding for s in reg.iter_findings(current_only=True)), today=day,
                                       fail_on=wanted)
                hndl_assets = ([r.asset_id for _, r in Assessor(reg, today=day, scenario=scenario).risks()
                                if r.hndl_now] if want_hndl else [])
            finally:
                store.close()
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--fail-on") from None
    code = result.code
    if code == GATE_PASS and hndl_assets:
        code = GATE_HNDL
    for reason in result.reasons:
        click.echo(reason)
    for asset_id in hndl_assets[:20]:
        click.echo(f"hndl: {asset_id} is exposed to harvest-now-decrypt-later")
    counts = ", ".join(f"{k} {v}" for k, v in result.counts.items() if v)
    click.echo(f"gate: {'PASS' if code == GATE_PASS else 'FAIL'} (exit {code})" + (f" - {counts}" if counts else "")
               + (f", hndl assets {len(hndl_assets)}" if hndl_assets else ""), err=True)
    sys.exit(code)


def _add(group: click.Group, command: click.Command) -> None:
    if command.name in group.commands:  # another part of ``mamori pqc`` already has this name: keep theirs
        return
    group.add_command(command)


def register(group: click.Group) -> None:
    """Add the register/assessment/output commands to ``mamori pqc``."""
    existing = group.commands.get("assets")
    if isinstance(existing, click.Group):
        assets = existing
    else:
        assets = click.Group("assets", help="The information assets of the PQC register (資産台帳).")
        group.add_command(assets)
    _add(assets, assets_import)
    _add(assets, assets_list)
    for command in (scans, assess, roadmap, report, diff, gate_command):
        _add(group, command)
