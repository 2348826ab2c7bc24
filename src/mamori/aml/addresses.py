"""Crypto-asset address validation and normalisation per chain.

One canonical text per address, so that a list entry, a withdrawal destination and a node export
of the same address compare equal:

* Bitcoin / Litecoin / Dogecoin: Base58Check with the chain's version bytes (P2PKH, P2SH), or a
  segwit address — Bech32 for version 0 (BIP-173) and Bech32m for versions 1–16 (BIP-350) —
  normalised to lower case.
* Ethereum and EVM chains (Polygon, BNB Smart Chain, Arbitrum, Optimism, Base, Avalanche C-Chain):
  ``0x`` and 20 bytes of hex; a mixed-case address must carry a valid EIP-55 checksum; normalised
  to lower case.
* Tron: Base58Check of 21 bytes starting with ``0x41`` (``T…``); the hex form ``41…`` is accepted
  and normalised to Base58Check.
* XRP Ledger: classic addresses, Base58Check in the XRP alphabet, version ``0x00`` and a 20-byte
  account id (``r…``). X-addresses are not accepted (send the classic address and the tag as memo).
* Solana: Base58 (Bitcoin alphabet) of a 32-byte public key.

Errors are :class:`~mamori.kit.errors.UnknownChain` and :class:`~mamori.kit.errors.InvalidAddress`
with a message that names the problem (bad character, wrong length, wrong checksum, wrong prefix).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from functools import lru_cache
from typing import Final

from mamori.aml.address_codecs import (
    XRP_ALPHABET,
    b58check_decode,
    b58check_encode,
    b58decode,
    b58encode,
    keccak256,
    segwit_decode,
    segwit_encode,
)
from mamori.kit.errors import InvalidAddress, UnknownChain

EVM_CHAINS: Final[tuple[str, ...]] = (
    "ethereum", "polygon", "bsc", "arbitrum", "optimism", "base", "avalanche", "ethereum_classic",
)
UTXO_CHAINS: Final[tuple[str, ...]] = ("bitcoin", "litecoin", "dogecoin")
SUPPORTED_CHAINS: Final[tuple[str, ...]] = (*UTXO_CHAINS, *EVM_CHAINS, "tron", "xrp", "solana")
"""Canonical chain names. UTXO chains are the first three; the rest use the account model."""

ACCOUNT_MODEL_CHAINS: Final[tuple[str, ...]] = tuple(c for c in SUPPORTED_CHAINS if c not in UTXO_CHAINS)

NATIVE_ASSETS: Final[dict[str, str]] = {
    "bitcoin": "BTC", "litecoin": "LTC", "dogecoin": "DOGE", "ethereum": "ETH", "polygon": "POL",
    "bsc": "BNB", "arbitrum": "ETH", "optimism": "ETH", "base": "ETH", "avalanche": "AVAX",
    "ethereum_classic": "ETC", "tron": "TRX", "xrp": "XRP", "solana": "SOL",
}
"""The chain's native asset (the default asset of a transaction that names none)."""

CHAIN_ALIASES: Final[dict[str, str]] = {
    "btc": "bitcoin", "xbt": "bitcoin", "ltc": "litecoin", "doge": "dogecoin",
    "eth": "ethereum", "erc20": "ethereum", "erc-20": "ethereum", "mainnet": "ethereum",
    "matic": "polygon", "pol": "polygon", "polygon-pos": "polygon",
    "bnb": "bsc", "bep20": "bsc", "bep-20": "bsc", "binance-smart-chain": "bsc", "bnb-smart-chain": "bsc",
    "arb": "arbitrum", "arbitrum-one": "arbitrum", "op": "optimism", "avax": "avalanche",
    "avalanche-c": "avalanche", "etc": "ethereum_classic", "ethereum-classic": "ethereum_classic",
    "trx": "tron", "trc20": "tron", "trc-20": "tron", "ripple": "xrp", "xrpl": "xrp", "sol": "solana",
}

