"""TLS wire format for the endpoint scanner: a minimal ClientHello builder and bounded parsers for the
server's first flight (ServerHello, HelloRetryRequest, Certificate, ServerKeyExchange, alerts).

No TLS library can offer arbitrary groups (Python's ``ssl`` links an OpenSSL without ML-KEM), so the
scanner writes its own ClientHello and reads the answer with :mod:`struct`, checking every length
against the bytes actually present and against fixed upper bounds.

References:

* RFC 8446 (TLS 1.3): §4.1.2 ClientHello, §4.1.3 ServerHello (the HelloRetryRequest ``random``
  and the TLS 1.2 downgrade sentinels), §4.1.4 HelloRetryRequest, §4.2.1 ``supported_versions``,
  §4.2.3 ``signature_algorithms``, §4.2.7 ``supported_groups``, §4.2.8 ``key_share`` (an empty
  ``client_shares`` vector asks the server for a HelloRetryRequest naming its group), §4.4.2 Certificate,
  §5.1 record layer, §6 alerts.
* RFC 5246 (TLS 1.2): §6.2 records, §7.4.1.2 ClientHello, §7.4.1.3 ServerHello, §7.4.1.4.1
  ``signature_algorithms`` (not sent when offering only TLS 1.0/1.1), §7.4.2 Certificate, §7.4.3
  ServerKeyExchange; RFC 8422 §5.4 (ECDHE ``ServerECDHParams``); RFC 5746 (the renegotiation SCSV);
  RFC 6066 §3 (``server_name``); RFC 7685 (``padding``).
* IANA "TLS Supported Groups", "TLS Cipher Suites" and "TLS SignatureScheme" registries
  (https://www.iana.org/assignments/tls-parameters/).
* draft-ietf-tls-ecdhe-mlkem (X25519MLKEM768 0x11EC, SecP256r1MLKEM768 0x11EB, SecP384r1MLKEM1024 0x11ED),
  draft-ietf-tls-mlkem (MLKEM512/768/1024, 0x0200–0x0202), draft-tls-westerbaan-xyber768d00
  (X25519Kyber768Draft00, 0x6399, obsolete) and draft-ietf-tls-mldsa (ML-DSA signature schemes 0x0904–0x0906).
"""

from __future__ import annotations

import os
import re
import socket
import struct
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

# --------------------------------------------------------------------------------------------------
# Registries (IANA TLS parameters)
# --------------------------------------------------------------------------------------------------

GroupKind = Literal["ecdhe", "ffdhe", "mlkem", "hybrid", "kyber-draft"]


@dataclass(frozen=True)
class Group:
    """One entry of the IANA TLS Supported Groups registry (RFC 8446 §4.2.7)."""

    code: int
    name: str
    """The IANA description (``X25519MLKEM768``); X25519/X448 capitalised as in the brief and the findings."""
    kind: GroupKind
    parameter: str
    """``P-256``, ``Curve25519``, ``2048`` (ffdhe), ``768`` (ML-KEM)..."""
    post_quantum: bool
    hybrid: bool
    tls13: bool = True
    """Usable in TLS 1.3 (the brainpool curves 26–28 and nothing else are TLS 1.2 only)."""
    tls12: bool = False
    """Usable for TLS 1.2 ECDHE (RFC 8422 named curves)."""
    components: tuple[str, ...] = ()
    reference: str = ""
    status: str = "current"


GROUPS: tuple[Group, ...] = (
    # Post-quantum first: the hybrids (draft-ietf-tls-ecdhe-mlkem), then pure ML-KEM (draft-ietf-tls-mlkem).
    Group(0x11EC, "X25519MLKEM768", "hybrid", "768", True, True, components=("ML-KEM-768", "X25519"),
          reference="draft-ietf-tls-ecdhe-mlkem"),
    Group(0x11EB, "SecP256r1MLKEM768", "hybrid", "768", True, True, components=("P-256", "ML-KEM-768"),
          reference="draft-ietf-tls-ecdhe-mlkem"),
    Group(0x11ED, "SecP384r1MLKEM1024", "hybrid", "1024", True, True, components=("P-384", "ML-KEM-1024"),
          reference="draft-ietf-tls-ecdhe-mlkem"),
    Group(0x0200, "MLKEM512", "mlkem", "512", True, False, components=("ML-KEM-512",),
          reference="draft-ietf-tls-mlkem"),
    Group(0x0201, "MLKEM768", "mlkem", "768", True, False, components=("ML-KEM-768",),
          reference="draft-ietf-tls-mlkem"),
    Group(0x0202, "MLKEM1024", "mlkem", "1024", True, False, components=("ML-KEM-1024",),
          reference="draft-ietf-tls-mlkem"),
    Group(0x6399, "X25519Kyber768Draft00", "kyber-draft", "768", True, True, components=("X25519", "Kyber768"),
          reference="draft-tls-westerbaan-xyber768d00", status="obsolete (pre-standard Kyber draft)"),
    # Classical elliptic curves (RFC 8422, RFC 7748, RFC 8446) and finite-field groups (RFC 7919).
    Group(29, "X25519", "ecdhe", "Curve25519", False, False, tls12=True, components=("X25519",),
          reference="RFC 8422, RFC 7748"),
    Group(23, "secp256r1", "ecdhe", "P-256", False, False, tls12=True, components=("P-256",), reference="RFC 8422"),
    Group(24, "secp384r1", "ecdhe", "P-384", False, False, tls12=True, components=("P-384",), reference="RFC 8422"),
    Group(25, "secp521r1", "ecdhe", "P-521", False, False, tls12=True, components=("P-521",), reference="RFC 8422"),
    Group(30, "X448", "ecdhe", "Curve448", False, False, tls12=True, components=("X448",),
          reference="RFC 8422, RFC 7748"),
    Group(31, "brainpoolP256r1tls13", "ecdhe", "brainpoolP256r1", False, False, components=("brainpoolP256r1",),
          reference="RFC 8734"),
    Group(32, "brainpoolP384r1tls13", "ecdhe", "brainpoolP384r1", False, False, components=("brainpoolP384r1",),
          reference="RFC 8734"),
    Group(33, "brainpoolP512r1tls13", "ecdhe", "brainpoolP512r1", False, False, components=("brainpoolP512r1",),
          reference="RFC 8734"),
    Group(26, "brainpoolP256r1", "ecdhe", "brainpoolP256r1", False, False, tls13=False, tls12=True,
          components=("brainpoolP256r1",), reference="RFC 7027"),
    Group(27, "brainpoolP384r1", "ecdhe", "brainpoolP384r1", False, False, tls13=False, tls12=True,
          components=("brainpoolP384r1",), reference="RFC 7027"),
    Group(28, "brainpoolP512r1", "ecdhe", "brainpoolP512r1", False, False, tls13=False, tls12=True,
          components=("brainpoolP512r1",), reference="RFC 7027"),
    Group(256, "ffdhe2048", "ffdhe", "2048", False, False, components=("DH-2048",), reference="RFC 7919"),
    Group(257, "ffdhe3072", "ffdhe", "3072", False, False, components=("DH-3072",), reference="RFC 7919"),
    Group(258, "ffdhe4096", "ffdhe", "4096", False, False, components=("DH-4096",), reference="RFC 7919"),
    Group(259, "ffdhe6144", "ffdhe", "6144", False, False, components=("DH-6144",), reference="RFC 7919"),
    Group(260, "ffdhe8192", "ffdhe", "8192", False, False, components=("DH-8192",), reference="RFC 7919"),
)
GROUP_BY_CODE: dict[int, Group] = {g.code: g for g in GROUPS}
GROUP_BY_NAME: dict[str, Group] = {g.name: g for g in GROUPS}
TLS13_GROUPS: tuple[int, ...] = tuple(g.code for g in GROUPS if g.tls13)
TLS12_CURVES: tuple[int, ...] = tuple(g.code for g in GROUPS if g.tls12)
POST_QUANTUM_GROUPS: tuple[int, ...] = tuple(g.code for g in GROUPS if g.post_quantum)


