"""The encodings crypto addresses use: Base58Check, Bech32/Bech32m and Keccak-256 (for EIP-55).

Pure functions, no I/O. Errors are ``ValueError`` with a message naming the problem; the caller
(:mod:`mamori.aml.addresses`) turns them into :class:`~mamori.kit.errors.InvalidAddress`.

* Base58 / Base58Check: Bitcoin's alphabet and double-SHA-256 checksum (Bitcoin Core
  ``src/base58.cpp``); XRP Ledger uses the same scheme with its own alphabet.
* Bech32 (BIP-173) and Bech32m (BIP-350) with the segwit program rules.
* Keccak-256 as Ethereum uses it (the original Keccak padding ``0x01``, not FIPS 202's SHA3 ``0x06``).
"""

from __future__ import annotations

import hashlib
from typing import Final

BITCOIN_ALPHABET: Final = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
XRP_ALPHABET: Final = "rpshnaf39wBUDNEGHJKLM4PQRST7VWXYZ2bcdeCg65jkm8oFqi1tuvAxyz"

_DECODE_TABLES: dict[str, dict[str, int]] = {}


def _table(alphabet: str) -> dict[str, int]:
    table = _DECODE_TABLES.get(alphabet)
    if table is None:
        table = {c: i for i, c in enumerate(alphabet)}
        _DECODE_TABLES[alphabet] = table
    return table


def b58decode(text: str, alphabet: str = BITCOIN_ALPHABET) -> bytes:
    """Decode Base58 text; ``ValueError`` names the first character outside ``alphabet``."""
    table = _table(alphabet)
    number = 0
    for position, char in enumerate(text):
        digit = table.get(char)
        if digit is None:
            raise ValueError(f"bad character {char!r} at position {position + 1} (not in the base58 alphabet)")
        number = number * 58 + digit
    leading = len(text) - len(text.lstrip(alphabet[0]))
    body = number.to_bytes((number.bit_length() + 7) // 8, "big") if number else b""
    return b"\x00" * leading + body


def b58encode(data: bytes, alphabet: str = BITCOIN_ALPHABET) -> str:
    number = int.from_bytes(data, "big")
    chars: list[str] = []
    while number:
        number, digit = divmod(number, 58)
        chars.append(alphabet[digit])
    leading = len(data) - len(data.lstrip(b"\x00"))
    return alphabet[0] * leading + "".join(reversed(chars))


def _checksum(payload: bytes) -> bytes:
    return hashlib.sha256(hashlib.sha256(payload).digest()).digest()[:4]


def b58check_decode(text: str, alphabet: str = BITCOIN_ALPHABET) -> bytes:
    """The payload (version byte(s) + data) of Base58Check text; ``ValueError`` on a bad checksum."""
    raw = b58decode(text, alphabet)
    if len(raw) < 5:
        raise ValueError("wrong length: too short for base58check")
    payload, check = raw[:-4], raw[-4:]
    if _checksum(payload) != check:
        raise ValueError("wrong checksum (base58check)")
    return payload


def b58check_encode(payload: bytes, alphabet: str = BITCOIN_ALPHABET) -> str:
    return b58encode(payload + _checksum(payload), alphabet)


# --- Bech32 / Bech32m (BIP-173, BIP-350) -------------------------------------------------------

BECH32_CHARSET: Final = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_BECH32_TABLE: Final = {c: i for i, c in enumerate(BECH32_CHARSET)}
BECH32_CONST: Final = 1
BECH32M_CONST: Final = 0x2BC830A3
_GEN: Final = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)


# XOR of the generators selected by each possible top 5 bits (the BIP-173 loop, tabulated).
_GEN_TABLE: Final = tuple(
    (_GEN[0] if top & 1 else 0) ^ (_GEN[1] if top & 2 else 0) ^ (_GEN[2] if top & 4 else 0)
    ^ (_GEN[3] if top & 8 else 0) ^ (_GEN[4] if top & 16 else 0) for top in range(32))


def _polymod(values: list[int]) -> int:
    chk = 1
    table = _GEN_TABLE
    for value in values:
        chk = ((chk & 0x1FFFFFF) << 5 ^ value) ^ table[chk >> 25]
    return chk


