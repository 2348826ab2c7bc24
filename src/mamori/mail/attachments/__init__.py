"""Password-protected attachments (PPAP half one), detected from the bytes.

The FSA asked financial institutions to stop mailing password-protected ZIPs with the password in a
second mail (PPAP). :func:`scan_attachment` tells, for one attachment, whether it or anything inside
it is encrypted, and says how it knows:

- the format comes from the magic bytes, never the file name (:mod:`.sniff`);
- each format has its own header reader: ZIP (:mod:`.zip`: ZipCrypto, WinZip AES, PKWARE strong
  encryption, encrypted central directory, local/central header disagreement), 7z (:mod:`.sevenz`:
  content vs header encryption), RAR 4/5 (:mod:`.rar`), PDF (:mod:`.pdf`: user password vs
  permissions only), Office in CFB (:mod:`.office`: encrypted OOXML, Word/Excel/PowerPoint 97-2003),
  gzip/bzip2/xz (:mod:`.compressed`) and tar (:mod:`.tar`); S/MIME ``.p7m`` and armoured PGP
  messages are encrypted by nature;
- members of archives are opened recursively within :class:`~mamori.mail.model.ScanLimits` and a
  per-message :class:`ScanBudget` (:mod:`.engine`); an archive bomb stops at the first limit with
  verdict ``unscannable`` and the limit named in ``method``.

Nothing raises on bad input: malformed bytes give verdict ``error`` with the problem named.
"""

from __future__ import annotations

from mamori.mail.attachments.budget import ScanBudget
from mamori.mail.attachments.engine import Scan
from mamori.mail.attachments.sniff import sniff
from mamori.mail.model import AttachmentFinding, ScanLimits

__all__ = ["ScanBudget", "scan_attachment", "sniff"]

_DEFAULT_LIMITS = ScanLimits()


def scan_attachment(data: bytes, name: str | None, *, limits: ScanLimits = _DEFAULT_LIMITS,
                    budget: ScanBudget | None = None) -> list[AttachmentFinding]:
    """Findings for one attachment: first the attachment itself, then every member found inside it
    (``path`` = ``outer.zip/inner.7z/file.xlsx``), depth first.

    A container's verdict is the worst of its own and its members' (``encrypted`` > ``unscannable``
    > ``error`` > ``clean``); its own verdict is kept in ``detail.own_verdict`` when they differ.
    Pass the same ``budget`` to every attachment of one message so that the decompressed bytes of
    the whole message stay within ``limits.max_total_bytes``; without one, each call gets its own.
    """
    if budget is None:
        budget = ScanBudget.for_limits(limits)
    return Scan(limits, budget).run(bytes(data), name)
