"""Chain data files: "mamori chain JSONL", a CSV edge list, and node exports (contract 4 of issue 6).

One transaction per JSON line (the simulator writes it, the tracer reads it):

* UTXO model (Bitcoin, Litecoin, Dogecoin)::

    {"chain": "bitcoin", "txid": "…", "time": "2026-05-01T10:00:00Z",
     "inputs": [{"address": "…", "value": "0.5"}], "outputs": [{"address": "…", "value": "0.4999"}]}

* account model (Ethereum and EVM chains, Tron, XRP, Solana)::

    {"chain": "ethereum", "txid": "…", "time": "…", "from": "0x…", "to": "0x…", "value": "1.25", "asset": "ETH"}

  ``asset`` is optional (default: the chain's native asset, :data:`mamori.aml.addresses.NATIVE_ASSETS`);
  a token is named by its symbol or its contract address.

Also read: a CSV edge list with the header ``chain,txid,time,from,to,value,asset`` (one transfer per
row; rows sharing a txid are the transaction's several transfers), Bitcoin Core ``getblock <hash> 3``
JSON (``prevout`` gives each input's address and value; BIP-30 style coinbase inputs are skipped) and
Ethereum JSON-RPC ``eth_getBlockByNumber(…, true)`` blocks (native value transfers; ``value`` in wei).

Every address is validated and normalised with :func:`mamori.aml.addresses.normalise_address`. A bad
line is reported (line number, code, message) and skipped; the other lines are read.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import IO, Any, Final, Literal

import orjson

from mamori.aml.addresses import NATIVE_ASSETS, UTXO_CHAINS, normalise_address, normalise_chain
from mamori.kit.errors import InvalidAddress, InvalidChainData, InvalidRequest, UnknownChain

Format = Literal["jsonl", "csv", "bitcoin-core", "ethereum-rpc"]
FORMATS: Final[tuple[str, ...]] = ("jsonl", "csv", "bitcoin-core", "ethereum-rpc")
MAX_LINE_BYTES: Final = 4 * 1024 * 1024
MAX_LEGS: Final = 20_000          # inputs or outputs of one transaction
MAX_NODE_EXPORT_BYTES: Final = 512 * 1024 * 1024
MAX_TXID_CHARS: Final = 128
CSV_HEADER: Final = ("chain", "txid", "time", "from", "to", "value", "asset")
_WEI: Final = Decimal(10) ** 18


@dataclass(frozen=True, slots=True)
class ChainTx:
    """One transaction: its inputs and outputs as (normalised address, value in whole units).
    An account-model transfer has one input (``from``) and one output (``to``) of equal value."""

    chain: str
    txid: str
    time_us: int
    asset: str
    inputs: tuple[tuple[str, Decimal], ...]
    outputs: tuple[tuple[str, Decimal], ...]

    @property
    def utxo(self) -> bool:
        return self.chain in UTXO_CHAINS


@dataclass(frozen=True, slots=True)
class LineProblem:
    """A line (or record) that was skipped, and why."""

    line: int
    code: str
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {"line": self.line, "code": self.code, "message": self.message}


class BadRecord(ValueError):
    """A record does not match the format; ``code`` is a short machine-readable reason."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def parse_time(value: Any, field: str = "time") -> int:
    """Microseconds since the epoch from RFC 3339 text (with ``Z`` or an offset) or Unix seconds."""
    if isinstance(value, bool):
        raise BadRecord("bad_time", f"{field}: expected an RFC 3339 time or Unix seconds")
    if isinstance(value, (int, float)):
        if not 0 <= value < 2**33:
            raise BadRecord("bad_time", f"{field}: Unix seconds out of range")
        return int(value * 1_000_000)
    if not isinstance(value, str) or not value.strip():
        raise BadRecord("bad_time", f"{field}: missing; expected an RFC 3339 time such as 2026-05-01T10:00:00Z")
    text = value.strip()
    if text.isdigit():
        return parse_time(int(text), field)
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise BadRecord("bad_time", f"{field}: {text[:40]!r} is not an RFC 3339 time") from None
    if parsed.tzinfo is None:
        raise BadRecord("bad_time", f"{field}: {text[:40]!r} has no timezone offset")
    return int(parsed.astimezone(UTC).timestamp() * 1_000_000)