_BASE58_VERSIONS: Final[dict[str, tuple[int, ...]]] = {
    "bitcoin": (0x00, 0x05), "litecoin": (0x30, 0x32, 0x05), "dogecoin": (0x1E, 0x16),
}
_SEGWIT_HRP: Final[dict[str, str]] = {"bitcoin": "bc", "litecoin": "ltc"}
_HEX40: Final = re.compile(r"0[xX][0-9a-fA-F]{40}")
_TRON_HEX: Final = re.compile(r"41[0-9a-fA-F]{40}")
_MAX_LENGTH: Final = 128


def normalise_chain(chain: str) -> str:
    """The canonical chain name for ``chain`` or one of its aliases (``btc``, ``eth``, ``trx``, ``bep20``…).

    Raises :class:`UnknownChain` naming the chain and the supported ones."""
    known = _KNOWN.get(chain)
    if known is not None:
        return known
    key = str(chain).strip().lower().replace(" ", "-")
    if key in _CANONICAL:
        return key
    alias = CHAIN_ALIASES.get(key) or CHAIN_ALIASES.get(key.replace("_", "-"))
    if alias is not None:
        return alias
    if key.replace("-", "_") in _CANONICAL:
        return key.replace("-", "_")
    shown = key[:40] or "(empty)"
    raise UnknownChain(f"unknown chain {shown!r}; supported: {', '.join(SUPPORTED_CHAINS)}",
                       details={"chain": shown, "supported": list(SUPPORTED_CHAINS)})


_CANONICAL: Final = frozenset(SUPPORTED_CHAINS)
_KNOWN: Final[dict[str, str]] = {**{c: c for c in SUPPORTED_CHAINS}, **CHAIN_ALIASES}


def is_evm(chain: str) -> bool:
    return normalise_chain(chain) in EVM_CHAINS


def normalise_address(chain: str, address: str) -> str:
    """The canonical form of ``address`` on ``chain`` (see the module docstring for each chain).

    Raises :class:`UnknownChain` or :class:`InvalidAddress` (the message names the problem)."""
    canonical_chain = normalise_chain(chain)
    text = str(address).strip()
    if not text:
        raise _invalid(canonical_chain, text, "empty address")
    if len(text) > _MAX_LENGTH:
        raise _invalid(canonical_chain, text, f"wrong length: {len(text)} characters")
    try:
        return _NORMALISERS[_FAMILY[canonical_chain]](canonical_chain, text)
    except ValueError as exc:
        raise _invalid(canonical_chain, text, str(exc)) from None


def is_valid_address(chain: str, address: str) -> bool:
    try:
        normalise_address(chain, address)
    except (InvalidAddress, UnknownChain):
        return False
    return True


def _invalid(chain: str, text: str, problem: str) -> InvalidAddress:
    shown = text if len(text) <= 100 else text[:100] + "…"
    return InvalidAddress(f"invalid {chain} address {shown!r}: {problem}",
                          details={"chain": chain, "address": shown, "problem": problem})


def _utxo(chain: str, text: str) -> str:
    hrp = _SEGWIT_HRP.get(chain)
    if hrp is not None and text.lower().startswith(hrp + "1"):
        segwit_decode(hrp, text)
        return text.lower()
    payload = b58check_decode(text)
    if len(payload) != 21:
        raise ValueError(f"wrong length: {len(payload)}-byte payload, expected 21")
    if payload[0] not in _BASE58_VERSIONS[chain]:
        raise ValueError(f"wrong prefix: version byte 0x{payload[0]:02x} is not a {chain} address")
    return text


