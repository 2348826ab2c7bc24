"""CycloneDX 1.6 CBOM (cryptography bill of materials): write, validate and read, plus the import of asset lists
(CSV / Excel) for systems that cannot be scanned.

Output follows the CycloneDX 1.6 JSON specification (https://cyclonedx.org/docs/1.6/json/,
https://cyclonedx.org/capabilities/cbom/): each distinct cryptographic asset is one component of type
``cryptographic-asset`` with ``cryptoProperties`` (``assetType`` algorithm / certificate / protocol /
related-crypto-material; ``algorithmProperties``, ``certificateProperties``, ``protocolProperties``,
``relatedCryptoMaterialProperties``, ``oid``), with every place it was seen in ``evidence.occurrences``, and the
information assets (systems) that use it as components of type ``application`` (or ``data``) linked through
``dependencies``.

``nistQuantumSecurityLevel`` is computed here, not copied from other tools (the official CycloneDX examples label
AES-256-GCM as 1 and SHA-384 as 2, which NIST's definitions make 5 and 4). The NIST security strength categories
come from the PQC Call for Proposals (2016), §4.A.5 "Security Strength Categories"
(https://csrc.nist.gov/projects/post-quantum-cryptography/post-quantum-cryptography-standardization/evaluation-criteria/security-(evaluation-criteria)):
an attack must need at least the resources of

    1: key search on AES-128      2: collision search on SHA-256 (SHA3-256)
    3: key search on AES-192      4: collision search on SHA-384 (SHA3-384)
    5: key search on AES-256

and FIPS 203 / 204 / 205 (Table 1 / Table 1 / Table 2) give the categories of their parameter sets. The table this
module applies (:func:`nist_quantum_level`):

=======================================================================  ========  =================================
algorithm                                                                 level     basis
=======================================================================  ========  =================================
RSA, DSA, DH, EC/ECDSA/ECDH/ECIES, Ed25519/Ed448, X25519/X448, SM2,       0         Shor's algorithm breaks them:
ElGamal (any size)                                                                  no category is met
ML-KEM-512 / 768 / 1024                                                   1 / 3 / 5 FIPS 203 Table 2
ML-DSA-44 / 65 / 87                                                       2 / 3 / 5 FIPS 204 Table 1 (44 is
                                                                                    category **2**, not 1)
SLH-DSA-*-128s/f / 192s/f / 256s/f                                        1 / 3 / 5 FIPS 205 Table 2
FN-DSA-512 / 1024 (Falcon), HQC-128 / 192 / 256                           1/5, 1/3/5 submissions' claims
X25519MLKEM768, SecP256r1MLKEM768, mlkem768x25519-sha256,                 3         the ML-KEM-768 half (a hybrid
X25519Kyber768Draft00; SecP384r1MLKEM1024                                 5         holds if either half holds);
                                                                                    sntrup761x25519: unknown
AES / Camellia / ARIA -128 / -192 / -256; SM4, SEED (128-bit keys)        1 / 3 / 5 key search, by definition
ChaCha20(-Poly1305), XChaCha20-Poly1305, XSalsa20-Poly1305, Salsa20       5         256-bit key search
3DES, DES, RC4, RC2, Blowfish, IDEA, CAST5                                0         weaker than AES-128 key
                                                                                    search (64-bit blocks / short
                                                                                    keys / biased keystream)
SHA-256, SHA3-256, SHA-512/256, BLAKE2s, BLAKE3, SM3                      2         collision search, 256-bit
SHA-384, SHA3-384                                                         4         collision search, 384-bit
SHA-512, SHA3-512, BLAKE2b                                                5         512-bit collision search costs
                                                                                    2^274 classical gates vs 2^272
                                                                                    for AES-256 key search (§4.A.5
                                                                                    table)
SHAKE128 / SHAKE256                                                       1 / 5     capacity-bounded preimage
SHA-224, SHA3-224, SHA-512/224, SHA-1, MD5, MD4, RIPEMD-160               0         collision search below AES-128
HMAC-h, KMAC                                                              1/3/5     key search on the SP 800-57
                                                                                    Table 3 HMAC strength (SHA-1:
                                                                                    128, SHA-224: 192, SHA-256+:
                                                                                    256); HMAC-MD5 unknown
CMAC / GMAC with AES-n                                                    as AES-n
anything else (unknown key size, KDFs, protocols)                         omitted   an explicit unknown (property
                                                                                    ``mamori:nistQuantumSecurityLevel
                                                                                    = unknown``), never "safe"
=======================================================================  ========  =================================

``classicalSecurityLevel`` uses NIST SP 800-57 Part 1 Rev. 5 Table 2 (RSA/DH/DSA modulus: 1024 → 80, 2048 → 112,
3072 → 128, 7680 → 192, 15360 → 256; ECC: half the field size) and Table 3 (hash collision strength; HMAC).

Validation uses the official CycloneDX 1.6 JSON schema bundled in ``cyclonedx-python-lib``
(``cyclonedx/schema/_res/bom-1.6.SNAPSHOT.schema.json`` with its ``spdx`` and ``jsf-0.82`` references resolved
from the same directory; no network) through ``jsonschema``'s Draft 7 validator, plus an RFC 3339 check for
``date-time`` fields (jsonschema skips that format without an optional package).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import re
import time
import unicodedata
import uuid
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, date, datetime
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from mamori.pqc.discovery.code import AlgorithmName, curve_name, parse_algorithm_name
from mamori.pqc.model import CryptoFinding, Primitive

__all__ = [
    "SPEC_VERSION",
    "AssetListError",
    "CbomError",
    "bench_cbom",
    "classical_security_level",
    "dump_cbom",
    "nist_quantum_level",
    "read_asset_list",
    "read_cbom",
    "to_cbom",
    "validate_cbom",
]

SPEC_VERSION = "1.6"


class CbomError(ValueError):
    """A CBOM that cannot be read; ``errors`` lists each problem as ``path#/json/pointer: message``."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("\n".join(errors))
        self.errors = errors


class AssetListError(ValueError):
    """An asset list with bad rows; ``errors`` lists each as ``path:row: message``."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("\n".join(errors))
        self.errors = errors


# ---------------------------------------------------------------------------------------------------------------
# Security levels
# ---------------------------------------------------------------------------------------------------------------

_SHOR_BROKEN = frozenset({"RSA", "DSA", "DH", "EC", "ECDSA", "ECDH", "ECIES", "Ed25519", "Ed448", "X25519", "X448",
                          "SM2", "ElGamal"})
_HYBRID_LEVEL = {"X25519MLKEM768": 3, "SecP256r1MLKEM768": 3, "mlkem768x25519-sha256": 3,
                 "X25519Kyber768Draft00": 3, "SecP384r1MLKEM1024": 5}
_KEM_ALGORITHMS = frozenset({"ML-KEM", "HQC", "sntrup761x25519-sha512", *_HYBRID_LEVEL})
_HASH_LEVEL = {"SHA-256": 2, "SHA3-256": 2, "SHA-512/256": 2, "BLAKE2s": 2, "BLAKE3": 2, "SM3": 2, "SHA-384": 4,
               "SHA3-384": 4, "SHA-512": 5, "SHA3-512": 5, "BLAKE2b": 5, "SHAKE128": 1, "SHAKE256": 5,
               "SHA-224": 0, "SHA3-224": 0, "SHA-512/224": 0, "SHA-1": 0, "MD5": 0, "MD4": 0, "MD2": 0,
               "RIPEMD-160": 0, "MD5-SHA1": 0}
_HASH_BITS = {"SHA-256": 128, "SHA3-256": 128, "SHA-512/256": 128, "BLAKE2s": 128, "BLAKE3": 128, "SM3": 128,
              "SHA-384": 192, "SHA3-384": 192, "SHA-512": 256, "SHA3-512": 256, "BLAKE2b": 256, "SHAKE128": 128,
              "SHAKE256": 256, "SHA-224": 112, "SHA3-224": 112, "SHA-512/224": 112, "SHA-1": 63, "MD5": 0, "MD4": 0,
              "MD2": 0, "RIPEMD-160": 80}
"""Collision strength in bits (SP 800-57 Table 3; SHA-1: the 2^63.1 SHAttered cost; MD5/MD4: broken, 0)."""
_HMAC_BITS = {"SHA-1": 128, "SHA-224": 192, "SHA-512/224": 192, "SHA3-224": 192, "SHA-256": 256, "SHA-384": 256,
              "SHA-512": 256, "SHA-512/256": 256, "SHA3-256": 256, "SHA3-384": 256, "SHA3-512": 256}
"""HMAC security strength (SP 800-57 Part 1 Rev. 5 Table 3, keys at least as long as the strength)."""
_KEY_SEARCH_CIPHERS = frozenset({"AES", "Camellia", "ARIA", "Twofish"})
_FIXED_KEY_BITS = {"SM4": 128, "SEED": 128, "ChaCha20": 256, "ChaCha20-Poly1305": 256, "XChaCha20-Poly1305": 256,
                   "XSalsa20-Poly1305": 256, "Salsa20": 256}
_WEAK_CIPHERS = {"3DES": 112, "DES": 56, "RC4": 0, "RC2": None, "Blowfish": None, "IDEA": None, "CAST5": None}
_ECC_BITS = {"P-192": 96, "P-224": 112, "P-256": 128, "P-384": 192, "P-521": 256, "secp256k1": 128,
             "brainpoolP256r1": 128, "brainpoolP384r1": 192, "brainpoolP512r1": 256, "SM2": 128, "X25519": 128,
             "Ed25519": 128, "X448": 224, "Ed448": 224}
_CATEGORY_BITS = {1: 128, 2: 128, 3: 192, 4: 192, 5: 256}


def _key_search_level(bits: int) -> int:
    return 5 if bits >= 256 else 3 if bits >= 192 else 1 if bits >= 128 else 0


def _int(text: str) -> int | None:
    return int(text) if text.isdigit() else None


def nist_quantum_level(algorithm: str, parameter: str = "") -> int | None:
    """The NIST PQC security strength category (0–5) of an algorithm with its parameter, per the table in this
    module's docstring; None when it cannot be told (unknown key size, KDFs, protocols, unknown names)."""
    alg, param = algorithm, parameter
    if alg in _SHOR_BROKEN:
        return 0
    if alg in _HYBRID_LEVEL:
        return _HYBRID_LEVEL[alg]
    if alg == "ML-KEM":
        return {"512": 1, "768": 3, "1024": 5}.get(param)
    if alg == "ML-DSA":
        return {"44": 2, "65": 3, "87": 5}.get(param)
    if alg == "SLH-DSA":
        m = re.search(r"(128|192|256)", param)
        return {"128": 1, "192": 3, "256": 5}[m.group(1)] if m else None
    if alg == "FN-DSA":
        return {"512": 1, "1024": 5}.get(param)
    if alg == "HQC":
        return {"128": 1, "192": 3, "256": 5}.get(param)
    if alg in _KEY_SEARCH_CIPHERS:
        bits = _int(param)
        return _key_search_level(bits) if bits else None
    if alg in _FIXED_KEY_BITS:
        return _key_search_level(_FIXED_KEY_BITS[alg])
    if alg in _WEAK_CIPHERS:
        return 0
    if alg in _HASH_LEVEL:
        return _HASH_LEVEL[alg]
    if alg == "HMAC":
        bits = _HMAC_BITS.get(param)
        return _key_search_level(bits) if bits else None
    if alg in ("KMAC128", "KMAC256"):
        return 1 if alg == "KMAC128" else 5
    if alg in ("CMAC", "GMAC"):
        bits = _int(param)
        return _key_search_level(bits) if bits else None
    if alg == "SipHash":
        return 0
    return None


