"""SSH server discovery: what a server offers for key exchange, host keys, ciphers and MACs, and which host
keys it actually holds.

Protocol (RFC 4253, the SSH transport layer):

1. Connect, send our identification string and read the server's (§4.2). The server may send other lines
   before its ``SSH-2.0-...`` line; they are bounded (64 lines, 1,024 bytes each) and kept in ``detail``.
   ``SSH-1.99`` counts as 2.0 (§5.1); ``SSH-1.x`` is reported as a problem.
2. Read binary packets (§6: ``uint32 packet_length, byte padding_length, payload, padding``; no MAC and no
   encryption before the first NEWKEYS) until the server's ``SSH_MSG_KEXINIT`` (§7.1). Lengths are bounded
   (``packet_length`` ≤ 65,536; name-lists inside the packet) and IGNORE/DEBUG packets are skipped.
3. Report the ten name-lists in the server's order: key exchange, host-key (signature) algorithms, ciphers
   and MACs in both directions. Names follow the RFC 4250 registry and OpenSSH's ``@openssh.com`` names.
4. For each distinct host-key *type* the server advertises (RSA, each ECDSA curve, Ed25519, Ed448, DSA,
   and the OpenSSH certificate variants), one more connection runs a real key exchange to learn the key:
   ``curve25519-sha256`` (RFC 8731: X25519, SHA-256 exchange hash) or, if the server does not offer it,
   ``ecdh-sha2-nistp256/384/521`` (RFC 5656 §4). ``SSH_MSG_KEX_ECDH_REPLY`` carries the host-key blob
   ``K_S`` (RFC 4253 §6.6, RFC 5656 §3.1, RFC 8709 for Ed25519/Ed448); the exchange hash ``H`` is computed
   and the server's signature over it verified with ``cryptography``, so a reported key is one the server
   proved it holds. The connection is then closed with ``SSH_MSG_DISCONNECT`` before NEWKEYS. Servers that
   offer only finite-field Diffie-Hellman key exchange get KEXINIT findings and a named problem.

Canonical naming (``CryptoFinding.algorithm`` / ``parameter``; the SSH name is kept in ``detail``):

* Key exchange: ``mlkem768x25519-sha256`` → ``X25519MLKEM768`` (the IANA TLS group name of the same
  X25519 + ML-KEM-768 hybrid, per the model's rule for hybrids), ``mlkem768nistp256-sha256`` →
  ``SecP256r1MLKEM768``, ``mlkem1024nistp384-sha384`` → ``SecP384r1MLKEM1024``, ``sntrup761x25519-sha512``
  (with or without ``@openssh.com``) → ``sntrup761x25519`` (no TLS name exists); ``curve25519-sha256``
  (also ``@libssh.org``) → ``X25519``; ``curve448-sha512`` → ``X448``; ``ecdh-sha2-nistp256`` → ``ECDH`` /
  ``P-256``; ``diffie-hellman-group14-sha256`` → ``DH`` / ``2048`` (the RFC 3526/8268 group size);
  ``diffie-hellman-group-exchange-*`` → ``DH`` with an empty parameter (the server picks the group);
  ``rsa2048-sha256`` (RFC 4432) → ``RSA`` / ``2048``. A hybrid's ``parameter`` is its post-quantum
  parameter set (``768``, ``1024``, ``761``), as the TLS scanner reports ``X25519MLKEM768`` / ``768``.
  ``detail["hash"]`` holds the exchange-hash function.
* Host-key algorithms: ``ssh-ed25519`` → ``Ed25519``, ``ecdsa-sha2-nistp256`` → ``ECDSA`` / ``P-256``,
  ``rsa-sha2-512`` → ``RSA`` (``detail["hash"] = "SHA-512"``; the size is only known from the key),
  ``ssh-rsa`` → ``RSA`` with SHA-1, ``ssh-dss`` → ``DSA``; ``*-cert-v01@openssh.com`` the same with
  ``detail["certificate"] = True``.
* Ciphers: ``AES`` / ``128|192|256`` (``detail["mode"]`` CTR, GCM or CBC), ``ChaCha20-Poly1305`` / ``256``,
  ``3DES`` / ``168``, ``RC4``, ``Blowfish``, ``CAST5``. MACs: ``HMAC`` / ``SHA-256`` (the hash as parameter;
  ``detail["etm"]`` for encrypt-then-MAC), ``UMAC`` / ``64|128``.
* Pseudo-algorithms (``kex-strict-s-v00@openssh.com``, ``ext-info-s``) are not findings; they are listed
  in the protocol finding's ``detail["kex_extensions"]``.

Findings that share a canonical name in the same list (``curve25519-sha256`` and its ``@libssh.org`` alias,
``aes128-ctr`` and ``aes128-gcm@openssh.com``) are merged into one finding whose ``detail["ssh_names"]`` and
``detail["server_order"]`` (1-based positions in the server's list) keep every SSH name. Ciphers and MACs
are listed once with ``detail["directions"]`` (``client-to-server``, ``server-to-client``).

Problems are ``"<code>: <host>:<port>: <message>"`` with codes ``ssh-connect-failed``, ``ssh-timeout``,
``ssh-closed``, ``ssh-no-identification``, ``ssh-bad-identification``, ``ssh-protocol-1``,
``ssh-bad-packet``, ``ssh-packet-too-large``, ``ssh-disconnected``, ``ssh-unexpected-message``,
``ssh-bad-kexinit``, ``ssh-hostkey-no-supported-kex``, ``ssh-hostkey-failed``, ``ssh-hostkey-bad-signature``.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import socket
import struct
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, padding, rsa, x25519
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from mamori.pqc.model import CryptoFinding, Primitive, ScanResult

__all__ = [
    "Canonical",
    "HostKey",
    "KexInit",
    "SshProblem",
    "canonical_cipher",
    "canonical_host_key_algorithm",
    "canonical_kex",
    "canonical_mac",
    "kexinit_findings",
    "parse_host_key_blob",
    "parse_kexinit",
    "scan_ssh",
]

CLIENT_IDENT = b"SSH-2.0-mamori_pqc_inventory"
MAX_PACKET = 65_536
"""Upper bound on ``packet_length`` we accept (RFC 4253 §6.1 requires 35,000 to be handled)."""
MAX_PRE_BANNER_LINES = 64
MAX_LINE = 1_024
MAX_SKIPPED_PACKETS = 16
MAX_HOST_KEY_PROBES = 8

MSG_DISCONNECT = 1
MSG_IGNORE = 2
MSG_UNIMPLEMENTED = 3
MSG_DEBUG = 4
MSG_KEXINIT = 20
MSG_KEX_ECDH_INIT = 30
MSG_KEX_ECDH_REPLY = 31

_KEX_EXTENSIONS = ("kex-strict-", "ext-info-")


# --------------------------------------------------------------------------------------------------------
# Canonical names
# --------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Canonical:
    """A canonical (algorithm, parameter) with SSH-specific facts for ``detail``."""

    algorithm: str
    parameter: str = ""
    facts: dict[str, Any] = field(default_factory=dict)
    known: bool = True


_DH_GROUP_BITS = {"1": "1024", "14": "2048", "15": "3072", "16": "4096", "17": "6144", "18": "8192"}
_ECDH_CURVES = {"nistp256": "P-256", "nistp384": "P-384", "nistp521": "P-521",
                "1.3.132.0.10": "secp256k1", "1.3.132.0.1": "sect163k1"}
_HASHES = {"sha1": "SHA-1", "sha256": "SHA-256", "sha384": "SHA-384", "sha512": "SHA-512", "md5": "MD5",
           "sha224": "SHA-224"}
_CURVE_HASH = {"P-256": "SHA-256", "P-384": "SHA-384", "P-521": "SHA-512"}


def canonical_kex(name: str) -> Canonical:
    """Canonical name of an SSH key-exchange method (RFC 4253 §8, RFC 4419, RFC 4432, RFC 5656 §6.3, RFC 8268,
    RFC 8731, draft-josefsson-ntruprime-ssh, draft-kampanakis-curdle-ssh-pq-ke)."""
    n = name.lower()
    base = n.split("@", 1)[0]
    hybrids = {
        "mlkem768x25519-sha256": ("X25519MLKEM768", "768", "SHA-256"),
        "mlkem768nistp256-sha256": ("SecP256r1MLKEM768", "768", "SHA-256"),
        "mlkem1024nistp384-sha384": ("SecP384r1MLKEM1024", "1024", "SHA-384"),
        "sntrup761x25519-sha512": ("sntrup761x25519", "761", "SHA-512"),
        "sntrup4591761x25519-sha512": ("sntrup4591761x25519", "4591761", "SHA-512"),
    }
    if base in hybrids:
        alg, param, h = hybrids[base]
        return Canonical(alg, param, {"hash": h, "post_quantum": True, "hybrid": True})
    if base in ("curve25519-sha256",):
        return Canonical("X25519", "", {"hash": "SHA-256", "post_quantum": False})
    if base == "curve448-sha512":
        return Canonical("X448", "", {"hash": "SHA-512", "post_quantum": False})
    if base.startswith("ecdh-sha2-"):
        curve = _ECDH_CURVES.get(base[len("ecdh-sha2-"):], base[len("ecdh-sha2-"):])
        return Canonical("ECDH", curve, {"hash": _CURVE_HASH.get(curve, ""), "post_quantum": False})
    if base.startswith("diffie-hellman-group-exchange-"):
        h = _HASHES.get(base.rsplit("-", 1)[-1], "")
        return Canonical("DH", "", {"hash": h, "group": "negotiated (RFC 4419)", "post_quantum": False})
    if base.startswith("diffie-hellman-group"):
        rest = base[len("diffie-hellman-group"):]
        num, _, h = rest.partition("-")
        if num in _DH_GROUP_BITS:
            return Canonical("DH", _DH_GROUP_BITS[num], {"hash": _HASHES.get(h, h.upper()), "post_quantum": False})
    if base in ("rsa1024-sha1", "rsa2048-sha256"):
        bits, _, h = base[3:].partition("-")
        return Canonical("RSA", bits, {"hash": _HASHES.get(h, ""), "post_quantum": False})
    if base.startswith("gss-"):
        return Canonical("GSS-API", "", {"post_quantum": False})
    return Canonical(name, "", {}, known=False)


def canonical_host_key_algorithm(name: str) -> Canonical:
    """Canonical name of an SSH public-key / signature algorithm (RFC 4253 §6.6, RFC 5656 §6.2, RFC 8332,
    RFC 8709, OpenSSH PROTOCOL.certkeys, PROTOCOL.u2f)."""
    n = name.lower()
    facts: dict[str, Any] = {}
    if n.endswith("-cert-v01@openssh.com"):
        facts["certificate"] = True
        n = n[: -len("-cert-v01@openssh.com")]
    if n.startswith("sk-"):
        facts["security_key"] = True
        n = n[3:].split("@", 1)[0]
    if n == "ssh-ed25519":
        return Canonical("Ed25519", "", facts)
    if n == "ssh-ed448":
        return Canonical("Ed448", "", facts)
    if n.startswith("ecdsa-sha2-"):
        curve = _ECDH_CURVES.get(n[len("ecdsa-sha2-"):], n[len("ecdsa-sha2-"):])
        return Canonical("ECDSA", curve, {**facts, "hash": _CURVE_HASH.get(curve, "")})
    if n in ("ssh-rsa", "rsa-sha2-256", "rsa-sha2-512", "rsa-sha2-256@openssh.com", "rsa-sha2-512@openssh.com"):
        h = {"ssh-rsa": "SHA-1"}.get(n, "SHA-512" if "512" in n else "SHA-256")
        return Canonical("RSA", "", {**facts, "hash": h})
    if n == "ssh-dss":
        return Canonical("DSA", "", {**facts, "hash": "SHA-1"})
    if n.startswith("x509v3-"):
        inner = canonical_host_key_algorithm(n[len("x509v3-"):])
        return Canonical(inner.algorithm, inner.parameter, {**inner.facts, "x509": True}, inner.known)
    return Canonical(name, "", facts, known=False)


def canonical_cipher(name: str) -> Canonical:
    """Canonical name of an SSH encryption algorithm (RFC 4253 §6.3, RFC 4344, RFC 5647, OpenSSH PROTOCOL)."""
    n = name.lower().split("@", 1)[0]
    if n == "chacha20-poly1305":
        return Canonical("ChaCha20-Poly1305", "256", {"aead": True})
    if n.startswith("aes") and "-" in n:
        bits, _, mode = n[3:].partition("-")
        if n == "aes128-gcm" or n == "aes256-gcm":
            return Canonical("AES", bits, {"mode": "GCM", "aead": True})
        if bits in ("128", "192", "256"):
            return Canonical("AES", bits, {"mode": mode.upper()})
    if n.startswith("rijndael"):
        return Canonical("AES", "256", {"mode": "CBC"})
    table = {"3des-cbc": ("3DES", "168", "CBC"), "3des-ctr": ("3DES", "168", "CTR"),
             "blowfish-cbc": ("Blowfish", "128", "CBC"), "blowfish-ctr": ("Blowfish", "256", "CTR"),
             "cast128-cbc": ("CAST5", "128", "CBC"), "arcfour": ("RC4", "128", "stream"),
             "arcfour128": ("RC4", "128", "stream"), "arcfour256": ("RC4", "256", "stream"),
             "des-cbc": ("DES", "56", "CBC"), "idea-cbc": ("IDEA", "128", "CBC"),
             "twofish-cbc": ("Twofish", "256", "CBC"), "twofish128-cbc": ("Twofish", "128", "CBC"),
             "twofish256-cbc": ("Twofish", "256", "CBC"), "serpent256-cbc": ("Serpent", "256", "CBC"),
             "none": ("none", "", "")}
    if n in table:
        alg, bits, mode = table[n]
        return Canonical(alg, bits, {"mode": mode} if mode else {})
    return Canonical(name, "", {}, known=False)


def canonical_mac(name: str) -> Canonical:
    """Canonical name of an SSH MAC algorithm (RFC 4253 §6.4, RFC 6668, RFC 4418 UMAC, OpenSSH ``-etm``)."""
    n = name.lower()
    etm = "-etm@openssh.com" in n
    n = n.replace("-etm@openssh.com", "").split("@", 1)[0]
    facts: dict[str, Any] = {"etm": etm}
    if n.startswith("hmac-"):
        rest = n[len("hmac-"):]
        truncated = rest.endswith("-96")
        rest = rest[:-3] if truncated else rest
        h = {"sha1": "SHA-1", "sha2-256": "SHA-256", "sha2-512": "SHA-512", "sha256": "SHA-256",
             "sha512": "SHA-512", "md5": "MD5", "ripemd160": "RIPEMD-160"}.get(rest)
        if h:
            if truncated:
                facts["tag_bits"] = 96
            return Canonical("HMAC", h, facts)
    if n.startswith("umac-"):
        return Canonical("UMAC", n[len("umac-"):], facts)
    if n == "none":
        return Canonical("none", "", facts)
    return Canonical(name, "", facts, known=False)


# --------------------------------------------------------------------------------------------------------
# Wire format
# --------------------------------------------------------------------------------------------------------

class SshProblem(Exception):
    """A named failure of one connection (``code`` is one of the module's problem codes)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class _Reader:
    """Bounded reader of SSH data types (RFC 4251 §5)."""

    def __init__(self, data: bytes, what: str = "ssh-bad-packet") -> None:
        self.data = data
        self.pos = 0
        self.what = what

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise SshProblem(self.what, f"field of {n} bytes runs past the end of a {len(self.data)}-byte structure")
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out

    def byte(self) -> int:
        return self.take(1)[0]

    def uint32(self) -> int:
        return int(struct.unpack(">I", self.take(4))[0])

    def string(self) -> bytes:
        return self.take(self.uint32())

    def mpint(self) -> int:
        return int.from_bytes(self.string(), "big", signed=True)

    def name_list(self) -> list[str]:
        raw = self.string()
        try:
            text = raw.decode("ascii")
        except UnicodeDecodeError as exc:
            raise SshProblem(self.what, "name-list is not US-ASCII (RFC 4251 §5)") from exc
        return [x for x in text.split(",") if x] if text else []

    def remaining(self) -> int:
        return len(self.data) - self.pos


def _string(b: bytes) -> bytes:
    return struct.pack(">I", len(b)) + b


def _mpint(v: int) -> bytes:
    if v == 0:
        return _string(b"")
    raw = v.to_bytes((v.bit_length() + 8) // 8, "big", signed=True)
    return _string(raw)


def _name_list(names: Sequence[str]) -> bytes:
    return _string(",".join(names).encode("ascii"))


@dataclass(frozen=True)
class KexInit:
    """The ten name-lists of ``SSH_MSG_KEXINIT`` (RFC 4253 §7.1), in the sender's order."""

    cookie: bytes
    kex_algorithms: tuple[str, ...]
    server_host_key_algorithms: tuple[str, ...]
    encryption_client_to_server: tuple[str, ...]
    encryption_server_to_client: tuple[str, ...]
    mac_client_to_server: tuple[str, ...]
    mac_server_to_client: tuple[str, ...]
    compression_client_to_server: tuple[str, ...]
    compression_server_to_client: tuple[str, ...]
    languages_client_to_server: tuple[str, ...]
    languages_server_to_client: tuple[str, ...]
    first_kex_packet_follows: bool


def parse_kexinit(payload: bytes) -> KexInit:
    """Parse an ``SSH_MSG_KEXINIT`` payload (message byte 20 first). Raises :class:`SshProblem`
    (``ssh-bad-kexinit``) on a malformed payload."""
    r = _Reader(payload, "ssh-bad-kexinit")
    if r.byte() != MSG_KEXINIT:
        raise SshProblem("ssh-bad-kexinit", "payload is not SSH_MSG_KEXINIT")
    cookie = r.take(16)
    ls = [tuple(r.name_list()) for _ in range(10)]
    follows = r.byte() != 0
    r.uint32()  # reserved
    return KexInit(cookie, ls[0], ls[1], ls[2], ls[3], ls[4], ls[5], ls[6], ls[7], ls[8], ls[9], follows)


def _encode_kexinit(k: KexInit) -> bytes:
    parts = [bytes([MSG_KEXINIT]), k.cookie]
    for lst in (k.kex_algorithms, k.server_host_key_algorithms, k.encryption_client_to_server,
                k.encryption_server_to_client, k.mac_client_to_server, k.mac_server_to_client,
                k.compression_client_to_server, k.compression_server_to_client, k.languages_client_to_server,
                k.languages_server_to_client):
        parts.append(_name_list(lst))
    parts.append(b"\x01" if k.first_kex_packet_follows else b"\x00")
    parts.append(b"\x00\x00\x00\x00")
    return b"".join(parts)


class _Conn:
    """One TCP connection with an overall deadline (every read is bounded in time and size)."""

    def __init__(self, host: str, port: int, timeout: float) -> None:
        self.host, self.port = host, port
        self.deadline = time.monotonic() + timeout
        self.timeout = timeout
        self.buf = b""
        try:
            self.sock = socket.create_connection((host, port), timeout=timeout)
        except TimeoutError as exc:
            raise SshProblem("ssh-timeout", f"TCP connect did not complete within {timeout:g} s") from exc
        except OSError as exc:
            raise SshProblem("ssh-connect-failed", f"{exc.strerror or exc}") from exc

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()

    def send(self, data: bytes) -> None:
        try:
            self.sock.settimeout(max(0.01, self.deadline - time.monotonic()))
            self.sock.sendall(data)
        except TimeoutError as exc:
            raise SshProblem("ssh-timeout", "send timed out") from exc
        except OSError as exc:
            raise SshProblem("ssh-closed", f"send failed: {exc.strerror or exc}") from exc

    def _fill(self, stage: str) -> None:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise SshProblem("ssh-timeout", f"no complete {stage} within {self.timeout:g} s")
        self.sock.settimeout(left)
        try:
            chunk = self.sock.recv(16_384)
        except TimeoutError as exc:
            raise SshProblem("ssh-timeout", f"no complete {stage} within {self.timeout:g} s") from exc
        except OSError as exc:
            raise SshProblem("ssh-closed", f"connection failed while reading the {stage}: {exc.strerror or exc}") \
                from exc
        if not chunk:
            raise SshProblem("ssh-closed", f"peer closed the connection before sending the {stage}")
        self.buf += chunk

    def read_exact(self, n: int, stage: str) -> bytes:
        while len(self.buf) < n:
            self._fill(stage)
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def read_line(self, stage: str) -> bytes:
        while True:
            idx = self.buf.find(b"\n")
            if idx >= 0:
                if idx + 1 > MAX_LINE:
                    raise SshProblem("ssh-bad-identification", f"line longer than {MAX_LINE} bytes")
                line, self.buf = self.buf[:idx + 1], self.buf[idx + 1:]
                return line.rstrip(b"\r\n")
            if len(self.buf) > MAX_LINE:
                raise SshProblem("ssh-bad-identification",
                                 f"{len(self.buf)} bytes without a line end (identification lines are at most "
                                 f"255 bytes, RFC 4253 §4.2): {self.buf[:40]!r}")
            self._fill(stage)


@dataclass
class _Session:
    conn: _Conn
    server_ident: bytes
    pre_banner: list[str]


def _open(host: str, port: int, timeout: float) -> _Session:
    conn = _Conn(host, port, timeout)
    try:
        conn.send(CLIENT_IDENT + b"\r\n")
        pre: list[str] = []
        while True:
            try:
                line = conn.read_line("identification string")
            except SshProblem as exc:
                if exc.code == "ssh-closed" and pre:
                    raise SshProblem("ssh-no-identification",
                                     f"peer sent {len(pre)} line(s) and closed without an SSH identification "
                                     f"string (first: {pre[0][:60]!r})") from exc
                raise
            if line.startswith(b"SSH-"):
                break
            if b"\x00" in line or sum(c < 0x20 and c != 0x09 for c in line) > 2:
                raise SshProblem("ssh-bad-identification",
                                 f"binary data instead of an identification string: {line[:40]!r}")
            if len(pre) >= MAX_PRE_BANNER_LINES:
                raise SshProblem("ssh-no-identification",
                                 f"more than {MAX_PRE_BANNER_LINES} lines without an SSH identification string "
                                 f"(first: {pre[0][:60]!r})")
            pre.append(line.decode("utf-8", "replace"))
        if len(line) > 253:
            raise SshProblem("ssh-bad-identification", "identification string longer than 255 bytes")
        try:
            text = line.decode("ascii")
        except UnicodeDecodeError as exc:
            raise SshProblem("ssh-bad-identification", f"identification string is not ASCII: {line[:60]!r}") from exc
        parts = text.split("-", 2)
        if len(parts) < 3 or not parts[2]:
            raise SshProblem("ssh-bad-identification", f"malformed identification string {text[:80]!r}")
        if parts[1] not in ("2.0", "1.99"):
            if parts[1].startswith("1."):
                raise SshProblem("ssh-protocol-1", f"server speaks only SSH protocol {parts[1]} ({text[:80]!r})")
            raise SshProblem("ssh-bad-identification", f"unknown protocol version in {text[:80]!r}")
        return _Session(conn, line, pre)
    except BaseException:
        conn.close()
        raise


def _read_packet(conn: _Conn, stage: str) -> bytes:
    """Read one unencrypted binary packet (RFC 4253 §6) and return its payload."""
    head = conn.read_exact(5, stage)
    length, pad = struct.unpack(">IB", head)
    if length > MAX_PACKET:
        raise SshProblem("ssh-packet-too-large", f"packet_length {length} over the {MAX_PACKET}-byte bound "
                                                 f"(first bytes {head!r}: not an SSH binary packet?)")
    if length < 5 or pad < 4 or pad >= length:
        raise SshProblem("ssh-bad-packet", f"invalid packet_length {length} / padding_length {pad}")
    body = conn.read_exact(length - 1, stage)
    return body[: length - 1 - pad]


def _next_message(conn: _Conn, stage: str) -> bytes:
    for _ in range(MAX_SKIPPED_PACKETS):
        payload = _read_packet(conn, stage)
        if not payload:
            raise SshProblem("ssh-bad-packet", "empty payload")
        kind = payload[0]
        if kind in (MSG_IGNORE, MSG_DEBUG, MSG_UNIMPLEMENTED):
            continue
        if kind == MSG_DISCONNECT:
            r = _Reader(payload[1:])
            try:
                reason = r.uint32()
                desc = r.string().decode("utf-8", "replace")
            except SshProblem:
                reason, desc = 0, ""
            raise SshProblem("ssh-disconnected", f"server sent SSH_MSG_DISCONNECT reason {reason}: {desc[:120]!r}")
        return payload
    raise SshProblem("ssh-bad-packet", f"more than {MAX_SKIPPED_PACKETS} IGNORE/DEBUG packets before the {stage}")


def _send_packet(conn: _Conn, payload: bytes) -> None:
    """Send an unencrypted binary packet: padding to a multiple of 8, at least 4 bytes (RFC 4253 §6)."""
    pad = 8 - ((5 + len(payload)) % 8)
    if pad < 4:
        pad += 8
    conn.send(struct.pack(">IB", 1 + len(payload) + pad, pad) + payload + os.urandom(pad))


def _read_kexinit(conn: _Conn) -> bytes:
    payload = _next_message(conn, "server KEXINIT")
    if payload[0] != MSG_KEXINIT:
        raise SshProblem("ssh-unexpected-message", f"expected SSH_MSG_KEXINIT (20), got message {payload[0]}")
    return payload


# --------------------------------------------------------------------------------------------------------
# Host keys
# --------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class HostKey:
    """A public key parsed from an SSH public-key blob."""

    ssh_type: str
    algorithm: str
    parameter: str
    fingerprint_sha256: str
    certificate: bool = False
    key: Any = None
    """The ``cryptography`` public key (None for key types it cannot represent)."""


_NIST_CURVES: dict[str, ec.EllipticCurve] = {"nistp256": ec.SECP256R1(), "nistp384": ec.SECP384R1(),
                                             "nistp521": ec.SECP521R1()}


def fingerprint(blob: bytes) -> str:
    """OpenSSH's ``SHA256:`` fingerprint of a public-key blob (base64 without padding)."""
    return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")


def parse_host_key_blob(blob: bytes) -> HostKey:
    """Parse an SSH public-key blob (RFC 4253 §6.6 ``ssh-rsa``/``ssh-dss``, RFC 5656 §3.1 ``ecdsa-sha2-*``,
    RFC 8709 ``ssh-ed25519``/``ssh-ed448``, OpenSSH PROTOCOL.certkeys ``*-cert-v01@openssh.com``, whose key
    fields follow the nonce). Raises :class:`SshProblem` (``ssh-bad-packet``) on a malformed blob."""
    r = _Reader(blob)
    ssh_type = r.string().decode("ascii", "replace")
    cert = ssh_type.endswith("-cert-v01@openssh.com")
    base = ssh_type[: -len("-cert-v01@openssh.com")] if cert else ssh_type
    if cert:
        r.string()  # nonce
    fp = fingerprint(blob)
    if base == "ssh-rsa":
        e, n = r.mpint(), r.mpint()
        if n <= 0 or e <= 0:
            raise SshProblem("ssh-bad-packet", "RSA key with a non-positive modulus or exponent")
        try:
            key: Any = rsa.RSAPublicNumbers(e, n).public_key()
        except ValueError:  # e.g. an even or oversized exponent: the size is still worth reporting
            key = None
        return HostKey(ssh_type, "RSA", str(n.bit_length()), fp, cert, key)
    if base.startswith("ecdsa-sha2-"):
        curve_id = r.string().decode("ascii", "replace")
        point = r.string()
        curve = _NIST_CURVES.get(curve_id)
        key = None
        if curve is not None:
            try:
                key = ec.EllipticCurvePublicKey.from_encoded_point(curve, point)
            except ValueError as exc:
                raise SshProblem("ssh-bad-packet", f"invalid {curve_id} point") from exc
        return HostKey(ssh_type, "ECDSA", _ECDH_CURVES.get(curve_id, curve_id), fp, cert, key)
    if base == "ssh-ed25519":
        pk = r.string()
        if len(pk) != 32:
            raise SshProblem("ssh-bad-packet", f"Ed25519 key of {len(pk)} bytes")
        return HostKey(ssh_type, "Ed25519", "", fp, cert, ed25519.Ed25519PublicKey.from_public_bytes(pk))
    if base == "ssh-ed448":
        pk = r.string()
        if len(pk) != 57:
            raise SshProblem("ssh-bad-packet", f"Ed448 key of {len(pk)} bytes")
        return HostKey(ssh_type, "Ed448", "", fp, cert, ed448.Ed448PublicKey.from_public_bytes(pk))
    if base == "ssh-dss":
        p, q, g, y = r.mpint(), r.mpint(), r.mpint(), r.mpint()
        try:
            key = dsa.DSAPublicNumbers(y, dsa.DSAParameterNumbers(p, q, g)).public_key()
        except ValueError:
            key = None
        return HostKey(ssh_type, "DSA", str(p.bit_length()), fp, cert, key)
    if base.startswith("sk-"):
        canon = canonical_host_key_algorithm(base)
        return HostKey(ssh_type, canon.algorithm, canon.parameter, fp, cert, None)
    return HostKey(ssh_type, ssh_type, "", fp, cert, None)


def _verify(hk: HostKey, sig_blob: bytes, data: bytes) -> tuple[bool, str]:
    """Verify the server's signature over the exchange hash (RFC 4253 §6.6, RFC 5656 §3.1.2, RFC 8332,
    RFC 8709 §6). Returns (verified, signature algorithm name)."""
    r = _Reader(sig_blob)
    alg = r.string().decode("ascii", "replace")
    sig = r.string()
    key = hk.key
    try:
        if (isinstance(key, ed25519.Ed25519PublicKey) and alg == "ssh-ed25519") or (
                isinstance(key, ed448.Ed448PublicKey) and alg == "ssh-ed448"):
            key.verify(sig, data)
        elif isinstance(key, rsa.RSAPublicKey) and alg in ("ssh-rsa", "rsa-sha2-256", "rsa-sha2-512"):
            # SHA-1 only to verify a legacy server's ssh-rsa signature, as the server chose it
            h: hashes.HashAlgorithm = {"ssh-rsa": hashes.SHA1(), "rsa-sha2-256": hashes.SHA256()}.get(  # noqa: S303
                alg, hashes.SHA512())
            key.verify(sig, data, padding.PKCS1v15(), h)
        elif isinstance(key, ec.EllipticCurvePublicKey) and alg.startswith("ecdsa-sha2-"):
            sr = _Reader(sig)
            rr, ss = sr.mpint(), sr.mpint()
            eh: hashes.HashAlgorithm = {256: hashes.SHA256(), 384: hashes.SHA384()}.get(key.curve.key_size,
                                                                                           hashes.SHA512())
            key.verify(encode_dss_signature(rr, ss), data, ec.ECDSA(eh))
        elif isinstance(key, dsa.DSAPublicKey) and alg == "ssh-dss" and len(sig) == 40:
            key.verify(encode_dss_signature(int.from_bytes(sig[:20], "big"), int.from_bytes(sig[20:], "big")),
                       data, hashes.SHA1())  # noqa: S303 - ssh-dss is defined with SHA-1 (RFC 4253 §6.6)
        else:
            return False, alg
    except InvalidSignature:
        raise SshProblem("ssh-hostkey-bad-signature",
                         f"{alg} signature over the exchange hash does not verify with the {hk.ssh_type} key") \
            from None
    return True, alg


_SUPPORTED_KEX = ("curve25519-sha256", "curve25519-sha256@libssh.org", "ecdh-sha2-nistp256",
                  "ecdh-sha2-nistp384", "ecdh-sha2-nistp521")


def _ephemeral(kex: str) -> tuple[bytes, Callable[[bytes], bytes], Callable[[], hashes.HashAlgorithm]]:
    """Client ephemeral public key, the shared-secret function and the exchange hash for ``kex``."""
    if kex.startswith("curve25519-sha256"):
        priv = x25519.X25519PrivateKey.generate()

        def agree_x(peer: bytes) -> bytes:
            if len(peer) != 32:
                raise SshProblem("ssh-bad-packet", f"X25519 server key of {len(peer)} bytes (RFC 8731 §3)")
            return priv.exchange(x25519.X25519PublicKey.from_public_bytes(peer))

        return priv.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw), agree_x, hashes.SHA256
    curve = _NIST_CURVES[kex[len("ecdh-sha2-"):]]
    epriv = ec.generate_private_key(curve)

    def agree_ec(peer: bytes) -> bytes:
        try:
            pk = ec.EllipticCurvePublicKey.from_encoded_point(curve, peer)
        except ValueError as exc:
            raise SshProblem("ssh-bad-packet", "invalid ECDH server point (RFC 5656 §4)") from exc
        return epriv.exchange(ec.ECDH(), pk)

    hfun: Callable[[], hashes.HashAlgorithm] = {256: hashes.SHA256, 384: hashes.SHA384}.get(curve.key_size,
                                                                                          hashes.SHA512)
    return epriv.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint), agree_ec, hfun