def group_name(code: int) -> str:
    """The IANA name of a group code point, or ``0x....`` when it is not in :data:`GROUPS`."""
    g = GROUP_BY_CODE.get(code)
    return g.name if g else f"0x{code:04X}"


TLS13_SUITES: dict[int, str] = {
    0x1301: "TLS_AES_128_GCM_SHA256", 0x1302: "TLS_AES_256_GCM_SHA384", 0x1303: "TLS_CHACHA20_POLY1305_SHA256",
    0x1304: "TLS_AES_128_CCM_SHA256", 0x1305: "TLS_AES_128_CCM_8_SHA256",
}
"""The five TLS 1.3 cipher suites (RFC 8446 §B.4)."""

TLS12_SUITES: dict[int, str] = {
    0x0001: "TLS_RSA_WITH_NULL_MD5", 0x0002: "TLS_RSA_WITH_NULL_SHA", 0x0003: "TLS_RSA_EXPORT_WITH_RC4_40_MD5",
    0x0004: "TLS_RSA_WITH_RC4_128_MD5", 0x0005: "TLS_RSA_WITH_RC4_128_SHA",
    0x0006: "TLS_RSA_EXPORT_WITH_RC2_CBC_40_MD5", 0x0007: "TLS_RSA_WITH_IDEA_CBC_SHA",
    0x0008: "TLS_RSA_EXPORT_WITH_DES40_CBC_SHA", 0x0009: "TLS_RSA_WITH_DES_CBC_SHA",
    0x000A: "TLS_RSA_WITH_3DES_EDE_CBC_SHA", 0x0011: "TLS_DHE_DSS_EXPORT_WITH_DES40_CBC_SHA",
    0x0012: "TLS_DHE_DSS_WITH_DES_CBC_SHA", 0x0013: "TLS_DHE_DSS_WITH_3DES_EDE_CBC_SHA",
    0x0014: "TLS_DHE_RSA_EXPORT_WITH_DES40_CBC_SHA", 0x0015: "TLS_DHE_RSA_WITH_DES_CBC_SHA",
    0x0016: "TLS_DHE_RSA_WITH_3DES_EDE_CBC_SHA", 0x0017: "TLS_DH_anon_EXPORT_WITH_RC4_40_MD5",
    0x0018: "TLS_DH_anon_WITH_RC4_128_MD5", 0x0019: "TLS_DH_anon_EXPORT_WITH_DES40_CBC_SHA",
    0x001A: "TLS_DH_anon_WITH_DES_CBC_SHA", 0x001B: "TLS_DH_anon_WITH_3DES_EDE_CBC_SHA",
    0x002C: "TLS_PSK_WITH_NULL_SHA", 0x002D: "TLS_DHE_PSK_WITH_NULL_SHA", 0x002E: "TLS_RSA_PSK_WITH_NULL_SHA",
    0x002F: "TLS_RSA_WITH_AES_128_CBC_SHA", 0x0030: "TLS_DH_DSS_WITH_AES_128_CBC_SHA",
    0x0031: "TLS_DH_RSA_WITH_AES_128_CBC_SHA", 0x0032: "TLS_DHE_DSS_WITH_AES_128_CBC_SHA",
    0x0033: "TLS_DHE_RSA_WITH_AES_128_CBC_SHA", 0x0034: "TLS_DH_anon_WITH_AES_128_CBC_SHA",
    0x0035: "TLS_RSA_WITH_AES_256_CBC_SHA", 0x0036: "TLS_DH_DSS_WITH_AES_256_CBC_SHA",
    0x0037: "TLS_DH_RSA_WITH_AES_256_CBC_SHA", 0x0038: "TLS_DHE_DSS_WITH_AES_256_CBC_SHA",
    0x0039: "TLS_DHE_RSA_WITH_AES_256_CBC_SHA", 0x003A: "TLS_DH_anon_WITH_AES_256_CBC_SHA",
    0x003B: "TLS_RSA_WITH_NULL_SHA256", 0x003C: "TLS_RSA_WITH_AES_128_CBC_SHA256",
    0x003D: "TLS_RSA_WITH_AES_256_CBC_SHA256", 0x003E: "TLS_DH_DSS_WITH_AES_128_CBC_SHA256",
    0x003F: "TLS_DH_RSA_WITH_AES_128_CBC_SHA256", 0x0040: "TLS_DHE_DSS_WITH_AES_128_CBC_SHA256",
    0x0041: "TLS_RSA_WITH_CAMELLIA_128_CBC_SHA", 0x0044: "TLS_DHE_DSS_WITH_CAMELLIA_128_CBC_SHA",
    0x0045: "TLS_DHE_RSA_WITH_CAMELLIA_128_CBC_SHA", 0x0046: "TLS_DH_anon_WITH_CAMELLIA_128_CBC_SHA",
    0x0067: "TLS_DHE_RSA_WITH_AES_128_CBC_SHA256", 0x0068: "TLS_DH_DSS_WITH_AES_256_CBC_SHA256",
    0x0069: "TLS_DH_RSA_WITH_AES_256_CBC_SHA256", 0x006A: "TLS_DHE_DSS_WITH_AES_256_CBC_SHA256",
    0x006B: "TLS_DHE_RSA_WITH_AES_256_CBC_SHA256", 0x006C: "TLS_DH_anon_WITH_AES_128_CBC_SHA256",
    0x006D: "TLS_DH_anon_WITH_AES_256_CBC_SHA256", 0x0084: "TLS_RSA_WITH_CAMELLIA_256_CBC_SHA",
    0x0087: "TLS_DHE_DSS_WITH_CAMELLIA_256_CBC_SHA", 0x0088: "TLS_DHE_RSA_WITH_CAMELLIA_256_CBC_SHA",
    0x0089: "TLS_DH_anon_WITH_CAMELLIA_256_CBC_SHA", 0x008A: "TLS_PSK_WITH_RC4_128_SHA",
    0x008B: "TLS_PSK_WITH_3DES_EDE_CBC_SHA", 0x008C: "TLS_PSK_WITH_AES_128_CBC_SHA",
    0x008D: "TLS_PSK_WITH_AES_256_CBC_SHA", 0x0090: "TLS_DHE_PSK_WITH_AES_128_CBC_SHA",
    0x0091: "TLS_DHE_PSK_WITH_AES_256_CBC_SHA", 0x0094: "TLS_RSA_PSK_WITH_AES_128_CBC_SHA",
    0x0095: "TLS_RSA_PSK_WITH_AES_256_CBC_SHA", 0x0096: "TLS_RSA_WITH_SEED_CBC_SHA",
    0x0099: "TLS_DHE_DSS_WITH_SEED_CBC_SHA", 0x009A: "TLS_DHE_RSA_WITH_SEED_CBC_SHA",
    0x009C: "TLS_RSA_WITH_AES_128_GCM_SHA256", 0x009D: "TLS_RSA_WITH_AES_256_GCM_SHA384",
    0x009E: "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256", 0x009F: "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384",
    0x00A0: "TLS_DH_RSA_WITH_AES_128_GCM_SHA256", 0x00A1: "TLS_DH_RSA_WITH_AES_256_GCM_SHA384",
    0x00A2: "TLS_DHE_DSS_WITH_AES_128_GCM_SHA256", 0x00A3: "TLS_DHE_DSS_WITH_AES_256_GCM_SHA384",
    0x00A4: "TLS_DH_DSS_WITH_AES_128_GCM_SHA256", 0x00A5: "TLS_DH_DSS_WITH_AES_256_GCM_SHA384",
    0x00A6: "TLS_DH_anon_WITH_AES_128_GCM_SHA256", 0x00A7: "TLS_DH_anon_WITH_AES_256_GCM_SHA384",
    0x00A8: "TLS_PSK_WITH_AES_128_GCM_SHA256", 0x00A9: "TLS_PSK_WITH_AES_256_GCM_SHA384",
    0x00AA: "TLS_DHE_PSK_WITH_AES_128_GCM_SHA256", 0x00AB: "TLS_DHE_PSK_WITH_AES_256_GCM_SHA384",
    0x00AC: "TLS_RSA_PSK_WITH_AES_128_GCM_SHA256", 0x00AD: "TLS_RSA_PSK_WITH_AES_256_GCM_SHA384",
    0x00AE: "TLS_PSK_WITH_AES_128_CBC_SHA256", 0x00AF: "TLS_PSK_WITH_AES_256_CBC_SHA384",
    0x00B0: "TLS_PSK_WITH_NULL_SHA256", 0x00B1: "TLS_PSK_WITH_NULL_SHA384",
    0x00B2: "TLS_DHE_PSK_WITH_AES_128_CBC_SHA256", 0x00B3: "TLS_DHE_PSK_WITH_AES_256_CBC_SHA384",
    0x00B4: "TLS_DHE_PSK_WITH_NULL_SHA256", 0x00B5: "TLS_DHE_PSK_WITH_NULL_SHA384",
    0x00B6: "TLS_RSA_PSK_WITH_AES_128_CBC_SHA256", 0x00B7: "TLS_RSA_PSK_WITH_AES_256_CBC_SHA384",
    0x00B8: "TLS_RSA_PSK_WITH_NULL_SHA256", 0x00B9: "TLS_RSA_PSK_WITH_NULL_SHA384",
    0x00BA: "TLS_RSA_WITH_CAMELLIA_128_CBC_SHA256", 0x00BD: "TLS_DHE_DSS_WITH_CAMELLIA_128_CBC_SHA256",
    0x00BE: "TLS_DHE_RSA_WITH_CAMELLIA_128_CBC_SHA256", 0x00BF: "TLS_DH_anon_WITH_CAMELLIA_128_CBC_SHA256",
    0x00C0: "TLS_RSA_WITH_CAMELLIA_256_CBC_SHA256", 0x00C3: "TLS_DHE_DSS_WITH_CAMELLIA_256_CBC_SHA256",
    0x00C4: "TLS_DHE_RSA_WITH_CAMELLIA_256_CBC_SHA256", 0x00C5: "TLS_DH_anon_WITH_CAMELLIA_256_CBC_SHA256",
    0xC001: "TLS_ECDH_ECDSA_WITH_NULL_SHA", 0xC002: "TLS_ECDH_ECDSA_WITH_RC4_128_SHA",
    0xC003: "TLS_ECDH_ECDSA_WITH_3DES_EDE_CBC_SHA", 0xC004: "TLS_ECDH_ECDSA_WITH_AES_128_CBC_SHA",
    0xC005: "TLS_ECDH_ECDSA_WITH_AES_256_CBC_SHA", 0xC006: "TLS_ECDHE_ECDSA_WITH_NULL_SHA",
    0xC007: "TLS_ECDHE_ECDSA_WITH_RC4_128_SHA", 0xC008: "TLS_ECDHE_ECDSA_WITH_3DES_EDE_CBC_SHA",
    0xC009: "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", 0xC00A: "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
    0xC00B: "TLS_ECDH_RSA_WITH_NULL_SHA", 0xC00C: "TLS_ECDH_RSA_WITH_RC4_128_SHA",
    0xC00D: "TLS_ECDH_RSA_WITH_3DES_EDE_CBC_SHA", 0xC00E: "TLS_ECDH_RSA_WITH_AES_128_CBC_SHA",
    0xC00F: "TLS_ECDH_RSA_WITH_AES_256_CBC_SHA", 0xC010: "TLS_ECDHE_RSA_WITH_NULL_SHA",
    0xC011: "TLS_ECDHE_RSA_WITH_RC4_128_SHA", 0xC012: "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA",
    0xC013: "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", 0xC014: "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
    0xC015: "TLS_ECDH_anon_WITH_NULL_SHA", 0xC016: "TLS_ECDH_anon_WITH_RC4_128_SHA",
    0xC017: "TLS_ECDH_anon_WITH_3DES_EDE_CBC_SHA", 0xC018: "TLS_ECDH_anon_WITH_AES_128_CBC_SHA",
    0xC019: "TLS_ECDH_anon_WITH_AES_256_CBC_SHA", 0xC01D: "TLS_SRP_SHA_WITH_AES_128_CBC_SHA",
    0xC01E: "TLS_SRP_SHA_RSA_WITH_AES_128_CBC_SHA", 0xC01F: "TLS_SRP_SHA_DSS_WITH_AES_128_CBC_SHA",
    0xC020: "TLS_SRP_SHA_WITH_AES_256_CBC_SHA", 0xC021: "TLS_SRP_SHA_RSA_WITH_AES_256_CBC_SHA",
    0xC022: "TLS_SRP_SHA_DSS_WITH_AES_256_CBC_SHA", 0xC023: "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256",
    0xC024: "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384", 0xC025: "TLS_ECDH_ECDSA_WITH_AES_128_CBC_SHA256",
    0xC026: "TLS_ECDH_ECDSA_WITH_AES_256_CBC_SHA384", 0xC027: "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256",
    0xC028: "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384", 0xC029: "TLS_ECDH_RSA_WITH_AES_128_CBC_SHA256",
    0xC02A: "TLS_ECDH_RSA_WITH_AES_256_CBC_SHA384", 0xC02B: "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    0xC02C: "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", 0xC02D: "TLS_ECDH_ECDSA_WITH_AES_128_GCM_SHA256",
    0xC02E: "TLS_ECDH_ECDSA_WITH_AES_256_GCM_SHA384", 0xC02F: "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    0xC030: "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", 0xC031: "TLS_ECDH_RSA_WITH_AES_128_GCM_SHA256",
    0xC032: "TLS_ECDH_RSA_WITH_AES_256_GCM_SHA384", 0xC035: "TLS_ECDHE_PSK_WITH_AES_128_CBC_SHA",
    0xC036: "TLS_ECDHE_PSK_WITH_AES_256_CBC_SHA", 0xC037: "TLS_ECDHE_PSK_WITH_AES_128_CBC_SHA256",
    0xC038: "TLS_ECDHE_PSK_WITH_AES_256_CBC_SHA384", 0xC039: "TLS_ECDHE_PSK_WITH_NULL_SHA",
    0xC03A: "TLS_ECDHE_PSK_WITH_NULL_SHA256", 0xC03B: "TLS_ECDHE_PSK_WITH_NULL_SHA384",
    0xC03C: "TLS_RSA_WITH_ARIA_128_CBC_SHA256", 0xC03D: "TLS_RSA_WITH_ARIA_256_CBC_SHA384",
    0xC044: "TLS_DHE_RSA_WITH_ARIA_128_CBC_SHA256", 0xC045: "TLS_DHE_RSA_WITH_ARIA_256_CBC_SHA384",
    0xC048: "TLS_ECDHE_ECDSA_WITH_ARIA_128_CBC_SHA256", 0xC049: "TLS_ECDHE_ECDSA_WITH_ARIA_256_CBC_SHA384",
    0xC04C: "TLS_ECDHE_RSA_WITH_ARIA_128_CBC_SHA256", 0xC04D: "TLS_ECDHE_RSA_WITH_ARIA_256_CBC_SHA384",
    0xC050: "TLS_RSA_WITH_ARIA_128_GCM_SHA256", 0xC051: "TLS_RSA_WITH_ARIA_256_GCM_SHA384",
    0xC052: "TLS_DHE_RSA_WITH_ARIA_128_GCM_SHA256", 0xC053: "TLS_DHE_RSA_WITH_ARIA_256_GCM_SHA384",
    0xC056: "TLS_DHE_DSS_WITH_ARIA_128_GCM_SHA256", 0xC057: "TLS_DHE_DSS_WITH_ARIA_256_GCM_SHA384",
    0xC05C: "TLS_ECDHE_ECDSA_WITH_ARIA_128_GCM_SHA256", 0xC05D: "TLS_ECDHE_ECDSA_WITH_ARIA_256_GCM_SHA384",
    0xC060: "TLS_ECDHE_RSA_WITH_ARIA_128_GCM_SHA256", 0xC061: "TLS_ECDHE_RSA_WITH_ARIA_256_GCM_SHA384",
    0xC06A: "TLS_PSK_WITH_ARIA_128_GCM_SHA256", 0xC06B: "TLS_PSK_WITH_ARIA_256_GCM_SHA384",
    0xC06C: "TLS_DHE_PSK_WITH_ARIA_128_GCM_SHA256", 0xC06D: "TLS_DHE_PSK_WITH_ARIA_256_GCM_SHA384",
    0xC06E: "TLS_RSA_PSK_WITH_ARIA_128_GCM_SHA256", 0xC06F: "TLS_RSA_PSK_WITH_ARIA_256_GCM_SHA384",
    0xC072: "TLS_ECDHE_ECDSA_WITH_CAMELLIA_128_CBC_SHA256", 0xC073: "TLS_ECDHE_ECDSA_WITH_CAMELLIA_256_CBC_SHA384",
    0xC076: "TLS_ECDHE_RSA_WITH_CAMELLIA_128_CBC_SHA256", 0xC077: "TLS_ECDHE_RSA_WITH_CAMELLIA_256_CBC_SHA384",
    0xC07A: "TLS_RSA_WITH_CAMELLIA_128_GCM_SHA256", 0xC07B: "TLS_RSA_WITH_CAMELLIA_256_GCM_SHA384",
    0xC07C: "TLS_DHE_RSA_WITH_CAMELLIA_128_GCM_SHA256", 0xC07D: "TLS_DHE_RSA_WITH_CAMELLIA_256_GCM_SHA384",
    0xC086: "TLS_ECDHE_ECDSA_WITH_CAMELLIA_128_GCM_SHA256", 0xC087: "TLS_ECDHE_ECDSA_WITH_CAMELLIA_256_GCM_SHA384",
    0xC08A: "TLS_ECDHE_RSA_WITH_CAMELLIA_128_GCM_SHA256", 0xC08B: "TLS_ECDHE_RSA_WITH_CAMELLIA_256_GCM_SHA384",
    0xC094: "TLS_PSK_WITH_CAMELLIA_128_CBC_SHA256", 0xC095: "TLS_PSK_WITH_CAMELLIA_256_CBC_SHA384",
    0xC096: "TLS_DHE_PSK_WITH_CAMELLIA_128_CBC_SHA256", 0xC097: "TLS_DHE_PSK_WITH_CAMELLIA_256_CBC_SHA384",
    0xC098: "TLS_RSA_PSK_WITH_CAMELLIA_128_CBC_SHA256", 0xC099: "TLS_RSA_PSK_WITH_CAMELLIA_256_CBC_SHA384",
    0xC09A: "TLS_ECDHE_PSK_WITH_CAMELLIA_128_CBC_SHA256", 0xC09B: "TLS_ECDHE_PSK_WITH_CAMELLIA_256_CBC_SHA384",
    0xC09C: "TLS_RSA_WITH_AES_128_CCM", 0xC09D: "TLS_RSA_WITH_AES_256_CCM", 0xC09E: "TLS_DHE_RSA_WITH_AES_128_CCM",
    0xC09F: "TLS_DHE_RSA_WITH_AES_256_CCM", 0xC0A0: "TLS_RSA_WITH_AES_128_CCM_8",
    0xC0A1: "TLS_RSA_WITH_AES_256_CCM_8", 0xC0A2: "TLS_DHE_RSA_WITH_AES_128_CCM_8",
    0xC0A3: "TLS_DHE_RSA_WITH_AES_256_CCM_8", 0xC0A4: "TLS_PSK_WITH_AES_128_CCM", 0xC0A5: "TLS_PSK_WITH_AES_256_CCM",
    0xC0A6: "TLS_DHE_PSK_WITH_AES_128_CCM", 0xC0A7: "TLS_DHE_PSK_WITH_AES_256_CCM",
    0xC0A8: "TLS_PSK_WITH_AES_128_CCM_8", 0xC0A9: "TLS_PSK_WITH_AES_256_CCM_8",
    0xC0AA: "TLS_PSK_DHE_WITH_AES_128_CCM_8", 0xC0AB: "TLS_PSK_DHE_WITH_AES_256_CCM_8",
    0xC0AC: "TLS_ECDHE_ECDSA_WITH_AES_128_CCM", 0xC0AD: "TLS_ECDHE_ECDSA_WITH_AES_256_CCM",
    0xC0AE: "TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8", 0xC0AF: "TLS_ECDHE_ECDSA_WITH_AES_256_CCM_8",
    0xCCA8: "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256", 0xCCA9: "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
    0xCCAA: "TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256", 0xCCAB: "TLS_PSK_WITH_CHACHA20_POLY1305_SHA256",
    0xCCAC: "TLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256", 0xCCAD: "TLS_DHE_PSK_WITH_CHACHA20_POLY1305_SHA256",
    0xCCAE: "TLS_RSA_PSK_WITH_CHACHA20_POLY1305_SHA256",
}
"""IANA names of the TLS 1.0–1.2 cipher suites this module can name (RFC 5246 Appendix A.5, RFC 8422, RFC 7905,
RFC 6655/7251, RFC 6209, RFC 6367 and the IANA TLS Cipher Suites registry). PSK and SRP suites are named but
not offered: a server only picks them with a pre-shared key or SRP verifier configured."""

