"""IP enrichment features: country, ASN, network class (residential / mobile / hosting / VPN / Tor).

Values come from the :mod:`mamori.adapters.geo` provider (offline database shipped with the
package, or MaxMind-format files). Every value is None when the event carries no IP.
"""

from __future__ import annotations

from collections.abc import Iterable

from mamori.risk.features.base import EvalEnv, FeatureDef

RISKY_CLASSES = frozenset({"hosting", "vpn", "tor"})


class Enrichment:
    name = "enrichment"
    stateless = True  # observe/commit do nothing: the engine skips them

    def __init__(self, *, home_country: str = "JP") -> None:
        self.home_country = home_country

    def features(self) -> Iterable[FeatureDef]:
        def attr(name: str) -> object:
            return lambda env: getattr(env.ip_info, name) if env.ip_info else None

        yield FeatureDef("ip_country", "ISO country of the client IP (None if unknown).", "str",
                         attr("country"))  # type: ignore[arg-type]
        yield FeatureDef("ip_asn", "Autonomous system number of the client IP, when the database has it.",
                         "int", attr("asn"))  # type: ignore[arg-type]
        yield FeatureDef("ip_asn_org", "Organisation owning the client IP's autonomous system.", "str",
                         attr("asn_org"))  # type: ignore[arg-type]
        yield FeatureDef("ip_class", "residential, mobile, hosting, vpn, tor, private or unknown.", "str",
                         attr("ip_class"))  # type: ignore[arg-type]
        yield FeatureDef("ip_network", "The client IP's /24 (IPv4) or /48 (IPv6) network.", "str",
                         attr("network"))  # type: ignore[arg-type]
        home = self.home_country
        yield FeatureDef("ip_is_foreign", f"The client IP geolocates outside {home}.", "bool",
                         lambda env: (env.ip_info.country not in (None, home)) if env.ip_info else None)
        yield FeatureDef("ip_is_anonymising",
                         "The client IP belongs to a hosting, VPN or Tor network (not a consumer ISP).",
                         "bool",
                         lambda env: (env.ip_info.ip_class in RISKY_CLASSES) if env.ip_info else None)

    def observe(self, env: EvalEnv) -> None:
        return None

    def commit(self, env: EvalEnv, verdict: str) -> None:
        return None
