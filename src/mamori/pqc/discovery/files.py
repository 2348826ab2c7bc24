"""File discovery: certificates, keys and keystores on disk, identified by content (never by name alone).

Formats and how they are read (no password is ever needed; nothing secret is reported):

* **PEM** (RFC 7468; RFC 1421 headers for legacy encrypted keys): every ``-----BEGIN <label>-----`` block in
  any text file, so bundles and PEM blocks embedded in other files are found. Labels ``CERTIFICATE``,
  ``X509 CERTIFICATE``, ``TRUSTED CERTIFICATE``, ``CERTIFICATE REQUEST`` (PKCS#10, RFC 2986), ``X509 CRL``,
  ``PRIVATE KEY`` (PKCS#8, RFC 5208 / RFC 5958), ``ENCRYPTED PRIVATE KEY`` (the PBES2 / PKCS#12-PBE cipher
  and KDF parameters are read from ``EncryptedPrivateKeyInfo`` without decrypting, RFC 8018), ``RSA/EC/DSA
  PRIVATE KEY`` (traditional; ``DEK-Info`` cipher reported when encrypted), ``PUBLIC KEY`` (SPKI, RFC 5280
  §4.1.2.7), ``RSA PUBLIC KEY``, ``PKCS7`` / ``CMS`` (RFC 2315 / RFC 5652: the certificates inside),
  ``DH PARAMETERS`` and ``OPENSSH PRIVATE KEY``.
* **DER**: a file whose outer SEQUENCE spans the file is classified by its ASN.1 shape (certificate, CSR,
  CRL, SPKI, PKCS#8, EncryptedPrivateKeyInfo, PKCS#1/RFC 5915 keys, PKCS#7 ContentInfo, PKCS#12 PFX). A
  declared length past the end of the file is a truncated DER.
* **PKCS#12** (RFC 7292): the PFX structure is walked by hand (a small BER/DER reader, indefinite lengths
  allowed) to report the certificate and key encryption (PBES2 cipher + PBKDF2/scrypt, or the PKCS#12 PBE
  suites §C), the integrity MAC (``MacData`` or PBMAC1, RFC 9579) and the bags in clear; then
  ``cryptography``'s ``pkcs12.load_key_and_certificates`` is tried with no and with an empty password to
  read the key and every certificate. A password-protected file still yields its algorithms; if even the
  structure cannot be walked, the finding says "PKCS#12, encrypted, algorithms unknown".
* **JKS / JCEKS** (Sun's ``JavaKeyStore`` / ``JceKeyStore`` layout: magic ``0xFEEDFEED`` / ``0xCECECECE``,
  version, entry count; entry tag 1 private key, 2 trusted certificate, 3 secret key (JCEKS)). Certificates
  (trusted entries and private-key chains) are stored in clear and parsed; a private key is an
  ``EncryptedPrivateKeyInfo`` whose protection (JKS ``KeyProtector`` OID 1.3.6.1.4.1.42.2.17.1.1, or
  PBEWithMD5AndTripleDES 1.3.6.1.4.1.42.2.19.1) is reported with the key algorithm taken from its chain; a
  JCEKS secret key is a Java-serialised ``SealedObject`` whose seal algorithm and PBE iteration count are
  read by a bounded Java Object Serialization Stream (``java.io`` protocol version 5) walker. The trailing
  keyed SHA-1 integrity digest is reported.
* **OpenSSH** keys: public-key lines (``ssh-ed25519 AAAA…``, ``ssh-rsa``, ``ecdsa-sha2-nistp256``, ``sk-*``,
  certificates; also inside ``authorized_keys`` options and ``known_hosts`` host patterns), RFC 4716
  ``SSH2 PUBLIC KEY`` blocks, the ``openssh-key-v1`` private-key container (OpenSSH PROTOCOL.key: cipher,
  KDF and rounds from the header; key type and size from the public keys stored in clear; RFC 4253 §6.6,
  RFC 5656, RFC 8709 blobs) and PuTTY ``.ppk`` headers.
* **JWK / JWKS** (RFC 7517, RFC 7518 §6, RFC 8037 OKP, AKP for ML-DSA): ``kty``, ``crv``, the RSA modulus
  size, ``alg``, ``use``, ``kid``; whether private members are present (their values are not reported).

Every certificate gives two findings, shaped like the TLS scanner's (:mod:`mamori.pqc.discovery.x509info`):
primitive ``certificate`` / context ``certificate signature`` (the signature algorithm, ML-DSA / SLH-DSA /
composite OIDs included; ``parameter`` is the signer's key size or set when the OID fixes it, the certificate is
self-issued or its issuer is in the same file; ``detail["hash"]`` the digest) and primitive ``key`` / context
``certificate public key`` (key algorithm and size/curve). Subject, issuer, serial, ``not_before`` /
``not_after`` (ISO 8601), SHA-256 fingerprint, SANs, CA flag and key usage are in ``detail``. Other keys give one
``key`` finding; key protection gives ``cipher`` / ``kdf`` / ``mac`` findings.

Canonical names: ``RSA`` (bits), ``ECDSA`` (``P-256``, ``P-384``, ``P-521``, ``secp256k1``,
``brainpoolP256r1`` ...; ``ECDH`` for id-ecDH keys or certificates whose key usage is key agreement only),
``Ed25519``, ``Ed448``, ``X25519``, ``X448``, ``DSA`` (bits), ``DH`` (bits), ``ML-DSA`` (``44``/``65``/``87``),
``ML-KEM`` (``512``/``768``/``1024``), ``SLH-DSA`` (``SHA2-128s`` ...), composite signatures by their
LAMPS name without ``id-`` (``MLDSA65-Ed25519-SHA512``, draft-ietf-lamps-pq-composite-sigs) and composite
KEMs likewise; ciphers ``AES`` (bits, ``detail["mode"]``), ``3DES`` (168), ``DES`` (56), ``RC2`` / ``RC4``
(bits), ``Camellia``; KDFs ``PBKDF2`` (parameter: the PRF hash), ``scrypt``, ``PKCS12-KDF`` (hash),
``PBKDF1`` (hash), ``bcrypt-pbkdf``, ``Argon2id``, ``EVP_BytesToKey`` (hash); MACs ``HMAC`` (hash). Unknown
OIDs are reported as the dotted OID with ``detail["unrecognised"] = True``.

Locations: the path; ``path#n`` (0-based, in file order) when a file holds several certificates or keys.
Findings about the container as a whole (PKCS#12 encryption and MAC, keystore integrity) use the bare path.

Problems are ``"<code>: <path>: <message>"`` with codes ``file-not-found``, ``file-unreadable``,
``file-too-large``, ``file-symlink-loop``, ``file-walk-limit``, ``file-bad-pem``, ``file-unsupported-pem``,
``file-truncated-der``, ``file-bad-der``, ``file-bad-certificate``, ``file-bad-key``, ``file-bad-pkcs12``,
``file-bad-keystore``, ``file-bad-openssh-key``, ``file-bad-jwk``, ``file-unrecognised``. No input raises.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import json
import os
import re
import stat
import struct
import time
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa, x448, x25519
from cryptography.hazmat.primitives.serialization import pkcs7, pkcs12
from cryptography.utils import CryptographyDeprecationWarning

from mamori.pqc.discovery.ssh import SshProblem, canonical_cipher, parse_host_key_blob
from mamori.pqc.model import CryptoFinding, Primitive, ScanResult

__all__ = ["scan_files"]

MAX_FILES = 200_000
MAX_DEPTH = 64
MAX_OBJECTS = 10_000
"""Per file: PEM blocks, keystore entries, key lines."""
MAX_DER_DEPTH = 32
MAX_DER_CHILDREN = 100_000

CRYPTO_SUFFIXES = frozenset({
    ".pem", ".crt", ".cer", ".der", ".key", ".pub", ".p7b", ".p7c", ".p7s", ".p12", ".pfx", ".jks", ".jceks",
    ".keystore", ".truststore", ".ks", ".csr", ".req", ".jwk", ".jwks", ".ppk", ".p8", ".pk8", ".crl", ".bks"})
CRYPTO_NAMES = frozenset({"id_rsa", "id_dsa", "id_ecdsa", "id_ed25519", "id_ecdsa_sk", "id_ed25519_sk",
                          "authorized_keys", "authorized_keys2", "known_hosts", "cacerts"})


# --------------------------------------------------------------------------------------------------------
# OID tables
# --------------------------------------------------------------------------------------------------------

_CURVES = {"1.2.840.10045.3.1.7": "P-256", "1.3.132.0.34": "P-384", "1.3.132.0.35": "P-521",
           "1.3.132.0.33": "P-224", "1.2.840.10045.3.1.1": "P-192", "1.3.132.0.10": "secp256k1",
           "1.3.36.3.3.2.8.1.1.7": "brainpoolP256r1", "1.3.36.3.3.2.8.1.1.11": "brainpoolP384r1",
           "1.3.36.3.3.2.8.1.1.13": "brainpoolP512r1", "1.2.156.10197.1.301": "SM2"}
_CURVE_NAMES = {"secp256r1": "P-256", "prime256v1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521",
                "secp224r1": "P-224", "secp192r1": "P-192", "prime192v1": "P-192"}

_SLH = ["SHA2-128s", "SHA2-128f", "SHA2-192s", "SHA2-192f", "SHA2-256s", "SHA2-256f",
        "SHAKE-128s", "SHAKE-128f", "SHAKE-192s", "SHAKE-192f", "SHAKE-256s", "SHAKE-256f"]
_COMPOSITE_SIGS = ["MLDSA44-RSA2048-PSS-SHA256", "MLDSA44-RSA2048-PKCS15-SHA256", "MLDSA44-Ed25519-SHA512",
                   "MLDSA44-ECDSA-P256-SHA256", "MLDSA65-RSA3072-PSS-SHA512", "MLDSA65-RSA3072-PKCS15-SHA512",
                   "MLDSA65-RSA4096-PSS-SHA512", "MLDSA65-RSA4096-PKCS15-SHA512", "MLDSA65-ECDSA-P256-SHA512",
                   "MLDSA65-ECDSA-P384-SHA512", "MLDSA65-ECDSA-brainpoolP256r1-SHA512", "MLDSA65-Ed25519-SHA512",
                   "MLDSA87-ECDSA-P384-SHA512", "MLDSA87-ECDSA-brainpoolP384r1-SHA512", "MLDSA87-Ed448-SHAKE256",
                   "MLDSA87-RSA3072-PSS-SHA512", "MLDSA87-RSA4096-PSS-SHA512", "MLDSA87-ECDSA-P521-SHA512"]
_COMPOSITE_KEMS = ["MLKEM768-RSA2048-SHA3-256", "MLKEM768-RSA3072-SHA3-256", "MLKEM768-RSA4096-SHA3-256",
                   "MLKEM768-X25519-SHA3-256", "MLKEM768-ECDH-P256-SHA3-256", "MLKEM768-ECDH-P384-SHA3-256",
                   "MLKEM768-ECDH-brainpoolP256r1-SHA3-256", "MLKEM1024-RSA3072-SHA3-256"]


def _build_key_oids() -> dict[str, tuple[str, str]]:
    t = {"1.2.840.113549.1.1.1": ("RSA", ""), "1.2.840.113549.1.1.10": ("RSA", ""),
         "1.2.840.10045.2.1": ("ECDSA", ""), "1.3.132.1.12": ("ECDH", ""), "1.3.101.112": ("Ed25519", ""),
         "1.3.101.113": ("Ed448", ""), "1.3.101.110": ("X25519", ""), "1.3.101.111": ("X448", ""),
         "1.2.840.10040.4.1": ("DSA", ""), "1.2.840.113549.1.3.1": ("DH", ""), "1.2.840.10046.2.1": ("DH", ""),
         "2.16.840.1.101.3.4.4.1": ("ML-KEM", "512"), "2.16.840.1.101.3.4.4.2": ("ML-KEM", "768"),
         "2.16.840.1.101.3.4.4.3": ("ML-KEM", "1024"), "2.16.840.1.101.3.4.3.17": ("ML-DSA", "44"),
         "2.16.840.1.101.3.4.3.18": ("ML-DSA", "65"), "2.16.840.1.101.3.4.3.19": ("ML-DSA", "87"),
         "1.2.156.10197.1.301": ("SM2", "")}
    for i, name in enumerate(_SLH):
        t[f"2.16.840.1.101.3.4.3.{20 + i}"] = ("SLH-DSA", name)
    for i, name in enumerate(_COMPOSITE_SIGS):
        t[f"1.3.6.1.5.5.7.6.{37 + i}"] = (name, "")
    for i, name in enumerate(_COMPOSITE_KEMS):
        t[f"1.3.6.1.5.5.7.6.{55 + i}"] = (name, "")
    return t


_KEY_OIDS = _build_key_oids()


def _build_sig_oids() -> dict[str, tuple[str, str, str]]:
    """Signature OID → (algorithm, hash, parameter)."""
    r = "1.2.840.113549.1.1."
    t = {r + "2": ("RSA", "MD2", ""), r + "4": ("RSA", "MD5", ""), r + "5": ("RSA", "SHA-1", ""),
         r + "11": ("RSA", "SHA-256", ""), r + "12": ("RSA", "SHA-384", ""), r + "13": ("RSA", "SHA-512", ""),
         r + "14": ("RSA", "SHA-224", ""), r + "10": ("RSA", "", ""),
         "1.2.840.10045.4.1": ("ECDSA", "SHA-1", ""), "1.2.840.10045.4.3.1": ("ECDSA", "SHA-224", ""),
         "1.2.840.10045.4.3.2": ("ECDSA", "SHA-256", ""), "1.2.840.10045.4.3.3": ("ECDSA", "SHA-384", ""),
         "1.2.840.10045.4.3.4": ("ECDSA", "SHA-512", ""), "1.2.840.10040.4.3": ("DSA", "SHA-1", ""),
         "2.16.840.1.101.3.4.3.1": ("DSA", "SHA-224", ""), "2.16.840.1.101.3.4.3.2": ("DSA", "SHA-256", ""),
         "1.3.101.112": ("Ed25519", "", ""), "1.3.101.113": ("Ed448", "", ""),
         "2.16.840.1.101.3.4.3.17": ("ML-DSA", "", "44"), "2.16.840.1.101.3.4.3.18": ("ML-DSA", "", "65"),
         "2.16.840.1.101.3.4.3.19": ("ML-DSA", "", "87"), "2.16.840.1.101.3.4.3.32": ("ML-DSA", "SHA-512", "44"),
         "2.16.840.1.101.3.4.3.33": ("ML-DSA", "SHA-512", "65"),
         "2.16.840.1.101.3.4.3.34": ("ML-DSA", "SHA-512", "87"),
         "1.2.156.10197.1.501": ("SM2", "SM3", "")}
    for i, h in enumerate(("SHA3-224", "SHA3-256", "SHA3-384", "SHA3-512")):
        t[f"2.16.840.1.101.3.4.3.{9 + i}"] = ("ECDSA", h, "")
        t[f"2.16.840.1.101.3.4.3.{13 + i}"] = ("RSA", h, "")
        t[f"2.16.840.1.101.3.4.3.{5 + i}"] = ("DSA", h, "")
    for i, name in enumerate(_SLH):
        t[f"2.16.840.1.101.3.4.3.{20 + i}"] = ("SLH-DSA", "", name)
    for i, name in enumerate(_COMPOSITE_SIGS):
        t[f"1.3.6.1.5.5.7.6.{37 + i}"] = (name, "", "")
    return t


_SIG_OIDS = _build_sig_oids()
_HASH_OIDS = {"1.3.14.3.2.26": "SHA-1", "2.16.840.1.101.3.4.2.1": "SHA-256", "2.16.840.1.101.3.4.2.2": "SHA-384",
              "2.16.840.1.101.3.4.2.3": "SHA-512", "2.16.840.1.101.3.4.2.4": "SHA-224",
              "2.16.840.1.101.3.4.2.5": "SHA-512/224", "2.16.840.1.101.3.4.2.6": "SHA-512/256",
              "1.2.840.113549.2.5": "MD5", "1.2.840.113549.2.2": "MD2", "1.2.156.10197.1.401": "SM3"}
_HMAC_OIDS = {"1.2.840.113549.2.7": "SHA-1", "1.2.840.113549.2.8": "SHA-224", "1.2.840.113549.2.9": "SHA-256",
              "1.2.840.113549.2.10": "SHA-384", "1.2.840.113549.2.11": "SHA-512",
              "1.2.840.113549.2.12": "SHA-512/224", "1.2.840.113549.2.13": "SHA-512/256",
              "2.16.840.1.101.3.4.2.13": "SHA3-224", "2.16.840.1.101.3.4.2.14": "SHA3-256",
              "2.16.840.1.101.3.4.2.15": "SHA3-384", "2.16.840.1.101.3.4.2.16": "SHA3-512"}
_ENC_OIDS = {"2.16.840.1.101.3.4.1.2": ("AES", "128", "CBC"), "2.16.840.1.101.3.4.1.22": ("AES", "192", "CBC"),
             "2.16.840.1.101.3.4.1.42": ("AES", "256", "CBC"), "2.16.840.1.101.3.4.1.6": ("AES", "128", "GCM"),
             "2.16.840.1.101.3.4.1.26": ("AES", "192", "GCM"), "2.16.840.1.101.3.4.1.46": ("AES", "256", "GCM"),
             "1.2.840.113549.3.7": ("3DES", "168", "CBC"), "1.3.14.3.2.7": ("DES", "56", "CBC"),
             "1.2.840.113549.3.2": ("RC2", "", "CBC"), "1.2.840.113549.3.4": ("RC4", "", "stream"),
             "1.2.392.200011.61.1.1.1.2": ("Camellia", "128", "CBC"),
             "1.2.392.200011.61.1.1.1.3": ("Camellia", "192", "CBC"),
             "1.2.392.200011.61.1.1.1.4": ("Camellia", "256", "CBC"), "1.2.156.10197.1.104.2": ("SM4", "128", "CBC")}
_P12_PBE = {"1.2.840.113549.1.12.1.1": ("RC4", "128", "stream"), "1.2.840.113549.1.12.1.2": ("RC4", "40", "stream"),
            "1.2.840.113549.1.12.1.3": ("3DES", "168", "CBC"), "1.2.840.113549.1.12.1.4": ("3DES", "112", "CBC"),
            "1.2.840.113549.1.12.1.5": ("RC2", "128", "CBC"), "1.2.840.113549.1.12.1.6": ("RC2", "40", "CBC")}
_PBES1 = {"1.2.840.113549.1.5.1": ("DES", "56", "MD2"), "1.2.840.113549.1.5.3": ("DES", "56", "MD5"),
          "1.2.840.113549.1.5.4": ("RC2", "64", "MD2"), "1.2.840.113549.1.5.6": ("RC2", "64", "MD5"),
          "1.2.840.113549.1.5.10": ("DES", "56", "SHA-1"), "1.2.840.113549.1.5.11": ("RC2", "64", "SHA-1")}
OID_PBES2 = "1.2.840.113549.1.5.13"
OID_PBKDF2 = "1.2.840.113549.1.5.12"
OID_SCRYPT = "1.3.6.1.4.1.11591.4.11"
OID_PBMAC1 = "1.2.840.113549.1.5.14"
OID_JKS_PROTECTOR = "1.3.6.1.4.1.42.2.17.1.1"
OID_JCEKS_PROTECTOR = "1.3.6.1.4.1.42.2.19.1"
OID_DATA = "1.2.840.113549.1.7.1"
OID_SIGNED = "1.2.840.113549.1.7.2"
OID_ENVELOPED = "1.2.840.113549.1.7.3"
OID_ENCRYPTED = "1.2.840.113549.1.7.6"
_BAGS = {"1.2.840.113549.1.12.10.1.1": "keyBag", "1.2.840.113549.1.12.10.1.2": "pkcs8ShroudedKeyBag",
         "1.2.840.113549.1.12.10.1.3": "certBag", "1.2.840.113549.1.12.10.1.4": "crlBag",
         "1.2.840.113549.1.12.10.1.5": "secretBag", "1.2.840.113549.1.12.10.1.6": "safeContentsBag"}


# --------------------------------------------------------------------------------------------------------
# A small bounded BER/DER reader (X.690)
# --------------------------------------------------------------------------------------------------------

class DerError(ValueError):
    """Malformed or truncated BER/DER; ``truncated`` when a length runs past the available bytes."""

    def __init__(self, message: str, truncated: bool = False) -> None:
        super().__init__(message)
        self.truncated = truncated


@dataclass(frozen=True)
class Tlv:
    """One BER element: ``tag`` is the identifier octet, content is ``data[start:cend]``, element ends at ``end``."""

    data: bytes
    tag: int
    pos: int
    start: int
    cend: int
    end: int

    @property
    def constructed(self) -> bool:
        return bool(self.tag & 0x20)

    @property
    def content(self) -> bytes:
        return self.data[self.start:self.cend]

    @property
    def raw(self) -> bytes:
        """The whole element, header included."""
        return self.data[self.pos:self.end]


def read_tlv(data: bytes, pos: int = 0, limit: int | None = None, depth: int = 0) -> Tlv:
    """Read one element at ``pos`` (definite or, for constructed elements, indefinite length)."""
    limit = len(data) if limit is None else limit
    if depth > MAX_DER_DEPTH:
        raise DerError("nesting deeper than 32")
    if pos + 2 > limit:
        raise DerError("element header past the end", truncated=True)
    tag = data[pos]
    p = pos + 1
    if tag & 0x1F == 0x1F:  # high tag number form
        for _ in range(4):
            if p >= limit:
                raise DerError("tag past the end", truncated=True)
            b = data[p]
            p += 1
            if not b & 0x80:
                break
        else:
            raise DerError("tag number too long")
    if p >= limit:
        raise DerError("length past the end", truncated=True)
    first = data[p]
    p += 1
    if first == 0x80:
        if not tag & 0x20:
            raise DerError("indefinite length on a primitive element")
        q = p
        for _ in range(MAX_DER_CHILDREN):
            if q + 2 <= limit and data[q] == 0 and data[q + 1] == 0:
                return Tlv(data, tag, pos, p, q, q + 2)
            q = read_tlv(data, q, limit, depth + 1).end
        raise DerError("too many elements")
    if first & 0x80:
        n = first & 0x7F
        if n > 4:
            raise DerError(f"length of {n} octets")
        if p + n > limit:
            raise DerError("length past the end", truncated=True)
        length = int.from_bytes(data[p:p + n], "big")
        p += n
    else:
        length = first
    if p + length > limit:
        raise DerError(f"element of {length} bytes runs past the end ({limit - p} available)", truncated=True)
    return Tlv(data, tag, pos, p, p + length, p + length)


def children(t: Tlv, depth: int = 0) -> list[Tlv]:
    out: list[Tlv] = []
    p = t.start
    while p < t.cend:
        c = read_tlv(t.data, p, t.cend, depth + 1)
        out.append(c)
        p = c.end
        if len(out) > MAX_DER_CHILDREN:
            raise DerError("too many elements")
    return out


def oid_of(t: Tlv) -> str:
    if t.tag != 0x06:
        raise DerError(f"expected OBJECT IDENTIFIER, got tag 0x{t.tag:02x}")
    raw = t.content
    if not raw:
        raise DerError("empty OID")
    parts: list[int] = []
    v = 0
    for b in raw:
        v = (v << 7) | (b & 0x7F)
        if not b & 0x80:
            parts.append(v)
            v = 0
    first = parts[0]
    head = [0, first] if first < 40 else [1, first - 40] if first < 80 else [2, first - 80]
    return ".".join(str(x) for x in head + parts[1:])


def int_of(t: Tlv) -> int:
    if t.tag != 0x02:
        raise DerError(f"expected INTEGER, got tag 0x{t.tag:02x}")
    return int.from_bytes(t.content, "big", signed=True)


def octets_of(t: Tlv) -> bytes:
    """OCTET STRING content, joining BER constructed segments."""
    if t.tag == 0x04:
        return t.content
    if t.tag == 0x24:
        return b"".join(octets_of(c) for c in children(t))
    raise DerError(f"expected OCTET STRING, got tag 0x{t.tag:02x}")


def _explicit(t: Tlv) -> Tlv:
    """The single element inside an EXPLICIT [n] tag."""
    kids = children(t)
    if not kids:
        raise DerError("empty explicit tag")
    return kids[0]


def _algid(t: Tlv) -> tuple[str, Tlv | None]:
    kids = children(t)
    if not kids:
        raise DerError("empty AlgorithmIdentifier")
    return oid_of(kids[0]), (kids[1] if len(kids) > 1 else None)


# --------------------------------------------------------------------------------------------------------
# Canonical facts about keys, certificates and protection
# --------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class KeyFacts:
    algorithm: str
    parameter: str
    detail: dict[str, Any] = field(default_factory=dict)


def _key_use(algorithm: str) -> str:
    if algorithm in ("ML-KEM", "X25519", "X448", "DH", "ECDH") or algorithm.startswith("MLKEM"):
        return "key-exchange"
    if algorithm == "RSA":
        return "signature or key transport"
    return "signature"


def _facts_from_key(key: Any) -> KeyFacts | None:
    """Canonical (algorithm, parameter) of a ``cryptography`` public or private key."""
    if isinstance(key, rsa.RSAPublicKey | rsa.RSAPrivateKey):
        return KeyFacts("RSA", str(key.key_size))
    if isinstance(key, ec.EllipticCurvePublicKey | ec.EllipticCurvePrivateKey):
        return KeyFacts("ECDSA", _CURVE_NAMES.get(key.curve.name, key.curve.name))
    if isinstance(key, ed25519.Ed25519PublicKey | ed25519.Ed25519PrivateKey):
        return KeyFacts("Ed25519", "")
    if isinstance(key, ed448.Ed448PublicKey | ed448.Ed448PrivateKey):
        return KeyFacts("Ed448", "")
    if isinstance(key, x25519.X25519PublicKey | x25519.X25519PrivateKey):
        return KeyFacts("X25519", "")
    if isinstance(key, x448.X448PublicKey | x448.X448PrivateKey):
        return KeyFacts("X448", "")
    if isinstance(key, dsa.DSAPublicKey | dsa.DSAPrivateKey):
        return KeyFacts("DSA", str(key.key_size))
    if type(key).__name__ in ("DHPublicKey", "DHPrivateKey"):  # by name: touching ``dh`` warns (deprecated)
        return KeyFacts("DH", str(getattr(key, "key_size", "")))
    m = re.fullmatch(r"ML(DSA|KEM)(\d+)(Public|Private)Key", type(key).__name__)
    if m:  # cryptography ≥ 47 (FIPS 203/204); matched by name so older versions still import this module
        return KeyFacts(f"ML-{m.group(1)}", m.group(2))
    return None


def _facts_from_algid(algid: Tlv, key_bits: Tlv | None = None) -> KeyFacts:
    """Facts from an AlgorithmIdentifier (and, for RSA, the RSAPublicKey in the SPKI BIT STRING)."""
    oid, params = _algid(algid)
    alg, param = _KEY_OIDS.get(oid, (oid, ""))
    detail: dict[str, Any] = {"oid": oid}
    if oid not in _KEY_OIDS:
        detail["unrecognised"] = True
    if alg in ("ECDSA", "ECDH") and params is not None and params.tag == 0x06:
        param = _CURVES.get(oid_of(params), oid_of(params))
    if alg.startswith(("MLDSA", "MLKEM")):
        detail["composite"] = True
    if alg == "RSA" and key_bits is not None and key_bits.tag == 0x03 and len(key_bits.content) > 1:
        try:
            seq = read_tlv(key_bits.content[1:])
            n = int_of(children(seq)[0])
            param = str(n.bit_length())
        except (DerError, IndexError):
            pass
    if oid == "1.2.840.113549.1.1.10":
        detail["pss"] = True
    return KeyFacts(alg, param, detail)


def spki_facts(spki_der: bytes) -> KeyFacts:
    """Facts of a SubjectPublicKeyInfo (RFC 5280 §4.1.2.7); ``cryptography`` first, the OID table otherwise."""
    top = read_tlv(spki_der)
    kids = children(top)
    if len(kids) != 2:
        raise DerError("SubjectPublicKeyInfo is not SEQUENCE { algorithm, subjectPublicKey }")
    base = _facts_from_algid(kids[0], kids[1])
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", CryptographyDeprecationWarning)  # FFDH keys
            key = serialization.load_der_public_key(spki_der)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        return base
    f = _facts_from_key(key)
    return KeyFacts(f.algorithm, f.parameter, base.detail) if f else base


def _spki_fingerprint(spki_der: bytes) -> str:
    return hashlib.sha256(spki_der).hexdigest()


@dataclass(frozen=True)
class Protection:
    """How a key or a PKCS#12 part is encrypted, from its AlgorithmIdentifier (RFC 8018, RFC 7292 App. C)."""

    scheme: str
    cipher: tuple[str, str, str] | None
    """(algorithm, bits, mode)"""
    kdf: tuple[str, str] | None
    """(algorithm, parameter)"""
    detail: dict[str, Any]