SCSV_RENEGOTIATION = 0x00FF
"""TLS_EMPTY_RENEGOTIATION_INFO_SCSV (RFC 5746 §3.3), sent in every TLS ≤ 1.2 probe."""


def suite_name(code: int) -> str:
    """The IANA name of a cipher suite code point, or ``0x....`` when unknown."""
    return TLS13_SUITES.get(code) or TLS12_SUITES.get(code) or f"0x{code:04X}"


@dataclass(frozen=True)
class SuiteInfo:
    """A cipher suite name split into its parts (``TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256``)."""

    name: str
    key_exchange: str
    """``ECDHE``, ``DHE``, ``RSA`` (key transport), ``ECDH``/``DH`` (static), ``PSK``... or ``any`` (TLS 1.3)."""
    authentication: str
    """``RSA``, ``ECDSA``, ``DSS``, ``anon``, ``PSK``... or ``any`` (TLS 1.3: from the certificate)."""
    cipher: str
    """Canonical name: ``AES``, ``ChaCha20-Poly1305``, ``3DES``, ``RC4``, ``Camellia``, ``ARIA``, ``NULL``..."""
    bits: str
    mode: str
    """``GCM``, ``CBC``, ``CCM``, ``CCM_8``, ``AEAD`` (ChaCha20-Poly1305), ``stream`` (RC4) or empty."""
    mac: str
    """``SHA-256``, ``SHA-384``, ``SHA-1``, ``MD5`` (the HMAC or PRF hash), empty for CCM in TLS 1.2."""
    export: bool = False


