"""Source-code discovery: calls to cryptographic APIs in Python, Java (and Kotlin/Scala/Groovy, which use the
same JCA/Bouncy Castle classes), Go, JavaScript/TypeScript and C/C++, found without a build.

Each finding carries the file and line (``location`` is ``path:line``), the canonical algorithm, the key size /
curve / parameter set when the code states it (a literal, or a constant assigned in the same file), the mode
and padding in ``detail``, and a confidence: 0.9 for a call to a named API with the algorithm given literally
(``hashlib.md5(``, ``Cipher.getInstance("AES/ECB/PKCS5Padding")``, ``rsa.GenerateKey(rand.Reader, 1024)``,
``crypto.createHash('sha1')``, ``EVP_aes_128_cbc()``, ``RSA_generate_key_ex(.., 1024, ..)``), 0.8 when the
argument had to be resolved from a constant or the API name is less specific, 0.5 for an API whose algorithm
argument could not be resolved (reported with the explicit algorithm ``unknown``, never silently dropped, as the
CycloneDX Post-Quantum-Migration guidance asks), and 0.4 for a bare string literal such as ``"RSA"`` or
``"SHA-1"`` that names an algorithm outside any recognised call.

API references the rules follow:

* Python: ``hashlib``/``hmac``/``ssl`` (https://docs.python.org/3/library/), pyca/cryptography hazmat
  (https://cryptography.io/en/latest/hazmat/primitives/, incl. ``mlkem``/``mldsa`` from 47.0), PyCryptodome
  (https://pycryptodome.readthedocs.io/), PyJWT (https://pyjwt.readthedocs.io/), PyNaCl.
* Java: JCA standard names (https://docs.oracle.com/en/java/javase/21/docs/specs/security/standard-names.html:
  ``MessageDigest``, ``Cipher`` transformations — ``"AES"`` alone means ``AES/ECB/PKCS5Padding`` —,
  ``KeyPairGenerator``, ``KeyAgreement``, ``Signature``, ``SSLContext``...), Bouncy Castle light-weight API
  (https://www.bouncycastle.org/documentation/), jjwt / auth0 java-jwt.
* Go: the standard library ``crypto/...`` packages incl. ``crypto/mlkem`` (Go 1.24) and ``crypto/tls``
  (``tls.X25519MLKEM768``, https://pkg.go.dev/crypto/tls), ``golang.org/x/crypto``.
* JavaScript/TypeScript: Node ``crypto`` and ``tls`` (https://nodejs.org/api/crypto.html), WebCrypto
  ``SubtleCrypto`` (https://www.w3.org/TR/WebCryptoAPI/), jsonwebtoken / jose, node-forge, crypto-js.
* C/C++: OpenSSL 1.1/3.x (https://docs.openssl.org/3.5/man3/: ``EVP_*``, ``RSA_*``, ``EC_KEY_*``, ``SSL_CTX_*``,
  ``EVP_*_fetch`` names), libsodium (https://doc.libsodium.org/), liboqs.

Method and its limits (the precision/recall trade-off the research note asks to document):

* Per file, a cheap pre-filter (substring tests for each rule's API names, one regex for quoted algorithm
  names) skips files with no candidate before any per-token work. Files that pass are tokenised *lightly*: one
  regex per language family finds comments and string literals, comments are blanked (offsets and line numbers
  kept), and string spans are remembered so that a rule never fires on an API name inside a string or a comment.
* Handled: ``#``, ``//`` and ``/* */`` comments; single/double-quoted strings with escapes; Python triple-quoted
  strings (docstrings count as strings); JS template literals and Go raw strings (no nesting of ``${}``
  templates); Java/Kotlin text blocks.
* Not handled: C preprocessor conditionals (``#if 0`` blocks are scanned), C++ raw strings ``R"(...)"``, JS
  regular-expression literals containing quotes, Python code inside f-string braces, macros that rename APIs,
  aliasing through imports (``from hashlib import md5 as h; h()`` reports the import line only), values that
  flow through variables across functions or files (only constants assigned in the same file are resolved),
  data-flow (whether the call is reachable). Shift_JIS/CP932 sources are decoded as such; other non-UTF-8
  files are scanned with replacement characters and reported in ``problems``. C# is not covered.
* Files are scanned in parallel with a process pool (``workers``, default the CPU count) in batches, with a
  bounded number of batches in flight, so memory stays bounded by the batch size and the findings themselves.
"""

from __future__ import annotations

import bisect
import os
import random
import re
import shutil
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from datetime import UTC, datetime
from multiprocessing import get_all_start_methods, get_context
from pathlib import Path
from typing import Any, NamedTuple

from mamori.pqc.model import CryptoFinding, Primitive, ScanResult

__all__ = [
    "DEFAULT_VENDORED_DIRS",
    "LANGUAGE_BY_EXTENSION",
    "AlgorithmName",
    "bench_code",
    "curve_name",
    "hash_name",
    "parse_algorithm_name",
    "parse_jws_algorithm",
    "scan_code",
    "scan_text",
]

# ---------------------------------------------------------------------------------------------------------------
# Canonical algorithm names (shared with the CBOM reader and the asset-list importer)
# ---------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AlgorithmName:
    """An algorithm name parsed into the canonical vocabulary of :class:`~mamori.pqc.model.CryptoFinding`."""

    primitive: Primitive
    algorithm: str
    parameter: str = ""
    mode: str = ""
    padding: str = ""
    hash: str = ""


def _compact(text: str) -> str:
    return re.sub(r"[\s_\-/.()]", "", text.upper())


_HASHES = {
    "MD2": "MD2", "MD4": "MD4", "MD5": "MD5", "SHA": "SHA-1", "SHA1": "SHA-1", "SHA224": "SHA-224",
    "SHA256": "SHA-256", "SHA384": "SHA-384", "SHA512": "SHA-512", "SHA512224": "SHA-512/224",
    "SHA512256": "SHA-512/256", "SHA3224": "SHA3-224", "SHA3256": "SHA3-256", "SHA3384": "SHA3-384",
    "SHA3512": "SHA3-512", "SHAKE128": "SHAKE128", "SHAKE256": "SHAKE256", "BLAKE2B": "BLAKE2b",
    "BLAKE2B512": "BLAKE2b", "BLAKE2S": "BLAKE2s", "BLAKE2S256": "BLAKE2s", "BLAKE3": "BLAKE3",
    "RIPEMD160": "RIPEMD-160", "RMD160": "RIPEMD-160", "SM3": "SM3", "MD5SHA1": "MD5-SHA1",
}

_CURVES = {
    "P192": "P-192", "SECP192R1": "P-192", "PRIME192V1": "P-192", "X962PRIME192V1": "P-192", "NISTP192": "P-192",
    "P224": "P-224", "SECP224R1": "P-224", "NISTP224": "P-224", "CURVEP224": "P-224",
    "P256": "P-256", "SECP256R1": "P-256", "PRIME256V1": "P-256", "X962PRIME256V1": "P-256", "NISTP256": "P-256",
    "CURVEP256": "P-256", "P384": "P-384", "SECP384R1": "P-384", "NISTP384": "P-384", "CURVEP384": "P-384",
    "P521": "P-521", "SECP521R1": "P-521", "NISTP521": "P-521", "CURVEP521": "P-521",
    "SECP256K1": "secp256k1", "BRAINPOOLP256R1": "brainpoolP256r1", "BRAINPOOLP384R1": "brainpoolP384r1",
    "BRAINPOOLP512R1": "brainpoolP512r1", "SM2P256V1": "SM2",
}

_HYBRIDS = {
    "X25519MLKEM768": "X25519MLKEM768", "SECP256R1MLKEM768": "SecP256r1MLKEM768",
    "SECP384R1MLKEM1024": "SecP384r1MLKEM1024", "X25519KYBER768DRAFT00": "X25519Kyber768Draft00",
    "X25519KYBER768": "X25519Kyber768Draft00", "MLKEM768X25519SHA256": "mlkem768x25519-sha256",
    "SNTRUP761X25519SHA512": "sntrup761x25519-sha512", "SNTRUP761X25519SHA512@OPENSSHCOM": "sntrup761x25519-sha512",
    "X25519MLKEM768SHA256": "mlkem768x25519-sha256",
}

_MODP_BITS = {"1": "768", "2": "1024", "5": "1536", "14": "2048", "15": "3072", "16": "4096", "17": "6144",
              "18": "8192"}

_CIPHER_FAMILIES = {
    "AES": "AES", "CAMELLIA": "Camellia", "ARIA": "ARIA", "SM4": "SM4", "SEED": "SEED", "DESEDE3": "3DES",
    "DESEDE": "3DES", "3DES": "3DES", "TDES": "3DES", "TDEA": "3DES", "TRIPLEDES": "3DES", "DES": "DES",
    "RC4": "RC4", "ARCFOUR": "RC4", "ARC4": "RC4", "RC2": "RC2", "ARC2": "RC2", "BLOWFISH": "Blowfish",
    "BF": "Blowfish", "TWOFISH": "Twofish", "IDEA": "IDEA", "CAST5": "CAST5", "CAST": "CAST5",
    "CHACHA20POLY1305": "ChaCha20-Poly1305", "XCHACHA20POLY1305": "XChaCha20-Poly1305", "CHACHA20": "ChaCha20",
    "XSALSA20POLY1305": "XSalsa20-Poly1305", "SALSA20": "Salsa20",
}
_CIPHER_RE = re.compile(
    r"(?:ID)?(AES|CAMELLIA|ARIA|SM4|SEED|DESEDE3|DESEDE|3DES|TDES|TDEA|TRIPLEDES|DES|RC4|ARCFOUR|ARC4|RC2|ARC2|"
    r"BLOWFISH|BF|TWOFISH|IDEA|CAST5|CAST|XCHACHA20POLY1305|CHACHA20POLY1305|CHACHA20|XSALSA20POLY1305|SALSA20)"
    r"(\d{2,3})?(ECB|CBC|GCMSIV|GCM|CCM8|CCM|CFB1|CFB8|CFB64|CFB128|CFB|OFB|CTR|XTS|OCB3|OCB|WRAPPAD|WRAP|KWP|KW|"
    r"SIV|EAX|SIC|STREAM)?")
_MODES = {"CFB1": "cfb", "CFB8": "cfb", "CFB64": "cfb", "CFB128": "cfb", "SIC": "ctr", "CCM8": "ccm",
          "GCMSIV": "gcm-siv", "OCB3": "ocb", "WRAPPAD": "wrap-pad", "KW": "wrap", "KWP": "wrap-pad"}
_PADDINGS = {"PKCS5PADDING": "pkcs5", "PKCS7PADDING": "pkcs7", "NOPADDING": "none", "PKCS1PADDING": "pkcs1v15",
             "ISO10126PADDING": "iso10126", "PSS": "pss", "ZEROBYTEPADDING": "other", "ISO7816-4PADDING": "other"}


def hash_name(text: str) -> str | None:
    """Canonical hash name (``SHA-256``, ``SHA3-256``, ``MD5``...) for a spelling such as ``sha256``,
    ``SHA-256``, ``sha3_256``, ``NID_sha1`` or ``SHA``, or None."""
    return _HASHES.get(_compact(text.removeprefix("NID_").removeprefix("nid_")))


def curve_name(text: str) -> str | None:
    """Canonical curve name (``P-256``, ``P-384``, ``secp256k1``, ``brainpoolP256r1``...) or None."""
    return _CURVES.get(_compact(text.removeprefix("NID_")))


def _mode(text: str) -> str:
    return _MODES.get(text, text.lower()) if text else ""


def _padding(text: str) -> str:
    c = text.upper().replace(" ", "")
    if c.startswith("OAEP"):
        return "oaep"
    return _PADDINGS.get(c, c.lower())


def _cipher(compact: str) -> AlgorithmName | None:
    m = _CIPHER_RE.fullmatch(compact)
    if not m:
        return None
    family = _CIPHER_FAMILIES[m.group(1)]
    bits = m.group(2) or ""
    if family in ("3DES", "DES") and bits in ("3", "2"):
        bits = ""
    mode = _mode(m.group(3) or "")
    if family in ("ChaCha20-Poly1305", "XChaCha20-Poly1305", "XSalsa20-Poly1305", "RC4", "ChaCha20", "Salsa20"):
        mode = ""
    return AlgorithmName("cipher", family, bits, mode)


_ASYM_RE = re.compile(r"(ECDHE|ECDH|ECDSA|ECMQV|ECIES|ECC|EC)(.*)")
_SIG_WITH_RE = re.compile(r"([A-Z0-9]+?)WITH(RSAENCRYPTION|RSAANDMGF1|RSAPSS|RSA|ECDSA|PLAINECDSA|DSA|SM2)")
_WITH_HASH_RE = re.compile(r"(ECDSA|DSA|RSA)WITH([A-Z0-9]+)")


def parse_algorithm_name(text: str) -> AlgorithmName | None:
    """Parse an algorithm, transformation, curve or protocol name as written by JCA (``AES/GCM/NoPadding``,
    ``SHA256withRSA``, ``HmacSHA256``, ``PBKDF2WithHmacSHA1``), OpenSSL/Node (``aes-128-cbc``,
    ``des-ede3-cbc``, ``prime256v1``, ``RSA-SHA256``), WebCrypto (``RSA-OAEP``, ``ECDSA``), IANA TLS groups
    (``X25519MLKEM768``), NIST (``ML-KEM-768``, ``SLH-DSA-SHA2-128s``) or a person (``RSA 2048bit``, ``TLS1.2``,
    ``ECDHE P-256``). Returns None when the text is not recognised.

    RSA and EC keys whose use the name does not state get the primitive ``unknown`` (RSA serves both signatures
    and key transport)."""
    s = text.strip().strip("\"'`").strip()
    if not s or len(s) > 80:
        return None
    if "/" in s and not re.search(r"SHA-?512/2(?:24|56)", s, re.I):
        return _parse_transformation(s)
    c = _compact(s)
    if c in _HYBRIDS:
        return AlgorithmName("key-exchange", _HYBRIDS[c])
    m = re.fullmatch(r"(?:MLKEM|KYBER)(512|768|1024)?", c)
    if m:
        return AlgorithmName("key-exchange", "ML-KEM", m.group(1) or "")
    m = re.fullmatch(r"MLDSA(44|65|87)?|DILITHIUM([235])", c)
    if m:
        return AlgorithmName("signature", "ML-DSA", m.group(1) or {"2": "44", "3": "65", "5": "87"}.get(
            m.group(2) or "", ""))
    m = re.fullmatch(r"(?:SLHDSA|SPHINCS\+?|SPHINCSPLUS)(SHA2|SHAKE)?(128|192|256)?([SF])?", c)
    if m:
        param = f"{m.group(1)}-{m.group(2)}{m.group(3).lower()}" if m.group(1) and m.group(2) and m.group(3) else (
            m.group(2) or "")
        return AlgorithmName("signature", "SLH-DSA", param)
    m = re.fullmatch(r"(?:FNDSA|FALCON)(512|1024)?", c)
    if m:
        return AlgorithmName("signature", "FN-DSA", m.group(1) or "")
    m = re.fullmatch(r"HQC(128|192|256)?", c)
    if m:
        return AlgorithmName("key-exchange", "HQC", m.group(1) or "")
    proto = _parse_protocol(c)
    if proto:
        return proto
    sig = _parse_signature(c)
    if sig:
        return sig
    m = re.fullmatch(r"HMAC(?:WITH)?([A-Z0-9]*)", c)
    if m:
        h = hash_name(m.group(1)) if m.group(1) else ""
        if h is not None:
            return AlgorithmName("mac", "HMAC", h)
    if c in ("CMAC", "AESCMAC", "GMAC", "POLY1305", "SIPHASH", "KMAC128", "KMAC256"):
        return AlgorithmName("mac", {"AESCMAC": "CMAC", "SIPHASH": "SipHash", "POLY1305": "Poly1305"}.get(c, c))
    m = re.fullmatch(r"PBKDF2(?:WITH)?(?:HMAC)?([A-Z0-9]*)", c)
    if m:
        return AlgorithmName("kdf", "PBKDF2", hash_name(m.group(1)) or "" if m.group(1) else "")
    m = re.fullmatch(r"HKDF(?:WITH)?(?:HMAC)?([A-Z0-9]*)", c)
    if m:
        return AlgorithmName("kdf", "HKDF", hash_name(m.group(1)) or "" if m.group(1) else "")
    if c in ("SCRYPT", "ARGON2", "ARGON2ID", "ARGON2I", "ARGON2D", "BCRYPT", "PBKDF1"):
        return AlgorithmName("kdf", {"SCRYPT": "scrypt", "BCRYPT": "bcrypt", "PBKDF1": "PBKDF1"}.get(
            c, c.replace("ARGON", "Argon")))
    h = _HASHES.get(c)
    if h:
        return AlgorithmName("hash", h)
    cipher = _cipher(c)
    if cipher:
        return cipher
    return _parse_asymmetric(c)


def _parse_transformation(s: str) -> AlgorithmName | None:
    parts = [p.strip() for p in s.split("/")]
    base = parse_algorithm_name(parts[0]) if "/" not in parts[0] else None
    if base is None or len(parts) > 3:
        return None
    mode = _mode(_compact(parts[1])) if len(parts) > 1 and parts[1] else base.mode
    if mode == "none":
        mode = ""
    padding = _padding(parts[2]) if len(parts) > 2 and parts[2] else base.padding
    if base.algorithm == "RSA":
        prim: Primitive = "public-key-encryption"
        return AlgorithmName(prim, "RSA", base.parameter, "", padding, _oaep_hash(parts[2]) if len(parts) > 2 else "")
    return AlgorithmName(base.primitive, base.algorithm, base.parameter, mode, padding, base.hash)


def _oaep_hash(padding: str) -> str:
    m = re.search(r"OAEPWith([\w-]+?)AndMGF1", padding, re.I)
    return (hash_name(m.group(1)) or "") if m else ""


