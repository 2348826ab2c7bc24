"""The composed provider: sources (built-in or MaxMind) + classification + Tor list + LRU cache.

Precedence of ``ip_class``: Tor exit list > private (special-purpose range) > the firm's
classification file > the shipped file > ``residential`` (ASN or organisation known) / ``unknown``.
"""

from __future__ import annotations

import functools
import os
from typing import Final

from .addresses import is_special, network_of_normalised, normalise
from .builtin import BuiltinSource
from .classes import Classifier, load_class_table, shipped_table
from .maxmind import MaxMindSource
from .model import GeoSource, IpInfo, SourceRecord
from .tor import load_tor_exits

_KEY_CACHE_SIZE: Final = 65536


class _MergedSource:
    """Country from one source, AS number and organisation from another."""

    __slots__ = ("_asn", "_country")

    def __init__(self, country: GeoSource, asn: GeoSource) -> None:
        self._country = country
        self._asn = asn

    def lookup(self, text: str, version: int) -> SourceRecord:
        country = self._country.lookup(text, version)[0]
        _, number, org = self._asn.lookup(text, version)
        return country, number, org


class Provider:
    """A :class:`~mamori.adapters.geo.model.GeoProvider`; build it with ``open_geo_provider``."""

    def __init__(
        self,
        source: GeoSource,
        classifier: Classifier,
        tor_exits: frozenset[str],
        cache_size: int,
        closers: tuple[MaxMindSource, ...] = (),
        locator: MaxMindSource | None = None,
    ) -> None:
        self._source = source
        self._locator = locator
        self._classifier = classifier
        self._tor = tor_exits
        self._closers = closers
        self._cached = functools.lru_cache(maxsize=cache_size)(self._lookup_uncached)
        self._per_address = classifier.has_networks
        self._key_and_class = functools.lru_cache(maxsize=_KEY_CACHE_SIZE)(self._classify_as)

    def lookup(self, ip: str) -> IpInfo:
        """Enrich ``ip`` (an IPv4/IPv6 literal; ``ValueError`` otherwise). Results are LRU-cached."""
        return self._cached(ip)

    def cache_info(self) -> functools._CacheInfo:
        return self._cached.cache_info()

    def cache_clear(self) -> None:
        self._cached.cache_clear()

    def close(self) -> None:
        """Release memory-mapped ``.mmdb`` files (the built-in data stays loaded for the process)."""
        for source in self._closers:
            source.close()

    def _lookup_uncached(self, ip: str) -> IpInfo:
        text, version, n = normalise(ip)
        network = network_of_normalised(text, version, n)
        tor = text in self._tor
        if not tor and is_special(n, version):
            return IpInfo(text, version, network, None, None, None, None, "private")
        country, asn, org = self._source.lookup(text, version)
        if org is not None:
            org = org.strip() or None
        org, asn_key, cls = self._key_and_class(asn, org)
        if tor:
            cls = "tor"
        elif self._per_address:
            cls = self._classifier.classify(n, version, asn, org)
        where = self._locator.location(text, version) if self._locator is not None else None
        if where is None:
            return IpInfo(text, version, network, country, asn, org, asn_key, cls)
        return IpInfo(text, version, network, country, asn, org, asn_key, cls, *where)

    def _classify_as(self, asn: int | None, org: str | None) -> tuple[str | None, str | None, str]:
        """(canonical organisation string, asn_key, class by ASN/organisation), memoised per AS."""
        if asn is not None:
            key: str | None = f"AS{asn}"
        elif org is not None:
            key = "org:" + org.lower()
        else:
            key = None
        return org, key, self._classifier.classify_as(asn, org)


def open_geo_provider(
    *,
    country_mmdb: str | None = None,
    asn_mmdb: str | None = None,
    network_classes: str | None = None,
    tor_exits: str | None = None,
    cache_size: int = 65536,
) -> Provider:
    """Open an IP enrichment provider.

    * No ``.mmdb`` path: the built-in data (see :mod:`mamori.adapters.geo.builtin`).
    * ``country_mmdb`` and/or ``asn_mmdb``: MaxMind DB files (:mod:`mamori.adapters.geo.maxmind`);
      whichever is not given comes from the built-in data. One file may be given as both
      (GeoIP2 Enterprise, IPinfo country_asn).
    * ``network_classes``: a firm's classification file, consulted before the shipped one.
    * ``tor_exits``: a Tor exit list (:mod:`mamori.adapters.geo.tor`), read once here; reopen the
      provider to pick up a newer list.
    * ``cache_size``: LRU entries (0 disables the cache).

    Bad or missing files raise ``GeoDatabaseError``. The built-in data is loaded on the first
    lookup that needs it, not here (call :func:`mamori.adapters.geo.preload_builtin` at start-up).
    """
    if isinstance(cache_size, bool) or not isinstance(cache_size, int) or cache_size < 0:
        raise ValueError(f"cache_size must be an integer >= 0, got {cache_size!r}")
    tables = [load_class_table(network_classes)] if network_classes is not None else []
    tables.append(shipped_table())
    exits = load_tor_exits(tor_exits) if tor_exits is not None else frozenset()

    opened: list[MaxMindSource] = []
    try:
        country_src: GeoSource | None = None
        asn_src: GeoSource | None = None
        if country_mmdb is not None:
            country_mm = MaxMindSource(country_mmdb, "country")
            opened.append(country_mm)
            country_src = country_mm
        if asn_mmdb is not None:
            shared = None
            if country_mmdb is not None and os.path.realpath(asn_mmdb) == os.path.realpath(country_mmdb):
                shared = opened[0].reader
            asn_mm = MaxMindSource(asn_mmdb, "asn", reader=shared)
            if shared is None:
                opened.append(asn_mm)
            asn_src = asn_mm
    except BaseException:
        for src in opened:
            src.close()
        raise

    builtin = BuiltinSource()
    source: GeoSource
    if country_src is None and asn_src is None:
        source = builtin
    else:
        source = _MergedSource(country_src or builtin, asn_src or builtin)
    locator = opened[0] if country_mmdb is not None else None  # a City database also has positions
    return Provider(source, Classifier(tables), exits, cache_size, tuple(opened), locator)
