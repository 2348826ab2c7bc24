"""Offline IP enrichment: country, ASN, network class (residential/mobile/hosting/VPN/Tor) and /24 or /48.

Works out of the box with the data shipped in the ``geoip2fast`` wheel (:mod:`.builtin`); a firm can
swap in MaxMind-format ``.mmdb`` files (:mod:`.maxmind`), its own classification file
(:mod:`.classes`, format at the top of ``network_classes.yaml``) and a Tor exit list (:mod:`.tor`).
Nothing here touches the network.

    provider = open_geo_provider()               # or country_mmdb=..., asn_mmdb=...
    info = provider.lookup("153.156.1.1")         # IpInfo(country="JP", ip_class="residential", ...)
"""

from __future__ import annotations

from .addresses import network_of
from .builtin import preload as preload_builtin
from .model import IP_CLASSES, GeoProvider, IpInfo
from .provider import Provider, open_geo_provider

__all__ = [
    "IP_CLASSES",
    "GeoProvider",
    "IpInfo",
    "Provider",
    "network_of",
    "open_geo_provider",
    "preload_builtin",
]
