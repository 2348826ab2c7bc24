"""The recursion engine: sniff, dispatch to the format reader, open members within the limits, roll
the worst verdict of the members up to their container.

Order of work for a member (cheapest first, so hostile input stops early):

1. the reader's header verdicts (encrypted flag, header disagreement) need no decompression;
2. the declared sizes are checked against ``max_ratio`` (a single highly compressed member stops
   here, before one byte is inflated);
3. the first :data:`~.budget.SNIFF_BYTES` are decompressed to tell the format from the magic bytes;
4. only a container (ZIP, 7z, RAR, PDF, CFB, gzip/bzip2/xz, tar) is decompressed fully, within
   ``max_member_bytes``, the message budget and the ratio (checked as the output grows), and only
   if the nesting depth allows. Anything else is done after its first bytes.

Any limit stops the whole attachment at once (``LimitExceeded`` unwinds the recursion): a 42.zip
style nested bomb costs one path down to the first limit, not 16^5 of them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from mamori.mail.attachments import compressed, office, pdf, rar, sevenz, tar, zip
from mamori.mail.attachments.base import CONTAINER_NAME_HINTS, Member, Report, clean_name
from mamori.mail.attachments.budget import SNIFF_BYTES, LimitExceeded, Malformed, ScanBudget, ScanContext
from mamori.mail.attachments.sniff import CONTAINERS, ENCRYPTED_LEAVES, sniff
from mamori.mail.model import AttachmentFinding, AttachmentVerdict, ScanLimits

_RANK: dict[str, int] = {"clean": 0, "error": 1, "unscannable": 2, "encrypted": 3}

ReaderFn = Callable[[bytes, ScanContext, str], Report]
READERS: dict[str, ReaderFn] = {
    "zip": zip.read, "7z": sevenz.read, "rar4": rar.read, "rar5": rar.read, "pdf": pdf.read,
    "cfb": office.read, "gzip": compressed.read, "bzip2": compressed.read, "xz": compressed.read,
    "tar": tar.read,
}


@dataclass
class _Node:
    path: str
    format: str
    encrypted: bool
    verdict: AttachmentVerdict
    method: str
    size: int
    detail: dict[str, Any] = field(default_factory=dict)

    def finding(self) -> AttachmentFinding:
        return AttachmentFinding(path=self.path, format=self.format, encrypted=self.encrypted,
                                 verdict=self.verdict, method=self.method, size=self.size, detail=self.detail)


class Scan:
    """One attachment's scan (the message budget may be shared with its siblings)."""

    def __init__(self, limits: ScanLimits, budget: ScanBudget) -> None:
        self.ctx = ScanContext(limits, budget)
        self.nodes: list[_Node] = []
        self._own: dict[int, tuple[AttachmentVerdict, str, bool]] = {}

    # -- nodes -------------------------------------------------------------------------------
    def _add(self, path: str, fmt: str, encrypted: bool, verdict: AttachmentVerdict, method: str, size: int,
             detail: dict[str, Any] | None = None) -> int:
        self.nodes.append(_Node(path, fmt, encrypted, verdict, method, size, detail or {}))
        return len(self.nodes) - 1

    def _rollup(self, idx: int) -> None:
        """A container is as bad as the worst thing inside it; its own verdict stays in ``detail``."""
        node = self.nodes[idx]
        own_verdict, own_method, own_encrypted = node.verdict, node.method, node.encrypted
        self._own[idx] = (own_verdict, own_method, own_encrypted)
        below = [(n, self._own.get(i, (n.verdict, n.method, n.encrypted)))
                 for i, n in enumerate(self.nodes[idx + 1:], start=idx + 1)]
        if not below:
            return
        # name the origin: the first node whose *own* verdict is the worst, not a container rolled up
        worst, (w_verdict, w_method, _) = max(below, key=lambda b: _RANK[b[1][0]])
        encrypted_below = [n for n, own in below if own[2]]
        if encrypted_below:
            node.encrypted = True
            node.detail["encrypted_descendants"] = len(encrypted_below)
        if _RANK[w_verdict] > _RANK[own_verdict]:
            node.verdict = w_verdict
            node.detail["own_verdict"] = own_verdict
            node.method = f"{own_method}; contains {w_verdict} content: {worst.path} ({w_method})"

    # -- objects -----------------------------------------------------------------------------
    def scan_object(self, data: bytes, path: str, depth: int, *, fmt: str | None = None) -> None:
        fmt = fmt or sniff(data)
        if fmt in ENCRYPTED_LEAVES:
            self._add(path, fmt, True, "encrypted", ENCRYPTED_LEAVES[fmt], len(data))
            return
        if fmt not in CONTAINERS:
            self._add(path, fmt, False, "clean", f"{fmt}: not a container or encrypted format (by magic bytes)",
                      len(data))
            return
        idx = self._add(path, fmt, False, "clean", "", len(data))
        node = self.nodes[idx]
        if depth >= self.ctx.limits.max_depth:
            msg = f"limit: nesting depth {self.ctx.limits.max_depth} reached (ScanLimits.max_depth)"
            node.verdict, node.method = "unscannable", msg
            raise LimitExceeded(msg, recorded=True)
        try:
            report = READERS[fmt](data, self.ctx, path.rsplit("/", 1)[-1])
            node.format, node.encrypted, node.verdict, node.method = (report.format, report.encrypted,
                                                                      report.verdict, report.method)
            node.detail.update(report.detail)
            for member in report.members:
                self.scan_member(member, path, report.format, depth)
        except LimitExceeded as exc:
            if not exc.recorded:
                node.verdict, node.method = "unscannable", str(exc)
                exc.recorded = True
            raise
        except Malformed as exc:
            node.verdict, node.method = self._worse(node.verdict, "error"), _join(node.method, f"{fmt}: {exc}")
        except Exception as exc:  # a reader bug must not take the mail flow down
            node.verdict = self._worse(node.verdict, "error")
            node.method = _join(node.method, f"{fmt}: unexpected {type(exc).__name__}: {exc}")
        finally:
            self._rollup(idx)

    @staticmethod
    def _worse(a: AttachmentVerdict, b: AttachmentVerdict) -> AttachmentVerdict:
        return a if _RANK[a] >= _RANK[b] else b

    def scan_member(self, m: Member, parent: str, parent_fmt: str, depth: int) -> None:
        path = f"{parent}/{m.name}"
        size = m.size or 0
        try:
            self.ctx.budget.count_entry()
        except LimitExceeded as exc:
            self._add(path, "unknown", False, "unscannable", str(exc), size)
            exc.recorded = True
            raise
        if m.encrypted:
            self._add(path, "unknown", True, "encrypted", m.method, size, dict(m.detail))
            return
        if m.verdict is not None:
            self._add(path, "unknown", False, m.verdict, m.method, size, dict(m.detail))
            return
        if m.content is None:
            reason = m.uninspected or f"{parent_fmt}: member content not available"
            detail = {**m.detail, "inspected": False}
            if m.name.lower().endswith(CONTAINER_NAME_HINTS):
                self._add(path, "unknown", False, "unscannable",
                          f"{reason}; the name suggests a container that could hide encrypted content", size, detail)
            else:
                self._add(path, "unknown", False, "clean", f"{reason}; not inspected", size, detail)
            return
        fmt = "unknown"
        limits = self.ctx.limits
        try:
            if m.size is not None and m.packed is not None:
                self.ctx.check_ratio(m.size, m.packed, f"member {path}")
            head = m.content.head(SNIFF_BYTES)
            fmt = sniff(head, whole=m.size is not None and len(head) >= m.size)
            if fmt in CONTAINERS:
                if depth + 1 >= limits.max_depth:
                    raise LimitExceeded(f"limit: nesting depth {limits.max_depth} reached (ScanLimits.max_depth)")
                if m.size is not None:
                    self.ctx.check_member_size(m.size, f"member {path}")
                data = m.content.full(limits.max_member_bytes)
        except LimitExceeded as exc:
            self._add(path, fmt, False, "unscannable", str(exc), size, dict(m.detail))
            exc.recorded = True
            raise
        except Malformed as exc:
            self._add(path, fmt, False, "error", f"{parent_fmt}: {exc}", size, dict(m.detail))
            return
        if fmt in CONTAINERS:
            self.scan_object(data, path, depth + 1, fmt=fmt)
        elif fmt in ENCRYPTED_LEAVES:
            self._add(path, fmt, True, "encrypted", ENCRYPTED_LEAVES[fmt], size, dict(m.detail))
        else:
            self._add(path, fmt, False, "clean", f"{parent_fmt}: member not encrypted ({fmt} by magic bytes)", size,
                      dict(m.detail))

    def run(self, data: bytes, name: str | None) -> list[AttachmentFinding]:
        path = clean_name(name) if name else "attachment"
        try:
            self.scan_object(data, path, 0)
        except LimitExceeded as exc:
            top = self.nodes[0]
            top.detail["scan_stopped"] = str(exc)
            if _RANK[top.verdict] < _RANK["unscannable"]:
                top.verdict = "unscannable"
            if str(exc) not in top.method:
                top.method = _join(top.method, f"scan stopped: {exc}")
        except Exception as exc:  # last resort: bad input never raises
            if not self.nodes:
                self._add(path, "unknown", False, "error", "", len(data))
            top = self.nodes[0]
            top.verdict = self._worse(top.verdict, "error")
            top.method = _join(top.method, f"unexpected {type(exc).__name__}: {exc}")
        return [n.finding() for n in self.nodes]


def _join(a: str, b: str) -> str:
    return f"{a}; {b}" if a else b
