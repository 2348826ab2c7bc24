"""TLS endpoint discovery for the post-quantum inventory: key-exchange groups (post-quantum ML-KEM and hybrids
included) in the server's preference order, protocol versions, cipher suites and the certificate chain, each
as a :class:`~mamori.pqc.model.CryptoFinding`.

Python's ``ssl`` cannot offer ML-KEM groups, so the probes are hand-written ClientHellos
(:mod:`mamori.pqc.discovery.tls_wire`) and no handshake is completed for the enumeration:

* **Groups (TLS 1.3)** — every known group is listed in ``supported_groups`` (RFC 8446 §4.2.7) with an *empty*
  ``key_share`` (§4.2.8), so a server must answer with a HelloRetryRequest (§4.1.4) naming the group it prefers
  among those offered (or fail). The group is recorded and removed, and the probe repeated: *supported + 1*
  connections, and the answers come out in the server's preference order. Groups: IANA TLS Supported Groups —
  X25519, X448, secp256r1/384r1/521r1, brainpool (RFC 8734), ffdhe2048–8192 (RFC 7919), MLKEM512/768/1024
  (draft-ietf-tls-mlkem), SecP256r1MLKEM768, X25519MLKEM768, SecP384r1MLKEM1024 (draft-ietf-tls-ecdhe-mlkem)
  and the obsolete X25519Kyber768Draft00 (0x6399).
* **Versions** — TLS 1.3 from the group probes (``supported_versions``, §4.2.1); TLS 1.2, 1.1 and 1.0 by
  offering only that version in ``legacy_version`` (RFC 5246 §7.4.1.2, RFC 8446 §4.1.2).
* **Cipher suites** — the same remove-and-repeat method: TLS 1.3 (the five suites; the HelloRetryRequest
  already carries the chosen suite) and TLS ≤ 1.2 (the IANA TLS Cipher Suites registry). One extra probe with
  the found suites in reverse order tells whether the order is the server's or merely ours.
* **Certificates** — in TLS ≤ 1.2 the Certificate message is in clear (RFC 5246 §7.4.2) and is read from the
  probes; in TLS 1.3 it is encrypted (RFC 8446 §4.4.2), so one normal handshake with Python's ``ssl`` fetches
  it, or, when the server accepts only groups that ``ssl`` lacks, a handshake of our own with ``cryptography``'s
  ML-KEM/X25519/ECDH (:mod:`mamori.pqc.discovery.tls13_handshake`).
* **STARTTLS** — SMTP (RFC 3207): banner, EHLO, STARTTLS, then the same probe, on every connection.

Connections are counted in :attr:`ScanResult.connections` and capped by ``max_connections``; a peer that
refuses, closes, times out or answers garbage ends the scan early with a named problem, never an exception.
:func:`probe_endpoint` is the one-connection fast path (negotiated group and version) for large sweeps.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import re
import socket
import ssl
import struct
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, Literal

from mamori.pqc.discovery import tls_wire as w
from mamori.pqc.discovery.tls13_handshake import OWN_HANDSHAKE_GROUPS, fetch_certificates
from mamori.pqc.discovery.x509info import chain_findings
from mamori.pqc.model import CryptoFinding, ScanResult

StartTLS = Literal["smtp"]
Check = Literal["groups", "versions", "suites", "certificate"]
ALL_CHECKS: frozenset[Check] = frozenset({"groups", "versions", "suites", "certificate"})

_PY_SSL_GROUPS = {29, 23, 24, 25, 30, 256, 257, 258, 259, 260}
if ssl.OPENSSL_VERSION_INFO >= (3, 5, 0, 0, 0):  # pragma: no cover - this host links OpenSSL 3.0
    _PY_SSL_GROUPS |= {0x11EC}
PYTHON_SSL_GROUPS = frozenset(_PY_SSL_GROUPS)
"""Groups the OpenSSL linked into Python's ``ssl`` offers by default (OpenSSL 3.0: no ML-KEM)."""

_FFDHE = (256, 257, 258, 259, 260)
_TLS12_PROBE_GROUPS = (*w.TLS12_CURVES, *_FFDHE)
_FATAL_KINDS = frozenset({"timeout", "not-tls", "connect", "starttls"})


class StartTLSFailed(w.TLSProbeError):
    """The plaintext STARTTLS dialogue did not lead to a TLS handshake."""

    kind: w.ProblemKind = "starttls"


class _BudgetExhausted(Exception):
    pass


@dataclass(frozen=True)
class TLSTarget:
    """One endpoint for :func:`scan_many` / :func:`probe_many`."""

    host: str
    port: int = 443
    sni: str | None = None
    starttls: StartTLS | None = None


def parse_target(target: str | tuple[str, int] | TLSTarget, default_port: int = 443) -> TLSTarget:
    """``host``, ``host:port``, ``[v6]:port``, ``(host, port)`` or a :class:`TLSTarget`."""
    if isinstance(target, TLSTarget):
        return target
    if isinstance(target, tuple):
        return TLSTarget(target[0], int(target[1]))
    m = re.fullmatch(r"\[([^\]]+)\](?::(\d+))?", target)
    if m:
        return TLSTarget(m.group(1), int(m.group(2) or default_port))
    if target.count(":") == 1:
        host, port = target.rsplit(":", 1)
        return TLSTarget(host, int(port))
    return TLSTarget(target, default_port)


