"""``mamori bench pqc``: the PQC inventory's discovery and output rates, and the same TLS scan by
sslyze and testssl.sh on the same loopback server for comparison.

* ``tls_endpoints_per_s`` — one-connection endpoint probes (:func:`probe_many`) per second against
  post-quantum TLS servers on loopback (Node.js 24 / OpenSSL 3.5 offering the ML-KEM groups);
* a full scan of one such server (groups, versions, suites, certificates) by mamori, sslyze and
  testssl.sh: time, connections, and which post-quantum groups each reports;
* ``code_files_per_s`` — source files per second over a generated 10,000-file mixed-language tree;
* ``cbom_components_per_s`` — CycloneDX components written per second.

sslyze (AGPL) and testssl.sh are benchmark peers only, never dependencies: with ``--install-peers``
sslyze goes into its own virtual environment under ``.cache/`` and testssl.sh comes from Debian.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

ROOT = Path(__file__).resolve().parents[3]
NODE = ROOT / ".cache/node24/node_modules/node/bin/node"
SSLYZE_VENV = ROOT / ".cache/sslyze-venv"
PQ_GROUPS = "X25519MLKEM768:SecP256r1MLKEM768:SecP384r1MLKEM1024:MLKEM512:MLKEM768:MLKEM1024:X25519"
PQ_NAMES = ("X25519MLKEM768", "SecP256r1MLKEM768", "SecP384r1MLKEM1024", "MLKEM512", "MLKEM768", "MLKEM1024")
SERVER_JS = r"""
const tls = require('tls'); const fs = require('fs'); const cfg = JSON.parse(process.argv[2]);
const server = tls.createServer({key: fs.readFileSync(cfg.key), cert: fs.readFileSync(cfg.cert),
                                 ecdhCurve: cfg.groups, minVersion: 'TLSv1.2'});
server.on('tlsClientError', () => {});
server.on('secureConnection', (s) => { s.on('error', () => {}); s.end(); });
server.listen(0, '127.0.0.1', () => console.log('PORT ' + server.address().port));
process.stdin.on('end', () => process.exit(0)); process.stdin.resume();
"""


def _certificate(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
            .sign(key, hashes.SHA256()))
    key_path, cert_path = directory / "key.pem", directory / "cert.pem"
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return key_path, cert_path


@contextlib.contextmanager
def node_servers(directory: Path, count: int) -> Iterator[list[int]]:
    if not NODE.exists():
        raise SystemExit(f"Node.js 24 (OpenSSL 3.5) not found at {NODE}: run scripts/system-deps")
    key, cert = _certificate(directory)
    script = directory / "server.js"
    script.write_text(SERVER_JS, encoding="utf-8")
    cfg = json.dumps({"key": str(key), "cert": str(cert), "groups": PQ_GROUPS})
    procs = [subprocess.Popen([str(NODE), str(script), cfg], stdin=subprocess.PIPE,  # noqa: S603 (our script)
                              stdout=subprocess.PIPE, text=True) for _ in range(count)]
    try:
        ports = []
        for proc in procs:
            assert proc.stdout is not None
            line = proc.stdout.readline().strip()
            if not line.startswith("PORT "):
                raise RuntimeError(f"TLS server did not start: {line!r}")
            ports.append(int(line.split()[1]))
        yield ports
    finally:
        for proc in procs:
            proc.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(5)


def install_peers() -> None:
    """sslyze in its own venv (it pins an old cryptography, and it is AGPL: never a dependency);
    testssl.sh from Debian."""
    if not (SSLYZE_VENV / "bin/sslyze").exists():
        subprocess.run([sys.executable, "-m", "venv", str(SSLYZE_VENV)], check=True)  # noqa: S603
        subprocess.run([str(SSLYZE_VENV / "bin/pip"), "install", "-q", "sslyze==6.3.1"], check=True)  # noqa: S603
    if shutil.which("testssl") is None and shutil.which("testssl.sh") is None:
        sudo = [] if os.geteuid() == 0 else ["sudo"]
        subprocess.run([*sudo, "apt-get", "install", "-y", "-qq", "--no-install-recommends", "testssl.sh"],  # noqa: S603
                       check=True, stdout=subprocess.DEVNULL)


def _mamori_full_scan(port: int) -> dict[str, Any]:
    from mamori.pqc.discovery.tls import scan_tls

    start = time.perf_counter()
    result = scan_tls("127.0.0.1", port, sni="localhost")
    groups = [f.algorithm for f in result.findings if f.primitive == "key-exchange" and "group" in f.context]
    return {"seconds": time.perf_counter() - start, "connections": result.connections,
            "pq_groups": [g for g in groups if g in PQ_NAMES]}


def _sslyze_scan(port: int) -> dict[str, Any] | None:
    binary = SSLYZE_VENV / "bin/sslyze"
    if not binary.exists():
        return None
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.json"
        start = time.perf_counter()
        subprocess.run([str(binary), f"127.0.0.1:{port}", "--json_out", str(out)],  # noqa: S603
                       capture_output=True, check=False, timeout=600)
        seconds = time.perf_counter() - start
        text = out.read_text(encoding="utf-8") if out.exists() else ""
    return {"seconds": seconds, "pq_groups": [g for g in PQ_NAMES if g in text or g.upper() in text.upper()]}


def _testssl_scan(port: int) -> dict[str, Any] | None:
    binary = shutil.which("testssl") or shutil.which("testssl.sh")
    if binary is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.json"
        start = time.perf_counter()
        subprocess.run([binary, "--quiet", "--warnings", "off", "--jsonfile", str(out), "-p", "-f", "-S",  # noqa: S603
                        f"127.0.0.1:{port}"], capture_output=True, check=False, timeout=900)
        seconds = time.perf_counter() - start
        text = out.read_text(encoding="utf-8") if out.exists() else ""
    return {"seconds": seconds, "pq_groups": [g for g in PQ_NAMES if g.upper() in text.upper()]}


def run(*, probes: int = 20_000, code_files: int = 10_000, components: int = 100_000,
        peers: bool = False) -> dict[str, Any]:
    from mamori.pqc.cbom import bench_cbom
    from mamori.pqc.discovery.code import bench_code
    from mamori.pqc.discovery.tls import probe_many

    if peers:
        install_peers()
    result: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="mamori-bench-pqc-") as tmp, node_servers(Path(tmp), 2) as ports:
        targets = [("127.0.0.1", ports[i % len(ports)]) for i in range(probes)]
        probe_many(targets[:200], concurrency=16)  # warm-up
        start = time.perf_counter()
        answers = probe_many(targets, concurrency=16)
        elapsed = time.perf_counter() - start
        result["tls_endpoints_per_s"] = probes / elapsed
        result["tls_probe_failures"] = sum(1 for a in answers if a.problem)
        result["scan_mamori"] = _mamori_full_scan(ports[0])
        result["scan_sslyze"] = _sslyze_scan(ports[0])
        result["scan_testssl"] = _testssl_scan(ports[0])
    with tempfile.TemporaryDirectory(prefix="mamori-bench-code-") as tmp:
        code = bench_code(Path(tmp), code_files)
    result["code"] = code
    result["code_files_per_s"] = float(code.get("files_per_s", 0.0))
    result["cbom_components_per_s"] = bench_cbom(components)
    return result
