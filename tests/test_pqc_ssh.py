"""SSH discovery against a real OpenSSH server on loopback, and against misbehaving fake peers.

Given Debian's ``/usr/sbin/sshd`` started unprivileged-style from a temp ``sshd_config`` (``-D -e -f``) with
RSA-2048, ECDSA P-256 and Ed25519 host keys made by ``ssh-keygen``, when ``scan_ssh`` runs, then the
KEXINIT lists come back in server order with canonical names, and each host key is fetched by a real
X25519/ECDH key exchange, its signature verified and its fingerprint equal to ``ssh-keygen -lf``'s.
"""

from __future__ import annotations

import os
import shutil
import socket
import struct
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ed25519, x25519
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from mamori.pqc.discovery.ssh import (
    canonical_cipher,
    canonical_host_key_algorithm,
    canonical_kex,
    canonical_mac,
    parse_kexinit,
    scan_ssh,
)
from mamori.pqc.model import CryptoFinding, ScanResult

SSHD = "/usr/sbin/sshd"


def _need_tools() -> None:
    if not os.path.exists(SSHD) or shutil.which("ssh-keygen") is None:
        pytest.fail("Debian's openssh-server (/usr/sbin/sshd, ssh-keygen) is needed: run scripts/system-deps")
    if os.geteuid() == 0 and not os.path.isdir("/run/sshd"):
        # sshd running as root insists on its privilege-separation directory
        try:
            os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
        except OSError as exc:
            pytest.fail(f"sshd as root needs /run/sshd and it cannot be created: {exc}")


@pytest.fixture(scope="module")
def host_keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    _need_tools()
    d = tmp_path_factory.mktemp("hostkeys")
    keys = {}
    for name, args in {"rsa": ["-t", "rsa", "-b", "2048"], "ecdsa": ["-t", "ecdsa", "-b", "256"],
                       "ed25519": ["-t", "ed25519"]}.items():
        path = d / f"ssh_host_{name}_key"
        subprocess.run(["ssh-keygen", "-q", "-N", "", "-C", f"test-{name}", "-f", str(path), *args], check=True)
        keys[name] = path
    return keys