def _ifc_bits(size: int) -> int:
    for minimum, bits in ((15360, 256), (7680, 192), (3072, 128), (2048, 112), (1024, 80)):
        if size >= minimum:
            return bits
    return 0


def classical_security_level(algorithm: str, parameter: str = "") -> int | None:
    """Classical security strength in bits (NIST SP 800-57 Part 1 Rev. 5 Tables 2 and 3), or None."""
    alg, param = algorithm, parameter
    if alg in ("RSA", "DSA", "DH", "ElGamal"):
        size = _int(param)
        return _ifc_bits(size) if size else None
    if alg in ("EC", "ECDSA", "ECDH", "ECIES"):
        return _ECC_BITS.get(curve_name(param) or param) if param else None
    if alg in _ECC_BITS:
        return _ECC_BITS[alg]
    level = nist_quantum_level(alg, param)
    if alg in ("ML-KEM", "ML-DSA", "SLH-DSA", "FN-DSA", "HQC", *_HYBRID_LEVEL):
        return _CATEGORY_BITS.get(level) if level else None
    if alg in _KEY_SEARCH_CIPHERS or alg in ("CMAC", "GMAC"):
        return _int(param)
    if alg in _FIXED_KEY_BITS:
        return _FIXED_KEY_BITS[alg]
    if alg in _WEAK_CIPHERS:
        return _WEAK_CIPHERS[alg]
    if alg in _HASH_BITS:
        return _HASH_BITS[alg]
    if alg == "HMAC":
        return _HMAC_BITS.get(param)
    return None


# ---------------------------------------------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------------------------------------------

_OUR_TO_CDX: dict[str, str] = {"signature": "signature", "public-key-encryption": "pke", "hash": "hash", "mac": "mac",
                               "kdf": "kdf"}
_AE_MODES = frozenset({"gcm", "ccm", "ocb", "siv", "eax", "gcm-siv"})
_CDX_MODES = frozenset({"cbc", "ecb", "ccm", "gcm", "cfb", "ofb", "ctr"})
_CDX_PADDINGS = {"pkcs5": "pkcs5", "pkcs7": "pkcs7", "pkcs1v15": "pkcs1v15", "oaep": "oaep", "none": "raw",
                 "raw": "raw"}
_SIGNATURE_FAMILIES = frozenset({"Ed25519", "Ed448", "ECDSA", "DSA", "ML-DSA", "SLH-DSA", "FN-DSA"})
_AGREEMENT_FAMILIES = frozenset({"X25519", "X448", "ECDH", "DH"})
_FUNCTIONS = (("decipher", "decrypt"), ("decrypt", "decrypt"), ("cipheriv", "encrypt"), ("encrypt", "encrypt"),
              ("keypair", "keygen"), ("keygen", "keygen"), ("generate", "keygen"), ("verify", "verify"),
              ("sign", "sign"), ("digest", "digest"), ("encapsulat", "encapsulate"),
              ("decapsulat", "decapsulate"), ("derive", "keyderive"))
_OIDS = {
    ("RSA", ""): "1.2.840.113549.1.1.1", ("DSA", ""): "1.2.840.10040.4.1", ("DH", ""): "1.2.840.113549.1.3.1",
    ("EC", ""): "1.2.840.10045.2.1", ("ECDSA", ""): "1.2.840.10045.2.1", ("Ed25519", ""): "1.3.101.112",
    ("Ed448", ""): "1.3.101.113", ("X25519", ""): "1.3.101.110", ("X448", ""): "1.3.101.111",
    ("ML-KEM", "512"): "2.16.840.1.101.3.4.4.1", ("ML-KEM", "768"): "2.16.840.1.101.3.4.4.2",
    ("ML-KEM", "1024"): "2.16.840.1.101.3.4.4.3", ("ML-DSA", "44"): "2.16.840.1.101.3.4.3.17",
    ("ML-DSA", "65"): "2.16.840.1.101.3.4.3.18", ("ML-DSA", "87"): "2.16.840.1.101.3.4.3.19",
    ("SHA-1", ""): "1.3.14.3.2.26", ("MD5", ""): "1.2.840.113549.2.5", ("SHA-224", ""): "2.16.840.1.101.3.4.2.4",
    ("SHA-256", ""): "2.16.840.1.101.3.4.2.1", ("SHA-384", ""): "2.16.840.1.101.3.4.2.2",
    ("SHA-512", ""): "2.16.840.1.101.3.4.2.3", ("SHA3-224", ""): "2.16.840.1.101.3.4.2.7",
    ("SHA3-256", ""): "2.16.840.1.101.3.4.2.8", ("SHA3-384", ""): "2.16.840.1.101.3.4.2.9",
    ("SHA3-512", ""): "2.16.840.1.101.3.4.2.10", ("HMAC", "SHA-1"): "1.2.840.113549.2.7",
    ("HMAC", "SHA-256"): "1.2.840.113549.2.9", ("HMAC", "SHA-384"): "1.2.840.113549.2.10",
    ("HMAC", "SHA-512"): "1.2.840.113549.2.11", ("3DES", ""): "1.2.840.113549.3.7",
}
_AES_OIDS = {("128", "ecb"): "2.16.840.1.101.3.4.1.1", ("128", "cbc"): "2.16.840.1.101.3.4.1.2",
             ("128", "gcm"): "2.16.840.1.101.3.4.1.6", ("192", "ecb"): "2.16.840.1.101.3.4.1.21",
             ("192", "cbc"): "2.16.840.1.101.3.4.1.22", ("192", "gcm"): "2.16.840.1.101.3.4.1.26",
             ("256", "ecb"): "2.16.840.1.101.3.4.1.41", ("256", "cbc"): "2.16.840.1.101.3.4.1.42",
             ("256", "gcm"): "2.16.840.1.101.3.4.1.46"}
_SLH_DSA_OIDS = {f"{fam}-{bits}{sf}": f"2.16.840.1.101.3.4.3.{20 + i}" for i, (fam, bits, sf) in enumerate(
    (f, b, s) for f in ("SHA2", "SHAKE") for b in ("128", "192", "256") for s in ("s", "f"))}
_OID_RE = re.compile(r"[0-2](?:\.\d+)+")
_ENVIRONMENTS = frozenset({"software-plain-ram", "software-encrypted-ram", "software-tee", "hardware", "other",
                           "unknown"})
_CERT_LEVEL_RE = re.compile(r"none|fips140-[123]-l[1-4]|cc-eal[1-7]\+?|other|unknown")


def _environment(detail: Mapping[str, Any]) -> tuple[str, tuple[str, ...]]:
    """``executionEnvironment`` and ``certificationLevel`` when a finding states them (``detail
    ["execution_environment"]``, e.g. ``hardware`` for an HSM; ``detail["certification_level"]``, e.g.
    ``fips140-3-l3``); values outside the CycloneDX 1.6 enumerations are dropped."""
    env = str(detail.get("execution_environment") or "")
    raw = detail.get("certification_level") or ()
    levels = (raw,) if isinstance(raw, str) else tuple(str(x) for x in raw) if isinstance(raw, list | tuple) else ()
    return (env if env in _ENVIRONMENTS else "",
            tuple(dict.fromkeys(x for x in levels if _CERT_LEVEL_RE.fullmatch(x))))


