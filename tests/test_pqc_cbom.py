"""CycloneDX 1.6 CBOM (mamori.pqc.cbom): schema-valid output (and a validator that really rejects), golden NIST
quantum levels, round trip, import of another tool's CBOM, JP asset lists (CSV/XLSX), malformed inputs named."""

from __future__ import annotations

import copy
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from mamori.pqc.cbom import (
    AssetListError,
    CbomError,
    bench_cbom,
    classical_security_level,
    nist_quantum_level,
    read_asset_list,
    read_cbom,
    to_cbom,
    validate_cbom,
)
from mamori.pqc.discovery.code import scan_text
from mamori.pqc.model import CryptoFinding

CERT = {"subject": "CN=ib.example-sec.co.jp,O=Example Securities", "issuer": "CN=Example CA G2",
        "not_before": "2026-01-01T00:00:00+00:00", "not_after": "2027-01-31T23:59:59+00:00", "serial": "1a2b",
        "sha256": "ab" * 32, "position": 0}


def _mixed() -> list[CryptoFinding]:
    code = scan_text("src/ib/crypto.py", "import hashlib, ssl\nfrom cryptography.hazmat.primitives.asymmetric import rsa\n"
                     "d = hashlib.md5(b'x')\nk = rsa.generate_private_key(65537, 2048)\n"
                     "c = ssl.SSLContext(ssl.PROTOCOL_TLSv1_2)\n", "python")
    code += scan_text("src/ib/Main.java", 'class M { void f() throws Exception {\n'
                      '  javax.crypto.Cipher c = Cipher.getInstance("AES/GCM/NoPadding");\n'
                      '  KeyGenerator g = KeyGenerator.getInstance("AES"); g.init(256);\n'
                      '  Signature s = Signature.getInstance("SHA256withECDSA");\n} }\n', "java")
    assert len(code) >= 6
    return [*code,
            CryptoFinding("tls", "ib.example-sec.co.jp:443", "key-exchange", "X25519MLKEM768", "",
                          "tls-1.3 key share", 1.0, {"group": 4588}),
            CryptoFinding("tls", "ib.example-sec.co.jp:443", "key-exchange", "ECDH", "P-256", "tls-1.3 supported group"),
            CryptoFinding("tls", "ib.example-sec.co.jp:443", "protocol", "TLS", "1.3", "negotiated", 1.0,
                          {"cipher_suite": "TLS_AES_256_GCM_SHA384"}),
            CryptoFinding("tls", "ib.example-sec.co.jp:443", "protocol", "TLS", "1.2", "offered", 1.0,
                          {"cipher_suites": ["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "TLS_RSA_WITH_3DES_EDE_CBC_SHA"]}),
            CryptoFinding("tls", "ib.example-sec.co.jp:443", "certificate", "RSA", "4096", "certificate[0] signature",
                          1.0, {**CERT, "signature_algorithm": "sha256WithRSAEncryption", "hash": "SHA-256",
                                "oid": "1.2.840.113549.1.1.11"}),
            CryptoFinding("tls", "ib.example-sec.co.jp:443", "key", "RSA", "2048", "certificate[0] public key", 1.0,
                          {**CERT, "oid": "1.2.840.113549.1.1.1"}),
            CryptoFinding("ssh", "batch01.internal:22", "key-exchange", "mlkem768x25519-sha256", "", "kex", 1.0),
            CryptoFinding("ssh", "batch01.internal:22", "signature", "Ed25519", "", "host key", 1.0),
            CryptoFinding("ssh", "batch01.internal:22", "protocol", "SSH", "2.0", "ssh identification", 1.0),
            CryptoFinding("file", "/etc/pki/hsm-wrap.key", "key", "ML-DSA", "65", "private key (PKCS#8)", 1.0),
            CryptoFinding("config", "hsm01.dc1", "cipher", "AES", "256", "HSM key wrap", 1.0,
                          {"mode": "wrap", "execution_environment": "hardware",
                           "certification_level": ["fips140-3-l3", "not-a-level"]}),
            CryptoFinding("asset-list", "勘定系", "cipher", "3DES", "", "暗号方式 (asset list)", 0.8),
            CryptoFinding("asset-list", "勘定系", "unknown", "独自暗号", "", "暗号方式 (asset list)", 0.8,
                          {"unrecognised": True})]


ASSETS = {"src/ib": {"system": "インターネットバンキング", "owner": "デジタル推進部", "exposure": "internet",
                     "retention_years": 10, "vendor": "Aベンダー"},
          "ib.example-sec.co.jp:443": {"system": "インターネットバンキング (web)", "exposure": "internet"},
          "勘定系": {"system": "勘定系", "vendor": "Bベンダー", "type": "application"},
          "batch01.internal:22": {"name": "夜間バッチ", "type": "data"}}


def _classify(f: CryptoFinding) -> dict[str, Any]:
    level = nist_quantum_level(f.algorithm, f.parameter)
    return {"status": "quantum-vulnerable" if level == 0 else "unknown" if level is None else "quantum-safe"}


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    return to_cbom(_mixed(), assets=ASSETS, classify=_classify,
                   serial="urn:uuid:3e671687-395b-41f5-a30f-a58921a69b79")


def _by_name(d: dict[str, Any], name: str) -> dict[str, Any]:
    return next(c for c in d["components"] if c["name"] == name)


def test_cbom_validates_against_official_schema(doc: dict[str, Any]) -> None:
    assert doc["bomFormat"] == "CycloneDX" and doc["specVersion"] == "1.6"
    assert doc["serialNumber"] == "urn:uuid:3e671687-395b-41f5-a30f-a58921a69b79"
    assert doc["metadata"]["tools"]["components"][0]["name"] == "mamori"
    assert validate_cbom(doc) == []


def test_broken_document_is_rejected(doc: dict[str, Any]) -> None:
    bad = copy.deepcopy(doc)
    del bad["bomFormat"]
    bad["metadata"]["timestamp"] = "yesterday"
    i = next(i for i, c in enumerate(bad["components"]) if c.get("cryptoProperties", {}).get("assetType") == "algorithm")
    bad["components"][i]["cryptoProperties"]["algorithmProperties"]["nistQuantumSecurityLevel"] = 9
    bad["components"][i + 1]["cryptoProperties"]["assetType"] = "spell"
    bad["serialNumber"] = "not-a-urn"
    bad["components"].append(copy.deepcopy(bad["components"][-1]))
    errors = validate_cbom(bad)
    text = "\n".join(errors)
    assert "/: 'bomFormat' is a required property" in text
    assert "/metadata/timestamp: " in text and "RFC 3339" in text
    assert f"/components/{i}/cryptoProperties/algorithmProperties/nistQuantumSecurityLevel: 9 is greater" in text
    assert f"/components/{i + 1}/cryptoProperties/assetType: 'spell' is not one of" in text
    assert "/serialNumber: 'not-a-urn' does not match" in text
    n = len(bad["components"])
    assert f"/components: items {n - 2} and {n - 1} are equal: the array must have unique items" in text


def test_components_deduplicated_with_occurrences_and_stable_refs(doc: dict[str, Any]) -> None:
    refs = [c["bom-ref"] for c in doc["components"]]
    assert len(refs) == len(set(refs))
    again = to_cbom(_mixed(), assets=ASSETS, classify=_classify)
    assert [c["bom-ref"] for c in again["components"]] == refs
    md5 = _by_name(doc, "MD5")
    assert md5["evidence"]["occurrences"] == [{"location": "src/ib/crypto.py", "line": 3,
                                               "additionalContext": "hashlib.md5()"}]
    assert {"name": "mamori:status", "value": "quantum-vulnerable"} in md5["properties"]
    aes = _by_name(doc, "AES-GCM")["cryptoProperties"]["algorithmProperties"]
    assert aes["primitive"] == "ae" and aes["mode"] == "gcm" and "nistQuantumSecurityLevel" not in aes
    aes256 = _by_name(doc, "AES-256")["cryptoProperties"]["algorithmProperties"]
    assert aes256["nistQuantumSecurityLevel"] == 5 and aes256["classicalSecurityLevel"] == 256
    hybrid = _by_name(doc, "X25519MLKEM768")["cryptoProperties"]
    assert hybrid["algorithmProperties"]["primitive"] == "kem"
    assert hybrid["algorithmProperties"]["nistQuantumSecurityLevel"] == 3
    ecdh = _by_name(doc, "ECDH-P-256")["cryptoProperties"]["algorithmProperties"]
    assert (ecdh["primitive"], ecdh["curve"], ecdh["nistQuantumSecurityLevel"]) == ("key-agree", "secp256r1", 0)
    hsm = _by_name(doc, "AES-256-WRAP")
    ap = hsm["cryptoProperties"]["algorithmProperties"]
    assert (ap["mode"], ap["executionEnvironment"], ap["certificationLevel"]) == ("other", "hardware", ["fips140-3-l3"])
    assert {"name": "mamori:mode", "value": "wrap"} in hsm["properties"]
    mldsa = _by_name(doc, "ML-DSA-65")["cryptoProperties"]
    assert mldsa["oid"] == "2.16.840.1.101.3.4.3.18"


def test_certificate_protocol_and_dependencies(doc: dict[str, Any]) -> None:
    cert = _by_name(doc, "ib.example-sec.co.jp")
    props = cert["cryptoProperties"]["certificateProperties"]
    assert props["notValidAfter"] == "2027-01-31T23:59:59Z"
    assert props["issuerName"] == "CN=Example CA G2"
    refs = {c["bom-ref"]: c for c in doc["components"]}
    sig = refs[props["signatureAlgorithmRef"]]
    assert sig["name"] == "SHA-256withRSA-4096"
    assert sig["cryptoProperties"]["algorithmProperties"]["nistQuantumSecurityLevel"] == 0
    key = refs[props["subjectPublicKeyRef"]]
    assert key["cryptoProperties"]["relatedCryptoMaterialProperties"]["type"] == "public-key"
    assert key["cryptoProperties"]["relatedCryptoMaterialProperties"]["size"] == 2048
    tls12 = _by_name(doc, "TLSv1.2")["cryptoProperties"]["protocolProperties"]
    assert [s["name"] for s in tls12["cipherSuites"]] == ["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
                                                         "TLS_RSA_WITH_3DES_EDE_CBC_SHA"]
    assert {refs[r]["name"] for r in tls12["cipherSuites"][1]["algorithms"]} == {"RSA", "3DES-CBC", "HMAC-SHA-1"}
    assert refs[tls12["cryptoRefArray"][0]]["name"] in ("X25519MLKEM768", "ECDH-P-256")
    apps = {c["name"]: c for c in doc["components"] if c["type"] in ("application", "data")}
    assert set(apps) == {"インターネットバンキング", "インターネットバンキング (web)", "勘定系", "夜間バッチ"}
    assert apps["夜間バッチ"]["type"] == "data"
    assert apps["勘定系"]["supplier"] == {"name": "Bベンダー"}
    deps = {d["ref"]: set(d["dependsOn"]) for d in doc["dependencies"]}
    ib = deps[apps["インターネットバンキング"]["bom-ref"]]
    assert {refs[r]["name"] for r in ib} >= {"MD5", "TLSv1.2", "AES-GCM", "SHA-256withECDSA"}
    web = {refs[r]["name"] for r in deps[apps["インターネットバンキング (web)"]["bom-ref"]]}
    assert {"X25519MLKEM768", "TLSv1.3", "ib.example-sec.co.jp"} <= web
    core = {refs[r]["name"] for r in deps[apps["勘定系"]["bom-ref"]]}
    assert core == {"3DES", "独自暗号"}
    unknown = _by_name(doc, "独自暗号")
    assert {"name": "mamori:nistQuantumSecurityLevel", "value": "unknown"} in unknown["properties"]


QUANTUM_GOLDEN = [
    ("RSA", "2048", 0), ("RSA", "15360", 0), ("ECDSA", "P-384", 0), ("ECDH", "P-256", 0), ("EC", "", 0),
    ("X25519", "", 0), ("Ed25519", "", 0), ("DH", "3072", 0), ("DSA", "2048", 0),
    ("ML-KEM", "512", 1), ("ML-KEM", "768", 3), ("ML-KEM", "1024", 5), ("ML-KEM", "", None),
    ("ML-DSA", "44", 2), ("ML-DSA", "65", 3), ("ML-DSA", "87", 5),
    ("SLH-DSA", "SHA2-128s", 1), ("SLH-DSA", "SHAKE-192f", 3), ("SLH-DSA", "SHA2-256f", 5),
    ("X25519MLKEM768", "", 3), ("SecP256r1MLKEM768", "", 3), ("SecP384r1MLKEM1024", "", 5),
    ("mlkem768x25519-sha256", "", 3),
    ("AES", "128", 1), ("AES", "192", 3), ("AES", "256", 5), ("AES", "", None), ("Camellia", "256", 5),
    ("ChaCha20-Poly1305", "", 5), ("3DES", "", 0), ("DES", "", 0), ("RC4", "", 0),
    ("SHA-256", "", 2), ("SHA3-256", "", 2), ("SHA-384", "", 4), ("SHA3-384", "", 4), ("SHA-512", "", 5),
    ("SHA-224", "", 0), ("SHA-1", "", 0), ("MD5", "", 0),
    ("HMAC", "SHA-256", 5), ("HMAC", "SHA-1", 1), ("HMAC", "MD5", None),
    ("PBKDF2", "SHA-256", None), ("TLS", "1.3", None), ("独自暗号", "", None),
]


@pytest.mark.parametrize(("algorithm", "parameter", "level"), QUANTUM_GOLDEN)
def test_nist_quantum_levels(algorithm: str, parameter: str, level: int | None) -> None:
    assert nist_quantum_level(algorithm, parameter) == level


@pytest.mark.parametrize(("algorithm", "parameter", "bits"), [
    ("RSA", "1024", 80), ("RSA", "2048", 112), ("RSA", "3072", 128), ("RSA", "4096", 128), ("DH", "2048", 112),
    ("ECDSA", "P-256", 128), ("ECDH", "P-224", 112), ("EC", "P-521", 256), ("X25519", "", 128), ("Ed448", "", 224),
    ("AES", "128", 128), ("3DES", "", 112), ("SHA-256", "", 128), ("SHA-1", "", 63), ("ML-KEM", "768", 192),
    ("X25519MLKEM768", "", 192), ("RSA", "", None),
])
def test_classical_levels(algorithm: str, parameter: str, bits: int | None) -> None:
    assert classical_security_level(algorithm, parameter) == bits


def test_round_trip_keeps_algorithms_and_locations(tmp_path: Path, doc: dict[str, Any]) -> None:
    path = tmp_path / "inventory.cdx.json"
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    back = read_cbom(path)
    want = {(f.location, f.primitive, f.algorithm, f.parameter, f.context) for f in _mixed()}
    got = {(f.location, f.primitive, f.algorithm, f.parameter, f.context) for f in back}
    assert got == want
    assert all(f.source == "cbom" for f in back)
    md5 = next(f for f in back if f.algorithm == "MD5")
    assert md5.confidence == 0.9 and md5.detail["original_sources"] == ["code"]
    gcm = next(f for f in back if f.algorithm == "AES" and f.detail.get("mode") == "gcm")
    assert gcm.location.startswith("src/ib/Main.java:")
    cert = next(f for f in back if f.primitive == "certificate")
    assert cert.detail["not_after"] == "2027-01-31T23:59:59Z" and cert.detail["sha256"] == "ab" * 32


EXTERNAL = {
    "bomFormat": "CycloneDX", "specVersion": "1.6", "serialNumber": "urn:uuid:e8c355aa-2142-4084-a8c7-6d42c8610ba2",
    "version": 1,
    "metadata": {"timestamp": "2026-09-01T12:00:00Z",
                 "tools": {"services": [{"provider": {"name": "IBM"}, "name": "Sonar Cryptography Plugin",
                                         "version": "1.4.0"}]},
                 "component": {"type": "application", "name": "keycloak", "version": "main"}},
    "components": [
        {"type": "library", "bom-ref": "lib-bc", "name": "bcprov-jdk18on", "version": "1.80"},
        {"type": "cryptographic-asset", "bom-ref": "5a2c-aes", "name": "AES128-GCM",
         "evidence": {"occurrences": [{"location": "services/src/main/java/org/keycloak/jose/jwe/AesGcmEncryption.java",
                                       "line": 48, "offset": 31,
                                       "additionalContext": "javax.crypto.Cipher#getInstance(Ljava/lang/String;)"}]},
         "cryptoProperties": {"assetType": "algorithm", "oid": "2.16.840.1.101.3.4.1",
                              "algorithmProperties": {"primitive": "ae", "parameterSetIdentifier": "128",
                                                      "mode": "gcm", "executionEnvironment": "software-plain-ram",
                                                      "implementationPlatform": "x86_64",
                                                      "cryptoFunctions": ["encrypt", "decrypt"],
                                                      "nistQuantumSecurityLevel": 1}}},
        {"type": "cryptographic-asset", "bom-ref": "9f1e-rsa", "name": "RSA-2048",
         "cryptoProperties": {"assetType": "algorithm", "oid": "1.2.840.113549.1.1.1",
                              "algorithmProperties": {"primitive": "pke", "parameterSetIdentifier": "2048"}}},
        {"type": "cryptographic-asset", "bom-ref": "0c77-key", "name": "private-key@9f1e-rsa",
         "evidence": {"occurrences": [{"location": "core/src/main/java/org/keycloak/KeyUtils.java", "line": 77}]},
         "cryptoProperties": {"assetType": "related-crypto-material",
                              "relatedCryptoMaterialProperties": {"type": "private-key", "size": 2048,
                                                                  "algorithmRef": "9f1e-rsa"}}},
        {"type": "cryptographic-asset", "bom-ref": "b3d1-sig", "name": "SHA256withRSA",
         "evidence": {"occurrences": [{"location": "core/src/main/java/org/keycloak/crypto/RSASigner.java",
                                       "line": 35}]},
         "cryptoProperties": {"assetType": "algorithm", "algorithmProperties": {"primitive": "signature"}}},
        {"type": "cryptographic-asset", "bom-ref": "e11c-ecdh", "name": "ECDH",
         "evidence": {"occurrences": [{"location": "crypto/src/Ecdh.java", "line": 12}]},
         "cryptoProperties": {"assetType": "algorithm",
                              "algorithmProperties": {"primitive": "key-agree", "curve": "secg/secp256r1"}}},
        {"type": "cryptographic-asset", "bom-ref": "77aa-kem", "name": "ML-KEM-768",
         "evidence": {"occurrences": [{"location": "crypto/src/Kem.java", "line": 9}]},
         "cryptoProperties": {"assetType": "algorithm", "oid": "2.16.840.1.101.3.4.4.2",
                              "algorithmProperties": {"primitive": "kem", "parameterSetIdentifier": "768"}}},
        {"type": "cryptographic-asset", "bom-ref": "cert-1", "name": "CN=idp.example.co.jp",
         "evidence": {"occurrences": [{"location": "conf/tls/idp.pem"}]},
         "cryptoProperties": {"assetType": "certificate",
                              "certificateProperties": {"subjectName": "CN=idp.example.co.jp",
                                                        "issuerName": "CN=Example CA",
                                                        "notValidAfter": "2027-03-31T00:00:00Z",
                                                        "signatureAlgorithmRef": "b3d1-sig",
                                                        "subjectPublicKeyRef": "0c77-key"}}},
        {"type": "cryptographic-asset", "bom-ref": "tls12", "name": "TLSv1.2",
         "cryptoProperties": {"assetType": "protocol",
                              "protocolProperties": {"type": "tls", "version": "1.2",
                                                     "cipherSuites": [{"name": "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
                                                                       "algorithms": ["5a2c-aes"],
                                                                       "identifiers": ["0xC0", "0x2F"]}]}}},
        {"type": "cryptographic-asset", "bom-ref": "odd", "name": "FancyCipher-9000",
         "cryptoProperties": {"assetType": "algorithm", "algorithmProperties": {"primitive": "block-cipher"}}},
        {"type": "cryptographic-asset", "name": "SHA-256"},
    ],
    "dependencies": [{"ref": "lib-bc", "dependsOn": ["5a2c-aes", "9f1e-rsa"]}],
}


def test_external_cbom_imports(tmp_path: Path) -> None:
    path = tmp_path / "sonar-cbom.json"
    path.write_text(json.dumps(EXTERNAL), encoding="utf-8")
    assert validate_cbom(EXTERNAL) == []  # the sample itself is a valid 1.6 document
    fs = read_cbom(path)
    by_alg = {(f.primitive, f.algorithm, f.parameter): f for f in fs}
    aes = by_alg[("cipher", "AES", "128")]
    assert aes.location == "services/src/main/java/org/keycloak/jose/jwe/AesGcmEncryption.java:48"
    assert aes.detail["mode"] == "gcm" and aes.detail["declared_nistQuantumSecurityLevel"] == 1
    assert aes.context.startswith("javax.crypto.Cipher#getInstance")
    key = by_alg[("key", "RSA", "2048")]
    assert key.location == "core/src/main/java/org/keycloak/KeyUtils.java:77"
    assert key.detail["key_type"] == "private-key"
    sig = by_alg[("signature", "RSA", "")]
    assert sig.detail["hash"] == "SHA-256"
    assert by_alg[("key-exchange", "ECDH", "P-256")].location == "crypto/src/Ecdh.java:12"
    assert by_alg[("key-exchange", "ML-KEM", "768")].detail["oid"] == "2.16.840.1.101.3.4.4.2"
    cert = next(f for f in fs if f.primitive == "certificate")
    assert (cert.location, cert.algorithm, cert.detail["subject"]) == ("conf/tls/idp.pem", "RSA",
                                                                       "CN=idp.example.co.jp")
    tls = by_alg[("protocol", "TLS", "1.2")]
    assert tls.location == f"{path}#/components/8"
    assert tls.detail["cipher_suites"] == ["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"]
    odd = next(f for f in fs if f.algorithm == "FancyCipher-9000")
    assert odd.primitive == "cipher" and odd.detail["unrecognised"] is True
    assert by_alg[("hash", "SHA-256", "")].location == f"{path}#/components/10"
    # RSA-2048 itself has no occurrence and is referenced by the key: it is a part, not a finding
    assert ("unknown", "RSA", "2048") not in by_alg and ("public-key-encryption", "RSA", "2048") not in by_alg
    assert not any(f.algorithm == "bcprov-jdk18on" for f in fs)


def test_malformed_cbom_named(tmp_path: Path) -> None:
    notjson = tmp_path / "broken.json"
    notjson.write_text('{"bomFormat": "CycloneDX", ', encoding="utf-8")
    with pytest.raises(CbomError, match=rf"{notjson}: not JSON: .* line 1"):
        read_cbom(notjson)
    spdx = tmp_path / "spdx.json"
    spdx.write_text('{"spdxVersion": "SPDX-2.3"}', encoding="utf-8")
    with pytest.raises(CbomError, match=rf"{spdx}#/bomFormat: expected 'CycloneDX'"):
        read_cbom(spdx)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"bomFormat": "CycloneDX", "specVersion": "1.6", "components": [
        {"type": "cryptographic-asset", "name": "AES-256-GCM",
         "evidence": {"occurrences": [{"line": 3}, {"location": "a.java", "line": "x"}]}},
        {"type": "cryptographic-asset", "name": "x", "cryptoProperties": {"assetType": "spell"}},
        {"type": "cryptographic-asset", "name": "y", "cryptoProperties": "nope"},
        "not a component",
        {"type": "cryptographic-asset", "name": "SHA-384",
         "evidence": {"occurrences": [{"location": "h.go", "line": 5}]}}]}), encoding="utf-8")
    with pytest.raises(CbomError) as err:
        read_cbom(bad)
    msgs = err.value.errors
    assert f"{bad}#/components/0/evidence/occurrences/0: an occurrence needs a location" in msgs
    assert f"{bad}#/components/0/evidence/occurrences/1/line: expected an integer, got 'x'" in msgs
    assert f"{bad}#/components/1/cryptoProperties/assetType: unknown assetType 'spell'" in msgs
    assert f"{bad}#/components/2/cryptoProperties: expected an object" in msgs
    assert f"{bad}#/components/3: expected a component object" in msgs
    problems: list[str] = []
    fs = read_cbom(bad, problems=problems)
    assert len(problems) == 5
    assert {(f.algorithm, f.parameter, f.location) for f in fs} == {("AES", "256", "a.java"),
                                                                     ("SHA-384", "", "h.go:5")}


