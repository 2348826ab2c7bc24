"""``mamori mail scan``: check stored mail for PPAP (password-protected attachments, passwords sent
by mail) and for links, the two things the FSA asked securities firms to stop mailing.

Output: one JSON object per message on stdout (JSON Lines), in input order: the fields of
:meth:`mamori.mail.model.MessageReport.to_dict` plus ``source`` (the file, or ``file#N`` for the N-th
message of an mbox) and ``ppap_followup`` (a :class:`mamori.mail.message.PpapMatch` as a dict when
this message carries the password for an encrypted attachment sent earlier by the same sender to
the same recipients, else ``null``). A summary goes to stderr.

PPAP pairs are found in the order the messages were *sent* (their ``Date`` header; a message
without one takes the time of the message before it), so a directory whose file names do not
follow the sending order is still paired correctly.

Exit status:

* ``0`` - every message was read and nothing was found;
* ``1`` - something was found in at least one message (an encrypted or unscannable attachment, a
  password in the body or a PPAP follow-up, a link, an encrypted message), or a file could not be
  read (the scan is then not a proof that nothing is there);
* ``2`` - usage error (unknown option, the path does not exist).
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import click
import orjson

from mamori.mail.model import MessageReport

if TYPE_CHECKING:  # the scanner (zxing, Pillow, pypdf) is imported when a scan runs, not with every command
    from mamori.mail.message import PpapMatch

__all__ = ["register", "scan"]


def _sent_at(report: MessageReport, previous: datetime | None) -> datetime:
    if report.date:
        try:
            at = datetime.fromisoformat(report.date)
        except ValueError:
            at = None
        if at is not None:
            return at if at.tzinfo is not None else at.replace(tzinfo=UTC)
    return previous or datetime.now(UTC)


def _found(report: MessageReport, match: PpapMatch | None) -> bool:
    return bool(report.has_encrypted_attachment or report.password_in_body or report.links
                or report.encrypted_message or match)


@click.command("scan")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option("--window", "window_minutes", type=click.IntRange(min=1), default=30, show_default=True,
              help="Minutes after an encrypted attachment within which a password mail is its PPAP follow-up.")
def scan(path: Path, window_minutes: int) -> None:
    """Scan PATH (an .eml file, a directory of .eml files, or an mbox file) for PPAP and links.

    Prints one JSON object per message; exit status 0 = nothing found, 1 = something found (or a
    file could not be read), 2 = usage error.
    """
    from mamori.mail.message import PpapTracker, iter_messages, scan_message

    unreadable: list[str] = []

    def on_error(source: str, reason: str) -> None:
        unreadable.append(source)
        click.echo(f"mamori mail scan: {source}: not read: {reason}", err=True)

    scanned: list[tuple[str, MessageReport, datetime]] = []
    previous: datetime | None = None
    for source, raw in iter_messages(path, on_error=on_error):
        report = scan_message(raw)
        previous = _sent_at(report, previous)
        scanned.append((source, report, previous))

    tracker = PpapTracker(window=timedelta(minutes=window_minutes))
    matches: dict[int, PpapMatch] = {}
    for index in sorted(range(len(scanned)), key=lambda i: scanned[i][2]):
        match = tracker.observe(scanned[index][1], at=scanned[index][2])
        if match is not None:
            matches[index] = match

    out = sys.stdout.buffer
    counts = dict.fromkeys(("attachments", "passwords", "pairs", "links", "encrypted", "found"), 0)
    for index, (source, report, _) in enumerate(scanned):
        match = matches.get(index)
        record = {"source": source, **report.to_dict(), "ppap_followup": match.to_dict() if match else None}
        out.write(orjson.dumps(record) + b"\n")
        counts["attachments"] += report.has_encrypted_attachment
        counts["passwords"] += report.password_in_body
        counts["pairs"] += match is not None
        counts["links"] += bool(report.links)
        counts["encrypted"] += report.encrypted_message is not None
        counts["found"] += _found(report, match)
    out.flush()
    click.echo(f"mamori mail scan: {len(scanned)} message(s), {counts['found']} with findings: "
               f"{counts['attachments']} with encrypted or unscannable attachments, {counts['passwords']} with a "
               f"password in the body, {counts['pairs']} PPAP follow-up(s), {counts['links']} with links, "
               f"{counts['encrypted']} encrypted; {len(unreadable)} file(s) not read", err=True)
    sys.exit(1 if counts["found"] or unreadable else 0)


def register(group: click.Group) -> None:
    """Add ``scan`` to the ``mamori mail`` group (see :mod:`mamori.cli.mail_group`)."""
    group.add_command(scan)
