"""The entities around the exchange: other exchanges, online casinos, mixers, scam rings, mules'
herders, a darknet market and a hacked service, each with its wallets on the simulated chains.

Categories are :class:`mamori.aml.model.RiskCategory` values. The casinos differ the way real ones
do: one takes deposits at a single shared address, one gives each player a deposit address and
sweeps them into its hot wallet (so a withdrawal to it is one hop away from the listed wallet), and
one is on no list at all. FSA reference: the 2025 requests on crypto transfers to online casinos and
investment/romance scams (reference cases in :mod:`mamori.aml.reference_cases`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from mamori.sim.crypto.chain import Chain
from mamori.sim.crypto.population import OTHER_EXCHANGES
from mamori.sim.crypto.world import CHAINS

OFFSHORE = "exchange-offshore-1"
CASINOS = ("casino-1", "casino-2", "casino-3")
CASINO_SHARED_ADDRESS = "casino-1"      # one deposit address for every player
MIXERS = ("mixer-1", "mixer-2")
SCAM_RINGS = ("scam-invest-1", "scam-invest-2", "scam-invest-3", "scam-romance-1", "scam-romance-2")
MULE_HERDER = "mule-herder-1"
DARKNET = "darknet-1"
HACK = "hack-1"
FRAUD_SOURCES = "fraud-proceeds"       # the victims of other exchanges whose funds reach mules


@dataclass
class Landscape:
    chain: Chain
    ring_victims: dict[str, int] = field(default_factory=dict)

    def build(self) -> Landscape:
        c = self.chain
        for name in (*OTHER_EXCHANGES, OFFSHORE):
            c.entity(name, "exchange")
            for ch in CHAINS:
                c.address(name, ch, "hot")
        for name in CASINOS:
            c.entity(name, "online_casino")
            for ch in CHAINS:
                c.address(name, ch, "hot")
        for name in MIXERS:
            c.entity(name, "mixer")
            for ch in CHAINS:
                c.address(name, ch, "pool")
        for name in SCAM_RINGS:
            c.entity(name, "scam")
        c.entity(MULE_HERDER, "mule")
        c.entity(DARKNET, "darknet")
        c.entity(HACK, "stolen_funds")
        c.entity(FRAUD_SOURCES, "fraud_collection")
        return self

    # -- addresses by role ---------------------------------------------------------------------------
    def exchange_deposit(self, exchange: str, chain: str, customer_key: str) -> str:
        """A customer's deposit address at another exchange (swept into that exchange's hot wallet)."""
        return self.chain.address(exchange, chain, f"deposit/{customer_key}")

    def casino_deposit(self, casino: str, chain: str, player: str) -> str:
        if casino == CASINO_SHARED_ADDRESS:
            return self.chain.address(casino, chain, "hot")
        return self.chain.address(casino, chain, f"deposit/{player}")

    def collector(self, ring: str, chain: str, wave: int) -> str:
        """The collection address victims of ``ring`` are told to send to (changes every few victims)."""
        return self.chain.address(ring, chain, f"collect/{wave}")

    def fresh(self, entity: str, chain: str, tag: str) -> str:
        return self.chain.address(entity, chain, f"fresh/{tag}")