def describe_protection(algid: Tlv) -> Protection:
    oid, params = _algid(algid)
    detail: dict[str, Any] = {"oid": oid}
    if oid == OID_PBES2 and params is not None:
        kdf_t, enc_t = children(params)[:2]
        kdf_oid, kdf_params = _algid(kdf_t)
        enc_oid, _ = _algid(enc_t)
        detail["encryption_oid"] = enc_oid
        kdf: tuple[str, str] | None
        if kdf_oid == OID_PBKDF2 and kdf_params is not None:
            kp = children(kdf_params)
            detail["salt_bytes"] = len(octets_of(kp[0])) if kp[0].tag in (0x04, 0x24) else None
            detail["iterations"] = int_of(kp[1])
            prf = "SHA-1"  # RFC 8018 §A.2 default hmacWithSHA1
            for extra in kp[2:]:
                if extra.tag == 0x30:
                    p_oid, _ = _algid(extra)
                    prf = _HMAC_OIDS.get(p_oid, p_oid)
                elif extra.tag == 0x02:
                    detail["key_length"] = int_of(extra)
            kdf = ("PBKDF2", prf)
        elif kdf_oid == OID_SCRYPT and kdf_params is not None:
            kp = children(kdf_params)
            detail.update({"salt_bytes": len(octets_of(kp[0])), "N": int_of(kp[1]), "r": int_of(kp[2]),
                           "p": int_of(kp[3])})
            kdf = ("scrypt", "")
        else:
            kdf = (kdf_oid, "")
            detail["unrecognised_kdf"] = True
        cipher = _ENC_OIDS.get(enc_oid, (enc_oid, "", ""))
        return Protection("PBES2", cipher, kdf, detail)
    if oid in _P12_PBE:
        if params is not None:
            kp = children(params)
            detail.update({"salt_bytes": len(octets_of(kp[0])), "iterations": int_of(kp[1]) if len(kp) > 1 else 1})
        return Protection("PKCS#12 PBE", _P12_PBE[oid], ("PKCS12-KDF", "SHA-1"), detail)
    if oid in _PBES1:
        alg, bits, h = _PBES1[oid]
        if params is not None:
            kp = children(params)
            detail.update({"salt_bytes": len(octets_of(kp[0])), "iterations": int_of(kp[1]) if len(kp) > 1 else 1})
        return Protection("PBES1", (alg, bits, "CBC"), ("PBKDF1", h), detail)
    if oid == OID_JKS_PROTECTOR:
        return Protection("JKS KeyProtector", ("JKS-KeyProtector", "", "SHA-1 keystream XOR"), None, detail)
    if oid == OID_JCEKS_PROTECTOR:
        if params is not None:
            kp = children(params)
            detail.update({"salt_bytes": len(octets_of(kp[0])), "iterations": int_of(kp[1]) if len(kp) > 1 else 1})
        return Protection("PBEWithMD5AndTripleDES (Sun JCE)", ("3DES", "168", "CBC"), ("PBKDF1", "MD5"), detail)
    detail["unrecognised"] = True
    return Protection(oid, None, None, detail)


