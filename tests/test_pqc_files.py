"""File discovery over a corpus made here with ``cryptography``, ``openssl``, ``ssh-keygen`` and ``keytool``.

Given certificates and keys of every kind (RSA-2048/3072, P-256/P-384, Ed25519, ML-DSA-65; PEM, DER, PKCS#7,
PKCS#8 clear and encrypted, PKCS#12 with and without a password, JKS/JCEKS, OpenSSH, JWK) plus malformed
inputs, when ``scan_files`` walks them, then each object is reported with its algorithm and size, protection
algorithms are read without passwords, and every bad input is a named problem rather than an exception.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import shutil
import struct
import subprocess
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import NameOID

from mamori.pqc.discovery.files import scan_files
from mamori.pqc.model import CryptoFinding, ScanResult

try:
    from cryptography.hazmat.primitives.asymmetric import mldsa
except ImportError:  # cryptography < 47
    mldsa = None  # type: ignore[assignment]

PEM = serialization.Encoding.PEM
DER = serialization.Encoding.DER
NOW = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)


def _need(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        pytest.fail(f"{tool} is needed to build the test corpus: run scripts/system-deps")
    return path


def _cert(subject: str, key: Any, issuer: str | None = None, issuer_key: Any = None, *, ca: bool = False,
          hash_alg: hashes.SHA256 | hashes.SHA384 | None = None, key_usage: x509.KeyUsage | None = None) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    iname = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer or subject)])
    b = (x509.CertificateBuilder().subject_name(name).issuer_name(iname).public_key(key.public_key())
         .serial_number(x509.random_serial_number()).not_valid_before(NOW)
         .not_valid_after(NOW + dt.timedelta(days=398))
         .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if key_usage is not None:
        b = b.add_extension(key_usage, critical=True)
    signer = issuer_key or key
    algo = None if isinstance(signer, ed25519.Ed25519PrivateKey) or (
        mldsa is not None and isinstance(signer, mldsa.MLDSA65PrivateKey)) else (hash_alg or hashes.SHA256())
    return b.sign(signer, algo)


def _run(*args: str, cwd: Path) -> None:
    subprocess.run(list(args), cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    _need("openssl")
    _need("ssh-keygen")
    d = tmp_path_factory.mktemp("corpus")
    (d / "certs").mkdir()
    rsa2048 = rsa.generate_private_key(65537, 2048)
    rsa3072 = rsa.generate_private_key(65537, 3072)
    p256 = ec.generate_private_key(ec.SECP256R1())
    p384 = ec.generate_private_key(ec.SECP384R1())
    edk = ed25519.Ed25519PrivateKey.generate()

    ca = _cert("Root CA", rsa3072, ca=True, hash_alg=hashes.SHA384())
    leaf = _cert("www.example.jp", rsa2048, "Root CA", rsa3072)
    (d / "certs" / "rsa2048.pem").write_bytes(_cert("rsa2048", rsa2048).public_bytes(PEM))
    (d / "certs" / "p256.crt").write_bytes(_cert("p256", p256).public_bytes(PEM))
    (d / "certs" / "p384.der").write_bytes(_cert("p384", p384, hash_alg=hashes.SHA384()).public_bytes(DER))
    (d / "certs" / "ed25519.pem").write_bytes(_cert("ed25519", edk).public_bytes(PEM))
    (d / "certs" / "ecdh.pem").write_bytes(_cert("ecdh", p256, key_usage=x509.KeyUsage(
        False, False, False, False, True, False, False, False, False)).public_bytes(PEM))
    (d / "bundle.pem").write_bytes(b"# chain\n" + leaf.public_bytes(PEM) + ca.public_bytes(PEM))
    if mldsa is not None:
        mk = mldsa.MLDSA65PrivateKey.generate()
        (d / "certs" / "mldsa65.pem").write_bytes(_cert("pq", mk).public_bytes(PEM))

    # keys
    (d / "p384.key").write_bytes(p384.private_bytes(PEM, serialization.PrivateFormat.PKCS8,
                                                    serialization.NoEncryption()))
    (d / "rsa_trad.key").write_bytes(rsa2048.private_bytes(PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                                           serialization.NoEncryption()))
    (d / "enc_pkcs8.pem").write_bytes(rsa2048.private_bytes(PEM, serialization.PrivateFormat.PKCS8,
                                                            serialization.BestAvailableEncryption(b"s3cret")))
    (d / "ed.pub.pem").write_bytes(edk.public_key().public_bytes(PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    (d / "rsa3072.spki.der").write_bytes(rsa3072.public_key().public_bytes(
        DER, serialization.PublicFormat.SubjectPublicKeyInfo))
    (d / "p256.pk8").write_bytes(p256.private_bytes(DER, serialization.PrivateFormat.PKCS8,
                                                    serialization.NoEncryption()))
    (d / "rsa2048.key.pem").write_bytes(rsa2048.private_bytes(PEM, serialization.PrivateFormat.PKCS8,
                                                              serialization.NoEncryption()))
    _run("openssl", "pkcs8", "-topk8", "-scrypt", "-in", "rsa2048.key.pem", "-out", "scrypt.pem", "-passout",
         "pass:x", cwd=d)
    _run("openssl", "rsa", "-in", "rsa2048.key.pem", "-aes128", "-traditional", "-out", "legacy_enc.pem",
         "-passout", "pass:x", cwd=d)
    (d / "leaf.pem").write_bytes(leaf.public_bytes(PEM))
    _run("openssl", "req", "-new", "-key", "rsa2048.key.pem", "-subj", "/CN=req.example.jp", "-out", "req.csr",
         cwd=d)
    # cryptography refuses to sign with SHA-1; OpenSSL still does (a legacy certificate to find)
    _run("openssl", "req", "-x509", "-sha1", "-key", "rsa2048.key.pem", "-subj", "/CN=legacy", "-days", "30",
         "-out", "certs/sha1.pem", cwd=d)
    # PKCS#7 (RFC 2315) with the chain
    _run("openssl", "genpkey", "-genparam", "-algorithm", "DH", "-pkeyopt", "dh_param:ffdhe2048", "-out",
         "dhparam.pem", cwd=d)
    _run("openssl", "crl2pkcs7", "-nocrl", "-certfile", "bundle.pem", "-out", "chain.p7b", cwd=d)
    _run("openssl", "crl2pkcs7", "-nocrl", "-certfile", "bundle.pem", "-outform", "DER", "-out", "chain_der.p7b",
         cwd=d)
    # PKCS#12 (RFC 7292): empty password, real password, legacy algorithms, no encryption at all
    base = ["openssl", "pkcs12", "-export", "-inkey", "rsa2048.key.pem", "-in", "leaf.pem", "-certfile", "bundle.pem"]
    _run(*base, "-out", "empty.p12", "-passout", "pass:", cwd=d)
    _run(*base, "-out", "secret.pfx", "-passout", "pass:s3cret", cwd=d)
    _run(*base, "-legacy", "-out", "legacy.p12", "-passout", "pass:s3cret", cwd=d)
    _run(*base, "-keypbe", "NONE", "-certpbe", "NONE", "-nomac", "-out", "clear.p12", "-passout", "pass:", cwd=d)

    # OpenSSH keys (PROTOCOL.key) and public-key files
    ssh = d / "ssh"
    ssh.mkdir()
    _run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "ops@example.jp", "-f", "id_ed25519", cwd=ssh)
    _run("ssh-keygen", "-q", "-t", "rsa", "-b", "3072", "-N", "passphrase", "-f", "id_rsa", cwd=ssh)
    _run("ssh-keygen", "-q", "-t", "ecdsa", "-b", "384", "-N", "", "-f", "id_ecdsa", cwd=ssh)
    ed_pub = (ssh / "id_ed25519.pub").read_text().split()
    ec_pub = (ssh / "id_ecdsa.pub").read_text().split()
    (ssh / "authorized_keys").write_text(
        f'# team\nfrom="10.0.0.0/8",no-pty {ed_pub[0]} {ed_pub[1]} alice\n{ec_pub[0]} {ec_pub[1]}\n')
    (ssh / "known_hosts").write_text(f"git.example.jp,192.0.2.1 {ec_pub[0]} {ec_pub[1]}\n")
    rfc4716 = subprocess.run(["ssh-keygen", "-e", "-f", str(ssh / "id_ed25519.pub")], check=True,
                             capture_output=True).stdout
    (ssh / "ed25519_rfc4716.pub").write_bytes(rfc4716)

    # JWK / JWKS (RFC 7517)
    def b64u(i: int) -> str:
        return base64.urlsafe_b64encode(i.to_bytes((i.bit_length() + 7) // 8, "big")).rstrip(b"=").decode()
    n = rsa2048.public_key().public_numbers()
    nums = p256.private_numbers()
    jwks = {"keys": [
        {"kty": "RSA", "n": b64u(n.n), "e": b64u(n.e), "alg": "RS256", "kid": "rsa1", "use": "sig"},
        {"kty": "EC", "crv": "P-256", "x": b64u(nums.public_numbers.x), "y": b64u(nums.public_numbers.y),
         "d": b64u(nums.private_value), "alg": "ES256", "kid": "ec1"},
        {"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo", "kid": "ed1"},
        {"kty": "oct", "k": base64.urlsafe_b64encode(b"k" * 32).rstrip(b"=").decode(), "alg": "HS256"},
        {"kty": "AKP", "alg": "ML-DSA-65", "pub": "AAAA", "kid": "pq1"},
    ]}
    (d / "jwks.json").write_text(json.dumps(jwks))
    (d / "single.jwk").write_text(json.dumps({"kty": "oct", "k": "AAAAAAAAAAAAAAAAAAAAAA", "alg": "A128GCM"}))

    # keystores: a JKS written by hand per the public layout (always), and keytool-made ones when Java exists
    trusted = ca.public_bytes(DER)
    alias = b"rootca"
    jks = (b"\xfe\xed\xfe\xed" + struct.pack(">II", 2, 1) + struct.pack(">I", 2)
           + struct.pack(">H", len(alias)) + alias + struct.pack(">q", 1_700_000_000_000)
           + struct.pack(">H", 5) + b"X.509" + struct.pack(">I", len(trusted)) + trusted)
    (d / "handmade.jks").write_bytes(jks + b"\x00" * 20)
    (d / "handmade_truncated.jks").write_bytes(jks[: len(jks) // 2])
    return d


@pytest.fixture(scope="module")
def keystores(tmp_path_factory: pytest.TempPathFactory) -> Path:
    keytool = shutil.which("keytool")
    if keytool is None:
        pytest.skip("keytool (a JDK) is not installed: the hand-made JKS in the corpus covers the format")
    d = tmp_path_factory.mktemp("keystores")
    common = ["-storepass", "changeit", "-keypass", "changeit", "-noprompt"]
    _run(keytool, "-genkeypair", "-keystore", "server.jks", "-storetype", "JKS", "-alias", "server", "-keyalg", "RSA",
         "-keysize", "2048", "-dname", "CN=jks.example.jp", "-validity", "2", *common, cwd=d)
    _run(keytool, "-genseckey", "-keystore", "secrets.jceks", "-storetype", "JCEKS", "-alias", "dbkey", "-keyalg",
         "AES", "-keysize", "256", *common, cwd=d)
    _run(keytool, "-genkeypair", "-keystore", "secrets.jceks", "-storetype", "JCEKS", "-alias", "signer", "-keyalg",
         "EC", "-groupname", "secp256r1", "-dname", "CN=ec.example.jp", "-validity", "2", *common, cwd=d)
    _run(keytool, "-genkeypair", "-keystore", "java.p12", "-storetype", "PKCS12", "-alias", "p", "-keyalg", "EC",
         "-groupname", "secp384r1", "-dname", "CN=p12.example.jp", "-validity", "2", *common, cwd=d)
    return d


@pytest.fixture(scope="module")
def result(corpus: Path) -> ScanResult:
    return scan_files([corpus])


def _at(result: ScanResult, name: str) -> list[CryptoFinding]:
    """Findings whose location is the file ``name`` (with or without a ``#n`` index)."""
    return [f for f in result.findings if Path(f.location.split("#")[0]).name == name]


def _one(findings: list[CryptoFinding], context: str) -> CryptoFinding:
    hits = [f for f in findings if f.context == context]
    assert len(hits) == 1, (context, hits)
    return hits[0]


def test_no_problems_on_the_well_formed_corpus(result: ScanResult) -> None:
    assert [p for p in result.problems if "handmade_truncated" not in p] == []
    assert all(f.source == "file" for f in result.findings)


@pytest.mark.parametrize(("name", "alg", "param", "sig", "sig_param", "hash_"), [
    ("rsa2048.pem", "RSA", "2048", "RSA", "2048", "SHA-256"),
    ("p256.crt", "ECDSA", "P-256", "ECDSA", "P-256", "SHA-256"),
    ("p384.der", "ECDSA", "P-384", "ECDSA", "P-384", "SHA-384"),
    ("ed25519.pem", "Ed25519", "", "Ed25519", "", ""),
    ("ecdh.pem", "ECDH", "P-256", "ECDSA", "P-256", "SHA-256"),
    ("sha1.pem", "RSA", "2048", "RSA", "2048", "SHA-1"),
])
def test_certificates_key_and_signature(result: ScanResult, name: str, alg: str, param: str, sig: str,
                                        sig_param: str, hash_: str) -> None:
    fs = _at(result, name)
    key = _one(fs, "certificate public key")
    signature = _one(fs, "certificate signature")
    assert (key.primitive, key.algorithm, key.parameter) == ("key", alg, param)
    assert (signature.primitive, signature.algorithm, signature.parameter) == ("certificate", sig, sig_param)
    assert signature.detail["hash"] == hash_
    assert key.detail["subject"].startswith("CN=") and key.detail["issuer"] == key.detail["subject"]
    if name != "sha1.pem":
        assert key.detail["not_before"] == "2026-11-01T00:00:00+00:00"
        assert key.detail["not_after"].startswith("2027-12-04")
    assert key.location.endswith(name)


def test_ml_dsa_certificate(result: ScanResult) -> None:
    if mldsa is None:
        pytest.skip("this cryptography has no ML-DSA (needs >= 47)")
    fs = _at(result, "mldsa65.pem")
    assert (_one(fs, "certificate public key").algorithm, _one(fs, "certificate public key").parameter) == \
        ("ML-DSA", "65")
    sig = _one(fs, "certificate signature")
    assert (sig.algorithm, sig.parameter, sig.detail["oid"]) == ("ML-DSA", "65", "2.16.840.1.101.3.4.3.18")


def test_bundle_objects_are_indexed_and_signer_size_filled(result: ScanResult) -> None:
    fs = _at(result, "bundle.pem")
    assert sorted({f.location.rsplit("#", 1)[1] for f in fs}) == ["0", "1"]
    leaf_sig = next(f for f in fs if f.location.endswith("#0") and f.context == "certificate signature")
    assert (leaf_sig.algorithm, leaf_sig.parameter) == ("RSA", "3072")  # signer = Root CA in the same file
    ca_key = next(f for f in fs if f.location.endswith("#1") and f.context == "certificate public key")
    assert ca_key.parameter == "3072" and ca_key.detail["ca"] is True


@pytest.mark.parametrize(("name", "context", "alg", "param"), [
    ("p384.key", "private key", "ECDSA", "P-384"),
    ("rsa_trad.key", "private key", "RSA", "2048"),
    ("ed.pub.pem", "public key", "Ed25519", ""),
    ("rsa3072.spki.der", "public key", "RSA", "3072"),
    ("p256.pk8", "private key", "ECDSA", "P-256"),
    ("req.csr", "certificate request public key", "RSA", "2048"),
])
def test_keys(result: ScanResult, name: str, context: str, alg: str, param: str) -> None:
    k = _one(_at(result, name), context)
    assert (k.primitive, k.algorithm, k.parameter) == ("key", alg, param)


def test_dh_parameters(result: ScanResult) -> None:
    dh = _one(_at(result, "dhparam.pem"), "dh parameters")
    assert (dh.primitive, dh.algorithm, dh.parameter) == ("key-exchange", "DH", "2048")


def test_encrypted_pkcs8_reports_pbes2_without_password(result: ScanResult) -> None:
    fs = _at(result, "enc_pkcs8.pem")
    assert _one(fs, "private key").detail["encrypted"] is True
    cipher = _one(fs, "private key encryption")
    kdf = _one(fs, "private key encryption kdf")
    assert (cipher.primitive, cipher.algorithm, cipher.parameter, cipher.detail["mode"]) == ("cipher", "AES", "256",
                                                                                             "CBC")
    assert (kdf.algorithm, kdf.parameter, kdf.detail["scheme"]) == ("PBKDF2", "SHA-256", "PBES2")
    assert kdf.detail["iterations"] > 0
    scrypt = _at(result, "scrypt.pem")
    assert _one(scrypt, "private key encryption kdf").algorithm == "scrypt"
    assert _one(scrypt, "private key encryption kdf").detail["N"] >= 16384


def test_legacy_encrypted_pem_reports_dek_info(result: ScanResult) -> None:
    fs = _at(result, "legacy_enc.pem")
    assert _one(fs, "private key").algorithm == "RSA"
    assert (_one(fs, "private key encryption").algorithm, _one(fs, "private key encryption").parameter) == \
        ("AES", "128")
    assert _one(fs, "private key encryption kdf").algorithm == "EVP_BytesToKey"


@pytest.mark.parametrize("name", ["chain.p7b", "chain_der.p7b"])
def test_pkcs7_certificates(result: ScanResult, name: str) -> None:
    keys = sorted((f.algorithm, f.parameter) for f in _at(result, name) if f.context == "certificate public key")
    assert keys == [("RSA", "2048"), ("RSA", "3072")]


def test_pkcs12_with_empty_password_is_opened(result: ScanResult) -> None:
    fs = _at(result, "empty.p12")
    assert _one(fs, "pkcs12 private key").algorithm == "RSA"
    assert _one(fs, "pkcs12 private key").parameter == "2048"
    subjects = {f.detail["subject"] for f in fs if f.context == "certificate public key"}
    assert subjects == {"CN=www.example.jp", "CN=Root CA"}
    assert _one(fs, "pkcs12 integrity").algorithm == "HMAC"


def test_pkcs12_with_password_reports_algorithms_only(result: ScanResult) -> None:
    fs = _at(result, "secret.pfx")
    key_enc = _one(fs, "pkcs12 key encryption")
    cert_enc = _one(fs, "pkcs12 certificate encryption")
    mac = _one(fs, "pkcs12 integrity")
    assert (key_enc.algorithm, key_enc.parameter) == ("AES", "256")  # OpenSSL 3 defaults: PBES2 AES-256-CBC
    assert (cert_enc.algorithm, cert_enc.parameter) == ("AES", "256")
    assert (_one(fs, "pkcs12 key encryption kdf").algorithm, mac.algorithm, mac.parameter) == \
        ("PBKDF2", "HMAC", "SHA-256")
    assert _one(fs, "pkcs12 private key").algorithm == "unknown"
    assert not [f for f in fs if f.context == "certificate public key"]


def test_pkcs12_legacy_algorithms(result: ScanResult) -> None:
    fs = _at(result, "legacy.p12")
    assert (_one(fs, "pkcs12 key encryption").algorithm, _one(fs, "pkcs12 key encryption").parameter) == \
        ("3DES", "168")
    assert (_one(fs, "pkcs12 certificate encryption").algorithm,
            _one(fs, "pkcs12 certificate encryption").parameter) == ("RC2", "40")
    assert _one(fs, "pkcs12 key encryption kdf").algorithm == "PKCS12-KDF"
    assert _one(fs, "pkcs12 integrity").parameter == "SHA-1"


def test_pkcs12_without_encryption_or_mac(result: ScanResult) -> None:
    fs = _at(result, "clear.p12")
    assert _one(fs, "pkcs12 integrity").algorithm == "none"
    assert _one(fs, "pkcs12 private key").parameter == "2048"


def test_openssh_keys(result: ScanResult) -> None:
    ed = _one(_at(result, "id_ed25519"), "ssh private key")
    assert (ed.algorithm, ed.detail["encrypted"], ed.detail["cipher"]) == ("Ed25519", False, "none")
    rsa_key = _at(result, "id_rsa")
    assert (_one(rsa_key, "ssh private key").algorithm, _one(rsa_key, "ssh private key").parameter) == ("RSA", "3072")
    enc = _one(rsa_key, "ssh private key encryption")
    assert (enc.algorithm, enc.parameter, enc.detail["kdf"]) == ("AES", "256", "bcrypt")
    assert _one(rsa_key, "ssh private key encryption kdf").detail["rounds"] == 16
    assert _one(_at(result, "id_ecdsa"), "ssh private key").parameter == "P-384"
    pub = _one(_at(result, "id_ed25519.pub"), "ssh public key")
    assert pub.detail["comment"] == "ops@example.jp" and pub.detail["fingerprint_sha256"].startswith("SHA256:")
    assert _one(_at(result, "id_rsa.pub"), "ssh public key").parameter == "3072"
    rfc = _one(_at(result, "ed25519_rfc4716.pub"), "ssh public key")
    assert rfc.detail["fingerprint_sha256"] == pub.detail["fingerprint_sha256"]


def test_authorized_keys_and_known_hosts(result: ScanResult) -> None:
    ak = [f for f in _at(result, "authorized_keys") if f.context == "ssh authorized key"]
    assert [(f.algorithm, f.parameter, f.detail["line"]) for f in ak] == [("Ed25519", "", 2), ("ECDSA", "P-384", 3)]
    assert [f.location.rsplit("#", 1)[1] for f in ak] == ["0", "1"]
    kh = _one(_at(result, "known_hosts"), "ssh known host key")
    assert (kh.algorithm, kh.parameter) == ("ECDSA", "P-384")


def test_jwks(result: ScanResult) -> None:
    fs = _at(result, "jwks.json")
    got = [(f.primitive, f.algorithm, f.parameter, f.context) for f in fs]
    assert got == [("key", "RSA", "2048", "jwk public key"), ("key", "ECDSA", "P-256", "jwk private key"),
                   ("key", "Ed25519", "", "jwk public key"), ("mac", "HMAC", "SHA-256", "jwk secret key"),
                   ("key", "ML-DSA", "65", "jwk public key")]
    assert all("d" not in f.detail and "k" not in f.detail for f in fs)  # no key material in findings
    single = _at(result, "single.jwk")
    assert [(f.primitive, f.algorithm, f.parameter) for f in single] == [("cipher", "AES", "128")]


def test_handmade_jks_trusted_certificate(result: ScanResult) -> None:
    fs = _at(result, "handmade.jks")
    key = _one(fs, "certificate public key")
    assert (key.algorithm, key.parameter, key.detail["alias"], key.detail["format"]) == ("RSA", "3072", "rootca", "JKS")
    assert _one(fs, "keystore integrity").algorithm == "SHA-1"
    assert any(p.startswith("file-bad-keystore: ") and "handmade_truncated.jks" in p for p in result.problems)


def test_keytool_keystores(keystores: Path) -> None:
    r = scan_files([keystores])
    assert r.problems == ()
    jks = _at(r, "server.jks")
    entry = _one(jks, "keystore private key entry")
    assert (entry.algorithm, entry.parameter, entry.detail["alias"]) == ("RSA", "2048", "server")
    assert _one(jks, "keystore private key entry encryption").algorithm == "JKS-KeyProtector"
    assert _one(jks, "certificate public key").detail["entry"] == "private key chain"
    jceks = _at(r, "secrets.jceks")
    secret = _one(jceks, "keystore secret key entry")
    assert secret.detail["sealed_with"] == "PBEWithMD5AndTripleDES" and secret.detail["alias"] == "dbkey"
    assert _one(jceks, "keystore private key entry").parameter == "P-256"
    assert _one(jceks, "keystore private key entry encryption").algorithm == "3DES"
    p12 = _at(r, "java.p12")
    assert (_one(p12, "pkcs12 key encryption").algorithm, _one(p12, "pkcs12 integrity").parameter) == \
        ("AES", "SHA-256")


def test_malformed_inputs_are_named_problems(tmp_path: Path, corpus: Path) -> None:
    good = (corpus / "certs" / "rsa2048.pem").read_text()
    lines = good.splitlines()
    lines[3] = "!!!not*base64!!!" + lines[3][16:]
    (tmp_path / "broken_b64.pem").write_text("\n".join(lines) + "\n")
    der = (corpus / "certs" / "p384.der").read_bytes()
    (tmp_path / "truncated.der").write_bytes(der[: len(der) // 2])
    (tmp_path / "junk.pem").write_bytes(bytes(range(1, 256)) * 40)
    (tmp_path / "no_end.pem").write_text("-----BEGIN CERTIFICATE-----\nMIIB\n")
    (tmp_path / "bad.jwk").write_text('{"kty": "RSA", ')
    with open(tmp_path / "huge.bin", "wb") as fh:
        fh.write(os.urandom(20 * 1024 * 1024))
    (tmp_path / "readme.txt").write_text("nothing to see\n")
    loop = tmp_path / "sub"
    loop.mkdir()
    (loop / "again").symlink_to(tmp_path, target_is_directory=True)
    os.mkfifo(tmp_path / "pipe.pem")

    r = scan_files([tmp_path, tmp_path / "missing.pem"])

    codes = {p.split(": ", 2)[1].rsplit("/", 1)[-1]: p.split(":", 1)[0] for p in r.problems}
    assert codes["broken_b64.pem"] == "file-bad-pem"
    assert codes["truncated.der"] == "file-truncated-der"
    assert codes["junk.pem"] == "file-unrecognised"
    assert codes["no_end.pem"] == "file-bad-pem"
    assert codes["bad.jwk"] == "file-bad-jwk"
    assert codes["huge.bin"] == "file-too-large"
    assert codes["missing.pem"] == "file-not-found"
    assert any(p.startswith("file-symlink-loop: ") for p in r.problems)
    assert "readme.txt" not in codes
    assert r.findings == ()


def test_size_limit_is_configurable(tmp_path: Path, corpus: Path) -> None:
    shutil.copy(corpus / "bundle.pem", tmp_path / "bundle.pem")
    r = scan_files([tmp_path], max_file_bytes=100)
    assert [p.split(":", 1)[0] for p in r.problems] == ["file-too-large"]


# ---------------------------------------------------------------------------------------------- configuration

OPENSSL_CNF = """\
# Debian-style system default
openssl_conf = openssl_init

[openssl_init]
ssl_conf = ssl_sect

[ssl_sect]
system_default = system_default_sect

[system_default_sect]
MinProtocol = TLSv1.2
CipherString = DEFAULT:@SECLEVEL=2
Groups = X25519MLKEM768:X25519:prime256v1:ffdhe2048
SignatureAlgorithms = ECDSA+SHA256:RSA-PSS+SHA256:ed25519:mldsa65

[req]
default_bits = 2048
default_md = sha256
"""

NGINX_CONF = """\
events {}
http {
    include conf.d/*.conf;
    server {
        listen 443 ssl;
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_ciphers 'ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384:DHE-RSA-AES128-SHA:!aNULL:!MD5';
        ssl_ecdh_curve X25519:secp384r1;
    }
}
"""

NGINX_INCLUDED = """\
# post-quantum hybrid first (OpenSSL 3.5)
ssl_conf_command Groups X25519MLKEM768:X25519;
proxy_ssl_protocols TLSv1.2;
"""

APACHE_CONF = """\
<IfModule mod_ssl.c>
<VirtualHost *:443>
  SSLEngine on
  SSLProtocol all -SSLv3 -TLSv1 -TLSv1.1
  SSLCipherSuite HIGH:!aNULL:!MD5:!3DES
  SSLCipherSuite TLSv1.3 TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256
  SSLOpenSSLConfCmd Curves X25519:secp521r1
  SSLOpenSSLConfCmd Groups X25519MLKEM768
</VirtualHost>
</IfModule>
"""

SSHD_CONFIG = """\
KexAlgorithms mlkem768x25519-sha256,sntrup761x25519-sha512@openssh.com,curve25519-sha256
Ciphers aes256-gcm@openssh.com,chacha20-poly1305@openssh.com
MACs -hmac-sha1*,umac-64@openssh.com
HostKeyAlgorithms ^ssh-ed25519
PubkeyAcceptedAlgorithms +ssh-rsa
RequiredRSASize 3072
Match User legacy
    KexAlgorithms +diffie-hellman-group14-sha1
"""

JAVA_SECURITY = """\
# excerpt of a JDK 17 java.security
jdk.certpath.disabledAlgorithms=MD2, MD5, SHA1 jdkCA & usage TLSServer, \\
    RSA keySize < 1024, DSA keySize < 1024, EC keySize < 224, \\
    SHA1 usage SignedJAR & denyAfter 2019-01-01
jdk.tls.disabledAlgorithms=SSLv3, TLSv1, TLSv1.1, DTLSv1.0, RC4, DES, \\
    MD5withRSA, DH keySize < 1024, EC keySize < 224, 3DES_EDE_CBC, anon, NULL, \\
    ECDH, TLS_RSA_*, include jdk.disabled.namedCurves
jdk.tls.namedGroups=x25519, secp256r1, X25519MLKEM768
keystore.type=pkcs12
"""


@pytest.fixture(scope="module")
def configs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("etc")
    (d / "ssl").mkdir()
    (d / "ssl" / "openssl.cnf").write_text(OPENSSL_CNF)
    (d / "nginx" / "conf.d").mkdir(parents=True)
    (d / "nginx" / "nginx.conf").write_text(NGINX_CONF)
    (d / "nginx" / "conf.d" / "pq.conf").write_text(NGINX_INCLUDED)
    (d / "apache2" / "sites-enabled").mkdir(parents=True)
    (d / "apache2" / "sites-enabled" / "default-ssl.conf").write_text(APACHE_CONF)
    (d / "ssh" / "ssh_config.d").mkdir(parents=True)
    (d / "ssh" / "sshd_config").write_text(SSHD_CONFIG)
    (d / "ssh" / "ssh_config.d" / "10-pq.conf").write_text("Host *\n    KexAlgorithms mlkem768x25519-sha256\n")
    (d / "java").mkdir()
    (d / "java" / "java.security").write_text(JAVA_SECURITY)
    (d / "unrelated.conf").write_text("key = value\n")
    return d


@pytest.fixture(scope="module")
def config_result(configs: Path) -> ScanResult:
    from mamori.pqc.discovery.config import scan_config
    return scan_config([configs])


def _cfg(result: ScanResult, file: str, context: str) -> list[CryptoFinding]:
    return [f for f in result.findings if Path(f.location.rsplit(":", 1)[0]).name == file and f.context == context]


def _named(findings: list[CryptoFinding]) -> list[tuple[str, str, str, str]]:
    return [(f.primitive, f.algorithm, f.parameter, f.detail["effect"]) for f in findings]


def test_config_scan_has_no_problems(config_result: ScanResult) -> None:
    assert config_result.problems == ()
    assert all(f.source == "config" and f.detail["value"] is not None for f in config_result.findings)
    assert not [f for f in config_result.findings if "unrelated.conf" in f.location]


def test_openssl_cnf(config_result: ScanResult) -> None:
    mp = _cfg(config_result, "openssl.cnf", "MinProtocol")
    assert _named(mp) == [("protocol", "TLS", "1.2", "minimum")]
    assert mp[0].location.endswith("openssl.cnf:11")
    assert mp[0].detail["section"] == "system_default_sect" and mp[0].detail["applies_to"] == "system_default"
    cs = _cfg(config_result, "openssl.cnf", "CipherString")
    assert _named(cs) == [("protocol", "TLS", "", "configure")]
    assert cs[0].detail["seclevel"] == 2 and cs[0].detail["aliases"] == ["DEFAULT"]
    assert _named(_cfg(config_result, "openssl.cnf", "Groups")) == [
        ("key-exchange", "X25519MLKEM768", "768", "enable"), ("key-exchange", "X25519", "", "enable"),
        ("key-exchange", "ECDH", "P-256", "enable"), ("key-exchange", "DH", "2048", "enable")]
    sigs = _cfg(config_result, "openssl.cnf", "SignatureAlgorithms")
    assert [(f.algorithm, f.parameter) for f in sigs] == [("ECDSA", ""), ("RSA", ""), ("Ed25519", ""),
                                                          ("ML-DSA", "65")]
    assert sigs[1].detail["pss"] is True
    assert _named(_cfg(config_result, "openssl.cnf", "default_md")) == [("hash", "SHA-256", "", "enable")]
    assert _named(_cfg(config_result, "openssl.cnf", "default_bits")) == [("key", "RSA", "2048", "enable")]


def test_nginx_with_include(config_result: ScanResult, configs: Path) -> None:
    assert _named(_cfg(config_result, "nginx.conf", "ssl_protocols")) == [
        ("protocol", "TLS", "1.2", "enable"), ("protocol", "TLS", "1.3", "enable")]
    ciphers = _cfg(config_result, "nginx.conf", "ssl_ciphers")
    assert ciphers[0].location.endswith("nginx.conf:7") and ciphers[0].detail["block"] == "http > server"
    named = {(f.primitive, f.algorithm, f.parameter): f for f in ciphers}
    assert set(named) >= {("key-exchange", "ECDH", ""), ("key-exchange", "DH", ""), ("signature", "ECDSA", ""),
                          ("signature", "RSA", ""), ("cipher", "AES", "128"), ("cipher", "AES", "256"),
                          ("mac", "HMAC", "SHA-1"), ("mac", "HMAC", "MD5")}
    assert named[("mac", "HMAC", "MD5")].detail["effect"] == "disable"
    assert "aNULL" in " ".join(ciphers[0].detail["aliases"])
    assert _named(_cfg(config_result, "nginx.conf", "ssl_ecdh_curve")) == [
        ("key-exchange", "X25519", "", "enable"), ("key-exchange", "ECDH", "P-384", "enable")]
    pq = _cfg(config_result, "pq.conf", "ssl_conf_command Groups")
    assert [(f.algorithm, f.location.rsplit(":", 1)[1]) for f in pq] == [("X25519MLKEM768", "2"), ("X25519", "2")]
    assert pq[0].detail["included_from"] == f"{configs / 'nginx' / 'nginx.conf'}:3"
    assert pq[0].detail["post_quantum"] is True
    assert _cfg(config_result, "pq.conf", "proxy_ssl_protocols")[0].detail["upstream"] is True


def test_apache(config_result: ScanResult) -> None:
    f = "default-ssl.conf"
    assert _named(_cfg(config_result, f, "SSLProtocol")) == [
        ("protocol", "SSL", "3.0", "remove"), ("protocol", "TLS", "1.0", "remove"), ("protocol", "TLS", "1.1", "remove")]
    suites = _cfg(config_result, f, "SSLCipherSuite")
    classic = [x for x in suites if x.location.endswith(":5")]
    tls13 = [x for x in suites if x.location.endswith(":6")]
    assert _named(classic) == [("mac", "HMAC", "MD5", "disable"), ("cipher", "3DES", "168", "disable")]
    assert {(x.algorithm, x.parameter) for x in tls13} == {("AES", "256"), ("ChaCha20-Poly1305", "256")}
    assert tls13[0].detail["protocol"] == "TLSv1.3"
    assert classic[0].detail["block"] == "IfModule mod_ssl.c > VirtualHost *:443"
    assert [(x.algorithm, x.parameter) for x in _cfg(config_result, f, "SSLOpenSSLConfCmd Curves")] == [
        ("X25519", ""), ("ECDH", "P-521")]
    assert [x.algorithm for x in _cfg(config_result, f, "SSLOpenSSLConfCmd Groups")] == ["X25519MLKEM768"]


def test_sshd_and_ssh_config(config_result: ScanResult) -> None:
    kex = _cfg(config_result, "sshd_config", "KexAlgorithms")
    main = [f for f in kex if f.location.endswith(":1")]
    assert [(f.algorithm, f.parameter, f.detail["ssh_name"]) for f in main] == [
        ("X25519MLKEM768", "768", "mlkem768x25519-sha256"),
        ("sntrup761x25519", "761", "sntrup761x25519-sha512@openssh.com"), ("X25519", "", "curve25519-sha256")]
    assert all(f.detail["modifier"] == "replace" and f.detail["kind"] == "sshd" for f in main)
    legacy = [f for f in kex if f.location.endswith(":8")]
    assert _named(legacy) == [("key-exchange", "DH", "2048", "append")]
    assert legacy[0].detail["block"] == "Match User legacy"
    macs = _cfg(config_result, "sshd_config", "MACs")
    assert _named(macs) == [("mac", "UMAC", "64", "remove")] and macs[0].detail["aliases"] == ["hmac-sha1*"]
    assert _named(_cfg(config_result, "sshd_config", "HostKeyAlgorithms")) == [("signature", "Ed25519", "", "prepend")]
    rsa_alg = _cfg(config_result, "sshd_config", "PubkeyAcceptedAlgorithms")
    assert _named(rsa_alg) == [("signature", "RSA", "", "append")] and rsa_alg[0].detail["hash"] == "SHA-1"
    assert _named(_cfg(config_result, "sshd_config", "RequiredRSASize")) == [("signature", "RSA", "3072", "minimum")]
    assert [(f.algorithm, f.detail["kind"]) for f in _cfg(config_result, "sshd_config",
                                                                                  "Ciphers")] == [
        ("AES", "sshd"), ("ChaCha20-Poly1305", "sshd")]
    client = _cfg(config_result, "10-pq.conf", "KexAlgorithms")
    assert [(f.algorithm, f.detail["kind"], f.detail["block"]) for f in client] == [("X25519MLKEM768", "ssh", "Host *")]


def test_java_security(config_result: ScanResult) -> None:
    cert = _cfg(config_result, "java.security", "jdk.certpath.disabledAlgorithms")
    assert cert[0].location.endswith("java.security:2")
    by = {(f.primitive, f.algorithm): f for f in cert}
    assert by[("hash", "SHA-1")].detail["effect"] == "disable"
    assert by[("key", "RSA")].detail["constraint"] == "keySize < 1024"
    assert ("key", "ECDSA") in by and ("hash", "MD2") in by
    tls = {(f.primitive, f.algorithm, f.parameter) for f in _cfg(config_result, "java.security",
                                                                 "jdk.tls.disabledAlgorithms")}
    assert tls >= {("protocol", "SSL", "3.0"), ("protocol", "TLS", "1.0"), ("protocol", "TLS", "1.1"),
                   ("protocol", "DTLS", "1.0"), ("cipher", "RC4", ""), ("cipher", "DES", "56"),
                   ("cipher", "3DES", "168"), ("signature", "RSA", ""), ("key-exchange", "DH", ""),
                   ("key-exchange", "ECDH", ""), ("key-exchange", "RSA", "")}
    aliases = _cfg(config_result, "java.security", "jdk.tls.disabledAlgorithms")[0].detail["aliases"]
    assert aliases == ["anon", "NULL", "include jdk.disabled.namedCurves"]
    assert [(f.algorithm, f.parameter) for f in _cfg(config_result, "java.security", "jdk.tls.namedGroups")] == [
        ("X25519", ""), ("ECDH", "P-256"), ("X25519MLKEM768", "768")]
    ks = _cfg(config_result, "java.security", "keystore.type")
    assert _named(ks) == [("key", "PKCS#12", "", "keystore")]


def test_config_problems(tmp_path: Path) -> None:
    from mamori.pqc.discovery.config import scan_config
    (tmp_path / "nginx.conf").write_text("http { include missing.conf; include loop.conf; ssl_ciphers 'HIGH; }\n")
    (tmp_path / "loop.conf").write_text("include nginx.conf;\nssl_protocols TLSv1.3;\n")
    (tmp_path / "notes.txt").write_text("hello\n")
    (tmp_path / "huge.cnf").write_bytes(b"#" * 2_100_000)
    r = scan_config([tmp_path / "nginx.conf", tmp_path / "notes.txt", tmp_path / "huge.cnf", tmp_path / "nope"])
    codes = sorted(p.split(":", 1)[0] for p in r.problems)
    assert codes == ["config-include-loop", "config-include-missing", "config-not-found", "config-parse",
                     "config-too-large", "config-unrecognised"]
    assert [(f.algorithm, f.parameter) for f in r.findings] == [("TLS", "1.3")]  # from loop.conf, before the loop
