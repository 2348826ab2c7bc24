"""Source-code discovery (mamori.pqc.discovery.code): true positives per language with algorithm, parameter and
line; look-alikes that must not match; malformed files reported, not fatal; the process pool; the benchmark."""

from __future__ import annotations

from pathlib import Path

import pytest

from mamori.pqc.discovery.code import (
    AlgorithmName,
    bench_code,
    parse_algorithm_name,
    parse_jws_algorithm,
    scan_code,
    scan_text,
)
from mamori.pqc.model import CryptoFinding

PY = '''\
import hashlib, hmac, ssl
import jwt
from cryptography.hazmat.primitives.asymmetric import rsa, ec, ed25519, x25519, padding, mlkem
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from Crypto.Cipher import AES
from Crypto.PublicKey import RSA

KEY_BITS = 1024
rsa_count = 0  # a variable named like an algorithm: no finding


def legacy(data, key, iv):
    """Docstring: hashlib.sha1( is only mentioned here."""
    # we used hashlib.md5( before (a comment)
    log.info("we removed SHA1")
    d = hashlib.md5(data).hexdigest()
    mac = hmac.new(key, data, hashlib.sha256)
    k1 = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    k2 = rsa.generate_private_key(65537, KEY_BITS)
    k3 = ec.generate_private_key(ec.SECP384R1())
    s = ed25519.Ed25519PrivateKey.generate()
    x = x25519.X25519PrivateKey.generate()
    c = Cipher(algorithms.AES(key), modes.ECB())
    c2 = AES.new(key, AES.MODE_CBC, iv)
    r = RSA.generate(3072)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLSv1)
    t = jwt.encode({"a": 1}, key, algorithm="HS256")
    ok = jwt.decode(t, key, algorithms=["ES256"])
    kem = mlkem.MLKEM768PrivateKey.generate()
    enc = padding.OAEP(mgf=None, algorithm=None, label=None)
    return d
'''

JAVA = '''\
package com.example;

import javax.crypto.Cipher;
import java.security.*;

public class Legacy {
    private static final String TRANSFORMATION = "DESede/CBC/PKCS5Padding";
    private int rsaCount = 0;

    // MessageDigest.getInstance("MD5") was used here once
    public void run() throws Exception {
        MessageDigest md = MessageDigest.getInstance("MD5");
        Cipher ecb = Cipher.getInstance("AES/ECB/PKCS5Padding");
        Cipher dflt = Cipher.getInstance("AES");
        Cipher tdes = Cipher.getInstance(TRANSFORMATION);
        KeyPairGenerator kpg = KeyPairGenerator.getInstance("RSA");
        kpg.initialize(1024);
        KeyPairGenerator ec = KeyPairGenerator.getInstance("EC");
        ec.initialize(new ECGenParameterSpec("secp256r1"));
        KeyAgreement ka = KeyAgreement.getInstance("X25519");
        Signature sig = Signature.getInstance("SHA1withRSA");
        SSLContext tls = SSLContext.getInstance("TLSv1");
        Mac mac = Mac.getInstance("HmacSHA256");
        KeyPairGenerator pq = KeyPairGenerator.getInstance("ML-KEM-768");
        BlockCipher bc = new CBCBlockCipher(new AESEngine());
        System.out.println("we removed SHA1 and MD5 support");
        String label = "RSA";
    }
}
'''

GO = '''\
package main

import (
\t"crypto/ecdh"
\t"crypto/md5"
\t"crypto/mlkem"
\t"crypto/rand"
\t"crypto/rsa"
\t"crypto/sha1"
\t"crypto/tls"
)

// md5.Sum(data) would be wrong here: a comment
func main() {
\tsum := md5.Sum([]byte("x"))
\th := sha1.New()
\tkey, _ := rsa.GenerateKey(rand.Reader, 1024)
\tpriv, _ := ecdh.P256().GenerateKey(rand.Reader)
\tdk, _ := mlkem.GenerateKey768()
\tcfg := &tls.Config{
\t\tMinVersion:       tls.VersionTLS10,
\t\tCurvePreferences: []tls.CurveID{tls.X25519MLKEM768, tls.CurveP256},
\t\tCipherSuites:     []uint16{tls.TLS_RSA_WITH_AES_128_CBC_SHA},
\t}
\tfmt.Println("we removed SHA1", sum, h, key, priv, dk, cfg)
}
'''