def _oid(alg: str, param: str, mode: str) -> str | None:
    if alg == "AES":
        return _AES_OIDS.get((param, mode))
    if alg == "SLH-DSA":
        return _SLH_DSA_OIDS.get(param)
    return _OIDS.get((alg, param)) or (_OIDS.get((alg, "")) if alg not in ("ML-KEM", "ML-DSA", "HMAC") else None)


def _cdx_primitive(primitive: str, algorithm: str, mode: str) -> str:
    if primitive == "key-exchange":
        if algorithm in _KEM_ALGORITHMS:
            return "kem"
        return "pke" if algorithm == "RSA" else "key-agree"
    if primitive == "cipher":
        if mode in _AE_MODES or algorithm.endswith("Poly1305"):
            return "ae"
        return "stream-cipher" if algorithm in ("RC4", "ChaCha20", "Salsa20", "XChaCha20") else "block-cipher"
    if primitive == "hash":
        return "xof" if algorithm.startswith("SHAKE") else "hash"
    if primitive in _OUR_TO_CDX:
        return _OUR_TO_CDX[primitive]
    # "key", "unknown", "certificate": the algorithm family's only use, when it has one
    if algorithm in _KEM_ALGORITHMS:
        return "kem"
    if algorithm in _SIGNATURE_FAMILIES:
        return "signature"
    if algorithm in _AGREEMENT_FAMILIES:
        return "key-agree"
    if algorithm in _KEY_SEARCH_CIPHERS or algorithm in _FIXED_KEY_BITS or algorithm in _WEAK_CIPHERS:
        return _cdx_primitive("cipher", algorithm, mode)
    if algorithm in _HASH_LEVEL:
        return "hash"
    return "unknown"


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:12]


def _slug(text: str) -> str:
    return re.sub(r"[^\w.]+", "-", text.lower()).strip("-_")[:48] or "x"


@lru_cache(maxsize=4096)
def _rfc3339_text(value: str) -> str | None:
    try:
        return _rfc3339(datetime.fromisoformat(value.replace("Z", "+00:00")))
    except ValueError:
        return None


def _rfc3339(value: Any) -> str | None:
    if isinstance(value, datetime):
        dt = value if value.tzinfo else value.replace(tzinfo=UTC)
        return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, str) and value:
        return _rfc3339_text(value)
    return None


def _split_location(f: CryptoFinding) -> tuple[str, int | None]:
    d = f.detail
    if isinstance(d.get("file"), str) and isinstance(d.get("line"), int):
        return d["file"], d["line"]
    if f.source in ("code", "file", "config"):
        m = re.fullmatch(r"(.+):(\d+)", f.location)
        if m:
            return m.group(1), int(m.group(2))
    return f.location, None


class _Component:
    __slots__ = ("body", "confidence", "functions", "occ_keys", "occurrences", "props", "ref", "sources")

    def __init__(self, ref: str, body: dict[str, Any]) -> None:
        self.ref = ref
        self.body = body
        self.occurrences: list[dict[str, Any]] = []
        self.occ_keys: set[tuple[str, int | None, str]] = set()
        self.confidence = 0.0
        self.sources: dict[str, None] = {}
        self.props: dict[tuple[str, str], None] = {}
        self.functions: dict[str, None] = {}