def _hrp_expand(hrp: str) -> list[int]:
    return [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]


def bech32_decode(text: str) -> tuple[str, list[int], int]:
    """Split Bech32/Bech32m text into (hrp, 5-bit data without checksum, checksum constant).

    BIP-173: at most 90 characters, one case only, printable ASCII hrp, ``1`` separator, a 6-character
    checksum; the constant tells Bech32 (1) from Bech32m (BIP-350)."""
    if len(text) > 90:
        raise ValueError(f"wrong length: {len(text)} characters, bech32 allows at most 90")
    if text.lower() != text and text.upper() != text:
        raise ValueError("mixed case (bech32 must be all lower or all upper case)")
    for position, char in enumerate(text):
        if not 33 <= ord(char) <= 126:
            raise ValueError(f"bad character {char!r} at position {position + 1}")
    text = text.lower()
    separator = text.rfind("1")
    if separator < 1 or separator + 7 > len(text):
        raise ValueError("wrong length: missing human-readable part, separator '1' or checksum")
    hrp, data_part = text[:separator], text[separator + 1:]
    data: list[int] = []
    for position, char in enumerate(data_part):
        value = _BECH32_TABLE.get(char)
        if value is None:
            raise ValueError(f"bad character {char!r} at position {separator + 2 + position} "
                             "(not in the bech32 alphabet)")
        data.append(value)
    const = _polymod(_hrp_expand(hrp) + data)
    if const not in (BECH32_CONST, BECH32M_CONST):
        raise ValueError("wrong checksum (bech32/bech32m)")
    return hrp, data[:-6], const


def bech32_encode(hrp: str, data: list[int], const: int) -> str:
    values = _hrp_expand(hrp) + data
    polymod = _polymod(values + [0] * 6) ^ const
    checksum = [(polymod >> 5 * (5 - i)) & 31 for i in range(6)]
    return hrp + "1" + "".join(BECH32_CHARSET[d] for d in data + checksum)


def convertbits(data: list[int] | bytes, frombits: int, tobits: int, *, pad: bool) -> list[int]:
    """Regroup bits (BIP-173 reference); ``ValueError`` on non-zero or excess padding."""
    acc = 0
    bits = 0
    out: list[int] = []
    maxv = (1 << tobits) - 1
    for value in data:
        acc = (acc << frombits) | value
        bits += frombits
        while bits >= tobits:
            bits -= tobits
            out.append((acc >> bits) & maxv)
    if pad:
        if bits:
            out.append((acc << (tobits - bits)) & maxv)
    elif bits >= frombits or ((acc << (tobits - bits)) & maxv):
        raise ValueError("invalid padding in the bech32 data")
    return out


def segwit_decode(expected_hrp: str, text: str) -> tuple[int, bytes]:
    """(witness version, program) of a segwit address, enforcing BIP-173/BIP-350: v0 uses Bech32 and a
    20- or 32-byte program; v1–v16 use Bech32m and a 2–40-byte program."""
    hrp, data, const = bech32_decode(text)
    if hrp != expected_hrp:
        raise ValueError(f"wrong prefix {hrp!r} (expected {expected_hrp!r})")
    if not data:
        raise ValueError("wrong length: no witness version")
    version = data[0]
    if version > 16:
        raise ValueError(f"invalid witness version {version}")
    program = bytes(convertbits(data[1:], 5, 8, pad=False))
    if not 2 <= len(program) <= 40:
        raise ValueError(f"wrong length: witness program of {len(program)} bytes")
    if version == 0 and len(program) not in (20, 32):
        raise ValueError(f"wrong length: a version-0 witness program has 20 or 32 bytes, not {len(program)}")
    if version == 0 and const != BECH32_CONST:
        raise ValueError("wrong checksum: version-0 addresses use bech32, not bech32m (BIP-350)")
    if version > 0 and const != BECH32M_CONST:
        raise ValueError("wrong checksum: version-1+ addresses use bech32m, not bech32 (BIP-350)")
    return version, program