JS = '''\
const crypto = require('crypto');
const jwt = require('jsonwebtoken');

// crypto.createHash('md5') is deprecated here
const h = crypto.createHash('sha1').update('x').digest('hex');
const c = crypto.createCipheriv('aes-128-cbc', key, iv);
const { publicKey, privateKey } = crypto.generateKeyPairSync('rsa', {
  modulusLength: 2048,
});
const ecdh = crypto.createECDH('prime256v1');
jwt.sign(payload, secret, { algorithm: 'RS256' });
console.log(`we removed createHash('md5') support`);
'''

TS = '''\
export async function gen(): Promise<CryptoKeyPair> {
  const alg = { name: 'RSA-OAEP', modulusLength: 4096, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' };
  const d = await crypto.subtle.digest('SHA-1', new Uint8Array(4));
  return crypto.subtle.generateKey(alg, true, ['encrypt', 'decrypt']);
}
'''

C = '''\
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <sodium.h>

/* EVP_md5() must not be used: a comment */
int f(EVP_CIPHER_CTX *ctx, RSA *rsa, BIGNUM *e, SSL_CTX *sctx) {
    EVP_EncryptInit_ex(ctx, EVP_aes_128_cbc(), NULL, key, iv);
    RSA_generate_key_ex(rsa, 1024, e, NULL);
    EC_KEY *k = EC_KEY_new_by_curve_name(NID_X9_62_prime256v1);
    SSL_CTX_set_cipher_list(sctx, "HIGH:!aNULL:!MD5");
    SSL_CTX_set1_groups_list(sctx, "X25519MLKEM768:X25519");
    crypto_box_keypair(pk, sk);
    crypto_sign_keypair(spk, ssk);
    printf("we removed EVP_md5() in 2019\\n");
    return 0;
}
'''


def _line(text: str, needle: str) -> int:
    for i, line in enumerate(text.splitlines(), 1):
        if needle in line:
            return i
    raise AssertionError(needle)


def _has(findings: list[CryptoFinding], path: str, algorithm: str, parameter: str, line: int,
         **detail: str) -> CryptoFinding:
    for f in findings:
        if f.detail["file"] == path and f.algorithm == algorithm and f.parameter == parameter and \
                f.detail["line"] == line and all(f.detail.get(k) == v for k, v in detail.items()):
            return f
    got = [(f.algorithm, f.parameter, f.detail["line"]) for f in findings if f.detail["file"] == path]
    raise AssertionError(f"{algorithm} {parameter!r} line {line} not in {path}: {got}")


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("src")
    files = {"app/legacy.py": PY, "app/Legacy.java": JAVA, "svc/main.go": GO, "web/app.js": JS, "web/gen.ts": TS,
             "native/crypto.c": C}
    for name, text in files.items():
        p = root / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")
    vend = root / "web" / "node_modules" / "dep"
    vend.mkdir(parents=True)
    (vend / "index.js").write_text("const h = require('crypto').createHash('md5');\n", encoding="utf-8")
    (root / "app" / "blob.py").write_bytes(b"\x00\x01\x02hashlib.md5(\x00" * 10)
    (root / "app" / "latin.py").write_bytes(b"# caf\xe9 \xff\xfe\nimport hashlib\nx = hashlib.sha1(b'a')\n")
    (root / "app" / "big.py").write_bytes(b"x = 1\n" * 500_000)  # 3 MB: over the default limit
    (root / "app" / "sjis.py").write_bytes("# 暗号ソフト（Shift_JIS）\nimport hashlib\nd = hashlib.md5(b'x')\n"
                                           .encode("cp932"))
    return root


@pytest.fixture(scope="module")
def result(tree: Path):
    return scan_code([tree], workers=1)