CSV_HEADER = "システム名,所管部署,業務,保有データ,秘匿期間(年),公開区分,次回更改,ベンダー,暗号方式,備考\n"
CSV_ROWS = ("インターネットバンキング,デジタル推進部,個人向けIB,顧客口座情報,10,インターネット,2028年4月,Aベンダー,"
            "\"RSA-2048; AES-128-CBC; TLS1.2\",\n"
            "勘定系,システム部,勘定系,取引履歴,永年,内部,令和10年度,Bベンダー,\"3DES、SHA-1、独自暗号\",メインフレーム\n"
            "API基盤,,オープンAPI,,7,internet,2027/10/01,,,\n")


@pytest.mark.parametrize("encoding", ["utf-8-sig", "cp932"])
def test_csv_asset_list_with_japanese_headers(tmp_path: Path, encoding: str) -> None:
    path = tmp_path / "台帳.csv"
    path.write_bytes((CSV_HEADER + CSV_ROWS).encode(encoding))
    assets, findings = read_asset_list(path)
    assert [a["id"] for a in assets] == ["インターネットバンキング", "勘定系", "API基盤"]
    ib, core, api = assets
    assert (ib["owner"], ib["retention_years"], ib["exposure"], ib["renewal"], ib["vendor"]) == (
        "デジタル推進部", 10, "internet", "2028-04", "Aベンダー")
    assert ib["algorithms"] == ["RSA-2048", "AES-128-CBC", "TLS1.2"]
    assert (core["retention_years"], core["exposure"], core["renewal"]) == (100, "internal", "2028-04")
    assert core["extra"] == {"備考": "メインフレーム"} and core["source"] == f"{path}:3"
    assert api["renewal"] == "2027-10-01" and api["exposure"] == "internet"
    got = {(f.location, f.primitive, f.algorithm, f.parameter) for f in findings}
    assert got == {("インターネットバンキング", "unknown", "RSA", "2048"),
                   ("インターネットバンキング", "cipher", "AES", "128"),
                   ("インターネットバンキング", "protocol", "TLS", "1.2"),
                   ("勘定系", "cipher", "3DES", ""), ("勘定系", "hash", "SHA-1", ""),
                   ("勘定系", "unknown", "独自暗号", ""), ("API基盤", "unknown", "unknown", "")}
    assert all(f.source == "asset-list" and f.confidence == 0.8 for f in findings)
    assert next(f for f in findings if f.algorithm == "AES").detail["mode"] == "cbc"
    doc = to_cbom(findings, assets={a["id"]: a for a in assets})
    assert validate_cbom(doc) == []
    apps = [c for c in doc["components"] if c["type"] == "application"]
    assert len(apps) == 3 and len(doc["dependencies"]) >= 3