_CIPHERS: tuple[tuple[re.Pattern[str], str, str, str], ...] = (
    # pattern over the part after _WITH_ (MAC removed) -> (canonical cipher, bits, mode)
    (re.compile(r"AES_(128|256)_(GCM|CBC|CCM_8|CCM)"), "AES", r"\1", r"\2"),
    (re.compile(r"CAMELLIA_(128|256)_(GCM|CBC)"), "Camellia", r"\1", r"\2"),
    (re.compile(r"ARIA_(128|256)_(GCM|CBC)"), "ARIA", r"\1", r"\2"),
    (re.compile(r"CHACHA20_POLY1305"), "ChaCha20-Poly1305", "256", "AEAD"),
    (re.compile(r"3DES_EDE_CBC"), "3DES", "168", "CBC"),
    (re.compile(r"DES40_CBC"), "DES", "40", "CBC"),
    (re.compile(r"DES_CBC"), "DES", "56", "CBC"),
    (re.compile(r"RC4_(128|40)"), "RC4", r"\1", "stream"),
    (re.compile(r"RC2_CBC_40"), "RC2", "40", "CBC"),
    (re.compile(r"IDEA_CBC"), "IDEA", "128", "CBC"),
    (re.compile(r"SEED_CBC"), "SEED", "128", "CBC"),
    (re.compile(r"SM4_(GCM|CCM)"), "SM4", "128", r"\1"),
    (re.compile(r"NULL"), "NULL", "0", ""),
)
_MACS = {"SHA": "SHA-1", "SHA256": "SHA-256", "SHA384": "SHA-384", "MD5": "MD5"}