def test_python_true_positives(tree: Path, result) -> None:
    p = str(tree / "app/legacy.py")
    fs = list(result.findings)
    md5 = _has(fs, p, "MD5", "", _line(PY, "hashlib.md5(data)"))
    assert md5.confidence == 0.9 and md5.primitive == "hash" and md5.location == f"{p}:{md5.detail['line']}"
    _has(fs, p, "HMAC", "SHA-256", _line(PY, "hmac.new("))
    _has(fs, p, "RSA", "2048", _line(PY, "key_size=2048"))
    k2 = _has(fs, p, "RSA", "1024", _line(PY, "KEY_BITS)"))
    assert k2.detail["resolved_from"] == "KEY_BITS" and k2.confidence == 0.8
    _has(fs, p, "EC", "P-384", _line(PY, "ec.SECP384R1()"))
    _has(fs, p, "Ed25519", "", _line(PY, "Ed25519PrivateKey"))
    _has(fs, p, "X25519", "", _line(PY, "X25519PrivateKey"))
    _has(fs, p, "AES", "", _line(PY, "modes.ECB()"), mode="ecb")
    _has(fs, p, "AES", "", _line(PY, "AES.MODE_CBC"), mode="cbc")
    _has(fs, p, "RSA", "3072", _line(PY, "RSA.generate(3072)"))
    _has(fs, p, "TLS", "1.0", _line(PY, "PROTOCOL_TLSv1"))
    _has(fs, p, "HMAC", "SHA-256", _line(PY, 'algorithm="HS256"'), jws="HS256")
    _has(fs, p, "ECDSA", "P-256", _line(PY, 'algorithms=["ES256"]'), jws="ES256")
    _has(fs, p, "ML-KEM", "768", _line(PY, "MLKEM768PrivateKey"))
    _has(fs, p, "RSA", "", _line(PY, "padding.OAEP("))


def test_java_true_positives(tree: Path, result) -> None:
    p = str(tree / "app/Legacy.java")
    fs = list(result.findings)
    _has(fs, p, "MD5", "", _line(JAVA, 'MessageDigest md ='))
    ecb = _has(fs, p, "AES", "", _line(JAVA, '"AES/ECB/PKCS5Padding"'), mode="ecb", padding="pkcs5")
    assert ecb.confidence == 0.9
    dflt = _has(fs, p, "AES", "", _line(JAVA, 'Cipher.getInstance("AES")'), mode="ecb")
    assert "default" in dflt.detail["note"]
    tdes = _has(fs, p, "3DES", "", _line(JAVA, "getInstance(TRANSFORMATION)"), mode="cbc")
    assert tdes.detail["resolved_from"] == "TRANSFORMATION"
    rsa = _has(fs, p, "RSA", "1024", _line(JAVA, 'KeyPairGenerator.getInstance("RSA")'))
    assert rsa.primitive == "key"
    _has(fs, p, "EC", "P-256", _line(JAVA, 'KeyPairGenerator.getInstance("EC")'))
    _has(fs, p, "X25519", "", _line(JAVA, "KeyAgreement"))
    sig = _has(fs, p, "RSA", "", _line(JAVA, "SHA1withRSA"))
    assert sig.primitive == "signature" and sig.detail["hash"] == "SHA-1"
    _has(fs, p, "SHA-1", "", _line(JAVA, "SHA1withRSA"))
    _has(fs, p, "TLS", "1.0", _line(JAVA, "SSLContext"))
    _has(fs, p, "HMAC", "SHA-256", _line(JAVA, "HmacSHA256"))
    _has(fs, p, "ML-KEM", "768", _line(JAVA, "ML-KEM-768"))
    _has(fs, p, "AES", "", _line(JAVA, "CBCBlockCipher"), mode="cbc")
    bare = _has(fs, p, "RSA", "", _line(JAVA, 'label = "RSA"'))
    assert bare.confidence < 0.5 and bare.context == "string literal"


