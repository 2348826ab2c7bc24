"""The shared vocabulary of the PQC inventory: what a discovery plugin reports, and what the
register, the classifier and the outputs (CycloneDX CBOM, workbook, roadmap) consume."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Primitive = Literal["key-exchange", "signature", "public-key-encryption", "cipher", "hash", "mac", "kdf",
                    "protocol", "certificate", "key", "unknown"]
"""What the algorithm is used for (aligned with CycloneDX 1.6 ``cryptoProperties.algorithmProperties.primitive``
where it has one: ``kem``/``key-agree`` are both reported as ``key-exchange`` here)."""

Source = Literal["tls", "ssh", "file", "config", "code", "cbom", "asset-list"]


@dataclass(frozen=True)
class CryptoFinding:
    """One use of one algorithm at one place.

    ``algorithm`` uses a canonical name: ``RSA``, ``ECDSA``, ``Ed25519``, ``ECDH``, ``X25519``, ``DH``,
    ``ML-KEM``, ``ML-DSA``, ``SLH-DSA``, ``X25519MLKEM768`` (hybrids by their IANA TLS group name),
    ``AES``, ``ChaCha20-Poly1305``, ``3DES``, ``RC4``, ``SHA-1``, ``SHA-256``, ``MD5``, ``TLS``, ``SSH``...
    ``parameter`` carries the size or set: ``2048`` (RSA bits), ``P-256``, ``768`` (ML-KEM), ``128``
    (AES key bits), ``1.2`` (a protocol version) — as text, empty when not applicable or unknown.
    """

    source: Source
    location: str
    """``host:port`` for network peers, ``path`` or ``path:line`` for files and code, the asset id for imports."""
    primitive: Primitive
    algorithm: str
    parameter: str = ""
    context: str = ""
    """Where inside the location: ``tls-1.3 key share``, ``certificate[0] public key``, ``cipher suite``,
    ``host key``, ``hashlib.md5()``, ``ssl_ciphers`` ..."""
    confidence: float = 1.0
    """1.0 when observed on the wire or parsed from a structure; lower for source-code heuristics."""
    detail: dict[str, Any] = field(default_factory=dict)
    """Plugin-specific facts: server preference order, certificate subject and expiry (ISO 8601),
    the matched source line, the OID ..."""

    def key(self) -> tuple[str, str, str, str, str, str]:
        """Identity for de-duplication across scans."""
        return (self.source, self.location, self.primitive, self.algorithm, self.parameter, self.context)

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "location": self.location, "primitive": self.primitive,
                "algorithm": self.algorithm, "parameter": self.parameter, "context": self.context,
                "confidence": self.confidence, "detail": self.detail}


@dataclass(frozen=True)
class ScanResult:
    """What one discovery run over one target returned (findings, plus problems met on the way)."""

    source: Source
    target: str
    findings: tuple[CryptoFinding, ...]
    problems: tuple[str, ...] = ()
    started_at: str = ""
    """ISO 8601 UTC."""
    duration_s: float = 0.0
    connections: int = 0
    """Network connections used (TLS/SSH), to show the scan stayed polite and within supported+1."""