def parse_suite_name(name: str) -> SuiteInfo:
    """Split an IANA cipher suite name into key exchange, authentication, cipher, key bits, mode and hash."""
    body = name.removeprefix("TLS_")
    export = "_EXPORT_" in body
    if "_WITH_" in body:
        kxauth, rest = body.split("_WITH_", 1)
        kxauth = kxauth.replace("_EXPORT", "")
        parts = kxauth.split("_")
        if parts[0] == "SRP":
            kx, auth = "SRP", parts[2] if len(parts) > 2 else "SRP"
        elif len(parts) == 1:
            kx, auth = parts[0], ("PSK" if parts[0] == "PSK" else "RSA")
        elif parts[-1] == "anon":
            kx, auth = parts[0], "anon"
        elif parts == ["PSK", "DHE"]:  # TLS_PSK_DHE_WITH_AES_128_CCM_8 (RFC 6655 naming)
            kx, auth = "DHE", "PSK"
        else:
            kx, auth = parts[0], parts[1]
    else:  # TLS 1.3: the suite fixes only the AEAD and the HKDF hash
        kx, auth, rest = "any", "any", body
    m = re.fullmatch(r"(.+?)(?:_(SHA|SHA256|SHA384|MD5))?", rest)
    cipher_part, mac = (m.group(1), m.group(2) or "") if m else (rest, "")
    for pattern, canonical, bits, mode in _CIPHERS:
        cm = pattern.fullmatch(cipher_part)
        if cm:
            return SuiteInfo(name, kx, auth, canonical, cm.expand(bits), cm.expand(mode), _MACS.get(mac, mac), export)
    return SuiteInfo(name, kx, auth, cipher_part, "", "", _MACS.get(mac, mac), export)


def _offer_rank(code: int) -> tuple[int, int, int, int, int]:
    info = parse_suite_name(TLS12_SUITES[code])
    kx_rank = {"ECDHE": 0, "DHE": 1, "RSA": 2, "ECDH": 3, "DH": 4}.get(info.key_exchange, 5)
    aead = 0 if info.mode in ("GCM", "AEAD", "CCM") else 1
    cipher_rank = {"AES": 0, "ChaCha20-Poly1305": 0, "Camellia": 1, "ARIA": 1}.get(info.cipher, 2)
    return (kx_rank, aead, cipher_rank, -int(info.bits or 0), code)


OFFERED_TLS12_SUITES: tuple[int, ...] = tuple(sorted(
    (c for c, n in TLS12_SUITES.items() if "PSK" not in n and "SRP" not in n), key=_offer_rank))
"""The TLS ≤ 1.2 suites offered by the probes: strongest first (ECDHE, DHE, RSA, static DH; AEAD first)."""

SIGNATURE_SCHEMES: dict[int, str] = {
    0x0904: "mldsa44", 0x0905: "mldsa65", 0x0906: "mldsa87",
    0x0403: "ecdsa_secp256r1_sha256", 0x0503: "ecdsa_secp384r1_sha384", 0x0603: "ecdsa_secp521r1_sha512",
    0x0807: "ed25519", 0x0808: "ed448",
    0x081A: "ecdsa_brainpoolP256r1tls13_sha256", 0x081B: "ecdsa_brainpoolP384r1tls13_sha384",
    0x081C: "ecdsa_brainpoolP512r1tls13_sha512",
    0x0804: "rsa_pss_rsae_sha256", 0x0805: "rsa_pss_rsae_sha384", 0x0806: "rsa_pss_rsae_sha512",
    0x0809: "rsa_pss_pss_sha256", 0x080A: "rsa_pss_pss_sha384", 0x080B: "rsa_pss_pss_sha512",
    0x0401: "rsa_pkcs1_sha256", 0x0501: "rsa_pkcs1_sha384", 0x0601: "rsa_pkcs1_sha512",
    0x0303: "ecdsa_sha224", 0x0301: "rsa_pkcs1_sha224", 0x0302: "dsa_sha224",
    0x0402: "dsa_sha256", 0x0502: "dsa_sha384", 0x0602: "dsa_sha512",
    0x0203: "ecdsa_sha1", 0x0201: "rsa_pkcs1_sha1", 0x0202: "dsa_sha1",
}
"""IANA TLS SignatureScheme names (RFC 8446 §4.2.3; ML-DSA from draft-ietf-tls-mldsa). All are offered."""

