"""The built-in database: the country + ASN + IPv6 data file shipped inside the ``geoip2fast`` wheel.

``geoip2fast`` (MIT) is a pure-Python, in-memory reader of its own ``.dat.gz`` files (built from
MaxMind GeoLite2 CSV; the 1.2.2 wheel carries the 2024-06-18 build, so the data is attributable to
MaxMind under the GeoLite2 EULA). It gives a country code and an AS *organisation name* but no AS
number, so ASN aggregation keys are ``org:<name>`` and classification uses organisation patterns.

Loading unpickles ~4.7 MB of gzip into ~100 MiB of Python lists and takes ~0.3 s, so it happens
once per process, lazily (or at start-up through :func:`preload`), under a lock. ``geoip2fast``
keeps the loaded data in module globals, so one data set per process is all it can hold anyway.

Two ``geoip2fast`` quirks are contained here:

* importing it writes ``PYTHONWARNINGS`` and ``PYTHONIOENCODING`` into ``os.environ`` (inherited by
  every child process); the previous values are restored right after the import;
* given a bare file name it first looks in the *current directory* (and the file is a pickle), so
  the data file is always passed by absolute path inside the installed package.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from typing import Any, Final

from mamori.kit.errors import GeoDatabaseError

from .model import SourceRecord

DATA_FILE: Final = "geoip2fast-asn-ipv6.dat.gz"
_ENV_WRITTEN_BY_IMPORT: Final = ("PYTHONWARNINGS", "PYTHONIOENCODING")
_NO_ORG: Final = frozenset({"", "IANA.ORG"})

_lock = threading.Lock()
_instance: Any = None
_load_seconds: float | None = None


def _import_geoip2fast() -> Any:
    saved = {k: os.environ.get(k) for k in _ENV_WRITTEN_BY_IMPORT}
    try:
        import geoip2fast
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return geoip2fast


def _load() -> Any:
    global _load_seconds
    start = time.perf_counter()
    try:
        module = _import_geoip2fast()
    except ImportError as exc:
        raise GeoDatabaseError(f"built-in IP database: geoip2fast is not installed ({exc})") from exc
    path = os.path.join(os.path.dirname(os.path.abspath(module.__file__)), DATA_FILE)
    if not os.path.isfile(path):
        raise GeoDatabaseError(f"built-in IP database {path}: file not found in the geoip2fast package")
    try:
        reader = module.GeoIP2Fast(geoip2fast_data_file=path, verbose=False)
    except Exception as exc:
        raise GeoDatabaseError(f"built-in IP database {path}: cannot load: {exc}") from exc
    if not (getattr(reader, "asn", False) and getattr(reader, "ipv6", False)):
        raise GeoDatabaseError(f"built-in IP database {path}: expected country + ASN + IPv6 data")
    _load_seconds = time.perf_counter() - start
    return reader


def reader() -> Any:
    """The process-wide ``GeoIP2Fast`` instance, loaded on first use."""
    global _instance
    inst = _instance
    if inst is None:
        with _lock:
            inst = _instance
            if inst is None:
                inst = _instance = _load()
    return inst


def preload() -> float:
    """Load the built-in data now (e.g. before forking workers); returns the load time in seconds."""
    reader()
    assert _load_seconds is not None
    return _load_seconds


class BuiltinSource:
    """Country and AS organisation from the built-in data (AS number always ``None``)."""

    __slots__ = ()

    def lookup(self, text: str, version: int) -> SourceRecord:
        detail = reader().lookup(text)
        if detail.is_private:
            return None, None, None
        code = detail.country_code
        country = sys.intern(code) if len(code) == 2 and code.isalpha() else None
        org = detail.asn_name
        return country, None, (None if org in _NO_ORG else org)
