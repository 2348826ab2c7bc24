"""``mamori pqc scan tls|ssh|files|code`` and ``mamori pqc import``: discovery into the register.

Every scan is recorded in the PQC register (the project's database; ``--data-dir``), so the
assessment, roadmap, reports and diffs see it; ``-o FILE`` also writes the findings as a CycloneDX
1.6 CBOM. Exit status: 0 when the scan ran (findings or not), 1 when a target could not be scanned
at all, 2 for usage errors.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import click

from mamori.kit.settings import Settings
from mamori.pqc.model import CryptoFinding, ScanResult


def _register(data_dir: Path | None) -> Any:
    from mamori.adapters.sql.store import SqlStore
    from mamori.pqc.register import PqcRegister

    settings = Settings(data_dir=data_dir) if data_dir else Settings()
    return PqcRegister(SqlStore(settings.resolved_database_url(), synchronous=settings.sqlite_synchronous).engine)


def _finish(results: list[ScanResult], data_dir: Path | None, out: Path | None, record: bool) -> None:
    findings: list[CryptoFinding] = [f for r in results for f in r.findings]
    failed = 0
    for r in results:
        status = "ok" if r.findings or not r.problems else "FAILED"
        failed += status == "FAILED"
        click.echo(f"{r.source} {r.target}: {len(r.findings)} findings, {r.connections} connections, "
                   f"{r.duration_s:.2f} s{'' if not r.problems else '; problems: ' + '; '.join(r.problems[:3])}",
                   err=True)
    if record:
        register = _register(data_dir)
        ids = [register.record_scan(r) for r in results]
        click.echo(f"recorded as scan {', '.join(map(str, ids))}", err=True)
    if out is not None:
        from mamori.pqc.cbom import to_cbom

        out.write_text(json.dumps(to_cbom(findings), ensure_ascii=False, indent=1), encoding="utf-8")
        click.echo(f"wrote {out} ({len(findings)} findings)", err=True)
    for finding in findings:
        click.echo(json.dumps(finding.to_dict(), ensure_ascii=False))
    if failed:
        sys.exit(1)


OUT = click.option("-o", "--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
                   help="Also write the findings as a CycloneDX 1.6 CBOM (JSON).")
DATA_DIR = click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), default=None)
NO_RECORD = click.option("--no-record", is_flag=True, help="Do not record the scan in the register.")


def _with_progress(label: str, total: int, run: Callable[[Callable[[int], None]], ScanResult]) -> ScanResult:
    """``run`` reports the files done so far; the bar advances by the difference."""
    with click.progressbar(length=total, label=label, file=sys.stderr) as bar:
        seen = [0]

        def tick(done: int) -> None:
            bar.update(max(0, done - seen[0]))
            seen[0] = done

        return run(tick)


def register(group: click.Group) -> None:
    @group.group("scan")
    def scan() -> None:
        """Discover the cryptography in use: TLS and SSH endpoints, key and certificate files,
        configuration files, source code."""

    @scan.command("tls")
    @click.argument("targets", nargs=-1, required=True)
    @click.option("--starttls", type=click.Choice(["smtp"]), default=None, help="Upgrade with STARTTLS first.")
    @click.option("--sni", default=None, help="Server name to send (default: the host name).")
    @click.option("--timeout", type=float, default=5.0, show_default=True)
    @click.option("--concurrency", type=int, default=32, show_default=True)
    @OUT
    @DATA_DIR
    @NO_RECORD
    def scan_tls_cmd(targets: tuple[str, ...], starttls: str | None, sni: str | None, timeout: float,
                     concurrency: int, out: Path | None, data_dir: Path | None, no_record: bool) -> None:
        """TLS endpoints HOST[:PORT]: versions, suites, key-exchange groups incl. ML-KEM hybrids, certificates."""
        from mamori.pqc.discovery.tls import TLSTarget, parse_target, scan_many

        try:
            parsed = [parse_target(t) for t in targets]
        except ValueError as exc:
            raise click.BadParameter(str(exc)) from None
        parsed = [TLSTarget(t.host, t.port, sni or t.sni, starttls or t.starttls) for t in parsed]  # type: ignore[arg-type]
        _finish(scan_many(parsed, concurrency, timeout=timeout), data_dir, out, not no_record)

    @scan.command("ssh")
    @click.argument("targets", nargs=-1, required=True)
    @click.option("--timeout", type=float, default=5.0, show_default=True)
    @OUT
    @DATA_DIR
    @NO_RECORD
    def scan_ssh_cmd(targets: tuple[str, ...], timeout: float, out: Path | None, data_dir: Path | None,
                     no_record: bool) -> None:
        """SSH servers HOST[:PORT]: key exchange (incl. mlkem768x25519, sntrup761x25519), host keys, ciphers."""
        from mamori.pqc.discovery.ssh import scan_ssh

        results = []
        for target in targets:
            host, _, port = target.rpartition(":") if target.count(":") == 1 else (target, "", "22")
            if not port.isdigit():
                raise click.BadParameter(f"{target!r} must look like HOST[:PORT]")
            results.append(scan_ssh(host or target, int(port), timeout=timeout))
        _finish(results, data_dir, out, not no_record)

    @scan.command("files")
    @click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
    @OUT
    @DATA_DIR
    @NO_RECORD
    def scan_files_cmd(paths: tuple[Path, ...], out: Path | None, data_dir: Path | None, no_record: bool) -> None:
        """Certificates and keys (PEM, DER, PKCS#7/#8/#12, JKS, OpenSSH, JWK) and configuration files that pin
        cryptography (openssl.cnf, nginx, Apache, sshd_config, java.security)."""
        from mamori.pqc.discovery.config import scan_config
        from mamori.pqc.discovery.files import scan_files

        _finish([scan_files(list(paths)), scan_config(list(paths))], data_dir, out, not no_record)

    @scan.command("code")
    @click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
    @click.option("--workers", type=int, default=None, help="Processes (default: one per CPU).")
    @click.option("--include-vendored", is_flag=True, help="Also scan node_modules, vendor, virtualenvs.")
    @OUT
    @DATA_DIR
    @NO_RECORD
    def scan_code_cmd(paths: tuple[Path, ...], workers: int | None, include_vendored: bool, out: Path | None,
                      data_dir: Path | None, no_record: bool) -> None:
        """Source code (Python, Java, Go, JavaScript/TypeScript, C/C++): cryptographic API calls, no build needed."""
        from mamori.pqc.discovery.code import scan_code

        total = sum(1 for p in _walk(paths))
        result = _with_progress("scanning source files", total, lambda tick: scan_code(
            list(paths), workers=workers, progress=tick, include_vendored=include_vendored))
        _finish([result], data_dir, out, not no_record)

    @group.command("import")
    @click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    @DATA_DIR
    def import_cbom(file: Path, data_dir: Path | None) -> None:
        """A CycloneDX CBOM from another tool, as a scan of source ``cbom``."""
        from mamori.pqc.cbom import read_cbom

        findings = read_cbom(file)
        result = ScanResult(source="cbom", target=str(file), findings=tuple(findings))
        _finish([result], data_dir, None, True)


def _walk(paths: Iterable[Path]) -> Iterable[Path]:
    for path in paths:
        if path.is_file():
            yield path
        else:
            yield from (p for p in path.rglob("*") if p.is_file())