VERSION_NAMES: dict[int, str] = {0x0300: "SSL 3.0", 0x0301: "1.0", 0x0302: "1.1", 0x0303: "1.2", 0x0304: "1.3"}
TLS13, TLS12, TLS11, TLS10 = 0x0304, 0x0303, 0x0302, 0x0301

ALERT_NAMES: dict[int, str] = {
    0: "close_notify", 10: "unexpected_message", 20: "bad_record_mac", 22: "record_overflow",
    40: "handshake_failure", 42: "bad_certificate", 43: "unsupported_certificate", 44: "certificate_revoked",
    45: "certificate_expired", 46: "certificate_unknown", 47: "illegal_parameter", 48: "unknown_ca",
    49: "access_denied", 50: "decode_error", 51: "decrypt_error", 70: "protocol_version",
    71: "insufficient_security", 80: "internal_error", 86: "inappropriate_fallback", 90: "user_canceled",
    109: "missing_extension", 110: "unsupported_extension", 112: "unrecognized_name",
    113: "bad_certificate_status_response", 115: "unknown_psk_identity", 116: "certificate_required",
    120: "no_application_protocol",
}

HRR_RANDOM = bytes.fromhex("CF21AD74E59A6111BE1D8C021E65B891C2A211167ABB8C5E079E09E2C8A8339C")
"""SHA-256("HelloRetryRequest"): the ServerHello.random of a HelloRetryRequest (RFC 8446 §4.1.3)."""
_DOWNGRADE_TLS12 = b"DOWNGRD\x01"
_DOWNGRADE_TLS11 = b"DOWNGRD\x00"

# Extension code points (IANA TLS ExtensionType Values).
EXT_SERVER_NAME = 0
EXT_SUPPORTED_GROUPS = 10
EXT_EC_POINT_FORMATS = 11
EXT_SIGNATURE_ALGORITHMS = 13
EXT_PADDING = 21
EXT_EXTENDED_MASTER_SECRET = 23
EXT_SUPPORTED_VERSIONS = 43
EXT_COOKIE = 44
EXT_KEY_SHARE = 51

# Handshake message types (RFC 8446 §4, RFC 5246 §7.4).
HS_CLIENT_HELLO = 1
HS_SERVER_HELLO = 2
HS_ENCRYPTED_EXTENSIONS = 8
HS_CERTIFICATE = 11
HS_SERVER_KEY_EXCHANGE = 12
HS_CERTIFICATE_REQUEST = 13
HS_SERVER_HELLO_DONE = 14
HS_CERTIFICATE_VERIFY = 15
HS_FINISHED = 20

CT_CHANGE_CIPHER_SPEC = 20
CT_ALERT = 21
CT_HANDSHAKE = 22
CT_APPLICATION_DATA = 23

MAX_RECORD_PAYLOAD = 2**14 + 2048
"""The largest record payload accepted (RFC 5246 §6.2.3: TLSCiphertext.length ≤ 2^14 + 2048)."""
MAX_HANDSHAKE_MESSAGE = 256 * 1024
"""The largest handshake message accepted (a Certificate with an SLH-DSA chain stays far below)."""
MAX_BYTES_PER_CONNECTION = 512 * 1024
MAX_CERTIFICATES = 32

# --------------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------------

ProblemKind = Literal["malformed", "alert", "closed", "timeout", "not-tls", "connect", "starttls"]


class TLSProbeError(Exception):
    """A probe did not yield a ServerHello; ``kind`` says why (for the ``problems`` of a scan)."""

    kind: ProblemKind = "malformed"


class TLSDecodeError(TLSProbeError):
    """A length or value in the peer's bytes is inconsistent (the message is not what it claims)."""

    kind: ProblemKind = "malformed"


class AlertReceived(TLSProbeError):
    """The peer answered with an alert record (RFC 8446 §6, RFC 5246 §7.2)."""

    kind: ProblemKind = "alert"

    def __init__(self, level: int, description: int) -> None:
        self.level, self.description = level, description
        self.name = ALERT_NAMES.get(description, f"alert {description}")
        super().__init__(f"alert {self.name} ({description}, level {level})")


class PeerClosed(TLSProbeError):
    """The peer closed (or reset) the connection before a complete answer."""

    kind: ProblemKind = "closed"

    def __init__(self, received: int, reset: bool = False) -> None:
        self.received, self.reset = received, reset
        how = "reset" if reset else "closed"
        super().__init__(f"connection {how} by the peer after {received} bytes")


class ProbeTimeout(TLSProbeError):
    kind: ProblemKind = "timeout"


class NotTLS(TLSProbeError):
    """The first bytes are not a TLS record header."""

    kind: ProblemKind = "not-tls"


class ConnectFailed(TLSProbeError):
    kind: ProblemKind = "connect"


# --------------------------------------------------------------------------------------------------
# Encoding
# --------------------------------------------------------------------------------------------------


def _vec(data: bytes, length_bytes: int) -> bytes:
    n = len(data)
    if n >= 1 << (8 * length_bytes):
        raise ValueError(f"vector of {n} bytes does not fit a {length_bytes}-byte length")
    return n.to_bytes(length_bytes, "big") + data


def _ext(code: int, data: bytes) -> bytes:
    return struct.pack("!H", code) + _vec(data, 2)


def _u16s(values: Iterable[int]) -> bytes:
    vals = list(values)
    return struct.pack(f"!{len(vals)}H", *vals)


def encode_sni(name: str) -> bytes:
    """The ``server_name`` extension body (RFC 6066 §3): one ``host_name`` entry, IDNA-encoded."""
    host = name.rstrip(".").encode("idna")
    if not host or len(host) > 255:
        raise ValueError(f"invalid SNI host name {name!r}")
    return _vec(b"\x00" + _vec(host, 2), 2)


