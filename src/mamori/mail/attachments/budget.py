"""Bounds for one scan: the per-message byte budget, the limit and malformation signals, and the
scan context handed to every format module.

The limits themselves live in :class:`mamori.mail.model.ScanLimits`. This module adds what is
shared across the attachments of one message (:class:`ScanBudget`) and the two internal
exceptions the format readers raise:

- :class:`LimitExceeded`: a :class:`ScanLimits` bound (or the message budget) was hit. The scan of
  the attachment stops at once and the attachment is reported ``unscannable`` with the limit named,
  so an archive bomb costs at most the bytes the limits allow.
- :class:`Malformed`: the bytes do not follow the format (truncated, bad signature, offsets out of
  range). The object is reported ``error`` with the message as its ``method``.
"""

from __future__ import annotations

from dataclasses import dataclass

from mamori.mail.model import ScanLimits

SNIFF_BYTES = 64 * 1024
"""How much of a member is decompressed to tell its format from the magic bytes."""
RATIO_FLOOR = 1024 * 1024
"""Members smaller than this are never called bombs: a 2 KiB run of spaces compresses 200:1 and is
harmless; the ratio limit guards against large outputs."""


class LimitExceeded(Exception):
    """A :class:`ScanLimits` bound was reached; ``str(exc)`` names it (``limit: ...``)."""

    def __init__(self, message: str, *, recorded: bool = False) -> None:
        super().__init__(message)
        self.recorded = recorded


class Malformed(Exception):
    """The bytes break the format; ``str(exc)`` says where (``central directory truncated at offset 1234``)."""


def fmt_bytes(n: int) -> str:
    """``268435456`` -> ``256 MiB`` (for limit messages)."""
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size and n % size == 0:
            return f"{n // size} {unit}"
    return f"{n} bytes"


class ScanBudget:
    """Decompressed bytes still allowed for one message, shared by all its attachments.

    Create one per message and pass it to every :func:`scan_attachment` call of that message; once
    it is spent, anything that would need more decompression is reported ``unscannable`` with
    ``limit: total decompressed bytes per message``. Headers-only checks (ZIP flags, 7z/RAR headers,
    PDF ``/Encrypt``) still run, since they decompress nothing.
    """

    __slots__ = ("entries", "limit", "max_entries", "used")

    def __init__(self, max_total_bytes: int | None = None, *, max_entries: int = 50_000) -> None:
        self.limit = ScanLimits().max_total_bytes if max_total_bytes is None else max_total_bytes
        self.used = 0
        self.max_entries = max_entries
        """Archive entries visited across the message: bounds the work of tiny nested archives, which
        cost almost no bytes each (``max_members`` bounds one archive only)."""
        self.entries = 0

    @classmethod
    def for_limits(cls, limits: ScanLimits) -> ScanBudget:
        return cls(limits.max_total_bytes)

    @property
    def remaining(self) -> int:
        return max(0, self.limit - self.used)

    def consume(self, n: int) -> None:
        """Account for ``n`` more bytes; raise :class:`LimitExceeded` once the budget is overrun."""
        self.used += n
        if self.used > self.limit:
            raise LimitExceeded(f"limit: total decompressed bytes per message ({fmt_bytes(self.limit)}, "
                                "ScanLimits.max_total_bytes) exhausted")

    def count_entry(self) -> None:
        self.entries += 1
        if self.entries > self.max_entries:
            raise LimitExceeded(f"limit: more than {self.max_entries} archive entries in one message "
                                "(ScanBudget.max_entries)")

    def __repr__(self) -> str:
        return f"ScanBudget(used={self.used}, limit={self.limit})"


@dataclass
class ScanContext:
    """What every reader gets: the limits and the message budget."""

    limits: ScanLimits
    budget: ScanBudget

    def check_members(self, count: int, fmt: str) -> None:
        if count > self.limits.max_members:
            raise LimitExceeded(f"limit: {fmt} has {count} entries, more than {self.limits.max_members} "
                                "(ScanLimits.max_members)")

    def check_ratio(self, unpacked: int, packed: int, what: str) -> None:
        """Declared (or measured) decompressed / compressed size beyond ``max_ratio`` = a bomb."""
        if unpacked > RATIO_FLOOR and unpacked > self.limits.max_ratio * max(packed, 1):
            ratio = unpacked / max(packed, 1)
            raise LimitExceeded(f"limit: compression ratio {ratio:.0f}:1 of {what} is over "
                                f"{self.limits.max_ratio:g}:1 (ScanLimits.max_ratio; "
                                f"{unpacked} bytes from {packed})")

    def check_member_size(self, size: int, what: str) -> None:
        if size > self.limits.max_member_bytes:
            raise LimitExceeded(f"limit: {what} is {size} bytes decompressed, more than "
                                f"{fmt_bytes(self.limits.max_member_bytes)} (ScanLimits.max_member_bytes)")
