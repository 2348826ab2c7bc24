"""Case attachments on disk: content-addressed files under the data directory.

A file is stored once under ``<data dir>/case-attachments/<sha256[:2]>/<sha256>`` (mode 0600, in a
0700 directory, written to a temporary name, fsynced and renamed), so two uploads of one document
share a file and a stored file can always be checked against its digest. The database keeps the
name, the declared content type, the SHA-256 and the size.

Attachments are evidence (screenshots, letters, bank statements) uploaded by analysts, but they may
come from anyone (a customer's e-mail). They are never served back with a type a browser would run
or render as a page: only the types in :data:`SAFE_TYPES` are served as declared, everything else
(HTML, SVG, JavaScript, XML, executables, unknown types) as ``application/octet-stream``; responses
always carry ``Content-Disposition: attachment``, ``X-Content-Type-Options: nosniff`` and a
sandboxing ``Content-Security-Policy`` (see :func:`download_headers`).
"""

from __future__ import annotations

import hashlib
import os
import re
import unicodedata
from pathlib import Path
from typing import Final

from mamori.kit.errors import NotFound, StorageUnavailable

SAFE_TYPES: Final = frozenset({
    "application/pdf", "image/png", "image/jpeg", "image/gif", "image/webp", "text/plain", "text/csv",
    "application/json", "message/rfc822", "application/zip",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
})  # fmt: skip
"""Content types served as declared (none of them is run or rendered as a page by a browser)."""

FALLBACK_TYPE: Final = "application/octet-stream"
_TYPE_RE: Final = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]{0,62}/[a-z0-9][a-z0-9!#$&^_.+-]{0,62}$")
_SHA_RE: Final = re.compile(r"^[0-9a-f]{64}$")


def normalise_content_type(value: str) -> str | None:
    """``type/subtype`` in lower case without parameters; None if it is not a media type."""
    base = value.split(";", 1)[0].strip().lower()
    return base if _TYPE_RE.fullmatch(base) else None


def served_type(declared: str) -> str:
    """The content type a download is served with: the declared one if safe, else octet-stream."""
    base = normalise_content_type(declared)
    return base if base in SAFE_TYPES else FALLBACK_TYPE


def clean_filename(name: str) -> str | None:
    """The last path component, NFC, without control characters, at most 255 characters; None if empty."""
    name = unicodedata.normalize("NFC", name).replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C").strip().strip(".")
    return name[:255] or None


def download_headers(filename: str, sha256: str) -> dict[str, str]:
    """Headers for serving an attachment: always a download, never sniffed, never scripted."""
    ascii_name = "".join(ch if 32 <= ord(ch) < 127 and ch not in '"\\;' else "_" for ch in filename)
    return {
        "Content-Disposition": f'attachment; filename="{ascii_name}"',
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'; sandbox",
        "Cache-Control": "no-store",
        "ETag": f'"{sha256}"',
    }


class AttachmentFiles:
    """Content-addressed attachment files under ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, sha256: str) -> Path:
        if not _SHA_RE.fullmatch(sha256):
            raise NotFound("no such attachment file")
        return self.root / sha256[:2] / sha256

    def put(self, data: bytes) -> str:
        """Store ``data`` (once per content); returns its SHA-256 (hex)."""
        digest = hashlib.sha256(data).hexdigest()
        path = self._path(digest)
        if path.exists() and path.stat().st_size == len(data):
            return digest
        try:
            for directory in (self.root, path.parent):
                directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            tmp = path.with_name(f".{digest}.{os.getpid()}.tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, path)
        except OSError as exc:
            raise StorageUnavailable(f"cannot store the attachment: {exc.__class__.__name__}") from exc
        return digest

    def get(self, sha256: str) -> bytes:
        """The file's bytes, checked against its digest (a changed file is reported, not served)."""
        try:
            data = self._path(sha256).read_bytes()
        except FileNotFoundError:
            raise NotFound("the attachment's file is missing from the data directory") from None
        if hashlib.sha256(data).hexdigest() != sha256:
            raise StorageUnavailable("the attachment's file does not match its SHA-256 (altered on disk)")
        return data