def client_hello_body(*, versions: Sequence[int], suites: Sequence[int], groups: Sequence[int] = (),
                      key_shares: Sequence[tuple[int, bytes]] = (), sni: str | None = None,
                      random: bytes | None = None, session_id: bytes | None = None,
                      signature_schemes: Sequence[int] | None = None) -> bytes:
    """The ClientHello handshake message (type, 3-byte length, body) — RFC 8446 §4.1.2 / RFC 5246 §7.4.1.2.

    ``versions`` lists the offered versions; when it contains TLS 1.3 the ``supported_versions`` and ``key_share``
    extensions are sent (``key_shares`` may be empty: RFC 8446 §4.2.8 allows an empty ``client_shares`` to ask
    for a HelloRetryRequest). When only TLS ≤ 1.2 is offered, ``legacy_version`` carries that version, the
    renegotiation SCSV is added, and ``signature_algorithms`` is left out below TLS 1.2 (RFC 5246 §7.4.1.4.1).
    """
    if not versions or not suites:
        raise ValueError("a ClientHello needs at least one version and one cipher suite")
    top = max(versions)
    legacy_version = min(top, TLS12)
    random = os.urandom(32) if random is None else random
    session_id = os.urandom(32) if session_id is None else session_id
    if len(random) != 32 or len(session_id) > 32:
        raise ValueError("random must be 32 bytes and session_id at most 32")
    suite_list = list(suites)
    if min(versions) <= TLS12 and SCSV_RENEGOTIATION not in suite_list:
        suite_list.append(SCSV_RENEGOTIATION)
    exts = []
    if sni:
        exts.append(_ext(EXT_SERVER_NAME, encode_sni(sni)))
    if groups:
        exts.append(_ext(EXT_SUPPORTED_GROUPS, _vec(_u16s(groups), 2)))
    if min(versions) <= TLS12:
        exts.append(_ext(EXT_EC_POINT_FORMATS, b"\x01\x00"))  # uncompressed only (RFC 8422 §5.1.2)
        exts.append(_ext(EXT_EXTENDED_MASTER_SECRET, b""))
    if top >= TLS12:
        schemes = SIGNATURE_SCHEMES.keys() if signature_schemes is None else signature_schemes
        exts.append(_ext(EXT_SIGNATURE_ALGORITHMS, _vec(_u16s(schemes), 2)))
    if top >= TLS13:
        exts.append(_ext(EXT_SUPPORTED_VERSIONS, _vec(_u16s(sorted(versions, reverse=True)), 1)))
        shares = b"".join(struct.pack("!H", g) + _vec(k, 2) for g, k in key_shares)
        exts.append(_ext(EXT_KEY_SHARE, _vec(shares, 2)))
    body = (struct.pack("!H", legacy_version) + random + _vec(session_id, 1) + _vec(_u16s(suite_list), 2)
            + b"\x01\x00")  # compression methods: null only
    ext_bytes = b"".join(exts)
    # RFC 7685 padding: keep the ClientHello out of the 256..511-byte range some middleboxes mishandle.
    size = 4 + len(body) + 2 + len(ext_bytes)
    if 256 <= size < 512:
        pad = max(512 - size - 4, 1)
        ext_bytes += _ext(EXT_PADDING, bytes(pad))
    body += _vec(ext_bytes, 2)
    return bytes([HS_CLIENT_HELLO]) + _vec(body, 3)


def records(content_type: int, payload: bytes, version: int = TLS10) -> bytes:
    """Wrap ``payload`` in plaintext records of at most 2^14 bytes (RFC 8446 §5.1; legacy version 0x0301)."""
    out = []
    for i in range(0, max(len(payload), 1), 2**14):
        chunk = payload[i:i + 2**14]
        out.append(struct.pack("!BHH", content_type, version, len(chunk)) + chunk)
    return b"".join(out)


# --------------------------------------------------------------------------------------------------
# Decoding
# --------------------------------------------------------------------------------------------------


class Buf:
    """A bounded cursor over bytes: every read checks that the bytes are there."""

    __slots__ = ("data", "end", "pos", "what")

    def __init__(self, data: bytes, what: str = "message") -> None:
        self.data, self.pos, self.end, self.what = data, 0, len(data), what

    def remaining(self) -> int:
        return self.end - self.pos

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > self.end:
            raise TLSDecodeError(f"{self.what}: truncated (need {n} bytes, {self.end - self.pos} left)")
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out

    def u8(self) -> int:
        return self.take(1)[0]

    def u16(self) -> int:
        return int.from_bytes(self.take(2), "big")

    def u24(self) -> int:
        return int.from_bytes(self.take(3), "big")

    def vec(self, length_bytes: int, minimum: int = 0, maximum: int | None = None) -> bytes:
        n = int.from_bytes(self.take(length_bytes), "big")
        if n < minimum or (maximum is not None and n > maximum):
            raise TLSDecodeError(f"{self.what}: vector length {n} outside {minimum}..{maximum}")
        return self.take(n)

    def done(self) -> None:
        if self.pos != self.end:
            raise TLSDecodeError(f"{self.what}: {self.end - self.pos} trailing bytes")


def parse_extensions(data: bytes, what: str) -> dict[int, bytes]:
    """An extensions block (without its 2-byte length); duplicates are an error (RFC 8446 §4.2)."""
    buf, out = Buf(data, what), {}
    while buf.remaining():
        code = buf.u16()
        body = buf.vec(2)
        if code in out:
            raise TLSDecodeError(f"{what}: extension {code} repeated")
        out[code] = body
    return out


@dataclass(frozen=True)
class ServerHello:
    """A parsed ServerHello or HelloRetryRequest (RFC 8446 §4.1.3–4.1.4; RFC 5246 §7.4.1.3)."""

    legacy_version: int
    random: bytes
    session_id: bytes
    cipher_suite: int
    compression: int
    extensions: dict[int, bytes] = field(default_factory=dict)
    raw: bytes = b""
    """The whole handshake message (header included), for a TLS 1.3 transcript."""

    @property
    def is_hrr(self) -> bool:
        return self.random == HRR_RANDOM

    @property
    def version(self) -> int:
        """The negotiated version: ``supported_versions`` when present (TLS 1.3), else ``legacy_version``."""
        sv = self.extensions.get(EXT_SUPPORTED_VERSIONS)
        if sv is not None:
            if len(sv) != 2:
                raise TLSDecodeError("ServerHello supported_versions: length is not 2")
            return int.from_bytes(sv, "big")
        return self.legacy_version

    @property
    def group(self) -> int | None:
        """The HRR ``selected_group`` or the ServerHello ``key_share`` group (RFC 8446 §4.2.8)."""
        ks = self.extensions.get(EXT_KEY_SHARE)
        if ks is None or len(ks) < 2:
            return None
        return int.from_bytes(ks[:2], "big")

    @property
    def key_exchange(self) -> bytes:
        """The server's ``key_exchange`` of a (non-HRR) TLS 1.3 ServerHello."""
        ks = self.extensions.get(EXT_KEY_SHARE)
        if ks is None or self.is_hrr:
            return b""
        buf = Buf(ks, "ServerHello key_share")
        buf.u16()
        key = buf.vec(2, 1)
        buf.done()
        return key

    @property
    def downgrade(self) -> str:
        """``1.2``/``1.1`` when a TLS 1.3 server set the RFC 8446 §4.1.3 downgrade sentinel (we offered less)."""
        tail = self.random[-8:]
        return "1.2" if tail == _DOWNGRADE_TLS12 else "1.1" if tail == _DOWNGRADE_TLS11 else ""


def parse_server_hello(body: bytes, raw: bytes = b"") -> ServerHello:
    """Parse the body of a ServerHello / HelloRetryRequest handshake message."""
    buf = Buf(body, "ServerHello")
    legacy_version = buf.u16()
    if legacy_version >> 8 != 3:
        raise TLSDecodeError(f"ServerHello: version 0x{legacy_version:04X} is not TLS")
    random = buf.take(32)
    session_id = buf.vec(1, 0, 32)
    suite = buf.u16()
    compression = buf.u8()
    exts: dict[int, bytes] = {}
    if buf.remaining():  # optional before TLS 1.3 (RFC 5246 §7.4.1.3)
        exts = parse_extensions(buf.vec(2), "ServerHello extensions")
    buf.done()
    sh = ServerHello(legacy_version, random, session_id, suite, compression, exts, raw)
    if sh.is_hrr and EXT_SUPPORTED_VERSIONS not in exts:
        raise TLSDecodeError("HelloRetryRequest without supported_versions (RFC 8446 §4.1.4)")
    ks = exts.get(EXT_KEY_SHARE)
    if ks is not None:
        if sh.is_hrr and len(ks) != 2:
            raise TLSDecodeError("HelloRetryRequest key_share: selected_group must be 2 bytes")
        if not sh.is_hrr:
            _ = sh.key_exchange  # validates the KeyShareEntry
    _ = sh.version
    return sh