class _Builder:
    def __init__(self, classify: Callable[[CryptoFinding], dict[str, Any]] | None) -> None:
        self.classify = classify
        self.components: dict[str, _Component] = {}
        self.deps: dict[str, dict[str, None]] = {}
        self.by_location: dict[str, dict[str, None]] = {}
        self.net_algorithms: dict[str, dict[str, None]] = {}
        self.cert_by_fp: dict[str, str] = {}
        self.key_by_fp: dict[str, str] = {}
        self.suite_refs: dict[str, dict[str, None]] = {}
        self.alg_cache: dict[tuple[Any, ...], _Component] = {}

    # -- components -------------------------------------------------------------------------------------------
    def _get(self, kind: str, identity: tuple[str, ...], name: str,
             make: Callable[[], dict[str, Any]]) -> _Component:
        ref = f"{kind}:{_slug(name)}:{_digest(kind, *identity)}"
        comp = self.components.get(ref)
        if comp is None:
            body = {"type": "cryptographic-asset", "bom-ref": ref, "name": name, "cryptoProperties": make()}
            comp = self.components[ref] = _Component(ref, body)
        return comp

    def _depend(self, ref: str, on: str) -> None:
        if on and on != ref:
            self.deps.setdefault(ref, {})[on] = None

    def algorithm(self, algorithm: str, parameter: str, primitive: str, *, mode: str = "", padding: str = "",
                  hash_: str = "", oid: str = "", env: tuple[str, tuple[str, ...]] = ("", ())) -> _Component:
        cache_key = (algorithm, parameter, primitive, mode, padding, hash_, oid, env)
        cached = self.alg_cache.get(cache_key)
        if cached is not None:
            return cached
        comp = self._algorithm(algorithm, parameter, primitive, mode, padding, hash_, oid, env)
        self.alg_cache[cache_key] = comp
        return comp

    def _algorithm(self, algorithm: str, parameter: str, primitive: str, mode: str, padding: str, hash_: str,
                   oid: str, env: tuple[str, tuple[str, ...]]) -> _Component:
        cdx = _cdx_primitive(primitive, algorithm, mode)
        sig_hash = hash_ if cdx in ("signature", "pke") else ""
        name = algorithm
        if parameter and parameter not in algorithm:
            name += f"-{parameter}"
        if mode:
            name += f"-{mode.upper()}"
        if padding and cdx in ("pke", "signature") and padding not in ("none", "raw"):
            name += f"-{padding.upper()}"
        if sig_hash:
            name = f"{sig_hash}with{name}" if cdx == "signature" else f"{name}-{sig_hash}"
        identity = (algorithm, parameter, cdx, mode, padding, sig_hash, *((env[0], *env[1]) if env != ("", ()) else ()))

        def make() -> dict[str, Any]:
            ap: dict[str, Any] = {"primitive": cdx}
            if parameter:
                ap["parameterSetIdentifier"] = parameter
            if algorithm in ("EC", "ECDSA", "ECDH", "ECIES") and parameter:
                ap["curve"] = {"P-256": "secp256r1", "P-384": "secp384r1", "P-521": "secp521r1",
                               "P-224": "secp224r1", "P-192": "secp192r1"}.get(parameter, parameter)
            if mode in _CDX_MODES:
                ap["mode"] = mode
            elif mode:
                ap["mode"] = "other" if mode != "unknown" else "unknown"
            if padding:
                ap["padding"] = _CDX_PADDINGS.get(padding, "other")
            if env[0]:
                ap["executionEnvironment"] = env[0]
            if env[1]:
                ap["certificationLevel"] = list(env[1])
            classical = classical_security_level(algorithm, parameter)
            if classical is not None:
                ap["classicalSecurityLevel"] = classical
            quantum = nist_quantum_level(algorithm, parameter)
            if quantum is not None:
                ap["nistQuantumSecurityLevel"] = quantum
            cp: dict[str, Any] = {"assetType": "algorithm", "algorithmProperties": ap}
            the_oid = oid if oid and _OID_RE.fullmatch(oid) else _oid(algorithm, parameter, mode)
            if the_oid:
                cp["oid"] = the_oid
            return cp

        comp = self._get("algorithm", identity, name, make)
        if not comp.props:
            self._prop(comp, "mamori:algorithm", algorithm)
            if parameter:
                self._prop(comp, "mamori:parameter", parameter)
            self._prop(comp, "mamori:primitive", primitive)
            if mode and mode not in _CDX_MODES:
                self._prop(comp, "mamori:mode", mode)
            if padding and padding not in _CDX_PADDINGS:
                self._prop(comp, "mamori:padding", padding)
            if hash_:
                self._prop(comp, "mamori:hash", hash_)
            if nist_quantum_level(algorithm, parameter) is None:
                self._prop(comp, "mamori:nistQuantumSecurityLevel", "unknown")
        return comp

    def key(self, f: CryptoFinding) -> _Component:
        d = f.detail
        fp = str(d.get("sha256") or "") if "certificate" in f.context or d.get("position") is not None else ""
        alg = self.algorithm(f.algorithm, f.parameter, "key", oid=str(d.get("oid") or ""))
        ctx = f.context.lower()
        key_type = str(d.get("key_type") or ("public-key" if "public key" in ctx else
                                             "private-key" if "private" in ctx else "key"))
        if key_type not in ("private-key", "public-key", "secret-key", "key"):
            key_type = "key"
        label = f"{f.algorithm}-{f.parameter}" if f.parameter else f.algorithm
        name = f"{label} {key_type.replace('-', ' ')}" + (f" ({fp[:12]})" if fp else "")

        def make() -> dict[str, Any]:
            rp: dict[str, Any] = {"type": key_type, "algorithmRef": alg.ref}
            if f.parameter.isdigit():
                rp["size"] = int(f.parameter)
            return {"assetType": "related-crypto-material", "relatedCryptoMaterialProperties": rp}

        comp = self._get("key", (f.algorithm, f.parameter, key_type, fp), name, make)
        if not comp.props:
            self._prop(comp, "mamori:algorithm", f.algorithm)
            if f.parameter:
                self._prop(comp, "mamori:parameter", f.parameter)
            self._prop(comp, "mamori:primitive", "key")
        self._depend(comp.ref, alg.ref)
        if fp:
            self.key_by_fp[fp] = comp.ref
        return comp

    def certificate(self, f: CryptoFinding) -> _Component:
        d = f.detail
        fp = str(d.get("sha256") or d.get("fingerprint_sha256") or "")
        subject = str(d.get("subject") or d.get("subject_name") or "")
        issuer = str(d.get("issuer") or d.get("issuer_name") or "")
        identity = (fp,) if fp else (subject, issuer, str(d.get("serial") or ""), f.location, f.context)
        sig = self.algorithm(f.algorithm, f.parameter, "signature", hash_=str(d.get("hash") or ""),
                             oid=str(d.get("oid") or "")) if f.algorithm and f.algorithm != "unknown" else None
        cn = re.search(r"(?:^|,)\s*CN=([^,]+)", subject)
        name = cn.group(1) if cn else (subject or f"certificate {fp[:12] or f.location}")

        def make() -> dict[str, Any]:
            cert: dict[str, Any] = {"certificateFormat": "X.509"}
            if subject:
                cert["subjectName"] = subject
            if issuer:
                cert["issuerName"] = issuer
            for ours, theirs in (("not_before", "notValidBefore"), ("not_after", "notValidAfter")):
                ts = _rfc3339(d.get(ours) or d.get(theirs))
                if ts:
                    cert[theirs] = ts
            if sig is not None:
                cert["signatureAlgorithmRef"] = sig.ref
            ext = re.search(r"\.(pem|crt|cer|der|p12|pfx|p7b)$", _split_location(f)[0], re.I)
            if ext:
                cert["certificateExtension"] = ext.group(1).lower()
            return {"assetType": "certificate", "certificateProperties": cert}

        comp = self._get("certificate", identity, name, make)
        if not comp.props:
            self._prop(comp, "mamori:algorithm", f.algorithm)
            if f.parameter:
                self._prop(comp, "mamori:parameter", f.parameter)
            self._prop(comp, "mamori:primitive", "certificate")
            if d.get("serial"):
                self._prop(comp, "mamori:serial", str(d["serial"]))
            if fp:
                self._prop(comp, "mamori:sha256", fp)
        if sig is not None:
            self._depend(comp.ref, sig.ref)
        if fp:
            self.cert_by_fp[fp] = comp.ref
        return comp

    def protocol(self, f: CryptoFinding) -> _Component:
        alg, version = f.algorithm, f.parameter
        cdx_type = {"TLS": "tls", "SSL": "tls", "SSH": "ssh", "IPsec": "ipsec", "IKE": "ike"}.get(alg, "other")
        name = f"{alg}v{version}" if version and alg in ("TLS", "SSL", "DTLS") else (
            f"{alg}-{version}" if version else alg)

        def make() -> dict[str, Any]:
            pp: dict[str, Any] = {"type": cdx_type}
            if version:
                pp["version"] = version
            return {"assetType": "protocol", "protocolProperties": pp}

        comp = self._get("protocol", (alg, version), name, make)
        if not comp.props:
            self._prop(comp, "mamori:algorithm", alg)
            if version:
                self._prop(comp, "mamori:parameter", version)
            self._prop(comp, "mamori:primitive", "protocol")
        suites = self.suite_refs.setdefault(comp.ref, {})
        names = [f.detail.get("cipher_suite"), *(f.detail.get("cipher_suites") or [])]
        for suite in names:
            if isinstance(suite, str) and suite and suite not in suites:
                suites[suite] = None
        if f.detail.get("cipher_list"):
            self._prop(comp, "mamori:cipherList", str(f.detail["cipher_list"]))
        return comp

    def _suite_algorithms(self, suite: str) -> list[str]:
        if not suite.startswith("TLS_"):
            return []
        from mamori.pqc.discovery.tls_wire import parse_suite_name  # the TLS plugin's IANA suite parser

        info = parse_suite_name(suite)
        refs: list[str] = []
        kx = {"ECDHE": ("ECDH", "key-exchange"), "ECDH": ("ECDH", "key-exchange"), "DHE": ("DH", "key-exchange"),
              "DH": ("DH", "key-exchange"), "RSA": ("RSA", "key-exchange")}.get(info.key_exchange)
        if kx:
            refs.append(self.algorithm(kx[0], "", kx[1]).ref)
        auth = {"RSA": "RSA", "ECDSA": "ECDSA", "DSS": "DSA"}.get(info.authentication)
        if auth:
            refs.append(self.algorithm(auth, "", "signature").ref)
        if info.cipher and info.cipher != "NULL":
            an = parse_algorithm_name(info.cipher)
            if an:
                mode = info.mode.lower().replace("ccm_8", "ccm") if info.mode not in ("AEAD", "stream") else ""
                bits = info.bits if an.algorithm in _KEY_SEARCH_CIPHERS else ""
                refs.append(self.algorithm(an.algorithm, bits, "cipher", mode=mode).ref)
        if info.mac:
            tls13 = info.key_exchange == "any"
            aead = info.mode in ("GCM", "CCM", "CCM_8", "AEAD")
            if tls13 or aead:
                refs.append(self.algorithm(info.mac, "", "hash").ref)
            else:
                refs.append(self.algorithm("HMAC", info.mac, "mac").ref)
        return refs

    # -- findings ---------------------------------------------------------------------------------------------
    def _prop(self, comp: _Component, name: str, value: str) -> None:
        comp.props[(name, value)] = None

    def add(self, f: CryptoFinding) -> None:
        d = f.detail
        if f.primitive == "certificate":
            comp = self.certificate(f)
        elif f.primitive == "key":
            comp = self.key(f)
        elif f.primitive == "protocol":
            comp = self.protocol(f)
        else:
            comp = self.algorithm(f.algorithm, f.parameter, f.primitive, mode=str(d.get("mode") or ""),
                                  padding=str(d.get("padding") or ""), hash_=str(d.get("hash") or ""),
                                  oid=str(d.get("oid") or ""), env=_environment(d))
            if f.source in ("tls", "ssh"):
                self.net_algorithms.setdefault(f.location, {})[comp.ref] = None
        location, line = _split_location(f)
        key = (location, line, f.context)
        if key not in comp.occ_keys:
            comp.occ_keys.add(key)
            occ: dict[str, Any] = {"location": location}
            if line is not None and line >= 0:
                occ["line"] = line
            if f.context:
                occ["additionalContext"] = f.context
            comp.occurrences.append(occ)
        comp.confidence = max(comp.confidence, f.confidence)
        comp.sources[f.source] = None
        ctx = f.context.lower()
        for needle, fn in _FUNCTIONS:
            if needle in ctx:
                comp.functions[fn] = None
                break
        self.by_location.setdefault(f.location, {})[comp.ref] = None
        if self.classify is not None:
            for k, v in (self.classify(f) or {}).items():
                name = k if ":" in k else f"mamori:{k}"
                value = v if isinstance(v, str) else json.dumps(v, ensure_ascii=False, default=str)
                self._prop(comp, name, value)

    # -- the document -----------------------------------------------------------------------------------------
    def document(self, assets: Mapping[str, dict[str, Any]] | None, serial: str | None) -> dict[str, Any]:
        for ref, suites in self.suite_refs.items():
            if suites:
                cs = []
                for suite in suites:
                    algs = list(dict.fromkeys(self._suite_algorithms(suite)))
                    entry: dict[str, Any] = {"name": suite}
                    if algs:
                        entry["algorithms"] = algs
                        for a in algs:
                            self._depend(ref, a)
                    cs.append(entry)
                self.components[ref].body["cryptoProperties"]["protocolProperties"]["cipherSuites"] = cs
        for comp in self.components.values():
            cp = comp.body["cryptoProperties"]
            if cp["assetType"] == "protocol":
                linked: dict[str, None] = {}
                for occ in comp.occurrences:
                    for r in self.net_algorithms.get(occ["location"], {}):
                        linked[r] = None
                if linked:
                    cp["protocolProperties"]["cryptoRefArray"] = list(linked)
                    for r in linked:
                        self._depend(comp.ref, r)
            elif cp["assetType"] == "certificate":
                fp = next((v for (n, v) in comp.props if n == "mamori:sha256"), "")
                key_ref = self.key_by_fp.get(fp)
                if key_ref:
                    cp["certificateProperties"]["subjectPublicKeyRef"] = key_ref
                    self._depend(comp.ref, key_ref)
        components: list[dict[str, Any]] = []
        for comp in self.components.values():
            body = comp.body
            if comp.functions and body["cryptoProperties"]["assetType"] == "algorithm":
                body["cryptoProperties"]["algorithmProperties"]["cryptoFunctions"] = list(comp.functions)
            if comp.occurrences:
                body["evidence"] = {"occurrences": comp.occurrences}
                self._prop(comp, "mamori:confidence", f"{comp.confidence:.2f}")
                self._prop(comp, "mamori:sources", ",".join(comp.sources))
            body["properties"] = [{"name": n, "value": v} for (n, v) in comp.props]
            components.append(body)
        dependencies = [{"ref": ref, "dependsOn": list(on)} for ref, on in self.deps.items() if on]
        if assets:
            asset_components, asset_deps = self._assets(assets)
            components.extend(asset_components)
            dependencies.extend(asset_deps)
        serial_number = serial or f"urn:uuid:{uuid.uuid4()}"
        if not serial_number.startswith("urn:uuid:"):
            serial_number = f"urn:uuid:{serial_number}"
        doc: dict[str, Any] = {
            "$schema": "http://cyclonedx.org/schema/bom-1.6.schema.json",
            "bomFormat": "CycloneDX", "specVersion": SPEC_VERSION, "serialNumber": serial_number, "version": 1,
            "metadata": {"timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                         "tools": {"components": [{"type": "application", "name": "mamori", "version": _version(),
                                                   "description": "mamori PQC inventory (CBOM writer)"}]}},
            "components": components,
        }
        if dependencies:
            doc["dependencies"] = dependencies
        return doc

    def _assets(self, assets: Mapping[str, dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        uses: dict[str, dict[str, None]] = {}
        for location, refs in self.by_location.items():
            key = _match_asset(location, assets)
            if key is not None:
                uses.setdefault(key, {}).update(refs)
        components, deps = [], []
        for key, record in assets.items():
            name = str(record.get("name") or record.get("system") or record.get("id") or key)
            ref = f"asset:{_slug(name)}:{_digest('asset', key)}"
            kind = "data" if str(record.get("type") or record.get("component_type") or "") == "data" else "application"
            comp: dict[str, Any] = {"type": kind, "bom-ref": ref, "name": name}
            if record.get("function"):
                comp["description"] = str(record["function"])
            if record.get("vendor"):
                comp["supplier"] = {"name": str(record["vendor"])}
            props = [{"name": "mamori:asset:key", "value": key}]
            for field, value in record.items():
                if field in ("name", "type", "component_type") or value is None or value == "" or value == []:
                    continue
                text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
                props.append({"name": f"mamori:asset:{field}", "value": text})
            comp["properties"] = props
            components.append(comp)
            if key in uses:
                deps.append({"ref": ref, "dependsOn": list(uses[key])})
        return components, deps


@lru_cache(maxsize=1)
def _version() -> str:
    try:
        from importlib.metadata import version

        return version("mamori")
    except Exception:
        return "0.1.0"


def _match_asset(location: str, assets: Mapping[str, dict[str, Any]]) -> str | None:
    """The asset key for a finding location: the location itself, then without ``:line`` / ``:port``, then each
    parent directory of a path (``src/app/x.py:12`` matches an asset keyed ``src/app``)."""
    if location in assets:
        return location
    m = re.fullmatch(r"(.+):(\d+)", location)
    base = m.group(1) if m else location
    if base in assets:
        return base
    p = base.replace("\\", "/")
    while "/" in p:
        p = p.rsplit("/", 1)[0]
        for cand in (p, p + "/"):
            if cand in assets:
                return cand
        if not p:
            break
    return None


def dump_cbom(doc: dict[str, Any]) -> bytes:
    """The CBOM as UTF-8 JSON bytes (orjson when available — several times faster than ``json`` on large
    inventories — else the standard library)."""
    try:
        import orjson

        return orjson.dumps(doc)
    except ImportError:  # pragma: no cover - orjson is a dependency of mamori
        return json.dumps(doc, ensure_ascii=False).encode()


def to_cbom(findings: Iterable[CryptoFinding], *, assets: Mapping[str, dict[str, Any]] | None = None,
            classify: Callable[[CryptoFinding], dict[str, Any]] | None = None, serial: str | None = None
            ) -> dict[str, Any]:
    """A CycloneDX 1.6 CBOM (a JSON-ready dict) for ``findings``.

    Components are de-duplicated by what they are (algorithm + parameter + primitive + mode + padding; a
    certificate by its SHA-256 fingerprint; a protocol by name and version), each keeping every occurrence; their
    ``bom-ref`` is ``<kind>:<slug>:<12 hex of SHA-256 of that identity>``, so it is stable across runs.
    ``assets`` maps a finding location (``host:port``, a file, a directory, an asset id) to an asset record
    (``system``/``name``, ``owner``, ``function``, ``vendor``, ...): each becomes an ``application`` (or ``data``)
    component whose ``dependencies`` entry lists the crypto it uses. ``classify(finding)`` may return extra
    properties, added as ``mamori:<key>`` (e.g. ``{"status": "quantum-vulnerable"}``)."""
    builder = _Builder(classify)
    for f in findings:
        builder.add(f)
    return builder.document(assets, serial)


# ---------------------------------------------------------------------------------------------------------------
# Validation
# ---------------------------------------------------------------------------------------------------------------

_SCHEMA_FILES = {"1.4": "bom-1.4.SNAPSHOT.schema.json", "1.5": "bom-1.5.SNAPSHOT.schema.json",
                 "1.6": "bom-1.6.SNAPSHOT.schema.json", "1.7": "bom-1.7.SNAPSHOT.schema.json"}


@lru_cache(maxsize=4)
def _validator(spec: str) -> Any:
    from jsonschema import Draft7Validator, FormatChecker, ValidationError, validators  # type: ignore[import-untyped]
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT7

    res = resources.files("cyclonedx.schema") / "_res"

    def load(name: str) -> Any:
        return json.loads((res / name).read_text(encoding="utf-8"))

    registry: Registry[Any] = Registry().with_resources(
        (f"http://cyclonedx.org/schema/{name}", Resource.from_contents(load(name), default_specification=DRAFT7))
        for name in ("spdx.SNAPSHOT.schema.json", "jsf-0.82.SNAPSHOT.schema.json",
                     "cryptography-defs.SNAPSHOT.schema.json"))
    checker = FormatChecker()

    def _date_time(value: object) -> bool:
        if not isinstance(value, str):
            return True
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})", value):
            raise ValueError(f"{value!r} is not an RFC 3339 date-time")
        datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
        return True

    checker.checks("date-time", raises=ValueError)(_date_time)

    def unique_items(validator: Any, unique: bool, instance: Any, schema: dict[str, Any]) -> Iterable[Any]:
        # jsonschema compares unhashable items pairwise (quadratic: 2,000 components took 8.5 s); canonical JSON
        # text makes it linear. Same keyword, same result, except that 1 and 1.0 count as different here.
        if not unique or not validator.is_type(instance, "array"):
            return
        seen: dict[str, int] = {}
        for i, item in enumerate(instance):
            key = json.dumps(item, sort_keys=True, ensure_ascii=False, default=str)
            if key in seen:
                yield ValidationError(f"items {seen[key]} and {i} are equal: the array must have unique items")
            else:
                seen[key] = i

    cls = validators.extend(Draft7Validator, {"uniqueItems": unique_items})
    return cls(load(_SCHEMA_FILES[spec]), registry=registry, format_checker=checker)


