"""Valid synthetic addresses for the simulated chain: the one place the simulator meets
:mod:`mamori.aml.addresses` (``synthetic_address(chain, seed)`` derives a valid, normalised address
from a seed: Bech32 P2WPKH per BIP-173 for Bitcoin, lower-case hex for Ethereum, Base58Check with the
XRP Ledger alphabet for XRP), so the simulator never writes an address a real validator rejects.
"""

from __future__ import annotations

from mamori.aml.addresses import synthetic_address


class AddressBook:
    """Addresses by (chain, purpose text), derived from the simulation seed: the same seed and purpose
    always give the same address; different purposes give different addresses."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self._cache: dict[tuple[str, str], str] = {}

    def get(self, chain: str, purpose: str) -> str:
        key = (chain, purpose)
        addr = self._cache.get(key)
        if addr is None:
            addr = self._cache[key] = synthetic_address(chain, f"{self.seed}/{purpose}".encode())
        return addr