def parse_value(value: Any, field: str = "value") -> Decimal:
    """A non-negative, finite decimal amount (JSON string or number)."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise BadRecord("bad_value", f"{field}: expected a decimal amount such as \"0.5\"")
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        raise BadRecord("bad_value", f"{field}: {str(value)[:40]!r} is not a decimal amount") from None
    if not amount.is_finite() or amount < 0:
        raise BadRecord("bad_value", f"{field}: {str(value)[:40]!r} must be a finite amount >= 0")
    return amount


def _address(chain: str, value: Any, field: str) -> str:
    if not isinstance(value, str):
        raise BadRecord("bad_address", f"{field}: expected an address string")
    try:
        return normalise_address(chain, value)
    except InvalidAddress as exc:
        raise BadRecord("bad_address", f"{field}: {exc.message}") from None


def _chain(value: Any) -> str:
    if not isinstance(value, str):
        raise BadRecord("unknown_chain", "chain: missing; expected a chain name such as \"bitcoin\"")
    try:
        return normalise_chain(value)
    except UnknownChain as exc:
        raise BadRecord("unknown_chain", f"chain: {exc.message}") from None


def _txid(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise BadRecord("bad_txid", "txid: missing")
    text = value.strip()
    if len(text) > MAX_TXID_CHARS or not text.isprintable() or any(c.isspace() for c in text):
        raise BadRecord("bad_txid", f"txid: must be at most {MAX_TXID_CHARS} printable characters without spaces")
    return text.lower() if text[:2].lower() == "0x" or all(c in "0123456789abcdefABCDEF" for c in text) else text


def normalise_txid(value: str) -> str:
    """A transaction id as stored (hex in lower case); :class:`InvalidRequest` naming the problem."""
    try:
        return _txid(value)
    except BadRecord as exc:
        raise InvalidRequest(exc.message, details={"field": "txid"}) from None


def _asset(chain: str, value: Any) -> str:
    if value is None or value == "":
        return NATIVE_ASSETS[chain]
    if not isinstance(value, str) or len(value) > 64 or not value.strip().isprintable():
        raise BadRecord("bad_asset", "asset: expected a symbol or contract address of at most 64 characters")
    text = value.strip()
    return text.lower() if text[:2].lower() == "0x" else text.upper()


def _legs(chain: str, items: Any, field: str) -> tuple[tuple[str, Decimal], ...]:
    if not isinstance(items, list) or not items:
        raise BadRecord("bad_record", f"{field}: expected a non-empty list of {{address, value}}")
    if len(items) > MAX_LEGS:
        raise BadRecord("too_large", f"{field}: more than {MAX_LEGS} entries")
    out = []
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise BadRecord("bad_record", f"{field}.{i}: expected an object with address and value")
        out.append((_address(chain, item.get("address"), f"{field}.{i}.address"),
                    parse_value(item.get("value"), f"{field}.{i}.value")))
    return tuple(out)


def parse_record(data: Any) -> ChainTx:
    """One "mamori chain JSONL" record (already decoded) as a :class:`ChainTx`; :class:`BadRecord` if not."""
    if not isinstance(data, dict):
        raise BadRecord("bad_record", "a transaction must be a JSON object")
    chain = _chain(data.get("chain"))
    txid = _txid(data.get("txid"))
    time_us = parse_time(data.get("time"))
    asset = _asset(chain, data.get("asset"))
    if chain in UTXO_CHAINS:
        if "from" in data or "to" in data:
            raise BadRecord("bad_record", f"{chain} is a UTXO chain: give inputs and outputs, not from/to")
        return ChainTx(chain, txid, time_us, asset, _legs(chain, data.get("inputs"), "inputs"),
                       _legs(chain, data.get("outputs"), "outputs"))
    if "inputs" in data or "outputs" in data:
        raise BadRecord("bad_record", f"{chain} uses the account model: give from, to and value")
    value = parse_value(data.get("value"))
    sender = _address(chain, data.get("from"), "from")
    receiver = _address(chain, data.get("to"), "to")
    return ChainTx(chain, txid, time_us, asset, ((sender, value),), ((receiver, value),))


def _bounded_lines(stream: IO[bytes]) -> Iterator[tuple[int, bytes | None]]:
    """(line number, line) with at most MAX_LINE_BYTES per line; None for a line that was too long."""
    number = 0
    while True:
        line = stream.readline(MAX_LINE_BYTES + 1)
        if not line:
            return
        number += 1
        if len(line) > MAX_LINE_BYTES and not line.endswith(b"\n"):
            while True:  # skip the rest of the over-long line
                rest = stream.readline(MAX_LINE_BYTES)
                if not rest or rest.endswith(b"\n"):
                    break
            yield number, None
            continue
        yield number, line


def read_jsonl(stream: IO[bytes]) -> Iterator[tuple[int, ChainTx | LineProblem]]:
    for number, line in _bounded_lines(stream):
        if line is None:
            yield number, LineProblem(number, "too_large", f"line longer than {MAX_LINE_BYTES} bytes")
            continue
        if not line.strip():
            continue
        try:
            yield number, parse_record(orjson.loads(line))
        except orjson.JSONDecodeError as exc:
            yield number, LineProblem(number, "bad_json", f"not valid JSON: {exc}")
        except BadRecord as exc:
            yield number, LineProblem(number, exc.code, exc.message)


def read_csv(stream: IO[bytes]) -> Iterator[tuple[int, ChainTx | LineProblem]]:
    """CSV edge list; rows sharing (chain, txid) become ``txid``, ``txid#1``, ``txid#2``, … (one transfer each)."""
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", errors="replace", newline="")
    rows = csv.reader(_limited(text))
    header = next(rows, None)
    if header is None:
        return
    names = [h.strip().lower() for h in header]
    missing = [c for c in CSV_HEADER if c != "asset" and c not in names]
    if missing:
        yield 1, LineProblem(1, "bad_header", f"CSV header lacks {', '.join(missing)}; expected "
                             f"{','.join(CSV_HEADER)}")
        return
    seen: dict[tuple[str, str], int] = {}
    for number, row in enumerate(rows, start=2):
        if not row or not any(cell.strip() for cell in row):
            continue
        record = dict(zip(names, row, strict=False))
        try:
            chain = _chain(record.get("chain"))
            txid = _txid(record.get("txid"))
            n = seen.get((chain, txid), 0)
            seen[(chain, txid)] = n + 1
            data: dict[str, Any] = {"chain": chain, "txid": txid if n == 0 else f"{txid}#{n}",
                                    "time": record.get("time"),
                                    "asset": record.get("asset") or None}
            value = record.get("value")
            if chain in UTXO_CHAINS:
                data |= {"inputs": [{"address": record.get("from"), "value": value}],
                         "outputs": [{"address": record.get("to"), "value": value}]}
            else:
                data |= {"from": record.get("from"), "to": record.get("to"), "value": value}
            yield number, parse_record(data)
        except BadRecord as exc:
            yield number, LineProblem(number, exc.code, exc.message)