@dataclass(frozen=True)
class _HostKeyResult:
    host_key: HostKey
    kex: str
    signature_algorithm: str
    verified: bool


def _probe_host_key(host: str, port: int, host_key_alg: str, timeout: float) -> _HostKeyResult:
    """One connection: ECDH/X25519 key exchange up to KEX_ECDH_REPLY, host key parsed and signature checked."""
    s = _open(host, port, timeout)
    conn = s.conn
    try:
        i_s = _read_kexinit(conn)
        server = parse_kexinit(i_s)
        kex = next((k for k in _SUPPORTED_KEX if k in server.kex_algorithms), None)
        if kex is None:
            raise SshProblem("ssh-hostkey-no-supported-kex",
                             "server offers none of " + ", ".join(_SUPPORTED_KEX) + " (needed to fetch host keys)")
        ours = KexInit(os.urandom(16), (kex,), (host_key_alg,), server.encryption_client_to_server,
                       server.encryption_server_to_client, server.mac_client_to_server, server.mac_server_to_client,
                       server.compression_client_to_server, server.compression_server_to_client, (), (), False)
        i_c = _encode_kexinit(ours)
        q_c, agree, hfun = _ephemeral(kex)
        _send_packet(conn, i_c)
        _send_packet(conn, bytes([MSG_KEX_ECDH_INIT]) + _string(q_c))
        reply = _next_message(conn, "KEX_ECDH_REPLY")
        if reply[0] != MSG_KEX_ECDH_REPLY:
            raise SshProblem("ssh-unexpected-message", f"expected SSH_MSG_KEX_ECDH_REPLY (31), got {reply[0]}")
        r = _Reader(reply[1:])
        k_s, q_s, sig_blob = r.string(), r.string(), r.string()
        shared = agree(q_s)
        if not any(shared):
            raise SshProblem("ssh-bad-packet", "all-zero shared secret (RFC 8731 §3)")
        k = int.from_bytes(shared, "big")
        h = hashes.Hash(hfun())
        for part in (_string(CLIENT_IDENT), _string(s.server_ident), _string(i_c), _string(i_s), _string(k_s),
                     _string(q_c), _string(q_s), _mpint(k)):
            h.update(part)
        exchange_hash = h.finalize()
        hk = parse_host_key_blob(k_s)
        verified, sig_alg = _verify(hk, sig_blob, exchange_hash)
        with contextlib.suppress(SshProblem):  # polite close before NEWKEYS (RFC 4253 §11.1, 11 = by application)
            _send_packet(conn, bytes([MSG_DISCONNECT]) + struct.pack(">I", 11) + _string(b"inventory done")
                         + _string(b""))
        return _HostKeyResult(hk, kex, sig_alg, verified)
    finally:
        conn.close()