def _parse_protocol(c: str) -> AlgorithmName | None:
    if c in ("SSLV23", "SSL23"):
        return AlgorithmName("protocol", "TLS", "")
    m = re.fullmatch(r"(DTLS|TLS|SSL)V?(\d)?(\d)?", c)
    if m:
        family, major, minor = m.group(1), m.group(2), m.group(3)
        if family == "SSL":
            return AlgorithmName("protocol", "SSL", f"{major}.0" if major else "")
        if not major:
            return AlgorithmName("protocol", family, "")
        return AlgorithmName("protocol", family, f"{major}.{minor or '0'}")
    m = re.fullmatch(r"SSH(?:V?(\d))?", c)
    if m:
        return AlgorithmName("protocol", "SSH", f"{m.group(1)}.0" if m.group(1) else "")
    if c in ("IPSEC", "ESP"):
        return AlgorithmName("protocol", "IPsec")
    m = re.fullmatch(r"IKEV?(\d)?", c)
    if m:
        return AlgorithmName("protocol", "IKE", m.group(1) or "")
    if c == "QUIC":
        return AlgorithmName("protocol", "QUIC")
    return None


def _parse_signature(c: str) -> AlgorithmName | None:
    m = _SIG_WITH_RE.fullmatch(c)
    if m and hash_name(m.group(1)):
        h = hash_name(m.group(1)) or ""
        kind = m.group(2)
        alg = {"ECDSA": "ECDSA", "PLAINECDSA": "ECDSA", "DSA": "DSA", "SM2": "SM2"}.get(kind, "RSA")
        pad = "pss" if kind in ("RSAANDMGF1", "RSAPSS") else ("pkcs1v15" if alg == "RSA" else "")
        return AlgorithmName("signature", alg, "", "", pad, h)
    m = _WITH_HASH_RE.fullmatch(c)
    if m and hash_name(m.group(2)):
        return AlgorithmName("signature", m.group(1), "", "", "pkcs1v15" if m.group(1) == "RSA" else "",
                             hash_name(m.group(2)) or "")
    if c in ("RSASSAPSS", "RSAPSS"):
        return AlgorithmName("signature", "RSA", "", "", "pss")
    if c in ("RSASSAPKCS1V15", "RSASSAPKCS1V1_5"):
        return AlgorithmName("signature", "RSA", "", "", "pkcs1v15")
    m = re.fullmatch(r"RSA(?:ES)?OAEP(\d{3})?", c)
    if m:
        return AlgorithmName("public-key-encryption", "RSA", "", "", "oaep",
                             f"SHA-{m.group(1)}" if m.group(1) else "")
    if c in ("RSAESPKCS1V15", "RSA15", "RSAPKCS1"):
        return AlgorithmName("public-key-encryption", "RSA", "", "", "pkcs1v15")
    m = re.fullmatch(r"RSA(SHA\d*|MD5|SHA3\d+)", c)
    if m and hash_name(m.group(1)):
        return AlgorithmName("signature", "RSA", "", "", "pkcs1v15", hash_name(m.group(1)) or "")
    return None


def _parse_asymmetric(c: str) -> AlgorithmName | None:
    m = re.fullmatch(r"RSA(\d{3,5})?(?:BITS?)?", c)
    if m:
        return AlgorithmName("unknown", "RSA", m.group(1) or "")
    m = re.fullmatch(r"DSA(\d{3,5})?(?:BITS?)?", c)
    if m:
        return AlgorithmName("signature", "DSA", m.group(1) or "")
    m = re.fullmatch(r"(?:DH|DHE|FFDH|FFDHE|DIFFIEHELLMAN|DHKEYAGREEMENT|DHX)(\d{3,5})?(?:BITS?)?", c)
    if m:
        return AlgorithmName("key-exchange", "DH", m.group(1) or "")
    m = re.fullmatch(r"MODP(?:GROUP)?(\d{1,2})", c)
    if m and m.group(1) in _MODP_BITS:
        return AlgorithmName("key-exchange", "DH", _MODP_BITS[m.group(1)])
    fixed = {"X25519": ("key-exchange", "X25519"), "CURVE25519": ("key-exchange", "X25519"),
             "XDH": ("key-exchange", "X25519"), "X448": ("key-exchange", "X448"),
             "CURVE448": ("key-exchange", "X448"), "ED25519": ("signature", "Ed25519"),
             "EDDSA": ("signature", "Ed25519"), "ED25519PH": ("signature", "Ed25519"), "ED448": ("signature", "Ed448"),
             "SM2": ("unknown", "SM2"), "ELGAMAL": ("public-key-encryption", "ElGamal")}
    if c in fixed:
        prim, alg = fixed[c]
        return AlgorithmName(prim, alg)  # type: ignore[arg-type]
    m = _ASYM_RE.fullmatch(c)
    if m:
        rest = m.group(2)
        curve = ""
        if rest:
            cv = _CURVES.get(rest)
            if cv is None:
                return None
            curve = cv
        kind = m.group(1)
        if kind in ("ECDHE", "ECDH", "ECMQV"):
            return AlgorithmName("key-exchange", "ECDH", curve)
        if kind == "ECDSA":
            return AlgorithmName("signature", "ECDSA", curve)
        if kind == "ECIES":
            return AlgorithmName("public-key-encryption", "ECIES", curve)
        return AlgorithmName("unknown", "EC", curve)
    cv = _CURVES.get(c)
    if cv:
        return AlgorithmName("unknown", "EC", cv)
    return None


_JWS = {
    "HS": ("mac", "HMAC"), "RS": ("signature", "RSA"), "PS": ("signature", "RSA"), "ES": ("signature", "ECDSA"),
}


def parse_jws_algorithm(name: str) -> AlgorithmName | None:
    """A JOSE ``alg`` value (RFC 7518 §3.1 and §4.1; ``EdDSA`` RFC 8037; ``ML-DSA-*`` from the JOSE PQC draft)
    in the canonical vocabulary, or None (``none``, ``dir`` and unknown names)."""
    n = name.strip()
    m = re.fullmatch(r"(HS|RS|PS|ES)(256|384|512)(K?)", n)
    if m:
        prim, alg = _JWS[m.group(1)]
        h = f"SHA-{m.group(2)}"
        if m.group(1) == "HS":
            return AlgorithmName("mac", "HMAC", h)
        if m.group(1) == "ES":
            curve = "secp256k1" if m.group(3) else {"256": "P-256", "384": "P-384", "512": "P-521"}[m.group(2)]
            return AlgorithmName("signature", "ECDSA", curve, "", "", h)
        return AlgorithmName(prim, alg, "", "", "pss" if m.group(1) == "PS" else "pkcs1v15", h)  # type: ignore[arg-type]
    if n in ("EdDSA", "Ed25519"):
        return AlgorithmName("signature", "Ed25519")
    if n == "Ed448":
        return AlgorithmName("signature", "Ed448")
    m = re.fullmatch(r"ML-DSA-(44|65|87)", n)
    if m:
        return AlgorithmName("signature", "ML-DSA", m.group(1))
    if n in ("RSA-OAEP", "RSA-OAEP-256", "RSA-OAEP-384", "RSA-OAEP-512"):
        return AlgorithmName("public-key-encryption", "RSA", "", "", "oaep", "SHA-1" if n == "RSA-OAEP" else
                             f"SHA-{n[-3:]}")
    if n == "RSA1_5":
        return AlgorithmName("public-key-encryption", "RSA", "", "", "pkcs1v15")
    if n.startswith("ECDH-ES"):
        return AlgorithmName("key-exchange", "ECDH")
    m = re.fullmatch(r"A(128|192|256)(GCMKW|KW|GCM|CBC-HS\d{3})", n)
    if m:
        mode = {"KW": "wrap", "GCMKW": "gcm", "GCM": "gcm"}.get(m.group(2), "cbc")
        return AlgorithmName("cipher", "AES", m.group(1), mode)
    return None


# ---------------------------------------------------------------------------------------------------------------
# Light tokenisation: comments blanked, string spans remembered
# ---------------------------------------------------------------------------------------------------------------

_DQ = r'"[^"\\\n]*(?:\\.[^"\\\n]*)*"'
_SQ = r"'[^'\\\n]*(?:\\.[^'\\\n]*)*'"
_BLOCK = r"/\*.*?(?:\*/|\Z)"  # an unclosed comment runs to the end of the file (keeps the scan linear)
_TRIPLE_DQ = r'"""[^"\\]*(?:(?:\\.|"(?!""))[^"\\]*)*(?:"""|\Z)'
_TRIPLE_SQ = r"'''[^'\\]*(?:(?:\\.|'(?!''))[^'\\]*)*(?:'''|\Z)"
_TOKENS = {
    "python": re.compile(
        r"(?P<c>#[^\n]*)|(?P<s>" + _TRIPLE_DQ + "|" + _TRIPLE_SQ + "|" + _DQ + "|" + _SQ + ")", re.S),
    "java": re.compile(
        r"(?P<c>//[^\n]*|" + _BLOCK + r")|(?P<s>" + _TRIPLE_DQ + "|" + _DQ + "|" + _SQ + ")", re.S),
    "go": re.compile(r"(?P<c>//[^\n]*|" + _BLOCK + r")|(?P<s>`[^`]*(?:`|\Z)|" + _DQ + "|" + _SQ + ")", re.S),
    "js": re.compile(r"(?P<c>//[^\n]*|" + _BLOCK + r")|(?P<s>`[^`\\]*(?:\\.[^`\\]*)*(?:`|\Z)|" + _DQ + "|" + _SQ +
                     ")", re.S),
    "c": re.compile(r"(?P<c>//[^\n]*|" + _BLOCK + r")|(?P<s>" + _DQ + "|" + _SQ + ")", re.S),
}
_NOT_NL = re.compile(r"[^\n]")

LANGUAGE_BY_EXTENSION: dict[str, tuple[str, str]] = {
    # extension -> (reported language, rule family)
    ".py": ("python", "python"), ".pyw": ("python", "python"),
    ".java": ("java", "java"), ".kt": ("kotlin", "java"), ".kts": ("kotlin", "java"), ".scala": ("scala", "java"),
    ".groovy": ("groovy", "java"),
    ".go": ("go", "go"),
    ".js": ("javascript", "js"), ".mjs": ("javascript", "js"), ".cjs": ("javascript", "js"),
    ".jsx": ("javascript", "js"), ".ts": ("typescript", "js"), ".tsx": ("typescript", "js"),
    ".mts": ("typescript", "js"), ".cts": ("typescript", "js"),
    ".c": ("c", "c"), ".h": ("c", "c"), ".cc": ("cpp", "c"), ".cpp": ("cpp", "c"), ".cxx": ("cpp", "c"),
    ".hpp": ("cpp", "c"), ".hh": ("cpp", "c"), ".hxx": ("cpp", "c"), ".c++": ("cpp", "c"), ".inl": ("cpp", "c"),
}
"""Source files scanned, by extension; anything else is skipped."""

DEFAULT_VENDORED_DIRS = frozenset({"node_modules", "bower_components", "vendor", "third_party_vendored",
                                   ".venv", "venv", "site-packages", "__pycache__", ".tox", ".mypy_cache"})
"""Directories skipped unless ``include_vendored=True`` (third-party code vendored into the tree)."""
_ALWAYS_SKIPPED = frozenset({".git", ".hg", ".svn", ".bzr", "CVS"})


@dataclass
class _Hit:
    pos: int
    primitive: Primitive
    algorithm: str
    parameter: str = ""
    context: str = ""
    confidence: float = 0.9
    extra: dict[str, Any] = field(default_factory=dict)


class _Ctx:
    """What the rule handlers see of one file: the comment-free text, string spans, and helpers."""

    def __init__(self, code: str, spans: list[tuple[int, int]]) -> None:
        self.code = code
        self.starts = [s for s, _ in spans]
        self.ends = [e for _, e in spans]
        self.consumed: set[int] = set()
        self.consumed_strings: set[int] = set()
        self._has: dict[str, bool] = {}
        self._index: dict[str, dict[str, tuple[str, int]]] = {}

    def has(self, needle: str) -> bool:
        """``needle in code``, memoised (handlers ask the same file-level questions for every hit)."""
        v = self._has.get(needle)
        if v is None:
            v = self._has[needle] = needle in self.code
        return v

    def line_prefix(self, pos: int) -> str:
        """The text before ``pos`` on its line (at most 200 characters: minified files have huge lines)."""
        lo = max(0, pos - 200)
        nl = self.code.rfind("\n", lo, pos)
        return self.code[nl + 1 if nl >= 0 else lo:pos]

    def _assignments(self, kind: str) -> dict[str, tuple[str, int]]:
        """One pass over the file: the first literal assigned to each name (built on first use, so that resolving
        many identifiers stays linear in the file size)."""
        index = self._index.get(kind)
        if index is None:
            index = self._index[kind] = {}
            for name, value, pos in _assignment_hits(kind, self.code):
                index.setdefault(name, (value, pos))
        return index

    def in_string(self, pos: int) -> bool:
        i = bisect.bisect_right(self.starts, pos) - 1
        return i >= 0 and pos < self.ends[i]

    def args(self, pos: int, limit: int = 600) -> tuple[int, str]:
        """The text between the parenthesis opening at or after ``pos`` and its match (bounded), with its offset."""
        code = self.code
        start = code.find("(", pos, pos + 200)
        if start < 0:
            return pos, ""
        depth, i, end = 0, start, min(len(code), start + limit)
        while i < end:
            ch = code[i]
            if ch == "(":
                depth += 1
            elif ch == ")":
                depth -= 1
                if depth == 0:
                    return start + 1, code[start + 1:i]
            elif ch in "\"'`" and self.in_string(i):
                j = self.ends[bisect.bisect_right(self.starts, i) - 1]
                i = j
                continue
            i += 1
        return start + 1, code[start + 1:end]

    def resolve(self, name: str, *, numeric: bool) -> tuple[str, int] | None:
        """The literal assigned to a constant/variable ``name`` in this file (``KEY_BITS = 2048``,
        ``static final String ALG = "SHA-1"``, ``const bits = 1024``, ``#define KEY_BITS 2048``), with the
        position of the literal; None if there is none."""
        last = name.rsplit(".", 1)[-1]
        return self._assignments("num" if numeric else "str").get(last)

    def key_bytes(self, name: str) -> str:
        """Key bits when a key variable is filled with N random bytes in this file (``os.urandom(32)``,
        ``make([]byte, 16)``, ``randomBytes(32)``, ``new byte[16]``), else ''."""
        hit = self._assignments("key").get(name.rsplit(".", 1)[-1])
        return hit[0] if hit else ""


_ASSIGN_NAME = r"(?<![\w.$])([A-Za-z_$][\w$]*)\s*(?::[^=\n]{0,40})?:?=\s*"
_ASSIGNMENTS = {
    "num": (re.compile(_ASSIGN_NAME + r"(?:\(\s*\w+\s*\)\s*)?(\d{2,5})\b"),
            re.compile(r"#\s*define\s+(\w+)\s+\(?(\d{2,5})\b")),
    "str": (re.compile(_ASSIGN_NAME + r"[\"'`]([^\"'`\n]{1,80})[\"'`]"),
            re.compile(r"#\s*define\s+(\w+)\s+\"([^\"\n]{1,80})\"")),
    "key": (re.compile(_ASSIGN_NAME + r"[^;\n]{0,40}?(?:urandom|token_bytes|get_random_bytes|randomBytes|"
                       r"make\(\[\]byte,|new\s+byte\[)\s*\(?\s*(16|24|32)\b"),),
}


def _assignment_hits(kind: str, code: str) -> Iterator[tuple[str, str, int]]:
    for regex in _ASSIGNMENTS[kind]:
        for m in regex.finditer(code):
            value = str(int(m.group(2)) * 8) if kind == "key" else m.group(2)
            yield m.group(1), value, m.start(2) - 1 if kind == "str" else m.start(2)  # str: the opening quote


_Handler = Callable[[re.Match[str], _Ctx], Iterable[_Hit]]


class _Rule(NamedTuple):
    name: str
    needles: tuple[str, ...]
    regex: re.Pattern[str]
    handler: _Handler


def _value(ctx: _Ctx, literal: str | None, ident: str | None, *, numeric: bool) -> tuple[str, float, dict[str, Any]]:
    """A literal argument, or an identifier resolved to a literal in the same file: (value, confidence, detail)."""
    if literal:
        return literal, 0.9, {}
    if ident:
        if numeric and ident.isdigit():
            return ident, 0.9, {}
        r = ctx.resolve(ident, numeric=numeric)
        if r:
            ctx.consumed_strings.add(r[1])
            return r[0], 0.8, {"resolved_from": ident}
        return "", 0.5, {"argument": ident}
    return "", 0.5, {}


def _first_hash(args: str) -> tuple[str, int] | None:
    """The first token of ``args`` naming a hash (``hashlib.sha256``, ``'sha1'``, ``hashes.SHA256()``,
    ``EVP_sha1()``) with its offset; a bare ``sha``/``SHA`` is not taken (too often a variable name)."""
    for tm in re.finditer(r"[A-Za-z0-9_]+", args):
        tok = tm.group()
        if tok.lower() != "sha" and hash_name(tok.removeprefix("EVP_")):
            return hash_name(tok.removeprefix("EVP_")) or "", tm.start()
    return None


def _name_hit(pos: int, name: str, context: str, conf: float, extra: dict[str, Any],
              default: Primitive | None = None, force: Primitive | None = None) -> _Hit:
    """A hit for an algorithm *name* (parsed with :func:`parse_algorithm_name`); ``unknown`` when unparsable."""
    an = parse_algorithm_name(name) if name else None
    if an is None:
        ex = dict(extra)
        if name:
            ex["name"] = name
        return _Hit(pos, force or default or "unknown", "unknown", "", context, min(conf, 0.5), ex)
    prim = force or (default if an.primitive == "unknown" and default else an.primitive)
    ex = dict(extra)
    for k in ("mode", "padding", "hash"):
        v = getattr(an, k)
        if v:
            ex[k] = v
    return _Hit(pos, prim, an.algorithm, an.parameter, context, conf, ex)


def _group_hit(pos: int, name: str, context: str) -> _Hit:
    """A TLS key-exchange group (``X25519MLKEM768``, ``X25519``, ``P-256``/``prime256v1`` = ECDH, ``ffdhe2048``)."""
    hit = _name_hit(pos, name, context, 0.9, {}, force="key-exchange")
    if hit.algorithm == "EC":
        hit.algorithm = "ECDH"
    return hit


def _rule(name: str, needles: str | tuple[str, ...], pattern: str, flags: int = 0) -> Callable[[_Handler], _Rule]:
    def deco(fn: _Handler) -> _Rule:
        return _Rule(name, (needles,) if isinstance(needles, str) else needles, re.compile(pattern, flags), fn)
    return deco


