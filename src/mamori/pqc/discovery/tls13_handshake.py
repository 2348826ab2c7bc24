"""A client-side TLS 1.3 handshake, run only as far as the server's CertificateVerify, to read the certificate
chain of a server whose key-exchange groups Python's ``ssl`` lacks (a post-quantum-only server).

The ClientHello carries one real key share for one group; the server's ServerHello share completes the key
exchange; the handshake traffic secret then decrypts EncryptedExtensions, Certificate and CertificateVerify.
Nothing is authenticated (an inventory reads what the server presents) and the connection is closed before the
client's Finished.

References: RFC 8446 §4.1.2–4.1.4 (hellos), §4.2.8 (key_share), §4.4.2 (Certificate), §5.2–5.3 (record
protection, per-record nonce), §7.1 (key schedule), §7.3 (traffic keys); RFC 5869 (HKDF); RFC 7748 (X25519,
X448); RFC 8446 §4.2.8.2 (uncompressed NIST curve points); FIPS 203 (ML-KEM); draft-ietf-tls-ecdhe-mlkem
(hybrid share layouts: X25519MLKEM768 = ML-KEM first; SecP256r1MLKEM768 / SecP384r1MLKEM1024 = ECDH first) and
draft-ietf-tls-mlkem (pure ML-KEM shares).
"""

from __future__ import annotations

import hashlib
import hmac
import socket
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, mlkem, x448, x25519
from cryptography.hazmat.primitives.ciphers.aead import AESCCM, AESGCM, ChaCha20Poly1305

from mamori.pqc.discovery import tls_wire as w

_ML_KEM_768_EK, _ML_KEM_768_CT = 1184, 1088
_ML_KEM_1024_EK, _ML_KEM_1024_CT = 1568, 1568
_P256_POINT, _P384_POINT, _P521_POINT = 65, 97, 133

OWN_HANDSHAKE_GROUPS: tuple[int, ...] = (0x11EC, 0x11EB, 0x11ED, 0x0201, 0x0202, 29, 23, 24, 25, 30)
"""Groups this module can complete (``cryptography`` has no ML-KEM-512 and no FFDHE here)."""


@dataclass
class _Share:
    public: bytes
    finish: Callable[[bytes], bytes]
    """Server share -> shared secret."""


def _ecdh_share(curve: ec.EllipticCurve, point_len: int) -> tuple[bytes, Callable[[bytes], bytes]]:
    priv = ec.generate_private_key(curve)
    pub = priv.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)

    def finish(peer: bytes) -> bytes:
        if len(peer) != point_len:
            raise w.TLSDecodeError(f"ECDH share of {len(peer)} bytes, expected {point_len}")
        return priv.exchange(ec.ECDH(), ec.EllipticCurvePublicKey.from_encoded_point(curve, peer))
    return pub, finish


def _x25519_share() -> tuple[bytes, Callable[[bytes], bytes]]:
    priv = x25519.X25519PrivateKey.generate()

    def finish(peer: bytes) -> bytes:
        if len(peer) != 32:
            raise w.TLSDecodeError(f"X25519 share of {len(peer)} bytes")
        return priv.exchange(x25519.X25519PublicKey.from_public_bytes(peer))
    return priv.public_key().public_bytes_raw(), finish


def _x448_share() -> tuple[bytes, Callable[[bytes], bytes]]:
    priv = x448.X448PrivateKey.generate()

    def finish(peer: bytes) -> bytes:
        if len(peer) != 56:
            raise w.TLSDecodeError(f"X448 share of {len(peer)} bytes")
        return priv.exchange(x448.X448PublicKey.from_public_bytes(peer))
    return priv.public_key().public_bytes_raw(), finish


def _mlkem_share(size: int) -> tuple[bytes, Callable[[bytes], bytes]]:
    priv: mlkem.MLKEM768PrivateKey | mlkem.MLKEM1024PrivateKey
    if size == 768:
        priv, ct_len = mlkem.MLKEM768PrivateKey.generate(), _ML_KEM_768_CT
    else:
        priv, ct_len = mlkem.MLKEM1024PrivateKey.generate(), _ML_KEM_1024_CT

    def finish(ct: bytes) -> bytes:
        if len(ct) != ct_len:
            raise w.TLSDecodeError(f"ML-KEM-{size} ciphertext of {len(ct)} bytes, expected {ct_len}")
        return priv.decapsulate(ct)
    return priv.public_key().public_bytes_raw(), finish