def _evm(chain: str, text: str) -> str:
    if text[:2] not in ("0x", "0X"):
        raise ValueError("wrong prefix: an EVM address starts with '0x'")
    if len(text) != 42:
        raise ValueError(f"wrong length: {len(text) - 2} hex digits, expected 40")
    if not _HEX40.fullmatch(text):
        bad = next(c for c in text[2:] if c not in "0123456789abcdefABCDEF")
        raise ValueError(f"bad character {bad!r} (not hexadecimal)")
    body = text[2:]
    lower = body.lower()
    if body != lower and body != body.upper() and not _eip55_ok(body):
        raise ValueError("wrong checksum (EIP-55 mixed-case checksum does not match)")
    return "0x" + lower


@lru_cache(maxsize=65536)
def _eip55_ok(body: str) -> bool:
    return eip55(body) == body


def eip55(hex40: str) -> str:
    """The EIP-55 mixed-case checksum form of 40 hex digits (no ``0x``)."""
    lower = hex40.lower()
    digest = keccak256(lower.encode("ascii")).hex()
    return "".join(c.upper() if c.isalpha() and int(digest[i], 16) >= 8 else c for i, c in enumerate(lower))


def _tron(chain: str, text: str) -> str:
    if _TRON_HEX.fullmatch(text):
        return b58check_encode(bytes.fromhex(text))
    if not text.startswith("T"):
        raise ValueError("wrong prefix: a Tron address starts with 'T' (or '41' in hex)")
    payload = b58check_decode(text)
    if len(payload) != 21:
        raise ValueError(f"wrong length: {len(payload)}-byte payload, expected 21")
    if payload[0] != 0x41:
        raise ValueError(f"wrong prefix: version byte 0x{payload[0]:02x}, expected 0x41")
    return text


def _xrp(chain: str, text: str) -> str:
    if text.startswith("X"):
        raise ValueError("X-addresses are not accepted: send the classic 'r…' address and the tag as memo")
    if not text.startswith("r"):
        raise ValueError("wrong prefix: a classic XRP address starts with 'r'")
    payload = b58check_decode(text, XRP_ALPHABET)
    if len(payload) != 21 or payload[0] != 0x00:
        raise ValueError(f"wrong length: {len(payload)}-byte payload, expected version 0x00 and 20 bytes")
    return text


def _solana(chain: str, text: str) -> str:
    if not 32 <= len(text) <= 44:
        raise ValueError(f"wrong length: {len(text)} characters, expected 32–44")
    raw = b58decode(text)
    if len(raw) != 32:
        raise ValueError(f"wrong length: decodes to {len(raw)} bytes, expected 32")
    return text


_FAMILY: Final[dict[str, str]] = {
    **{c: "utxo" for c in UTXO_CHAINS}, **{c: "evm" for c in EVM_CHAINS},
    "tron": "tron", "xrp": "xrp", "solana": "solana",
}
_NORMALISERS: Final[dict[str, Callable[[str, str], str]]] = {
    "utxo": _utxo, "evm": _evm, "tron": _tron, "xrp": _xrp, "solana": _solana,
}


def synthetic_address(chain: str, seed: bytes) -> str:
    """A valid, normalised address on ``chain`` derived deterministically from ``seed`` (for simulators,
    tests and benchmarks; nobody holds its key). Bitcoin and Litecoin get segwit v0 (P2WPKH) addresses,
    Dogecoin P2PKH; ``normalise_address(chain, synthetic_address(chain, s)) == synthetic_address(chain, s)``."""
    canonical = normalise_chain(chain)
    digest = hashlib.sha256(b"mamori-synthetic-address:" + canonical.encode() + b":" + bytes(seed)).digest()
    if canonical in _SEGWIT_HRP:
        return segwit_encode(_SEGWIT_HRP[canonical], 0, digest[:20])
    if canonical == "dogecoin":
        return b58check_encode(b"\x1e" + digest[:20])
    if canonical in EVM_CHAINS:
        return "0x" + digest[:20].hex()
    if canonical == "tron":
        return b58check_encode(b"\x41" + digest[:20])
    if canonical == "xrp":
        return b58check_encode(b"\x00" + digest[:20], XRP_ALPHABET)
    return b58encode(digest)