def _simple(name: str, needles: str | tuple[str, ...], pattern: str, table: dict[str, tuple[Any, ...]],
            context: str, conf: float = 0.9) -> _Rule:
    """A rule whose group 1 selects a fixed (primitive, algorithm, parameter[, mode]) from ``table``."""
    def handler(m: re.Match[str], ctx: _Ctx) -> Iterable[_Hit]:
        spec = table.get(m.group(1))
        if spec is None:
            return []
        extra = {"mode": spec[3]} if len(spec) > 3 and spec[3] else {}
        return [_Hit(m.start(), spec[0], spec[1], spec[2], context.format(m.group(1)), conf, extra)]
    return _Rule(name, (needles,) if isinstance(needles, str) else needles, re.compile(pattern), handler)


_Q = r"""["'`]"""
_LIT = r"""["'`]([^"'`\n]{1,80})["'`]"""
_IDENT = r"([A-Za-z_$][\w$.]*)"

# ---------------------------------------------------------------------------------------------------------------
# Python rules
# ---------------------------------------------------------------------------------------------------------------

_PY: list[_Rule] = []


@_rule("py.hmac", ("hmac.", "HMAC.new"), r"\b(?:hmac\.(?:new|digest|HMAC)|HMAC\.new)\s*\(")
def _py_hmac(m: re.Match[str], ctx: _Ctx) -> Iterable[_Hit]:
    off, args = ctx.args(m.start())
    fh = _first_hash(args)
    param = ""
    if fh:
        param = fh[0]
        ctx.consumed.add(off + fh[1])
    return [_Hit(m.start(), "mac", "HMAC", param, m.group(0).rstrip("( ") + "()", 0.9 if param else 0.8)]


_PY.append(_py_hmac)


@_rule("py.pbkdf2", "pbkdf2_hmac", r"\bhashlib\.pbkdf2_hmac\s*\(\s*(?:" + _LIT + "|" + _IDENT + ")")
def _py_pbkdf2(m: re.Match[str], ctx: _Ctx) -> Iterable[_Hit]:
    value, conf, extra = _value(ctx, m.group(1), m.group(2), numeric=False)
    return [_Hit(m.start(), "kdf", "PBKDF2", hash_name(value) or "", "hashlib.pbkdf2_hmac()", conf, extra)]


_PY.append(_py_pbkdf2)


@_rule("py.hashlib", "hashlib.", r"\bhashlib\.(md5|sha1|sha224|sha256|sha384|sha512|sha3_224|sha3_256|sha3_384|"
       r"sha3_512|shake_128|shake_256|blake2b|blake2s|scrypt|new)\s*\(")
def _py_hashlib(m: re.Match[str], ctx: _Ctx) -> Iterable[_Hit]:
    fn = m.group(1)
    if fn == "scrypt":
        return [_Hit(m.start(), "kdf", "scrypt", "", "hashlib.scrypt()", 0.9)]
    if fn == "new":
        a = re.match(r"\s*(?:" + _LIT + "|" + _IDENT + ")", ctx.code[m.end():m.end() + 120])
        if not a:
            return [_Hit(m.start(), "hash", "unknown", "", "hashlib.new()", 0.5)]
        value, conf, extra = _value(ctx, a.group(1), a.group(2), numeric=False)
        return [_name_hit(m.start(), value, "hashlib.new()", conf, extra, force="hash")]
    return [_Hit(m.start(), "hash", hash_name(fn) or fn, "", f"hashlib.{fn}()", 0.9)]


_PY.append(_py_hashlib)


@_rule("py.hashlib-import", "hashlib", r"\bfrom\s+hashlib\s+import\s+\(?([\w\s,]+)")
def _py_hashlib_import(m: re.Match[str], ctx: _Ctx) -> Iterable[_Hit]:
    out = []
    for name in re.findall(r"\b(md5|sha1|sha224|sha256|sha384|sha512|sha3_\d+|blake2[bs])\b", m.group(1)):
        out.append(_Hit(m.start(), "hash", hash_name(name) or name, "", f"from hashlib import {name}", 0.7))
    return out


_PY.append(_py_hashlib_import)


@_rule("py.keygen", ("generate_private_key", "generate_parameters"),
       r"\b(rsa|dsa|dh|ec)\.(generate_private_key|generate_parameters)\s*\(")
def _py_keygen(m: re.Match[str], ctx: _Ctx) -> Iterable[_Hit]:
    mod = m.group(1)
    off, args = ctx.args(m.start())
    if mod == "ec":
        cm = re.search(r"\bec\.(\w+)\s*\(", args)
        curve = curve_name(cm.group(1)) if cm else None
        if cm:
            ctx.consumed.add(off + cm.start())
        return [_Hit(m.start(), "key", "EC", curve or "", "ec.generate_private_key()", 0.9 if curve else 0.8)]
    km = re.search(r"\bkey_size\s*=\s*([\w.]+)", args) or re.match(
        r"\s*(?:(?:public_exponent|generator)\s*=\s*)?\w+\s*,\s*([\w.]+)", args)
    value, conf, extra = _value(ctx, None, km.group(1) if km else None, numeric=True)
    alg, prim = {"rsa": ("RSA", "key"), "dsa": ("DSA", "signature"), "dh": ("DH", "key-exchange")}[mod]
    return [_Hit(m.start(), prim, alg, value, f"{mod}.{m.group(2)}()", max(conf, 0.8), extra)]  # type: ignore[arg-type]


_PY.append(_py_keygen)


@_rule("py.ec-curve", ("ec.SECP", "ec.Brainpool"),
       r"\bec\.(SECP192R1|SECP224R1|SECP256R1|SECP384R1|SECP521R1|SECP256K1|BrainpoolP256R1|BrainpoolP384R1|"
       r"BrainpoolP512R1)\s*\(")
def _py_ec_curve(m: re.Match[str], ctx: _Ctx) -> Iterable[_Hit]:
    return [_Hit(m.start(), "key", "EC", curve_name(m.group(1)) or m.group(1), f"ec.{m.group(1)}()", 0.85)]


_PY.append(_py_ec_curve)
_PY.append(_simple("py.ec-usage", ("ec.ECDH", "ec.ECDSA"), r"\bec\.(ECDH|ECDSA)\s*\(",
                   {"ECDH": ("key-exchange", "ECDH", ""), "ECDSA": ("signature", "ECDSA", "")}, "ec.{0}()", 0.85))
_PY.append(_simple(
    "py.curve-keys", ("25519", "448"), r"\b(Ed25519|Ed448|X25519|X448)(?:Private|Public)Key\b",
    {"Ed25519": ("signature", "Ed25519", ""), "Ed448": ("signature", "Ed448", ""),
     "X25519": ("key-exchange", "X25519", ""), "X448": ("key-exchange", "X448", "")}, "{0}PrivateKey", 0.9))
_PY.append(_simple(
    "py.pq-keys", ("MLKEM", "MLDSA"), r"\b(MLKEM768|MLKEM1024|MLDSA44|MLDSA65|MLDSA87)(?:Private|Public)Key\b",
    {"MLKEM768": ("key-exchange", "ML-KEM", "768"), "MLKEM1024": ("key-exchange", "ML-KEM", "1024"),
     "MLDSA44": ("signature", "ML-DSA", "44"), "MLDSA65": ("signature", "ML-DSA", "65"),
     "MLDSA87": ("signature", "ML-DSA", "87")}, "{0}PrivateKey", 0.9))


@_rule("py.hazmat-cipher", "algorithms.", r"\balgorithms\.(AES|AES128|AES256|Camellia|TripleDES|Blowfish|CAST5|ARC4|"
       r"IDEA|SEED|SM4|ChaCha20)\s*\(")
def _py_hazmat_cipher(m: re.Match[str], ctx: _Ctx) -> Iterable[_Hit]:
    name = m.group(1)
    alg = {"AES128": "AES", "AES256": "AES", "TripleDES": "3DES", "ARC4": "RC4"}.get(name, name)
    param = {"AES128": "128", "AES256": "256"}.get(name, "")
    extra: dict[str, Any] = {}
    if not param and alg in ("AES", "Camellia"):
        am = re.match(r"\(\s*([A-Za-z_][\w.]*)", ctx.code[m.end() - 1:m.end() + 80])
        param = ctx.key_bytes(am.group(1)) if am else ""
    window = ctx.code[m.end():m.end() + 240]
    nxt = window.find("algorithms.")
    if nxt >= 0:
        window = window[:nxt]
    mm = re.search(r"\bmodes\.(ECB|CBC|GCM|CTR|CFB8|CFB|OFB|XTS)\s*\(", window)
    if mm:
        extra["mode"] = _mode(mm.group(1))
    return [_Hit(m.start(), "cipher", alg, param, f"algorithms.{name}()", 0.9, extra)]


_PY.append(_py_hazmat_cipher)


@_rule("py.hazmat-aead", ("AESGCM", "AESCCM", "AESOCB3", "AESSIV", "ChaCha20Poly1305"),
       r"\b(AESGCM|AESCCM|AESOCB3|AESSIV|AESGCMSIV|ChaCha20Poly1305)\s*(\.generate_key\s*\(|\()")
def _py_hazmat_aead(m: re.Match[str], ctx: _Ctx) -> Iterable[_Hit]:
    name = m.group(1)
    if name == "ChaCha20Poly1305":
        return [_Hit(m.start(), "cipher", "ChaCha20-Poly1305", "", "ChaCha20Poly1305", 0.9)]
    param = ""
    tail = ctx.code[m.end() - 1:m.end() + 80]
    bm = re.match(r"\(\s*(?:bit_length\s*=\s*)?(128|192|256)\b", tail)
    if bm and m.group(2) != "(":
        param = bm.group(1)
    elif m.group(2) == "(":
        am = re.match(r"\(\s*([A-Za-z_][\w.]*)", tail)
        param = ctx.key_bytes(am.group(1)) if am else ""
    mode = {"AESGCM": "gcm", "AESCCM": "ccm", "AESOCB3": "ocb", "AESSIV": "siv", "AESGCMSIV": "gcm-siv"}[name]
    return [_Hit(m.start(), "cipher", "AES", param, name, 0.9, {"mode": mode})]


_PY.append(_py_hazmat_aead)
_PY.append(_simple(
    "py.hazmat-padding", "padding.", r"\bpadding\.(OAEP|PSS|PKCS1v15)\s*\(",
    {"OAEP": ("public-key-encryption", "RSA", ""), "PSS": ("signature", "RSA", ""),
     "PKCS1v15": ("unknown", "RSA", "")}, "padding.{0}()", 0.8))


@_rule("py.hazmat-hashes", "hashes.", r"\bhashes\.(MD5|SHA1|SHA224|SHA256|SHA384|SHA512|SHA512_224|SHA512_256|"
       r"SHA3_224|SHA3_256|SHA3_384|SHA3_512|SHAKE128|SHAKE256|BLAKE2b|BLAKE2s|SM3)\s*\(")
def _py_hazmat_hashes(m: re.Match[str], ctx: _Ctx) -> Iterable[_Hit]:
    if m.start() in ctx.consumed:
        return []
    return [_Hit(m.start(), "hash", hash_name(m.group(1)) or m.group(1), "", f"hashes.{m.group(1)}()", 0.85)]


_PY.append(_py_hazmat_hashes)


@_rule("py.hazmat-kdf", ("PBKDF2HMAC", "Scrypt", "HKDF", "X963KDF", "ConcatKDF", "Argon2"),
       r"\b(PBKDF2HMAC|Scrypt|HKDF|HKDFExpand|X963KDF|ConcatKDFHash|Argon2id)\s*\(")
def _py_hazmat_kdf(m: re.Match[str], ctx: _Ctx) -> Iterable[_Hit]:
    off, args = ctx.args(m.start())
    hm = re.search(r"\bhashes\.(\w+)\s*\(", args)
    param = ""
    if hm:
        param = hash_name(hm.group(1)) or ""
        ctx.consumed.add(off + hm.start())
    alg = {"PBKDF2HMAC": "PBKDF2", "Scrypt": "scrypt", "HKDFExpand": "HKDF", "ConcatKDFHash": "ConcatKDF",
           "X963KDF": "X963KDF"}.get(m.group(1), m.group(1))
    return [_Hit(m.start(), "kdf", alg, param, m.group(1), 0.9)]


_PY.append(_py_hazmat_kdf)


@_rule("py.pycryptodome-cipher", ".new", r"\b(AES|DES3|DES|ARC4|ARC2|Blowfish|CAST|ChaCha20_Poly1305|ChaCha20|"
       r"Salsa20|XChaCha20)\.new\s*\(")
def _py_pycd_cipher(m: re.Match[str], ctx: _Ctx) -> Iterable[_Hit]:
    name = m.group(1)
    alg = {"DES3": "3DES", "ARC4": "RC4", "ARC2": "RC2", "CAST": "CAST5", "ChaCha20_Poly1305": "ChaCha20-Poly1305",
           "XChaCha20": "XChaCha20"}.get(name, name)
    _off, args = ctx.args(m.start())
    extra: dict[str, Any] = {}
    mm = re.search(r"\.MODE_(ECB|CBC|CFB|OFB|CTR|GCM|CCM|EAX|SIV|OCB|OPENPGP)\b", args)
    if mm:
        extra["mode"] = _mode(mm.group(1))
    elif alg in ("AES", "3DES", "DES", "Blowfish", "CAST5", "RC2"):
        extra["mode"] = "unknown"
    param = ""
    if alg == "AES":
        km = re.match(r"\s*(?:key\s*=\s*)?([A-Za-z_][\w.]*)", args)
        param = ctx.key_bytes(km.group(1)) if km else ""
    conf = 0.9 if ctx.has("Crypto") else 0.7
    return [_Hit(m.start(), "cipher", alg, param, f"{name}.new()", conf, extra)]


_PY.append(_py_pycd_cipher)
_PY.append(_simple(
    "py.pycryptodome-hash", ".new", r"\b(MD5|MD4|MD2|SHA|SHA1|SHA224|SHA256|SHA384|SHA512|SHA3_256|SHA3_384|SHA3_512|"
    r"RIPEMD160|BLAKE2b|BLAKE2s)\.new\s*\(",
    {k: ("hash", hash_name(k) or k, "") for k in ("MD5", "MD4", "MD2", "SHA", "SHA1", "SHA224", "SHA256", "SHA384",
                                                  "SHA512", "SHA3_256", "SHA3_384", "SHA3_512", "RIPEMD160",
                                                  "BLAKE2b", "BLAKE2s")}, "{0}.new()", 0.85))


@_rule("py.pycryptodome-keys", (".generate", ".import_key", ".importKey", ".construct"),
       r"\b(RSA|DSA|ECC)\.(generate|import_key|importKey|construct)\s*\(")
def _py_pycd_keys(m: re.Match[str], ctx: _Ctx) -> Iterable[_Hit]:
    kind, fn = m.group(1), m.group(2)
    _off, args = ctx.args(m.start())
    if kind == "ECC":
        cm = re.search(r"""curve\s*=\s*["']([\w-]+)["']""", args)
        an = parse_algorithm_name(cm.group(1)) if cm else None
        if an and an.algorithm in ("Ed25519", "Ed448"):
            return [_Hit(m.start(), "signature", an.algorithm, "", f"ECC.{fn}()", 0.9)]
        return [_Hit(m.start(), "key", "EC", an.parameter if an else "", f"ECC.{fn}()", 0.9 if an else 0.7)]
    if fn != "generate":
        return [_Hit(m.start(), "key" if kind == "RSA" else "signature", kind, "", f"{kind}.{fn}()", 0.7)]
    bm = re.match(r"\s*(?:bits\s*=\s*)?([\w.]+)", args)
    value, conf, extra = _value(ctx, None, bm.group(1) if bm else None, numeric=True)
    return [_Hit(m.start(), "key" if kind == "RSA" else "signature", kind, value, f"{kind}.generate()",
                 max(conf, 0.8), extra)]


_PY.append(_py_pycd_keys)
_PY.append(_simple(
    "py.pycryptodome-schemes", ".new", r"\b(PKCS1_OAEP|PKCS1_v1_5|pss|DSS|eddsa)\.new\s*\(",
    {"PKCS1_OAEP": ("public-key-encryption", "RSA", ""), "PKCS1_v1_5": ("unknown", "RSA", ""),
     "pss": ("signature", "RSA", ""), "DSS": ("signature", "ECDSA", ""), "eddsa": ("signature", "Ed25519", "")},
    "{0}.new()", 0.8))

_SSL_PROTOCOLS = {"SSLv2": ("SSL", "2.0"), "SSLv3": ("SSL", "3.0"), "SSLv23": ("TLS", ""), "TLS": ("TLS", ""),
                  "TLS_CLIENT": ("TLS", ""), "TLS_SERVER": ("TLS", ""), "TLSv1": ("TLS", "1.0"),
                  "TLSv1_1": ("TLS", "1.1"), "TLSv1_2": ("TLS", "1.2"), "TLSv1_3": ("TLS", "1.3")}


@_rule("py.ssl-protocol", ("PROTOCOL_", "TLSVersion."),
       r"\b(?:ssl\.PROTOCOL_|PROTOCOL_|TLSVersion\.)(SSLv2|SSLv3|SSLv23|TLS_CLIENT|TLS_SERVER|TLSv1_3|TLSv1_2|"
       r"TLSv1_1|TLSv1|TLS)\b")
def _py_ssl_protocol(m: re.Match[str], ctx: _Ctx) -> Iterable[_Hit]:
    alg, ver = _SSL_PROTOCOLS[m.group(1)]
    before = ctx.line_prefix(m.start())
    ctxt = ("minimum_version" if "minimum_version" in before else "maximum_version" if "maximum_version" in before
            else m.group(0))
    return [_Hit(m.start(), "protocol", alg, ver, ctxt, 0.9)]


_PY.append(_py_ssl_protocol)


@_rule("py.ssl-ciphers", ("set_ciphers", "set_ecdh_curve"), r"\.(set_ciphers|set_ecdh_curve)\s*\(\s*" + _LIT)
def _py_ssl_ciphers(m: re.Match[str], ctx: _Ctx) -> Iterable[_Hit]:
    if m.group(1) == "set_ecdh_curve":
        return [_group_hit(m.start(), m.group(2), "set_ecdh_curve()")]
    return [_Hit(m.start(), "protocol", "TLS", "", "set_ciphers()", 0.85, {"cipher_list": m.group(2)})]


_PY.append(_py_ssl_ciphers)