def _protection_findings(path: str, prot: Protection, context: str, extra: dict[str, Any]) -> list[CryptoFinding]:
    out: list[CryptoFinding] = []
    detail = {"scheme": prot.scheme, **prot.detail, **extra}
    if prot.cipher is not None:
        alg, bits, mode = prot.cipher
        out.append(CryptoFinding("file", path, "cipher", alg, bits, context, 1.0, {**detail, "mode": mode}))
    if prot.kdf is not None:
        out.append(CryptoFinding("file", path, "kdf", prot.kdf[0], prot.kdf[1], context + " kdf", 1.0, detail))
    if prot.cipher is None and prot.kdf is None:
        out.append(CryptoFinding("file", path, "cipher", "unknown", "", context, 1.0, detail))
    return out


def _name(n: x509.Name) -> str:
    try:
        return n.rfc4514_string()
    except ValueError:
        return repr(n)


def _tbs_spki(cert_der: bytes) -> bytes:
    """The SubjectPublicKeyInfo bytes of a certificate (RFC 5280 §4.1)."""
    tbs = children(read_tlv(cert_der))[0]
    kids = children(tbs)
    i = 1 if kids and kids[0].tag == 0xA0 else 0
    return kids[i + 5].raw


def certificate_findings(path: str, der: bytes, fmt: str, extra: dict[str, Any] | None = None) -> list[CryptoFinding]:
    """Two findings for one X.509 certificate (RFC 5280), shaped like the TLS scanner's: ``certificate`` (the
    signature algorithm; parameter = the signer's key size/set when known) and ``key`` (the subject public key).
    RFC 5280 violations that ``cryptography`` tolerates with a deprecation warning (a negative serial number, as
    in some old root certificates) are listed in ``detail["warnings"]``."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", CryptographyDeprecationWarning)
        out = _certificate_findings(path, der, fmt, extra)
    notes = sorted({str(w.message).split(". ")[0] for w in caught
                    if issubclass(w.category, CryptographyDeprecationWarning)})
    if notes:
        out = [replace(f, detail={**f.detail, "warnings": notes}) for f in out]
    return out


def _certificate_findings(path: str, der: bytes, fmt: str, extra: dict[str, Any] | None) -> list[CryptoFinding]:
    cert = x509.load_der_x509_certificate(der)
    try:
        spki = _tbs_spki(der)
        key = spki_facts(spki)
    except (DerError, IndexError) as exc:
        raise ValueError(f"cannot read the SubjectPublicKeyInfo: {exc}") from exc
    subject, issuer = _name(cert.subject), _name(cert.issuer)
    common: dict[str, Any] = {
        "format": fmt, "subject": subject, "issuer": issuer, "serial": format(cert.serial_number, "x"),
        "not_before": cert.not_valid_before_utc.isoformat(), "not_after": cert.not_valid_after_utc.isoformat(),
        "sha256": hashlib.sha256(der).hexdigest(), "self_issued": cert.subject == cert.issuer, **(extra or {})}
    key_alg = key.algorithm
    key_detail: dict[str, Any] = {"spki_sha256": _spki_fingerprint(spki), **key.detail}
    with contextlib.suppress(x509.ExtensionNotFound, ValueError):
        common["ca"] = cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    try:
        ku = cert.extensions.get_extension_for_class(x509.KeyUsage).value
        uses = [u for u in ("digital_signature", "content_commitment", "key_encipherment", "data_encipherment",
                            "key_cert_sign", "crl_sign") if getattr(ku, u)]
        if ku.key_agreement:
            uses.append("key_agreement")
        key_detail["key_usage"] = uses
        if key_alg == "ECDSA" and "key_agreement" in uses and "digital_signature" not in uses:
            key_alg = "ECDH"
    except (x509.ExtensionNotFound, ValueError):
        pass
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        common["sans"] = [*san.get_values_for_type(x509.DNSName),
                          *(str(ip) for ip in san.get_values_for_type(x509.IPAddress))][:50]
    except (x509.ExtensionNotFound, ValueError):
        pass
    sig_oid = cert.signature_algorithm_oid.dotted_string
    sig_alg, sig_hash, sig_param = _SIG_OIDS.get(sig_oid, (sig_oid, "", ""))
    if sig_oid == "1.2.840.113549.1.1.10":
        try:
            h = cert.signature_hash_algorithm
            sig_hash = {"sha1": "SHA-1", "sha224": "SHA-224", "sha256": "SHA-256", "sha384": "SHA-384",
                        "sha512": "SHA-512"}.get(h.name, h.name) if h else ""
        except Exception:  # unsupported PSS parameters: the OID stays in detail
            sig_hash = ""
    if not sig_param and common["self_issued"] and sig_alg in ("RSA", "ECDSA", "DSA"):
        sig_param = key.parameter
    sig_detail: dict[str, Any] = {**common, "oid": sig_oid, "hash": sig_hash,
                                  "signature_algorithm": getattr(cert.signature_algorithm_oid, "_name", "") or sig_oid}
    if sig_oid not in _SIG_OIDS:
        sig_detail["unrecognised"] = True
    if sig_oid == "1.2.840.113549.1.1.10":
        sig_detail["pss"] = True
    if sig_alg.startswith("MLDSA"):
        sig_detail["composite"] = True
    return [CryptoFinding("file", path, "certificate", sig_alg, sig_param, "certificate signature", 1.0, sig_detail),
            CryptoFinding("file", path, "key", key_alg, key.parameter, "certificate public key", 1.0,
                          {**common, **key_detail, "key_use": _key_use(key_alg)})]


def _fill_signer_parameters(objects: list[list[CryptoFinding]]) -> None:
    """Set a certificate signature's parameter from its issuer's key when the issuer is in the same file."""
    keys = {f.detail.get("subject"): f.parameter for obj in objects for f in obj
            if f.context == "certificate public key" and f.parameter}
    for obj in objects:
        for i, f in enumerate(obj):
            if f.context == "certificate signature" and not f.parameter and f.algorithm in ("RSA", "ECDSA", "DSA"):
                signer = keys.get(f.detail.get("issuer"))
                if signer:
                    obj[i] = replace(f, parameter=signer)


def _key_finding(path: str, facts: KeyFacts, context: str, detail: dict[str, Any]) -> CryptoFinding:
    return CryptoFinding("file", path, "key", facts.algorithm, facts.parameter, context, 1.0,
                         {**facts.detail, **detail, "key_use": _key_use(facts.algorithm)})


def _private_key_facts(der: bytes) -> KeyFacts:
    """Facts of a clear private key (PKCS#8 PrivateKeyInfo / OneAsymmetricKey, PKCS#1, RFC 5915)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", CryptographyDeprecationWarning)  # FFDH keys
            key = serialization.load_der_private_key(der, None)
        f = _facts_from_key(key)
        if f is not None:
            return f
    except (ValueError, TypeError, UnsupportedAlgorithm):
        pass  # an algorithm the local library cannot load: the OID names it below
    kids = children(read_tlv(der))
    if len(kids) >= 3 and kids[0].tag == 0x02 and kids[1].tag == 0x30:  # PKCS#8
        return _facts_from_algid(kids[1])
    raise ValueError("not a private key this scanner can read")


# --------------------------------------------------------------------------------------------------------
# Per-format parsers. Each returns (objects, file-level findings); an object is a list of findings about one
# certificate or key, located at ``path`` (renumbered to ``path#n`` later).
# --------------------------------------------------------------------------------------------------------

class FileProblem(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


@dataclass
class _Out:
    path: str
    objects: list[list[CryptoFinding]] = field(default_factory=list)
    container: list[CryptoFinding] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def problem(self, code: str, message: str) -> None:
        self.problems.append(f"{code}: {self.path}: {message}")

    def add(self, findings: list[CryptoFinding]) -> None:
        if findings:
            self.objects.append(findings)


def _der_kind(der: bytes) -> str | None:
    """Classify a DER blob by its ASN.1 shape (see the module docstring)."""
    top = read_tlv(der)
    if top.tag != 0x30:
        return None
    kids = children(top)
    tags = [k.tag for k in kids]
    if len(kids) >= 2 and tags[0] == 0x02 and tags[1] == 0x30:
        inner = children(kids[1])
        if inner and inner[0].tag == 0x06 and oid_of(inner[0]) in (OID_DATA, OID_SIGNED) and int_of(kids[0]) == 3:
            return "pkcs12"
    if tags and tags[0] == 0x06:
        o = oid_of(kids[0])
        if o.startswith("1.2.840.113549.1.7."):
            return "pkcs7"
    if len(kids) == 3 and tags == [0x30, 0x30, 0x03]:
        tbs = [k.tag for k in children(kids[0])]
        if tbs[:1] == [0xA0] or (len(tbs) >= 6 and tbs[:2] == [0x02, 0x30] and tbs[3] == 0x30 and tbs[4] == 0x30):
            return "certificate"
        if len(tbs) >= 3 and tbs[:3] == [0x02, 0x30, 0x30]:
            return "csr"
        return "crl"
    if len(kids) == 2 and tags == [0x30, 0x03]:
        return "spki"
    if len(kids) >= 3 and tags[:3] == [0x02, 0x30, 0x04]:
        return "pkcs8"
    if len(kids) == 2 and tags == [0x30, 0x04]:
        return "pkcs8-encrypted"
    if len(kids) == 9 and all(t == 0x02 for t in tags):
        return "rsa-private"
    if len(kids) == 6 and all(t == 0x02 for t in tags):
        return "dsa-private"
    if len(kids) >= 2 and tags[:2] == [0x02, 0x04] and int_of(kids[0]) == 1:
        return "ec-private"
    if len(kids) == 2 and tags == [0x02, 0x02]:
        return "rsa-public"
    return None


def _parse_der(out: _Out, der: bytes, fmt: str, kind: str | None = None) -> None:
    kind = kind or _der_kind(der)
    path = out.path
    if kind == "certificate":
        try:
            out.add(certificate_findings(path, der, fmt))
        except ValueError as exc:
            out.problem("file-bad-certificate", f"{fmt}: {exc}")
    elif kind == "csr":
        try:
            csr = x509.load_der_x509_csr(der)
            facts = spki_facts(children(children(read_tlv(der))[0])[2].raw)  # CertificationRequestInfo.spki
        except (ValueError, DerError, IndexError) as exc:
            out.problem("file-bad-certificate", f"{fmt} certificate request: {exc}")
            return
        sig_oid = csr.signature_algorithm_oid.dotted_string
        sig_alg, sig_hash, sig_param = _SIG_OIDS.get(sig_oid, (sig_oid, "", ""))
        subject = _name(csr.subject)
        out.add([_key_finding(path, facts, "certificate request public key", {"format": fmt, "subject": subject}),
                 CryptoFinding("file", path, "signature", sig_alg, sig_param or facts.parameter,
                               "certificate request signature", 1.0,
                               {"format": fmt, "subject": subject, "oid": sig_oid, "hash": sig_hash})])
    elif kind == "crl":
        try:
            crl = x509.load_der_x509_crl(der)
        except ValueError as exc:
            out.problem("file-bad-certificate", f"{fmt} CRL: {exc}")
            return
        sig_oid = crl.signature_algorithm_oid.dotted_string
        sig_alg, sig_hash, sig_param = _SIG_OIDS.get(sig_oid, (sig_oid, "", ""))
        upd = crl.next_update_utc
        out.add([CryptoFinding("file", path, "signature", sig_alg, sig_param, "crl signature", 1.0,
                               {"format": fmt, "issuer": _name(crl.issuer), "oid": sig_oid, "hash": sig_hash,
                                "last_update": crl.last_update_utc.isoformat(),
                                "next_update": upd.isoformat() if upd else None})])
    elif kind == "spki":
        try:
            out.add([_key_finding(path, spki_facts(der), "public key", {"format": fmt, "spki_sha256":
                                                                         _spki_fingerprint(der)})])
        except DerError as exc:
            out.problem("file-bad-key", f"{fmt} public key: {exc}")
    elif kind in ("pkcs8", "rsa-private", "ec-private", "dsa-private"):
        try:
            facts = _private_key_facts(der)
        except (ValueError, DerError) as exc:
            out.problem("file-bad-key", f"{fmt} private key: {exc}")
            return
        out.add([_key_finding(path, facts, "private key", {"format": fmt, "encrypted": False})])
    elif kind == "rsa-public":
        n = int_of(children(read_tlv(der))[0])
        out.add([_key_finding(path, KeyFacts("RSA", str(n.bit_length())), "public key", {"format": fmt})])
    elif kind == "pkcs8-encrypted":
        _encrypted_pkcs8(out, der, fmt, "private key")
    elif kind == "pkcs7":
        _pkcs7(out, der, fmt)
    elif kind == "pkcs12":
        _pkcs12(out, der)
    else:
        raise FileProblem("file-unrecognised", f"{fmt}: DER structure of no known type")


def _encrypted_pkcs8(out: _Out, der: bytes, fmt: str, context: str, extra: dict[str, Any] | None = None,
                     facts: KeyFacts | None = None) -> None:
    """EncryptedPrivateKeyInfo (RFC 5958 §3): key algorithm unknown without the password, protection known."""
    try:
        algid = children(read_tlv(der))[0]
        prot = describe_protection(algid)
    except (DerError, IndexError) as exc:
        out.problem("file-bad-key", f"{fmt} encrypted private key: {exc}")
        return
    detail = {"format": fmt, "encrypted": True, "protection": prot.scheme, **(extra or {})}
    key = _key_finding(out.path, facts or KeyFacts("unknown", "", {"note": "encrypted; algorithm not readable"}),
                       context, detail)
    out.add([key, *_protection_findings(out.path, prot, context + " encryption", {"format": fmt, **(extra or {})})])


def _pkcs7(out: _Out, der: bytes, fmt: str) -> None:
    """PKCS#7 / CMS SignedData (RFC 2315 §9.1, RFC 5652 §5): the certificates it carries."""
    try:
        certs = pkcs7.load_der_pkcs7_certificates(der)
    except ValueError as exc:
        out.problem("file-bad-der", f"{fmt}: PKCS#7 without readable certificates: {exc}")
        return
    for i, c in enumerate(certs):
        try:
            out.add(certificate_findings(out.path, c.public_bytes(serialization.Encoding.DER), fmt,
                                         {"container": "PKCS#7", "index_in_container": i}))
        except ValueError as exc:
            out.problem("file-bad-certificate", f"{fmt} certificate {i}: {exc}")


def _bag_attrs(bag: list[Tlv]) -> dict[str, Any]:
    attrs: dict[str, Any] = {}
    if len(bag) > 2 and bag[2].tag == 0x31:
        for a in children(bag[2]):
            k = children(a)
            if len(k) == 2 and oid_of(k[0]) == "1.2.840.113549.1.9.20":
                vals = children(k[1])
                if vals and vals[0].tag == 0x1E:
                    attrs["friendly_name"] = vals[0].content.decode("utf-16-be", "replace")
    return attrs


def _pkcs12(out: _Out, der: bytes) -> None:
    """PKCS#12 PFX (RFC 7292 §4): protection and clear bags by hand, then the contents via ``cryptography``."""
    fmt = "PKCS#12"
    path = out.path
    clear: list[list[CryptoFinding]] = []
    shrouded: list[Protection] = []
    encrypted_parts = 0
    walked = True
    try:
        pfx = children(read_tlv(der))
        auth = children(pfx[1])
        ctype = oid_of(auth[0])
        if ctype == OID_SIGNED:
            out.container.append(CryptoFinding("file", path, "signature", "unknown", "", "pkcs12 integrity", 1.0,
                                               {"format": fmt, "mode": "public-key integrity (SignedData)"}))
            raise DerError("public-key integrity mode: contents not walked")
        safe = read_tlv(octets_of(_explicit(auth[1])))
        for ci in children(safe):
            k = children(ci)
            kind = oid_of(k[0])
            if kind == OID_DATA:
                bags = read_tlv(octets_of(_explicit(k[1])))
                for bag_t in children(bags):
                    bag = children(bag_t)
                    bag_type = _BAGS.get(oid_of(bag[0]), oid_of(bag[0]))
                    value = _explicit(bag[1])
                    attrs = _bag_attrs(bag)
                    if bag_type == "certBag":
                        cert_der = octets_of(_explicit(children(value)[1]))
                        clear.append(certificate_findings(path, cert_der, fmt, {"bag": "certBag (clear)", **attrs}))
                    elif bag_type == "keyBag":
                        key_der = value.raw
                        clear.append([_key_finding(path, _private_key_facts(key_der), "pkcs12 private key",
                                                   {"format": fmt, "encrypted": False, **attrs})])
                    elif bag_type == "pkcs8ShroudedKeyBag":
                        prot = describe_protection(children(value)[0])
                        shrouded.append(prot)
                        out.container += _protection_findings(path, prot, "pkcs12 key encryption", {"format": fmt})
                    else:
                        out.container.append(CryptoFinding("file", path, "key", "unknown", "", f"pkcs12 {bag_type}",
                                                           1.0, {"format": fmt, **attrs}))
            elif kind == OID_ENCRYPTED:
                encrypted_parts += 1
                ed = children(_explicit(k[1]))
                eci = children(ed[1])
                prot = describe_protection(eci[1])
                out.container += _protection_findings(path, prot, "pkcs12 certificate encryption", {"format": fmt})
            elif kind == OID_ENVELOPED:
                encrypted_parts += 1
                out.container.append(CryptoFinding("file", path, "cipher", "unknown", "", "pkcs12 enveloped part", 1.0,
                                                   {"format": fmt, "note": "public-key privacy mode (EnvelopedData)"}))
        if len(pfx) > 2:
            mac = children(pfx[2])
            digest_info = children(mac[0])
            m_oid, m_params = _algid(digest_info[0])
            iterations = int_of(mac[2]) if len(mac) > 2 else 1
            if m_oid == OID_PBMAC1 and m_params is not None:
                kdf_t, scheme_t = children(m_params)[:2]
                h = _HMAC_OIDS.get(_algid(scheme_t)[0], _algid(scheme_t)[0])
                out.container.append(CryptoFinding("file", path, "mac", "HMAC", h, "pkcs12 integrity", 1.0,
                                                   {"format": fmt, "scheme": "PBMAC1 (RFC 9579)",
                                                    "kdf": _algid(kdf_t)[0]}))
            else:
                h = _HASH_OIDS.get(m_oid, m_oid)
                out.container.append(CryptoFinding("file", path, "mac", "HMAC", h, "pkcs12 integrity", 1.0,
                                                   {"format": fmt, "scheme": "MacData (RFC 7292 §4)",
                                                    "iterations": iterations, "kdf": "PKCS12-KDF"}))
        else:
            out.container.append(CryptoFinding("file", path, "mac", "none", "", "pkcs12 integrity", 1.0,
                                               {"format": fmt, "note": "no MacData: integrity not protected"}))
    except (DerError, IndexError, ValueError) as exc:
        walked = False
        out.problem("file-bad-pkcs12", f"PKCS#12 structure not fully walked: {exc}")
    # contents, when no password (or the empty one) opens them
    opened = None
    for pw in (None, b""):
        try:
            opened = pkcs12.load_key_and_certificates(der, pw)
            break
        except (ValueError, TypeError, UnsupportedAlgorithm):
            continue  # wrong (non-empty) password or an unsupported algorithm inside
    if opened is not None:
        key, cert, extras = opened
        if key is not None:
            f = _facts_from_key(key) or KeyFacts("unknown", "")
            out.add([_key_finding(path, f, "pkcs12 private key",
                                  {"format": fmt, "encrypted": bool(shrouded), "password": "none or empty"})])
        for i, c in enumerate([x for x in [cert, *extras] if x is not None]):
            out.add(certificate_findings(path, c.public_bytes(serialization.Encoding.DER), fmt,
                                         {"container": "PKCS#12", "index_in_container": i,
                                          "password": "none or empty"}))
        return
    for obj in clear:
        out.add(obj)
    for prot in shrouded:
        out.add([_key_finding(path, KeyFacts("unknown", "", {"note": "encrypted; algorithm not readable"}),
                              "pkcs12 private key", {"format": fmt, "encrypted": True, "protection": prot.scheme})])
    if not walked and not out.container:
        out.container.append(CryptoFinding("file", path, "key", "unknown", "", "pkcs12", 1.0,
                                           {"format": fmt, "encrypted": True, "algorithms": "unknown",
                                            "note": "PKCS#12, encrypted, algorithms unknown"}))
    elif encrypted_parts and not clear:
        out.container.append(CryptoFinding("file", path, "certificate", "unknown", "", "pkcs12 certificates", 1.0,
                                           {"format": fmt, "encrypted": True,
                                            "note": "certificates are inside password-encrypted parts"}))


# ----------------------------------------------------------------------------------------------- JKS/JCEKS

class _JavaStream:
    """Bounded walker for one Java Object Serialization Stream (``java.io`` stream protocol 5): enough to skip a
    ``SealedObject`` and collect its strings and byte arrays."""

    def __init__(self, data: bytes, pos: int) -> None:
        self.d, self.p = data, pos
        self.handles: list[Any] = []
        self.strings: list[str] = []
        self.byte_arrays: list[bytes] = []
        self.steps = 0

    def take(self, n: int) -> bytes:
        if n < 0 or self.p + n > len(self.d):
            raise DerError("Java serialization stream truncated", truncated=True)
        out = self.d[self.p:self.p + n]
        self.p += n
        return out

    def u1(self) -> int:
        return self.take(1)[0]

    def u2(self) -> int:
        return int(struct.unpack(">H", self.take(2))[0])

    def u4(self) -> int:
        return int(struct.unpack(">I", self.take(4))[0])

    def utf(self) -> str:
        return self.take(self.u2()).decode("utf-8", "replace")

    def read_stream(self) -> None:
        if self.take(4) != b"\xac\xed\x00\x05":
            raise DerError("not a Java serialization stream (magic 0xACED0005)")
        self.content()

    def content(self) -> Any:
        self.steps += 1
        if self.steps > 10_000:
            raise DerError("Java serialization stream too complex")
        tc = self.u1()
        if tc == 0x70:  # TC_NULL
            return None
        if tc == 0x71:  # TC_REFERENCE
            h = self.u4() - 0x7E0000
            return self.handles[h] if 0 <= h < len(self.handles) else None
        if tc == 0x74:  # TC_STRING
            s = self.utf()
            self.handles.append(s)
            self.strings.append(s)
            return s
        if tc == 0x7C:  # TC_LONGSTRING
            n = int(struct.unpack(">Q", self.take(8))[0])
            s = self.take(n).decode("utf-8", "replace")
            self.handles.append(s)
            self.strings.append(s)
            return s
        if tc == 0x72:  # TC_CLASSDESC
            return self.class_desc_body()
        if tc == 0x73:  # TC_OBJECT
            desc = self.content()
            self.handles.append(None)
            chain: list[dict[str, Any]] = []
            while isinstance(desc, dict):
                chain.append(desc)
                desc = desc.get("super")
            for cd in reversed(chain):
                for typecode, _name in cd["fields"]:
                    self.value(typecode)
                if cd["flags"] & 0x01:  # SC_WRITE_METHOD: custom data up to TC_ENDBLOCKDATA
                    self.block_data()
            return None
        if tc == 0x75:  # TC_ARRAY
            desc = self.content()
            self.handles.append(None)
            n = self.u4()
            name = desc.get("name", "") if isinstance(desc, dict) else ""
            elem = name[1:2]
            sizes = {"B": 1, "Z": 1, "C": 2, "S": 2, "I": 4, "F": 4, "J": 8, "D": 8}
            if elem in sizes:
                raw = self.take(n * sizes[elem])
                if elem == "B":
                    self.byte_arrays.append(raw)
            else:
                for _ in range(min(n, 10_000)):
                    self.content()
            return None
        if tc == 0x77:  # TC_BLOCKDATA
            self.take(self.u1())
            return None
        if tc == 0x7A:  # TC_BLOCKDATALONG
            self.take(self.u4())
            return None
        if tc == 0x7E:  # TC_ENUM
            self.content()
            self.handles.append(None)
            self.content()
            return None
        if tc == 0x76:  # TC_CLASS
            self.content()
            self.handles.append(None)
            return None
        raise DerError(f"unsupported Java serialization element 0x{tc:02x}")

    def class_desc_body(self) -> dict[str, Any]:
        name = self.utf()
        self.take(8)  # serialVersionUID
        desc: dict[str, Any] = {"name": name, "fields": []}
        self.handles.append(desc)
        desc["flags"] = self.u1()
        for _ in range(self.u2()):
            typecode = chr(self.u1())
            fname = self.utf()
            if typecode in "[L":
                self.content()  # class name string
            desc["fields"].append((typecode, fname))
        self.block_data()  # class annotation
        desc["super"] = self.content()
        return desc

    def block_data(self) -> None:
        for _ in range(10_000):
            if self.d[self.p:self.p + 1] == b"\x78":  # TC_ENDBLOCKDATA
                self.p += 1
                return
            self.content()
        raise DerError("unterminated block data")

    def value(self, typecode: str) -> None:
        sizes = {"B": 1, "Z": 1, "C": 2, "S": 2, "I": 4, "F": 4, "J": 8, "D": 8}
        if typecode in sizes:
            self.take(sizes[typecode])
        else:
            self.content()


def _keystore(out: _Out, data: bytes) -> None:
    """JKS (magic 0xFEEDFEED) / JCEKS (0xCECECECE) public structure; see the module docstring."""
    path = out.path
    jceks = data[:4] == b"\xce\xce\xce\xce"
    fmt = "JCEKS" if jceks else "JKS"
    p = 4

    def take(n: int) -> bytes:
        nonlocal p
        if n < 0 or p + n > len(data):
            raise DerError(f"{fmt} entry runs past the end of the file", truncated=True)
        out_ = data[p:p + n]
        p += n
        return out_

    def u4() -> int:
        return int(struct.unpack(">I", take(4))[0])

    def utf() -> str:
        return take(int(struct.unpack(">H", take(2))[0])).decode("utf-8", "replace")

    try:
        version = u4()
        if version not in (1, 2):
            raise DerError(f"unknown {fmt} version {version}")
        count = u4()
        if count > MAX_OBJECTS:
            raise DerError(f"{count} entries (bound {MAX_OBJECTS})")
        for _ in range(count):
            tag = u4()
            alias = utf()
            millis = struct.unpack(">q", take(8))[0]
            try:
                created: str | None = datetime.fromtimestamp(millis / 1000, UTC).isoformat()
            except (ValueError, OverflowError, OSError):
                created = None
            meta = {"format": fmt, "alias": alias, "created": created}
            if tag == 1:
                key_der = take(u4())
                chain: list[bytes] = []
                for _c in range(u4()):
                    if version == 2:
                        utf()  # certificate type, "X.509"
                    chain.append(take(u4()))
                facts = None
                if chain:
                    try:
                        facts = spki_facts(_tbs_spki(chain[0]))
                    except (DerError, IndexError):
                        facts = None
                _encrypted_pkcs8(out, key_der, fmt, "keystore private key entry",
                                 {**meta, "chain_length": len(chain)}, facts)
                for i, c in enumerate(chain):
                    try:
                        out.add(certificate_findings(path, c, fmt, {**meta, "entry": "private key chain",
                                                                     "chain_index": i}))
                    except ValueError as exc:
                        out.problem("file-bad-certificate", f"{fmt} alias {alias!r} chain[{i}]: {exc}")
            elif tag == 2:
                if version == 2:
                    utf()
                c = take(u4())
                try:
                    out.add(certificate_findings(path, c, fmt, {**meta, "entry": "trusted certificate"}))
                except ValueError as exc:
                    out.problem("file-bad-certificate", f"{fmt} alias {alias!r}: {exc}")
            elif tag == 3 and jceks:
                js = _JavaStream(data, p)
                js.read_stream()
                p = js.p
                seal = next((s for s in js.strings if s.startswith("PBE")), "")
                detail: dict[str, Any] = {**meta, "sealed_with": seal, "encrypted": True}
                for arr in js.byte_arrays:  # encodedParams: PBEParameter { salt, iterationCount }
                    try:
                        kp = children(read_tlv(arr))
                        if len(kp) == 2 and kp[0].tag == 0x04 and kp[1].tag == 0x02:
                            detail["iterations"] = int_of(kp[1])
                            break
                    except DerError:
                        continue
                out.add([CryptoFinding("file", path, "key", "unknown", "", "keystore secret key entry", 1.0,
                                       {**detail, "note": "secret key algorithm is inside the sealed object"}),
                         CryptoFinding("file", path, "cipher", "3DES" if "TripleDES" in seal else (seal or "unknown"),
                                       "168" if "TripleDES" in seal else "", "keystore secret key entry encryption",
                                       1.0, detail)])
            else:
                raise DerError(f"unknown {fmt} entry tag {tag}")
        digest = take(20)
        out.container.append(CryptoFinding("file", path, "hash", "SHA-1", "", "keystore integrity", 1.0,
                                           {"format": fmt, "version": version, "entries": count,
                                            "scheme": "SHA-1 over password + 'Mighty Aphrodite' + contents",
                                            "digest_hex": digest.hex()}))
    except DerError as exc:
        out.problem("file-bad-keystore", f"{fmt}: {'truncated: ' if exc.truncated else ''}{exc}")


# ----------------------------------------------------------------------------------------------- OpenSSH

_SSH_KEY_LINE = re.compile(
    rb"(?:^|[\s,])((?:ssh-(?:rsa|dss|ed25519|ed448)|ecdsa-sha2-[a-z0-9]+|sk-[a-z0-9@.\-]+|rsa-sha2-(?:256|512))"
    rb"(?:-cert-v01@openssh\.com)?)\s+(AAAA[0-9A-Za-z+/]+={0,3})(?:[ \t]+([^\r\n]*))?")


def _ssh_key_detail(hk: Any, extra: dict[str, Any]) -> dict[str, Any]:
    return {"ssh_type": hk.ssh_type, "fingerprint_sha256": hk.fingerprint_sha256, "certificate": hk.certificate,
            **extra}


def _openssh_public_lines(out: _Out, data: bytes, name: str) -> None:
    context = {"known_hosts": "ssh known host key", "authorized_keys": "ssh authorized key",
               "authorized_keys2": "ssh authorized key"}.get(name, "ssh public key")
    for lineno, line in enumerate(data.splitlines()[:MAX_OBJECTS * 10], start=1):
        if line.lstrip().startswith(b"#"):
            continue
        m = _SSH_KEY_LINE.search(line)
        if not m:
            continue
        try:
            blob = base64.b64decode(m.group(2), validate=True)
            hk = parse_host_key_blob(blob)
        except (binascii.Error, SshProblem) as exc:
            out.problem("file-bad-openssh-key", f"line {lineno}: {exc}")
            continue
        if hk.ssh_type != m.group(1).decode():
            out.problem("file-bad-openssh-key", f"line {lineno}: key type {m.group(1).decode()!r} but blob says "
                                                f"{hk.ssh_type!r}")
            continue
        comment = (m.group(3) or b"").decode("utf-8", "replace").strip()
        ctx = context + (" certificate" if hk.certificate else "")
        out.add([_key_finding(out.path, KeyFacts(hk.algorithm, hk.parameter), ctx,
                              _ssh_key_detail(hk, {"format": "OpenSSH public key", "line": lineno,
                                                   "comment": comment[:200]}))])


def _openssh_private(out: _Out, der: bytes) -> None:
    """The ``openssh-key-v1`` container (OpenSSH PROTOCOL.key)."""
    magic = b"openssh-key-v1\x00"
    if not der.startswith(magic):
        out.problem("file-bad-openssh-key", "OPENSSH PRIVATE KEY without the openssh-key-v1 magic")
        return
    p = len(magic)

    def string() -> bytes:
        nonlocal p
        if p + 4 > len(der):
            raise DerError("truncated", truncated=True)
        n = int(struct.unpack(">I", der[p:p + 4])[0])
        if p + 4 + n > len(der):
            raise DerError("truncated", truncated=True)
        v = der[p + 4:p + 4 + n]
        p += 4 + n
        return v

    try:
        cipher = string().decode("ascii", "replace")
        kdf = string().decode("ascii", "replace")
        kdf_opts = string()
        if p + 4 > len(der):
            raise DerError("truncated", truncated=True)
        n_keys = int(struct.unpack(">I", der[p:p + 4])[0])
        p += 4
        if n_keys > 64:
            raise DerError(f"{n_keys} keys")
        blobs = [string() for _ in range(n_keys)]
    except DerError as exc:
        out.problem("file-bad-openssh-key", f"openssh-key-v1 header: {exc}")
        return
    detail: dict[str, Any] = {"format": "openssh-key-v1", "cipher": cipher, "kdf": kdf, "encrypted": cipher != "none"}
    if kdf == "bcrypt" and len(kdf_opts) >= 8:
        salt_len = int(struct.unpack(">I", kdf_opts[:4])[0])
        if 4 + salt_len + 4 <= len(kdf_opts):
            detail["rounds"] = int(struct.unpack(">I", kdf_opts[4 + salt_len:8 + salt_len])[0])
            detail["salt_bytes"] = salt_len
    for blob in blobs:
        try:
            hk = parse_host_key_blob(blob)
        except SshProblem as exc:
            out.problem("file-bad-openssh-key", f"public key in openssh-key-v1: {exc.message}")
            continue
        obj = [_key_finding(out.path, KeyFacts(hk.algorithm, hk.parameter), "ssh private key",
                            _ssh_key_detail(hk, detail))]
        if cipher != "none":
            c = canonical_cipher(cipher)
            obj.append(CryptoFinding("file", out.path, "cipher", c.algorithm, c.parameter,
                                     "ssh private key encryption", 1.0, {**detail, **c.facts}))
            obj.append(CryptoFinding("file", out.path, "kdf", "bcrypt-pbkdf" if kdf == "bcrypt" else kdf, "",
                                     "ssh private key encryption kdf", 1.0, detail))
        out.add(obj)


_SSH2_BEGIN = re.compile(rb"---- BEGIN SSH2 PUBLIC KEY ----\r?\n")


def _ssh2_public(out: _Out, data: bytes) -> None:
    """RFC 4716 public-key blocks (``ssh-keygen -e``)."""
    for _label, block in _blocks(data, _SSH2_BEGIN, b"---- END SSH2 PUBLIC KEY ----", out, "SSH2 PUBLIC KEY"):
        lines = block.splitlines()
        body: list[bytes] = []
        cont = False
        for ln in lines:
            if cont:
                cont = ln.endswith(b"\\")
                continue
            if b":" in ln and not body:
                cont = ln.endswith(b"\\")
                continue
            body.append(ln.strip())
        try:
            hk = parse_host_key_blob(base64.b64decode(b"".join(body), validate=True))
        except (binascii.Error, SshProblem) as exc:
            out.problem("file-bad-openssh-key", f"SSH2 PUBLIC KEY block: {exc}")
            continue
        out.add([_key_finding(out.path, KeyFacts(hk.algorithm, hk.parameter), "ssh public key",
                              _ssh_key_detail(hk, {"format": "RFC 4716 SSH2 public key"}))])


_PPK = re.compile(rb"^PuTTY-User-Key-File-(\d): *(\S+)\r?\nEncryption: *(\S+)\r?\n(.*?)Public-Lines: *(\d+)\r?\n",
                  re.S | re.M)


def _putty(out: _Out, data: bytes) -> None:
    m = _PPK.search(data)
    if not m:
        return
    version, enc = m.group(1).decode(), m.group(3).decode()
    n_lines = min(int(m.group(5)), 1000)
    body = data[m.end():].splitlines()[:n_lines]
    detail: dict[str, Any] = {"format": f"PuTTY PPK v{version}", "encrypted": enc != "none", "cipher": enc}
    kdf_m = re.search(rb"^Key-Derivation: *(\S+)", data, re.M)
    try:
        hk = parse_host_key_blob(base64.b64decode(b"".join(x.strip() for x in body), validate=True))
    except (binascii.Error, SshProblem) as exc:
        out.problem("file-bad-openssh-key", f"PuTTY key public lines: {exc}")
        return
    obj = [_key_finding(out.path, KeyFacts(hk.algorithm, hk.parameter), "ssh private key",
                        _ssh_key_detail(hk, detail))]
    if enc != "none":
        c = canonical_cipher(enc)
        obj.append(CryptoFinding("file", out.path, "cipher", c.algorithm, c.parameter, "ssh private key encryption",
                                 1.0, {**detail, **c.facts}))
        kdf = kdf_m.group(1).decode() if kdf_m else "PuTTY-v2-KDF"
        obj.append(CryptoFinding("file", out.path, "kdf", kdf, "" if kdf_m else "SHA-1",
                                 "ssh private key encryption kdf", 1.0, detail))
    out.add(obj)


# ----------------------------------------------------------------------------------------------- JWK

def _b64url_bytes(v: Any) -> int:
    """Length in bytes of a base64url member (0 when absent or unreadable)."""
    if not isinstance(v, str):
        return 0
    try:
        return len(base64.urlsafe_b64decode(v + "=" * (-len(v) % 4)))
    except (binascii.Error, ValueError):
        return 0


def _b64url_len(v: Any) -> int | None:
    if not isinstance(v, str):
        return None
    try:
        raw = base64.urlsafe_b64decode(v + "=" * (-len(v) % 4))
    except (binascii.Error, ValueError):
        return None
    return int.from_bytes(raw, "big").bit_length() if raw else 0


def _jwk(out: _Out, doc: Any) -> bool:
    """JWK / JWK Set (RFC 7517 §4, §5; RFC 7518 §6; RFC 8037). Returns whether ``doc`` looked like one."""
    keys: list[Any]
    if isinstance(doc, dict) and isinstance(doc.get("keys"), list):
        keys = doc["keys"][:MAX_OBJECTS]
        fmt = "JWKS"
    elif isinstance(doc, dict) and "kty" in doc:
        keys = [doc]
        fmt = "JWK"
    else:
        return False
    for i, k in enumerate(keys):
        if not isinstance(k, dict) or not isinstance(k.get("kty"), str):
            out.problem("file-bad-jwk", f"{fmt} key {i}: no 'kty'")
            continue
        kty, alg, crv = k["kty"], str(k.get("alg", "")), str(k.get("crv", ""))
        private = any(m in k for m in ("d", "p", "q", "dp", "dq", "qi", "priv"))
        detail: dict[str, Any] = {"format": fmt, "kty": kty, "alg": alg, "crv": crv, "kid": k.get("kid"),
                                  "use": k.get("use"), "private": private}
        primitive: Primitive = "key"
        if kty == "RSA":
            bits = _b64url_len(k.get("n"))
            facts = KeyFacts("RSA", str(bits) if bits else "")
            if bits is None:
                out.problem("file-bad-jwk", f"{fmt} key {i}: RSA key without a readable 'n'")
                continue
        elif kty == "EC":
            name = {"P-256": "P-256", "P-384": "P-384", "P-521": "P-521", "secp256k1": "secp256k1"}.get(crv, crv)
            facts = KeyFacts("ECDH" if alg.startswith("ECDH") else "ECDSA", name)
        elif kty == "OKP":
            facts = KeyFacts(crv or "unknown", "")
        elif kty == "AKP":  # algorithm key pair: ML-DSA (draft-ietf-cose-dilithium / RFC 9964)
            m = re.fullmatch(r"ML-(DSA|KEM)-(\d+)", alg)
            facts = KeyFacts(f"ML-{m.group(1)}", m.group(2)) if m else KeyFacts(alg or "unknown", "")
        elif kty == "oct":
            raw_bits = _b64url_bytes(k.get("k")) * 8
            detail["key_bits"] = raw_bits
            if alg.startswith("HS"):
                primitive = "mac"
                facts = KeyFacts("HMAC", f"SHA-{alg[2:]}")
            elif re.fullmatch(r"A(128|192|256)(GCM|KW|GCMKW|CBC-HS\d+)", alg):
                primitive = "cipher"
                facts = KeyFacts("AES", str(raw_bits) if raw_bits else alg[1:4])
            else:
                facts = KeyFacts("symmetric", str(raw_bits) if raw_bits else "")
            private = True
            detail["private"] = True
        else:
            facts = KeyFacts(kty, "", {"unrecognised": True})
        ctx = "jwk private key" if private else "jwk public key"
        if kty == "oct":
            ctx = "jwk secret key"
        f = _key_finding(out.path, facts, ctx, detail)
        out.add([replace(f, primitive=primitive)])
    return True


# ----------------------------------------------------------------------------------------------- PEM

_PEM_BEGIN = re.compile(rb"-----BEGIN ([A-Z0-9 #/]{1,64})-----")


def _blocks(data: bytes, begin: re.Pattern[bytes], end_marker: bytes, out: _Out, what: str) -> Iterator[
        tuple[bytes, bytes]]:
    """(label, body) of each BEGIN … END block, in linear time: a label whose END line is missing is searched
    for once, and every further BEGIN of it is reported together."""
    pos = 0
    missing: dict[bytes, int] = {}
    count = 0
    while count < MAX_OBJECTS:
        m = begin.search(data, pos)
        if not m:
            break
        label = m.group(1) if m.groups() else b""
        pos = m.end()
        if label in missing:
            missing[label] += 1
            continue
        end = data.find(end_marker.replace(b"%s", label), pos)
        if end < 0:
            missing[label] = 1
            continue
        count += 1
        yield label, data[pos:end]
        pos = end
    for label, n in missing.items():
        name = label.decode("ascii", "replace") or what
        out.problem("file-bad-pem", f"{n} BEGIN {name} line(s) without a matching END line")


def _pem_body(block: bytes) -> tuple[dict[str, str], bytes]:
    """Split RFC 1421-style headers from the base64 body and decode it strictly (RFC 7468 §3)."""
    text = block.replace(b"\r", b"")
    headers: dict[str, str] = {}
    lines = text.strip(b"\n").split(b"\n")
    if lines and b":" in lines[0]:
        while lines and lines[0].strip():
            k, _, v = lines.pop(0).partition(b":")
            headers[k.strip().decode("ascii", "replace")] = v.strip().decode("ascii", "replace")
    body = b"".join(x.strip() for x in lines)
    return headers, base64.b64decode(body, validate=True)


def _pem(out: _Out, data: bytes) -> None:
    for raw_label, body in _blocks(data, _PEM_BEGIN, b"-----END %s-----", out, "PEM"):
        label = raw_label.decode("ascii")
        try:
            headers, der = _pem_body(body)
        except (binascii.Error, ValueError) as exc:
            out.problem("file-bad-pem", f"{label} block: invalid base64 body ({exc})")
            continue
        fmt = f"PEM {label}"
        try:
            _pem_block(out, label, headers, der, fmt)
        except DerError as exc:
            code = "file-truncated-der" if exc.truncated else "file-bad-der"
            out.problem(code, f"{fmt}: {exc}")
        except FileProblem as exc:
            out.problem(exc.code, exc.message)


def _pem_block(out: _Out, label: str, headers: dict[str, str], der: bytes, fmt: str) -> None:
    if label in ("CERTIFICATE", "X509 CERTIFICATE", "TRUSTED CERTIFICATE"):
        cert_t = read_tlv(der)
        _parse_der(out, der[:cert_t.end], fmt, "certificate")
    elif label in ("CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST"):
        _parse_der(out, der, fmt, "csr")
    elif label == "X509 CRL":
        _parse_der(out, der, fmt, "crl")
    elif label == "PRIVATE KEY":
        read_tlv(der)
        _parse_der(out, der, fmt, "pkcs8")
    elif label == "ENCRYPTED PRIVATE KEY":
        read_tlv(der)
        _encrypted_pkcs8(out, der, fmt, "private key")
    elif label in ("RSA PRIVATE KEY", "EC PRIVATE KEY", "DSA PRIVATE KEY"):
        alg = {"RSA": "RSA", "EC": "ECDSA", "DSA": "DSA"}[label.split()[0]]
        if "ENCRYPTED" in headers.get("Proc-Type", ""):
            cipher_name = headers.get("DEK-Info", "").split(",")[0]
            m = re.fullmatch(r"(AES|CAMELLIA|ARIA)-(\d+)-(\w+)", cipher_name)
            table = {"DES-EDE3-CBC": ("3DES", "168", "CBC"), "DES-CBC": ("DES", "56", "CBC")}
            cipher = (m.group(1).capitalize() if m.group(1) != "AES" else "AES", m.group(2), m.group(3)) if m \
                else table.get(cipher_name, (cipher_name or "unknown", "", ""))
            detail = {"format": fmt, "encrypted": True, "dek_info": cipher_name, "scheme": "RFC 1421 legacy PEM"}
            out.add([_key_finding(out.path, KeyFacts(alg, "", {"note": "size not readable while encrypted"}),
                                  "private key", detail),
                     CryptoFinding("file", out.path, "cipher", cipher[0], cipher[1], "private key encryption", 1.0,
                                   {**detail, "mode": cipher[2]}),
                     CryptoFinding("file", out.path, "kdf", "EVP_BytesToKey", "MD5", "private key encryption kdf",
                                   1.0, {**detail, "iterations": 1})])
            return
        read_tlv(der)
        kind = {"RSA": "rsa-private", "EC": "ec-private", "DSA": "dsa-private"}[label.split()[0]]
        _parse_der(out, der, fmt, kind)
    elif label == "PUBLIC KEY":
        read_tlv(der)
        _parse_der(out, der, fmt, "spki")
    elif label == "RSA PUBLIC KEY":
        read_tlv(der)
        _parse_der(out, der, fmt, "rsa-public")
    elif label in ("PKCS7", "CMS", "PKCS #7 SIGNED DATA"):
        read_tlv(der)
        _pkcs7(out, der, fmt)
    elif label == "OPENSSH PRIVATE KEY":
        _openssh_private(out, der)
    elif label in ("DH PARAMETERS", "X9.42 DH PARAMETERS"):
        # PKCS#3 DHParameter / X9.42 DomainParameters: the prime comes first
        bits = str(int_of(children(read_tlv(der))[0]).bit_length())
        out.add([CryptoFinding("file", out.path, "key-exchange", "DH", bits, "dh parameters", 1.0, {"format": fmt})])
    elif label == "EC PARAMETERS":
        return
    else:
        raise FileProblem("file-unsupported-pem", f"PEM label {label!r} is not inventoried")


# --------------------------------------------------------------------------------------------------------
# Walking and dispatch
# --------------------------------------------------------------------------------------------------------

def _crypto_named(p: Path) -> bool:
    return p.suffix.lower() in CRYPTO_SUFFIXES or p.name in CRYPTO_NAMES


def _walk(paths: Sequence[Path], problems: list[str], max_files: int) -> Iterator[Path]:
    """Regular files under ``paths``: symlinks followed, directory loops and repeated files skipped, bounded."""
    seen_dirs: set[tuple[int, int]] = set()
    seen_files: set[tuple[int, int]] = set()
    count = 0
    for root in paths:
        try:
            st = root.stat()
        except FileNotFoundError:
            problems.append(f"file-not-found: {root}: no such file or directory")
            continue
        except OSError as exc:
            problems.append(f"file-unreadable: {root}: {exc.strerror or exc}")
            continue
        stack: list[tuple[Path, int]] = [(root, 0)]
        while stack:
            p, depth = stack.pop()
            try:
                st = p.stat()
            except OSError as exc:
                problems.append(f"file-unreadable: {p}: {exc.strerror or exc}")
                continue
            ident = (st.st_dev, st.st_ino)
            if stat.S_ISDIR(st.st_mode):
                if ident in seen_dirs:
                    problems.append(f"file-symlink-loop: {p}: directory already visited; skipped")
                    continue
                seen_dirs.add(ident)
                if depth >= MAX_DEPTH:
                    problems.append(f"file-walk-limit: {p}: deeper than {MAX_DEPTH} levels; skipped")
                    continue
                try:
                    entries = sorted(os.scandir(p), key=lambda e: e.name)
                except OSError as exc:
                    problems.append(f"file-unreadable: {p}: {exc.strerror or exc}")
                    continue
                stack.extend((Path(e.path), depth + 1) for e in reversed(entries))
            elif stat.S_ISREG(st.st_mode):
                if ident in seen_files:
                    continue
                seen_files.add(ident)
                count += 1
                if count > max_files:
                    problems.append(f"file-walk-limit: {p}: more than {max_files} files; the rest skipped")
                    return
                yield p


def scan_file_bytes(path: str, data: bytes, name: str = "") -> tuple[list[CryptoFinding], list[str]]:
    """Identify and inventory one file's content (``path`` is used for locations and problems only)."""
    out = _Out(path)
    suffix = os.path.splitext(name or path)[1].lower()
    crypto_named = suffix in CRYPTO_SUFFIXES or (name or os.path.basename(path)) in CRYPTO_NAMES
    head = data[:4096]
    is_text = b"\x00" not in head and _is_text(head)
    try:
        if data[:4] in (b"\xfe\xed\xfe\xed", b"\xce\xce\xce\xce"):
            _keystore(out, data)
        elif data[:1] == b"\x30" and not is_text:
            try:
                top = read_tlv(data)
                if top.end < len(data) - 2 and data[top.end:].strip(b"\r\n\x00 "):
                    raise DerError(f"{len(data) - top.end} bytes after the DER element")
                _parse_der(out, data[:top.end], "DER")
            except DerError as exc:
                if exc.truncated and (crypto_named or data[1:2] in (b"\x82", b"\x83", b"\x80")):
                    out.problem("file-truncated-der", f"DER: {exc}")
                elif crypto_named:
                    out.problem("file-bad-der", f"DER: {exc}")
            except FileProblem as exc:
                if crypto_named:
                    out.problem(exc.code, exc.message)
        elif is_text:
            _text(out, data, name or os.path.basename(path), suffix)
    except (DerError, IndexError, ValueError) as exc:  # a parser met something it did not expect
        out.problem("file-bad-der", f"{type(exc).__name__}: {exc}")
    if not out.objects and not out.container and not out.problems and crypto_named:
        kind = "text" if is_text else "binary"
        out.problem("file-unrecognised", f"{kind} content of no known certificate/key format "
                                         f"(name suggests one: {suffix or name})")
    _fill_signer_parameters(out.objects)
    findings = list(out.container)
    if len(out.objects) == 1:
        findings += out.objects[0]
    else:
        for i, obj in enumerate(out.objects):
            findings += [replace(f, location=f"{path}#{i}") for f in obj]
    return findings, out.problems


def _text(out: _Out, data: bytes, name: str, suffix: str) -> None:
    """Text content: PEM blocks, RFC 4716 blocks, PuTTY keys, OpenSSH key lines, JWK JSON."""
    if b"-----BEGIN " in data:
        _pem(out, data)
    if b"---- BEGIN SSH2 PUBLIC KEY ----" in data:
        _ssh2_public(out, data)
    if b"PuTTY-User-Key-File-" in data[:4096]:
        _putty(out, data)
    if _SSH_KEY_LINE.search(data):
        _openssh_public_lines(out, data, name)
    stripped = data.lstrip()
    if stripped[:1] in (b"{", b"[") and (b'"kty"' in data or suffix in (".jwk", ".jwks", ".json")):
        try:
            doc = json.loads(data)
        except (ValueError, RecursionError) as exc:
            if suffix in (".jwk", ".jwks") or b'"kty"' in data:
                out.problem("file-bad-jwk", f"not valid JSON: {exc}")
        else:
            if not _jwk(out, doc) and suffix in (".jwk", ".jwks"):
                out.problem("file-bad-jwk", "JSON without 'kty' or 'keys'")


def _is_text(b: bytes) -> bool:
    try:
        b.decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start > len(b) - 4  # a multi-byte character cut at the sniff boundary
    return True


def scan_files(paths: Sequence[Path], *, max_file_bytes: int = 10_000_000, max_files: int = MAX_FILES) -> ScanResult:
    """Inventory certificates, keys and keystores in ``paths`` (files or directories, walked recursively).

    Files larger than ``max_file_bytes`` are skipped with a ``file-too-large`` problem; FIFOs, sockets and
    devices are never opened. Never raises for file content: failures are ``problems``."""
    started = datetime.now(UTC)
    t0 = time.monotonic()
    findings: list[CryptoFinding] = []
    problems: list[str] = []
    for p in _walk(paths, problems, max_files):
        try:
            size = p.stat().st_size
            if size > max_file_bytes:
                problems.append(f"file-too-large: {p}: {size} bytes over the {max_file_bytes}-byte limit; skipped")
                continue
            with open(p, "rb") as fh:
                data = fh.read(max_file_bytes + 1)
        except OSError as exc:
            problems.append(f"file-unreadable: {p}: {exc.strerror or exc}")
            continue
        if len(data) > max_file_bytes:
            problems.append(f"file-too-large: {p}: grew over the {max_file_bytes}-byte limit; skipped")
            continue
        try:
            f, pr = scan_file_bytes(str(p), data, p.name)
        except Exception as exc:  # one odd file must not stop an inventory of thousands
            problems.append(f"file-bad-der: {p}: unexpected {type(exc).__name__}: {exc}")
            continue
        findings += f
        problems += pr
    target = ", ".join(str(p) for p in paths)
    return ScanResult("file", target, tuple(findings), tuple(problems), started.isoformat(), time.monotonic() - t0, 0)