def _host_key_groups(algs: Sequence[str]) -> list[str]:
    """One host-key algorithm per distinct key (RSA once, each ECDSA curve, Ed25519 ...), server order kept;
    for RSA the strongest offered hash is chosen."""
    seen: dict[str, str] = {}
    rsa_pref = {"rsa-sha2-512": 0, "rsa-sha2-256": 1, "ssh-rsa": 2}
    for a in algs:
        cert = a.endswith("-cert-v01@openssh.com")
        base = a[: -len("-cert-v01@openssh.com")] if cert else a
        group = ("ssh-rsa" if base in rsa_pref else base) + ("#cert" if cert else "")
        if group in seen:
            old = seen[group]
            old_base = old[: -len("-cert-v01@openssh.com")] if old.endswith("-cert-v01@openssh.com") else old
            if base in rsa_pref and rsa_pref[base] < rsa_pref.get(old_base, 9):
                seen[group] = a
            continue
        seen[group] = a
    return list(seen.values())


# --------------------------------------------------------------------------------------------------------
# Findings
# --------------------------------------------------------------------------------------------------------

def _merge(names: Sequence[str], canon: Callable[[str], Canonical],
           direction: str | None = None) -> dict[tuple[str, str], dict[str, Any]]:
    """Group names by canonical (algorithm, parameter), keeping every SSH name and its 1-based position."""
    merged: dict[tuple[str, str], dict[str, Any]] = {}
    for pos, name in enumerate(names, start=1):
        c = canon(name)
        key = (c.algorithm, c.parameter)
        entry = merged.setdefault(key, {"canonical": c, "ssh_names": [], "server_order": [], "facts": {}})
        if name not in entry["ssh_names"]:
            entry["ssh_names"].append(name)
        entry["server_order"].append(pos)
        entry["facts"][name] = c.facts
        if direction:
            entry.setdefault("orders", {}).setdefault(direction, []).append(pos)
    return merged