def segwit_encode(hrp: str, version: int, program: bytes) -> str:
    const = BECH32_CONST if version == 0 else BECH32M_CONST
    return bech32_encode(hrp, [version, *convertbits(program, 8, 5, pad=True)], const)


# --- Keccak-256 (Ethereum) ---------------------------------------------------------------------

_MASK: Final = (1 << 64) - 1
_ROUND_CONSTANTS: Final = (
    0x0000000000000001, 0x0000000000008082, 0x800000000000808A, 0x8000000080008000,
    0x000000000000808B, 0x0000000080000001, 0x8000000080008081, 0x8000000000008009,
    0x000000000000008A, 0x0000000000000088, 0x0000000080008009, 0x000000008000000A,
    0x000000008000808B, 0x800000000000008B, 0x8000000000008089, 0x8000000000008003,
    0x8000000000008002, 0x8000000000000080, 0x000000000000800A, 0x800000008000000A,
    0x8000000080008081, 0x8000000000008080, 0x0000000080000001, 0x8000000080008008,
)
# Rotation offsets r[x][y], lane index x + 5*y.
_ROTATIONS: Final = ((0, 36, 3, 41, 18), (1, 44, 10, 45, 2), (62, 6, 43, 15, 61),
                     (28, 55, 25, 21, 56), (27, 20, 39, 8, 14))
# rho+pi as (source lane, destination lane, rotation) triples: B[y, 2x+3y] = rot(A[x, y], r[x][y]).
_RHO_PI: Final = tuple((x + 5 * y, y + 5 * ((2 * x + 3 * y) % 5), _ROTATIONS[x][y])
                       for x in range(5) for y in range(5))
_RATE: Final = 136


def _round_source() -> str:
    """Python source of Keccak-f[1600] with the 25 lanes as local variables (theta, rho, pi, chi, iota
    unrolled per FIPS 202 §3.2), generated once at import: about five times faster than loops."""
    a = [f"a{i}" for i in range(25)]
    lines = ["def keccak_f(lanes, rcs, mask):", "    " + ", ".join(a) + " = lanes", "    for rc in rcs:"]
    body = [f"c{x} = a{x} ^ a{x + 5} ^ a{x + 10} ^ a{x + 15} ^ a{x + 20}" for x in range(5)]
    for x in range(5):
        left, right = (x - 1) % 5, (x + 1) % 5
        body.append(f"d = c{left} ^ (((c{right} << 1) | (c{right} >> 63)) & mask)")
        body += [f"a{x + 5 * y} ^= d" for y in range(5)]
    for src, dst, rot in _RHO_PI:
        body.append(f"b{dst} = ((a{src} << {rot}) | (a{src} >> {64 - rot})) & mask" if rot else f"b{dst} = a{src}")
    for y in range(0, 25, 5):
        for x in range(5):
            body.append(f"a{y + x} = b{y + x} ^ ((~b{y + (x + 1) % 5}) & b{y + (x + 2) % 5})")
    body.append("a0 ^= rc")
    lines += ["        " + line for line in body]
    lines.append("    lanes[:] = [" + ", ".join(a) + "]")
    return "\n".join(lines)


_namespace: dict[str, object] = {}
exec(compile(_round_source(), "<keccak-f>", "exec"), _namespace)  # noqa: S102 - our own generated source
_KECCAK_F = _namespace["keccak_f"]


def _keccak_f(lanes: list[int]) -> None:
    _KECCAK_F(lanes, _ROUND_CONSTANTS, _MASK)  # type: ignore[operator]


def keccak256(data: bytes) -> bytes:
    """Keccak-256 (the pre-FIPS-202 padding Ethereum uses)."""
    padded = bytearray(data)
    padded.append(0x01)
    padded.extend(b"\x00" * (-len(padded) % _RATE))
    padded[-1] |= 0x80
    lanes = [0] * 25
    for offset in range(0, len(padded), _RATE):
        block = padded[offset:offset + _RATE]
        for i in range(_RATE // 8):
            lanes[i] ^= int.from_bytes(block[8 * i:8 * i + 8], "little")
        _keccak_f(lanes)
    return b"".join(lane.to_bytes(8, "little") for lane in lanes[:4])