def make_share(group: int) -> _Share:
    """A fresh client key share for ``group`` (one of :data:`OWN_HANDSHAKE_GROUPS`)."""
    if group == 29:
        return _Share(*_x25519_share())
    if group == 30:
        return _Share(*_x448_share())
    if group in (23, 24, 25):
        curve, n = {23: (ec.SECP256R1(), _P256_POINT), 24: (ec.SECP384R1(), _P384_POINT),
                    25: (ec.SECP521R1(), _P521_POINT)}[group]
        return _Share(*_ecdh_share(curve, n))
    if group in (0x0201, 0x0202):
        return _Share(*_mlkem_share(768 if group == 0x0201 else 1024))
    if group == 0x11EC:  # X25519MLKEM768: ML-KEM-768 first, then X25519 (both directions and the secret)
        k_pub, k_fin = _mlkem_share(768)
        x_pub, x_fin = _x25519_share()

        def fin_x(peer: bytes) -> bytes:
            if len(peer) != _ML_KEM_768_CT + 32:
                raise w.TLSDecodeError(f"X25519MLKEM768 share of {len(peer)} bytes, expected 1120")
            return k_fin(peer[:_ML_KEM_768_CT]) + x_fin(peer[_ML_KEM_768_CT:])
        return _Share(k_pub + x_pub, fin_x)
    if group in (0x11EB, 0x11ED):  # SecP256r1MLKEM768 / SecP384r1MLKEM1024: ECDH first
        curve, n, size, ct_len = ((ec.SECP256R1(), _P256_POINT, 768, _ML_KEM_768_CT) if group == 0x11EB
                                  else (ec.SECP384R1(), _P384_POINT, 1024, _ML_KEM_1024_CT))
        e_pub, e_fin = _ecdh_share(curve, n)
        k_pub, k_fin = _mlkem_share(size)

        def fin_e(peer: bytes) -> bytes:
            if len(peer) != n + ct_len:
                raise w.TLSDecodeError(f"{w.group_name(group)} share of {len(peer)} bytes, expected {n + ct_len}")
            return e_fin(peer[:n]) + k_fin(peer[n:])
        return _Share(e_pub + k_pub, fin_e)
    raise ValueError(f"no local implementation of group {w.group_name(group)}")


# RFC 8446 §7.1 key schedule -----------------------------------------------------------------------------

def _hkdf_extract(hash_name: str, salt: bytes, ikm: bytes) -> bytes:
    return hmac.new(salt, ikm, hash_name).digest()


def _hkdf_expand_label(hash_name: str, secret: bytes, label: str, context: bytes, length: int) -> bytes:
    full = b"tls13 " + label.encode()
    info = struct.pack("!H", length) + bytes([len(full)]) + full + bytes([len(context)]) + context
    out, block, counter = b"", b"", 1
    while len(out) < length:
        block = hmac.new(secret, block + info + bytes([counter]), hash_name).digest()
        out += block
        counter += 1
    return out[:length]


_SUITE_PARAMS: dict[int, tuple[str, int]] = {
    0x1301: ("sha256", 16), 0x1302: ("sha384", 32), 0x1303: ("sha256", 32), 0x1304: ("sha256", 16),
    0x1305: ("sha256", 16)}


def server_handshake_keys(suite: int, shared: bytes, transcript: bytes) -> tuple[bytes, bytes]:
    """(key, iv) protecting the server's handshake flight: ``s hs traffic`` (RFC 8446 §7.1, §7.3)."""
    hash_name, key_len = _SUITE_PARAMS[suite]
    hlen = hashlib.new(hash_name).digest_size
    early = _hkdf_extract(hash_name, bytes(hlen), bytes(hlen))
    derived = _hkdf_expand_label(hash_name, early, "derived", hashlib.new(hash_name, b"").digest(), hlen)
    handshake_secret = _hkdf_extract(hash_name, derived, shared)
    s_hs = _hkdf_expand_label(hash_name, handshake_secret, "s hs traffic",
                              hashlib.new(hash_name, transcript).digest(), hlen)
    return (_hkdf_expand_label(hash_name, s_hs, "key", b"", key_len),
            _hkdf_expand_label(hash_name, s_hs, "iv", b"", 12))