def test_xlsx_asset_list_with_japanese_headers(tmp_path: Path) -> None:
    openpyxl = pytest.importorskip("openpyxl")
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "資産一覧"
    ws.append(["システム名", "所管部署", "業務", "保有データ", "秘匿期間（年）", "公開区分", "次回更改", "ベンダー",
               "暗号方式"])
    ws.append(["外為システム", "国際部", "外国為替", "送金情報", 7, "提携先", datetime(2029, 3, 1), "Cベンダー",
               "ECDHE P-256\nRSA 2048bit\nSHA-256"])
    ws.append([None] * 9)
    ws.append(["SWIFT接続", "国際部", "SWIFT", None, 5.5, "internal", "2030", None, "TLS1.3；ML-KEM-768"])
    path = tmp_path / "assets.xlsx"
    wb.save(path)
    assets, findings = read_asset_list(path)
    assert [a["system"] for a in assets] == ["外為システム", "SWIFT接続"]
    assert assets[0]["renewal"] == "2029-03-01" and assets[0]["exposure"] == "partner"
    assert assets[1]["retention_years"] == 5.5 and assets[1]["source"] == f"{path}:4"
    got = {(f.location, f.algorithm, f.parameter) for f in findings}
    assert got == {("外為システム", "ECDH", "P-256"), ("外為システム", "RSA", "2048"), ("外為システム", "SHA-256", ""),
                   ("SWIFT接続", "TLS", "1.3"), ("SWIFT接続", "ML-KEM", "768")}