def parse_certificate_tls12(body: bytes) -> list[bytes]:
    """TLS ≤ 1.2 Certificate (RFC 5246 §7.4.2): ``ASN.1Cert certificate_list<0..2^24-1>``, leaf first."""
    buf = Buf(body, "Certificate")
    lst = Buf(buf.vec(3), "Certificate list")
    buf.done()
    certs: list[bytes] = []
    while lst.remaining():
        certs.append(lst.vec(3, 1))
        if len(certs) > MAX_CERTIFICATES:
            raise TLSDecodeError(f"Certificate: more than {MAX_CERTIFICATES} certificates")
    return certs


def parse_certificate_tls13(body: bytes) -> list[bytes]:
    """TLS 1.3 Certificate (RFC 8446 §4.4.2): request context, then ``CertificateEntry`` items with extensions."""
    buf = Buf(body, "Certificate")
    buf.vec(1)
    lst = Buf(buf.vec(3), "Certificate list")
    buf.done()
    certs: list[bytes] = []
    while lst.remaining():
        certs.append(lst.vec(3, 1))
        lst.vec(2)
        if len(certs) > MAX_CERTIFICATES:
            raise TLSDecodeError(f"Certificate: more than {MAX_CERTIFICATES} certificates")
    return certs


@dataclass(frozen=True)
class KeyExchangeParams:
    """What a TLS ≤ 1.2 ServerKeyExchange says about the ephemeral key exchange (RFC 5246 §7.4.3, RFC 8422 §5.4)."""

    kind: Literal["ecdhe", "dhe"]
    group: int | None = None
    """The named curve (ECDHE)."""
    dh_bits: int = 0
    """The size of the DH prime p (DHE)."""
    signature_scheme: int | None = None
    """The SignatureAndHashAlgorithm (TLS 1.2 only)."""


def parse_server_key_exchange(body: bytes, key_exchange: str, version: int) -> KeyExchangeParams | None:
    """Parse an ECDHE or DHE ServerKeyExchange; ``None`` for other key exchanges."""
    buf = Buf(body, "ServerKeyExchange")
    params: KeyExchangeParams
    if key_exchange == "ECDHE" or (key_exchange == "ECDH" and buf.remaining() and body[0] == 3):
        curve_type = buf.u8()
        if curve_type != 3:
            raise TLSDecodeError(f"ServerKeyExchange: explicit curve parameters (curve_type {curve_type})")
        group = buf.u16()
        buf.vec(1, 1)
        params = KeyExchangeParams("ecdhe", group=group)
    elif key_exchange == "DHE" or (key_exchange == "DH" and buf.remaining()):
        p = buf.vec(2, 1)
        buf.vec(2, 1)
        buf.vec(2, 1)
        params = KeyExchangeParams("dhe", dh_bits=int.from_bytes(p, "big").bit_length())
    else:
        return None
    if buf.remaining() and version >= TLS12:
        scheme = buf.u16()
        buf.vec(2)
        buf.done()
        return KeyExchangeParams(params.kind, params.group, params.dh_bits, scheme)
    return params


# --------------------------------------------------------------------------------------------------
# Reading from a socket
# --------------------------------------------------------------------------------------------------


class RecordReader:
    """Reads TLS records from a socket with a deadline and a byte budget (RFC 8446 §5.1, RFC 5246 §6.2.1)."""

    def __init__(self, sock: socket.socket, deadline: float, max_bytes: int = MAX_BYTES_PER_CONNECTION) -> None:
        self.sock, self.deadline, self.max_bytes = sock, deadline, max_bytes
        self.buf = bytearray()
        self.received = 0
        self.records = 0

    def _fill(self, n: int) -> None:
        while len(self.buf) < n:
            left = self.deadline - time.monotonic()
            if left <= 0:
                raise ProbeTimeout(f"no complete answer within the timeout ({self.received} bytes received)")
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except TimeoutError:
                raise ProbeTimeout(f"no complete answer within the timeout ({self.received} bytes received)") from None
            except OSError:  # reset, aborted, unreachable...
                raise PeerClosed(self.received, reset=True) from None
            if not chunk:
                raise PeerClosed(self.received)
            self.received += len(chunk)
            if self.received > self.max_bytes:
                raise TLSDecodeError(f"the peer sent more than {self.max_bytes} bytes")
            self.buf += chunk

    def read_record(self) -> tuple[int, bytes]:
        """The next record as (content type, payload)."""
        self._fill(5)
        ctype, version, length = struct.unpack_from("!BHH", self.buf)
        if ctype not in (CT_CHANGE_CIPHER_SPEC, CT_ALERT, CT_HANDSHAKE, CT_APPLICATION_DATA) or version >> 8 != 3:
            head = bytes(self.buf[:16])
            if self.records == 0:
                raise NotTLS(f"not a TLS answer: first bytes {head.hex()} {_printable(head)}")
            raise TLSDecodeError(f"bad record header {head[:5].hex()}")
        if length > MAX_RECORD_PAYLOAD:
            raise TLSDecodeError(f"record of {length} bytes exceeds 2^14+2048")
        self._fill(5 + length)
        payload = bytes(self.buf[5:5 + length])
        del self.buf[:5 + length]
        self.records += 1
        return ctype, payload


def _printable(data: bytes) -> str:
    text = "".join(chr(b) if 32 <= b < 127 else "." for b in data)
    return f"({text!r})"


def parse_alert(payload: bytes) -> AlertReceived:
    """An alert record payload (level, description); a malformed one is reported as description -1."""
    if len(payload) != 2:
        return AlertReceived(payload[0] if payload else 2, -1)
    return AlertReceived(payload[0], payload[1])


class RecordSource(Protocol):
    def read_record(self) -> tuple[int, bytes]: ...


class HandshakeReader:
    """Reassembles handshake messages from records (messages may span or share records)."""

    def __init__(self, records: RecordSource) -> None:
        self.records = records
        self.buf = bytearray()

    def next_message(self) -> tuple[int, bytes, bytes]:
        """(type, body, raw message) of the next handshake message; an alert record raises
        :class:`AlertReceived`; TLS 1.3 compatibility ChangeCipherSpec records are skipped."""
        while True:
            if len(self.buf) >= 4:
                mtype = self.buf[0]
                length = int.from_bytes(self.buf[1:4], "big")
                if length > MAX_HANDSHAKE_MESSAGE:
                    raise TLSDecodeError(f"handshake message type {mtype} of {length} bytes is too large")
                if len(self.buf) >= 4 + length:
                    raw = bytes(self.buf[:4 + length])
                    del self.buf[:4 + length]
                    return mtype, raw[4:], raw
            ctype, payload = self.records.read_record()
            if ctype == CT_HANDSHAKE:
                if not payload:
                    raise TLSDecodeError("empty handshake record")
                self.buf += payload
            elif ctype == CT_ALERT:
                raise parse_alert(payload)
            elif ctype == CT_CHANGE_CIPHER_SPEC:
                continue
            else:
                raise TLSDecodeError(f"unexpected record type {ctype} before the handshake completed")