class _DecryptingReader:
    """Record source yielding decrypted TLSInnerPlaintext (RFC 8446 §5.2) after the ServerHello."""

    def __init__(self, records: w.RecordReader, suite: int, key: bytes, iv: bytes) -> None:
        self.records, self.iv, self.seq = records, iv, 0
        self.aead: AESGCM | ChaCha20Poly1305 | AESCCM
        if suite in (0x1301, 0x1302):
            self.aead = AESGCM(key)
        elif suite == 0x1303:
            self.aead = ChaCha20Poly1305(key)
        else:
            self.aead = AESCCM(key, tag_length=8 if suite == 0x1305 else 16)

    def read_record(self) -> tuple[int, bytes]:
        while True:
            ctype, payload = self.records.read_record()
            if ctype == w.CT_CHANGE_CIPHER_SPEC:  # middlebox compatibility (RFC 8446 §D.4)
                continue
            if ctype == w.CT_ALERT:
                raise w.parse_alert(payload)
            if ctype != w.CT_APPLICATION_DATA:
                raise w.TLSDecodeError(f"unprotected record type {ctype} after the ServerHello")
            if len(payload) > 2**14 + 256:
                raise w.TLSDecodeError("protected record exceeds 2^14+256 bytes")
            nonce = bytes(a ^ b for a, b in zip(self.iv, self.seq.to_bytes(12, "big"), strict=True))
            aad = struct.pack("!BHH", w.CT_APPLICATION_DATA, 0x0303, len(payload))
            try:
                inner = self.aead.decrypt(nonce, payload, aad)
            except InvalidTag:
                raise w.TLSDecodeError("record does not decrypt (key exchange or key schedule mismatch)") from None
            self.seq += 1
            stripped = inner.rstrip(b"\x00")
            if not stripped:
                raise w.TLSDecodeError("protected record without a content type")
            return stripped[-1], stripped[:-1]


@dataclass(frozen=True)
class OwnHandshakeResult:
    certificates: list[bytes]
    cipher_suite: int
    group: int
    signature_scheme: int | None


def fetch_certificates(sock: socket.socket, *, group: int, sni: str | None, deadline: float) -> OwnHandshakeResult:
    """Run a TLS 1.3 handshake with one key share for ``group`` on a connected socket and return the server's
    certificate chain (and the CertificateVerify signature scheme). Raises :class:`tls_wire.TLSProbeError`."""
    share = make_share(group)
    hello = w.client_hello_body(versions=[w.TLS13], suites=list(w.TLS13_SUITES), groups=[group],
                                key_shares=[(group, share.public)], sni=sni)
    sock.settimeout(max(deadline - time.monotonic(), 0.001))
    sock.sendall(w.records(w.CT_HANDSHAKE, hello))
    records = w.RecordReader(sock, deadline)
    plain = w.HandshakeReader(records)
    mtype, body, raw = plain.next_message()
    if mtype != w.HS_SERVER_HELLO:
        raise w.TLSDecodeError(f"expected ServerHello, got handshake type {mtype}")
    sh = w.parse_server_hello(body, raw)
    if sh.is_hrr:
        raise w.TLSDecodeError(f"HelloRetryRequest for {w.group_name(sh.group or 0)} although it was offered")
    if sh.version != w.TLS13 or sh.group != group or sh.cipher_suite not in _SUITE_PARAMS:
        raise w.TLSDecodeError(f"unexpected ServerHello (version 0x{sh.version:04X}, group {sh.group}, "
                               f"suite 0x{sh.cipher_suite:04X})")
    if plain.buf:
        raise w.TLSDecodeError("handshake data after the ServerHello in the same record (RFC 8446 §5.1)")
    try:
        shared = share.finish(sh.key_exchange)
    except ValueError as exc:  # an invalid point, a low-order X25519 key...
        raise w.TLSDecodeError(f"server key share rejected: {exc}") from None
    key, iv = server_handshake_keys(sh.cipher_suite, shared, hello + raw)
    protected = w.HandshakeReader(_DecryptingReader(records, sh.cipher_suite, key, iv))
    certs: list[bytes] = []
    while True:
        mtype, body, _ = protected.next_message()
        if mtype == w.HS_CERTIFICATE:
            certs = w.parse_certificate_tls13(body)
        elif mtype == w.HS_CERTIFICATE_VERIFY:
            scheme = w.Buf(body, "CertificateVerify").u16()
            return OwnHandshakeResult(certs, sh.cipher_suite, group, scheme)
        elif mtype == w.HS_FINISHED:  # PSK-only or raw-key servers send no CertificateVerify
            return OwnHandshakeResult(certs, sh.cipher_suite, group, None)
        elif mtype not in (w.HS_ENCRYPTED_EXTENSIONS, w.HS_CERTIFICATE_REQUEST):
            raise w.TLSDecodeError(f"unexpected handshake message type {mtype} in the server's flight")