def _emit(location: str, primitive: Primitive, context: str,
          merged: dict[tuple[str, str], dict[str, Any]]) -> list[CryptoFinding]:
    out = []
    for (alg, param), e in merged.items():
        c: Canonical = e["canonical"]
        detail: dict[str, Any] = {"ssh_name": e["ssh_names"][0], "ssh_names": e["ssh_names"],
                                  "server_order": sorted(set(e["server_order"]))}
        per_name: dict[str, dict[str, Any]] = e["facts"]
        for k in dict.fromkeys(k for facts in per_name.values() for k in facts):
            values = {n: f.get(k) for n, f in per_name.items()}
            distinct = list(dict.fromkeys(repr(v) for v in values.values()))
            detail[k] = next(iter(values.values())) if len(distinct) == 1 else values
        if not c.known:
            detail["unrecognised"] = True
        if "orders" in e:
            detail["directions"] = sorted(e["orders"])
            detail["server_order_by_direction"] = e["orders"]
        out.append(CryptoFinding("ssh", location, primitive, alg, param, context, 1.0, detail))
    return out


def _directional(location: str, primitive: Primitive, context: str, c2s: Sequence[str], s2c: Sequence[str],
                 canon: Callable[[str], Canonical]) -> list[CryptoFinding]:
    a = _merge(c2s, canon, "client-to-server")
    b = _merge(s2c, canon, "server-to-client")
    for key, e in b.items():
        if key in a:
            t = a[key]
            t["orders"].update(e["orders"])
            for n in e["ssh_names"]:
                if n not in t["ssh_names"]:
                    t["ssh_names"].append(n)
            t["facts"].update(e["facts"])
            t["server_order"] += e["server_order"]
        else:
            a[key] = e
    return _emit(location, primitive, context, a)


