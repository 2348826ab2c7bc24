"""What the mail scanners report: one shared vocabulary for the attachment detectors, the message
scanner, the SMTP policy proxy and the evidence counts."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

AttachmentVerdict = Literal["clean", "encrypted", "unscannable", "error"]
"""``clean``: nothing encrypted found; ``encrypted``: password-protected content (PPAP half one);
``unscannable``: a limit stopped the scan (depth, size, ratio: a possible archive bomb) — treated
as encrypted by policy, since it cannot be inspected either; ``error``: truncated or malformed."""

MessageVerdict = Literal["pass", "flag", "block"]


@dataclass(frozen=True)
class ScanLimits:
    """Bounds that keep hostile input from hurting the scanner (archive bombs, deep nesting)."""

    max_depth: int = 5
    """Archives inside archives: deeper content is reported ``unscannable``."""
    max_total_bytes: int = 256 * 1024 * 1024
    """Decompressed bytes read across one message."""
    max_member_bytes: int = 64 * 1024 * 1024
    """Decompressed bytes of one archive member."""
    max_ratio: float = 200.0
    """Decompressed / compressed size of one member beyond which it is a bomb."""
    max_members: int = 10_000
    """Entries of one archive."""


@dataclass(frozen=True)
class AttachmentFinding:
    """One file: an attachment, or a member found inside one (``path`` joins the names with ``/``)."""

    path: str
    format: str
    """Detected from the bytes, never the name: ``zip``, ``7z``, ``rar4``, ``rar5``, ``pdf``, ``ooxml``,
    ``ooxml-encrypted`` (an OOXML package inside an encrypted CFB container), ``ole-office`` (Word /
    Excel / PowerPoint 97–2003), ``cfb``, ``gzip``, ``text``, ``image``, ``unknown`` ..."""
    encrypted: bool
    verdict: AttachmentVerdict
    method: str
    """How it was decided, for a human: e.g. ``zip: general purpose flag bit 0 set (ZipCrypto)``,
    ``pdf: /Encrypt with a user password (the empty password does not open it)``."""
    size: int
    detail: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "format": self.format, "encrypted": self.encrypted, "verdict": self.verdict,
                "method": self.method, "size": self.size, "detail": self.detail}


@dataclass(frozen=True)
class LinkFinding:
    """A link (or something a reader can turn into one) in a text or HTML part, or in an image."""

    kind: str
    """``url``, ``bare_domain``, ``ip_address``, ``obfuscated`` (hxxp, [.]), ``shortener``, ``qr_code``,
    ``html_href``, ``fullwidth`` ..."""
    text: str
    part: str
    """Where: ``text/plain``, ``text/html``, ``image/png: logo.png`` ..."""

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "text": self.text, "part": self.part}


@dataclass(frozen=True)
class MessageReport:
    """One message: who, what was found, and the verdict of the scanner (the proxy adds policy)."""

    message_id: str | None
    sender: str | None
    recipients: tuple[str, ...]
    subject: str | None
    date: str | None
    """ISO 8601 if the Date header parses."""
    attachments: tuple[AttachmentFinding, ...]
    links: tuple[LinkFinding, ...]
    password_in_body: bool
    """The text looks like it carries a password for an attachment (PPAP half two)."""
    encrypted_message: str | None
    """``smime`` or ``pgp`` when the whole message is encrypted (S/MIME enveloped data, PGP/MIME)."""
    problems: tuple[str, ...] = ()
    """Malformed MIME and similar, named; the scan still completes."""

    @property
    def has_encrypted_attachment(self) -> bool:
        return any(a.verdict in ("encrypted", "unscannable") for a in self.attachments)

    def to_dict(self) -> dict[str, Any]:
        return {"message_id": self.message_id, "sender": self.sender, "recipients": list(self.recipients),
                "subject": self.subject, "date": self.date,
                "attachments": [a.to_dict() for a in self.attachments], "links": [x.to_dict() for x in self.links],
                "password_in_body": self.password_in_body, "encrypted_message": self.encrypted_message,
                "has_encrypted_attachment": self.has_encrypted_attachment, "problems": list(self.problems)}