def test_bad_rows_named_with_file_and_row(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("system,exposure,retention_years,renewal,algorithms\n"
                    "ok,internal,3,2028-04,AES-256-GCM\n"
                    ",internal,3,,RSA\n"
                    "space,宇宙,3,,RSA\n"
                    "ten,internet,十年,,RSA\n"
                    "when,internet,3,someday,RSA\n", encoding="utf-8")
    with pytest.raises(AssetListError) as err:
        read_asset_list(path)
    errors = err.value.errors
    assert errors[0] == f"{path}:3: system/システム名 is empty"
    assert errors[1].startswith(f"{path}:4: exposure '宇宙'")
    assert errors[2].startswith(f"{path}:5: retention '十年'")
    assert errors[3].startswith(f"{path}:6: renewal 'someday'")
    problems: list[str] = []
    assets, findings = read_asset_list(path, problems=problems)
    assert len(problems) == 4 and [a["id"] for a in assets] == ["ok"]
    assert [(f.algorithm, f.parameter) for f in findings] == [("AES", "256")]


def test_malformed_asset_lists(tmp_path: Path) -> None:
    nosys = tmp_path / "nosys.csv"
    nosys.write_text("owner,algorithms\nIT,RSA\n", encoding="utf-8")
    with pytest.raises(AssetListError, match=rf"{nosys}:1: no system/システム名 column"):
        read_asset_list(nosys)
    fake = tmp_path / "fake.xlsx"
    fake.write_bytes(b"this is not a zip file")
    with pytest.raises(AssetListError, match=rf"{fake}:1: not a readable .xlsx workbook"):
        read_asset_list(fake)
    xls = tmp_path / "old.xls"
    xls.write_bytes(b"\xd0\xcf\x11\xe0")
    problems: list[str] = []
    assert read_asset_list(xls, problems=problems) == ([], [])
    assert "unsupported file type .xls" in problems[0]
    binary = tmp_path / "bin.csv"
    binary.write_bytes(b"\x81\xff\xfe\x00")
    with pytest.raises(AssetListError, match="neither UTF-8 nor Shift_JIS"):
        read_asset_list(binary)


def test_bench_cbom() -> None:
    rate = bench_cbom(4000)
    assert rate > 2000  # the target (10,000/s) is measured by the benchmark itself; this only guards regressions