def _pointer(parts: Iterable[Any]) -> str:
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts) or "/"


def validate_cbom(doc: dict[str, Any]) -> list[str]:
    """Errors of ``doc`` against the official CycloneDX JSON schema of its ``specVersion`` (1.6 when absent or
    unsupported), bundled in ``cyclonedx-python-lib``; each is ``/json/pointer: message``. Empty = valid.
    ``uniqueItems`` is checked in linear time (canonical JSON) instead of jsonschema's pairwise comparison."""
    spec = doc.get("specVersion") if isinstance(doc, dict) else None
    errors: list[str] = []
    if spec not in _SCHEMA_FILES:
        if spec is not None:
            errors.append(f"/specVersion: {spec!r} is not a supported CycloneDX version; validated as {SPEC_VERSION}")
        spec = SPEC_VERSION
    for err in sorted(_validator(spec).iter_errors(doc), key=lambda e: (list(map(str, e.absolute_path)), e.message)):
        message = err.message if len(err.message) <= 300 else err.message[:297] + "..."
        if err.cause is not None:
            message += f" ({err.cause})"
        errors.append(f"{_pointer(err.absolute_path)}: {message}")
    return errors


# ---------------------------------------------------------------------------------------------------------------
# Reading CBOMs made by other tools (and by mamori)
# ---------------------------------------------------------------------------------------------------------------

_CDX_TO_OURS: dict[str, Primitive] = {
    "kem": "key-exchange", "key-agree": "key-exchange", "pke": "public-key-encryption", "signature": "signature",
    "ae": "cipher", "block-cipher": "cipher", "stream-cipher": "cipher", "hash": "hash", "xof": "hash", "mac": "mac",
    "kdf": "kdf", "drbg": "unknown", "combiner": "unknown", "other": "unknown", "unknown": "unknown",
    "key-wrap": "cipher",
}
_PRIMITIVES = frozenset({"key-exchange", "signature", "public-key-encryption", "cipher", "hash", "mac", "kdf",
                         "protocol", "certificate", "key", "unknown"})


