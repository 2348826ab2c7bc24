"""Classify a :class:`~mamori.pqc.model.CryptoFinding` against versioned policy data (``policy.yaml``).

The rules and deadlines are data, with their sources cited in the file: NIST IR 8547 ipd (Nov 2024,
Tables 2 and 4: quantum-vulnerable public-key algorithms at 112-bit strength deprecated after 2030 and
disallowed after 2035, at 128 bits and above disallowed after 2035), NIST SP 800-131A Rev. 2 and the
Rev. 3 draft (SHA-1, TDEA, RSA/DH below 2048 bits), NIST SP 800-57 Part 1 Rev. 5 (security strengths),
FIPS 203/204/205 and SP 800-208 (the post-quantum algorithms and their categories), the CRYPTREC list
(電子政府推奨暗号リスト, LS-0001-2022) and NSA CNSA 2.0.

Statuses (:data:`Status`):

* ``quantum-vulnerable`` - broken by Shor's algorithm: RSA, ECDSA/ECDH/X25519/Ed25519, finite-field DH
  (IR 8547 dates). TLS 1.2 too, because it cannot carry a hybrid ML-KEM key exchange.
* ``hybrid`` - classical + ML-KEM key exchange (X25519MLKEM768 and friends): safe while either half holds.
* ``quantum-safe`` - ML-KEM, ML-DSA, SLH-DSA, LMS/XMSS, and symmetric algorithms and hashes. AES-128 and
  SHA-256 are *quantum-safe with a note* rather than a separate "weakened" status: Grover's algorithm
  gives at most a quadratic speed-up that parallelises poorly, NIST keeps AES-128 as the definition of
  security category 1 and sets no deadline for it (NIST PQC FAQ, IR 8547 ipd). A separate status would
  raise gates and roadmap items that no regulator asks for; the note and the ``cnsa2`` flag still tell
  a firm that follows CNSA 2.0 (AES-256, SHA-384) to upgrade at the next renewal.
* ``deprecated`` - classically weakening, with a disallowance date before the quantum ones (HMAC-SHA-1,
  SHA-224: disallowed after 2030).
* ``disallowed`` - broken classically or already disallowed (MD5, SHA-1 signatures, RC4, DES/3DES,
  RSA/DH < 2048, curves < 224 bits, SSL and TLS < 1.2, DSA signature generation per FIPS 186-5).
* ``not-applicable`` - a container whose status is that of its parts (TLS 1.3, SSH, IKEv2).
* ``unknown`` - not recognised: never counted as safe (the CycloneDX CBOM guidance for unresolved algorithms).

``Classification.quantum_vulnerable`` is independent of the status: RSA-1024 is ``disallowed`` *and*
quantum-vulnerable, which matters for harvest-now-decrypt-later exposure (:mod:`mamori.pqc.risk`).
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Final, Literal, cast, get_args

import yaml

from mamori.kit.errors import ConfigError
from mamori.pqc.model import CryptoFinding, Primitive

__all__ = [
    "DEADLINE_PROBES",
    "STATUS_SEVERITY",
    "Classification",
    "Policy",
    "Rule",
    "Scenario",
    "SourceRef",
    "Status",
    "classify",
    "deadline_table",
    "default_policy",
    "load_policy",
]

Status = Literal["quantum-vulnerable", "hybrid", "quantum-safe", "deprecated", "disallowed", "not-applicable",
                 "unknown"]
STATUSES: Final = frozenset(get_args(Status))
STATUS_SEVERITY: Final[Mapping[str, int]] = {
    "disallowed": 6, "deprecated": 5, "quantum-vulnerable": 4, "unknown": 3, "hybrid": 2, "quantum-safe": 1,
    "not-applicable": 0}
"""Worst first: a cipher suite or an asset takes the status of its worst part."""

Use = Literal["signature", "key-exchange", "encryption", "hash", "mac", "kdf", "key", "protocol", "unknown"]
_USE_OF: Final[Mapping[str, Use]] = {
    "key-exchange": "key-exchange", "public-key-encryption": "key-exchange", "signature": "signature",
    "certificate": "signature", "cipher": "encryption", "hash": "hash", "mac": "mac", "kdf": "kdf",
    "protocol": "protocol", "key": "key", "unknown": "unknown"}


NOT_IN_USE_EFFECTS: Final = frozenset({"disable", "remove"})
"""Configuration findings whose ``detail["effect"]`` says the algorithm is switched *off* (``!RC4`` in a
cipher string, ``jdk.tls.disabledAlgorithms=RC4``, ``-diffie-hellman-group1-sha1``): evidence of good
hygiene, not a use to migrate."""


@dataclass(frozen=True, slots=True)
class SourceRef:
    """One cited document."""

    id: str
    title: str
    publisher: str
    date: str
    url: str
    note_en: str = ""
    note_ja: str = ""


@dataclass(frozen=True, slots=True)
class Rule:
    """One row of the policy: what it matches and what it says."""

    id: str
    status: Status
    families: frozenset[str] = frozenset()
    uses: frozenset[str] = frozenset()
    params: frozenset[str] = frozenset()
    bits: frozenset[int] = frozenset()
    bits_lt: int | None = None
    bits_ge: int | None = None
    bits_unknown: bool = False
    deprecated_after: int | None = None
    disallowed_after: int | None = None
    quantum_vulnerable: bool = False
    nist_category: int | None = None
    cnsa2: bool = False
    assumed: bool = False
    sources: tuple[str, ...] = ()
    replacement: str = ""
    note_en: str = ""
    note_ja: str = ""

    def matches(self, family: str, use: str, param: str, bits: int | None) -> bool:
        if self.families and family not in self.families:
            return False
        if self.uses and use not in self.uses:
            return False
        if self.params and param not in self.params:
            return False
        if self.bits_unknown and bits is not None:
            return False
        if (self.bits or self.bits_lt is not None or self.bits_ge is not None) and bits is None:
            return False
        if self.bits and bits not in self.bits:
            return False
        if self.bits_lt is not None and bits is not None and not bits < self.bits_lt:
            return False
        return not (self.bits_ge is not None and bits is not None and not bits >= self.bits_ge)


@dataclass(frozen=True, slots=True)
class Scenario:
    """A CRQC arrival year to plan against (``z`` in Mosca's inequality)."""

    name: str
    year: int
    note_en: str = ""
    note_ja: str = ""
    sources: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Classification:
    """What the policy says about one finding.

    ``deprecated_after``/``disallowed_after`` follow NIST's wording (a year *after* which the status
    applies). ``nist_category`` is the NIST PQC security category (0 = quantum-vulnerable; the CycloneDX
    ``nistQuantumSecurityLevel``), None where no category is defined. ``assumed`` marks dates taken from
    the earliest row because the key size was not reported."""

    status: Status
    name: str
    family: str
    security_bits: int | None
    nist_category: int | None
    quantum_vulnerable: bool
    deprecated_after: int | None
    disallowed_after: int | None
    rule_id: str
    sources: tuple[str, ...]
    cnsa2: bool
    replacement: str
    note_en: str
    note_ja: str
    assumed: bool = False

    @property
    def needs_migration(self) -> bool:
        """Quantum-vulnerable, deprecated, disallowed or unknown: something for the roadmap."""
        return self.status in ("quantum-vulnerable", "deprecated", "disallowed", "unknown") or (
            self.quantum_vulnerable and self.status != "hybrid")

    def to_dict(self) -> dict[str, Any]:
        return {"status": self.status, "name": self.name, "family": self.family,
                "security_bits": self.security_bits, "nist_category": self.nist_category,
                "quantum_vulnerable": self.quantum_vulnerable, "deprecated_after": self.deprecated_after,
                "disallowed_after": self.disallowed_after, "rule": self.rule_id, "sources": list(self.sources),
                "cnsa2": self.cnsa2, "replacement": self.replacement, "assumed": self.assumed,
                "note_en": self.note_en, "note_ja": self.note_ja}


@dataclass(frozen=True, slots=True)
class _Norm:
    family: str
    use: Use
    param: str
    bits: int | None
    name: str


@dataclass(slots=True)
class Policy:
    """The loaded policy file. :meth:`classify` is memoised per (primitive, algorithm, parameter, use)."""

    version: str
    title_ja: str
    title_en: str
    sources: Mapping[str, SourceRef]
    rules: tuple[Rule, ...]
    scenarios: Mapping[str, Scenario]
    default_scenario: str
    migration_years_default: float
    migration_years_by_type: Mapping[str, float]
    data_classes: Mapping[str, int]
    ifc_strength: tuple[tuple[int, int], ...]
    ecc_curves: Mapping[str, int]
    curve_aliases: Mapping[str, str]
    ssh_dh_groups: Mapping[int, int]
    _cache: dict[tuple[str, str, str, bool, str], Classification] = field(default_factory=dict, repr=False)
    _aliases_longest_first: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        self._aliases_longest_first = tuple(sorted(((k, v) for k, v in self.curve_aliases.items() if len(k) >= 5),
                                                   key=lambda kv: -len(kv[0])))

    # -- look-ups ---------------------------------------------------------------------------
    def scenario(self, name: str | None = None) -> Scenario:
        key = name or self.default_scenario
        try:
            return self.scenarios[key]
        except KeyError:
            raise ConfigError(f"unknown CRQC scenario {key!r}; the policy defines "
                              f"{', '.join(sorted(self.scenarios))}") from None

    def migration_years_for(self, asset_type: str) -> float:
        return self.migration_years_by_type.get(asset_type.strip().lower(), self.migration_years_default)

    def data_class_score(self, data_class: str) -> int | None:
        return self.data_classes.get(data_class.strip().lower())

    # -- classification ----------------------------------------------------------------------
    def classify(self, finding: CryptoFinding) -> Classification:
        """Classify one finding. A signature whose ``detail["hash"]`` is SHA-1 or MD5 (a SHA-1-signed
        certificate, an ``ssh-rsa`` host-key signature) is classified as that hash's signature."""
        signing = "sign" in finding.context.lower()
        sig_hash = ""
        if signing or finding.primitive in ("signature", "certificate"):
            value = finding.detail.get("hash")
            sig_hash = value if isinstance(value, str) and _compact(value) in _WEAK_SIG_HASHES else ""
        key = (finding.primitive, finding.algorithm, finding.parameter, signing, sig_hash)
        hit = self._cache.get(key)
        if hit is None:
            hit = self._classify(finding.primitive, finding.algorithm, finding.parameter, signing, sig_hash)
            if len(self._cache) < 100_000:
                self._cache[key] = hit
        if finding.detail.get("effect") in NOT_IN_USE_EFFECTS:
            return _disabled(hit)
        return hit

    def _classify(self, primitive: Primitive, algorithm: str, parameter: str, signing: bool,
                  sig_hash: str = "") -> Classification:
        use: Use = _USE_OF.get(primitive, "unknown")
        if signing and use in ("hash", "unknown", "key"):
            use = "signature"
        parts = _suite_parts(algorithm)
        if parts is not None:
            return self._combine(algorithm, [self._classify(p, a, q, False) for p, a, q in parts])
        norm = self._normalise(use, algorithm, parameter)
        if sig_hash and norm.family in ("RSA", "ECC", "DSA", "FFC", "PK-OTHER", ""):
            weak = _HASHES[_compact(sig_hash)]
            inner = self._apply(norm)
            outer = self._apply(_Norm(weak, "signature", "", None, f"{norm.name} with {weak}"))
            return outer if STATUS_SEVERITY[outer.status] >= STATUS_SEVERITY[inner.status] else inner
        return self._apply(norm)

    def _apply(self, norm: _Norm) -> Classification:
        for rule in self.rules:
            if rule.matches(norm.family, norm.use, norm.param, norm.bits):
                vulnerable = rule.quantum_vulnerable or rule.status == "quantum-vulnerable"
                category = 0 if vulnerable and rule.nist_category is None else rule.nist_category
                return Classification(
                    status=rule.status, name=norm.name, family=norm.family or "?", security_bits=norm.bits,
                    nist_category=category, quantum_vulnerable=vulnerable,
                    deprecated_after=rule.deprecated_after, disallowed_after=rule.disallowed_after,
                    rule_id=rule.id, sources=rule.sources, cnsa2=rule.cnsa2, replacement=rule.replacement,
                    note_en=rule.note_en, note_ja=rule.note_ja, assumed=rule.assumed)
        raise ConfigError("the policy has no catch-all rule (add `match: {}` with status unknown at the end)")

    @staticmethod
    def _combine(name: str, parts: list[Classification]) -> Classification:
        """A TLS cipher suite: the worst part decides; dates are the earliest of any part."""
        worst = max(parts, key=lambda c: STATUS_SEVERITY[c.status])
        deprecated = [c.deprecated_after for c in parts if c.deprecated_after is not None]
        disallowed = [c.disallowed_after for c in parts if c.disallowed_after is not None]
        first_disallowed = min(disallowed) if disallowed else None
        first_deprecated = min(deprecated) if deprecated else None
        if first_deprecated is not None and first_disallowed is not None and first_deprecated >= first_disallowed:
            first_deprecated = None  # already disallowed earlier: "deprecated" no longer says anything
        categories = [c.nist_category for c in parts]
        sources: list[str] = []
        for c in parts:
            sources.extend(s for s in c.sources if s not in sources)
        return Classification(
            status=worst.status, name=name, family="CIPHER-SUITE", security_bits=worst.security_bits,
            nist_category=None if any(c is None for c in categories) else min(c for c in categories if c is not None),
            quantum_vulnerable=any(c.quantum_vulnerable for c in parts),
            deprecated_after=first_deprecated, disallowed_after=first_disallowed,
            rule_id=f"cipher-suite/{worst.rule_id}", sources=tuple(sources), cnsa2=all(c.cnsa2 for c in parts),
            replacement=worst.replacement,
            note_en=f"Cipher suite; decided by its weakest part ({worst.name}). {worst.note_en}".strip(),
            note_ja=f"暗号スイート。最も弱い構成要素（{worst.name}）で判定。{worst.note_ja}".strip(),
            assumed=worst.assumed)

    # -- name normalisation --------------------------------------------------------------------
    def _normalise(self, use: Use, algorithm: str, parameter: str) -> _Norm:
        raw = algorithm.strip()
        c = _compact(raw)
        p = parameter.strip()
        pc = _compact(p)

        hybrid = _HYBRIDS.get(c) or next((v for k, v in _HYBRID_PREFIXES if c.startswith(k)), None)
        if hybrid:
            return _Norm("HYBRID-KEM", use, hybrid, None, hybrid)
        for prefixes, family in _PQ_PREFIXES:
            if c.startswith(prefixes):
                return self._pq(family, use, c, pc, p)
        proto = _PROTOCOL.match(c)
        if proto:
            kind, version = proto.group(1), proto.group(2) or pc
            if kind == "tls" and version.startswith("ssl"):  # TLS record version 0x0300 reported as "SSL 3.0"
                kind, version = "ssl", version[3:]
            return _protocol(kind, version, use, p)
        compound = _COMPOUND_SIG.match(c) or _COMPOUND_SIG_REV.match(c)
        if compound:
            groups = compound.groupdict()
            hashname = _HASHES.get(groups["hash"], "")
            if hashname in ("MD5", "MD2", "MD4", "SHA-1"):
                return _Norm(hashname, "signature", "", None, f"{raw} ({hashname} signature)")
            rest = c[:compound.start("hash")] if compound.start("pk") == 0 else c[compound.end("hash"):]
            return self._public_key(groups["pk"], "signature", rest, pc, p, raw)
        for prefixes, kind in _PK_PREFIXES:
            if c.startswith(prefixes):
                return self._public_key(kind, use, c, pc, p, raw)
        curve = self._curve(c)
        if curve:
            return self._ecc(use, curve, raw)
        return self._symmetric_or_hash(use, c, pc, p, raw)

    def _pq(self, family: str, use: Use, c: str, pc: str, p: str) -> _Norm:
        digits = _first_int(pc) or _first_int(c)
        if family == "ML-KEM":
            param = str(digits) if digits in (512, 768, 1024) else ""
        elif family == "ML-DSA":
            level = _DILITHIUM.get(digits, digits) if digits is not None else None
            param = str(level) if level in (44, 65, 87) else ""
        elif family == "SLH-DSA":
            level = next((lv for lv in (128, 192, 256) if str(lv) in pc + c), None)
            return _Norm(family, use, p, level, f"SLH-DSA{'-' + p if p else ''}")
        else:
            param = p
        return _Norm(family, use, param, None, f"{family}-{param}" if param else family)

    def _public_key(self, kind: str, use: Use, c: str, pc: str, p: str, raw: str) -> _Norm:
        if kind == "rsa":
            size = _first_int(pc) or _trailing_int(c)
            bits = self._ifc_bits(size)
            return _Norm("RSA", use, str(size or ""), bits, f"RSA-{size}" if size else "RSA")
        if kind in ("dh", "dsa"):
            group = _SSH_GROUP.search(c)
            size = self.ssh_dh_groups.get(int(group.group(1))) if group else None
            size = size or _first_int(pc) or (_trailing_int(c) if "groupexchange" not in c else None)
            family, label = ("DSA", "DSA") if kind == "dsa" else ("FFC", "DH")
            return _Norm(family, use, str(size or ""), self._ifc_bits(size), f"{label}-{size}" if size else label)
        if kind == "pk-other":
            return _Norm("PK-OTHER", use, p, None, raw)
        # elliptic curves: the curve comes from the parameter, the name (ecdsa-sha2-nistp256), or a size
        curve = self._curve(pc) or self._curve(c[len(kind):]) or self._curve(c)
        if curve is None:
            field_bits = _first_int(pc)
            if field_bits:
                return _Norm("ECC", use, str(field_bits), field_bits // 2, f"{_ec_label(kind, use)} {field_bits}")
            return _Norm("ECC", use, "", None, _ec_label(kind, use))
        return self._ecc(use, curve, raw, kind)

    def _ecc(self, use: Use, curve: str, raw: str, kind: str = "") -> _Norm:
        bits = self.ecc_curves.get(curve)
        if curve in ("X25519", "X448", "Ed25519", "Ed448"):
            return _Norm("ECC", use, curve, bits, curve)
        return _Norm("ECC", use, curve, bits, f"{_ec_label(kind, use)} {curve}")

    def _curve(self, compact: str) -> str | None:
        if not compact:
            return None
        hit = self.curve_aliases.get(compact)
        if hit:
            return hit
        for alias, canonical in self._aliases_longest_first:
            if alias in compact:
                return canonical
        m = re.search(r"(nistp|secp|p)(192|224|256|384|521)", compact)
        return f"P-{m.group(2)}" if m else None

    def _ifc_bits(self, modulus: int | None) -> int | None:
        if not modulus:
            return None
        for minimum, bits in self.ifc_strength:
            if modulus >= minimum:
                return bits
        return 0

    def _symmetric_or_hash(self, use: Use, c: str, pc: str, p: str, raw: str) -> _Norm:
        if c in _HASHES:
            h = _HASHES[c]
            return _Norm(h, use, "", None, h)
        for prefix, family in (("hmac", "HMAC"), ("hkdf", "KDF"), ("pbkdf2", "KDF"), ("kdf", "KDF"),
                               ("evpbytestokey", "KDF"), ("bcrypt", "KDF"), ("scrypt", "KDF"), ("argon2", "KDF")):
            if c.startswith(prefix):
                rest = c[len(prefix):].removeprefix("hmac")
                inner = _HASHES.get(rest) or _HASHES.get(pc) or ""
                return _Norm(family, use, inner, None, f"{family}-{inner}" if inner else family)
        for prefixes, family in _SYMMETRIC:
            if c.startswith(prefixes):
                if family in ("AES", "CAMELLIA"):
                    size = _first_int(pc) or _first_int(c)
                    size = size if size in (128, 192, 256) else None
                    return _Norm(family, use, str(size or ""), size, f"{family}-{size}" if size else family)
                if family == "CHACHA20":
                    return _Norm(family, use, "256", 256, raw or "ChaCha20")
                return _Norm(family, use, p, None, raw)
        if c in ("cmac", "poly1305", "gmac", "umac"):
            return _Norm(c.upper(), use, "", None, raw)
        return _Norm("", use, p, None, raw or "?")


def _ec_label(kind: str, use: Use) -> str:
    if kind == "ecdsa" or (use == "signature" and kind not in ("ecdh", "ecdhe", "ecmqv")):
        return "ECDSA"
    if kind in ("ecdh", "ecdhe", "ecmqv") or use == "key-exchange":
        return "ECDH"
    return "EC"


def _protocol(kind: str, version: str, use: Use, p: str) -> _Norm:
    family = {"tls": "TLS", "ssl": "SSL", "dtls": "DTLS", "ssh": "SSH", "ike": "IKE", "quic": "QUIC"}[kind]
    v = version.replace("v", "")
    if family in ("TLS", "DTLS", "SSL"):
        v = {"10": "1.0", "11": "1.1", "12": "1.2", "13": "1.3", "1": "1.0", "2": "2.0", "3": "3.0", "20": "2.0",
             "30": "3.0"}.get(v, v)
        if family == "TLS" and v in ("2.0", "3.0"):  # "TLS 3.0" is nobody's name; SSL handled above
            v = ""
    elif family == "SSH":
        v = "2" if v in ("2", "20", "199") else ("1" if v in ("1", "10", "15") else v)
    elif family == "IKE":
        v = v[:1]
    label = f"{family} {v}".strip() if family != "SSH" else f"SSH-{v}" if v else "SSH"
    return _Norm(family, "protocol", v, None, label)


def _compact(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def _first_int(text: str) -> int | None:
    m = re.search(r"\d+", text)
    return int(m.group(0)) if m else None


def _trailing_int(text: str) -> int | None:
    m = re.search(r"(\d{3,5})$", text)
    return int(m.group(1)) if m else None


_HYBRIDS: Final[Mapping[str, str]] = {
    "x25519mlkem768": "X25519MLKEM768", "secp256r1mlkem768": "SecP256r1MLKEM768",
    "secp384r1mlkem1024": "SecP384r1MLKEM1024", "x25519kyber768draft00": "X25519Kyber768Draft00",
    "x25519kyber768": "X25519Kyber768Draft00", "mlkem768x25519sha256": "mlkem768x25519-sha256",
    "mlkem768x25519": "mlkem768x25519-sha256", "p256mlkem768": "SecP256r1MLKEM768",
    "p384mlkem1024": "SecP384r1MLKEM1024"}
_HYBRID_PREFIXES: Final = (("sntrup761x25519", "sntrup761x25519-sha512"), ("sntrup", "sntrup4591761x25519"),
                           ("x25519mlkem", "X25519MLKEM768"),
                           ("mlkem1024p384", "SecP384r1MLKEM1024"), ("mlkem768p256", "SecP256r1MLKEM768"))
_Prefixes = tuple[tuple[tuple[str, ...], str], ...]
_PQ_PREFIXES: Final[_Prefixes] = (
    (("mlkem", "kyber"), "ML-KEM"), (("mldsa", "dilithium"), "ML-DSA"), (("slhdsa", "sphincs"), "SLH-DSA"),
    (("lms", "hsslms", "hss"), "LMS"), (("xmss",), "XMSS"), (("fndsa", "falcon"), "FN-DSA"), (("hqc",), "HQC"),
    (("frodo", "classicmceliece", "mceliece", "ntru", "bike"), "PQ-OTHER"))
_DILITHIUM: Final = {2: 44, 3: 65, 5: 87}
_WEAK_SIG_HASHES: Final = frozenset({"sha1", "md5", "md2", "md4"})
_PROTOCOL: Final = re.compile(r"^(tls|ssl|dtls|ssh|ike|quic)(v?\d{0,3})$")
_COMPOUND_SIG: Final = re.compile(r"^(?P<hash>md2|md4|md5|sha1|sha224|sha256|sha384|sha512)with(?P<pk>rsa|ecdsa|dsa)")
_COMPOUND_SIG_REV: Final = re.compile(
    r"^(?P<pk>ecdsa|dsa|rsa)(?:pss|pkcs1|pkcs1v15|rsae|pss)*(?:with|secp\d+r1|rsae)?(?P<hash>md5|sha1|sha224|sha256"
    r"|sha384|sha512)$")
_PK_PREFIXES: Final[_Prefixes] = (
    (("rsa", "sshrsa"), "rsa"),
    (("ecdsa", "sshecdsa"), "ecdsa"), (("ecdhe", "ecdh", "ecmqv"), "ecdh"), (("ecpublickey", "ecc", "ec"), "ec"),
    (("diffiehellman", "ffdhe", "ffdh", "dhe", "dh", "mqv", "modp"), "dh"),
    (("dsa", "sshdss", "dss"), "dsa"),
    (("elgamal", "sm2", "gost", "bls"), "pk-other"),
    (("sshed25519", "ed25519", "ed448", "eddsa", "x25519", "x448", "curve25519", "curve448"), "ec"))
_SSH_GROUP: Final = re.compile(r"group(\d{1,2})(?!\d)")
_HASHES: Final[Mapping[str, str]] = {
    "md2": "MD2", "md4": "MD4", "md5": "MD5", "sha1": "SHA-1", "sha": "SHA-1", "sha224": "SHA-224",
    "sha256": "SHA-256", "sha384": "SHA-384", "sha512": "SHA-512", "sha512224": "SHA-512/224",
    "sha512256": "SHA-512/256", "sha3224": "SHA3-224", "sha3256": "SHA3-256", "sha3384": "SHA3-384",
    "sha3512": "SHA3-512", "shake128": "SHAKE128", "shake256": "SHAKE256", "sha2256": "SHA-256",
    "sha2384": "SHA-384", "sha2512": "SHA-512"}
_SYMMETRIC: Final[_Prefixes] = (
    (("aes",), "AES"), (("camellia",), "CAMELLIA"), (("chacha20", "xchacha20", "chacha"), "CHACHA20"),
    (("3des", "tripledes", "tdea", "desede", "des3", "tdes"), "3DES"), (("rc4", "arcfour"), "RC4"),
    (("rc2",), "RC2"), (("blowfish",), "BLOWFISH"), (("idea",), "IDEA"), (("cast5", "cast128"), "CAST5"),
    (("aria",), "ARIA"), (("seed",), "SEED"), (("twofish",), "TWOFISH"), (("serpent",), "SERPENT"),
    (("des",), "DES"), (("null", "none"), "NULL"), (("export",), "EXPORT"), (("anon",), "ANON"))


def _suite_parts(name: str) -> list[tuple[Primitive, str, str]] | None:
    """TLS cipher suite -> its parts (key exchange, authentication, cipher, MAC), or None if not a suite."""
    upper = name.strip().upper()
    if not re.match(r"^(TLS|SSL)_[A-Z][A-Z0-9_]*_[A-Z0-9_]+$", upper) or "SCSV" in upper:
        return None
    body = upper.split("_", 1)[1]
    kex, sep, rest = body.partition("_WITH_")
    if not sep:  # TLS 1.3 suites name only the AEAD and the hash: TLS_AES_128_GCM_SHA256
        kex, rest = "", body
    parts: list[tuple[Primitive, str, str]] = []
    tokens = kex.split("_") if kex else []
    if "EXPORT" in tokens or "EXPORT1024" in tokens:
        parts.append(("key-exchange", "EXPORT", ""))
    if "ANON" in tokens:
        parts.append(("key-exchange", "ANON", ""))
    if tokens:
        first = tokens[0]
        if first in ("ECDHE", "ECDH"):
            parts.append(("key-exchange", "ECDH", ""))
        elif first in ("DHE", "DH"):
            parts.append(("key-exchange", "DH", ""))
        elif first == "RSA":
            parts.append(("key-exchange", "RSA", ""))
        for t in tokens[1:]:
            if t in ("RSA", "ECDSA", "DSS"):
                parts.append(("signature", "DSA" if t == "DSS" else t, ""))
    aead = any(t in rest for t in ("GCM", "CCM", "POLY1305"))
    cipher_tokens = rest.split("_")
    cipher = cipher_tokens[0]
    if cipher == "AES" or cipher == "CAMELLIA" or cipher == "ARIA":
        size = cipher_tokens[1] if len(cipher_tokens) > 1 else ""
        parts.append(("cipher", cipher, size))
    elif cipher in ("3DES", "DES", "RC4", "NULL", "IDEA", "RC2", "SEED", "CHACHA20", "DES40"):
        parts.append(("cipher", "DES" if cipher == "DES40" else cipher, ""))
    else:
        parts.append(("cipher", cipher, ""))
    if not aead and kex:
        mac = cipher_tokens[-1]
        parts.append(("mac", "HMAC", {"SHA": "SHA-1", "MD5": "MD5"}.get(mac, mac)))
    return parts


# -- loading ---------------------------------------------------------------------------------------
def load_policy(path: Path | None = None) -> Policy:
    """Read a policy file (default: the shipped ``policy.yaml``). Raises :class:`ConfigError` naming the
    problem (unknown status, a rule citing an undefined source, no scenarios)."""
    try:
        if path is None:
            text = resources.files("mamori.pqc").joinpath("policy.yaml").read_text(encoding="utf-8")
            where = "built-in policy.yaml"
        else:
            text = Path(path).read_text(encoding="utf-8")
            where = str(path)
        data = yaml.safe_load(text)
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read the PQC policy: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping at the top level")
    try:
        return _build(data)
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"{where}: invalid policy ({exc.__class__.__name__}: {exc})") from None


def _ja(text: Any) -> str:
    """Japanese text from folded YAML: drop the spaces that line folding puts between Japanese characters."""
    return re.sub(r"(?<=[^\x00-\x7f])\s+|\s+(?=[^\x00-\x7f])", "", " ".join(str(text or "").split()))


def _build(data: Mapping[str, Any]) -> Policy:
    sources = {s["id"]: SourceRef(id=s["id"], title=s["title"], publisher=s.get("publisher", ""),
                                  date=str(s.get("date", "")), url=s.get("url", ""),
                                  note_en=" ".join(str(s.get("note_en", "")).split()),
                                  note_ja=_ja(s.get("note_ja"))) for s in data["sources"]}
    rules: list[Rule] = []
    for r in data["rules"]:
        m = r.get("match") or {}
        status = r["status"]
        if status not in STATUSES:
            raise ValueError(f"rule {r['id']}: unknown status {status!r}")
        cited = tuple(r.get("sources") or ())
        missing = [s for s in cited if s not in sources]
        if missing:
            raise ValueError(f"rule {r['id']} cites undefined source(s) {missing}")
        if any(not isinstance(x, str) for x in m.get("family") or ()):
            raise ValueError(f"rule {r['id']}: family names must be strings (quote NULL, YES, NO ...)")
        rules.append(Rule(
            id=r["id"], status=cast(Status, status), families=frozenset(m.get("family") or ()),
            uses=frozenset(m.get("use") or ()), params=frozenset(str(x) for x in m.get("param") or ()),
            bits=frozenset(int(x) for x in m.get("bits") or ()), bits_lt=m.get("bits_lt"), bits_ge=m.get("bits_ge"),
            bits_unknown=bool(m.get("bits_unknown", False)), deprecated_after=r.get("deprecated_after"),
            disallowed_after=r.get("disallowed_after"), quantum_vulnerable=bool(r.get("quantum_vulnerable", False)),
            nist_category=r.get("nist_category"), cnsa2=bool(r.get("cnsa2", False)),
            assumed=bool(r.get("assumed", False)), sources=cited, replacement=r.get("replacement", "") or "",
            note_en=" ".join(str(r.get("note_en", "")).split()), note_ja=_ja(r.get("note_ja"))))
    if not rules or rules[-1].families or rules[-1].params or rules[-1].uses:
        raise ValueError("the last rule must be a catch-all (match: {})")
    raw_scenarios = dict(data["crqc_scenarios"])
    default = str(raw_scenarios.pop("default", "median"))
    scenarios = {name: Scenario(name=name, year=int(s["year"]), note_en=" ".join(str(s.get("note_en", "")).split()),
                                note_ja=_ja(s.get("note_ja")), sources=tuple(s.get("sources") or ()))
                 for name, s in raw_scenarios.items()}
    if default not in scenarios:
        raise ValueError(f"default scenario {default!r} is not defined")
    strength = data["strength"]
    ifc = tuple(sorted(((int(a), int(b)) for a, b in strength["ifc_ffc"]), reverse=True))
    migration = data["migration_years"]
    return Policy(
        version=str(data["version"]), title_ja=data.get("title_ja", ""), title_en=data.get("title_en", ""),
        sources=sources, rules=tuple(rules), scenarios=scenarios, default_scenario=default,
        migration_years_default=float(migration["default"]),
        migration_years_by_type={str(k).lower(): float(v) for k, v in migration["by_type"].items()},
        data_classes={str(k).lower(): int(v) for k, v in data["data_classes"].items()},
        ifc_strength=ifc, ecc_curves={str(k): int(v) for k, v in strength["ecc_curves"].items()},
        curve_aliases={_compact(str(k)): str(v) for k, v in strength["curve_aliases"].items()},
        ssh_dh_groups={int(k): int(v) for k, v in strength["ssh_dh_groups"].items()})


@functools.cache
def default_policy() -> Policy:
    """The shipped policy, loaded once."""
    return load_policy()


def classify(finding: CryptoFinding, policy: Policy | None = None) -> Classification:
    """Classify one finding (the shipped policy unless another is given)."""
    return (policy or default_policy()).classify(finding)


# -- the deadline table (golden-tested) --------------------------------------------------------------
DEADLINE_PROBES: Final[tuple[tuple[Primitive, str, str], ...]] = (
    ("signature", "RSA", "1024"), ("signature", "RSA", "2048"), ("signature", "RSA", "3072"),
    ("signature", "RSA", "4096"), ("signature", "RSA", ""), ("key-exchange", "RSA", "2048"),
    ("key-exchange", "RSA", "3072"), ("signature", "ECDSA", "P-192"), ("signature", "ECDSA", "P-224"),
    ("signature", "ECDSA", "P-256"), ("signature", "ECDSA", "P-384"), ("signature", "ECDSA", "P-521"),
    ("signature", "ECDSA", ""), ("key-exchange", "ECDH", "P-224"), ("key-exchange", "ECDH", "P-256"),
    ("key-exchange", "ECDH", "secp384r1"), ("key-exchange", "X25519", ""), ("key-exchange", "X448", ""),
    ("signature", "Ed25519", ""), ("signature", "Ed448", ""), ("key-exchange", "DH", "1024"),
    ("key-exchange", "DH", "2048"), ("key-exchange", "DH", "3072"), ("key-exchange", "ffdhe4096", ""),
    ("key-exchange", "diffie-hellman-group14-sha256", ""), ("signature", "DSA", "2048"),
    ("key-exchange", "X25519MLKEM768", ""), ("key-exchange", "SecP256r1MLKEM768", ""),
    ("key-exchange", "SecP384r1MLKEM1024", ""), ("key-exchange", "mlkem768x25519-sha256", ""),
    ("key-exchange", "ML-KEM", "512"), ("key-exchange", "ML-KEM", "768"), ("key-exchange", "ML-KEM", "1024"),
    ("signature", "ML-DSA", "44"), ("signature", "ML-DSA", "65"), ("signature", "ML-DSA", "87"),
    ("signature", "SLH-DSA", "SHA2-128s"), ("signature", "LMS", ""), ("signature", "XMSS", ""),
    ("cipher", "AES", "128"), ("cipher", "AES", "256"), ("cipher", "ChaCha20-Poly1305", ""),
    ("cipher", "3DES", ""), ("cipher", "RC4", ""), ("hash", "MD5", ""), ("signature", "SHA-1", ""),
    ("hash", "SHA-1", ""), ("mac", "HMAC-SHA1", ""), ("hash", "SHA-224", ""), ("hash", "SHA-256", ""),
    ("hash", "SHA-384", ""), ("hash", "SHA-512", ""), ("protocol", "SSL", "3.0"), ("protocol", "TLS", "1.0"),
    ("protocol", "TLS", "1.1"), ("protocol", "TLS", "1.2"), ("protocol", "TLS", "1.3"),
    ("protocol", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", ""), ("protocol", "TLS_RSA_WITH_3DES_EDE_CBC_SHA", ""),
    ("protocol", "TLS_AES_256_GCM_SHA384", ""), ("key", "Foo-1", ""),
)
"""Representative uses whose classification is compared with ``tests/golden/pqc_deadlines.json``."""


def deadline_table(policy: Policy | None = None) -> list[dict[str, Any]]:
    """The computed deadline table for :data:`DEADLINE_PROBES` (one row per probe)."""
    pol = policy or default_policy()
    rows = []
    for primitive, algorithm, parameter in DEADLINE_PROBES:
        c = pol.classify(CryptoFinding(source="config", location="-", primitive=primitive, algorithm=algorithm,
                                       parameter=parameter))
        rows.append({"primitive": primitive, "algorithm": algorithm, "parameter": parameter, "status": c.status,
                     "security_bits": c.security_bits, "nist_category": c.nist_category,
                     "deprecated_after": c.deprecated_after, "disallowed_after": c.disallowed_after,
                     "rule": c.rule_id})
    return rows


def _disabled(result: Classification) -> Classification:
    """A configuration line that switches an algorithm off is not a use of it."""
    return dataclasses.replace(
        result, status="not-applicable", quantum_vulnerable=False, deprecated_after=None, disallowed_after=None,
        note_en=f"disabled by this configuration line ({result.name} is not in use here)",
        note_ja=f"この設定行で無効化されています（{result.name} はここでは使用されていません）")