def _jws_hits(m: re.Match[str], ctx: _Ctx, values: str, context: str) -> list[_Hit]:
    jwtish = any(ctx.has(k) for k in ("jwt", "jose", "JWT", "jws", "Jwts"))
    out = []
    for name in re.findall(r"""["'`]([A-Za-z0-9_-]{2,20})["'`]""", values):
        an = parse_jws_algorithm(name)
        if an is None:
            continue
        extra: dict[str, Any] = {"jws": name}
        if an.hash:
            extra["hash"] = an.hash
        if an.padding:
            extra["padding"] = an.padding
        if an.mode:
            extra["mode"] = an.mode
        out.append(_Hit(m.start(), an.primitive, an.algorithm, an.parameter, context, 0.85 if jwtish else 0.5, extra))
    return out


@_rule("py.jwt", "algorithm", r"\balgorithms?\s*=\s*(\[[^\]\n]{0,200}\]|\([^)\n]{0,200}\)|" + _Q + r"[\w-]+" + _Q + ")")
def _py_jwt(m: re.Match[str], ctx: _Ctx) -> Iterable[_Hit]:
    return _jws_hits(m, ctx, m.group(1), "JWT algorithm")


_PY.append(_py_jwt)
_PY.append(_simple(
    "py.nacl", "nacl",
    r"\b(?:nacl\.)?(?:public\.|signing\.|secret\.)?(Box|SealedBox|SigningKey|SecretBox)\s*[.(]",
    {"Box": ("key-exchange", "X25519", ""), "SealedBox": ("key-exchange", "X25519", ""),
     "SigningKey": ("signature", "Ed25519", ""), "SecretBox": ("cipher", "XSalsa20-Poly1305", "")},
    "nacl {0}", 0.8))

# ---------------------------------------------------------------------------------------------------------------
# Java (and Kotlin, Scala, Groovy) rules
# ---------------------------------------------------------------------------------------------------------------

_JAVA: list[_Rule] = []

_JCA_DEFAULT: dict[str, Primitive] = {
    "MessageDigest": "hash", "Cipher": "cipher", "Mac": "mac", "KeyPairGenerator": "key", "KeyGenerator": "cipher",
    "KeyAgreement": "key-exchange", "Signature": "signature", "SSLContext": "protocol", "SecretKeyFactory": "kdf",
    "KeyFactory": "key", "KEM": "key-exchange",
}


@_rule("java.getInstance", "getInstance",
       r"\b(MessageDigest|Cipher|Mac|KeyPairGenerator|KeyGenerator|KeyAgreement|Signature|SSLContext|"
       r"SecretKeyFactory|KeyFactory|KEM)\s*\.\s*getInstance\s*\(\s*(?:\"([^\"\n]{1,100})\"|" + _IDENT + ")")
def _java_get_instance(m: re.Match[str], ctx: _Ctx) -> Iterable[_Hit]:
    cls = m.group(1)
    value, conf, extra = _value(ctx, m.group(2), m.group(3), numeric=False)
    context = f"{cls}.getInstance"
    default = _JCA_DEFAULT[cls]
    if not value:
        return [_Hit(m.start(), default, "unknown", "", context, conf, extra)]
    if cls == "Cipher":
        an = parse_algorithm_name(value)
        if an and "/" not in value and an.primitive == "cipher" and an.algorithm not in (
                "ChaCha20-Poly1305", "ChaCha20", "RC4") and not an.mode:
            an = AlgorithmName("cipher", an.algorithm, an.parameter, "ecb", "pkcs5")
            extra["note"] = "JCA default transformation: <alg>/ECB/PKCS5Padding"
        elif an and an.algorithm == "RSA" and "/" not in value:
            an = AlgorithmName("public-key-encryption", "RSA", an.parameter, "", "pkcs1v15")
            extra["note"] = "JCA default transformation: RSA/ECB/PKCS1Padding"
        if an is None:
            return [_name_hit(m.start(), value, context, conf, extra, default=default)]
        ex = dict(extra)
        ex["transformation"] = value
        for k in ("mode", "padding", "hash"):
            if getattr(an, k):
                ex[k] = getattr(an, k)
        return [_Hit(m.start(), an.primitive if an.primitive != "unknown" else default, an.algorithm, an.parameter,
                     context, conf, ex)]
    if cls == "SecretKeyFactory":
        return [_name_hit(m.start(), value, context, conf, extra, default="kdf")]
    hit = _name_hit(m.start(), value, context, conf, extra, default=default,
                    force="hash" if cls == "MessageDigest" else None)
    hits = [hit]
    if cls in ("KeyPairGenerator", "KeyGenerator") and hit.algorithm != "unknown":
        if cls == "KeyPairGenerator" and hit.primitive == "unknown":
            hit.primitive = "key"
        if cls == "KeyGenerator" and hit.primitive == "mac":
            pass
        elif not hit.parameter:
            window = ctx.code[m.end():m.end() + 800]
            stop = window.find("getInstance")
            if stop >= 0:
                window = window[:stop]
            im = re.search(r"\.(?:initialize|init)\s*\(\s*(?:new\s+(?:RSAKeyGenParameterSpec|DHGenParameterSpec)\s*"
                           r"\(\s*)?([\w.]+)", window)
            gm = re.search(r"new\s+(?:ECGenParameterSpec|NamedParameterSpec)\s*\(\s*\"([\w-]+)\"", window) or \
                re.search(r"NamedParameterSpec\.(\w+)", window)
            if gm:
                an = parse_algorithm_name(gm.group(1).replace("_", "-"))
                if an and an.algorithm == "EC":
                    hit.parameter = an.parameter
                elif an and an.algorithm in ("ML-KEM", "ML-DSA", "X25519", "X448", "Ed25519", "Ed448"):
                    hit.algorithm, hit.parameter, hit.primitive = an.algorithm, an.parameter, an.primitive
                ctx.consumed.add(m.end() + gm.start())
                if gm.re.groups and '"' in gm.group(0):
                    ctx.consumed_strings.add(m.end() + gm.start(1) - 1)
            elif im and not im.group(1).startswith("new"):
                v, _c2, ex2 = _value(ctx, None, im.group(1), numeric=True)
                if v:
                    hit.parameter = v
                    hit.extra.update(ex2)
    if cls == "Signature" and hit.extra.get("hash"):
        hits.append(_Hit(m.start(), "hash", hit.extra["hash"], "", context, conf, {"signature": value}))
    return hits


_JAVA.append(_java_get_instance)


@_rule("java.ecgenspec", "ECGenParameterSpec", r"new\s+ECGenParameterSpec\s*\(\s*\"([\w-]+)\"")
def _java_ecgen(m: re.Match[str], ctx: _Ctx) -> Iterable[_Hit]:
    if m.start() in ctx.consumed:
        return []
    return [_name_hit(m.start(), m.group(1), "ECGenParameterSpec", 0.85, {}, force="key")]


_JAVA.append(_java_ecgen)


@_rule("java.tls-config", ("setEnabledProtocols", "setEnabledCipherSuites"),
       r"\.(setEnabledProtocols|setEnabledCipherSuites)\s*\(")
def _java_tls_config(m: re.Match[str], ctx: _Ctx) -> Iterable[_Hit]:
    _off, args = ctx.args(m.start())
    out = []
    for name in re.findall(r"\"([\w.]+)\"", args):
        if m.group(1) == "setEnabledProtocols":
            an = parse_algorithm_name(name)
            if an and an.primitive == "protocol":
                out.append(_Hit(m.start(), "protocol", an.algorithm, an.parameter, "setEnabledProtocols", 0.9))
        else:
            out.append(_Hit(m.start(), "protocol", "TLS", "", "setEnabledCipherSuites", 0.9, {"cipher_suite": name}))
    return out


_JAVA.append(_java_tls_config)

_BC_CLASSES: dict[str, tuple[Primitive, str, str]] = {
    "RSAKeyPairGenerator": ("key", "RSA", ""), "ECKeyPairGenerator": ("key", "EC", ""),
    "Ed25519KeyPairGenerator": ("signature", "Ed25519", ""), "Ed448KeyPairGenerator": ("signature", "Ed448", ""),
    "X25519KeyPairGenerator": ("key-exchange", "X25519", ""), "X448KeyPairGenerator": ("key-exchange", "X448", ""),
    "DHKeyPairGenerator": ("key-exchange", "DH", ""), "DSAKeyPairGenerator": ("signature", "DSA", ""),
    "MLKEMKeyPairGenerator": ("key-exchange", "ML-KEM", ""), "MLDSAKeyPairGenerator": ("signature", "ML-DSA", ""),
    "SLHDSAKeyPairGenerator": ("signature", "SLH-DSA", ""), "KyberKeyPairGenerator": ("key-exchange", "ML-KEM", ""),
    "DilithiumKeyPairGenerator": ("signature", "ML-DSA", ""),
    "AESEngine": ("cipher", "AES", ""), "AESFastEngine": ("cipher", "AES", ""), "AESLightEngine": ("cipher", "AES", ""),
    "DESEngine": ("cipher", "DES", ""), "DESedeEngine": ("cipher", "3DES", ""), "RC4Engine": ("cipher", "RC4", ""),
    "RC2Engine": ("cipher", "RC2", ""), "BlowfishEngine": ("cipher", "Blowfish", ""),
    "TwofishEngine": ("cipher", "Twofish", ""), "CamelliaEngine": ("cipher", "Camellia", ""),
    "ChaCha7539Engine": ("cipher", "ChaCha20", ""), "ChaChaEngine": ("cipher", "ChaCha20", ""),
    "Salsa20Engine": ("cipher", "Salsa20", ""), "SM4Engine": ("cipher", "SM4", ""),
    "IDEAEngine": ("cipher", "IDEA", ""),
    "SEEDEngine": ("cipher", "SEED", ""), "ARIAEngine": ("cipher", "ARIA", ""),
    "ChaCha20Poly1305": ("cipher", "ChaCha20-Poly1305", ""),
    "ECDSASigner": ("signature", "ECDSA", ""), "DSASigner": ("signature", "DSA", ""),
    "Ed25519Signer": ("signature", "Ed25519", ""), "Ed448Signer": ("signature", "Ed448", ""),
    "RSADigestSigner": ("signature", "RSA", ""), "PSSSigner": ("signature", "RSA", ""),
    "SM2Signer": ("signature", "SM2", ""), "MLDSASigner": ("signature", "ML-DSA", ""),
    "SLHDSASigner": ("signature", "SLH-DSA", ""), "DilithiumSigner": ("signature", "ML-DSA", ""),
    "SPHINCSPlusSigner": ("signature", "SLH-DSA", ""),
    "ECDHBasicAgreement": ("key-exchange", "ECDH", ""), "ECDHCBasicAgreement": ("key-exchange", "ECDH", ""),
    "DHBasicAgreement": ("key-exchange", "DH", ""), "DHAgreement": ("key-exchange", "DH", ""),
    "X25519Agreement": ("key-exchange", "X25519", ""), "X448Agreement": ("key-exchange", "X448", ""),
    "MLKEMGenerator": ("key-exchange", "ML-KEM", ""), "MLKEMExtractor": ("key-exchange", "ML-KEM", ""),
    "KyberKEMGenerator": ("key-exchange", "ML-KEM", ""),
    "RSAEngine": ("public-key-encryption", "RSA", ""), "OAEPEncoding": ("public-key-encryption", "RSA", ""),
    "PKCS1Encoding": ("public-key-encryption", "RSA", ""), "ElGamalEngine": ("public-key-encryption", "ElGamal", ""),
    "MD5Digest": ("hash", "MD5", ""), "MD4Digest": ("hash", "MD4", ""), "SHA1Digest": ("hash", "SHA-1", ""),
    "SHA224Digest": ("hash", "SHA-224", ""), "SHA256Digest": ("hash", "SHA-256", ""),
    "SHA384Digest": ("hash", "SHA-384", ""), "SHA512Digest": ("hash", "SHA-512", ""),
    "RIPEMD160Digest": ("hash", "RIPEMD-160", ""), "Blake2bDigest": ("hash", "BLAKE2b", ""),
    "SM3Digest": ("hash", "SM3", ""), "SHA3Digest": ("hash", "SHA3-256", ""),
}
_BC_PATTERN = "|".join(sorted(_BC_CLASSES, key=len, reverse=True))


@_rule("java.bc-modes", "BlockCipher",
       r"\b(CBC|GCM|CCM|SIC|CFB|OFB|EAX|OCB|GCMSIV)BlockCipher(?:\s*\.\s*newInstance)?\s*\(\s*(?:new\s+)?(\w+?)Engine")
def _java_bc_modes(m: re.Match[str], ctx: _Ctx) -> Iterable[_Hit]:
    spec = _BC_CLASSES.get(m.group(2) + "Engine")
    if spec is None:
        return []
    ctx.consumed.update(range(m.start(), m.end()))
    return [_Hit(m.start(), "cipher", spec[1], "", f"{m.group(1)}BlockCipher", 0.9, {"mode": _mode(m.group(1))})]


_JAVA.append(_java_bc_modes)


@_rule("java.bc-classes", ("KeyPairGenerator", "Engine", "Digest(", "Digest.newInstance", "Signer(", "Agreement(",
                           "Encoding(", "ChaCha20Poly1305", "KEMGenerator", "KEMExtractor"),
       r"(?:\bnew\s+|\b)(" + _BC_PATTERN + r")\s*(?:\.\s*newInstance\s*)?\(\s*(\d{3})?")
def _java_bc_classes(m: re.Match[str], ctx: _Ctx) -> Iterable[_Hit]:
    if any(p in ctx.consumed for p in (m.start(), m.start(1))):
        return []
    name = m.group(1)
    prim, alg, param = _BC_CLASSES[name]
    if name == "SHA3Digest" and m.group(2):
        alg = f"SHA3-{m.group(2)}"
    extra: dict[str, Any] = {}
    if name == "RSAKeyPairGenerator":
        gm = re.search(r"new\s+RSAKeyGenerationParameters\s*\(\s*[^,]+,\s*[^,]+,\s*([\w.]+)",
                       ctx.code[m.end():m.end() + 600])
        if gm:
            param, _c, extra = _value(ctx, None, gm.group(1), numeric=True)
    return [_Hit(m.start(), prim, alg, param, name, 0.9 if name.endswith(("Engine", "Digest")) else 0.85, extra)]


_JAVA.append(_java_bc_classes)


@_rule("java.bc-hmac", "HMac", r"new\s+HMac\s*\(\s*new\s+(\w+)Digest\s*\(")
def _java_bc_hmac(m: re.Match[str], ctx: _Ctx) -> Iterable[_Hit]:
    ctx.consumed.add(ctx.code.rfind("new", m.start(), m.start(1)))
    return [_Hit(m.start(), "mac", "HMAC", hash_name(m.group(1)) or "", "HMac", 0.9)]


_JAVA.insert(0, _java_bc_hmac)


@_rule("java.bc-pq-params", ("MLKEMParameters", "KyberParameters", "MLDSAParameters", "DilithiumParameters",
                             "SLHDSAParameters", "SPHINCSPlusParameters"),
       r"\b(?:MLKEMParameters|KyberParameters|MLDSAParameters|DilithiumParameters|SLHDSAParameters|"
       r"SPHINCSPlusParameters)\.(\w+)")
def _java_bc_pq(m: re.Match[str], ctx: _Ctx) -> Iterable[_Hit]:
    p = m.group(1).lower()
    km = re.fullmatch(r"(?:ml_kem_|kyber)(512|768|1024)", p)
    if km:
        return [_Hit(m.start(), "key-exchange", "ML-KEM", km.group(1), m.group(0), 0.9)]
    dm = re.fullmatch(r"(?:ml_dsa_(44|65|87)|dilithium([235]))", p)
    if dm:
        return [_Hit(m.start(), "signature", "ML-DSA", dm.group(1) or {"2": "44", "3": "65", "5": "87"}[dm.group(2)],
                     m.group(0), 0.9)]
    sm = re.fullmatch(r"(sha2|shake)_(128|192|256)([sf])\w*", p)
    if sm:
        return [_Hit(m.start(), "signature", "SLH-DSA", f"{sm.group(1).upper()}-{sm.group(2)}{sm.group(3)}",
                     m.group(0), 0.9)]
    return []


_JAVA.append(_java_bc_pq)


@_rule("java.bc-curves", ("NamedCurve", "Curves."),
       r"\b(?:ECNamedCurveTable|CustomNamedCurves|SECNamedCurves|NISTNamedCurves)\s*\.\s*(?:getParameterSpec|getByName)"
       r"\s*\(\s*\"([\w-]+)\"")
def _java_bc_curves(m: re.Match[str], ctx: _Ctx) -> Iterable[_Hit]:
    return [_name_hit(m.start(), m.group(1), "named curve", 0.85, {}, force="key")]


_JAVA.append(_java_bc_curves)


@_rule("java.content-signer", "ContentSignerBuilder", r"\bJca\w*ContentSignerBuilder\s*\(\s*\"([\w-]+)\"")
def _java_content_signer(m: re.Match[str], ctx: _Ctx) -> Iterable[_Hit]:
    hit = _name_hit(m.start(), m.group(1), "JcaContentSignerBuilder", 0.9, {}, default="signature")
    out = [hit]
    if hit.extra.get("hash"):
        out.append(_Hit(m.start(), "hash", hit.extra["hash"], "", "JcaContentSignerBuilder", 0.9))
    return out


_JAVA.append(_java_content_signer)


@_rule("java.jwt", ("SignatureAlgorithm", "Jwts.SIG", "Algorithm.HMAC", "Algorithm.RSA", "Algorithm.ECDSA"),
       r"\b(?:SignatureAlgorithm|Jwts\.SIG|Algorithm)\s*\.\s*(HS256|HS384|HS512|RS256|RS384|RS512|PS256|PS384|PS512|"
       r"ES256|ES384|ES512|EdDSA|HMAC256|HMAC384|HMAC512|RSA256|RSA384|RSA512|ECDSA256|ECDSA384|ECDSA512)\b")
def _java_jwt(m: re.Match[str], ctx: _Ctx) -> Iterable[_Hit]:
    name = m.group(1)
    am = re.fullmatch(r"(HMAC|RSA|ECDSA)(\d{3})", name)
    if am:
        name = {"HMAC": "HS", "RSA": "RS", "ECDSA": "ES"}[am.group(1)] + am.group(2)
    return _jws_hits(m, ctx, f'"{name}"', "JWT algorithm")


_JAVA.append(_java_jwt)