def test_go_true_positives(tree: Path, result) -> None:
    p = str(tree / "svc/main.go")
    fs = list(result.findings)
    _has(fs, p, "MD5", "", _line(GO, "md5.Sum([]byte"))
    _has(fs, p, "SHA-1", "", _line(GO, "sha1.New()"))
    rsa = _has(fs, p, "RSA", "1024", _line(GO, "rsa.GenerateKey"))
    assert rsa.confidence == 0.9
    _has(fs, p, "ECDH", "P-256", _line(GO, "ecdh.P256()"))
    _has(fs, p, "ML-KEM", "768", _line(GO, "mlkem.GenerateKey768"))
    tls10 = _has(fs, p, "TLS", "1.0", _line(GO, "tls.VersionTLS10"))
    assert tls10.context == "tls.Config MinVersion"
    hybrid = _has(fs, p, "X25519MLKEM768", "", _line(GO, "tls.X25519MLKEM768"))
    assert hybrid.primitive == "key-exchange"
    _has(fs, p, "ECDH", "P-256", _line(GO, "tls.CurveP256"))
    _has(fs, p, "TLS", "", _line(GO, "TLS_RSA_WITH_AES_128_CBC_SHA"), cipher_suite="TLS_RSA_WITH_AES_128_CBC_SHA")


def test_js_ts_true_positives(tree: Path, result) -> None:
    p = str(tree / "web/app.js")
    fs = list(result.findings)
    _has(fs, p, "SHA-1", "", _line(JS, "createHash('sha1')"))
    _has(fs, p, "AES", "128", _line(JS, "aes-128-cbc"), mode="cbc")
    _has(fs, p, "RSA", "2048", _line(JS, "generateKeyPairSync('rsa'"))
    _has(fs, p, "ECDH", "P-256", _line(JS, "createECDH"))
    _has(fs, p, "RSA", "", _line(JS, "algorithm: 'RS256'"), jws="RS256")
    t = str(tree / "web/gen.ts")
    oaep = _has(fs, t, "RSA", "4096", _line(TS, "RSA-OAEP"), padding="oaep")
    assert oaep.primitive == "public-key-encryption"
    _has(fs, t, "SHA-1", "", _line(TS, "subtle.digest"))


def test_c_true_positives(tree: Path, result) -> None:
    p = str(tree / "native/crypto.c")
    fs = list(result.findings)
    _has(fs, p, "AES", "128", _line(C, "EVP_aes_128_cbc()"), mode="cbc")
    rsa = _has(fs, p, "RSA", "1024", _line(C, "RSA_generate_key_ex"))
    assert rsa.confidence == 0.9
    _has(fs, p, "EC", "P-256", _line(C, "EC_KEY_new_by_curve_name"))
    _has(fs, p, "TLS", "", _line(C, "SSL_CTX_set_cipher_list"), cipher_list="HIGH:!aNULL:!MD5")
    _has(fs, p, "X25519MLKEM768", "", _line(C, "set1_groups_list"))
    _has(fs, p, "X25519", "", _line(C, "set1_groups_list"))
    _has(fs, p, "X25519", "", _line(C, "crypto_box_keypair"))
    _has(fs, p, "Ed25519", "", _line(C, "crypto_sign_keypair"))


def test_look_alikes_do_not_match(tree: Path, result) -> None:
    by_file: dict[str, set[int]] = {}
    for f in result.findings:
        by_file.setdefault(f.detail["file"], set()).add(f.detail["line"])
    for name, text, needles in (
            ("app/legacy.py", PY, ["rsa_count", "we removed SHA1", "# we used hashlib.md5(", "Docstring"]),
            ("app/Legacy.java", JAVA, ["rsaCount", "// MessageDigest", "we removed SHA1"]),
            ("svc/main.go", GO, ["// md5.Sum", "we removed SHA1"]),
            ("web/app.js", JS, ["// crypto.createHash('md5')", "we removed createHash"]),
            ("native/crypto.c", C, ["/* EVP_md5()", "we removed EVP_md5()"])):
        lines = by_file.get(str(tree / name), set())
        for needle in needles:
            assert _line(text, needle) not in lines, (name, needle)
    assert not any("node_modules" in f.location for f in result.findings)


def test_vendored_included_on_request(tree: Path) -> None:
    res = scan_code([tree / "web"], workers=1, include_vendored=True)
    assert any("node_modules" in f.location and f.algorithm == "MD5" for f in res.findings)


