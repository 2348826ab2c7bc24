"""Impossible travel: a successful login too far from the account's last allowed one for the time
between them (FSA 2025 request 2: detect suspicious logins; the 2025 takeovers came from abroad
and from Japanese cloud addresses within minutes of the customers' own sessions).

With a City database (``MAMORI_GEO_COUNTRY_MMDB`` pointing at GeoIP2/GeoLite2 City or DB-IP City
Lite) the positions are compared: the distance, less both accuracy radii, above
``travel_min_km`` (default 500) at an implied speed above ``travel_max_kmh`` (default 1,000, faster
than an airliner door to door) is impossible. With country data only (the built-in default), a
change of country within ``travel_country_hop_minutes`` (default 120) is: no flight from Japan
lands anywhere, with airports, in under two hours.

Only logins that succeeded *and* were allowed move the account's reference point, so an attacker's
challenged login does not become the place the next check measures from.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

from mamori.risk.features.base import EvalEnv, FeatureDef

DEFAULTS = {"travel_max_kmh": 1000, "travel_min_km": 500, "travel_country_hop_minutes": 120}
LOGIN = frozenset({"login"})
EARTH_RADIUS_KM = 6371.0088  # IUGG mean radius


def great_circle_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Haversine distance on a spherical Earth (error under 0.5 %: ample for this purpose)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


class Travel:
    name = "travel"
    state_attributes = ("last",)  # what an engine snapshot saves and restores

    def __init__(self) -> None:
        # account -> the last two allowed successful logins (ts, country, latitude, longitude, accuracy km).
        # Two, because a decision's features may be read after this event was committed: the one to
        # compare with is then the latest *before* the event.
        self.last: dict[str, list[tuple[float, str | None, float | None, float | None, float]]] = {}
        self.configure({})

    def configure(self, constants: Mapping[str, Any]) -> None:
        value = {k: constants.get(k, v) for k, v in DEFAULTS.items()}
        self.max_kmh = float(value["travel_max_kmh"])
        self.min_km = float(value["travel_min_km"])
        self.hop_s = float(value["travel_country_hop_minutes"]) * 60

    def _previous(self, env: EvalEnv) -> tuple[float, str | None, float | None, float | None, float] | None:
        for entry in reversed(self.last.get(env.event.account_id, ())):
            if entry[0] < env.ts:
                return entry
        return None

    def _km(self, env: EvalEnv) -> float | None:
        prev, info = self._previous(env), env.ip_info
        if prev is None or info is None or prev[2] is None or prev[3] is None or info.latitude is None \
                or info.longitude is None:
            return None
        return great_circle_km(prev[2], prev[3], info.latitude, info.longitude)

    def _kmh(self, env: EvalEnv) -> float | None:
        km, prev = self._km(env), self._previous(env)
        if km is None or prev is None:
            return None
        return km / max(env.ts - prev[0], 60.0) * 3600  # at least a minute apart: no division by ~0

    def _hop_minutes(self, env: EvalEnv) -> float | None:
        prev, info = self._previous(env), env.ip_info
        if prev is None or info is None or prev[1] is None or info.country is None or prev[1] == info.country:
            return None
        return (env.ts - prev[0]) / 60

    def _impossible(self, env: EvalEnv) -> bool:
        km = self._km(env)
        if km is not None:
            prev, info = self._previous(env), env.ip_info
            assert prev is not None and info is not None
            margin = prev[4] + (info.accuracy_km or 0.0)
            speed = self._kmh(env)
            return km - margin > self.min_km and speed is not None and speed > self.max_kmh
        hop = self._hop_minutes(env)
        return hop is not None and hop * 60 < self.hop_s

    def features(self) -> Iterable[FeatureDef]:
        yield FeatureDef("travel_km", "Distance (km) from the account's last allowed successful login, when both "
                         "positions are known (a City database is configured); else None.", "number",
                         self._km, LOGIN)
        yield FeatureDef("travel_kmh", "Implied speed (km/h) since the last allowed successful login (None without "
                         "positions).", "number", self._kmh, LOGIN)
        yield FeatureDef("country_hop_minutes", "Minutes since the last allowed successful login if that one came "
                         "from another country (None if the same country or unknown).", "number",
                         self._hop_minutes, LOGIN)
        yield FeatureDef("impossible_travel", "Nobody could have travelled from the last allowed successful login's "
                         "place in the time since (travel_* constants).", "bool", self._impossible, LOGIN)

    def observe(self, env: EvalEnv) -> None:
        return None

    def commit(self, env: EvalEnv, verdict: str) -> None:
        event: Any = env.event
        if event.type != "login" or event.result != "success" or verdict != "allow":
            return
        info = env.ip_info
        if info is None or (info.country is None and info.latitude is None):
            return  # private or unknown addresses say nothing about where the customer is
        entry = (env.ts, info.country, info.latitude, info.longitude, info.accuracy_km or 0.0)
        history = self.last.get(event.account_id)
        if history is None:
            self.last[event.account_id] = [entry]
        elif entry[0] >= history[-1][0]:
            history[:] = [history[-1], entry]
        else:  # a late event: keep the two latest in time order
            history[:] = sorted([*history, entry])[-2:]