# ---------------------------------------------------------------------------------------------------------------
# Go rules
# ---------------------------------------------------------------------------------------------------------------

_GO: list[_Rule] = []


def _go_hash_fn(pkg: str, fn: str) -> str | None:
    if pkg == "md5":
        return "MD5"
    if pkg == "sha1":
        return "SHA-1"
    if pkg == "sha256":
        return "SHA-224" if "224" in fn else "SHA-256"
    if pkg == "sha512":
        for suffix, name in (("512_224", "SHA-512/224"), ("512_256", "SHA-512/256"), ("384", "SHA-384")):
            if fn.endswith(suffix):
                return name
        return "SHA-512"
    if pkg == "sha3":
        m = re.search(r"(224|256|384|512)$", fn)
        if "Shake" in fn or "SHAKE" in fn:
            return "SHAKE128" if "128" in fn else "SHAKE256"
        return f"SHA3-{m.group(1)}" if m else None
    return None


def _go_imported(ctx: _Ctx, pkg: str) -> bool:
    return ctx.has(f'"crypto/{pkg}"') or ctx.has(f'/{pkg}"')


@_rule("go.hmac", "hmac.New", r"\bhmac\.New\s*\(\s*(md5|sha1|sha256|sha512|sha3)\.(New\w*)")
def _go_hmac(m: re.Match[str], ctx: _Ctx) -> Iterable[_Hit]:
    ctx.consumed.add(m.start(1))
    return [_Hit(m.start(), "mac", "HMAC", _go_hash_fn(m.group(1), m.group(2)) or "", "hmac.New", 0.9)]


_GO.append(_go_hmac)


@_rule("go.pbkdf2", "pbkdf2.Key", r"\bpbkdf2\.Key\s*\(")
def _go_pbkdf2(m: re.Match[str], ctx: _Ctx) -> Iterable[_Hit]:
    off, args = ctx.args(m.start())
    hm = re.search(r"\b(md5|sha1|sha256|sha512|sha3)\.(New\w*)", args)
    param = ""
    if hm:
        param = _go_hash_fn(hm.group(1), hm.group(2)) or ""
        ctx.consumed.add(off + hm.start())
    return [_Hit(m.start(), "kdf", "PBKDF2", param, "pbkdf2.Key", 0.9)]


_GO.append(_go_pbkdf2)


@_rule("go.hash", ("md5.", "sha1.", "sha256.", "sha512.", "sha3."),
       r"\b(md5|sha1|sha256|sha512|sha3)\.(New\w*|Sum\w*)\s*\(")
def _go_hash(m: re.Match[str], ctx: _Ctx) -> Iterable[_Hit]:
    if m.start() in ctx.consumed:
        return []
    name = _go_hash_fn(m.group(1), m.group(2))
    if name is None:
        return []
    conf = 0.9 if _go_imported(ctx, m.group(1)) else 0.6
    return [_Hit(m.start(), "hash", name, "", f"{m.group(1)}.{m.group(2)}", conf)]


_GO.append(_go_hash)


@_rule("go.aes", "aes.NewCipher", r"\baes\.NewCipher\s*\(\s*([A-Za-z_][\w.]*)?")
def _go_aes(m: re.Match[str], ctx: _Ctx) -> Iterable[_Hit]:
    extra: dict[str, Any] = {}
    window = ctx.code[m.end():m.end() + 500]
    mm = re.search(r"\bcipher\.New(GCM|CBCEncrypter|CBCDecrypter|CFBEncrypter|CFBDecrypter|CTR|OFB|GCMWithNonceSize|"
                   r"GCMWithTagSize|GCMWithRandomNonce)\b", window)
    if mm:
        extra["mode"] = {"CBCEncrypter": "cbc", "CBCDecrypter": "cbc", "CFBEncrypter": "cfb", "CFBDecrypter": "cfb",
                         "CTR": "ctr", "OFB": "ofb"}.get(mm.group(1), "gcm")
    param = ctx.key_bytes(m.group(1)) if m.group(1) else ""
    return [_Hit(m.start(), "cipher", "AES", param, "aes.NewCipher", 0.9 if _go_imported(ctx, "aes") else 0.7, extra)]


_GO.append(_go_aes)
_GO.append(_simple(
    "go.ciphers", ("des.", "rc4.", "blowfish.", "chacha20"),
    r"\b(des\.NewCipher|des\.NewTripleDESCipher|rc4\.NewCipher|blowfish\.NewCipher|chacha20poly1305\.NewX|"
    r"chacha20poly1305\.New|chacha20\.NewUnauthenticatedCipher)\s*\(",
    {"des.NewCipher": ("cipher", "DES", ""), "des.NewTripleDESCipher": ("cipher", "3DES", ""),
     "rc4.NewCipher": ("cipher", "RC4", ""), "blowfish.NewCipher": ("cipher", "Blowfish", ""),
     "chacha20poly1305.New": ("cipher", "ChaCha20-Poly1305", ""),
     "chacha20poly1305.NewX": ("cipher", "XChaCha20-Poly1305", ""),
     "chacha20.NewUnauthenticatedCipher": ("cipher", "ChaCha20", "")}, "{0}", 0.9))


@_rule("go.rsa-keygen", "rsa.Generate", r"\brsa\.(GenerateKey|GenerateMultiPrimeKey)\s*\(")
def _go_rsa_keygen(m: re.Match[str], ctx: _Ctx) -> Iterable[_Hit]:
    _off, args = ctx.args(m.start())
    parts = [p.strip() for p in args.split(",")]
    idx = 2 if m.group(1) == "GenerateMultiPrimeKey" else 1
    value, conf, extra = _value(ctx, None, parts[idx] if len(parts) > idx and parts[idx] else None, numeric=True)
    return [_Hit(m.start(), "key", "RSA", value, f"rsa.{m.group(1)}", max(conf, 0.8), extra)]


_GO.append(_go_rsa_keygen)


@_rule("go.rsa-ops", "rsa.", r"\brsa\.(EncryptPKCS1v15|DecryptPKCS1v15|DecryptPKCS1v15SessionKey|EncryptOAEP|"
       r"DecryptOAEP|SignPKCS1v15|VerifyPKCS1v15|SignPSS|VerifyPSS)\s*\(")
def _go_rsa_ops(m: re.Match[str], ctx: _Ctx) -> Iterable[_Hit]:
    fn = m.group(1)
    off, args = ctx.args(m.start())
    out = []
    hm = re.search(r"\bcrypto\.(MD5|SHA1|SHA224|SHA256|SHA384|SHA512|SHA3_256|SHA3_384|SHA3_512)\b", args) or \
        re.search(r"\b(md5|sha1|sha256|sha512)\.New\(\)", args)
    h = hash_name(hm.group(1)) if hm else None
    if hm:
        ctx.consumed.add(off + hm.start())
    if fn.startswith(("Sign", "Verify")):
        pad = "pss" if "PSS" in fn else "pkcs1v15"
        out.append(_Hit(m.start(), "signature", "RSA", "", f"rsa.{fn}", 0.9, {"padding": pad, **(
            {"hash": h} if h else {})}))
        if h:
            out.append(_Hit(m.start(), "hash", h, "", f"rsa.{fn}", 0.9))
    else:
        pad = "oaep" if "OAEP" in fn else "pkcs1v15"
        out.append(_Hit(m.start(), "public-key-encryption", "RSA", "", f"rsa.{fn}", 0.9, {"padding": pad}))
    return out


_GO.append(_go_rsa_ops)


@_rule("go.ecdsa", "ecdsa.", r"\becdsa\.(GenerateKey|Sign|SignASN1|Verify|VerifyASN1)\s*\(\s*(?:elliptic\.(P\d{3})\s*"
       r"\(\s*\))?")
def _go_ecdsa(m: re.Match[str], ctx: _Ctx) -> Iterable[_Hit]:
    curve = curve_name(m.group(2)) if m.group(2) else ""
    if m.group(2):
        ctx.consumed.add(m.start(2) - len("elliptic."))
    return [_Hit(m.start(), "signature", "ECDSA", curve or "", f"ecdsa.{m.group(1)}", 0.9)]


_GO.append(_go_ecdsa)


@_rule("go.elliptic", "elliptic.", r"\belliptic\.(P224|P256|P384|P521)\s*\(\s*\)")
def _go_elliptic(m: re.Match[str], ctx: _Ctx) -> Iterable[_Hit]:
    if m.start() in ctx.consumed:
        return []
    return [_Hit(m.start(), "key", "EC", curve_name(m.group(1)) or "", f"elliptic.{m.group(1)}()", 0.85)]


_GO.append(_go_elliptic)
_GO.append(_simple(
    "go.ecdh", "ecdh.", r"\becdh\.(P256|P384|P521|X25519)\s*\(\s*\)",
    {"P256": ("key-exchange", "ECDH", "P-256"), "P384": ("key-exchange", "ECDH", "P-384"),
     "P521": ("key-exchange", "ECDH", "P-521"), "X25519": ("key-exchange", "X25519", "")}, "ecdh.{0}()", 0.9))
_GO.append(_simple(
    "go.curve25519", ("ed25519.", "curve25519."),
    r"\b(ed25519\.(?:GenerateKey|Sign|Verify|NewKeyFromSeed)|curve25519\.(?:X25519|ScalarMult|ScalarBaseMult))\s*\(",
    {**{f"ed25519.{f}": ("signature", "Ed25519", "") for f in ("GenerateKey", "Sign", "Verify", "NewKeyFromSeed")},
     **{f"curve25519.{f}": ("key-exchange", "X25519", "") for f in ("X25519", "ScalarMult", "ScalarBaseMult")}},
    "{0}", 0.9))


@_rule("go.mlkem", "mlkem.", r"\bmlkem\.(?:GenerateKey|NewDecapsulationKey|NewEncapsulationKey)(768|1024)\s*\(")
def _go_mlkem(m: re.Match[str], ctx: _Ctx) -> Iterable[_Hit]:
    return [_Hit(m.start(), "key-exchange", "ML-KEM", m.group(1), m.group(0).rstrip("( "), 0.9)]


_GO.append(_go_mlkem)


@_rule("go.dsa", "dsa.", r"\bdsa\.(?:GenerateParameters\s*\([^;\n]*?dsa\.L(\d{4})N\d+|(Sign|Verify|GenerateKey)\s*\()")
def _go_dsa(m: re.Match[str], ctx: _Ctx) -> Iterable[_Hit]:
    return [_Hit(m.start(), "signature", "DSA", m.group(1) or "", "crypto/dsa", 0.9)]


_GO.append(_go_dsa)

_GO_TLS_VERSIONS = {"VersionSSL30": ("SSL", "3.0"), "VersionTLS10": ("TLS", "1.0"), "VersionTLS11": ("TLS", "1.1"),
                    "VersionTLS12": ("TLS", "1.2"), "VersionTLS13": ("TLS", "1.3")}
_GO_TLS_GROUPS = {"CurveP256": ("ECDH", "P-256"), "CurveP384": ("ECDH", "P-384"), "CurveP521": ("ECDH", "P-521"),
                  "X25519": ("X25519", ""), "X25519MLKEM768": ("X25519MLKEM768", ""),
                  "SecP256r1MLKEM768": ("SecP256r1MLKEM768", ""), "SecP384r1MLKEM1024": ("SecP384r1MLKEM1024", ""),
                  "X25519Kyber768Draft00": ("X25519Kyber768Draft00", "")}


@_rule("go.tls", "tls.", r"\btls\.(Version\w+|CurveP\d{3}|X25519\w*|SecP\w+|TLS_[A-Z0-9_]+)\b")
def _go_tls(m: re.Match[str], ctx: _Ctx) -> Iterable[_Hit]:
    name = m.group(1)
    before = ctx.line_prefix(m.start())
    field_m = re.search(r"\b(MinVersion|MaxVersion|CurvePreferences|CipherSuites)\b", before)
    where = f"tls.Config {field_m.group(1)}" if field_m else f"tls.{name}"
    if name in _GO_TLS_VERSIONS:
        alg, ver = _GO_TLS_VERSIONS[name]
        return [_Hit(m.start(), "protocol", alg, ver, where, 0.9)]
    if name in _GO_TLS_GROUPS:
        alg, param = _GO_TLS_GROUPS[name]
        return [_Hit(m.start(), "key-exchange", alg, param, where, 0.9)]
    if name.startswith("TLS_"):
        return [_Hit(m.start(), "protocol", "TLS", "", where, 0.9, {"cipher_suite": name})]
    return []


_GO.append(_go_tls)


@_rule("go.x509-sigalg", "x509.", r"\bx509\.((MD2|MD5|SHA1|SHA256|SHA384|SHA512)WithRSA(PSS)?|DSAWith(SHA1|SHA256)|"
       r"ECDSAWith(SHA1|SHA256|SHA384|SHA512)|PureEd25519)\b")
def _go_x509_sigalg(m: re.Match[str], ctx: _Ctx) -> Iterable[_Hit]:
    name = m.group(1)
    if name == "PureEd25519":
        return [_Hit(m.start(), "signature", "Ed25519", "", "x509.PureEd25519", 0.9)]
    h = hash_name(m.group(2) or m.group(4) or m.group(5) or "")
    alg = "ECDSA" if name.startswith("ECDSA") else "DSA" if name.startswith("DSA") else "RSA"
    extra: dict[str, Any] = {"hash": h} if h else {}
    if m.group(3):
        extra["padding"] = "pss"
    out = [_Hit(m.start(), "signature", alg, "", f"x509.{name}", 0.9, extra)]
    if h:
        out.append(_Hit(m.start(), "hash", h, "", f"x509.{name}", 0.9))
    return out


_GO.append(_go_x509_sigalg)

# ---------------------------------------------------------------------------------------------------------------
# JavaScript / TypeScript rules
# ---------------------------------------------------------------------------------------------------------------

_JS: list[_Rule] = []
_ARG = r"\s*(?:" + _LIT + "|" + _IDENT + ")"


@_rule("js.hash", ("createHash", "createHmac"), r"\b(createHash|createHmac)\s*\(" + _ARG)
def _js_hash(m: re.Match[str], ctx: _Ctx) -> Iterable[_Hit]:
    value, conf, extra = _value(ctx, m.group(2), m.group(3), numeric=False)
    if m.group(1) == "createHmac":
        h = hash_name(value) if value else None
        if value and h is None:
            an = parse_algorithm_name(value)
            h = an.hash if an else None
        return [_Hit(m.start(), "mac", "HMAC", h or "", "createHmac", conf if (h or not value) else 0.5, extra)]
    h = hash_name(value) if value else None
    if h:
        return [_Hit(m.start(), "hash", h, "", "createHash", conf, extra)]
    return [_name_hit(m.start(), value, "createHash", conf, extra, force="hash")]


_JS.append(_js_hash)


@_rule("js.cipher", ("createCipher", "createDecipher"), r"\b(createCipheriv|createDecipheriv|createCipher|"
       r"createDecipher)\s*\(" + _ARG)
def _js_cipher(m: re.Match[str], ctx: _Ctx) -> Iterable[_Hit]:
    value, conf, extra = _value(ctx, m.group(2), m.group(3), numeric=False)
    if not m.group(1).endswith("iv"):
        extra["note"] = "deprecated API: key derived with EVP_BytesToKey (MD5, one iteration)"
    return [_name_hit(m.start(), value, m.group(1), conf, extra, default="cipher")]


_JS.append(_js_cipher)


@_rule("js.keypair", "generateKeyPair", r"\bgenerateKeyPair(?:Sync)?\s*\(" + _ARG)
def _js_keypair(m: re.Match[str], ctx: _Ctx) -> Iterable[_Hit]:
    value, conf, extra = _value(ctx, m.group(1), m.group(2), numeric=False)
    _off, args = ctx.args(m.start())
    kind = value.lower()
    if kind in ("rsa", "rsa-pss", "dsa", "dh"):
        lm = re.search(r"\b(?:modulusLength|primeLength)\s*:\s*([\w.]+)", args)
        gm = re.search(r"\bgroup\s*:\s*" + _LIT, args)
        param = ""
        if lm:
            param, _c2, ex2 = _value(ctx, None, lm.group(1), numeric=True)
            extra.update(ex2)
        elif gm:
            an = parse_algorithm_name(gm.group(1))
            param = an.parameter if an else ""
        alg = {"rsa": "RSA", "rsa-pss": "RSA", "dsa": "DSA", "dh": "DH"}[kind]
        prim: Primitive = {"rsa": "key", "rsa-pss": "signature", "dsa": "signature", "dh": "key-exchange"}[
            kind]  # type: ignore[assignment]
        if kind == "rsa-pss":
            extra["padding"] = "pss"
        return [_Hit(m.start(), prim, alg, param, "generateKeyPair", conf, extra)]
    if kind == "ec":
        cm = re.search(r"\bnamedCurve\s*:\s*" + _LIT, args)
        curve = curve_name(cm.group(1)) if cm else None
        return [_Hit(m.start(), "key", "EC", curve or "", "generateKeyPair", conf, extra)]
    return [_name_hit(m.start(), value, "generateKeyPair", conf, extra, default="key")]


_JS.append(_js_keypair)


@_rule("js.secret-keygen", "generateKey", r"\bgenerateKey(?:Sync)?\s*\(\s*" + _Q + r"(aes|hmac)" + _Q +
       r"\s*,\s*\{\s*length\s*:\s*(\d+)")
def _js_secret_keygen(m: re.Match[str], ctx: _Ctx) -> Iterable[_Hit]:
    if m.group(1) == "aes":
        return [_Hit(m.start(), "cipher", "AES", m.group(2), "generateKey", 0.9)]
    return [_Hit(m.start(), "mac", "HMAC", "", "generateKey", 0.8, {"key_bits": m.group(2)})]


_JS.append(_js_secret_keygen)


@_rule("js.ecdh-dh", ("createECDH", "DiffieHellman"),
       r"\b(createECDH|createDiffieHellmanGroup|getDiffieHellman|createDiffieHellman)\s*\(\s*(?:" + _LIT +
       r"|(\d{3,5})\b|" + _IDENT + ")")
def _js_ecdh_dh(m: re.Match[str], ctx: _Ctx) -> Iterable[_Hit]:
    fn = m.group(1)
    if fn == "createECDH":
        value, conf, extra = _value(ctx, m.group(2), m.group(4), numeric=False)
        curve = curve_name(value) if value else None
        return [_Hit(m.start(), "key-exchange", "ECDH", curve or "", fn, conf if curve or not value else 0.6, extra)]
    if m.group(3):
        return [_Hit(m.start(), "key-exchange", "DH", m.group(3), fn, 0.9)]
    an = parse_algorithm_name(m.group(2)) if m.group(2) else None
    return [_Hit(m.start(), "key-exchange", "DH", an.parameter if an else "", fn, 0.9 if an else 0.6)]


