"""Passkey registration and assertion (W3C Web Authentication Level 3) on py_webauthn.

Pinned by configuration: the relying-party id and the allowed origins; an assertion made on a
phishing site has another origin in its client data and is rejected (§7.2 step 9), and one made for
another RP id has another ``rpIdHash`` (§7.2 step 15). User verification is **required** (§7.2 step
17): a passkey is then possession plus biometrics or PIN, i.e. multi-factor. Credentials are
discoverable (resident keys, §5.4.6) so the login page can offer them by autofill (conditional
mediation) without asking for a login id first.

The signature counter (§6.1.1): a counter that does not increase (when either side is non-zero)
means a possibly cloned authenticator; the assertion is rejected and the event recorded. The update
is a compare-and-set, so two concurrent assertions cannot both pass with one counter value. The
backup flags (BE/BS, §6.1.3) are kept: they tell a synced passkey from a device-bound one.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from typing import Any

from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url, parse_authentication_credential_json
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from mamori.auth.store import Customer, Passkey
from mamori.kit.errors import WebAuthnRejected

CHALLENGE_BYTES = 32
TIMEOUT_MS = 120_000


@dataclass(frozen=True, slots=True)
class VerifiedAssertion:
    credential_id: str
    new_sign_count: int
    backed_up: bool
    user_handle: str | None


def new_user_handle() -> str:
    """A random WebAuthn user handle: never the login id or other personal data (§14.6.1)."""
    return bytes_to_base64url(secrets.token_bytes(32))


def new_challenge() -> bytes:
    return secrets.token_bytes(CHALLENGE_BYTES)


class RelyingParty:
    def __init__(self, *, rp_id: str, rp_name: str, origins: list[str]) -> None:
        if not origins:
            raise ValueError("at least one allowed origin is required")
        self.rp_id = rp_id
        self.rp_name = rp_name
        self.origins = origins

    # -- registration ----------------------------------------------------------------------------
    def registration_options(self, customer: Customer, existing: list[Passkey], challenge: bytes) -> dict[str, Any]:
        options = generate_registration_options(
            rp_id=self.rp_id, rp_name=self.rp_name, user_name=customer.login_id,
            user_id=base64url_to_bytes(customer.user_handle), user_display_name=customer.login_id,
            challenge=challenge, timeout=TIMEOUT_MS,
            authenticator_selection=AuthenticatorSelectionCriteria(
                resident_key=ResidentKeyRequirement.REQUIRED,
                user_verification=UserVerificationRequirement.REQUIRED),
            exclude_credentials=[PublicKeyCredentialDescriptor(id=base64url_to_bytes(k.credential_id))
                                 for k in existing])
        return json.loads(options_to_json(options))  # type: ignore[no-any-return]

    def verify_registration(self, credential: dict[str, Any], challenge: bytes, *, account_id: str, name: str,
                            now_us: int) -> Passkey:
        try:
            verified = verify_registration_response(
                credential=credential, expected_challenge=challenge, expected_rp_id=self.rp_id,
                expected_origin=self.origins, require_user_verification=True)
        except (WebAuthnException, ValueError, KeyError, TypeError) as exc:
            raise WebAuthnRejected(f"passkey registration rejected: {_reason(exc)}") from None
        transports = credential.get("response", {}).get("transports") or []
        transports = [t for t in transports if isinstance(t, str)][:8] if isinstance(transports, list) else []
        return Passkey(credential_id=bytes_to_base64url(verified.credential_id), account_id=account_id, name=name,
                       public_key=verified.credential_public_key, sign_count=verified.sign_count,
                       aaguid=verified.aaguid, backup_eligible=verified.credential_device_type == "multi_device",
                       backed_up=verified.credential_backed_up, transports=tuple(transports),
                       created_at_us=now_us, last_used_at_us=None)

    # -- authentication --------------------------------------------------------------------------
    def authentication_options(self, challenge: bytes, allow: list[Passkey] | None = None) -> dict[str, Any]:
        """``allow=None``: discoverable-credential request (autofill / "sign in with a passkey")."""
        options = generate_authentication_options(
            rp_id=self.rp_id, challenge=challenge, timeout=TIMEOUT_MS,
            allow_credentials=[PublicKeyCredentialDescriptor(id=base64url_to_bytes(k.credential_id))
                               for k in allow or []],
            user_verification=UserVerificationRequirement.REQUIRED)
        return json.loads(options_to_json(options))  # type: ignore[no-any-return]

    @staticmethod
    def credential_id_of(credential: Any) -> tuple[str, str | None]:
        """The credential id and user handle an assertion claims (before verification)."""
        try:
            parsed = parse_authentication_credential_json(json.dumps(credential))
        except (WebAuthnException, ValueError, KeyError, TypeError) as exc:
            raise WebAuthnRejected(f"malformed passkey assertion: {_reason(exc)}") from None
        handle = parsed.response.user_handle
        return bytes_to_base64url(parsed.raw_id), (bytes_to_base64url(handle) if handle else None)

    def verify_assertion(self, credential: dict[str, Any], challenge: bytes, key: Passkey) -> VerifiedAssertion:
        try:
            verified = verify_authentication_response(
                credential=credential, expected_challenge=challenge, expected_rp_id=self.rp_id,
                expected_origin=self.origins, credential_public_key=key.public_key,
                credential_current_sign_count=key.sign_count, require_user_verification=True)
        except (WebAuthnException, ValueError, KeyError, TypeError) as exc:
            raise WebAuthnRejected(f"passkey assertion rejected: {_reason(exc)}") from None
        _, handle = self.credential_id_of(credential)
        return VerifiedAssertion(key.credential_id, verified.new_sign_count, verified.credential_backed_up, handle)


def _reason(exc: Exception) -> str:
    text = str(exc) or exc.__class__.__name__
    return text.splitlines()[0][:200]