def kexinit_findings(location: str, kexinit: KexInit, server_ident: str, pre_banner: Sequence[str] = ()
                     ) -> list[CryptoFinding]:
    """Findings for one server KEXINIT (server order kept in ``detail["server_order"]``)."""
    kex_names = [k for k in kexinit.kex_algorithms if not k.startswith(_KEX_EXTENSIONS)]
    extensions = [k for k in kexinit.kex_algorithms if k.startswith(_KEX_EXTENSIONS)]
    software = server_ident.split("-", 2)[2] if server_ident.count("-") >= 2 else ""
    pq = [k for k in kex_names if canonical_kex(k).facts.get("post_quantum")]
    proto = CryptoFinding("ssh", location, "protocol", "SSH", "2.0", "ssh identification", 1.0, {
        "identification": server_ident, "software": software, "pre_banner_lines": list(pre_banner),
        "kex_algorithms": list(kexinit.kex_algorithms), "kex_extensions": extensions,
        "strict_kex": any(e.startswith("kex-strict-s-") for e in extensions),
        "post_quantum_kex": pq,
        "server_host_key_algorithms": list(kexinit.server_host_key_algorithms),
        "compression_client_to_server": list(kexinit.compression_client_to_server),
        "compression_server_to_client": list(kexinit.compression_server_to_client),
        "first_kex_packet_follows": kexinit.first_kex_packet_follows})
    out = [proto]
    out += _emit(location, "key-exchange", "ssh kex",
                 _merge(kex_names, canonical_kex))
    out += _emit(location, "signature", "ssh host key algorithm",
                 _merge(kexinit.server_host_key_algorithms, canonical_host_key_algorithm))
    out += _directional(location, "cipher", "ssh cipher", kexinit.encryption_client_to_server,
                        kexinit.encryption_server_to_client, canonical_cipher)
    out += _directional(location, "mac", "ssh mac", kexinit.mac_client_to_server, kexinit.mac_server_to_client,
                        canonical_mac)
    return out


