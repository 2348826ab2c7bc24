"""Typed errors with stable codes (``mamori.<area>.<name>``).

Every edge renders them the same way: HTTP as ``{"error": {"code", "message", "details"}}`` with
the error's status, the CLI as the message on stderr and a non-zero exit code. Every code is listed
in ``docs/errors.md``; a test keeps the two in step.
"""

from __future__ import annotations

from typing import Any, ClassVar


class MamoriError(Exception):
    """Base of every error mamori raises on purpose."""

    code: ClassVar[str] = "mamori.internal"
    http_status: ClassVar[int] = 500

    def __init__(self, message: str, *, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details is not None:
            body["details"] = self.details
        return {"error": body}


class InvalidEvent(MamoriError):
    """An event does not match the event contract. ``details`` lists each field with its problem."""

    code = "mamori.events.invalid"
    http_status = 422


class InvalidRequest(MamoriError):
    """A request is malformed outside the event payload (bad query parameter, bad JSON)."""

    code = "mamori.api.invalid_request"
    http_status = 422


class Unauthenticated(MamoriError):
    code = "mamori.auth.unauthenticated"
    http_status = 401


class Forbidden(MamoriError):
    code = "mamori.auth.forbidden"
    http_status = 403


class NotFound(MamoriError):
    code = "mamori.api.not_found"
    http_status = 404


class RuleCompileError(MamoriError):
    """A rule file or expression is invalid. ``details`` holds ``file``, ``line``, ``column``."""

    code = "mamori.rules.compile_error"
    http_status = 422


class RuleEvaluationError(MamoriError):
    """A rule raised while being evaluated. Recorded on the decision, never raised to the caller."""

    code = "mamori.rules.evaluation_error"
    http_status = 500


class StorageUnavailable(MamoriError):
    """The durable store could not accept a write; the event was not accepted."""

    code = "mamori.storage.unavailable"
    http_status = 503


class ConfigError(MamoriError):
    code = "mamori.config.invalid"
    http_status = 500


class GeoDatabaseError(MamoriError):
    """An IP enrichment database file is missing or not in a supported format."""

    code = "mamori.geo.database_error"
    http_status = 500


class Conflict(MamoriError):
    """The object already exists or changed meanwhile (e.g. a login id already in use)."""

    code = "mamori.api.conflict"
    http_status = 409


class LoginFailed(MamoriError):
    """A customer's authentication step failed. One code and one message for a wrong password, an
    unknown login id and a locked factor, so that responses do not reveal which it was."""

    code = "mamori.login.failed"
    http_status = 401


class LoginThrottled(MamoriError):
    """Too many failed logins from the client's network: refused before any password is checked."""

    code = "mamori.login.throttled"
    http_status = 429


class PasskeyRequired(MamoriError):
    """The firm's policy requires a passkey for this customer or operation (the weaker factor's
    transition period is over or was never granted)."""

    code = "mamori.login.passkey_required"
    http_status = 403


class WebAuthnRejected(MamoriError):
    """A passkey registration or assertion did not verify (wrong origin or RP id, user verification
    missing, unknown or expired challenge, signature or counter check failed)."""

    code = "mamori.webauthn.rejected"
    http_status = 400


class StepUpRejected(MamoriError):
    """An operation-bound step-up is unknown, expired, already used, not approved, or was approved for
    a different operation than the one presented."""

    code = "mamori.stepup.rejected"
    http_status = 409


class CsrfRejected(MamoriError):
    """A state-changing request to the customer pages came from another origin or without the
    expected request form (cross-site request forgery protection)."""

    code = "mamori.auth.csrf"
    http_status = 403


class FourEyesRequired(MamoriError):
    """An action that moves money or changes controls needs a second person: the approver must be a
    different operator (or API key) from the one who proposed it, with the approving permission."""

    code = "mamori.actions.four_eyes"
    http_status = 403


class UnknownChain(MamoriError):
    """A crypto address, transaction or list entry names a chain mamori does not know."""

    code = "mamori.aml.unknown_chain"
    http_status = 422


class InvalidAddress(MamoriError):
    """A crypto address is malformed for its chain (wrong alphabet, length or checksum)."""

    code = "mamori.aml.invalid_address"
    http_status = 422


class ReportLocked(MamoriError):
    """A suspicious transaction report draft was locked by a compliance officer and cannot change;
    start a new version instead."""

    code = "mamori.str.locked"
    http_status = 409


class InvalidChainData(MamoriError):
    """A chain data file cannot be read at all (bad lines are reported and skipped, not raised)."""

    code = "mamori.aml.invalid_chain_data"
    http_status = 422


ALL_ERRORS: tuple[type[MamoriError], ...] = (
    MamoriError,
    InvalidEvent,
    InvalidRequest,
    Unauthenticated,
    Forbidden,
    NotFound,
    RuleCompileError,
    RuleEvaluationError,
    StorageUnavailable,
    ConfigError,
    GeoDatabaseError,
    Conflict,
    LoginFailed,
    LoginThrottled,
    PasskeyRequired,
    WebAuthnRejected,
    StepUpRejected,
    CsrfRejected,
    FourEyesRequired,
    UnknownChain,
    InvalidAddress,
    ReportLocked,
    InvalidChainData,
)
