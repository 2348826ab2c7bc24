"""The PQC asset register (暗号インベントリ台帳): information assets, scans, de-duplicated findings, and the
location patterns that link the two.

The FSA asks for an inventory that lists, per information asset, the cryptography it uses (金融庁「預金取扱
金融機関の耐量子計算機暗号への対応に関する検討会 報告書」2024-11; the 2025-06 exchanges of views with
JSDA and JVCEA). Here an asset carries what the risk evaluation needs - the data it holds and for how many
years it must stay secret (x in Mosca 2015), its exposure, its next renewal (更改) and its dependencies -
and one or more location patterns (``trade.example.jp:443``, ``/etc/nginx/*``, ``src/payments/**``) that
say which findings are its own.

Findings are de-duplicated across scans by :meth:`CryptoFinding.key`: one row per key with the first and
last scan that saw it, plus one observation row per (scan, finding), so :meth:`PqcRegister.diff` can show
what appeared, disappeared or changed between two scans. A finding is *current* when the latest scan of
some (source, target) observed it.

Scale: everything is streamed in keyset-paginated batches; no query joins assets with findings in SQL.
A 100,000-asset inventory is assessed in well under 1 GB (the location matcher and one small summary per
asset are the only things held in memory).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any, Final, Literal, cast, get_args

import orjson
from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Date,
    Engine,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    bindparam,
    delete,
    exists,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.exc import SQLAlchemyError

from mamori.adapters.sql.store import now_us
from mamori.kit.errors import NotFound, StorageUnavailable
from mamori.pqc.model import CryptoFinding, Primitive, ScanResult, Source

__all__ = [
    "EXPOSURES",
    "Asset",
    "Exposure",
    "FindingChange",
    "LocationMatcher",
    "PqcRegister",
    "ScanDiff",
    "ScanRecord",
    "StoredFinding",
    "asset_field_name",
    "finding_key_hash",
    "metadata",
]

Exposure = Literal["internet", "partner", "internal", "offline"]
EXPOSURES: Final = get_args(Exposure)
_EXPOSURE_ALIASES: Final[Mapping[str, Exposure]] = {
    "internet": "internet", "external": "internet", "public": "internet", "インターネット": "internet",
    "外部": "internet", "公開": "internet", "partner": "partner", "extranet": "partner", "取引先": "partner",
    "パートナー": "partner", "専用線": "partner", "internal": "internal", "intranet": "internal",
    "内部": "internal", "社内": "internal", "offline": "offline", "airgap": "offline", "air-gapped": "offline",
    "オフライン": "offline", "閉域": "offline"}

metadata = MetaData()

pqc_assets = Table(
    "pqc_assets", metadata,
    Column("asset_id", String(200), primary_key=True),
    Column("system", String(400), nullable=False),
    Column("owner", String(200), nullable=False),
    Column("business_function", String(200), nullable=False),
    Column("data_held", String(1000), nullable=False),
    Column("data_class", String(64), nullable=False),
    Column("confidentiality_years", Float, nullable=False),
    Column("exposure", String(16), nullable=False),
    Column("asset_type", String(64), nullable=False),
    Column("next_renewal", Date, nullable=True),
    Column("vendor", String(200), nullable=False),
    Column("migration_years", Float, nullable=True),
    Column("notes", Text, nullable=False),
    Column("updated_at_us", BigInteger, nullable=False),
)  # fmt: skip
pqc_asset_deps = Table(
    "pqc_asset_deps", metadata,
    Column("asset_id", String(200), primary_key=True),
    Column("depends_on", String(200), primary_key=True),
)  # fmt: skip
pqc_asset_locations = Table(
    "pqc_asset_locations", metadata,
    Column("asset_id", String(200), primary_key=True),
    Column("pattern", String(1000), primary_key=True),
)  # fmt: skip
pqc_scans = Table(
    "pqc_scans", metadata,
    Column("scan_id", Integer, primary_key=True, autoincrement=True),
    Column("source", String(32), nullable=False),
    Column("target", String(1000), nullable=False),
    Column("started_at", String(40), nullable=False),
    Column("recorded_at_us", BigInteger, nullable=False),
    Column("duration_s", Float, nullable=False),
    Column("connections", Integer, nullable=False),
    Column("findings", Integer, nullable=False),
    Column("new_findings", Integer, nullable=False),
    Column("problems", Text, nullable=False),
)  # fmt: skip
pqc_findings = Table(
    "pqc_findings", metadata,
    Column("finding_id", Integer, primary_key=True, autoincrement=True),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("slot_hash", String(64), nullable=False),
    Column("source", String(32), nullable=False),
    Column("location", String(2000), nullable=False),
    Column("primitive", String(32), nullable=False),
    Column("algorithm", String(200), nullable=False),
    Column("parameter", String(200), nullable=False),
    Column("context", String(500), nullable=False),
    Column("confidence", Float, nullable=False),
    Column("detail", Text, nullable=False),
    Column("first_seen_scan", Integer, nullable=False),
    Column("last_seen_scan", Integer, nullable=False),
)  # fmt: skip
Index("ix_pqc_findings_slot", pqc_findings.c.slot_hash, pqc_findings.c.key_hash)
pqc_observations = Table(
    "pqc_observations", metadata,
    Column("scan_id", Integer, primary_key=True),
    Column("finding_id", Integer, primary_key=True),
    Column("fingerprint", String(64), nullable=False),
    Column("confidence", Float, nullable=False),
    Column("detail", Text, nullable=False),
)  # fmt: skip
Index("ix_pqc_observations_finding", pqc_observations.c.finding_id, pqc_observations.c.scan_id)

_BATCH: Final = 500




# -- assets -----------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Asset:
    """One information asset (情報資産) of the inventory ledger.

    ``confidentiality_years``: how long the data it carries must stay secret (Mosca's x).
    ``migration_years``: the firm's own estimate of y; None takes the policy default for ``asset_type``.
    ``depends_on``: assets that must migrate first (``pki-root`` before ``web-portal``, HSM firmware before
    the applications using it). ``locations``: patterns matched against finding locations; the asset id
    itself always matches (findings imported from an asset list carry it as their location)."""

    asset_id: str
    system: str = ""
    owner: str = ""
    business_function: str = ""
    data_held: str = ""
    data_class: str = "internal"
    confidentiality_years: float = 0.0
    exposure: Exposure = "internal"
    asset_type: str = "application"
    next_renewal: dt.date | None = None
    vendor: str = ""
    migration_years: float | None = None
    depends_on: tuple[str, ...] = ()
    locations: tuple[str, ...] = ()
    notes: str = ""

    def __post_init__(self) -> None:
        if not self.asset_id or len(self.asset_id) > 200 or self.asset_id != self.asset_id.strip():
            raise ValueError("asset_id: must be 1-200 characters without surrounding spaces")
        if self.exposure not in EXPOSURES:
            raise ValueError(f"exposure: {self.exposure!r} is not one of {', '.join(EXPOSURES)}")
        if not 0 <= self.confidentiality_years <= 200:
            raise ValueError("confidentiality_years: must be between 0 and 200")
        if self.migration_years is not None and not 0 < self.migration_years <= 50:
            raise ValueError("migration_years: must be between 0 and 50 (exclusive of 0)")
        if self.asset_id in self.depends_on:
            raise ValueError("depends_on: an asset cannot depend on itself")

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> Asset:
        """Build from a dict with English or Japanese keys (``asset_id``/``資産ID``, ``exposure``/``公開範囲`` ...).
        Lists may be given as ``a;b`` strings. Raises ValueError naming the field."""
        values: dict[str, Any] = {}
        for raw_key, value in data.items():
            key = asset_field_name(str(raw_key))
            if key is None or value is None or (isinstance(value, str) and not value.strip()):
                continue
            values[key] = value
        if "asset_id" not in values:
            raise ValueError("asset_id: missing")
        try:
            out: dict[str, Any] = {"asset_id": str(values["asset_id"]).strip()}
            for name in ("system", "owner", "business_function", "data_held", "vendor", "notes"):
                if name in values:
                    out[name] = str(values[name]).strip()
            if "data_class" in values:
                out["data_class"] = str(values["data_class"]).strip()
            if "asset_type" in values:
                out["asset_type"] = str(values["asset_type"]).strip().lower()
            if "exposure" in values:
                raw = str(values["exposure"]).strip()
                exposure = _EXPOSURE_ALIASES.get(raw.lower()) or _EXPOSURE_ALIASES.get(raw)
                if exposure is None:
                    raise ValueError(f"exposure: {raw!r} is not one of {', '.join(EXPOSURES)}")
                out["exposure"] = exposure
            for name in ("confidentiality_years", "migration_years"):
                if name in values:
                    out[name] = _number(name, values[name])
            if "next_renewal" in values:
                out["next_renewal"] = _date(values["next_renewal"])
            for name in ("depends_on", "locations"):
                if name in values:
                    out[name] = _string_list(values[name])
        except (TypeError, AttributeError) as exc:
            raise ValueError(f"invalid asset: {exc}") from None
        return cls(**out)

    @classmethod
    def coerce(cls, obj: Any) -> Asset:
        """An :class:`Asset`, a mapping, or any object with matching attributes (another module's type)."""
        if isinstance(obj, Asset):
            return obj
        if isinstance(obj, Mapping):
            extra = obj.get("extra")  # columns another reader kept aside (e.g. mamori.pqc.cbom.read_asset_list)
            if isinstance(extra, Mapping):
                return cls.from_mapping({**extra, **{k: v for k, v in obj.items() if k != "extra"}})
            return cls.from_mapping(obj)
        to_dict = getattr(obj, "to_dict", None)
        if callable(to_dict):
            return cls.from_mapping(to_dict())
        return cls.from_mapping({name: getattr(obj, name) for name in _ATTRIBUTE_NAMES if hasattr(obj, name)})

    def to_dict(self) -> dict[str, Any]:
        return {"asset_id": self.asset_id, "system": self.system, "owner": self.owner,
                "business_function": self.business_function, "data_held": self.data_held,
                "data_class": self.data_class, "confidentiality_years": self.confidentiality_years,
                "exposure": self.exposure, "asset_type": self.asset_type,
                "next_renewal": self.next_renewal.isoformat() if self.next_renewal else None,
                "vendor": self.vendor, "migration_years": self.migration_years,
                "depends_on": list(self.depends_on), "locations": list(self.locations), "notes": self.notes}


_ATTRIBUTE_NAMES: Final = tuple(f.name for f in fields(Asset))
_FIELD_ALIASES: Final[Mapping[str, str]] = {
    **{name.replace("_", ""): name for name in _ATTRIBUTE_NAMES},
    "id": "asset_id", "asset": "asset_id", "資産id": "asset_id", "資産番号": "asset_id", "資産": "asset_id",
    "systemname": "system", "システム": "system", "システム名": "system", "name": "system",
    "department": "owner", "所管": "owner", "所管部署": "owner", "担当部署": "owner", "オーナー": "owner",
    "function": "business_function", "業務": "business_function", "業務機能": "business_function",
    "data": "data_held", "保有情報": "data_held", "保有データ": "data_held",
    "classification": "data_class", "情報区分": "data_class", "重要度区分": "data_class", "機密区分": "data_class",
    "shelflife": "confidentiality_years", "shelflifeyears": "confidentiality_years", "retentionyears":
    "confidentiality_years", "機密保持年数": "confidentiality_years", "機密保持期間": "confidentiality_years",
    "保存年数": "confidentiality_years", "公開範囲": "exposure", "接続範囲": "exposure",
    "type": "asset_type", "資産種別": "asset_type", "種別": "asset_type",
    "renewal": "next_renewal", "nextrenewaldate": "next_renewal", "次回更改": "next_renewal",
    "更改予定": "next_renewal", "更改時期": "next_renewal", "ベンダー": "vendor", "製品": "vendor",
    "migrationtime": "migration_years", "移行期間": "migration_years", "移行所要年数": "migration_years",
    "dependencies": "depends_on", "依存先": "depends_on", "依存": "depends_on",
    "location": "locations", "patterns": "locations", "所在": "locations", "所在パターン": "locations",
    "備考": "notes", "note": "notes"}


def asset_field_name(header: str) -> str | None:
    """The :class:`Asset` field a column header names (English or Japanese), or None."""
    return _FIELD_ALIASES.get(_norm_key(header))


def _norm_key(key: str) -> str:
    return re.sub(r"[\s_\-./()（）]", "", key.strip().lower())


def _number(name: str, value: Any) -> float:
    try:
        return float(str(value).strip().removesuffix("年").removesuffix("years").strip())
    except ValueError:
        raise ValueError(f"{name}: {value!r} is not a number") from None


def _date(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = str(value).strip().replace("/", "-")
    if re.fullmatch(r"\d{4}", text):  # a year only: the start of that year
        return dt.date(int(text), 1, 1)
    if re.fullmatch(r"\d{4}-\d{1,2}", text):
        year, month = text.split("-")
        return dt.date(int(year), int(month), 1)
    try:
        return dt.date.fromisoformat(text[:10])
    except ValueError:
        raise ValueError(f"next_renewal: {value!r} is not a date (YYYY-MM-DD, YYYY-MM or YYYY)") from None


def _string_list(value: Any) -> tuple[str, ...]:
    items = re.split(r"[;|\n、，]", value) if isinstance(value, str) else [str(v) for v in value]
    return tuple(dict.fromkeys(s.strip() for s in items if s.strip()))


# -- scans and findings -------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class ScanRecord:
    scan_id: int
    source: str
    target: str
    started_at: str
    duration_s: float
    connections: int
    findings: int
    new_findings: int
    problems: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"scan_id": self.scan_id, "source": self.source, "target": self.target,
                "started_at": self.started_at, "duration_s": self.duration_s, "connections": self.connections,
                "findings": self.findings, "new_findings": self.new_findings, "problems": list(self.problems)}


@dataclass(frozen=True, slots=True)
class StoredFinding:
    finding_id: int
    finding: CryptoFinding
    first_seen_scan: int
    last_seen_scan: int


@dataclass(frozen=True, slots=True)
class FindingChange:
    """The same place and use with a different algorithm/parameter, or the same finding with new details."""

    before: CryptoFinding
    after: CryptoFinding
    what: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ScanDiff:
    scan_a: int
    scan_b: int
    added: tuple[CryptoFinding, ...]
    removed: tuple[CryptoFinding, ...]
    changed: tuple[FindingChange, ...]
    unchanged: int

    def to_dict(self) -> dict[str, Any]:
        return {"scan_a": self.scan_a, "scan_b": self.scan_b, "added": [f.to_dict() for f in self.added],
                "removed": [f.to_dict() for f in self.removed],
                "changed": [{"before": c.before.to_dict(), "after": c.after.to_dict(), "what": list(c.what)}
                            for c in self.changed], "unchanged": self.unchanged}


def _sha(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def finding_key_hash(f: CryptoFinding) -> str:
    return _sha(*f.key())


def _slot_hash(f: CryptoFinding) -> str:
    return _sha(f.source, f.location, f.primitive, f.context)


def _detail_json(f: CryptoFinding) -> str:
    return orjson.dumps(f.detail, option=orjson.OPT_SORT_KEYS, default=str).decode()


def _fingerprint(f: CryptoFinding, detail: str) -> str:
    return _sha(repr(round(f.confidence, 6)), detail)


# -- location matching --------------------------------------------------------------------------------
class LocationMatcher:
    """Which assets a finding location belongs to.

    Patterns: a literal (``trade.example.jp:443``, ``/etc/nginx/nginx.conf``) matches itself and anything
    that continues with ``:`` (a host matches every port, a file every ``file:line``); ``*`` and ``?`` match
    within one path segment, ``**`` across segments. Matching is case-sensitive. Lookups are dictionary
    probes on the location's prefixes, not a scan over all patterns."""

    def __init__(self) -> None:
        self._exact: dict[str, list[str]] = {}
        self._globs: dict[str, list[tuple[re.Pattern[str], str]]] = {}
        self._glob_prefix_lengths: set[int] = set()
        self.patterns = 0

    def add(self, asset_id: str, pattern: str) -> None:
        pattern = pattern.strip()
        if not pattern:
            return
        self.patterns += 1
        cut = min((i for i in (pattern.find("*"), pattern.find("?")) if i >= 0), default=-1)
        if cut < 0:
            self._exact.setdefault(pattern, []).append(asset_id)
            return
        regex = re.compile(_glob_regex(pattern))
        self._globs.setdefault(pattern[:cut], []).append((regex, asset_id))
        self._glob_prefix_lengths.add(cut)

    def match(self, location: str) -> list[str]:
        hits: list[str] = []
        hits.extend(self._exact.get(location, ()))
        start = 0
        while (i := location.find(":", start)) > 0:
            hits.extend(self._exact.get(location[:i], ()))
            start = i + 1
        for n in self._glob_prefix_lengths:
            if n <= len(location):
                for regex, asset_id in self._globs.get(location[:n], ()):
                    if regex.fullmatch(location):
                        hits.append(asset_id)
        return list(dict.fromkeys(hits))


def _glob_regex(pattern: str) -> str:
    out = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if pattern.startswith("**", i):
            out.append(".*")
            i += 2
            continue
        out.append("[^/]*" if ch == "*" else "[^/]" if ch == "?" else re.escape(ch))
        i += 1
    return "".join(out) + "(?::[^/]*)?"


# -- the register -------------------------------------------------------------------------------------
class PqcRegister:
    """Assets, scans and findings in the shared database (its own tables, created on first use).

    ``engine`` is the process's SQLAlchemy engine (the CLI and the API pass ``SqlStore(...).engine``)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        try:
            metadata.create_all(engine)
        except SQLAlchemyError as exc:
            raise StorageUnavailable(f"cannot create the PQC register tables: {exc.__class__.__name__}") from exc

    # -- assets ---------------------------------------------------------------------------------
    def upsert_assets(self, assets: Iterable[Asset], *, batch: int = 1000) -> int:
        """Insert or replace assets (their dependencies and location patterns too). Streams in batches."""
        total = 0
        for chunk in _chunks(assets, batch):
            by_id = {a.asset_id: a for a in chunk}
            rows = [self._asset_row(a) for a in by_id.values()]
            ids = list(by_id)
            try:
                with self.engine.begin() as conn:
                    for sub in _chunks(ids, _BATCH):
                        conn.execute(delete(pqc_assets).where(pqc_assets.c.asset_id.in_(sub)))
                        conn.execute(delete(pqc_asset_deps).where(pqc_asset_deps.c.asset_id.in_(sub)))
                        conn.execute(delete(pqc_asset_locations).where(pqc_asset_locations.c.asset_id.in_(sub)))
                    conn.execute(insert(pqc_assets), rows)
                    deps = [{"asset_id": a.asset_id, "depends_on": d} for a in by_id.values() for d in a.depends_on]
                    if deps:
                        conn.execute(insert(pqc_asset_deps), deps)
                    locs = [{"asset_id": a.asset_id, "pattern": p} for a in by_id.values() for p in a.locations]
                    if locs:
                        conn.execute(insert(pqc_asset_locations), locs)
            except SQLAlchemyError as exc:
                raise StorageUnavailable(f"could not store {len(rows)} asset(s): {exc.__class__.__name__}") from exc
            total += len(rows)
        return total

    @staticmethod
    def _asset_row(a: Asset) -> dict[str, Any]:
        return {"asset_id": a.asset_id, "system": a.system, "owner": a.owner,
                "business_function": a.business_function, "data_held": a.data_held, "data_class": a.data_class,
                "confidentiality_years": a.confidentiality_years, "exposure": a.exposure,
                "asset_type": a.asset_type, "next_renewal": a.next_renewal, "vendor": a.vendor,
                "migration_years": a.migration_years, "notes": a.notes, "updated_at_us": now_us()}

    def count_assets(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(pqc_assets)).scalar_one())

    def get_asset(self, asset_id: str) -> Asset:
        with self.engine.connect() as conn:
            row = conn.execute(select(pqc_assets).where(pqc_assets.c.asset_id == asset_id)).mappings().first()
            if row is None:
                raise NotFound(f"no asset {asset_id!r} in the PQC register")
            return self._load_assets(conn, [row])[0]

    def iter_assets(self, *, after: str = "", limit: int | None = None, batch: int = 2000) -> Iterator[Asset]:
        """Assets in id order, in batches (keyset pagination: constant memory)."""
        last, left = after, limit
        while left is None or left > 0:
            size = batch if left is None else min(batch, left)
            with self.engine.connect() as conn:
                rows = conn.execute(select(pqc_assets).where(pqc_assets.c.asset_id > last)
                                    .order_by(pqc_assets.c.asset_id).limit(size)).mappings().all()
                if not rows:
                    return
                assets = self._load_assets(conn, rows)
            yield from assets
            last = assets[-1].asset_id
            if left is not None:
                left -= len(assets)
            if len(rows) < size:
                return

    @staticmethod
    def _load_assets(conn: Connection, rows: Sequence[Any]) -> list[Asset]:
        ids = [r["asset_id"] for r in rows]
        deps: dict[str, list[str]] = {}
        locs: dict[str, list[str]] = {}
        for sub in _chunks(ids, _BATCH):
            for aid, dep in conn.execute(select(pqc_asset_deps.c.asset_id, pqc_asset_deps.c.depends_on)
                                         .where(pqc_asset_deps.c.asset_id.in_(sub))
                                         .order_by(pqc_asset_deps.c.asset_id, pqc_asset_deps.c.depends_on)):
                deps.setdefault(aid, []).append(dep)
            for aid, pattern in conn.execute(select(pqc_asset_locations.c.asset_id, pqc_asset_locations.c.pattern)
                                             .where(pqc_asset_locations.c.asset_id.in_(sub))
                                             .order_by(pqc_asset_locations.c.asset_id,
                                                       pqc_asset_locations.c.pattern)):
                locs.setdefault(aid, []).append(pattern)
        return [Asset(asset_id=r["asset_id"], system=r["system"], owner=r["owner"],
                      business_function=r["business_function"], data_held=r["data_held"],
                      data_class=r["data_class"], confidentiality_years=float(r["confidentiality_years"]),
                      exposure=cast(Exposure, r["exposure"]), asset_type=r["asset_type"],
                      next_renewal=r["next_renewal"], vendor=r["vendor"], migration_years=r["migration_years"],
                      depends_on=tuple(deps.get(r["asset_id"], ())), locations=tuple(locs.get(r["asset_id"], ())),
                      notes=r["notes"]) for r in rows]

    def matcher(self) -> LocationMatcher:
        """The location matcher over every asset's patterns (and each asset id as a literal)."""
        m = LocationMatcher()
        with self.engine.connect() as conn:
            for (asset_id,) in conn.execute(select(pqc_assets.c.asset_id)).yield_per(5000):
                m.add(asset_id, asset_id)
            for asset_id, pattern in conn.execute(select(pqc_asset_locations.c.asset_id,
                                                         pqc_asset_locations.c.pattern)).yield_per(5000):
                m.add(asset_id, pattern)
        return m

    # -- scans ----------------------------------------------------------------------------------
    def record_scan(self, result: ScanResult) -> int:
        """Store one discovery run: new findings are inserted, known ones get this scan as ``last_seen``,
        and every finding of the run is recorded as an observation of this scan. Returns the scan id."""
        unique: dict[str, CryptoFinding] = {}
        for f in result.findings:
            unique[finding_key_hash(f)] = f
        started = result.started_at or dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        try:
            with self.engine.begin() as conn:
                inserted = conn.execute(insert(pqc_scans).values(
                    source=result.source, target=result.target, started_at=started, recorded_at_us=now_us(),
                    duration_s=float(result.duration_s), connections=int(result.connections),
                    findings=len(unique), new_findings=0, problems=orjson.dumps(list(result.problems)).decode()))
                scan_id = int(inserted.inserted_primary_key[0])  # type: ignore[index]
                new = sum(self._record_chunk(conn, scan_id, dict(chunk)) for chunk in _chunks(unique.items(), _BATCH))
                conn.execute(update(pqc_scans).where(pqc_scans.c.scan_id == scan_id).values(new_findings=new))
        except SQLAlchemyError as exc:
            raise StorageUnavailable(f"could not record the scan of {result.target!r}: "
                                     f"{exc.__class__.__name__}") from exc
        return scan_id

    @staticmethod
    def _record_chunk(conn: Connection, scan_id: int, chunk: dict[str, CryptoFinding]) -> int:
        known = dict(conn.execute(select(pqc_findings.c.key_hash, pqc_findings.c.finding_id)
                                  .where(pqc_findings.c.key_hash.in_(list(chunk)))).all())
        details = {h: _detail_json(f) for h, f in chunk.items()}
        fresh = [h for h in chunk if h not in known]
        if fresh:
            conn.execute(insert(pqc_findings), [
                {"key_hash": h, "slot_hash": _slot_hash(chunk[h]), "source": chunk[h].source,
                 "location": chunk[h].location, "primitive": chunk[h].primitive, "algorithm": chunk[h].algorithm,
                 "parameter": chunk[h].parameter, "context": chunk[h].context, "confidence": chunk[h].confidence,
                 "detail": details[h], "first_seen_scan": scan_id, "last_seen_scan": scan_id} for h in fresh])
            known.update(conn.execute(select(pqc_findings.c.key_hash, pqc_findings.c.finding_id)
                                      .where(pqc_findings.c.key_hash.in_(fresh))).all())
        seen = [h for h in chunk if h not in fresh]
        if seen:
            conn.execute(update(pqc_findings).where(pqc_findings.c.finding_id == bindparam("b_id")).values(
                last_seen_scan=bindparam("b_scan"), confidence=bindparam("b_conf"), detail=bindparam("b_detail")),
                [{"b_id": known[h], "b_scan": scan_id, "b_conf": chunk[h].confidence, "b_detail": details[h]}
                 for h in seen])
        conn.execute(insert(pqc_observations), [
            {"scan_id": scan_id, "finding_id": known[h], "fingerprint": _fingerprint(f, details[h]),
             "confidence": f.confidence, "detail": details[h]} for h, f in chunk.items()])
        return len(fresh)

    def get_scan(self, scan_id: int) -> ScanRecord:
        with self.engine.connect() as conn:
            row = conn.execute(select(pqc_scans).where(pqc_scans.c.scan_id == scan_id)).mappings().first()
        if row is None:
            raise NotFound(f"no scan {scan_id} in the PQC register")
        return _scan_record(row)

    def iter_scans(self) -> Iterator[ScanRecord]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(pqc_scans).order_by(pqc_scans.c.scan_id)).mappings().all()
        for row in rows:
            yield _scan_record(row)

    # -- findings -------------------------------------------------------------------------------
    def iter_findings(self, *, current_only: bool = True, scan_id: int | None = None, after: int = 0,
                      limit: int | None = None, batch: int = 5000) -> Iterator[StoredFinding]:
        """Findings in id order. ``current_only``: observed by the latest scan of some (source, target);
        ``scan_id``: observed by that scan."""
        cond: list[Any] = []
        if scan_id is not None:
            cond.append(exists().where(pqc_observations.c.finding_id == pqc_findings.c.finding_id,
                                       pqc_observations.c.scan_id == scan_id))
        elif current_only:
            latest = select(func.max(pqc_scans.c.scan_id)).group_by(pqc_scans.c.source, pqc_scans.c.target)
            cond.append(exists().where(pqc_observations.c.finding_id == pqc_findings.c.finding_id,
                                       pqc_observations.c.scan_id.in_(latest)))
        last, left = after, limit
        while left is None or left > 0:
            size = batch if left is None else min(batch, left)
            with self.engine.connect() as conn:
                rows = conn.execute(select(pqc_findings).where(pqc_findings.c.finding_id > last, *cond)
                                    .order_by(pqc_findings.c.finding_id).limit(size)).mappings().all()
            for row in rows:
                yield StoredFinding(int(row["finding_id"]), _finding(row, row["detail"], row["confidence"]),
                                    int(row["first_seen_scan"]), int(row["last_seen_scan"]))
            if len(rows) < size:
                return
            last = int(rows[-1]["finding_id"])
            if left is not None:
                left -= len(rows)

    def diff(self, scan_a: int, scan_b: int) -> ScanDiff:
        """What changed from scan A to scan B: findings only in B (added), only in A (removed), and
        changes - at the same place and use (source, location, primitive, context) a different
        algorithm or parameter (e.g. X25519 -> X25519MLKEM768), or the same finding with other details
        (certificate expiry, confidence). Both scans are read as sorted streams and merged."""
        self.get_scan(scan_a)
        self.get_scan(scan_b)
        added: list[CryptoFinding] = []
        removed: list[CryptoFinding] = []
        changed: list[FindingChange] = []
        unchanged = 0
        with self.engine.connect() as conn_a, self.engine.connect() as conn_b:
            groups_a = itertools.groupby(self._observed(conn_a, scan_a), key=lambda r: r[0])
            groups_b = itertools.groupby(self._observed(conn_b, scan_b), key=lambda r: r[0])
            ga, gb = next(groups_a, None), next(groups_b, None)
            while ga is not None or gb is not None:
                if gb is None or (ga is not None and ga[0] < gb[0]):
                    assert ga is not None
                    removed.extend(r[3] for r in ga[1])
                    ga = next(groups_a, None)
                elif ga is None or gb[0] < ga[0]:
                    added.extend(r[3] for r in gb[1])
                    gb = next(groups_b, None)
                else:
                    n = _diff_slot(list(ga[1]), list(gb[1]), added, removed, changed)
                    unchanged += n
                    ga, gb = next(groups_a, None), next(groups_b, None)
        return ScanDiff(scan_a, scan_b, tuple(added), tuple(removed), tuple(changed), unchanged)

    @staticmethod
    def _observed(conn: Connection, scan_id: int) -> Iterator[tuple[str, str, str, CryptoFinding]]:
        # the merge in diff() compares the hashes as Python strings: sort them bytewise on every back end
        slot, key = pqc_findings.c.slot_hash, pqc_findings.c.key_hash
        if conn.dialect.name == "postgresql":
            slot, key = slot.collate("C"), key.collate("C")  # type: ignore[assignment]
        query = (select(pqc_findings.c.slot_hash, pqc_findings.c.key_hash, pqc_observations.c.fingerprint,
                        pqc_findings.c.source, pqc_findings.c.location, pqc_findings.c.primitive,
                        pqc_findings.c.algorithm, pqc_findings.c.parameter, pqc_findings.c.context,
                        pqc_observations.c.confidence, pqc_observations.c.detail)
                 .join(pqc_findings, pqc_findings.c.finding_id == pqc_observations.c.finding_id)
                 .where(pqc_observations.c.scan_id == scan_id)
                 .order_by(slot, key))
        for row in conn.execute(query).mappings().yield_per(2000):
            yield row["slot_hash"], row["key_hash"], row["fingerprint"], _finding(row, row["detail"],
                                                                                   row["confidence"])


def _diff_slot(a: list[tuple[str, str, str, CryptoFinding]], b: list[tuple[str, str, str, CryptoFinding]],
               added: list[CryptoFinding], removed: list[CryptoFinding], changed: list[FindingChange]) -> int:
    by_key_b = {r[1]: r for r in b}
    unchanged = 0
    left_a = []
    for r in a:
        other = by_key_b.pop(r[1], None)
        if other is None:
            left_a.append(r)
        elif other[2] == r[2]:
            unchanged += 1
        else:
            fields_ = ["confidence"] if r[3].confidence != other[3].confidence else []
            if r[3].detail != other[3].detail:
                fields_.append("detail")
            changed.append(FindingChange(r[3], other[3], tuple(fields_) or ("detail",)))
    left_b = sorted(by_key_b.values(), key=lambda r: r[1])
    for ra, rb in zip(left_a, left_b, strict=False):
        what = tuple(n for n in ("algorithm", "parameter") if getattr(ra[3], n) != getattr(rb[3], n))
        changed.append(FindingChange(ra[3], rb[3], what))
    removed.extend(r[3] for r in left_a[len(left_b):])
    added.extend(r[3] for r in left_b[len(left_a):])
    return unchanged


def _finding(row: Any, detail: str, confidence: float) -> CryptoFinding:
    return CryptoFinding(source=cast(Source, row["source"]), location=row["location"],
                         primitive=cast(Primitive, row["primitive"]), algorithm=row["algorithm"],
                         parameter=row["parameter"], context=row["context"], confidence=float(confidence),
                         detail=orjson.loads(detail) if detail else {})


def _scan_record(row: Any) -> ScanRecord:
    return ScanRecord(scan_id=int(row["scan_id"]), source=row["source"], target=row["target"],
                      started_at=row["started_at"], duration_s=float(row["duration_s"]),
                      connections=int(row["connections"]), findings=int(row["findings"]),
                      new_findings=int(row["new_findings"]), problems=tuple(orjson.loads(row["problems"] or "[]")))


def _chunks(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    it = iter(items)
    while chunk := list(itertools.islice(it, size)):
        yield chunk