def _limited(text: IO[str]) -> Iterator[str]:
    for line in text:
        yield line if len(line) <= MAX_LINE_BYTES else ""


def _load_export(stream: IO[bytes]) -> list[Any]:
    """A node export: one JSON document (a block, a list of blocks, or a JSON-RPC response) or JSON lines."""
    raw = stream.read(MAX_NODE_EXPORT_BYTES + 1)
    if len(raw) > MAX_NODE_EXPORT_BYTES:
        raise InvalidChainData(f"node export larger than {MAX_NODE_EXPORT_BYTES} bytes; split it per block")
    try:
        doc = orjson.loads(raw)
        docs = doc if isinstance(doc, list) else [doc]
    except orjson.JSONDecodeError:
        try:
            docs = [orjson.loads(line) for line in raw.splitlines() if line.strip()]
        except orjson.JSONDecodeError as exc:
            raise InvalidChainData(f"node export is neither JSON nor JSON lines: {exc}") from None
    return [d.get("result") if isinstance(d, dict) and "result" in d and "jsonrpc" in d else d for d in docs]


def read_bitcoin_core(stream: IO[bytes], chain: str = "bitcoin") -> Iterator[tuple[int, ChainTx | LineProblem]]:
    """Blocks from ``bitcoin-cli getblock <hash> 3`` (record numbers count transactions from 1)."""
    chain = normalise_chain(chain)
    if chain not in UTXO_CHAINS:
        raise InvalidRequest(f"bitcoin-core exports are for UTXO chains ({', '.join(UTXO_CHAINS)}), not {chain}")
    number = 0
    for block in _load_export(stream):
        if not isinstance(block, dict) or not isinstance(block.get("tx"), list):
            number += 1
            yield number, LineProblem(number, "bad_record", "not a getblock verbosity-3 block (no tx list)")
            continue
        for tx in block["tx"]:
            number += 1
            try:
                yield number, _bitcoin_tx(chain, tx, block.get("time"))
            except BadRecord as exc:
                yield number, LineProblem(number, exc.code, exc.message)