def _fingerprint(pub: Path) -> str:
    out = subprocess.run(["ssh-keygen", "-l", "-E", "sha256", "-f", str(pub)], check=True, capture_output=True,
                         text=True).stdout
    return out.split()[1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Sshd:
    def __init__(self, tmp: Path, keys: dict[str, Path], extra: str = "") -> None:
        self.tmp, self.keys, self.extra = tmp, keys, extra
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self.log: IO[bytes] | None = None

    def start(self) -> Sshd:
        for _attempt in range(3):
            self.port = _free_port()
            cfg = self.tmp / f"sshd_config_{self.port}"
            lines = [f"Port {self.port}", "ListenAddress 127.0.0.1", "PidFile none", "UsePAM no", "StrictModes no",
                     "PasswordAuthentication no", "KbdInteractiveAuthentication no", "LogLevel ERROR",
                     *(f"HostKey {p}" for p in self.keys.values()), self.extra]
            cfg.write_text("\n".join(lines) + "\n")
            self.log = open(self.tmp / f"sshd_{self.port}.log", "wb")  # noqa: SIM115 - closed in stop()
            self.proc = subprocess.Popen([SSHD, "-D", "-e", "-f", str(cfg)], stdout=self.log, stderr=self.log)
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline and self.proc.poll() is None:
                try:
                    socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                    return self
                except OSError:
                    time.sleep(0.03)
            self.stop()
        log_text = (self.tmp / f"sshd_{self.port}.log").read_text(errors="replace")
        pytest.fail(f"sshd did not start on 127.0.0.1:{self.port}: {log_text[-800:]}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if self.log is not None:
            self.log.close()
            self.log = None


@pytest.fixture
def sshd(tmp_path: Path, host_keys: dict[str, Path]) -> Iterator[Callable[[str], Sshd]]:
    started: list[Sshd] = []

    def start(extra: str = "") -> Sshd:
        s = Sshd(tmp_path, host_keys, extra).start()
        started.append(s)
        return s

    yield start
    for s in started:
        s.stop()


def _by(result: ScanResult, context: str) -> list[CryptoFinding]:
    return [f for f in result.findings if f.context == context]


def _pairs(result: ScanResult, context: str) -> list[tuple[str, str]]:
    return [(f.algorithm, f.parameter) for f in _by(result, context)]


# ---------------------------------------------------------------------------------------------- real sshd

def test_default_sshd_reports_kex_in_server_order_and_real_host_keys(sshd: Callable[[str], Sshd],
                                                                     host_keys: dict[str, Path]) -> None:
    server = sshd("")
    result = scan_ssh("127.0.0.1", server.port, timeout=5)

    assert result.problems == ()
    assert result.source == "ssh" and result.target == f"127.0.0.1:{server.port}"
    proto = _by(result, "ssh identification")[0]
    assert proto.detail["software"].startswith("OpenSSH_")
    kex_names = proto.detail["kex_algorithms"]
    kex = _by(result, "ssh kex")
    # every advertised (non-extension) name is covered, in the server's order
    covered = [n for f in kex for n in f.detail["ssh_names"]]
    assert covered == [n for n in kex_names if not n.startswith(("kex-strict-", "ext-info-"))]
    orders = [f.detail["server_order"][0] for f in kex]
    assert orders == sorted(orders)
    # Debian 12's OpenSSH 9.2 offers the sntrup761 hybrid first and no ML-KEM (9.9+)
    assert kex[0].algorithm == "sntrup761x25519" and kex[0].detail["post_quantum"] is True
    assert ("X25519", "") in _pairs(result, "ssh kex")
    assert ("ECDH", "P-256") in _pairs(result, "ssh kex")
    assert ("DH", "2048") in _pairs(result, "ssh kex")
    assert proto.detail["strict_kex"] is True
    assert "sntrup761x25519-sha512@openssh.com" in proto.detail["post_quantum_kex"]

    host_alg = _pairs(result, "ssh host key algorithm")
    assert ("RSA", "") in host_alg and ("ECDSA", "P-256") in host_alg and ("Ed25519", "") in host_alg
    assert any(f.algorithm == "AES" and f.parameter == "256" for f in _by(result, "ssh cipher"))
    chacha = next(f for f in _by(result, "ssh cipher") if f.algorithm == "ChaCha20-Poly1305")
    assert chacha.detail["directions"] == ["client-to-server", "server-to-client"]
    assert ("HMAC", "SHA-256") in _pairs(result, "ssh mac")

    keys = {f.algorithm: f for f in _by(result, "ssh host key")}
    assert set(keys) == {"RSA", "ECDSA", "Ed25519"}
    assert keys["RSA"].parameter == "2048" and keys["ECDSA"].parameter == "P-256" and keys["Ed25519"].parameter == ""
    for name, alg in (("rsa", "RSA"), ("ecdsa", "ECDSA"), ("ed25519", "Ed25519")):
        f = keys[alg]
        assert f.primitive == "signature"
        assert f.detail["signature_verified"] is True
        assert f.detail["kex_used"] == "curve25519-sha256"
        assert f.detail["fingerprint_sha256"] == _fingerprint(host_keys[name].with_suffix(".pub"))
    assert keys["RSA"].detail["signature_algorithm"] == "rsa-sha2-512"
    assert result.connections == 4  # KEXINIT + one per host-key type


def test_restricted_sshd_lists_only_what_is_configured(sshd: Callable[[str], Sshd]) -> None:
    server = sshd("KexAlgorithms ecdh-sha2-nistp256\nHostKeyAlgorithms ssh-ed25519,ssh-rsa\n"
                  "Ciphers aes256-gcm@openssh.com\nMACs hmac-sha2-512-etm@openssh.com\n")
    result = scan_ssh("127.0.0.1", server.port, timeout=5)

    assert result.problems == ()
    assert _pairs(result, "ssh kex") == [("ECDH", "P-256")]
    # sshd lists host-key algorithms in the order of its HostKey files, filtered by HostKeyAlgorithms
    assert _by(result, "ssh identification")[0].detail["server_host_key_algorithms"] == ["ssh-rsa", "ssh-ed25519"]
    assert _pairs(result, "ssh host key algorithm") == [("RSA", ""), ("Ed25519", "")]
    assert _by(result, "ssh host key algorithm")[0].detail["hash"] == "SHA-1"
    assert _pairs(result, "ssh cipher") == [("AES", "256")]
    assert _by(result, "ssh cipher")[0].detail["mode"] == "GCM"
    assert _pairs(result, "ssh mac") == [("HMAC", "SHA-512")]
    assert _by(result, "ssh mac")[0].detail["etm"] is True
    keys = {(f.algorithm, f.parameter): f for f in _by(result, "ssh host key")}
    assert set(keys) == {("Ed25519", ""), ("RSA", "2048")}  # the ECDSA key exists but is not offered
    assert all(f.detail["kex_used"] == "ecdh-sha2-nistp256" and f.detail["signature_verified"] for f in keys.values())
    assert keys[("RSA", "2048")].detail["signature_algorithm"] == "ssh-rsa"
    assert result.connections == 3


def test_finite_field_only_sshd_gives_kexinit_and_a_named_host_key_problem(sshd: Callable[[str], Sshd]) -> None:
    server = sshd("KexAlgorithms diffie-hellman-group14-sha256,diffie-hellman-group16-sha512\n")
    result = scan_ssh("127.0.0.1", server.port, timeout=5)

    assert _pairs(result, "ssh kex") == [("DH", "2048"), ("DH", "4096")]
    assert [p.split(":")[0] for p in result.problems] == ["ssh-hostkey-no-supported-kex"]
    assert _by(result, "ssh host key") == []
    assert result.connections == 1


# ---------------------------------------------------------------------------------------------- fake peers

def _ssh_string(b: bytes) -> bytes:
    return struct.pack(">I", len(b)) + b


def _packet(payload: bytes) -> bytes:
    pad = 8 - ((5 + len(payload)) % 8)
    pad = pad + 8 if pad < 4 else pad
    return struct.pack(">IB", 1 + len(payload) + pad, pad) + payload + b"\x00" * pad


def _kexinit(kex: list[str], hostkey: list[str]) -> bytes:
    lists = [kex, hostkey, ["aes128-ctr", "3des-cbc"], ["aes128-ctr"], ["hmac-sha1", "umac-64@openssh.com"],
             ["hmac-sha1"], ["none"], ["none"], [], []]
    return (b"\x14" + b"C" * 16 + b"".join(_ssh_string(",".join(x).encode()) for x in lists) + b"\x00"
            + b"\x00\x00\x00\x00")


class FakePeer:
    """A loopback TCP server that runs ``handler`` for each connection in a thread."""

    def __init__(self, handler: Callable[[socket.socket], None]) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = int(self.sock.getsockname()[1])
        self.handler = handler
        self.stopping = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stopping:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            self.handler(conn)
        except OSError:
            pass
        finally:
            conn.close()

    def close(self) -> None:
        self.stopping = True
        self.sock.close()


@pytest.fixture
def fake() -> Iterator[Callable[[Callable[[socket.socket], None]], FakePeer]]:
    peers: list[FakePeer] = []

    def make(handler: Callable[[socket.socket], None]) -> FakePeer:
        p = FakePeer(handler)
        peers.append(p)
        return p

    yield make
    for p in peers:
        p.close()


def _read_line(conn: socket.socket) -> bytes:
    buf = b""
    while not buf.endswith(b"\n"):
        chunk = conn.recv(1)
        if not chunk:
            break
        buf += chunk
    return buf.rstrip(b"\r\n")


def _recv_exact(conn: socket.socket, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        chunk = conn.recv(n - len(buf))
        if not chunk:
            raise OSError("closed")
        buf += chunk
    return buf


def _recv_packet(conn: socket.socket) -> bytes:
    length, pad = struct.unpack(">IB", _recv_exact(conn, 5))
    body = _recv_exact(conn, length - 1)
    return body[: length - 1 - pad]


PQ_KEX = ["mlkem768x25519-sha256", "sntrup761x25519-sha512@openssh.com", "mlkem1024nistp384-sha384",
          "curve25519-sha256", "ecdh-sha2-nistp256", "diffie-hellman-group14-sha1", "diffie-hellman-group1-sha1",
          "kex-strict-s-v00@openssh.com"]


def _pq_server(host_key: ed25519.Ed25519PrivateKey, *, corrupt_signature: bool = False
               ) -> Callable[[socket.socket], None]:
    """A minimal SSH server: PQ-first KEXINIT, and a real curve25519-sha256 reply signed with Ed25519."""
    ident = b"SSH-2.0-FakePQ_1.0"
    k_s = _ssh_string(b"ssh-ed25519") + _ssh_string(host_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw))

    def handler(conn: socket.socket) -> None:
        conn.sendall(b"pre-banner notice\r\n" + ident + b"\r\n")
        v_c = _read_line(conn)
        i_s = _kexinit(PQ_KEX, ["ssh-ed25519"])
        conn.sendall(_packet(b"\x02" + _ssh_string(b"ignored")) + _packet(i_s))
        i_c = _recv_packet(conn)
        init = _recv_packet(conn)
        assert init[0] == 30
        q_c = init[5:5 + struct.unpack(">I", init[1:5])[0]]
        eph = x25519.X25519PrivateKey.generate()
        q_s = eph.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        k = int.from_bytes(eph.exchange(x25519.X25519PublicKey.from_public_bytes(q_c)), "big")
        kb = k.to_bytes((k.bit_length() + 8) // 8, "big")
        h = hashes.Hash(hashes.SHA256())
        for part in (v_c, ident, i_c, i_s, k_s, q_c, q_s, kb):
            h.update(_ssh_string(part))
        digest = h.finalize()
        sig = host_key.sign(digest + (b"x" if corrupt_signature else b""))
        conn.sendall(_packet(b"\x1f" + _ssh_string(k_s) + _ssh_string(q_s)
                             + _ssh_string(_ssh_string(b"ssh-ed25519") + _ssh_string(sig))))
        time.sleep(0.2)

    return handler


def test_post_quantum_kex_names_are_canonicalised_and_host_key_verified(fake: Callable[..., FakePeer]) -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    peer = fake(_pq_server(key))
    result = scan_ssh("127.0.0.1", peer.port, timeout=3)

    assert result.problems == ()
    assert _pairs(result, "ssh kex") == [("X25519MLKEM768", "768"), ("sntrup761x25519", "761"),
                                         ("SecP384r1MLKEM1024", "1024"), ("X25519", ""), ("ECDH", "P-256"),
                                         ("DH", "2048"), ("DH", "1024")]
    mlkem = _by(result, "ssh kex")[0]
    assert mlkem.detail["ssh_name"] == "mlkem768x25519-sha256" and mlkem.detail["hybrid"] is True
    assert mlkem.detail["server_order"] == [1]
    proto = _by(result, "ssh identification")[0]
    assert proto.detail["pre_banner_lines"] == ["pre-banner notice"]
    assert proto.detail["kex_extensions"] == ["kex-strict-s-v00@openssh.com"]
    assert proto.detail["post_quantum_kex"] == PQ_KEX[:3]
    ciphers = {(f.algorithm, f.parameter): f for f in _by(result, "ssh cipher")}
    assert ciphers[("AES", "128")].detail["directions"] == ["client-to-server", "server-to-client"]
    assert ciphers[("3DES", "168")].detail["directions"] == ["client-to-server"]
    hk = _by(result, "ssh host key")
    assert [(f.algorithm, f.detail["signature_verified"]) for f in hk] == [("Ed25519", True)]


def test_bad_host_key_signature_is_a_named_problem(fake: Callable[..., FakePeer]) -> None:
    peer = fake(_pq_server(ed25519.Ed25519PrivateKey.generate(), corrupt_signature=True))
    result = scan_ssh("127.0.0.1", peer.port, timeout=3)
    assert [p.split(":")[0] for p in result.problems] == ["ssh-hostkey-bad-signature"]
    assert _by(result, "ssh host key") == []
    assert _by(result, "ssh kex")  # the KEXINIT findings stay


def _closes(conn: socket.socket) -> None:
    return None


def _garbage_lines(conn: socket.socket) -> None:
    conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")


def _garbage_binary(conn: socket.socket) -> None:
    conn.sendall(bytes(range(256)) * 2)
    time.sleep(1)


def _endless_line(conn: socket.socket) -> None:
    conn.sendall(b"A" * 5000)
    time.sleep(1)


def _silent(conn: socket.socket) -> None:
    time.sleep(3)


def _protocol_1(conn: socket.socket) -> None:
    conn.sendall(b"SSH-1.5-OldServer\r\n")
    time.sleep(0.5)


def _huge_packet(conn: socket.socket) -> None:
    conn.sendall(b"SSH-2.0-Weird\r\n" + struct.pack(">IB", 0x7FFFFFFF, 4) + b"\x00" * 16)
    time.sleep(0.5)


def _not_kexinit(conn: socket.socket) -> None:
    conn.sendall(b"SSH-2.0-Weird\r\n" + _packet(b"\x05" + _ssh_string(b"ssh-userauth")))
    time.sleep(0.5)


def _bad_kexinit(conn: socket.socket) -> None:
    conn.sendall(b"SSH-2.0-Weird\r\n" + _packet(b"\x14" + b"C" * 16 + struct.pack(">I", 5000) + b"abc"))
    time.sleep(0.5)


def _disconnects(conn: socket.socket) -> None:
    conn.sendall(b"SSH-2.0-Busy\r\n" + _packet(b"\x01" + struct.pack(">I", 2) + _ssh_string(b"too many") +
                                               _ssh_string(b"")))
    time.sleep(0.5)


@pytest.mark.parametrize(("handler", "code"), [
    (_closes, "ssh-closed"),
    (_garbage_lines, "ssh-no-identification"),
    (_garbage_binary, "ssh-bad-identification"),
    (_endless_line, "ssh-bad-identification"),
    (_silent, "ssh-timeout"),
    (_protocol_1, "ssh-protocol-1"),
    (_huge_packet, "ssh-packet-too-large"),
    (_not_kexinit, "ssh-unexpected-message"),
    (_bad_kexinit, "ssh-bad-kexinit"),
    (_disconnects, "ssh-disconnected"),
])
def test_bad_peers_give_named_problems_quickly(fake: Callable[..., FakePeer], handler: Callable[[socket.socket], None],
                                               code: str) -> None:
    peer = fake(handler)
    t0 = time.monotonic()
    result = scan_ssh("127.0.0.1", peer.port, timeout=0.6)
    elapsed = time.monotonic() - t0

    assert result.findings == ()
    assert len(result.problems) == 1 and result.problems[0].startswith(f"{code}: 127.0.0.1:{peer.port}: ")
    assert elapsed < 1.5


def test_refused_port_is_a_connect_problem() -> None:
    port = _free_port()
    result = scan_ssh("127.0.0.1", port, timeout=1)
    assert result.problems[0].startswith("ssh-connect-failed: ")
    assert result.findings == ()


# ---------------------------------------------------------------------------------------------- names

@pytest.mark.parametrize(("name", "alg", "param"), [
    ("mlkem768x25519-sha256", "X25519MLKEM768", "768"),
    ("sntrup761x25519-sha512@openssh.com", "sntrup761x25519", "761"),
    ("curve25519-sha256@libssh.org", "X25519", ""),
    ("curve448-sha512", "X448", ""),
    ("ecdh-sha2-nistp521", "ECDH", "P-521"),
    ("diffie-hellman-group18-sha512", "DH", "8192"),
    ("diffie-hellman-group-exchange-sha1", "DH", ""),
    ("rsa2048-sha256", "RSA", "2048"),
    ("totally-new-kex@example.org", "totally-new-kex@example.org", ""),
])
def test_canonical_kex(name: str, alg: str, param: str) -> None:
    c = canonical_kex(name)
    assert (c.algorithm, c.parameter) == (alg, param)


def test_canonical_other_lists() -> None:
    assert canonical_host_key_algorithm("rsa-sha2-256-cert-v01@openssh.com").facts == {"certificate": True,
                                                                                       "hash": "SHA-256"}
    assert canonical_host_key_algorithm("sk-ssh-ed25519@openssh.com").algorithm == "Ed25519"
    assert (canonical_host_key_algorithm("ecdsa-sha2-nistp384").parameter) == "P-384"
    assert (canonical_cipher("aes192-cbc").algorithm, canonical_cipher("aes192-cbc").facts) == ("AES", {"mode": "CBC"})
    assert canonical_cipher("arcfour256").algorithm == "RC4"
    assert (canonical_mac("hmac-sha1-96").parameter, canonical_mac("hmac-sha1-96").facts["tag_bits"]) == ("SHA-1", 96)
    assert canonical_mac("umac-128-etm@openssh.com").parameter == "128"


def test_parse_kexinit_rejects_truncated_payload() -> None:
    payload = _kexinit(["curve25519-sha256"], ["ssh-ed25519"])
    assert parse_kexinit(payload).kex_algorithms == ("curve25519-sha256",)
    with pytest.raises(Exception, match="ssh-bad-kexinit"):
        parse_kexinit(payload[:30])