_JS.append(_js_ecdh_dh)


@_rule("js.sign", ("createSign", "createVerify", "crypto.sign", "crypto.verify"),
       r"\b(createSign|createVerify|crypto\.sign|crypto\.verify)\s*\(\s*(?:" + _LIT + r"|(null|undefined))")
def _js_sign(m: re.Match[str], ctx: _Ctx) -> Iterable[_Hit]:
    fn = m.group(1)
    if m.group(3):
        return [_Hit(m.start(), "signature", "unknown", "", fn, 0.6,
                     {"note": "algorithm from the key (Ed25519/Ed448)"})]
    name = m.group(2)
    an = parse_algorithm_name(name)
    h = hash_name(name)
    if an and an.primitive == "signature":
        out = [_Hit(m.start(), "signature", an.algorithm, an.parameter, fn, 0.9, {"hash": an.hash} if an.hash else {})]
        if an.hash:
            out.append(_Hit(m.start(), "hash", an.hash, "", fn, 0.9))
        return out
    if h:
        return [_Hit(m.start(), "signature", "unknown", "", fn, 0.6, {"hash": h}), _Hit(m.start(), "hash", h, "", fn,
                                                                                      0.9)]
    return [_name_hit(m.start(), name, fn, 0.6, {}, force="signature")]


_JS.append(_js_sign)


@_rule("js.kdf", ("pbkdf2", "scrypt", "hkdf"), r"\b(pbkdf2Sync|pbkdf2|scryptSync|scrypt|hkdfSync|hkdf)\s*\(")
def _js_kdf(m: re.Match[str], ctx: _Ctx) -> Iterable[_Hit]:
    fn = m.group(1)
    before = ctx.code[max(0, m.start() - 12):m.start()]
    if not (before.endswith(("crypto.", "forge.pkcs5.")) or any(ctx.has(k) for k in (
            "require('crypto')", 'require("crypto")', "from 'crypto'", 'from "crypto"', "node:crypto"))):
        return []
    _off, args = ctx.args(m.start())
    lits = re.findall(_LIT, args)
    if fn.startswith("scrypt"):
        return [_Hit(m.start(), "kdf", "scrypt", "", fn, 0.9)]
    if fn.startswith("hkdf"):
        return [_Hit(m.start(), "kdf", "HKDF", hash_name(lits[0]) or "" if lits else "", fn, 0.9)]
    h = next((hash_name(x) for x in reversed(lits) if hash_name(x)), None)
    return [_Hit(m.start(), "kdf", "PBKDF2", h or "", fn, 0.9 if h else 0.7)]


_JS.append(_js_kdf)


@_rule("js.rsa-encrypt", ("publicEncrypt", "privateDecrypt", "privateEncrypt", "publicDecrypt"),
       r"\b(publicEncrypt|privateDecrypt|privateEncrypt|publicDecrypt)\s*\(")
def _js_rsa_encrypt(m: re.Match[str], ctx: _Ctx) -> Iterable[_Hit]:
    _off, args = ctx.args(m.start())
    pm = re.search(r"\b(RSA_PKCS1_OAEP_PADDING|RSA_PKCS1_PADDING|RSA_NO_PADDING)\b", args)
    pad = {"RSA_PKCS1_OAEP_PADDING": "oaep", "RSA_PKCS1_PADDING": "pkcs1v15", "RSA_NO_PADDING": "none"}[
        pm.group(1)] if pm else ("oaep" if m.group(1) in ("publicEncrypt", "privateDecrypt") else "pkcs1v15")
    return [_Hit(m.start(), "public-key-encryption", "RSA", "", m.group(1), 0.85, {"padding": pad})]


_JS.append(_js_rsa_encrypt)

_WEBCRYPTO = ("RSA-OAEP|RSA-PSS|RSASSA-PKCS1-v1_5|ECDSA|ECDH|AES-GCM|AES-CBC|AES-CTR|AES-KW|HMAC|PBKDF2|HKDF|"
              "Ed25519|X25519|Ed448|X448|ML-KEM-512|ML-KEM-768|ML-KEM-1024|ML-DSA-44|ML-DSA-65|ML-DSA-87")


def _webcrypto_hit(pos: int, name: str, obj: str, ctx: _Ctx, conf: float, context: str) -> _Hit:
    extra: dict[str, Any] = {}
    hm = re.search(r"\bhash\s*:\s*(?:" + _LIT + r"|\{\s*name\s*:\s*" + _LIT + ")", obj)
    h = hash_name(hm.group(1) or hm.group(2)) if hm else None
    if h:
        extra["hash"] = h
    if name.startswith("AES-"):
        lm = re.search(r"\blength\s*:\s*(\d+)", obj)
        mode = {"AES-KW": "wrap"}.get(name, name[4:].lower())
        return _Hit(pos, "cipher", "AES", lm.group(1) if lm else "", context, conf, {"mode": mode})
    if name == "HMAC":
        return _Hit(pos, "mac", "HMAC", h or "", context, conf)
    if name in ("PBKDF2", "HKDF"):
        return _Hit(pos, "kdf", name, h or "", context, conf)
    if name.startswith("RSA"):
        mm = re.search(r"\bmodulusLength\s*:\s*([\w.]+)", obj)
        param = ""
        if mm:
            param, _c, ex2 = _value(ctx, None, mm.group(1), numeric=True)
            extra.update(ex2)
        if name == "RSA-OAEP":
            extra["padding"] = "oaep"
            return _Hit(pos, "public-key-encryption", "RSA", param, context, conf, extra)
        extra["padding"] = "pss" if name == "RSA-PSS" else "pkcs1v15"
        return _Hit(pos, "signature", "RSA", param, context, conf, extra)
    if name in ("ECDSA", "ECDH"):
        cm = re.search(r"\bnamedCurve\s*:\s*" + _LIT, obj)
        curve = curve_name(cm.group(1)) if cm else None
        return _Hit(pos, "signature" if name == "ECDSA" else "key-exchange", name, curve or "", context, conf, extra)
    an = parse_algorithm_name(name)
    if an is None:
        return _Hit(pos, "unknown", "unknown", "", context, 0.5, {"name": name})
    return _Hit(pos, an.primitive, an.algorithm, an.parameter, context, conf, extra)


@_rule("js.webcrypto-object", ("RSA-", "RSASSA", "ECDSA", "ECDH", "AES-", "HMAC", "PBKDF2", "HKDF", "25519", "448",
                               "ML-KEM", "ML-DSA"), r"\bname\s*:\s*" + _Q + "(" + _WEBCRYPTO + ")" + _Q)
def _js_webcrypto_object(m: re.Match[str], ctx: _Ctx) -> Iterable[_Hit]:
    code = ctx.code
    open_pos = code.rfind("{", max(0, m.start() - 200), m.start())
    start = open_pos if open_pos >= 0 else m.start()
    close = code.find("}", m.end(), m.end() + 400)
    obj = code[start:close + 1 if close >= 0 else m.end() + 400]
    conf = 0.9 if ctx.has("subtle") else 0.6
    return [_webcrypto_hit(m.start(), m.group(1), obj, ctx, conf, "WebCrypto algorithm")]


_JS.append(_js_webcrypto_object)


@_rule("js.webcrypto-call", "subtle.", r"\bsubtle\.(digest|importKey|generateKey|encrypt|decrypt|sign|verify|deriveKey|"
       r"deriveBits|wrapKey|unwrapKey)\s*\(\s*(?:" + _Q + r"(?:raw|pkcs8|spki|jwk)" + _Q + r"\s*,\s*[^,]+,\s*)?" + _Q +
       r"([\w-]+)" + _Q)
def _js_webcrypto_call(m: re.Match[str], ctx: _Ctx) -> Iterable[_Hit]:
    name = m.group(2)
    ctx.consumed_strings.add(m.start(2) - 1)
    if m.group(1) == "digest":
        h = hash_name(name)
        return [_Hit(m.start(), "hash", h or "unknown", "", "subtle.digest", 0.9 if h else 0.5)]
    if not re.fullmatch(_WEBCRYPTO, name):
        return []
    return [_webcrypto_hit(m.start(), name, "", ctx, 0.9, f"subtle.{m.group(1)}")]


_JS.append(_js_webcrypto_call)


@_rule("js.webcrypto-digest-object", "subtle.digest", r"\bsubtle\.digest\s*\(\s*\{\s*name\s*:\s*" + _LIT)
def _js_webcrypto_digest(m: re.Match[str], ctx: _Ctx) -> Iterable[_Hit]:
    h = hash_name(m.group(1))
    return [_Hit(m.start(), "hash", h or "unknown", "", "subtle.digest", 0.9 if h else 0.5)]


_JS.append(_js_webcrypto_digest)


@_rule("js.jwt", ("algorithm", "alg:", "alg :"),
       r"\b(?:algorithms?|alg)\s*:\s*(\[[^\]\n]{0,200}\]|" + _Q + r"[\w-]+" + _Q + ")")
def _js_jwt(m: re.Match[str], ctx: _Ctx) -> Iterable[_Hit]:
    return _jws_hits(m, ctx, m.group(1), "JWT algorithm")


_JS.append(_js_jwt)


@_rule("js.forge", "forge", r"\bforge\.(?:md\.(md5|sha1|sha256|sha384|sha512)\.create|pki\.rsa\.generateKeyPair|"
       r"cipher\.create(?:Cipher|Decipher)\s*\(\s*" + _LIT + r"|pki\.ed25519\.generateKeyPair|pkcs5\.pbkdf2)")
def _js_forge(m: re.Match[str], ctx: _Ctx) -> Iterable[_Hit]:
    text = m.group(0)
    if m.group(1):
        return [_Hit(m.start(), "hash", hash_name(m.group(1)) or m.group(1), "", "forge.md", 0.9)]
    if "rsa.generateKeyPair" in text:
        _off, args = ctx.args(m.start())
        bm = re.search(r"\bbits\s*:\s*([\w.]+)", args) or re.match(r"\s*(\d{3,5})\b", args)
        value, conf, extra = _value(ctx, None, bm.group(1) if bm else None, numeric=True)
        return [_Hit(m.start(), "key", "RSA", value, "forge.pki.rsa.generateKeyPair", max(conf, 0.8), extra)]
    if m.group(2):
        name = m.group(2).replace("3DES", "DES-EDE3")
        return [_name_hit(m.start(), name, "forge.cipher", 0.9, {}, default="cipher")]
    if "ed25519" in text:
        return [_Hit(m.start(), "signature", "Ed25519", "", "forge.pki.ed25519", 0.9)]
    _off, args = ctx.args(m.start())
    hm = re.search(r"\bmd\.(md5|sha1|sha256|sha384|sha512)\.create", args)
    return [_Hit(m.start(), "kdf", "PBKDF2", hash_name(hm.group(1)) or "" if hm else "SHA-1", "forge.pkcs5.pbkdf2",
                 0.9)]


_JS.append(_js_forge)


@_rule("js.forge-hmac", "hmac.start", r"\bhmac\.start\s*\(\s*" + _LIT)
def _js_forge_hmac(m: re.Match[str], ctx: _Ctx) -> Iterable[_Hit]:
    if not ctx.has("forge"):
        return []
    return [_Hit(m.start(), "mac", "HMAC", hash_name(m.group(1)) or "", "forge.hmac", 0.85)]


_JS.append(_js_forge_hmac)


@_rule("js.cryptojs", "CryptoJS.", r"\bCryptoJS\.(MD5|SHA1|SHA224|SHA256|SHA384|SHA512|SHA3|RIPEMD160|HmacMD5|"
       r"HmacSHA1|HmacSHA256|HmacSHA512|AES|DES|TripleDES|RC4|Rabbit|PBKDF2)\b")
def _js_cryptojs(m: re.Match[str], ctx: _Ctx) -> Iterable[_Hit]:
    name = m.group(1)
    if name.startswith("Hmac"):
        return [_Hit(m.start(), "mac", "HMAC", hash_name(name[4:]) or "", f"CryptoJS.{name}", 0.9)]
    if name in ("AES", "DES", "TripleDES", "RC4", "Rabbit"):
        _off, args = ctx.args(m.start())
        mm = re.search(r"\bmode\s*:\s*CryptoJS\.mode\.(\w+)", args)
        extra = ({"mode": mm.group(1).lower()} if mm else
                 {"mode": "cbc"} if name in ("AES", "DES", "TripleDES") else {})
        alg = {"TripleDES": "3DES"}.get(name, name)
        return [_Hit(m.start(), "cipher", alg, "", f"CryptoJS.{name}", 0.9, extra)]
    if name == "PBKDF2":
        return [_Hit(m.start(), "kdf", "PBKDF2", "", "CryptoJS.PBKDF2", 0.9)]
    if name == "SHA3":
        return [_Hit(m.start(), "hash", "SHA3-512", "", "CryptoJS.SHA3", 0.8)]
    return [_Hit(m.start(), "hash", hash_name(name) or name, "", f"CryptoJS.{name}", 0.9)]


_JS.append(_js_cryptojs)


@_rule("js.tls-options", ("minVersion", "maxVersion", "secureProtocol", "ecdhCurve", "ciphers"),
       r"\b(minVersion|maxVersion|secureProtocol|ecdhCurve|ciphers)\s*:\s*" + _LIT)
def _js_tls_options(m: re.Match[str], ctx: _Ctx) -> Iterable[_Hit]:
    key, value = m.group(1), m.group(2)
    if key in ("minVersion", "maxVersion", "secureProtocol"):
        an = parse_algorithm_name(value.removesuffix("_method").removesuffix("_client").removesuffix("_server"))
        if an and an.primitive == "protocol":
            return [_Hit(m.start(), "protocol", an.algorithm, an.parameter, key, 0.9)]
        return []
    if key == "ecdhCurve":
        out = []
        for g in value.split(":"):
            if g.lower() == "auto":
                continue
            out.append(_group_hit(m.start(), g, "ecdhCurve"))
        return out
    if not any(ctx.has(k) for k in ("tls", "https", "TLS")):
        return []
    return [_Hit(m.start(), "protocol", "TLS", "", "ciphers", 0.85, {"cipher_list": value})]


_JS.append(_js_tls_options)

# ---------------------------------------------------------------------------------------------------------------
# C / C++ rules (OpenSSL, libsodium, liboqs)
# ---------------------------------------------------------------------------------------------------------------

_C: list[_Rule] = []
_NIDS = {"X9_62_prime256v1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521", "secp256k1": "secp256k1",
         "secp224r1": "P-224", "X9_62_prime192v1": "P-192", "brainpoolP256r1": "brainpoolP256r1",
         "brainpoolP384r1": "brainpoolP384r1", "brainpoolP512r1": "brainpoolP512r1"}


@_rule("c.hmac", ("HMAC", "PBKDF2"), r"\b(HMAC|HMAC_Init_ex|HMAC_Init|PKCS5_PBKDF2_HMAC_SHA1|PKCS5_PBKDF2_HMAC)\s*\(")
def _c_hmac(m: re.Match[str], ctx: _Ctx) -> Iterable[_Hit]:
    fn = m.group(1)
    off, args = ctx.args(m.start())
    hm = re.search(r"\bEVP_(\w+)\s*\(\s*\)", args)
    h = ""
    if hm and hash_name(hm.group(1)):
        h = hash_name(hm.group(1)) or ""
        ctx.consumed.add(off + hm.start())
    if fn == "PKCS5_PBKDF2_HMAC_SHA1":
        return [_Hit(m.start(), "kdf", "PBKDF2", "SHA-1", fn, 0.9)]
    if fn == "PKCS5_PBKDF2_HMAC":
        return [_Hit(m.start(), "kdf", "PBKDF2", h, fn, 0.9)]
    return [_Hit(m.start(), "mac", "HMAC", h, fn, 0.9 if h else 0.8)]


_C.append(_c_hmac)


@_rule("c.evp-cipher", "EVP_", r"\bEVP_(aes_\w+|des_\w+|rc4\w*|rc2_\w+|bf_\w+|cast5_\w+|idea_\w+|camellia_\w+|aria_\w+|"
       r"sm4_\w+|seed_\w+|chacha20_poly1305|chacha20)\s*\(\s*\)")
def _c_evp_cipher(m: re.Match[str], ctx: _Ctx) -> Iterable[_Hit]:
    name = m.group(1).replace("_", "-")
    an = parse_algorithm_name(name) or parse_algorithm_name(re.sub(r"-hmac-.*$", "", name))
    if an is None:
        return [_Hit(m.start(), "cipher", "unknown", "", f"EVP_{m.group(1)}()", 0.5)]
    extra = {"mode": an.mode} if an.mode else {}
    return [_Hit(m.start(), "cipher", an.algorithm, an.parameter, f"EVP_{m.group(1)}()", 0.9, extra)]


_C.append(_c_evp_cipher)


@_rule("c.evp-md", "EVP_", r"\bEVP_(md5|md4|md2|sha1|sha224|sha256|sha384|sha512|sha512_224|sha512_256|sha3_224|"
       r"sha3_256|sha3_384|sha3_512|shake128|shake256|blake2b512|blake2s256|ripemd160|sm3|md5_sha1)\s*\(\s*\)")
def _c_evp_md(m: re.Match[str], ctx: _Ctx) -> Iterable[_Hit]:
    if m.start() in ctx.consumed:
        return []
    return [_Hit(m.start(), "hash", hash_name(m.group(1)) or m.group(1), "", f"EVP_{m.group(1)}()", 0.9)]


_C.append(_c_evp_md)


@_rule("c.legacy-hash", ("MD5", "MD4", "SHA1", "SHA224", "SHA256", "SHA384", "SHA512", "RIPEMD160"),
       r"(?<![\w.>])(MD5|MD4|SHA1|SHA224|SHA256|SHA384|SHA512|RIPEMD160)(_Init|_Update|_Final)?\s*\(")
def _c_legacy_hash(m: re.Match[str], ctx: _Ctx) -> Iterable[_Hit]:
    if m.group(2) not in (None, "_Init"):
        return []
    if re.search(r"\b(?:void|int|unsigned|char|static|define)\s*\*?\s*$", ctx.line_prefix(m.start())):
        return []
    conf = 0.85 if ctx.has("openssl") else 0.6
    return [_Hit(m.start(), "hash", hash_name(m.group(1)) or m.group(1), "", m.group(1) + (m.group(2) or ""), conf)]


