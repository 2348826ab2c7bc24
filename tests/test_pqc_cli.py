"""From install to a first inventory, the way the README tells a new user: scan a local TLS server
(and an asset list), then the Excel ledger, the CycloneDX CBOM (schema-valid) and the CI gate."""

from __future__ import annotations

import datetime as dt
import json
import socket
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from mamori.cli.main import main
from mamori.pqc.cbom import validate_cbom


@contextmanager
def rsa_tls_server(tmp: Path) -> Iterator[int]:
    """A classical TLS 1.2/1.3 server (Python ssl, RSA-2048), what most firms run today."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=90)).sign(key, hashes.SHA256()))
    (tmp / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                    serialization.NoEncryption()))
    (tmp / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(tmp / "cert.pem", tmp / "key.pem")
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    listener.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.settimeout(2)
            try:
                with ctx.wrap_socket(conn, server_side=True):
                    pass
            except (OSError, ssl.SSLError):
                conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join(5)
        listener.close()


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def test_from_a_scan_of_a_local_server_to_the_excel_ledger_and_a_valid_cbom(runner: CliRunner, tmp_path: Path) -> None:
    data = tmp_path / "data"
    assets = tmp_path / "assets.csv"
    with rsa_tls_server(tmp_path) as port:
        assets.write_text("システム名,資産ID,所管部署,保有データ,秘匿期間(年),公開区分,次回更改,暗号方式,所在パターン\n"
                          f"オンライントレード,web,システム部,顧客情報,10,internet,2028-04-01,,127.0.0.1:{port}\n"
                          "勘定系,core,システム部,取引記録,10,internal,2030-01-01,RSA-2048; AES-128,\n",
                          encoding="utf-8")
        imported = runner.invoke(main, ["pqc", "assets", "import", str(assets), "--data-dir", str(data)])
        assert imported.exit_code == 0, imported.output
        scanned = runner.invoke(main, ["pqc", "scan", "tls", f"127.0.0.1:{port}", "--data-dir", str(data),
                                       "-o", str(tmp_path / "scan.cbom.json")])
    assert scanned.exit_code == 0, scanned.output
    findings = [json.loads(line) for line in scanned.stdout.splitlines() if line.startswith("{")]
    assert any(f["algorithm"] == "RSA" and f["parameter"] == "2048" for f in findings)
    assert any(f["algorithm"] == "X25519" for f in findings)
    assert validate_cbom(json.loads((tmp_path / "scan.cbom.json").read_text(encoding="utf-8"))) == []

    ledger = tmp_path / "inventory.xlsx"
    reported = runner.invoke(main, ["pqc", "report", "--format", "xlsx", "-o", str(ledger), "--data-dir", str(data),
                                    "--today", "2026-11-22"])
    assert reported.exit_code == 0, reported.output
    book = openpyxl.load_workbook(ledger, read_only=True)
    assert book.sheetnames == ["資産台帳 Assets", "暗号一覧 Cryptography", "リスク評価 Risk", "移行計画 Roadmap",
                               "出典 Sources"]
    cells = {str(c) for row in book["資産台帳 Assets"].iter_rows(values_only=True) for c in row if c is not None}
    assert {"オンライントレード", "勘定系"} <= cells
    cbom = runner.invoke(main, ["pqc", "report", "--format", "cyclonedx", "--data-dir", str(data)])
    assert cbom.exit_code == 0, cbom.output
    doc = json.loads(cbom.stdout)
    assert doc["specVersion"] == "1.6" and validate_cbom(doc) == []
    statuses = {p["value"] for c in doc["components"] for p in c.get("properties", []) if p["name"] == "mamori:status"}
    assert "quantum-vulnerable" in statuses
    # Nothing disallowed yet in 2026 (RSA-2048 and X25519 are disallowed after 2035): the gate passes;
    # assessed as of 2036 the same inventory fails it.
    gate = runner.invoke(main, ["pqc", "gate", "--data-dir", str(data), "--today", "2026-11-22"])
    assert gate.exit_code == 0 and "PASS" in gate.output
    late = runner.invoke(main, ["pqc", "gate", "--data-dir", str(data), "--today", "2036-01-02"])
    assert late.exit_code != 0, late.output
