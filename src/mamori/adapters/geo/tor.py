"""Tor exit lists.

Accepted formats (both published by the Tor Project and fetched by the firm, never by mamori):

* the bulk exit list (``https://check.torproject.org/torbulkexitlist``): one address per line;
* TorDNSEL ``exit-addresses``: only the ``ExitAddress <ip> <date> <time>`` lines are used.

``#`` starts a comment (whole line or trailing); blank lines are skipped. Addresses are normalised
like lookups (:func:`mamori.adapters.geo.addresses.normalise`).
"""

from __future__ import annotations

from typing import Final

from mamori.kit.errors import GeoDatabaseError

from .addresses import normalise

_TORDNSEL_EXIT: Final = "ExitAddress"
_TORDNSEL_SKIP: Final = frozenset({"ExitNode", "Published", "LastStatus"})


def load_tor_exits(path: str) -> frozenset[str]:
    """The normalised exit addresses in ``path``; ``GeoDatabaseError`` naming the file and line."""
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise GeoDatabaseError(f"Tor exit list {path}: cannot read: {exc}") from exc
    exits: set[str] = set()
    for lineno, line in enumerate(lines, start=1):
        fields = line.split("#", 1)[0].split()
        if not fields or fields[0] in _TORDNSEL_SKIP:
            continue
        if fields[0] == _TORDNSEL_EXIT:
            if len(fields) < 2:
                raise GeoDatabaseError(f"Tor exit list {path}:{lineno}: ExitAddress without an address")
            token = fields[1]
        elif len(fields) == 1:
            token = fields[0]
        else:
            raise GeoDatabaseError(f"Tor exit list {path}:{lineno}: expected one address per line")
        try:
            exits.add(normalise(token)[0])
        except ValueError:
            raise GeoDatabaseError(
                f"Tor exit list {path}:{lineno}: {token[:64]!r} is not an IP address"
            ) from None
    return frozenset(exits)
