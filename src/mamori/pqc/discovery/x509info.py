"""Certificate facts for the PQC inventory: key type and size, signature algorithm (classical, ML-DSA, SLH-DSA),
subject, issuer, validity and SANs of each certificate of a chain, turned into :class:`CryptoFinding` records.

Parsing is done by :mod:`cryptography.x509`; algorithms are recognised by OID so that a key type the local
library cannot load (an ML-DSA or SLH-DSA key on an older ``cryptography``) is still named. OIDs: RFC 8017
(RSA), RFC 5758 / RFC 5480 (ECDSA), RFC 8410 (Ed25519/Ed448, X25519/X448), RFC 3279 (DSA), FIPS 204 / RFC 9881
(ML-DSA, 2.16.840.1.101.3.4.3.17–19), FIPS 205 (SLH-DSA, 2.16.840.1.101.3.4.3.20–31), FIPS 203 (ML-KEM,
2.16.840.1.101.3.4.4.1–3) — the NIST Computer Security Objects Register.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa, x448, x25519

from mamori.pqc.model import CryptoFinding

# signature OID -> (display name, family for the finding, hash)
SIGNATURE_OIDS: dict[str, tuple[str, str, str]] = {
    "1.2.840.113549.1.1.2": ("md2WithRSAEncryption", "RSA", "MD2"),
    "1.2.840.113549.1.1.4": ("md5WithRSAEncryption", "RSA", "MD5"),
    "1.2.840.113549.1.1.5": ("sha1WithRSAEncryption", "RSA", "SHA-1"),
    "1.2.840.113549.1.1.14": ("sha224WithRSAEncryption", "RSA", "SHA-224"),
    "1.2.840.113549.1.1.11": ("sha256WithRSAEncryption", "RSA", "SHA-256"),
    "1.2.840.113549.1.1.12": ("sha384WithRSAEncryption", "RSA", "SHA-384"),
    "1.2.840.113549.1.1.13": ("sha512WithRSAEncryption", "RSA", "SHA-512"),
    "1.2.840.113549.1.1.10": ("RSASSA-PSS", "RSA", ""),
    "1.2.840.10045.4.1": ("ecdsa-with-SHA1", "ECDSA", "SHA-1"),
    "1.2.840.10045.4.3.1": ("ecdsa-with-SHA224", "ECDSA", "SHA-224"),
    "1.2.840.10045.4.3.2": ("ecdsa-with-SHA256", "ECDSA", "SHA-256"),
    "1.2.840.10045.4.3.3": ("ecdsa-with-SHA384", "ECDSA", "SHA-384"),
    "1.2.840.10045.4.3.4": ("ecdsa-with-SHA512", "ECDSA", "SHA-512"),
    "1.3.101.112": ("Ed25519", "Ed25519", ""),
    "1.3.101.113": ("Ed448", "Ed448", ""),
    "1.2.840.10040.4.3": ("dsa-with-sha1", "DSA", "SHA-1"),
    "2.16.840.1.101.3.4.3.1": ("dsa-with-sha224", "DSA", "SHA-224"),
    "2.16.840.1.101.3.4.3.2": ("dsa-with-sha256", "DSA", "SHA-256"),
    "2.16.840.1.101.3.4.3.17": ("ML-DSA-44", "ML-DSA", ""),
    "2.16.840.1.101.3.4.3.18": ("ML-DSA-65", "ML-DSA", ""),
    "2.16.840.1.101.3.4.3.19": ("ML-DSA-87", "ML-DSA", ""),
}
_SLH_DSA_SETS = ("SHA2-128s", "SHA2-128f", "SHA2-192s", "SHA2-192f", "SHA2-256s", "SHA2-256f",
                 "SHAKE-128s", "SHAKE-128f", "SHAKE-192s", "SHAKE-192f", "SHAKE-256s", "SHAKE-256f")
for _i, _set in enumerate(_SLH_DSA_SETS):
    SIGNATURE_OIDS[f"2.16.840.1.101.3.4.3.{20 + _i}"] = (f"SLH-DSA-{_set}", "SLH-DSA", "")

# public-key OID -> (family, parameter when the OID fixes it)
KEY_OIDS: dict[str, tuple[str, str]] = {
    "1.2.840.113549.1.1.1": ("RSA", ""),
    "1.2.840.113549.1.1.10": ("RSA", ""),  # RSASSA-PSS key
    "1.2.840.10045.2.1": ("ECDSA", ""),
    "1.3.101.110": ("X25519", ""),
    "1.3.101.111": ("X448", ""),
    "1.3.101.112": ("Ed25519", ""),
    "1.3.101.113": ("Ed448", ""),
    "1.2.840.10040.4.1": ("DSA", ""),
    "2.16.840.1.101.3.4.3.17": ("ML-DSA", "44"),
    "2.16.840.1.101.3.4.3.18": ("ML-DSA", "65"),
    "2.16.840.1.101.3.4.3.19": ("ML-DSA", "87"),
    "2.16.840.1.101.3.4.4.1": ("ML-KEM", "512"),
    "2.16.840.1.101.3.4.4.2": ("ML-KEM", "768"),
    "2.16.840.1.101.3.4.4.3": ("ML-KEM", "1024"),
}
for _i, _set in enumerate(_SLH_DSA_SETS):
    KEY_OIDS[f"2.16.840.1.101.3.4.3.{20 + _i}"] = ("SLH-DSA", _set)

_CURVES = {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521", "secp224r1": "P-224",
           "secp192r1": "P-192"}


@dataclass(frozen=True)
class CertificateFacts:
    """What the inventory needs from one certificate."""

    position: int
    subject: str
    issuer: str
    serial: str
    not_before: str
    not_after: str
    sans: tuple[str, ...]
    sha256: str
    self_issued: bool
    key_algorithm: str
    key_parameter: str
    key_oid: str
    signature_algorithm: str
    signature_family: str
    signature_hash: str
    signature_oid: str
    is_ca: bool | None


def _oid_name(oid: x509.ObjectIdentifier) -> str:
    return str(getattr(oid, "_name", "") or oid.dotted_string)


def _key_facts(cert: x509.Certificate, oid: str) -> tuple[str, str]:
    family, parameter = KEY_OIDS.get(oid, ("unknown", ""))
    try:
        key = cert.public_key()
    except Exception:  # a key type the local library cannot load: the OID still names it
        return family, parameter
    if isinstance(key, rsa.RSAPublicKey):
        return "RSA", str(key.key_size)
    if isinstance(key, ec.EllipticCurvePublicKey):
        return "ECDSA", _CURVES.get(key.curve.name, key.curve.name)
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "Ed25519", ""
    if isinstance(key, ed448.Ed448PublicKey):
        return "Ed448", ""
    if isinstance(key, x25519.X25519PublicKey):
        return "X25519", ""
    if isinstance(key, x448.X448PublicKey):
        return "X448", ""
    if isinstance(key, dsa.DSAPublicKey):
        return "DSA", str(key.key_size)
    return family, parameter


def certificate_facts(der: bytes, position: int = 0) -> CertificateFacts:
    """Parse one DER certificate. Raises ``ValueError`` when it is not a certificate."""
    cert = x509.load_der_x509_certificate(der)
    key_oid = cert.public_key_algorithm_oid.dotted_string
    key_algorithm, key_parameter = _key_facts(cert, key_oid)
    sig_oid = cert.signature_algorithm_oid.dotted_string
    sig_name, sig_family, sig_hash = SIGNATURE_OIDS.get(
        sig_oid, (_oid_name(cert.signature_algorithm_oid), "unknown", ""))
    if not sig_hash:
        try:
            h = cert.signature_hash_algorithm
        except Exception:  # an unsupported hash in the parameters
            h = None
        if h is not None and sig_family in ("RSA", "ECDSA", "DSA"):
            sig_hash = h.name.upper().replace("SHA", "SHA-", 1) if h.name.startswith("sha") else h.name
    sans: list[str] = []
    try:
        ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        sans = [*ext.get_values_for_type(x509.DNSName), *(str(ip) for ip in ext.get_values_for_type(x509.IPAddress))]
    except x509.ExtensionNotFound:
        pass
    except ValueError:
        sans = ["(unparsable subjectAltName)"]
    is_ca: bool | None
    try:
        is_ca = cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        is_ca = None
    except ValueError:
        is_ca = None
    try:
        subject, issuer = cert.subject.rfc4514_string(), cert.issuer.rfc4514_string()
    except ValueError:
        subject, issuer = "(unparsable)", "(unparsable)"
    return CertificateFacts(
        position=position, subject=subject, issuer=issuer, serial=format(cert.serial_number, "x"),
        not_before=cert.not_valid_before_utc.isoformat(), not_after=cert.not_valid_after_utc.isoformat(),
        sans=tuple(sans), sha256=hashlib.sha256(der).hexdigest(), self_issued=cert.subject == cert.issuer,
        key_algorithm=key_algorithm, key_parameter=key_parameter, key_oid=key_oid,
        signature_algorithm=sig_name, signature_family=sig_family, signature_hash=sig_hash,
        signature_oid=sig_oid, is_ca=is_ca)


def chain_facts(ders: list[bytes]) -> tuple[list[CertificateFacts], list[str]]:
    """Facts for each certificate of a chain (leaf first), plus problems for those that do not parse."""
    facts, problems = [], []
    for i, der in enumerate(ders):
        try:
            facts.append(certificate_facts(der, i))
        except ValueError as exc:
            problems.append(f"certificate[{i}] does not parse: {exc}")
    return facts, problems


def _signature_parameter(facts: CertificateFacts, chain: list[CertificateFacts]) -> str:
    """The signer's key size/set: from the OID (ML-DSA, SLH-DSA), the issuer's certificate in the chain, or the
    certificate itself when self-issued; empty when the issuer is not in the chain."""
    if facts.signature_family in ("ML-DSA", "SLH-DSA"):
        return facts.signature_algorithm.split("-", 2)[-1]
    for other in chain:
        if other.subject == facts.issuer and other.position != facts.position:
            return other.key_parameter
    return facts.key_parameter if facts.self_issued else ""


def chain_findings(ders: list[bytes], location: str, *, chain_label: str = "",
                   extra: dict[str, Any] | None = None) -> tuple[list[CryptoFinding], list[str]]:
    """Two findings per certificate — ``certificate`` (its signature algorithm) and ``key`` (its subject public
    key) — with subject, issuer, validity, SANs and position in the chain in ``detail``."""
    facts, problems = chain_facts(ders)
    findings: list[CryptoFinding] = []
    suffix = f" ({chain_label})" if chain_label else ""
    for f in facts:
        common: dict[str, Any] = {
            "position": f.position, "subject": f.subject, "issuer": f.issuer, "not_before": f.not_before,
            "not_after": f.not_after, "serial": f.serial, "sha256": f.sha256, "self_issued": f.self_issued,
            "chain_length": len(ders)}
        if f.position == 0:
            common["sans"] = list(f.sans)
        if f.is_ca is not None:
            common["ca"] = f.is_ca
        common.update(extra or {})
        findings.append(CryptoFinding(
            source="tls", location=location, primitive="certificate", algorithm=f.signature_family,
            parameter=_signature_parameter(f, facts), context=f"certificate[{f.position}] signature{suffix}",
            detail={**common, "signature_algorithm": f.signature_algorithm, "hash": f.signature_hash,
                    "oid": f.signature_oid}))
        findings.append(CryptoFinding(
            source="tls", location=location, primitive="key", algorithm=f.key_algorithm,
            parameter=f.key_parameter, context=f"certificate[{f.position}] public key{suffix}",
            detail={**common, "oid": f.key_oid}))
    return findings, problems
