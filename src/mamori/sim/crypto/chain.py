"""A synthetic blockchain around the simulated exchange, written as "mamori chain JSONL".

One transaction per line (the format :mod:`mamori.aml.chaindata` reads): Bitcoin as UTXO
transactions (``inputs``/``outputs`` with ``address`` and ``value``), Ethereum and XRP in the account
model (``from``/``to``/``value``/``asset``). Values are decimal text in the asset's unit.

Who owns which address is the ground truth the simulator keeps (:class:`Entity`): the exchange's hot
wallets and its customers' deposit addresses, other exchanges, online casinos, mixers, scam
collectors, mules and attackers. Only part of it reaches the risk list (:mod:`.risklist`), as in
real life. Funds are followed over several hops after they leave the exchange (consolidation,
mixing, peel chains, off-ramps), so a tracer can walk from a withdrawal to where the money went.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from mamori.sim.crypto.addresses import AddressBook
from mamori.sim.crypto.world import NATIVE, iso_utc, quantise, text

FEES: dict[str, Decimal] = {"bitcoin": Decimal("0.00002"), "ethereum": Decimal("0.0004"), "xrp": Decimal("0.00001")}
MAX_HOPS = 12  # bound on any forwarding walk the simulator writes


@dataclass
class Entity:
    """An owner of addresses in the simulated world (ground truth, never shown to the engine)."""

    name: str
    category: str   # a mamori.aml.model.RiskCategory value, or "customer"/"self_custody" for people
    addresses: dict[str, list[str]] = field(default_factory=dict)  # chain -> addresses

    def add(self, chain: str, address: str) -> str:
        self.addresses.setdefault(chain, []).append(address)
        return address

    def main(self, chain: str) -> str:
        return self.addresses[chain][0]


class Chain:
    """The transactions written so far and the owner of every address that appears in them."""

    def __init__(self, book: AddressBook, rng: random.Random) -> None:
        self.book = book
        self.rng = rng
        self.txs: list[tuple[float, int, dict[str, Any]]] = []
        self.entities: dict[str, Entity] = {}
        self.owner: dict[tuple[str, str], str] = {}  # (chain, address) -> entity name
        self.purposes: dict[tuple[str, str], str] = {}  # (chain, address) -> purpose within the entity
        self._n = 0

    # -- entities and addresses -------------------------------------------------------------------
    def entity(self, name: str, category: str) -> Entity:
        e = self.entities.get(name)
        if e is None:
            e = self.entities[name] = Entity(name, category)
        return e

    def address(self, entity: str, chain: str, purpose: str) -> str:
        """A new (or the same, for the same purpose) address of ``entity`` on ``chain``."""
        addr = self.book.get(chain, f"{entity}/{purpose}")
        if (chain, addr) not in self.owner:
            self.owner[(chain, addr)] = entity
            self.purposes[(chain, addr)] = purpose
            self.entities[entity].add(chain, addr)
        return addr

    def wallet(self, entity: str, chain: str) -> str:
        """The entity's main address on ``chain`` (created on first use)."""
        e = self.entities[entity]
        return e.main(chain) if e.addresses.get(chain) else self.address(entity, chain, "main")

    def purpose_of(self, chain: str, address: str) -> str:
        return self.purposes.get((chain, address), "")

    def category_of(self, chain: str, address: str) -> str | None:
        name = self.owner.get((chain, address))
        return None if name is None else self.entities[name].category

    # -- transactions -------------------------------------------------------------------------------
    def _txid(self, chain: str) -> str:
        self._n += 1
        h = hashlib.sha256(f"{self.book.seed}/tx/{self._n}".encode()).hexdigest()
        return "0x" + h if chain == "ethereum" else (h.upper() if chain == "xrp" else h)

    def send(self, t: float, chain: str, src: str, dst: str | list[tuple[str, Decimal]], amount: Decimal,
             asset: str | None = None) -> str:
        """One transaction from ``src``: ``amount`` to ``dst``, or several outputs (Bitcoin) when ``dst``
        is a list of (address, value). Account chains write one line per output under one txid."""
        asset = asset or NATIVE[chain]
        outputs = [(dst, amount)] if isinstance(dst, str) else dst
        txid = self._txid(chain)
        if chain == "bitcoin":
            total = sum((v for _, v in outputs), Decimal(0)) + FEES[chain]
            body: dict[str, Any] = {"chain": chain, "txid": txid, "time": iso_utc(t),
                                    "inputs": [{"address": src, "value": text(total)}],
                                    "outputs": [{"address": a, "value": text(v)} for a, v in outputs]}
            self.txs.append((float(int(t)), self._n, body))
        else:
            for i, (a, v) in enumerate(outputs):
                tid = txid if i == 0 else self._txid(chain)
                self.txs.append((float(int(t)), self._n, {"chain": chain, "txid": tid, "time": iso_utc(t),
                                                          "from": src, "to": a, "value": text(v), "asset": asset}))
        return txid

    def consolidate(self, t: float, chain: str, sources: list[tuple[str, Decimal]], dst: str) -> list[str]:
        """Sweep several addresses into ``dst``: one many-input transaction on Bitcoin, one transfer per
        source on account chains."""
        if not sources:
            return []
        if chain == "bitcoin":
            total = sum((v for _, v in sources), Decimal(0))
            if total <= FEES[chain]:
                return []
            txid = self._txid(chain)
            self.txs.append((float(int(t)), self._n, {
                "chain": chain, "txid": txid, "time": iso_utc(t),
                "inputs": [{"address": a, "value": text(v)} for a, v in sources],
                "outputs": [{"address": dst, "value": text(total - FEES[chain])}]}))
            return [txid]
        return [self.send(t + i, chain, a, dst, v - FEES[chain]) for i, (a, v) in enumerate(sources)
                if v > FEES[chain]]

    def forward(self, t: float, chain: str, src: str, amount: Decimal, path: list[str],
                delay: tuple[float, float] = (600, 7200)) -> tuple[float, Decimal]:
        """Move ``amount`` along ``path`` hop by hop (each hop pays the fee); returns (time, amount left)."""
        here = src
        for dst in path[:MAX_HOPS]:
            t += self.rng.uniform(*delay)
            amount = quantise(amount - FEES[chain], NATIVE[chain])
            if amount <= 0:
                break
            self.send(t, chain, here, dst, amount)
            here = dst
        return t, amount

    def peel(self, t: float, chain: str, src: str, amount: Decimal, entity: str, hops: int, peel_to: list[str],
             tag: str) -> tuple[float, str, Decimal]:
        """A peel chain: at each hop a small part goes to one of ``peel_to`` and the rest moves to a fresh
        address of ``entity``. Returns (time, last address, amount left there)."""
        here = src
        for i in range(min(hops, MAX_HOPS)):
            t += self.rng.uniform(900, 5400)
            peel = quantise(amount * Decimal(str(self.rng.uniform(0.05, 0.15))), NATIVE[chain])
            nxt = self.address(entity, chain, f"{tag}/peel{i}")
            rest = quantise(amount - peel - FEES[chain], NATIVE[chain])
            if rest <= 0 or peel <= 0:
                break
            self.send(t, chain, here, [(self.rng.choice(peel_to), peel), (nxt, rest)], Decimal(0))
            here, amount = nxt, rest
        return t, here, amount

    def sorted_txs(self) -> list[dict[str, Any]]:
        return [body for _, _, body in sorted(self.txs, key=lambda x: (x[0], x[1]))]