_C.append(_c_legacy_hash)


@_rule("c.fetch", ("_fetch", "new_from_name", "byname", "Q_keygen"),
       r"\b(EVP_(?:MD|CIPHER|MAC|KDF|KEM|SIGNATURE|KEYMGMT|KEYEXCH|ASYM_CIPHER)_fetch|EVP_PKEY_CTX_new_from_name|"
       r"EVP_get_digestbyname|EVP_get_cipherbyname|EVP_PKEY_Q_keygen)\s*\(")
def _c_fetch(m: re.Match[str], ctx: _Ctx) -> Iterable[_Hit]:
    fn = m.group(1)
    _off, args = ctx.args(m.start())
    lits = re.findall(r"\"([^\"\n]{1,60})\"", args)
    if not lits:
        return [_Hit(m.start(), "unknown", "unknown", "", fn, 0.5)]
    kind = fn.split("_")[1] if fn.endswith("_fetch") else ""
    default: Primitive = {"MD": "hash", "CIPHER": "cipher", "MAC": "mac", "KDF": "kdf", "KEM": "key-exchange",
                          "SIGNATURE": "signature", "KEYEXCH": "key-exchange",
                          "ASYM": "public-key-encryption"}.get(kind, "key")  # type: ignore[assignment]
    if "digest" in fn:
        default = "hash"
    elif "cipher" in fn:
        default = "cipher"
    if fn == "EVP_PKEY_Q_keygen":
        names = [x for x in lits if parse_algorithm_name(x)]
        if not names:
            return [_Hit(m.start(), "key", "unknown", "", fn, 0.5, {"name": lits[0]})]
        name = names[0]
        hit = _name_hit(m.start(), name, fn, 0.9, {}, default="key")
        tail = args.split('"' + name + '"', 1)[-1]
        sm = re.search(r"\(\s*size_t\s*\)\s*(\d+)|,\s*(\d{3,5})\b", tail)
        cm = re.search(r"\"([\w-]+)\"", tail)
        if sm and hit.algorithm in ("RSA", "DSA", "DH"):
            hit.parameter = sm.group(1) or sm.group(2)
        elif cm and hit.algorithm == "EC":
            hit.parameter = curve_name(cm.group(1)) or ""
        return [hit]
    return [_name_hit(m.start(), lits[0], fn, 0.9, {}, default=default)]


_C.append(_c_fetch)


@_rule("c.rsa-keygen", ("RSA_generate_key", "rsa_keygen_bits", "EVP_RSA_gen"),
       r"\b(RSA_generate_key_ex|RSA_generate_key|EVP_PKEY_CTX_set_rsa_keygen_bits|EVP_RSA_gen)\s*\(")
def _c_rsa_keygen(m: re.Match[str], ctx: _Ctx) -> Iterable[_Hit]:
    fn = m.group(1)
    _off, args = ctx.args(m.start())
    parts = [p.strip() for p in args.split(",")]
    idx = 0 if fn in ("RSA_generate_key", "EVP_RSA_gen") else 1
    arg = parts[idx] if len(parts) > idx else ""
    arg = re.sub(r"^\(\s*\w+\s*\)\s*", "", arg)
    value, conf, extra = _value(ctx, None, arg or None, numeric=True)
    return [_Hit(m.start(), "key", "RSA", value, fn, max(conf, 0.8), extra)]


_C.append(_c_rsa_keygen)


@_rule("c.rsa-ops", "RSA_", r"\bRSA_(public_encrypt|private_decrypt|private_encrypt|public_decrypt|sign|verify)\s*\(")
def _c_rsa_ops(m: re.Match[str], ctx: _Ctx) -> Iterable[_Hit]:
    fn = m.group(1)
    _off, args = ctx.args(m.start())
    if fn in ("sign", "verify"):
        nm = re.match(r"\s*NID_(\w+)", args)
        h = hash_name(nm.group(1)) if nm else None
        out = [_Hit(m.start(), "signature", "RSA", "", f"RSA_{fn}", 0.9, {"padding": "pkcs1v15", **(
            {"hash": h} if h else {})})]
        if h:
            out.append(_Hit(m.start(), "hash", h, "", f"RSA_{fn}", 0.9))
        return out
    pm = re.search(r"\bRSA_(PKCS1_OAEP_PADDING|PKCS1_PADDING|NO_PADDING|PKCS1_PSS_PADDING|SSLV23_PADDING)\b", args)
    pad = {"PKCS1_OAEP_PADDING": "oaep", "PKCS1_PADDING": "pkcs1v15", "NO_PADDING": "none"}.get(
        pm.group(1), "other") if pm else ""
    prim: Primitive = "public-key-encryption" if fn in ("public_encrypt", "private_decrypt") else "signature"
    return [_Hit(m.start(), prim, "RSA", "", f"RSA_{fn}", 0.9, {"padding": pad} if pad else {})]


_C.append(_c_rsa_ops)
_C.append(_simple(
    "c.pkey-id", "EVP_PKEY_", r"\bEVP_PKEY_CTX_new_id\s*\(\s*EVP_PKEY_(RSA_PSS|RSA|EC|X25519|X448|ED25519|ED448|DHX|DH|"
    r"DSA|SM2)\b",
    {"RSA": ("key", "RSA", ""), "RSA_PSS": ("signature", "RSA", ""), "EC": ("key", "EC", ""),
     "X25519": ("key-exchange", "X25519", ""), "X448": ("key-exchange", "X448", ""),
     "ED25519": ("signature", "Ed25519", ""), "ED448": ("signature", "Ed448", ""), "DH": ("key-exchange", "DH", ""),
     "DHX": ("key-exchange", "DH", ""), "DSA": ("signature", "DSA", ""), "SM2": ("unknown", "SM2", "")},
    "EVP_PKEY_CTX_new_id(EVP_PKEY_{0})", 0.9))


@_rule("c.ec-curve", ("curve_name", "curve_nid"),
       r"\b(EC_KEY_new_by_curve_name|EC_GROUP_new_by_curve_name|EVP_PKEY_CTX_set_ec_paramgen_curve_nid)\s*\("
       r"\s*(?:[^,()]+,\s*)?NID_(\w+)")
def _c_ec_curve(m: re.Match[str], ctx: _Ctx) -> Iterable[_Hit]:
    nid = m.group(2)
    if nid in ("X25519", "X448"):
        return [_Hit(m.start(), "key-exchange", nid, "", m.group(1), 0.9)]
    curve = _NIDS.get(nid) or curve_name(nid) or nid
    return [_Hit(m.start(), "key", "EC", curve, m.group(1), 0.9)]


_C.append(_c_ec_curve)
_C.append(_simple(
    "c.ec-ops", ("ECDSA_", "ECDH_"), r"\b(ECDSA_sign|ECDSA_do_sign|ECDSA_verify|ECDSA_do_verify|ECDH_compute_key)\s*\(",
    {"ECDSA_sign": ("signature", "ECDSA", ""), "ECDSA_do_sign": ("signature", "ECDSA", ""),
     "ECDSA_verify": ("signature", "ECDSA", ""), "ECDSA_do_verify": ("signature", "ECDSA", ""),
     "ECDH_compute_key": ("key-exchange", "ECDH", "")}, "{0}", 0.9))


@_rule("c.dh-dsa", ("DH_", "DSA_"), r"\b(DH_generate_parameters_ex|DSA_generate_parameters_ex|DH_generate_key|"
       r"DH_get_1024_160|DH_get_2048_224|DH_get_2048_256|DSA_sign|DSA_do_sign)\s*\(")
def _c_dh_dsa(m: re.Match[str], ctx: _Ctx) -> Iterable[_Hit]:
    fn = m.group(1)
    dh = fn.startswith("DH")
    param, conf, extra = "", 0.9, dict[str, Any]()
    if fn.endswith("generate_parameters_ex"):
        _off, args = ctx.args(m.start())
        parts = [p.strip() for p in args.split(",")]
        param, conf, extra = _value(ctx, None, parts[1] if len(parts) > 1 else None, numeric=True)
    elif fn.startswith("DH_get_"):
        param = fn.split("_")[2]
    return [_Hit(m.start(), "key-exchange" if dh else "signature", "DH" if dh else "DSA", param, fn, max(conf, 0.8),
                 extra)]


_C.append(_c_dh_dsa)


@_rule("c.legacy-cipher", ("AES_", "DES_", "RC4", "BF_"),
       r"\b(AES_set_encrypt_key|AES_set_decrypt_key|AES_ecb_encrypt|AES_cbc_encrypt|AES_cfb128_encrypt|"
       r"AES_ofb128_encrypt|AES_ctr128_encrypt|AES_ige_encrypt|DES_ecb_encrypt|DES_ncbc_encrypt|DES_cbc_encrypt|"
       r"DES_ede3_cbc_encrypt|DES_ecb3_encrypt|DES_set_key\w*|RC4_set_key|RC4|BF_set_key|BF_ecb_encrypt|"
       r"BF_cbc_encrypt)\s*\(")
def _c_legacy_cipher(m: re.Match[str], ctx: _Ctx) -> Iterable[_Hit]:
    fn = m.group(1)
    if fn.startswith("AES_set_"):
        _off, args = ctx.args(m.start())
        parts = [p.strip() for p in args.split(",")]
        value, conf, extra = _value(ctx, None, parts[1] if len(parts) > 1 else None, numeric=True)
        return [_Hit(m.start(), "cipher", "AES", value, fn, max(conf, 0.8), extra)]
    if fn.startswith("AES_"):
        mode = fn.split("_")[1].rstrip("0123456789").replace("ige", "other")
        return [_Hit(m.start(), "cipher", "AES", "", fn, 0.9, {"mode": mode})]
    if fn.startswith("DES_"):
        alg = "3DES" if ("ede3" in fn or "ecb3" in fn) else "DES"
        mode = "ecb" if "ecb" in fn else "cbc" if "cbc" in fn else ""
        return [_Hit(m.start(), "cipher", alg, "", fn, 0.85, {"mode": mode} if mode else {})]
    if fn.startswith("RC4"):
        if fn == "RC4" and not ctx.has("openssl"):
            return []
        return [_Hit(m.start(), "cipher", "RC4", "", fn, 0.85)]
    return [_Hit(m.start(), "cipher", "Blowfish", "", fn, 0.85)]


_C.append(_c_legacy_cipher)


@_rule("c.ssl-config", ("cipher_list", "ciphersuites", "groups_list", "curves_list", "proto_version"),
       r"\bSSL(?:_CTX)?_(set_cipher_list|set_ciphersuites|set1_groups_list|set1_curves_list|set_min_proto_version|"
       r"set_max_proto_version)\s*\(\s*[^,()]+,\s*(?:\"([^\"\n]*)\"|(\w+))")
def _c_ssl_config(m: re.Match[str], ctx: _Ctx) -> Iterable[_Hit]:
    fn, lit, ident = m.group(1), m.group(2), m.group(3)
    where = f"SSL_CTX_{fn}"
    if fn.endswith("proto_version"):
        vm = re.fullmatch(r"(SSL3|TLS1|TLS1_1|TLS1_2|TLS1_3|DTLS1|DTLS1_2)_VERSION", ident or "")
        if not vm:
            return []
        v = vm.group(1)
        alg = "SSL" if v == "SSL3" else "DTLS" if v.startswith("DTLS") else "TLS"
        ver = {"SSL3": "3.0", "TLS1": "1.0", "TLS1_1": "1.1", "TLS1_2": "1.2", "TLS1_3": "1.3", "DTLS1": "1.0",
               "DTLS1_2": "1.2"}[v]
        return [_Hit(m.start(), "protocol", alg, ver, where, 0.9)]
    if lit is None:
        value, _conf, extra = _value(ctx, None, ident, numeric=False)
        if not value:
            return [_Hit(m.start(), "protocol", "TLS", "", where, 0.5, extra)]
        lit = value
    if "groups" in fn or "curves" in fn:
        return [_group_hit(m.start(), g, where) for g in lit.split(":") if g]
    if fn == "set_ciphersuites":
        return [_Hit(m.start(), "protocol", "TLS", "1.3", where, 0.9, {"cipher_suite": s}) for s in lit.split(":")
                if s]
    return [_Hit(m.start(), "protocol", "TLS", "", where, 0.9, {"cipher_list": lit})]


_C.append(_c_ssl_config)


@_rule("c.ssl-method", "_method", r"\b(SSLv2|SSLv3|SSLv23|TLSv1_2|TLSv1_1|TLSv1|TLS|DTLSv1_2|DTLSv1|DTLS)_"
       r"(?:client_|server_)?method\s*\(")
def _c_ssl_method(m: re.Match[str], ctx: _Ctx) -> Iterable[_Hit]:
    an = parse_algorithm_name(m.group(1))
    if an is None:
        return []
    return [_Hit(m.start(), "protocol", an.algorithm, an.parameter, m.group(0).rstrip("( "), 0.9)]


_C.append(_c_ssl_method)

_SODIUM: list[tuple[str, tuple[Primitive, str, str, str]]] = [
    (r"crypto_box\w*", ("key-exchange", "X25519", "", "crypto_box (X25519-XSalsa20-Poly1305)")),
    (r"crypto_sign\w*", ("signature", "Ed25519", "", "crypto_sign (Ed25519)")),
    (r"crypto_kx_\w+", ("key-exchange", "X25519", "", "crypto_kx (X25519)")),
    (r"crypto_scalarmult\w*", ("key-exchange", "X25519", "", "crypto_scalarmult (X25519)")),
    (r"crypto_secretbox\w*", ("cipher", "XSalsa20-Poly1305", "", "crypto_secretbox")),
    (r"crypto_aead_aes256gcm_\w+", ("cipher", "AES", "256", "crypto_aead_aes256gcm")),
    (r"crypto_aead_xchacha20poly1305_\w+", ("cipher", "XChaCha20-Poly1305", "", "crypto_aead_xchacha20poly1305")),
    (r"crypto_secretstream_xchacha20poly1305_\w+", ("cipher", "XChaCha20-Poly1305", "", "crypto_secretstream")),
    (r"crypto_aead_chacha20poly1305\w*", ("cipher", "ChaCha20-Poly1305", "", "crypto_aead_chacha20poly1305")),
    (r"crypto_generichash\w*", ("hash", "BLAKE2b", "", "crypto_generichash (BLAKE2b)")),
    (r"crypto_hash_sha256\w*", ("hash", "SHA-256", "", "crypto_hash_sha256")),
    (r"crypto_hash(?:_sha512\w*)?", ("hash", "SHA-512", "", "crypto_hash (SHA-512)")),
    (r"crypto_pwhash\w*", ("kdf", "Argon2id", "", "crypto_pwhash")),
    (r"crypto_auth_hmacsha256\w*", ("mac", "HMAC", "SHA-256", "crypto_auth_hmacsha256")),
    (r"crypto_auth\w*", ("mac", "HMAC", "SHA-512/256", "crypto_auth (HMAC-SHA-512-256)")),
    (r"crypto_onetimeauth\w*", ("mac", "Poly1305", "", "crypto_onetimeauth")),
    (r"crypto_stream_chacha20\w*", ("cipher", "ChaCha20", "", "crypto_stream_chacha20")),
]
_SODIUM_RES = [(re.compile(p), spec) for p, spec in _SODIUM]


@_rule("c.libsodium", "crypto_", r"\b(crypto_[a-z0-9_]+)\s*\(")
def _c_libsodium(m: re.Match[str], ctx: _Ctx) -> Iterable[_Hit]:
    fn = m.group(1)
    for regex, (prim, alg, param, label) in _SODIUM_RES:
        if regex.fullmatch(fn):
            extra = {"mode": "gcm"} if alg == "AES" else {}
            return [_Hit(m.start(), prim, alg, param, label if fn.startswith(label.split(" ")[0]) else fn,
                         0.9 if ctx.has("sodium") else 0.7, extra)]
    return []


_C.append(_c_libsodium)


@_rule("c.liboqs", "OQS_", r"\bOQS_(KEM|SIG)_alg_(\w+)")
def _c_liboqs(m: re.Match[str], ctx: _Ctx) -> Iterable[_Hit]:
    name = m.group(2)
    km = re.fullmatch(r"(?:ml_kem|kyber)_(512|768|1024)", name)
    if km:
        return [_Hit(m.start(), "key-exchange", "ML-KEM", km.group(1), m.group(0), 0.9)]
    dm = re.fullmatch(r"ml_dsa_(44|65|87)|dilithium_([235])", name)
    if dm:
        return [_Hit(m.start(), "signature", "ML-DSA", dm.group(1) or {"2": "44", "3": "65", "5": "87"}[dm.group(2)],
                     m.group(0), 0.9)]
    fm = re.fullmatch(r"falcon_(512|1024)", name)
    if fm:
        return [_Hit(m.start(), "signature", "FN-DSA", fm.group(1), m.group(0), 0.9)]
    sm = re.fullmatch(r"(?:slh_dsa_pure_|sphincs_)(sha2|shake)_(128|192|256)([sf])\w*", name)
    if sm:
        return [_Hit(m.start(), "signature", "SLH-DSA", f"{sm.group(1).upper()}-{sm.group(2)}{sm.group(3)}",
                     m.group(0), 0.9)]
    an = parse_algorithm_name(name.replace("_", "-"))
    if an:
        return [_Hit(m.start(), an.primitive, an.algorithm, an.parameter, m.group(0), 0.8)]
    return []


_C.append(_c_liboqs)

_RULES: dict[str, list[_Rule]] = {"python": _PY, "java": _JAVA, "go": _GO, "js": _JS, "c": _C}

# ---------------------------------------------------------------------------------------------------------------
# Bare strings (low confidence) and the per-file scan
# ---------------------------------------------------------------------------------------------------------------

_BARE = re.compile(
    r"(?i:md5|md4|sha-?1|sha-?(?:224|256|384|512)|sha3-(?:224|256|384|512)|rsa(?:-?\d{4})?|dsa|ecdsa|ecdh|ed25519|"
    r"ed448|x25519|x448|aes(?:-?(?:128|192|256))?(?:[-/](?:ecb|cbc|gcm|ctr|cfb|ofb|ccm)(?:/\w+padding)?)?|desede|"
    r"3des|tripledes|des-ede3(?:-cbc)?|rc4|arcfour|blowfish|hmac-?sha-?(?:1|256|384|512)|hmacmd5|"
    r"sha\d+with(?:rsa|ecdsa|dsa)|secp\d{3}[rk]1|prime256v1|brainpoolp\d{3}r1|tlsv1(?:\.[0-3])?|sslv3|"
    r"ml-kem-\d+|ml-dsa-\d+|x25519mlkem768|pbkdf2withhmacsha\d+)|DES|DES/(?:ECB|CBC)/\w+")
