"""The IP enrichment result (:class:`IpInfo`), the network classes and the provider protocol."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Protocol, runtime_checkable

IP_CLASSES: Final = ("residential", "mobile", "hosting", "vpn", "tor", "private", "unknown")
"""Every value :attr:`IpInfo.ip_class` can take.

* ``residential`` – an ISP network with a known ASN that no classification file lists (the default).
* ``mobile`` – a cellular carrier network. Addresses sit behind carrier-grade NAT and change often,
  so they are weak identifiers (many customers share one address).
* ``hosting`` – a cloud, hosting, CDN or data-centre network. A retail customer rarely logs in
  from one; scripts, bots and rented proxies often do.
* ``vpn`` – a commercial VPN / proxy provider network.
* ``tor`` – a Tor exit (from the Tor exit list, or an organisation that only operates Tor exits).
* ``private`` – not globally routable: RFC 1918, loopback, link-local, CGNAT (RFC 6598),
  documentation, multicast, reserved (see :mod:`mamori.adapters.geo.addresses`).
* ``unknown`` – the database has no ASN for the address.
"""

FILE_CLASSES: Final = ("residential", "mobile", "hosting", "vpn", "tor")
"""The classes a network classification file may assign (``private``/``unknown`` are computed)."""


@dataclass(frozen=True, slots=True)
class IpInfo:
    """What mamori knows about one client IP address."""

    ip: str
    """Normalised text form (``ipaddress``); an IPv4-mapped IPv6 address is given as IPv4."""
    version: int
    """4 or 6."""
    network: str
    """Aggregation network: the /24 for IPv4 (``"153.156.1.0/24"``), the /48 for IPv6."""
    country: str | None
    """ISO 3166-1 alpha-2 code; ``None`` if unknown or private."""
    asn: int | None
    """AS number when the database has it (MaxMind ASN files do; the built-in data does not)."""
    asn_org: str | None
    """Organisation name of the AS."""
    asn_key: str | None
    """Stable aggregation key: ``"AS2914"`` when the number is known, else
    ``"org:<lowercased organisation name>"``; ``None`` if neither is known."""
    ip_class: str
    """One of :data:`IP_CLASSES`."""
    latitude: float | None = None
    """Approximate position when the country database is a City database (GeoIP2/GeoLite2 City,
    DB-IP City Lite); ``None`` with the built-in data."""
    longitude: float | None = None
    accuracy_km: float | None = None
    """The database's accuracy radius around that position."""


@runtime_checkable
class GeoProvider(Protocol):
    """Enriches one IP address. Implementations are thread-safe and cache results."""

    def lookup(self, ip: str) -> IpInfo:
        """Enrich ``ip``, which must be an IPv4 or IPv6 literal; anything else raises ``ValueError``."""
        ...


SourceRecord = tuple[str | None, int | None, str | None]
"""What a database yields for one address: (country code, AS number, AS organisation)."""


class GeoSource(Protocol):
    """A country and/or ASN database, given a normalised address and its IP version."""

    def lookup(self, text: str, version: int) -> SourceRecord: ...