def _script_address(chain: str, script: Any, field: str) -> str | None:
    if not isinstance(script, dict):
        return None
    address = script.get("address")
    if address is None and isinstance(script.get("addresses"), list) and len(script["addresses"]) == 1:
        address = script["addresses"][0]  # older Bitcoin Core
    return None if address is None else _address(chain, address, field)


def _bitcoin_tx(chain: str, tx: Any, block_time: Any) -> ChainTx:
    if not isinstance(tx, dict):
        raise BadRecord("bad_record", "a transaction must be a JSON object")
    txid = _txid(tx.get("txid"))
    time_us = parse_time(tx.get("time", block_time), "block time")
    inputs = []
    for i, vin in enumerate(tx.get("vin") or []):
        if not isinstance(vin, dict) or "coinbase" in vin:
            continue
        prevout = vin.get("prevout")
        if not isinstance(prevout, dict):
            raise BadRecord("bad_record", f"vin.{i}: no prevout (export with getblock <hash> 3)")
        address = _script_address(chain, prevout.get("scriptPubKey"), f"vin.{i}.prevout.address")
        if address is not None:
            inputs.append((address, parse_value(prevout.get("value"), f"vin.{i}.prevout.value")))
    outputs = []
    for i, vout in enumerate(tx.get("vout") or []):
        if isinstance(vout, dict):
            address = _script_address(chain, vout.get("scriptPubKey"), f"vout.{i}.address")
            if address is not None:  # OP_RETURN and bare scripts have no address
                outputs.append((address, parse_value(vout.get("value"), f"vout.{i}.value")))
    if not outputs:
        raise BadRecord("no_outputs", "no output pays an address")
    if not inputs:
        raise BadRecord("coinbase", "coinbase transaction (no spent address): skipped")
    if len(inputs) > MAX_LEGS or len(outputs) > MAX_LEGS:
        raise BadRecord("too_large", f"more than {MAX_LEGS} inputs or outputs")
    return ChainTx(chain, txid, time_us, NATIVE_ASSETS[chain], tuple(inputs), tuple(outputs))


