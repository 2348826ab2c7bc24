"""Address validation and normalisation: BIP-173/BIP-350 vectors, EIP-55 examples, well-known
addresses of each chain, and malformed ones whose error names the problem."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mamori.aml.address_codecs import keccak256, segwit_decode
from mamori.aml.addresses import (
    SUPPORTED_CHAINS,
    eip55,
    is_valid_address,
    normalise_address,
    normalise_chain,
    synthetic_address,
)
from mamori.kit.errors import InvalidAddress, UnknownChain


def test_keccak256_known_vectors() -> None:
    assert keccak256(b"").hex() == "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"
    assert keccak256(b"abc").hex() == "4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45"
    # longer than one 136-byte block
    assert len(keccak256(b"x" * 300)) == 32


@pytest.mark.parametrize(("text", "program"), [
    ("BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4", "751e76e8199196d454941c45d1b3a323f1433bd6"),
    ("bc1pw508d6qejxtdg4y5r3zarvary0c5xw7kw508d6qejxtdg4y5r3zarvary0c5xw7kt5nd6y",
     "751e76e8199196d454941c45d1b3a323f1433bd6751e76e8199196d454941c45d1b3a323f1433bd6"),
    ("BC1SW50QGDZ25J", "751e"),
    ("bc1zw508d6qejxtdg4y5r3zarvaryvaxxpcs", "751e76e8199196d454941c45d1b3a323"),
    ("bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0",
     "79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798"),
])
def test_bip350_valid_vectors(text: str, program: str) -> None:
    assert segwit_decode("bc", text.lower())[1].hex() == program
    assert normalise_address("bitcoin", text) == text.lower()


@pytest.mark.parametrize(("text", "problem"), [
    # BIP-350 invalid vectors
    ("bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqh2y7hd", "bech32m"),  # v1 with bech32
    ("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kemeawh", "bech32"),  # v0 with bech32m
    ("BC1S0XLXVLHEMJA6C4DQV22UAPCTQUPFHLXM9H8Z3K2E72Q4K9HCZ7VQ54WELL", "bech32m"),
    ("bc1p38j9r5y49hruaue7wxjce0updqjuyyx0kh56v8s25huc6995vvpql3jow4", "bad character 'o'"),
    ("BC130XLXVLHEMJA6C4DQV22UAPCTQUPFHLXM9H8Z3K2E72Q4K9HCZ7VQ7ZWS8R", "witness version"),
    ("bc1pw5dgrnzv", "wrong length"),
    ("BC1QR508D6QEJXTDG4Y5R3ZARVARYV98GJ9P", "20 or 32"),
    ("bc1zw508d6qejxtdg4y5r3zarvaryvqyzf3du", "padding"),
    ("bc1qW508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4", "mixed case"),
    ("bc1gmk9yu", "wrong length"),
    ("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t5", "checksum"),
])
def test_bip173_350_invalid_vectors_name_the_problem(text: str, problem: str) -> None:
    with pytest.raises(InvalidAddress) as info:
        normalise_address("bitcoin", text)
    assert problem in info.value.message
    assert info.value.details["chain"] == "bitcoin"


@pytest.mark.parametrize("address", [
    "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa",  # genesis coinbase (P2PKH)
    "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy",  # P2SH example of the Bitcoin wiki
])
def test_bitcoin_base58_addresses_are_kept_as_is(address: str) -> None:
    assert normalise_address("btc", address) == address


def test_bitcoin_base58_errors() -> None:
    with pytest.raises(InvalidAddress, match="checksum"):
        normalise_address("bitcoin", "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNb")
    with pytest.raises(InvalidAddress, match=r"bad character '0' at position 3"):
        normalise_address("bitcoin", "1A0zP1eP5QGefi2DMPTfTL5SLmv7DivfNa")
    # a valid Tron address is not a bitcoin address (different version byte)
    with pytest.raises(InvalidAddress, match="version byte 0x41"):
        normalise_address("bitcoin", "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t")


@pytest.mark.parametrize("address", [
    "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
    "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
    "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB",
    "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
])
def test_eip55_examples(address: str) -> None:
    assert eip55(address[2:]) == address[2:]
    assert normalise_address("ethereum", address) == address.lower()
    assert normalise_address("polygon", address.lower()) == address.lower()  # all lower: no checksum
    assert normalise_address("bsc", "0x" + address[2:].upper()) == address.lower()  # all upper: no checksum


def test_evm_errors() -> None:
    good = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
    with pytest.raises(InvalidAddress, match="EIP-55"):
        normalise_address("ethereum", good[:-1] + "D")
    with pytest.raises(InvalidAddress, match="wrong length: 39 hex digits"):
        normalise_address("ethereum", good[:-1])
    with pytest.raises(InvalidAddress, match="bad character 'g'"):
        normalise_address("arbitrum", "0x" + "g" * 40)
    with pytest.raises(InvalidAddress, match="starts with '0x'"):
        normalise_address("eth", good[2:])


def test_tron() -> None:
    usdt = "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"
    assert normalise_address("trx", usdt) == usdt
    assert normalise_address("tron", "41a614f803b6fd780986a42c78ec9c7f77e6ded13c") == usdt
    with pytest.raises(InvalidAddress, match="checksum"):
        normalise_address("tron", usdt[:-1] + "u")
    with pytest.raises(InvalidAddress, match="starts with 'T'"):
        normalise_address("tron", "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa")


def test_xrp() -> None:
    assert normalise_address("ripple", "rHb9CJAWyB4rj91VRWn96DkukG4bwdtyTh") == "rHb9CJAWyB4rj91VRWn96DkukG4bwdtyTh"
    assert normalise_address("xrp", "rrrrrrrrrrrrrrrrrrrrrhoLvTp") == "rrrrrrrrrrrrrrrrrrrrrhoLvTp"
    with pytest.raises(InvalidAddress, match="checksum"):
        normalise_address("xrp", "rHb9CJAWyB4rj91VRWn96DkukG4bwdtyTj")
    with pytest.raises(InvalidAddress, match="bad character '0'"):
        normalise_address("xrp", "rHb9CJAWyB4rj91VRWn96DkukG4bwdty0h")
    with pytest.raises(InvalidAddress, match="X-addresses"):
        normalise_address("xrp", "X7AcgcsBL6XDcUb289X4mJ8djcdyKaB5hJDWMArnXr61cqZ")


def test_solana() -> None:
    for address in ("11111111111111111111111111111111", "TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA",
                    "So11111111111111111111111111111111111111112"):
        assert normalise_address("sol", address) == address
    with pytest.raises(InvalidAddress, match="decodes to"):
        normalise_address("solana", "1" * 34)
    with pytest.raises(InvalidAddress, match="bad character 'l'"):
        normalise_address("solana", "TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5Dl")


def test_unknown_chain_and_empty_address() -> None:
    with pytest.raises(UnknownChain, match="unknown chain 'dogelon'") as info:
        normalise_address("dogelon", "x")
    assert "bitcoin" in info.value.details["supported"]
    with pytest.raises(InvalidAddress, match="empty"):
        normalise_address("bitcoin", "  ")
    assert not is_valid_address("nope", "x")
    assert not is_valid_address("bitcoin", "bc1qscamcollector0000")


@pytest.mark.parametrize(("alias", "chain"), [("BTC", "bitcoin"), ("eth", "ethereum"), ("TRX", "tron"),
                                              ("bep20", "bsc"), ("TRC20", "tron"), ("matic", "polygon"),
                                              ("ethereum-classic", "ethereum_classic"), ("Solana", "solana")])
def test_chain_aliases(alias: str, chain: str) -> None:
    assert normalise_chain(alias) == chain


@settings(max_examples=40, deadline=None)
@given(seed=st.binary(min_size=0, max_size=16), chain=st.sampled_from(SUPPORTED_CHAINS))
def test_synthetic_addresses_are_valid_and_normalised(seed: bytes, chain: str) -> None:
    address = synthetic_address(chain, seed)
    assert normalise_address(chain, address) == address
    assert synthetic_address(chain, seed) == address  # deterministic
    assert synthetic_address(chain, seed + b"!") != address


@settings(max_examples=60, deadline=None)
@given(version=st.integers(0, 16), program=st.binary(min_size=2, max_size=40))
def test_segwit_round_trip(version: int, program: bytes) -> None:
    from mamori.aml.address_codecs import segwit_encode

    if version == 0 and len(program) not in (20, 32):
        return
    text = segwit_encode("bc", version, program)
    assert segwit_decode("bc", text) == (version, program)
    assert normalise_address("bitcoin", text.upper()) == text
    flipped = text[:-1] + ("q" if text[-1] != "q" else "p")
    with pytest.raises(InvalidAddress, match="checksum"):
        normalise_address("bitcoin", flipped)