def test_malformed_files_reported_not_fatal(tree: Path, result) -> None:
    problems = "\n".join(result.problems)
    assert f"{tree / 'app/blob.py'}: skipped: binary" in problems
    assert f"{tree / 'app/big.py'}: skipped: 3000000 bytes is over the 2000000-byte limit" in problems
    assert f"{tree / 'app/latin.py'}: not valid UTF-8" in problems
    # the non-UTF-8 file is still scanned, and the Shift_JIS one is decoded as such (with a note)
    assert any(f.detail["file"] == str(tree / "app/latin.py") and f.algorithm == "SHA-1" for f in result.findings)
    assert any(f.detail["file"] == str(tree / "app/sjis.py") and f.algorithm == "MD5" and f.detail["line"] == 3
               for f in result.findings)
    assert "Shift_JIS" in problems
    # and the other files were scanned in full
    assert {f.detail["language"] for f in result.findings} >= {"python", "java", "go", "javascript", "typescript",
                                                               "c"}


def test_missing_path_and_limit(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("import hashlib\nhashlib.md5(b'')\n")
    res = scan_code([tmp_path / "nope", tmp_path / "a.py"], workers=1, max_file_bytes=10)
    assert any("nope: not found" in p for p in res.problems)
    assert any("over the 10-byte limit" in p for p in res.problems)
    assert res.findings == ()


def test_process_pool_matches_sequential(tmp_path: Path) -> None:
    for i in range(120):
        ext, body = [(".py", PY), (".go", GO), (".js", JS), (".c", C)][i % 4]
        d = tmp_path / f"m{i % 5}"
        d.mkdir(exist_ok=True)
        (d / f"f{i}{ext}").write_text(body, encoding="utf-8")
    seen: list[int] = []
    pooled = scan_code([tmp_path], workers=2, progress=seen.append)
    single = scan_code([tmp_path], workers=1)
    assert [f.key() for f in pooled.findings] == [f.key() for f in single.findings]
    assert seen == sorted(seen) and seen[-1] == 120
    assert len(pooled.findings) > 120


def test_broken_pool_falls_back_to_this_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from concurrent.futures import Future
    from concurrent.futures.process import BrokenProcessPool

    from mamori.pqc.discovery import code

    class Broken:
        def __init__(self, *args: object, **kwargs: object) -> None:
            self.n = 0

        def __enter__(self) -> Broken:
            return self

        def __exit__(self, *exc: object) -> None:
            return None

        def submit(self, fn, *args):  # type: ignore[no-untyped-def]
            self.n += 1
            if self.n > 1:
                raise BrokenProcessPool("simulated worker crash")
            fut: Future[object] = Future()
            fut.set_result(fn(*args))
            return fut

    for i in range(150):
        (tmp_path / f"f{i}.go").write_text(GO, encoding="utf-8")
    monkeypatch.setattr(code, "ProcessPoolExecutor", Broken)
    res = scan_code([tmp_path], workers=2)
    single = scan_code([tmp_path], workers=1)
    assert [f.key() for f in res.findings] == [f.key() for f in single.findings]
    assert any("process pool failed (simulated worker crash)" in p for p in res.problems)


@pytest.mark.parametrize(("text", "expected"), [
    ("AES/GCM/NoPadding", AlgorithmName("cipher", "AES", "", "gcm", "none")),
    ("aes-256-cbc", AlgorithmName("cipher", "AES", "256", "cbc")),
    ("AES128-GCM", AlgorithmName("cipher", "AES", "128", "gcm")),
    ("DESede", AlgorithmName("cipher", "3DES")),
    ("des-ede3-cbc", AlgorithmName("cipher", "3DES", "", "cbc")),
    ("RSA/ECB/OAEPWithSHA-256AndMGF1Padding", AlgorithmName("public-key-encryption", "RSA", "", "", "oaep",
                                                            "SHA-256")),
    ("SHA256withRSA", AlgorithmName("signature", "RSA", "", "", "pkcs1v15", "SHA-256")),
    ("SHA384withECDSA", AlgorithmName("signature", "ECDSA", "", "", "", "SHA-384")),
    ("HmacSHA1", AlgorithmName("mac", "HMAC", "SHA-1")),
    ("PBKDF2WithHmacSHA256", AlgorithmName("kdf", "PBKDF2", "SHA-256")),
    ("sha3_256", AlgorithmName("hash", "SHA3-256")),
    ("SHA-512/256", AlgorithmName("hash", "SHA-512/256")),
    ("SHA", AlgorithmName("hash", "SHA-1")),
    ("RSA 2048bit", AlgorithmName("unknown", "RSA", "2048")),
    ("ECDHE P-256", AlgorithmName("key-exchange", "ECDH", "P-256")),
    ("prime256v1", AlgorithmName("unknown", "EC", "P-256")),
    ("ffdhe3072", AlgorithmName("key-exchange", "DH", "3072")),
    ("X25519MLKEM768", AlgorithmName("key-exchange", "X25519MLKEM768")),
    ("mlkem768x25519-sha256", AlgorithmName("key-exchange", "mlkem768x25519-sha256")),
    ("ML-KEM-1024", AlgorithmName("key-exchange", "ML-KEM", "1024")),
    ("ML-DSA-65", AlgorithmName("signature", "ML-DSA", "65")),
    ("SLH-DSA-SHA2-128s", AlgorithmName("signature", "SLH-DSA", "SHA2-128s")),
    ("TLS1.2", AlgorithmName("protocol", "TLS", "1.2")),
    ("TLSv1", AlgorithmName("protocol", "TLS", "1.0")),
    ("SSLv3", AlgorithmName("protocol", "SSL", "3.0")),
    ("Ed25519", AlgorithmName("signature", "Ed25519")),
    ("ChaCha20-Poly1305", AlgorithmName("cipher", "ChaCha20-Poly1305")),
    ("the quick brown fox", None),
    ("rsa_count", None),
])
def test_parse_algorithm_name(text: str, expected: AlgorithmName | None) -> None:
    assert parse_algorithm_name(text) == expected


def test_parse_jws() -> None:
    assert parse_jws_algorithm("ES512") == AlgorithmName("signature", "ECDSA", "P-521", "", "", "SHA-512")
    assert parse_jws_algorithm("PS256") == AlgorithmName("signature", "RSA", "", "", "pss", "SHA-256")
    assert parse_jws_algorithm("none") is None


def test_scan_text_unresolved_argument_is_explicit_unknown() -> None:
    fs = scan_text("A.java", "class A { void f(String alg) throws Exception {\n"
                   "  MessageDigest.getInstance(alg);\n} }\n", "java")
    assert len(fs) == 1
    f = fs[0]
    assert (f.algorithm, f.primitive, f.confidence, f.detail["argument"]) == ("unknown", "hash", 0.5, "alg")


@pytest.mark.parametrize(("language", "text"), [
    ("js", "var a = 1; /* open " + "/* again crypto.createHash('md5') " * 20000),  # unclosed comments
    ("python", 'x = 1\n"""' + "\nhashlib.md5(b'') '''" * 20000),  # an unterminated docstring
    ("java", "\n".join(f"MessageDigest.getInstance(alg{i});" for i in range(5000))),  # 5,000 identifiers to resolve
    ("go", "x := `" + "a" * 1_000_000),  # a raw string that never ends
    ("c", "int x;" + "EVP_md5(); SHA1(d, n, md); " * 20000),  # a minified line with 40,000 calls
    ("js", "var x=1;" + "crypto.createHash('sha1');" * 20000),
])
def test_pathological_inputs_stay_linear(language: str, text: str) -> None:
    import time

    t0 = time.perf_counter()
    scan_text("f", text, language)
    assert time.perf_counter() - t0 < 5


def test_bench_code_small(tmp_path: Path) -> None:
    out = bench_code(tmp_path, 300, workers=1)
    assert out["files"] == 300 and out["findings"] > 0 and out["problems"] == 0
    # the 10,000-files-in-5-minutes target is 33 files/s; a tiny corpus must be far above it
    assert out["files_per_s"] > 33