def _refs_in(cp: dict[str, Any]) -> Iterable[str]:
    cert = cp.get("certificateProperties")
    if isinstance(cert, dict):
        yield from (v for k, v in cert.items() if k.endswith("Ref") and isinstance(v, str))
    rcm = cp.get("relatedCryptoMaterialProperties")
    if isinstance(rcm, dict):
        if isinstance(rcm.get("algorithmRef"), str):
            yield rcm["algorithmRef"]
        sec = rcm.get("securedBy")
        if isinstance(sec, dict) and isinstance(sec.get("algorithmRef"), str):
            yield sec["algorithmRef"]
    proto = cp.get("protocolProperties")
    if isinstance(proto, dict):
        yield from (r for r in proto.get("cryptoRefArray") or [] if isinstance(r, str))
        for suite in proto.get("cipherSuites") or []:
            if isinstance(suite, dict):
                yield from (r for r in suite.get("algorithms") or [] if isinstance(r, str))


class _Reader:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.errors: list[str] = []
        self.by_ref: dict[str, dict[str, Any]] = {}

    def error(self, pointer: str, message: str) -> None:
        self.errors.append(f"{self.path}#{pointer}: {message}")

    def walk(self, components: Any, pointer: str, out: list[tuple[dict[str, Any], str]]) -> None:
        if not isinstance(components, list):
            self.error(pointer, "expected an array of components")
            return
        for i, comp in enumerate(components):
            ptr = f"{pointer}/{i}"
            if not isinstance(comp, dict):
                self.error(ptr, "expected a component object")
                continue
            out.append((comp, ptr))
            if isinstance(comp.get("bom-ref"), str):
                self.by_ref[comp["bom-ref"]] = comp
            if "components" in comp:
                self.walk(comp["components"], f"{ptr}/components", out)

    @staticmethod
    def props(comp: dict[str, Any]) -> dict[str, str]:
        out: dict[str, str] = {}
        for p in comp.get("properties") or []:
            if isinstance(p, dict) and isinstance(p.get("name"), str) and p["name"] not in out:
                out[p["name"]] = str(p.get("value", ""))
        return out

    def algorithm_of(self, comp: dict[str, Any], ptr: str) -> tuple[Primitive, str, str, dict[str, Any]]:
        """(primitive, algorithm, parameter, detail) of an algorithm component."""
        props = self.props(comp)
        cp = comp.get("cryptoProperties") if isinstance(comp.get("cryptoProperties"), dict) else {}
        ap = cp.get("algorithmProperties") if isinstance(cp, dict) else None
        if ap is None:
            ap = {}
        elif not isinstance(ap, dict):
            self.error(f"{ptr}/cryptoProperties/algorithmProperties", "expected an object")
            ap = {}
        detail: dict[str, Any] = {}
        for k in ("mode", "padding"):
            if isinstance(ap.get(k), str):
                detail[k] = ap[k]
        for k in ("nistQuantumSecurityLevel", "classicalSecurityLevel"):
            if isinstance(ap.get(k), int):
                detail[f"declared_{k}"] = ap[k]
        if "mamori:mode" in props:
            detail["mode"] = props["mamori:mode"]
        if "mamori:padding" in props:
            detail["padding"] = props["mamori:padding"]
        if "mamori:hash" in props:
            detail["hash"] = props["mamori:hash"]
        cdx_prim = str(ap.get("primitive")) if isinstance(ap.get("primitive"), str) else ""
        if cdx_prim and cdx_prim not in _CDX_TO_OURS:
            self.error(f"{ptr}/cryptoProperties/algorithmProperties/primitive", f"unknown primitive {cdx_prim!r}")
        if "mamori:algorithm" in props:
            ours = props.get("mamori:primitive", "unknown")
            own: Primitive = ours if ours in _PRIMITIVES else "unknown"  # type: ignore[assignment]
            return own, props["mamori:algorithm"], props.get("mamori:parameter", ""), detail
        name = str(comp.get("name") or ap.get("variant") or comp.get("bom-ref") or "")
        an = _parse_cbom_name(name, ap)
        mapped: Primitive = _CDX_TO_OURS.get(cdx_prim, "unknown")
        if an is None:
            detail["unrecognised"] = True
            return mapped, name or "unknown", str(ap.get("parameterSetIdentifier") or ""), detail
        prim: Primitive = mapped if mapped != "unknown" else an.primitive
        if an.algorithm == "RSA" and mapped == "key-exchange":
            prim = "key-exchange"
        for k in ("mode", "padding", "hash"):
            if getattr(an, k) and k not in detail:
                detail[k] = getattr(an, k)
        return prim, an.algorithm, an.parameter, detail

    def findings_of(self, comp: dict[str, Any], ptr: str, referenced: set[str]) -> list[CryptoFinding]:
        cp = comp.get("cryptoProperties", {})
        if not isinstance(cp, dict):
            self.error(f"{ptr}/cryptoProperties", "expected an object")
            return []
        asset_type = cp.get("assetType", "algorithm")
        props = self.props(comp)
        ref = comp.get("bom-ref") if isinstance(comp.get("bom-ref"), str) else ""
        name = str(comp.get("name") or ref or "")
        detail: dict[str, Any] = {"cbom": str(self.path), "pointer": ptr}
        if ref:
            detail["bom_ref"] = ref
        if name:
            detail["name"] = name
        if isinstance(cp.get("oid"), str):
            detail["oid"] = cp["oid"]
        primitive: Primitive
        if asset_type == "algorithm":
            primitive, algorithm, parameter, extra = self.algorithm_of(comp, ptr)
            detail.update(extra)
        elif asset_type == "certificate":
            cert = cp.get("certificateProperties") or {}
            if not isinstance(cert, dict):
                self.error(f"{ptr}/cryptoProperties/certificateProperties", "expected an object")
                cert = {}
            primitive, algorithm, parameter = "certificate", props.get("mamori:algorithm", ""), props.get(
                "mamori:parameter", "")
            sig = self.by_ref.get(str(cert.get("signatureAlgorithmRef") or ""))
            if not algorithm and sig is not None:
                _p, algorithm, parameter, sig_detail = self.algorithm_of(sig, ptr + "/signatureAlgorithmRef")
                if sig_detail.get("hash"):
                    detail["hash"] = sig_detail["hash"]
            for theirs, ours in (("subjectName", "subject"), ("issuerName", "issuer"),
                                 ("notValidBefore", "not_before"), ("notValidAfter", "not_after")):
                if isinstance(cert.get(theirs), str):
                    detail[ours] = cert[theirs]
            if "mamori:sha256" in props:
                detail["sha256"] = props["mamori:sha256"]
            algorithm = algorithm or "unknown"
        elif asset_type == "related-crypto-material":
            rcm = cp.get("relatedCryptoMaterialProperties") or {}
            if not isinstance(rcm, dict):
                self.error(f"{ptr}/cryptoProperties/relatedCryptoMaterialProperties", "expected an object")
                rcm = {}
            primitive, algorithm, parameter = "key", props.get("mamori:algorithm", ""), props.get(
                "mamori:parameter", "")
            target = self.by_ref.get(str(rcm.get("algorithmRef") or ""))
            if not algorithm and target is not None:
                _p, algorithm, parameter, _d = self.algorithm_of(target, ptr + "/algorithmRef")
            if not parameter and isinstance(rcm.get("size"), int):
                parameter = str(rcm["size"])
            if isinstance(rcm.get("type"), str):
                detail["key_type"] = rcm["type"]
            algorithm = algorithm or "unknown"
        elif asset_type == "protocol":
            pp = cp.get("protocolProperties") or {}
            if not isinstance(pp, dict):
                self.error(f"{ptr}/cryptoProperties/protocolProperties", "expected an object")
                pp = {}
            primitive = "protocol"
            algorithm = props.get("mamori:algorithm") or {"tls": "TLS", "ssh": "SSH", "ipsec": "IPsec",
                                                          "ike": "IKE"}.get(str(pp.get("type")), "")
            version = str(pp.get("version") or "")
            parameter = props.get("mamori:parameter", version)
            if not algorithm:
                an = parse_algorithm_name(name)
                algorithm, parameter = (an.algorithm, an.parameter or parameter) if an else (name or "unknown", "")
            suites = [s.get("name") for s in pp.get("cipherSuites") or [] if isinstance(s, dict) and s.get("name")]
            if suites:
                detail["cipher_suites"] = suites
        else:
            self.error(f"{ptr}/cryptoProperties/assetType", f"unknown assetType {asset_type!r}")
            return []
        confidence = 0.9
        try:
            confidence = float(props["mamori:confidence"]) if "mamori:confidence" in props else 0.9
        except ValueError:
            self.error(f"{ptr}/properties", f"mamori:confidence {props['mamori:confidence']!r} is not a number")
        if "mamori:sources" in props:
            detail["original_sources"] = props["mamori:sources"].split(",")
        occurrences = (comp.get("evidence") or {}).get("occurrences") if isinstance(comp.get("evidence"),
                                                                                    dict) else None
        out: list[CryptoFinding] = []
        if occurrences is None or occurrences == []:
            if ref and ref in referenced:
                return []  # a part of another component (e.g. a certificate's signature algorithm)
            return [CryptoFinding("cbom", f"{self.path}#{ptr}", primitive, algorithm, parameter, name, confidence,
                                  detail)]
        if not isinstance(occurrences, list):
            self.error(f"{ptr}/evidence/occurrences", "expected an array")
            return []
        for j, occ in enumerate(occurrences):
            optr = f"{ptr}/evidence/occurrences/{j}"
            if not isinstance(occ, dict) or not isinstance(occ.get("location"), str) or not occ["location"]:
                self.error(optr, "an occurrence needs a location")
                continue
            line = occ.get("line")
            if line is not None and not isinstance(line, int):
                self.error(f"{optr}/line", f"expected an integer, got {line!r}")
                line = None
            location = f"{occ['location']}:{line}" if isinstance(line, int) else occ["location"]
            context = str(occ.get("additionalContext") or occ.get("symbol") or name)
            d = dict(detail)
            if isinstance(line, int):
                d["file"], d["line"] = occ["location"], line
            out.append(CryptoFinding("cbom", location, primitive, algorithm, parameter, context, confidence, d))
        return out