def _fmt_location(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def scan_ssh(host: str, port: int = 22, *, timeout: float = 5.0, fetch_host_keys: bool = True) -> ScanResult:
    """Inventory the SSH server at ``host:port``: the algorithms in its KEXINIT (RFC 4253 §7.1) and, with
    ``fetch_host_keys``, each host key it holds (one X25519/ECDH key exchange per host-key type, RFC 8731 /
    RFC 5656, signature over the exchange hash verified). ``timeout`` bounds each connection as a whole.

    Never raises for network or protocol trouble: failures are ``problems`` (see the module docstring)."""
    started = datetime.now(UTC)
    t0 = time.monotonic()
    location = _fmt_location(host, port)
    findings: list[CryptoFinding] = []
    problems: list[str] = []
    connections = 1
    try:
        s = _open(host, port, timeout)
        try:
            kexinit = parse_kexinit(_read_kexinit(s.conn))
        finally:
            s.conn.close()
    except SshProblem as exc:
        problems.append(f"{exc.code}: {location}: {exc.message}")
        return ScanResult("ssh", location, (), tuple(problems), started.isoformat(), time.monotonic() - t0, connections)
    ident = s.server_ident.decode("ascii", "replace")
    findings += kexinit_findings(location, kexinit, ident, s.pre_banner)
    if fetch_host_keys:
        groups = _host_key_groups(kexinit.server_host_key_algorithms)
        if not any(k in kexinit.kex_algorithms for k in _SUPPORTED_KEX):
            problems.append(f"ssh-hostkey-no-supported-kex: {location}: server offers none of "
                            f"{', '.join(_SUPPORTED_KEX)}; host keys not fetched")
            groups = []
        for alg in groups[:MAX_HOST_KEY_PROBES]:
            connections += 1
            try:
                res = _probe_host_key(host, port, alg, timeout)
            except SshProblem as exc:
                code = exc.code if exc.code.startswith("ssh-hostkey-") else "ssh-hostkey-failed"
                problems.append(f"{code}: {location}: {alg}: {exc.code}: {exc.message}")
                continue
            hk = res.host_key
            context = "ssh host certificate" if hk.certificate else "ssh host key"
            findings.append(CryptoFinding("ssh", location, "signature", hk.algorithm, hk.parameter, context, 1.0,
                                          {"ssh_key_type": hk.ssh_type, "host_key_algorithm": alg,
                                                "signature_algorithm": res.signature_algorithm,
                                                "fingerprint_sha256": hk.fingerprint_sha256,
                                                "certificate": hk.certificate, "kex_used": res.kex,
                                                "signature_verified": res.verified}))
        if len(groups) > MAX_HOST_KEY_PROBES:
            problems.append(f"ssh-hostkey-failed: {location}: {len(groups) - MAX_HOST_KEY_PROBES} host-key types "
                            f"not probed (bound {MAX_HOST_KEY_PROBES})")
    return ScanResult("ssh", location, tuple(findings), tuple(problems), started.isoformat(),
                      time.monotonic() - t0, connections)
