"""MaxMind DB (``.mmdb``) country and ASN sources, read with ``maxminddb`` (memory-mapped, C reader).

Implements the record shapes of:

* GeoLite2/GeoIP2 Country and City (``country.iso_code``, falling back to
  ``registered_country.iso_code``), and DB-IP's compatible Country/City Lite files;
* GeoLite2/GeoIP2 ASN and GeoIP2 ISP (``autonomous_system_number``,
  ``autonomous_system_organization``; GeoIP2 Enterprise keeps them under ``traits``), and DB-IP's
  compatible ASN Lite file;
* IPinfo's flat records (``country_code`` / two-letter ``country``, ``asn`` as ``"AS2914"``,
  ``as_name``).

The file itself follows the MaxMind DB File Format Specification 2.0
(https://maxmind.github.io/MaxMind-DB/): ``maxminddb`` checks the metadata section and the binary
format version when opening. On top of that, a file that is clearly the other kind (an ASN
database given as the country database, or the reverse) is refused, judged by the metadata
``database_type`` and by the keys of the first records.
"""

from __future__ import annotations

import itertools
import os
import re
import sys
from typing import Any, Final, Literal

import maxminddb

from mamori.kit.errors import GeoDatabaseError

from .model import SourceRecord

Kind = Literal["country", "asn"]

_COUNTRY_KEYS: Final = frozenset({"country", "registered_country", "country_code"})
_ASN_KEYS: Final = frozenset({"autonomous_system_number", "autonomous_system_organization", "asn", "traits"})
_LOOKS_ASN_ONLY: Final = re.compile(r"\b(ASN|ISP)\b|-ASN\b|Anonymous|Connection-Type|Domain", re.I)
_LOOKS_COUNTRY: Final = re.compile(r"Country|City|Enterprise|Location", re.I)
_LOOKS_ASN: Final = re.compile(r"ASN|ISP|Enterprise", re.I)
_SAMPLE: Final = 16


def _fail(path: str, problem: str) -> GeoDatabaseError:
    return GeoDatabaseError(f"MaxMind database {path}: {problem}", details={"path": path})


def _open(path: str) -> Any:
    if os.path.isdir(path):
        raise _fail(path, "is a directory, not an .mmdb file")
    try:
        return maxminddb.open_database(path)
    except FileNotFoundError as exc:
        raise _fail(path, "file not found") from exc
    except IsADirectoryError as exc:
        raise _fail(path, "is a directory, not an .mmdb file") from exc
    except OSError as exc:
        raise _fail(path, f"cannot read: {exc}") from exc
    except (maxminddb.InvalidDatabaseError, ValueError) as exc:
        raise _fail(path, f"not a MaxMind DB (.mmdb) file: {exc}") from exc


def _check_kind(path: str, reader: Any, kind: Kind) -> None:
    meta = reader.metadata()
    db_type = str(meta.database_type)
    if meta.ip_version not in (4, 6):
        raise _fail(path, f"unsupported ip_version {meta.ip_version!r}")
    if kind == "country" and _LOOKS_ASN_ONLY.search(db_type) and not _LOOKS_COUNTRY.search(db_type):
        raise _fail(
            path, f"database_type {db_type!r} has no country data; expected a Country or City database"
        )
    if kind == "asn" and _LOOKS_COUNTRY.search(db_type) and not _LOOKS_ASN.search(db_type):
        raise _fail(path, f"database_type {db_type!r} has no ASN data; expected an ASN database")
    try:
        sample = [rec for _net, rec in itertools.islice(iter(reader), _SAMPLE)]
    except (maxminddb.InvalidDatabaseError, ValueError) as exc:
        raise _fail(path, f"corrupt data section: {exc}") from exc
    if not sample:
        raise _fail(path, "contains no networks")
    wanted = _COUNTRY_KEYS if kind == "country" else _ASN_KEYS
    if not any(isinstance(rec, dict) and wanted & rec.keys() for rec in sample):
        keys = sorted({k for rec in sample if isinstance(rec, dict) for k in rec})
        raise _fail(
            path,
            f"records (database_type {db_type!r}, keys {keys}) have none of {sorted(wanted)}; "
            f"expected {'a Country/City' if kind == 'country' else 'an ASN'} database",
        )


def _iso(value: Any) -> str | None:
    if isinstance(value, dict):
        value = value.get("iso_code")
    if isinstance(value, str) and len(value) == 2 and value.isascii() and value.isalpha():
        return sys.intern(value.upper())
    return None


def country_of(rec: Any) -> str | None:
    """ISO country code of a Country/City/IPinfo record (registered country as fallback)."""
    if not isinstance(rec, dict):
        return None
    return _iso(rec.get("country")) or _iso(rec.get("country_code")) or _iso(rec.get("registered_country"))


def asn_of(rec: Any) -> tuple[int | None, str | None]:
    """(AS number, organisation) of an ASN/ISP/Enterprise/IPinfo record."""
    if not isinstance(rec, dict):
        return None, None
    traits = rec.get("traits")
    if "autonomous_system_number" not in rec and isinstance(traits, dict):
        rec = traits
    number = rec.get("autonomous_system_number")
    org = rec.get("autonomous_system_organization")
    if number is None:
        number = rec.get("asn")
        org = org or rec.get("as_name")
    if isinstance(number, str):
        digits = number[2:] if number[:2].upper() == "AS" else number
        number = int(digits) if digits.isdigit() else None
    if not isinstance(number, int) or isinstance(number, bool) or number <= 0:
        number = None
    if not isinstance(org, str) or not org.strip():
        org = None
    return number, org


class MaxMindSource:
    """One ``.mmdb`` file used for its country data or its ASN data."""

    def __init__(self, path: str, kind: Kind, reader: Any = None) -> None:
        self.path = path
        self.kind: Kind = kind
        self._reader = reader if reader is not None else _open(path)
        try:
            _check_kind(path, self._reader, kind)
        except GeoDatabaseError:
            self._reader.close()
            raise
        self._v4_only = self._reader.metadata().ip_version == 4

    @property
    def reader(self) -> Any:
        return self._reader

    def record(self, text: str, version: int) -> Any:
        if version == 6 and self._v4_only:
            return None
        try:
            return self._reader.get(text)
        except maxminddb.InvalidDatabaseError as exc:
            raise _fail(self.path, f"corrupt data while looking up {text}: {exc}") from exc

    def lookup(self, text: str, version: int) -> SourceRecord:
        rec = self.record(text, version)
        if self.kind == "country":
            return country_of(rec), None, None
        number, org = asn_of(rec)
        return None, number, org

    def location(self, text: str, version: int) -> tuple[float, float, float | None] | None:
        """(latitude, longitude, accuracy radius in km) of a City record; None without one."""
        rec = self.record(text, version)
        loc = rec.get("location") if isinstance(rec, dict) else None
        if not isinstance(loc, dict):
            return None
        lat, lon, radius = loc.get("latitude"), loc.get("longitude"), loc.get("accuracy_radius")
        if not (isinstance(lat, int | float) and isinstance(lon, int | float)) or isinstance(lat, bool) \
                or isinstance(lon, bool) or not (-90 <= lat <= 90 and -180 <= lon <= 180):
            return None
        if not isinstance(radius, int | float) or isinstance(radius, bool) or radius < 0:
            return float(lat), float(lon), None
        return float(lat), float(lon), float(radius)

    def close(self) -> None:
        self._reader.close()
