"""What a format reader hands back to the recursion engine (:mod:`.engine`).

A reader parses headers only. It returns a :class:`Report` for the object itself and, for archives,
:class:`Member` entries whose ``content`` decompresses lazily and within the limits; the engine
decides which members to open (by sniffing their first bytes) and how deep to go.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from mamori.mail.attachments.budget import Malformed
from mamori.mail.model import AttachmentVerdict


class Content(Protocol):
    def head(self, n: int) -> bytes: ...

    def full(self, limit: int) -> bytes: ...


@dataclass
class Member:
    """One entry of an archive, as its headers describe it."""

    name: str
    size: int | None
    """Declared decompressed size (``None``: not known without decompressing)."""
    packed: int | None = None
    encrypted: bool = False
    method: str = ""
    """Why it is encrypted (or what is wrong with it), for a human."""
    verdict: AttachmentVerdict | None = None
    """Set by the reader when the headers alone decide (``error``, ``unscannable``)."""
    detail: dict[str, Any] = field(default_factory=dict)
    content: Content | None = None
    uninspected: str | None = None
    """Why ``content`` is ``None`` although the member is not encrypted (no decoder for its method)."""


@dataclass
class Report:
    """The reader's account of one object (the attachment, or a member opened as a container)."""

    format: str
    encrypted: bool
    verdict: AttachmentVerdict
    method: str
    detail: dict[str, Any] = field(default_factory=dict)
    members: Iterable[Member] = ()


class Reader:
    """Bounds-checked little-endian reads from a byte buffer; a short read raises :class:`Malformed`
    naming ``what`` and the offset (``central directory truncated at offset 1234``)."""

    __slots__ = ("data", "size")

    def __init__(self, data: bytes | memoryview) -> None:
        self.data = data
        self.size = len(data)

    def need(self, offset: int, n: int, what: str) -> None:
        if offset < 0 or n < 0 or offset + n > self.size:
            raise Malformed(f"{what} truncated at offset {offset}")

    def unpack(self, fmt: struct.Struct, offset: int, what: str) -> tuple[Any, ...]:
        self.need(offset, fmt.size, what)
        return fmt.unpack_from(self.data, offset)

    def bytes_at(self, offset: int, n: int, what: str) -> bytes:
        self.need(offset, n, what)
        return bytes(self.data[offset:offset + n])


CONTAINER_NAME_HINTS = (".zip", ".7z", ".rar", ".lzh", ".lha", ".gz", ".tgz", ".bz2", ".xz", ".tar", ".cab",
                        ".pdf", ".doc", ".docx", ".docm", ".xls", ".xlsx", ".xlsm", ".ppt", ".pptx", ".pptm",
                        ".odt", ".ods", ".odp", ".jtd", ".iso", ".img", ".001")
"""Used only to *escalate*: a member we cannot decompress whose name says it is a container is
``unscannable`` (it may hide an encrypted archive); the name never clears anything."""


_CONTROL = {i: "?" for i in (*range(32), 0x7F)}


def clean_name(raw: str, limit: int = 512) -> str:
    """Member names are attacker-controlled: drop control characters, cap the length."""
    out = raw[:limit].translate(_CONTROL)
    return out + ("…" if len(raw) > limit else "")