def _parse_cbom_name(name: str, ap: dict[str, Any]) -> AlgorithmName | None:
    """Parse a component name as other tools write it (``AES128-GCM``, ``RSA-2048``, ``SHA256withRSA``,
    ``ECDSA-P256``, ``secp256r1``, ``ML-KEM-768``), helped by ``parameterSetIdentifier``/``curve`` and the 1.7
    ``algorithmFamily``/``ellipticCurve``."""
    candidates = [name, re.sub(r"[@\s].*$", "", name)]
    family = ap.get("algorithmFamily")
    if isinstance(family, str):
        candidates.append(family)
    an = None
    for cand in candidates:
        an = parse_algorithm_name(cand)
        if an:
            break
    if an is None:
        return None
    param = an.parameter
    psi = ap.get("parameterSetIdentifier")
    curve = ap.get("curve") or ap.get("ellipticCurve")
    if not param and isinstance(curve, str) and an.algorithm in ("EC", "ECDSA", "ECDH", "ECIES"):
        param = curve_name(curve.split("/")[-1]) or curve
    if not param and isinstance(psi, str | int) and str(psi):
        param = str(psi)
    return AlgorithmName(an.primitive, an.algorithm, param, an.mode, an.padding, an.hash)


def read_cbom(path: Path, *, problems: list[str] | None = None) -> list[CryptoFinding]:
    """Findings (source ``cbom``) from a CycloneDX JSON CBOM (1.4–1.7; made by mamori, IBM's CBOMkit /
    sonar-cryptography, cbomkit-theia...). One finding per occurrence; a component without occurrences gives one
    finding located at ``path#/json/pointer`` unless another component references it (a certificate's signature
    algorithm, a key's algorithm). Missing optional fields are tolerated. Malformed input raises
    :class:`CbomError` naming the path and JSON pointer of every problem — or, when ``problems`` is given, the
    messages are appended there and the readable part is returned."""
    path = Path(path)
    reader = _Reader(path)
    try:
        doc = json.loads(path.read_text(encoding="utf-8-sig"))
    except OSError as exc:
        return _fail([f"{path}: unreadable: {exc.strerror or exc}"], problems)
    except UnicodeDecodeError as exc:
        return _fail([f"{path}: not UTF-8 text (byte {exc.start})"], problems)
    except json.JSONDecodeError as exc:
        return _fail([f"{path}: not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"], problems)
    if not isinstance(doc, dict):
        return _fail([f"{path}#/: expected a JSON object (a CycloneDX BOM)"], problems)
    if doc.get("bomFormat") != "CycloneDX":
        return _fail([f"{path}#/bomFormat: expected 'CycloneDX', got {doc.get('bomFormat')!r}"], problems)
    comps: list[tuple[dict[str, Any], str]] = []
    if "components" in doc:
        reader.walk(doc["components"], "/components", comps)
    referenced: set[str] = set()
    for comp, _ptr in comps:
        if isinstance(comp.get("cryptoProperties"), dict):
            referenced.update(_refs_in(comp["cryptoProperties"]))
    findings: list[CryptoFinding] = []
    for comp, ptr in comps:
        if comp.get("type") != "cryptographic-asset":
            continue
        findings.extend(reader.findings_of(comp, ptr, referenced))
    if reader.errors:
        if problems is None:
            raise CbomError(reader.errors)
        problems.extend(reader.errors)
    return findings


def _fail(errors: list[str], problems: list[str] | None) -> list[CryptoFinding]:
    if problems is None:
        raise CbomError(errors)
    problems.extend(errors)
    return []


# ---------------------------------------------------------------------------------------------------------------
# Asset lists (CSV / Excel) for systems that cannot be scanned
# ---------------------------------------------------------------------------------------------------------------

_HEADER_SYNONYMS = {
    "system": ("system", "systemname", "システム名", "システム", "システム名称", "資産名", "asset", "assetname"),
    "id": ("id", "assetid", "資産id", "システムid", "管理番号"),
    "owner": ("owner", "所管部署", "所管", "主管部署", "担当部署", "department"),
    "function": ("function", "業務", "業務機能", "businessfunction", "用途"),
    "data": ("data", "保有データ", "データ", "取扱データ", "dataclasses"),
    "retention_years": ("retentionyears", "retention", "秘匿期間(年)", "秘匿期間", "機密保持期間(年)",
                        "機密保持期間", "保存期間(年)", "shelflife", "shelflifeyears"),
    "exposure": ("exposure", "公開区分", "接続区分"),
    "renewal": ("renewal", "次回更改", "次回更改時期", "更改時期", "更改予定", "nextrenewal"),
    "vendor": ("vendor", "ベンダー", "ベンダ", "委託先"),
    "algorithms": ("algorithms", "暗号方式", "暗号アルゴリズム", "使用暗号", "crypto", "cryptography"),
}
_EXPOSURE = {
    "internet": ("internet", "インターネット", "外部公開", "公開", "external", "public", "internetfacing"),
    "partner": ("partner", "提携先", "外部接続", "専用線", "extranet"),
    "internal": ("internal", "内部", "社内", "非公開", "閉域", "intranet", "社内のみ"),
    "offline": ("offline", "オフライン", "スタンドアロン", "standalone", "airgapped"),
}
_PERMANENT = ("永年", "永久", "無期限", "permanent", "indefinite", "forever")
_ERAS = {"令和": 2018, "平成": 1988}


def _norm(text: Any) -> str:
    return re.sub(r"[\s_\-　]", "", unicodedata.normalize("NFKC", str(text)).strip().lower())


_HEADER_INDEX = {_norm(s): field for field, syns in _HEADER_SYNONYMS.items() for s in syns}
_EXPOSURE_INDEX = {_norm(s): value for value, syns in _EXPOSURE.items() for s in syns}


def _years(value: Any) -> float | int | None:
    if value is None or value == "":
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        if value < 0 or math.isnan(value):
            raise ValueError(f"retention {value!r} is negative or not a number")
        return int(value) if float(value).is_integer() else float(value)
    text = unicodedata.normalize("NFKC", str(value)).strip().lower()
    if any(p in text for p in _PERMANENT):
        return 100
    m = re.fullmatch(r"(\d+(?:\.\d+)?)\s*(?:年|years?|yrs?|y)?", text)
    if not m:
        raise ValueError(f"retention {value!r} is not a number of years")
    v = float(m.group(1))
    return int(v) if v.is_integer() else v


def _renewal(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, int | float) and not isinstance(value, bool) and 1990 <= value <= 2200:
        return str(int(value))
    text = unicodedata.normalize("NFKC", str(value)).strip()
    for era, base in _ERAS.items():
        if text.startswith(era):
            em = re.match(rf"{era}\s*(\d+|元)\s*年(.*)", text)
            if not em:
                break
            year = base + (1 if em.group(1) == "元" else int(em.group(1)))
            text = f"{year}年{em.group(2)}"
    m = re.fullmatch(r"(?:FY\s*)?(\d{4})\s*年度|FY\s*(\d{4})", text, re.I)
    if m:
        return f"{m.group(1) or m.group(2)}-04"  # a Japanese fiscal year starts in April
    m = re.fullmatch(r"(\d{4})\s*(?:[-/.]|年)\s*(\d{1,2})\s*(?:(?:[-/.]|月)\s*(\d{1,2})\s*日?|月)?", text)
    if m:
        y, mo = int(m.group(1)), int(m.group(2))
        if m.group(3):
            return date(y, mo, int(m.group(3))).isoformat()
        if not 1 <= mo <= 12:
            raise ValueError(f"renewal {value!r}: month {mo} out of range")
        return f"{y:04d}-{mo:02d}"
    m = re.fullmatch(r"(\d{4})\s*年?", text)
    if m:
        return m.group(1)
    raise ValueError(f"renewal {value!r} is not a date (YYYY-MM, YYYY/MM/DD, 2028年4月, 令和10年, 2028年度)")


def _exposure(value: Any) -> str | None:
    if value is None or value == "":
        return None
    key = _norm(value)
    if key in _EXPOSURE_INDEX:
        return _EXPOSURE_INDEX[key]
    raise ValueError(f"exposure {value!r} is not one of internet/internal/partner/offline "
                     "(インターネット/内部/提携先/オフライン)")


_SPLIT = re.compile(r"[;；、,，\n|・]+")


def _rows_csv(path: Path) -> list[list[Any]]:
    data = path.read_bytes()
    for enc in ("utf-8-sig", "cp932"):
        try:
            text = data.decode(enc)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise AssetListError([f"{path}:1: neither UTF-8 nor Shift_JIS/CP932 text"])
    first = text.split("\n", 1)[0]
    delimiter = "\t" if path.suffix.lower() == ".tsv" or ("\t" in first and "," not in first) else ","
    return [list(r) for r in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)]


