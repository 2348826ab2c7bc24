"""A software passkey authenticator for the benchmark and HTTP-level tests (the browser tests use Chromium's virtual
authenticator): ES256 keys, discoverable credentials, ``none`` attestation, and the knobs an attacker
or a broken device would turn — another origin, no user verification, a replayed counter.

It produces exactly the JSON a browser's ``PublicKeyCredential.toJSON()`` returns (W3C WebAuthn L3
§5.1), built by hand from the spec: authenticator data (§6.1), client data (§5.8.1), signature
over ``authenticatorData ‖ SHA-256(clientDataJSON)`` (§6.3.3).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import struct
from dataclasses import dataclass, field
from typing import Any

import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec


def b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def unb64u(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class Credential:
    id: bytes
    key: ec.EllipticCurvePrivateKey
    rp_id: str
    user_handle: bytes
    sign_count: int = 0


@dataclass
class SoftAuthenticator:
    origin: str
    credentials: list[Credential] = field(default_factory=list)
    user_verified: bool = True
    counter_step: int = 1

    def _auth_data(self, rp_id: str, flags: int, count: int, attested: bytes = b"") -> bytes:
        return hashlib.sha256(rp_id.encode()).digest() + bytes([flags]) + struct.pack(">I", count) + attested

    def _flags(self, attested: bool) -> int:
        flags = 0x01 | (0x04 if self.user_verified else 0)  # UP, UV
        return flags | (0x40 if attested else 0)

    def create(self, options: dict[str, Any], *, origin: str | None = None) -> dict[str, Any]:
        rp_id = options["rp"]["id"]
        cred = Credential(os.urandom(32), ec.generate_private_key(ec.SECP256R1()), rp_id,
                          unb64u(options["user"]["id"]))
        numbers = cred.key.public_key().public_numbers()
        cose = cbor2.dumps({1: 2, 3: -7, -1: 1, -2: numbers.x.to_bytes(32, "big"), -3: numbers.y.to_bytes(32, "big")})
        attested = b"\x00" * 16 + struct.pack(">H", len(cred.id)) + cred.id + cose
        auth_data = self._auth_data(rp_id, self._flags(True), 0, attested)
        client_data = json.dumps({"type": "webauthn.create", "challenge": options["challenge"],
                                  "origin": origin or self.origin, "crossOrigin": False}).encode()
        self.credentials.append(cred)
        attestation = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data})
        return {"id": b64u(cred.id), "rawId": b64u(cred.id), "type": "public-key",
                "response": {"clientDataJSON": b64u(client_data), "attestationObject": b64u(attestation),
                             "transports": ["internal"]},
                "authenticatorAttachment": "platform", "clientExtensionResults": {}}

    def get(self, options: dict[str, Any], *, origin: str | None = None, credential: Credential | None = None,
            count: int | None = None) -> dict[str, Any]:
        allowed = {c["id"] for c in options.get("allowCredentials") or []}
        candidates = [c for c in self.credentials
                      if c.rp_id == options["rpId"] and (not allowed or b64u(c.id) in allowed)]
        cred = credential or candidates[0]
        if count is None:
            cred.sign_count += self.counter_step
            count = cred.sign_count
        auth_data = self._auth_data(cred.rp_id, self._flags(False), count)
        client_data = json.dumps({"type": "webauthn.get", "challenge": options["challenge"],
                                  "origin": origin or self.origin, "crossOrigin": False}).encode()
        signature = cred.key.sign(auth_data + hashlib.sha256(client_data).digest(), ec.ECDSA(hashes.SHA256()))
        return {"id": b64u(cred.id), "rawId": b64u(cred.id), "type": "public-key",
                "response": {"clientDataJSON": b64u(client_data), "authenticatorData": b64u(auth_data),
                             "signature": b64u(signature), "userHandle": b64u(cred.user_handle)},
                "authenticatorAttachment": "platform", "clientExtensionResults": {}}