def read_ethereum_rpc(stream: IO[bytes], chain: str = "ethereum") -> Iterator[tuple[int, ChainTx | LineProblem]]:
    """Blocks from ``eth_getBlockByNumber(<n>, true)`` (EVM chains); native transfers only."""
    chain = normalise_chain(chain)
    if chain in UTXO_CHAINS or chain in ("tron", "xrp", "solana"):
        raise InvalidRequest(f"ethereum-rpc exports are for EVM chains, not {chain}")
    number = 0
    for block in _load_export(stream):
        if not isinstance(block, dict) or not isinstance(block.get("transactions"), list):
            number += 1
            yield number, LineProblem(number, "bad_record", "not a block with full transactions")
            continue
        for tx in block["transactions"]:
            number += 1
            try:
                yield number, _ethereum_tx(chain, tx, block.get("timestamp"))
            except BadRecord as exc:
                yield number, LineProblem(number, exc.code, exc.message)


def _hex_int(value: Any, field: str) -> int:
    if isinstance(value, str) and value[:2].lower() == "0x":
        try:
            return int(value, 16)
        except ValueError:
            pass
    raise BadRecord("bad_value", f"{field}: expected a 0x-prefixed hex quantity")


def _ethereum_tx(chain: str, tx: Any, timestamp: Any) -> ChainTx:
    if not isinstance(tx, dict):
        raise BadRecord("bad_record", "transactions must be full objects (eth_getBlockByNumber(n, true))")
    txid = _txid(tx.get("hash"))
    if tx.get("to") is None:
        raise BadRecord("contract_creation", "contract creation (no recipient): skipped")
    value = Decimal(_hex_int(tx.get("value"), "value")) / _WEI
    time_us = _hex_int(timestamp, "timestamp") * 1_000_000
    sender = _address(chain, tx.get("from"), "from")
    receiver = _address(chain, tx.get("to"), "to")
    return ChainTx(chain, txid, time_us, NATIVE_ASSETS[chain], ((sender, value),), ((receiver, value),))


def read_chain_file(path: Path, fmt: str | None = None, *,
                    chain: str | None = None) -> Iterator[tuple[int, ChainTx | LineProblem]]:
    """Transactions (or the problems of skipped lines) of a chain data file, in file order.

    ``fmt`` defaults from the suffix (``.csv`` → csv, else jsonl); ``chain`` is the chain of a node
    export (default bitcoin / ethereum)."""
    kind = fmt or ("csv" if path.suffix.lower() == ".csv" else "jsonl")
    if kind not in FORMATS:
        raise InvalidRequest(f"unknown chain data format {kind!r}; expected one of {', '.join(FORMATS)}")
    try:
        stream = path.open("rb")
    except OSError as exc:
        raise InvalidRequest(f"cannot read {path}: {exc.strerror or exc}") from None
    with stream:
        if kind == "jsonl":
            yield from read_jsonl(stream)
        elif kind == "csv":
            yield from read_csv(stream)
        elif kind == "bitcoin-core":
            yield from read_bitcoin_core(stream, chain or "bitcoin")
        else:
            yield from read_ethereum_rpc(stream, chain or "ethereum")


def to_record(tx: ChainTx) -> dict[str, Any]:
    """The "mamori chain JSONL" record of a transaction (the inverse of :func:`parse_record`)."""
    when = datetime.fromtimestamp(tx.time_us / 1_000_000, UTC).isoformat().replace("+00:00", "Z")
    base: dict[str, Any] = {"chain": tx.chain, "txid": tx.txid, "time": when}
    if tx.utxo:
        return base | {"inputs": [{"address": a, "value": str(v)} for a, v in tx.inputs],
                       "outputs": [{"address": a, "value": str(v)} for a, v in tx.outputs]}
    return base | {"from": tx.inputs[0][0], "to": tx.outputs[0][0], "value": str(tx.outputs[0][1]),
                   "asset": tx.asset}