def _rows_xlsx(path: Path, sheet: str | None) -> list[list[Any]]:
    from zipfile import BadZipFile

    import openpyxl  # type: ignore[import-untyped]
    from openpyxl.utils.exceptions import InvalidFileException  # type: ignore[import-untyped]

    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (BadZipFile, InvalidFileException, KeyError, OSError, ValueError) as exc:
        raise AssetListError([f"{path}:1: not a readable .xlsx workbook ({type(exc).__name__}: {exc})"]) from exc
    try:
        if sheet is not None and sheet not in wb.sheetnames:
            raise AssetListError([f"{path}:1: no sheet named {sheet!r} (sheets: {', '.join(wb.sheetnames)})"])
        ws = wb[sheet] if sheet is not None else wb.worksheets[0]
        return [list(r) for r in ws.iter_rows(min_row=1, values_only=True)]
    finally:
        wb.close()


def read_asset_list(path: Path, *, sheet: str | None = None, problems: list[str] | None = None
                    ) -> tuple[list[dict[str, Any]], list[CryptoFinding]]:
    """Asset records and findings from a CSV (UTF-8 or Shift_JIS/CP932, as Excel in Japan saves it) or ``.xlsx``
    asset list, for systems that cannot be scanned (mainframe 勘定系, HSMs, vendor packages).

    The first non-empty row is the header; Japanese or English names are accepted (case, width and spaces
    ignored): system/システム名 (required), id/資産ID, owner/所管部署, function/業務, data/保有データ,
    retention_years/秘匿期間(年), exposure/公開区分 (internet/internal/partner/offline; インターネット/内部/提携先
    /オフライン), renewal/次回更改 (2028-04, 2028/4/1, 2028年4月, 令和10年4月, 2028年度 → 2028-04), vendor/ベンダー,
    algorithms/暗号方式 (``RSA-2048; AES-128-CBC; TLS1.2``, separated by ; 、 , | ・ or new lines). Other columns
    are kept in the record's ``extra``.

    Each algorithm gives a finding (source ``asset-list``, location = the asset id, confidence 0.8); an
    unrecognised name is kept as an explicit unknown (``detail["unrecognised"]``), and an asset with no algorithm
    listed gives one ``unknown`` finding. Bad rows raise :class:`AssetListError` naming ``path:row`` — or, when
    ``problems`` is given, are reported there and skipped."""
    path = Path(path)
    suffix = path.suffix.lower()
    try:
        if suffix in (".xlsx", ".xlsm"):
            rows = _rows_xlsx(path, sheet)
        elif suffix in (".csv", ".tsv", ".txt"):
            rows = _rows_csv(path)
        else:
            raise AssetListError([f"{path}:1: unsupported file type {suffix or '(none)'}; use .csv or .xlsx "
                                  "(save .xls workbooks as .xlsx)"])
    except OSError as exc:
        raise AssetListError([f"{path}:1: unreadable: {exc.strerror or exc}"]) from exc
    except AssetListError as exc:
        if problems is None:
            raise
        problems.extend(exc.errors)
        return [], []
    errors: list[str] = []
    header_row = next((i for i, r in enumerate(rows) if any(c not in (None, "") for c in r)), None)
    if header_row is None:
        return _asset_fail([f"{path}:1: empty asset list"], problems)
    header = rows[header_row]
    columns: dict[int, str] = {}
    extras: dict[int, str] = {}
    for i, cell in enumerate(header):
        if cell in (None, ""):
            continue
        field = _HEADER_INDEX.get(_norm(cell))
        if field and field not in columns.values():
            columns[i] = field
        else:
            extras[i] = str(cell).strip()
    if "system" not in columns.values():
        found = ", ".join(str(c) for c in header if c not in (None, ""))
        return _asset_fail([f"{path}:{header_row + 1}: no system/システム名 column (found: {found})"], problems)
    assets: list[dict[str, Any]] = []
    findings: list[CryptoFinding] = []
    seen_ids: set[str] = set()
    for r in range(header_row + 1, len(rows)):
        row = rows[r]
        rowno = r + 1
        if not any(c not in (None, "") and str(c).strip() for c in row):
            continue
        values: dict[str, Any] = {}
        for i, field in columns.items():
            v = row[i] if i < len(row) else None
            values[field] = v.strip() if isinstance(v, str) else v
        where = f"{path}:{rowno}"
        row_errors = []
        system = str(values.get("system") or "").strip()
        if not system:
            row_errors.append(f"{where}: system/システム名 is empty")
        record: dict[str, Any] = {"id": "", "system": system}
        for field in ("owner", "function", "data", "vendor"):
            v = values.get(field)
            record[field] = str(v).strip() if v not in (None, "") else None
        for field, parse in (("retention_years", _years), ("exposure", _exposure), ("renewal", _renewal)):
            try:
                record[field] = parse(values.get(field))
            except ValueError as exc:
                row_errors.append(f"{where}: {exc}")
        raw_algs = str(values.get("algorithms") or "")
        tokens = [t.strip() for t in _SPLIT.split(unicodedata.normalize("NFKC", raw_algs)) if t.strip()]
        record["algorithms"] = tokens
        if record.get("renewal") is not None and values.get("renewal") not in (None, "") and str(
                values.get("renewal")) != record["renewal"]:
            record["renewal_raw"] = str(values.get("renewal"))
        extra = {name: row[i] for i, name in extras.items() if i < len(row) and row[i] not in (None, "")}
        if extra:
            record["extra"] = {k: (v if isinstance(v, str | int | float) else str(v)) for k, v in extra.items()}
        record["source"] = where
        if row_errors:
            errors.extend(row_errors)
            continue
        asset_id = str(values.get("id") or "").strip() or system
        if asset_id in seen_ids:
            asset_id = f"{asset_id}#{rowno}"
        seen_ids.add(asset_id)
        record["id"] = asset_id
        assets.append(record)
        common = {"file": str(path), "row": rowno, "system": system}
        if record["exposure"]:
            common["exposure"] = record["exposure"]
        if not tokens:
            findings.append(CryptoFinding("asset-list", asset_id, "unknown", "unknown", "", "暗号方式 not listed", 0.8,
                                          {**common, "note": "no algorithm listed: to be confirmed with the owner"}))
        for token in tokens:
            an = parse_algorithm_name(token)
            detail: dict[str, Any] = {**common, "raw": token}
            if an is None:
                detail["unrecognised"] = True
                findings.append(CryptoFinding("asset-list", asset_id, "unknown", token, "", "暗号方式 (asset list)",
                                              0.8, detail))
                continue
            for k in ("mode", "padding", "hash"):
                if getattr(an, k):
                    detail[k] = getattr(an, k)
            findings.append(CryptoFinding("asset-list", asset_id, an.primitive, an.algorithm, an.parameter,
                                          "暗号方式 (asset list)", 0.8, detail))
    if errors:
        if problems is None:
            raise AssetListError(errors)
        problems.extend(errors)
    return assets, findings


def _asset_fail(errors: list[str], problems: list[str] | None) -> tuple[list[dict[str, Any]], list[CryptoFinding]]:
    if problems is None:
        raise AssetListError(errors)
    problems.extend(errors)
    return [], []


# ---------------------------------------------------------------------------------------------------------------
# Benchmark
# ---------------------------------------------------------------------------------------------------------------


def bench_cbom(n_components: int) -> float:
    """Components per second written (``to_cbom`` + JSON serialisation) for a synthetic inventory of about
    ``n_components`` components: one certificate and its public key per TLS endpoint (two components each), each
    endpoint also reporting shared key-exchange, cipher and protocol findings (occurrences)."""
    findings: list[CryptoFinding] = []
    shared = [("key-exchange", "X25519MLKEM768", ""), ("key-exchange", "ECDH", "P-256"), ("cipher", "AES", "256")]
    for i in range((n_components + 1) // 2):
        loc = f"10.{i // 65536 % 256}.{i // 256 % 256}.{i % 256}:443"
        fp = hashlib.sha256(str(i).encode()).hexdigest()
        common = {"subject": f"CN=host{i}.example.co.jp,O=Example Securities", "issuer": "CN=Example CA",
                  "not_before": "2026-01-01T00:00:00+00:00", "not_after": "2027-01-01T00:00:00+00:00",
                  "serial": format(i, "x"), "sha256": fp, "position": 0}
        findings.append(CryptoFinding("tls", loc, "certificate", "RSA", "2048", "certificate[0] signature",
                                      1.0, {**common, "hash": "SHA-256"}))
        findings.append(CryptoFinding("tls", loc, "key", "ECDSA" if i % 2 else "RSA", "P-256" if i % 2 else "2048",
                                      "certificate[0] public key", 1.0, common))
        prim, alg, param = shared[i % len(shared)]
        findings.append(CryptoFinding("tls", loc, prim, alg, param, "tls-1.3 key share", 1.0))  # type: ignore[arg-type]
        findings.append(CryptoFinding("tls", loc, "protocol", "TLS", "1.3", "negotiated", 1.0,
                                      {"cipher_suite": "TLS_AES_256_GCM_SHA384"}))
    t0 = time.perf_counter()
    doc = to_cbom(findings)
    data = dump_cbom(doc)
    elapsed = time.perf_counter() - t0
    del data
    return len(doc["components"]) / elapsed if elapsed else float("inf")