def _location(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _effective_sni(host: str, sni: str | None) -> str | None:
    """The explicit SNI, else the host name (never an IP literal: RFC 6066 §3)."""
    if sni:
        return sni
    return None if _is_ip(host) else host


# --------------------------------------------------------------------------------------------------
# STARTTLS (SMTP, RFC 3207)
# --------------------------------------------------------------------------------------------------

_SMTP_LINE_MAX = 2048
_SMTP_LINES_MAX = 100


class _LineReader:
    def __init__(self, sock: socket.socket, deadline: float) -> None:
        self.sock, self.deadline, self.buf = sock, deadline, bytearray()

    def line(self) -> bytes:
        while b"\n" not in self.buf:
            if len(self.buf) > _SMTP_LINE_MAX:
                raise StartTLSFailed("SMTP reply line too long")
            left = self.deadline - time.monotonic()
            if left <= 0:
                raise w.ProbeTimeout("no SMTP reply within the timeout")
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(4096)
            except TimeoutError:
                raise w.ProbeTimeout("no SMTP reply within the timeout") from None
            except OSError:
                raise w.PeerClosed(len(self.buf), reset=True) from None
            if not chunk:
                raise w.PeerClosed(len(self.buf))
            self.buf += chunk
        i = self.buf.index(b"\n")
        out = bytes(self.buf[:i + 1])
        del self.buf[:i + 1]
        return out

    def reply(self) -> tuple[int, list[str]]:
        """One SMTP reply (RFC 5321 §4.2: ``ddd-`` continuation lines, then ``ddd `` or ``ddd``)."""
        texts: list[str] = []
        for _ in range(_SMTP_LINES_MAX):
            raw = self.line().rstrip(b"\r\n")
            m = re.fullmatch(rb"(\d{3})([ -]?)(.*)", raw, re.S)
            if not m:
                raise StartTLSFailed(f"not an SMTP reply: {raw[:60]!r}")
            texts.append(m.group(3).decode("utf-8", "replace"))
            if m.group(2) != b"-":
                return int(m.group(1)), texts
        raise StartTLSFailed("SMTP reply with too many lines")


def smtp_starttls(sock: socket.socket, deadline: float) -> None:
    """Banner, ``EHLO``, ``STARTTLS`` (RFC 3207 §4); afterwards the socket is ready for a ClientHello."""
    reader = _LineReader(sock, deadline)
    code, lines = reader.reply()
    if code != 220:
        raise StartTLSFailed(f"SMTP banner {code} {lines[0][:60]!r} (expected 220)")
    local = sock.getsockname()[0]
    literal = f"[IPv6:{local}]" if ":" in local else f"[{local}]"  # RFC 5321 §4.1.3 address literal
    sock.sendall(f"EHLO {literal}\r\n".encode())
    code, lines = reader.reply()
    if code != 250:
        raise StartTLSFailed(f"SMTP EHLO answered {code} {lines[0][:60]!r}")
    if not any(line.split(" ", 1)[0].upper() == "STARTTLS" for line in lines[1:]):
        raise StartTLSFailed("SMTP server does not offer STARTTLS in its EHLO reply")
    sock.sendall(b"STARTTLS\r\n")
    code, lines = reader.reply()
    if code != 220:
        raise StartTLSFailed(f"SMTP STARTTLS answered {code} {lines[0][:60]!r}")
    if reader.buf:  # RFC 3207 §5 / CVE-2011-0411 style injection: nothing may precede our ClientHello
        raise StartTLSFailed("bytes after the STARTTLS reply before the TLS handshake")


# --------------------------------------------------------------------------------------------------
# One scan
# --------------------------------------------------------------------------------------------------


@dataclass
class _Reply:
    hello: w.ServerHello
    certificates: list[bytes] = field(default_factory=list)
    kx: w.KeyExchangeParams | None = None
    flight_problem: str = ""


@dataclass
class _Chain:
    label: str
    ders: list[bytes]
    detail: dict[str, Any]


class _Scan:
    def __init__(self, host: str, port: int, sni: str | None, starttls: StartTLS | None, timeout: float,
                 max_connections: int, checks: frozenset[Check]) -> None:
        self.host, self.port, self.timeout, self.max_connections = host, port, timeout, max_connections
        self.checks = checks
        self.sni = _effective_sni(host, sni)
        self.starttls = starttls
        self.location = _location(host, port)
        self.connections = 0
        self.problems: list[str] = []
        self.successes = 0
        self.strikes = 0
        self.stopped = False
        self.closed_probes: list[str] = []
        # results
        self.versions: dict[int, dict[str, Any]] = {}
        self.groups: list[tuple[int, str]] = []  # (code, via)
        self.tls13_suites: list[int] = []
        self.tls13_server_order: bool | None = None
        self.legacy_suites: list[int] = []
        self.legacy_version = 0
        self.legacy_server_order: bool | None = None
        self.suite_kx: dict[int, w.KeyExchangeParams] = {}
        self.curves: list[int] = []
        self.curves_enumerated = False
        self.chains: list[_Chain] = []
        self.address: tuple[socket.AddressFamily, socket.SocketKind, int, Any] | None = None

    # --- connections -------------------------------------------------------------------------------

    def _open(self, deadline: float) -> socket.socket:
        """TCP to the host: the name is resolved once and every probe goes to the same address (a round-robin
        name must not mix the answers of several servers)."""
        if self.address is None:
            try:
                infos = socket.getaddrinfo(self.host, self.port, type=socket.SOCK_STREAM)
            except OSError as exc:
                raise w.ConnectFailed(f"cannot resolve {self.host}: {exc}") from None
            candidates: list[tuple[socket.AddressFamily, socket.SocketKind, int, Any]] = list(
                dict.fromkeys((i[0], i[1], i[2], i[4]) for i in infos))
        else:
            candidates = [self.address]
        last: w.TLSProbeError = w.ConnectFailed("no address")
        for family, kind, proto, sockaddr in candidates:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            sock = socket.socket(family, kind, proto)
            try:
                sock.settimeout(left)
                sock.connect(sockaddr)
            except TimeoutError:
                sock.close()
                last = w.ProbeTimeout(f"TCP connect timed out after {self.timeout:g} s")
                continue
            except ConnectionRefusedError:
                sock.close()
                last = w.ConnectFailed("TCP connection refused")
                continue
            except OSError as exc:
                sock.close()
                last = w.ConnectFailed(f"TCP connect failed: {exc}")
                continue
            self.address = (family, kind, proto, sockaddr)
            return sock
        raise last

    def connect(self) -> tuple[socket.socket, float]:
        if self.connections >= self.max_connections:
            raise _BudgetExhausted
        self.connections += 1
        deadline = time.monotonic() + self.timeout
        sock = self._open(deadline)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self.starttls == "smtp":
                smtp_starttls(sock, deadline)
        except BaseException:
            sock.close()
            raise
        return sock, deadline

    def exchange(self, hello: bytes, *, flight: bool) -> _Reply:
        sock, deadline = self.connect()
        try:
            sock.settimeout(max(deadline - time.monotonic(), 0.001))
            try:
                sock.sendall(w.records(w.CT_HANDSHAKE, hello))
            except TimeoutError:
                raise w.ProbeTimeout("the peer did not accept the ClientHello within the timeout") from None
            except OSError:
                raise w.PeerClosed(0, reset=True) from None
            reader = w.HandshakeReader(w.RecordReader(sock, deadline))
            mtype, body, raw = reader.next_message()
            if mtype != w.HS_SERVER_HELLO:
                raise w.TLSDecodeError(f"expected a ServerHello, got handshake message type {mtype}")
            reply = _Reply(w.parse_server_hello(body, raw))
            if flight and not reply.hello.is_hrr and reply.hello.version <= w.TLS12:
                self._read_flight(reader, reply)
            return reply
        finally:
            sock.close()

    def _read_flight(self, reader: w.HandshakeReader, reply: _Reply) -> None:
        """Certificate and ServerKeyExchange up to ServerHelloDone (RFC 5246 §7.3); problems are kept, not raised."""
        kx = w.parse_suite_name(w.suite_name(reply.hello.cipher_suite)).key_exchange
        try:
            for _ in range(16):
                mtype, body, _raw = reader.next_message()
                if mtype == w.HS_CERTIFICATE:
                    reply.certificates = w.parse_certificate_tls12(body)
                elif mtype == w.HS_SERVER_KEY_EXCHANGE:
                    reply.kx = w.parse_server_key_exchange(body, kx, reply.hello.version)
                elif mtype == w.HS_SERVER_HELLO_DONE:
                    return
        except w.TLSProbeError as exc:
            reply.flight_problem = str(exc)

    def probe(self, hello: bytes, what: str, *, flight: bool = False) -> _Reply | w.TLSProbeError:
        """One probe; fatal outcomes (timeout, not TLS, refused, STARTTLS failure) are counted as strikes and
        stop the scan (at once before any success, at the second after one)."""
        if self.stopped:
            raise _BudgetExhausted
        try:
            reply = self.exchange(hello, flight=flight)
        except w.TLSProbeError as exc:
            if exc.kind in _FATAL_KINDS:
                self.strikes += 1
                self.problems.append(f"{what}: {exc}")
                if self.strikes >= (2 if self.successes else 1):
                    self.stopped = True
            elif exc.kind == "closed":
                self.closed_probes.append(what)
            elif exc.kind == "malformed":
                self.problems.append(f"{what}: malformed answer: {exc}")
            return exc
        self.successes += 1
        if reply.flight_problem:
            self.problems.append(f"{what}: server flight after the ServerHello: {reply.flight_problem}")
        return reply

    # --- hellos ------------------------------------------------------------------------------------

    def hello13(self, groups: Sequence[int], suites: Sequence[int]) -> bytes:
        return w.client_hello_body(versions=[w.TLS13], suites=suites, groups=groups, sni=self.sni)

    def hello_legacy(self, version: int, suites: Sequence[int], groups: Sequence[int] = _TLS12_PROBE_GROUPS) -> bytes:
        return w.client_hello_body(versions=[version], suites=suites, groups=groups, sni=self.sni)

    # --- phases ------------------------------------------------------------------------------------

    def run(self) -> None:
        phases = (("TLS 1.3 group enumeration", self.phase_groups),
                  ("TLS 1.2 probe", self.phase_tls12),
                  ("TLS 1.3 certificate chain", self.phase_tls13_chain),
                  ("TLS 1.3 cipher-suite enumeration", self.phase_tls13_suites),
                  ("TLS 1.2 cipher-suite enumeration", self.phase_legacy_suites),
                  ("TLS 1.2 ECDHE curve enumeration", self.phase_curves),
                  ("TLS 1.1/1.0 probes", self.phase_old_versions))
        for name, phase in phases:
            if self.stopped:
                break
            try:
                phase()
            except _BudgetExhausted:
                if not self.stopped:
                    self.problems.append(f"connection budget of {self.max_connections} reached: {name} and later "
                                         "steps incomplete")
                    self.stopped = True
            except Exception as exc:  # a scanner must survive any peer: report, keep what was found, stop
                self.problems.append(f"{name}: aborted ({type(exc).__name__}: {exc})")
                self.stopped = True
        if not self.versions and self.closed_probes and not any("connect" in p for p in self.problems):
            self.problems.append("the peer closed the connection without a TLS answer to every ClientHello "
                                 f"({', '.join(self.closed_probes)})")

    def phase_groups(self) -> None:
        """Remove-and-repeat over ``supported_groups`` with an empty ``key_share``: supported + 1 connections.
        Without the ``groups`` check only the first probe runs (TLS 1.3 support, preferred group, first suite)."""
        remaining = list(w.TLS13_GROUPS)
        while remaining and (not self.groups or "groups" in self.checks):
            r = self.probe(self.hello13(remaining, list(w.TLS13_SUITES)), "TLS 1.3 group probe")
            if isinstance(r, w.TLSProbeError):
                return
            sh = r.hello
            if sh.version != w.TLS13:
                return
            g = sh.group
            if g is None or g not in remaining:
                self.problems.append(f"TLS 1.3 group probe: server selected {w.group_name(g or 0)}, not among the "
                                     "offered groups (RFC 8446 §4.1.4 violation)")
                return
            if not self.groups:
                self.versions[w.TLS13] = {"cipher_suite": w.suite_name(sh.cipher_suite)}
                self.tls13_suites.append(sh.cipher_suite)
            self.groups.append((g, "HelloRetryRequest" if sh.is_hrr else "ServerHello"))
            remaining.remove(g)

    def _record_legacy(self, r: _Reply, label: str) -> None:
        if r.kx is not None:
            self.suite_kx[r.hello.cipher_suite] = r.kx
        if r.certificates:
            self._add_chain(label, r.certificates, {"chain_source": f"{label} Certificate message (clear text)"})

    def phase_tls12(self) -> None:
        if not (self.checks - {"groups"}) and w.TLS13 in self.versions:
            return  # groups only: TLS 1.2 is needed just for the ECDHE curves of a server without TLS 1.3
        r = self.probe(self.hello_legacy(w.TLS12, w.OFFERED_TLS12_SUITES), "TLS 1.2 probe", flight=True)
        if isinstance(r, w.TLSProbeError):
            return
        v = r.hello.version
        if v not in (w.TLS12, w.TLS11, w.TLS10):
            self.problems.append(f"TLS 1.2 probe: server answered version 0x{v:04X}")
            return
        self.versions[v] = {"cipher_suite": w.suite_name(r.hello.cipher_suite)}
        if r.hello.downgrade:
            self.versions[v]["downgrade_sentinel"] = r.hello.downgrade
        self.legacy_version = v
        self.legacy_suites.append(r.hello.cipher_suite)
        self._record_legacy(r, f"tls-{w.VERSION_NAMES[v]}")

    def phase_tls13_chain(self) -> None:
        if w.TLS13 not in self.versions or "certificate" not in self.checks:
            return
        server_groups = [g for g, _ in self.groups]
        errors: list[str] = []
        if any(g in PYTHON_SSL_GROUPS for g in server_groups):
            try:
                ders, note = self._python_ssl_chain()
            except w.TLSProbeError as exc:
                errors.append(f"Python ssl: {exc}")
            except (ssl.SSLError, OSError) as exc:
                errors.append(f"Python ssl: {exc}")
            else:
                self._add_chain("tls-1.3", ders, {"chain_source": "tls-1.3 handshake (Python ssl)"})
                if note:
                    self.problems.append(note)
                return
        own = [g for g in server_groups if g in OWN_HANDSHAKE_GROUPS]
        if own:
            try:
                sock, deadline = self.connect()
                try:
                    res = fetch_certificates(sock, group=own[0], sni=self.sni, deadline=deadline)
                finally:
                    sock.close()
            except w.TLSProbeError as exc:
                errors.append(f"own TLS 1.3 handshake with {w.group_name(own[0])}: {exc}")
            else:
                scheme = res.signature_scheme
                self._add_chain("tls-1.3", res.certificates, {
                    "chain_source": f"tls-1.3 handshake (own, {w.group_name(res.group)})",
                    "handshake_signature_scheme": w.SIGNATURE_SCHEMES.get(scheme, f"0x{scheme:04X}")
                    if scheme is not None else None})
                return
        if not errors:
            self.problems.append("certificate not retrieved: server accepts only groups the local TLS library "
                                 f"lacks ({', '.join(w.group_name(g) for g in server_groups)})")
        else:
            self.problems.append("certificate not retrieved over TLS 1.3: " + "; ".join(errors))

    def _python_ssl_chain(self) -> tuple[list[bytes], str]:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        ctx.minimum_version = ssl.TLSVersion.TLSv1_3
        with contextlib.suppress(ssl.SSLError):  # depends on the OpenSSL build
            ctx.set_ciphers("ALL:@SECLEVEL=0")
        sock, deadline = self.connect()
        try:
            ssock = ctx.wrap_socket(sock, server_hostname=self.sni, do_handshake_on_connect=False)
            try:
                ssock.settimeout(max(deadline - time.monotonic(), 0.001))
                try:
                    ssock.do_handshake()
                except TimeoutError:
                    raise w.ProbeTimeout("TLS 1.3 handshake timed out") from None
                leaf = ssock.getpeercert(binary_form=True)
                sslobj: Any = getattr(ssock, "_sslobj", None)
                get_chain = getattr(sslobj, "get_unverified_chain", None)
                if callable(get_chain):
                    chain = get_chain() or []
                    ders = [bytes(c.public_bytes(ssl._ssl.ENCODING_DER)) for c in chain]  # type: ignore[attr-defined]
                    if ders:
                        return ders, ""
                if not leaf:
                    raise w.TLSDecodeError("no certificate presented")
                return [leaf], ("certificate chain over TLS 1.3: leaf only (this Python's ssl has no "
                                "get_unverified_chain)")
            finally:
                ssock.close()
        finally:
            sock.close()

    def _add_chain(self, label: str, ders: list[bytes], detail: dict[str, Any]) -> None:
        for chain in self.chains:
            if chain.ders and ders and chain.ders[0] == ders[0]:
                seen = chain.detail.setdefault("seen_in", [chain.label])
                if label not in seen:
                    seen.append(label)
                return
        self.chains.append(_Chain(label, list(ders), dict(detail)))

    def _order_check(self, found: list[int], hello_for: Any) -> bool | None:
        """Offer the found suites reversed: the server keeps its first pick iff it enforces its own order."""
        if len(found) < 2:
            return None
        r = self.probe(hello_for(list(reversed(found))), "cipher order check")
        if isinstance(r, w.TLSProbeError):
            return None
        return r.hello.cipher_suite == found[0]

    def phase_tls13_suites(self) -> None:
        if w.TLS13 not in self.versions or "suites" not in self.checks:
            return
        groups = [g for g, _ in self.groups]
        remaining = [s for s in w.TLS13_SUITES if s not in self.tls13_suites]
        while remaining:
            r = self.probe(self.hello13(groups, remaining), "TLS 1.3 cipher-suite probe")
            if isinstance(r, w.TLSProbeError) or r.hello.version != w.TLS13:
                break
            s = r.hello.cipher_suite
            if s not in remaining:
                self.problems.append(f"TLS 1.3 suite probe: server chose {w.suite_name(s)}, which was not offered")
                break
            self.tls13_suites.append(s)
            remaining.remove(s)
        self.tls13_server_order = self._order_check(self.tls13_suites, lambda suites: self.hello13(groups, suites))

    def phase_legacy_suites(self) -> None:
        if not self.legacy_version or "suites" not in self.checks:
            return
        version = self.legacy_version
        label = f"tls-{w.VERSION_NAMES[version]}"
        remaining = [s for s in w.OFFERED_TLS12_SUITES if s not in self.legacy_suites]
        while remaining:
            r = self.probe(self.hello_legacy(version, remaining), f"TLS {w.VERSION_NAMES[version]} cipher-suite probe",
                           flight=True)
            if isinstance(r, w.TLSProbeError) or r.hello.version != version:
                break
            s = r.hello.cipher_suite
            if s not in remaining:
                self.problems.append(f"TLS {w.VERSION_NAMES[version]} suite probe: server chose {w.suite_name(s)}, "
                                     "which was not offered")
                break
            self.legacy_suites.append(s)
            remaining.remove(s)
            self._record_legacy(r, label)
        self.legacy_server_order = self._order_check(
            self.legacy_suites, lambda suites: self.hello_legacy(version, suites))

    def phase_curves(self) -> None:
        """TLS ≤ 1.2 ECDHE curves (RFC 8422 §5.1.1), enumerated only when the server has no TLS 1.3 (whose group
        list was enumerated already)."""
        ecdhe = [s for s in self.legacy_suites if w.parse_suite_name(w.suite_name(s)).key_exchange == "ECDHE"]
        first = next((self.suite_kx[s].group for s in ecdhe if s in self.suite_kx and self.suite_kx[s].group), None)
        if first is not None:
            self.curves.append(first)
        if w.TLS13 in self.versions or not ecdhe or first is None or "groups" not in self.checks:
            return
        self.curves_enumerated = True
        version = self.legacy_version
        remaining = [c for c in w.TLS12_CURVES if c not in self.curves]
        while remaining:
            r = self.probe(self.hello_legacy(version, ecdhe, remaining), "TLS 1.2 ECDHE curve probe", flight=True)
            if isinstance(r, w.TLSProbeError) or r.kx is None or r.kx.group is None:
                break
            c = r.kx.group
            if c not in remaining:
                self.problems.append(f"TLS 1.2 curve probe: server chose {w.group_name(c)}, which was not offered")
                break
            self.curves.append(c)
            remaining.remove(c)

    def phase_old_versions(self) -> None:
        if "versions" not in self.checks:
            return
        for version in (w.TLS11, w.TLS10):
            if version in self.versions or (self.legacy_version and self.legacy_version < version):
                continue  # known, or the server's highest legacy version is already below it
            r = self.probe(self.hello_legacy(version, w.OFFERED_TLS12_SUITES), f"TLS {w.VERSION_NAMES[version]} probe",
                           flight=True)
            if isinstance(r, w.TLSProbeError) or r.hello.version != version:
                continue
            self.versions[version] = {"cipher_suite": w.suite_name(r.hello.cipher_suite)}
            self._record_legacy(r, f"tls-{w.VERSION_NAMES[version]}")

    # --- findings ----------------------------------------------------------------------------------

    def build_findings(self) -> list[CryptoFinding]:
        out: list[CryptoFinding] = []
        loc = self.location
        extra: dict[str, Any] = {"starttls": self.starttls} if self.starttls else {}
        if self.address is not None and not _is_ip(self.host):
            extra["address"] = str(self.address[3][0])
        for v in sorted(self.versions, reverse=True):
            out.append(CryptoFinding(source="tls", location=loc, primitive="protocol", algorithm="TLS",
                                     parameter=w.VERSION_NAMES[v], context="tls version",
                                     detail={**self.versions[v], **extra}))
        for i, (code, via) in enumerate(self.groups):
            g = w.GROUP_BY_CODE[code]
            out.append(CryptoFinding(
                source="tls", location=loc, primitive="key-exchange", algorithm=g.name, parameter=g.parameter,
                context="tls-1.3 supported group",
                detail={"preference": i + 1, "code": f"0x{code:04X}", "post_quantum": g.post_quantum,
                        "hybrid": g.hybrid, "components": list(g.components), "reference": g.reference,
                        "status": g.status, "selected_via": via, **extra}))
        for ver, suites, server_order in (("1.3", self.tls13_suites, self.tls13_server_order),
                                          (w.VERSION_NAMES.get(self.legacy_version, ""), self.legacy_suites,
                                           self.legacy_server_order)):
            for i, code in enumerate(suites):
                info = w.parse_suite_name(w.suite_name(code))
                detail: dict[str, Any] = {
                    "suite": info.name, "code": f"0x{code:04X}", "key_exchange": info.key_exchange,
                    "authentication": info.authentication, "mode": info.mode, "hash": info.mac,
                    "preference": i + 1, "server_enforces_order": server_order, **extra}
                if info.export:
                    detail["export"] = True
                kx = self.suite_kx.get(code)
                if kx is not None:
                    detail["ephemeral"] = (w.group_name(kx.group) if kx.group is not None else f"DH-{kx.dh_bits}")
                out.append(CryptoFinding(source="tls", location=loc, primitive="cipher", algorithm=info.cipher,
                                         parameter=info.bits, context=f"tls-{ver} cipher suite {info.name}",
                                         detail=detail))
        out.extend(self._legacy_key_exchange(extra))
        for n, chain in enumerate(self.chains):
            found, problems = chain_findings(chain.ders, loc, chain_label="" if n == 0 else f"chain {n + 1}",
                                             extra={**chain.detail, **extra})
            out.extend(found)
            self.problems.extend(f"{chain.label} chain: {p}" for p in problems)
        return out

    def _legacy_key_exchange(self, extra: dict[str, Any]) -> list[CryptoFinding]:
        """TLS ≤ 1.2 key exchange: ECDHE curves, DHE prime sizes, RSA key transport (no forward secrecy)."""
        out: list[CryptoFinding] = []
        loc, ver = self.location, w.VERSION_NAMES.get(self.legacy_version, "1.2")
        for i, code in enumerate(self.curves):
            g = w.GROUP_BY_CODE.get(code)
            out.append(CryptoFinding(
                source="tls", location=loc, primitive="key-exchange", algorithm=w.group_name(code),
                parameter=g.parameter if g else "", context=f"tls-{ver} ecdhe group",
                detail={"preference": i + 1, "code": f"0x{code:04X}", "enumerated": self.curves_enumerated,
                        "post_quantum": False, **extra}))
        dh_bits = sorted({kx.dh_bits for kx in self.suite_kx.values() if kx.kind == "dhe" and kx.dh_bits})
        for bits in dh_bits:
            suites = [w.suite_name(s) for s, kx in self.suite_kx.items() if kx.dh_bits == bits]
            out.append(CryptoFinding(source="tls", location=loc, primitive="key-exchange", algorithm="DH",
                                     parameter=str(bits), context=f"tls-{ver} dhe group",
                                     detail={"suites": suites, "post_quantum": False, **extra}))
        rsa_kx = [w.suite_name(s) for s in self.legacy_suites
                  if w.parse_suite_name(w.suite_name(s)).key_exchange == "RSA"]
        if rsa_kx:
            rsa_bits = ""
            for chain in self.chains:
                for f in chain_findings(chain.ders[:1], loc)[0]:
                    if f.primitive == "key" and f.algorithm == "RSA":
                        rsa_bits = f.parameter
                        break
                if rsa_bits:
                    break
            out.append(CryptoFinding(source="tls", location=loc, primitive="key-exchange", algorithm="RSA",
                                     parameter=rsa_bits, context=f"tls-{ver} rsa key transport",
                                     detail={"suites": rsa_kx, "forward_secrecy": False, "post_quantum": False,
                                             **extra}))
        return out


def scan_tls(host: str, port: int = 443, *, sni: str | None = None, starttls: StartTLS | None = None,
             timeout: float = 5.0, max_connections: int = 40, checks: Iterable[Check] | None = None) -> ScanResult:
    """Inventory one TLS endpoint: groups (TLS 1.3, post-quantum included, server preference order), versions,
    cipher suites and the certificate chain. ``timeout`` bounds each connection (connect + STARTTLS + answer);
    at most ``max_connections`` connections are opened. ``checks`` narrows the scan (default: all four);
    ``{"groups"}`` alone costs exactly supported + 1 connections on a TLS 1.3 server. Never raises for network
    or peer failures: they are reported in ``problems``.

    Connections, in order (*g* groups, *s* TLS 1.3 suites, *c* TLS ≤ 1.2 suites, *k* curves supported):
    TLS 1.3 groups *g* + 1 (the first probe also gives TLS 1.3 support and the first suite; *g* when every known
    group is supported); one TLS 1.2 probe (version, first suite, clear-text chain); one TLS 1.3 handshake for the
    chain; TLS 1.3 suites *s* (the first is known; *s* - 1 when all five are) + 1 order check when *s* ≥ 2;
    TLS ≤ 1.2 suites *c* + 1 order check when *c* ≥ 2; TLS 1.2 ECDHE curves *k* (the first is known), only
    without TLS 1.3; one probe each for TLS 1.1 and 1.0 (skipped when the TLS 1.2 probe already answered lower).
    Measured on loopback: an OpenSSL 3.0 server (10 groups, 3 + 5 suites) 11 + 1 + 1 + 4 + 6 + 2 = 25; Node 24 /
    OpenSSL 3.5 with the six ML-KEM groups and X25519 (3 + 11 suites) 8 + 1 + 1 + 4 + 12 + 2 = 28; a TLS 1.2-only
    server with 3 suites and 5 curves 1 + 1 + 4 + 5 + 2 = 13; ``checks={"groups"}`` on TLS 1.3: *g* + 1."""
    started = datetime.now(UTC).isoformat(timespec="seconds")
    t0 = time.perf_counter()
    wanted = ALL_CHECKS if checks is None else frozenset(checks)
    scan = _Scan(host, port, sni, starttls, timeout, max_connections, wanted)
    try:
        if scan.sni:
            w.encode_sni(scan.sni)
    except ValueError as exc:
        scan.problems.append(f"invalid SNI {scan.sni!r}: {exc}")
        scan.stopped = True
    scan.run()
    try:
        findings = scan.build_findings()
    except Exception as exc:  # never lose the scan's problems to a reporting error
        findings = []
        scan.problems.append(f"findings not built ({type(exc).__name__}: {exc})")
    return ScanResult(source="tls", target=scan.location, findings=tuple(findings), problems=tuple(scan.problems),
                      started_at=started, duration_s=round(time.perf_counter() - t0, 4),
                      connections=scan.connections)


def scan_many(targets: Iterable[str | tuple[str, int] | TLSTarget], concurrency: int = 32, *, timeout: float = 5.0,
              max_connections: int = 40, checks: Iterable[Check] | None = None) -> list[ScanResult]:
    """:func:`scan_tls` over many endpoints with ``concurrency`` threads (each host's scan stays sequential and
    within ``max_connections``); results in input order."""
    parsed = [parse_target(t) for t in targets]
    wanted = None if checks is None else frozenset(checks)

    def one(t: TLSTarget) -> ScanResult:
        return scan_tls(t.host, t.port, sni=t.sni, starttls=t.starttls, timeout=timeout,
                        max_connections=max_connections, checks=wanted)
    if not parsed:
        return []
    with ThreadPoolExecutor(max_workers=max(1, min(concurrency, len(parsed)))) as pool:
        return list(pool.map(one, parsed))


# --------------------------------------------------------------------------------------------------
# Fast path
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EndpointProbe:
    """What one ClientHello offering everything tells: the group and version the server picks."""

    target: str
    version: str | None = None
    group: str | None = None
    """TLS 1.3: the HelloRetryRequest's group (the server's first choice); TLS 1.2: the ECDHE curve, if any."""
    cipher_suite: str | None = None
    hello_retry: bool = False
    post_quantum: bool = False
    problem: str | None = None
    elapsed_s: float = 0.0


_PROBE_GROUPS = tuple(g.code for g in w.GROUPS)
_RANDOM_AT = 5 + 4 + 2  # record header, handshake header, legacy_version
_LINGER_RST = struct.pack("ii", 1, 0)


@lru_cache(maxsize=4096)
def _probe_template(sni: str | None) -> bytes:
    hello = w.client_hello_body(versions=[w.TLS13, w.TLS12], suites=[*w.TLS13_SUITES, *w.OFFERED_TLS12_SUITES],
                                groups=_PROBE_GROUPS, sni=sni, random=bytes(32), session_id=bytes(32))
    return w.records(w.CT_HANDSHAKE, hello)


def probe_endpoint(host: str, port: int = 443, *, sni: str | None = None, timeout: float = 5.0) -> EndpointProbe:
    """One connection, one ClientHello offering TLS 1.3 and 1.2, every suite and every group with an empty
    ``key_share``: the answer names the server's preferred group (HelloRetryRequest) and version. For TLS 1.2
    the ECDHE curve is read from the ServerKeyExchange. The connection is then reset (no TIME_WAIT)."""
    t0 = time.perf_counter()
    target = _location(host, port)
    try:
        template = _probe_template(_effective_sni(host, sni))
    except ValueError as exc:
        return EndpointProbe(target, problem=str(exc))
    hello = template[:_RANDOM_AT] + os.urandom(32) + template[_RANDOM_AT + 32:_RANDOM_AT + 33] + os.urandom(32) \
        + template[_RANDOM_AT + 65:]
    deadline = time.monotonic() + timeout
    try:
        try:
            sock = socket.create_connection((host, port), timeout=timeout)
        except TimeoutError:
            raise w.ProbeTimeout(f"TCP connect timed out after {timeout:g} s") from None
        except OSError as exc:
            raise w.ConnectFailed(f"TCP connect failed: {exc}") from None
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RST)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            try:
                sock.sendall(hello)
            except OSError:
                raise w.PeerClosed(0, reset=True) from None
            reader = w.HandshakeReader(w.RecordReader(sock, deadline))
            mtype, body, raw = reader.next_message()
            if mtype != w.HS_SERVER_HELLO:
                raise w.TLSDecodeError(f"expected a ServerHello, got handshake message type {mtype}")
            sh = w.parse_server_hello(body, raw)
            version = sh.version
            group = sh.group if version == w.TLS13 else None
            if version != w.TLS13:
                kx = w.parse_suite_name(w.suite_name(sh.cipher_suite)).key_exchange
                if kx == "ECDHE":
                    for _ in range(8):
                        mtype, body, _raw = reader.next_message()
                        if mtype == w.HS_SERVER_KEY_EXCHANGE:
                            params = w.parse_server_key_exchange(body, kx, version)
                            group = params.group if params else None
                            break
                        if mtype == w.HS_SERVER_HELLO_DONE:
                            break
        finally:
            sock.close()
    except w.TLSProbeError as exc:
        return EndpointProbe(target, problem=f"{exc.kind}: {exc}", elapsed_s=time.perf_counter() - t0)
    g = w.GROUP_BY_CODE.get(group) if group is not None else None
    return EndpointProbe(target, version=w.VERSION_NAMES.get(version, f"0x{version:04X}"),
                         group=w.group_name(group) if group is not None else None,
                         cipher_suite=w.suite_name(sh.cipher_suite), hello_retry=sh.is_hrr,
                         post_quantum=bool(g and g.post_quantum), elapsed_s=time.perf_counter() - t0)


def probe_many(targets: Iterable[str | tuple[str, int] | TLSTarget], concurrency: int = 32,
               timeout: float = 5.0) -> list[EndpointProbe]:
    """:func:`probe_endpoint` over many endpoints with ``concurrency`` threads; results in input order."""
    parsed = [parse_target(t) for t in targets]
    if not parsed:
        return []
    with ThreadPoolExecutor(max_workers=max(1, min(concurrency, len(parsed)))) as pool:
        return list(pool.map(lambda t: probe_endpoint(t.host, t.port, sni=t.sni, timeout=timeout), parsed))