_BARE_PREFILTER = re.compile(r"""["'`](?:""" + _BARE.pattern + r""")["'`]""")


def _needles(rules: list[_Rule]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(n for r in rules for n in r.needles))


_LANG_NEEDLES = {lang: _needles(rules) for lang, rules in _RULES.items()}


def _strip(text: str, family: str) -> tuple[str, list[tuple[int, int]]]:
    spans: list[tuple[int, int]] = []

    def repl(m: re.Match[str]) -> str:
        if m.lastgroup == "c":
            return _NOT_NL.sub(" ", m.group(0))
        spans.append((m.start(), m.end()))
        return m.group(0)

    return _TOKENS[family].sub(repl, text), spans


def _richness(f: CryptoFinding) -> tuple[float, bool, bool]:
    return (f.confidence, bool(f.parameter), bool(f.detail.get("mode")))


def scan_text(path: str, text: str, language: str) -> list[CryptoFinding]:
    """Findings in one source text; ``language`` is a key of :data:`LANGUAGE_BY_EXTENSION`'s values (``python``,
    ``java``, ``kotlin``, ``go``, ``javascript``, ``typescript``, ``c``, ``cpp``...) or a rule family."""
    family = next((fam for lang, fam in LANGUAGE_BY_EXTENSION.values() if lang == language), language)
    rules = _RULES[family]
    needles_hit = any(n in text for n in _LANG_NEEDLES[family])
    bare_hit = _BARE_PREFILTER.search(text) is not None
    if not needles_hit and not bare_hit:
        return []
    code, spans = _strip(text, family)
    ctx = _Ctx(code, spans)
    hits: list[tuple[_Hit, str]] = []
    if needles_hit:
        for rule in rules:
            if not any(n in code for n in rule.needles):
                continue
            for m in rule.regex.finditer(code):
                if ctx.in_string(m.start()) or m.start() in ctx.consumed:
                    continue
                for hit in rule.handler(m, ctx):
                    hits.append((hit, rule.name))
    line_starts: list[int] = []
    lines_known = False

    def line_of(pos: int) -> int:
        nonlocal lines_known
        if not lines_known:
            line_starts.extend(nl.start() for nl in re.finditer("\n", code))
            lines_known = True
        return bisect.bisect_left(line_starts, pos) + 1

    lines_with_hits = {line_of(h.pos) for h, _ in hits}
    if bare_hit:
        for s, e in spans:
            if s in ctx.consumed_strings or e - s > 44 or e - s < 4:
                continue
            content = code[s + 1:e - 1]
            if not _BARE.fullmatch(content):
                continue
            line = line_of(s)
            if line in lines_with_hits:
                continue
            an = parse_algorithm_name(content)
            if an is None:
                continue
            extra = {k: getattr(an, k) for k in ("mode", "padding", "hash") if getattr(an, k)}
            hits.append((_Hit(s, an.primitive, an.algorithm, an.parameter, "string literal", 0.4, extra),
                         "bare-string"))
    if not hits:
        return []

    def snippet(pos: int, line: int) -> str:
        start = line_starts[line - 2] + 1 if line > 1 else 0
        end = line_starts[line - 1] if line - 1 < len(line_starts) else len(text)
        if end - start > 200:  # a minified line: a window around the call
            start = max(start, pos - 80)
            end = min(end, start + 200)
        return text[start:end].strip()

    best: dict[tuple[int, str], CryptoFinding] = {}
    for hit, rule_name in hits:
        line = line_of(hit.pos)
        detail = {"file": path, "line": line, "language": language, "rule": rule_name, "snippet": "",
                  "_pos": hit.pos}
        detail.update(hit.extra)
        f = CryptoFinding("code", f"{path}:{line}", hit.primitive, hit.algorithm, hit.parameter, hit.context,
                          round(hit.confidence, 2), detail)
        key = (line, hit.algorithm if hit.algorithm != "unknown" else f"unknown:{hit.primitive}")
        old = best.get(key)
        if old is None or _richness(f) > _richness(old):
            best[key] = f
    out = list(best.values())
    for f in out:
        f.detail["snippet"] = snippet(f.detail.pop("_pos"), f.detail["line"])
    by_line: dict[int, set[str]] = {}
    for f in out:
        by_line.setdefault(f.detail["line"], set()).add(f.algorithm)
    out = [f for f in out if not (f.algorithm == "EC" and by_line[f.detail["line"]] & {"ECDSA", "ECDH"})]
    out.sort(key=lambda f: (f.detail["line"], f.algorithm, f.context))
    return out


# ---------------------------------------------------------------------------------------------------------------
# Files: walking, reading, the process pool
# ---------------------------------------------------------------------------------------------------------------

_BATCH = 48


def _decode(data: bytes) -> tuple[str, str | None]:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16"), None
        except UnicodeDecodeError:
            pass
    try:
        return data.decode("utf-8-sig"), None
    except UnicodeDecodeError as exc:
        offset = exc.start
    try:
        return data.decode("cp932"), f"not valid UTF-8 (byte {offset}); decoded as Shift_JIS/CP932"
    except UnicodeDecodeError:
        return data.decode("utf-8", errors="replace"), (
            f"not valid UTF-8 (byte {offset}); undecodable bytes replaced, scanned anyway")


def _scan_file(path: str, language: str, max_file_bytes: int) -> tuple[list[CryptoFinding], list[str]]:
    try:
        size = os.path.getsize(path)
        if size > max_file_bytes:
            return [], [f"{path}: skipped: {size} bytes is over the {max_file_bytes}-byte limit"]
        with open(path, "rb") as fh:
            data = fh.read(max_file_bytes + 1)
    except OSError as exc:
        return [], [f"{path}: unreadable: {exc.strerror or exc}"]
    if len(data) > max_file_bytes:
        return [], [f"{path}: skipped: over the {max_file_bytes}-byte limit"]
    if b"\x00" in data[:8192] and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return [], [f"{path}: skipped: binary content (NUL byte) in a source file"]
    text, note = _decode(data)
    problems = [f"{path}: {note}"] if note else []
    try:
        return scan_text(path, text, language), problems
    except Exception as exc:  # one odd file must not end a 10,000-file scan
        return [], [*problems, f"{path}: internal error while scanning: {type(exc).__name__}: {exc}"]


def _scan_batch(batch: list[tuple[str, str]], max_file_bytes: int) -> tuple[list[CryptoFinding], list[str], int]:
    findings: list[CryptoFinding] = []
    problems: list[str] = []
    for path, language in batch:
        f, p = _scan_file(path, language, max_file_bytes)
        findings.extend(f)
        problems.extend(p)
    return findings, problems, len(batch)


def _iter_files(paths: Sequence[Path], include_vendored: bool, problems: list[str]) -> Iterator[tuple[str, str]]:
    skip = _ALWAYS_SKIPPED if include_vendored else _ALWAYS_SKIPPED | DEFAULT_VENDORED_DIRS
    for root in paths:
        root_s = os.fspath(root)
        if os.path.isfile(root_s):
            lang = LANGUAGE_BY_EXTENSION.get(os.path.splitext(root_s)[1].lower())
            if lang:
                yield root_s, lang[0]
            else:
                problems.append(f"{root_s}: skipped: not a supported source file type")
            continue
        if not os.path.isdir(root_s):
            problems.append(f"{root_s}: not found")
            continue

        def onerror(exc: OSError) -> None:
            problems.append(f"{exc.filename}: unreadable directory: {exc.strerror}")

        for dirpath, dirnames, filenames in os.walk(root_s, onerror=onerror):
            dirnames[:] = sorted(d for d in dirnames if d not in skip)
            for name in sorted(filenames):
                lang = LANGUAGE_BY_EXTENSION.get(os.path.splitext(name)[1].lower())
                if lang:
                    yield os.path.join(dirpath, name), lang[0]


def _batched(it: Iterator[tuple[str, str]], n: int) -> Iterator[list[tuple[str, str]]]:
    batch: list[tuple[str, str]] = []
    for item in it:
        batch.append(item)
        if len(batch) >= n:
            yield batch
            batch = []
    if batch:
        yield batch


def _start_method() -> str:
    """``forkserver`` (safe in a multi-threaded caller such as the API server), ``spawn`` where there is none;
    ``fork`` when ``__main__`` cannot be re-imported by a fresh worker (a script read from stdin)."""
    methods = get_all_start_methods()
    main_file = getattr(sys.modules.get("__main__"), "__file__", None)
    if main_file and not os.path.exists(main_file) and "fork" in methods:
        return "fork"
    return "forkserver" if "forkserver" in methods else "spawn"


def scan_code(paths: Sequence[Path], *, workers: int | None = None, max_file_bytes: int = 2_000_000,
              progress: Callable[[int], None] | None = None, include_vendored: bool = False) -> ScanResult:
    """Scan source trees (or single files) for cryptographic API calls.

    ``workers`` processes scan batches of files in parallel (default: the CPU count; 1 scans in this process).
    Files over ``max_file_bytes``, binary files and unreadable files are reported in ``problems`` and skipped;
    non-UTF-8 files are scanned and reported. ``node_modules``, ``vendor``, virtualenvs and VCS directories are
    skipped unless ``include_vendored`` (VCS metadata always is). ``progress`` receives the number of files
    scanned so far after each batch. The pool uses the ``forkserver`` start method (``spawn`` where there is
    none; ``fork`` when ``__main__`` is not a re-importable file), so a script calling this needs the usual
    ``if __name__ == "__main__":`` guard; if the pool breaks anyway, the remaining files are scanned in this
    process and the failure is reported in ``problems``."""
    started = time.perf_counter()
    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    problems: list[str] = []
    findings: list[CryptoFinding] = []
    n_workers = max(1, workers if workers is not None else (os.cpu_count() or 1))
    files = _iter_files(paths, include_vendored, problems)
    head: list[tuple[str, str]] = []
    for item in files:
        head.append(item)
        if len(head) >= 2 * _BATCH:
            break
    done = 0

    def collect(result: tuple[list[CryptoFinding], list[str], int]) -> None:
        nonlocal done
        findings.extend(result[0])
        problems.extend(result[1])
        done += result[2]
        if progress is not None:
            progress(done)

    if n_workers == 1 or len(head) < 2 * _BATCH:
        for batch in _batched(iter([*head, *files]), _BATCH):
            collect(_scan_batch(batch, max_file_bytes))
    else:
        batches = _batched(iter([*head, *files]), _BATCH)
        pending: dict[Future[tuple[list[CryptoFinding], list[str], int]], list[tuple[str, str]]] = {}
        unsent: list[tuple[str, str]] = []
        try:
            with ProcessPoolExecutor(max_workers=n_workers, mp_context=get_context(_start_method())) as pool:
                for batch in batches:
                    while len(pending) >= 3 * n_workers:
                        finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                        for fut in finished:
                            res = fut.result()
                            del pending[fut]
                            collect(res)
                    unsent = batch
                    pending[pool.submit(_scan_batch, batch, max_file_bytes)] = batch
                    unsent = []
                for fut in list(pending):
                    res = fut.result()
                    del pending[fut]
                    collect(res)
        except BrokenProcessPool as exc:
            problems.append(f"process pool failed ({exc}); the remaining files were scanned in this process")
            for batch in [*pending.values(), *([unsent] if unsent else []), *batches]:
                collect(_scan_batch(batch, max_file_bytes))
    findings.sort(key=lambda f: (f.detail.get("file", ""), f.detail.get("line", 0), f.algorithm, f.context))
    return ScanResult(source="code", target=", ".join(os.fspath(p) for p in paths), findings=tuple(findings),
                      problems=tuple(problems), started_at=started_at,
                      duration_s=round(time.perf_counter() - started, 3))


# ---------------------------------------------------------------------------------------------------------------
# Benchmark
# ---------------------------------------------------------------------------------------------------------------

_SNIPPETS = {
    ".py": ["digest = hashlib.md5(data).hexdigest()", "key = rsa.generate_private_key(public_exponent=65537, "
            "key_size=2048)", "c = Cipher(algorithms.AES(key), modes.ECB())",
            "ctx = ssl.SSLContext(ssl.PROTOCOL_TLSv1)",
            "token = jwt.encode(payload, secret, algorithm=\"HS256\")", "h = hmac.new(k, msg, hashlib.sha1)"],
    ".java": ["MessageDigest md = MessageDigest.getInstance(\"SHA-1\");",
              "Cipher c = Cipher.getInstance(\"AES/ECB/PKCS5Padding\");",
              "KeyPairGenerator g = KeyPairGenerator.getInstance(\"RSA\");\n        g.initialize(1024);",
              "SSLContext ctx = SSLContext.getInstance(\"TLSv1\");",
              "Signature s = Signature.getInstance(\"SHA256withECDSA\");"],
    ".go": ["sum := md5.Sum(data)", "key, _ := rsa.GenerateKey(rand.Reader, 2048)",
            "cfg := &tls.Config{MinVersion: tls.VersionTLS12, CurvePreferences: []tls.CurveID{tls.X25519MLKEM768}}",
            "priv, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)"],
    ".js": ["const h = crypto.createHash('sha1').update(s).digest('hex');",
            "const c = crypto.createCipheriv('aes-128-cbc', key, iv);",
            "const { publicKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });",
            "jwt.sign(payload, key, { algorithm: 'RS256' });"],
    ".ts": ["const k = await crypto.subtle.generateKey({ name: 'RSA-OAEP', modulusLength: 4096, "
            "publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' }, true, ['encrypt']);",
            "const d = await crypto.subtle.digest('SHA-1', data);"],
    ".c": ["EVP_EncryptInit_ex(ctx, EVP_aes_128_cbc(), NULL, key, iv);", "RSA_generate_key_ex(rsa, 1024, e, NULL);",
           "EC_KEY *k = EC_KEY_new_by_curve_name(NID_X9_62_prime256v1);",
           "SSL_CTX_set1_groups_list(ctx, \"X25519MLKEM768:X25519\");", "crypto_box_keypair(pk, sk);"],
}
_COMMENT = {".py": "#", ".java": "//", ".go": "//", ".js": "//", ".ts": "//", ".c": "//"}


def _bench_file(rng: random.Random, ext: str, crypto: bool) -> str:
    c = _COMMENT[ext]
    lines = [f"{c} Copyright (c) example corp. Licensed under the Apache License 2.0.",
             f"{c} This module handles order routing; md5 was removed in 2019 (comment, must not match)."]
    n_funcs = rng.randint(6, 30)
    snippets = _SNIPPETS[ext]
    for i in range(n_funcs):
        name = f"handle_{rng.randint(0, 99999)}_{i}"
        body = [f"count = count + {rng.randint(1, 9)}", f"log(\"processing order {i}: we removed SHA1 support\")",
                f"total = price * qty + fee_{i % 7}", f"rsa_count = rsa_count + {i}",
                f"items.append(\"description of item {rng.random():.6f}\")"]
        if crypto and rng.random() < 0.3:
            body.insert(rng.randint(0, len(body)), rng.choice(snippets))
        if ext == ".py":
            lines.append(f"def {name}(count, price, qty, items):")
            lines.append(f"    \"\"\"Handle a request ({i}).\"\"\"")
            lines.extend("    " + b for b in body)
            lines.append("    return count\n")
        elif ext == ".go":
            lines.append(f"func {name}(count int, price float64) int {{")
            lines.extend("\t" + b for b in body)
            lines.append("\treturn count\n}\n")
        elif ext in (".js", ".ts"):
            lines.append(f"function {name}(count, price, qty, items) {{")
            lines.extend("  " + b + ";" for b in body)
            lines.append("  return count;\n}\n")
        elif ext == ".java":
            lines.append(f"    public int {name}(int count, double price, int qty) {{")
            lines.extend("        " + b + ("" if b.endswith(";") else ";") for b in body)
            lines.append("        return count;\n    }\n")
        else:
            lines.append(f"int {name}(int count, double price, int qty) {{")
            lines.extend("    " + b + ("" if b.endswith(";") else ";") for b in body)
            lines.append("    return count;\n}\n")
    return "\n".join(lines) + "\n"


def bench_code(tmp_dir: Path, n_files: int, *, workers: int | None = None, seed: int = 7) -> dict[str, Any]:
    """Generate a mixed corpus of ``n_files`` source files (Python, Java, Go, JS, TS, C; 5–40 KB each, about one
    file in six calling crypto APIs, with look-alike comments, log strings and variables, plus a
    ``node_modules`` tree that is skipped) under ``tmp_dir``, scan it and report the throughput."""
    root = Path(tmp_dir) / "bench-code-corpus"
    if root.exists():
        shutil.rmtree(root)
    rng = random.Random(seed)
    exts = [".java"] * 25 + [".py"] * 20 + [".js"] * 12 + [".ts"] * 8 + [".go"] * 15 + [".c"] * 15
    total_bytes = 0
    for i in range(n_files):
        ext = rng.choice(exts)
        sub = root / f"module{i % 40:02d}" / f"pkg{i % 7}"
        sub.mkdir(parents=True, exist_ok=True)
        body = _bench_file(rng, ext, crypto=rng.random() < 0.17)
        (sub / f"file{i}{ext}").write_text(body, encoding="utf-8")
        total_bytes += len(body)
    vend = root / "node_modules" / "lib"
    vend.mkdir(parents=True, exist_ok=True)
    for i in range(max(1, n_files // 20)):
        (vend / f"dep{i}.js").write_text(_bench_file(rng, ".js", crypto=True), encoding="utf-8")
    t0 = time.perf_counter()
    result = scan_code([root], workers=workers)
    elapsed = time.perf_counter() - t0
    return {"files": n_files, "bytes": total_bytes, "seconds": round(elapsed, 3),
            "files_per_s": round(n_files / elapsed, 1) if elapsed else float("inf"),
            "mb_per_s": round(total_bytes / 1e6 / elapsed, 2) if elapsed else float("inf"),
            "findings": len(result.findings), "problems": len(result.problems),
            "workers": workers if workers is not None else (os.cpu_count() or 1)}
