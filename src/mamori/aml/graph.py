"""The chain transaction graph: compact numpy arrays, persisted under the data directory.

A *node* is one (chain, address, asset): funds of different assets never mix, so a Tron address
holding TRX and USDT is two nodes. A *transaction* has input legs (node, value) and output legs
(node, value); an account-model transfer has one of each. Arrays (``n`` = transactions):

* ``tx_time`` (µs, int64), ``tx_asset`` (int32), ``tx_in_ptr`` / ``tx_out_ptr`` (CSR offsets, int64);
* ``in_node`` / ``out_node`` (int32) and ``in_val`` / ``out_val`` (float64, whole units of the asset);
* per node, its spends and receipts sorted by (time, transaction): ``spend_ptr`` (CSR offsets),
  ``spend_tx``, ``spend_time``, ``spend_cum`` (the node's value spent before that leg), and the same
  for ``recv_*`` — so a node's balance at any time is two binary searches;
* hashed keys (64-bit BLAKE2b, sorted) of ``chain|txid`` and of ``chain|address|asset`` for lookups,
  the names themselves in byte blobs with offsets (read only for the few nodes a trace shows).

Values are float64: exact to the satoshi up to 90 million BTC; taint shares are ratios of them. The
exact decimal amounts stay in the imported files. A graph is immutable: :func:`append` returns a new
one (idempotent: known transactions are skipped) and :meth:`ChainGraph.save` writes it atomically
(a new directory of raw arrays renamed over the old), :meth:`ChainGraph.load` memory-maps it back.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import orjson

from mamori.aml.chaindata import ChainTx, LineProblem, read_chain_file
from mamori.kit.errors import InvalidChainData

FORMAT_VERSION: Final = 1
I64 = npt.NDArray[np.int64]
I32 = npt.NDArray[np.int32]
U64 = npt.NDArray[np.uint64]
F64 = npt.NDArray[np.float64]
U8 = npt.NDArray[np.uint8]

_TX_ARRAYS: Final = ("tx_time", "tx_asset", "tx_in_ptr", "tx_out_ptr", "in_node", "in_val", "out_node", "out_val")
_INDEX_ARRAYS: Final = ("spend_ptr", "spend_tx", "spend_time", "spend_cum", "spend_val", "recv_ptr", "recv_tx",
                        "recv_time", "recv_cum", "recv_val")
_KEY_ARRAYS: Final = ("tx_key", "tx_key_idx", "node_key", "node_key_idx", "acct_key", "acct_key_idx",
                      "txid_blob", "txid_off", "name_blob", "name_off")


def key64(text: str) -> int:
    """The 64-bit key of a name (BLAKE2b-64): sorted arrays of these replace dictionaries of strings."""
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")


def node_name(chain: str, address: str, asset: str) -> str:
    return f"{chain}|{address}|{asset}"


@dataclass(slots=True)
class ChainGraph:
    """An immutable graph snapshot (see the module docstring for the arrays)."""

    arrays: dict[str, Any]
    assets: list[str]                      # "chain|ASSET" per asset id
    built_at_us: int = 0
    version: int = 0                       # bumped by every append that added transactions
    _asset_ids: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._asset_ids = {a: i for i, a in enumerate(self.assets)}

    def __getattr__(self, name: str) -> Any:
        try:
            return self.arrays[name]
        except KeyError:
            raise AttributeError(name) from None

    # -- sizes -------------------------------------------------------------------------------------
    @property
    def n_tx(self) -> int:
        return len(self.arrays["tx_time"])

    @property
    def n_nodes(self) -> int:
        return len(self.arrays["spend_ptr"]) - 1

    @property
    def n_edges(self) -> int:
        """Transfers: output legs (an account-model transfer is one)."""
        return len(self.arrays["out_node"])

    def nbytes(self) -> int:
        return int(sum(getattr(a, "nbytes", 0) for a in self.arrays.values()))

    # -- lookups -----------------------------------------------------------------------------------
    def _find(self, keys: str, idx: str, key: int) -> int | None:
        arr = self.arrays[keys]
        pos = int(np.searchsorted(arr, np.uint64(key)))
        if pos < len(arr) and int(arr[pos]) == key:
            return int(self.arrays[idx][pos])
        return None

    def tx_index(self, chain: str, txid: str) -> int | None:
        if len(self.arrays["txid_off"]) == 1 and txid[:1] == "#" and txid[1:].isdigit():  # unnamed graph
            return int(txid[1:]) if int(txid[1:]) < self.n_tx else None
        found = self._find("tx_key", "tx_key_idx", key64(f"{chain}|{txid}"))
        return found if found is not None and self.txid(found) == txid else None

    def node_index(self, chain: str, address: str, asset: str) -> int | None:
        found = self._find("node_key", "node_key_idx", key64(node_name(chain, address, asset)))
        return found if found is not None and self.node(found) == (chain, address, asset) else None

    def nodes_of(self, chain: str, address: str) -> list[int]:
        """Every node (one per asset) of an address."""
        arr = self.arrays["acct_key"]
        key = np.uint64(key64(f"{chain}|{address}"))
        lo, hi = int(np.searchsorted(arr, key)), int(np.searchsorted(arr, key, side="right"))
        out = [int(i) for i in self.arrays["acct_key_idx"][lo:hi]]
        return [i for i in out if self.node(i)[:2] == (chain, address)]

    def node(self, i: int) -> tuple[str, str, str]:
        """(chain, address, asset) of node ``i`` (``("", "#i", "")`` for an unnamed synthetic graph)."""
        off = self.arrays["name_off"]
        if len(off) <= i + 1:
            return "", f"#{i}", ""
        raw = bytes(self.arrays["name_blob"][int(off[i]):int(off[i + 1])]).decode()
        chain, address, asset = raw.split("|", 2)
        return chain, address, asset

    def txid(self, t: int) -> str:
        off = self.arrays["txid_off"]
        if len(off) <= t + 1:
            return f"#{t}"
        return bytes(self.arrays["txid_blob"][int(off[t]):int(off[t + 1])]).decode().split("|", 1)[1]

    def asset_name(self, asset_id: int) -> str:
        return self.assets[asset_id].split("|", 1)[1] if 0 <= asset_id < len(self.assets) else "?"

    def asset_id(self, chain: str, asset: str) -> int | None:
        return self._asset_ids.get(f"{chain}|{asset}")

    # -- adjacency ---------------------------------------------------------------------------------
    def spends(self, node: int) -> tuple[int, int]:
        """[lo, hi) of the node's spend legs in ``spend_*`` (sorted by time)."""
        return int(self.arrays["spend_ptr"][node]), int(self.arrays["spend_ptr"][node + 1])

    def receipts(self, node: int) -> tuple[int, int]:
        return int(self.arrays["recv_ptr"][node]), int(self.arrays["recv_ptr"][node + 1])

    def balance_before(self, node: int, at_us: int, tx: int) -> float:
        """The node's balance just before transaction ``tx`` at ``at_us``: received minus spent in
        the imported data over the legs ordered before (time, tx). Never negative."""
        return max(0.0, self.sum_before("recv", node, at_us, tx) - self.sum_before("spend", node, at_us, tx))

    def sum_before(self, kind: str, node: int, at_us: int, tx: int) -> float:
        """Value the node received (``kind="recv"``) or spent (``"spend"``) before (``at_us``, ``tx``)."""
        a = self.arrays
        lo, hi = int(a[f"{kind}_ptr"][node]), int(a[f"{kind}_ptr"][node + 1])
        if lo == hi:
            return 0.0
        times = a[f"{kind}_time"]
        pos = lo + int(np.searchsorted(times[lo:hi], at_us, side="left"))
        while pos < hi and int(times[pos]) == at_us and int(a[f"{kind}_tx"][pos]) < tx:
            pos += 1
        if pos == hi:
            last = hi - 1
            return float(a[f"{kind}_cum"][last]) + _leg_value(self, kind, last)
        return float(a[f"{kind}_cum"][pos])

    # -- persistence -------------------------------------------------------------------------------
    def save(self, directory: Path) -> None:
        """Write atomically: a sibling temporary directory renamed over ``directory``."""
        directory.parent.mkdir(parents=True, exist_ok=True)
        tmp = directory.with_name(f"{directory.name}.tmp-{os.getpid()}-{time.monotonic_ns()}")
        tmp.mkdir()
        layout: dict[str, list[Any]] = {}
        for name, arr in self.arrays.items():
            data = np.ascontiguousarray(arr)
            data.tofile(tmp / f"{name}.bin")
            layout[name] = [data.dtype.str, len(data)]
        meta = {"format": FORMAT_VERSION, "assets": self.assets, "built_at_us": self.built_at_us,
                "version": self.version, "n_tx": self.n_tx, "n_nodes": self.n_nodes, "arrays": layout}
        (tmp / "meta.json").write_bytes(orjson.dumps(meta))
        old = directory.with_name(f"{directory.name}.old-{os.getpid()}-{time.monotonic_ns()}")
        if directory.exists():
            directory.rename(old)
        tmp.rename(directory)
        shutil.rmtree(old, ignore_errors=True)

    @classmethod
    def load(cls, directory: Path) -> ChainGraph:
        """Memory-map a saved graph; an absent directory is the empty graph."""
        meta_path = directory / "meta.json"
        if not meta_path.exists():
            return empty_graph()
        try:
            meta = orjson.loads(meta_path.read_bytes())
            if meta.get("format") != FORMAT_VERSION:
                raise InvalidChainData(f"graph at {directory} has format {meta.get('format')}, expected "
                                       f"{FORMAT_VERSION}; re-import the chain data")
            layout = meta["arrays"]
            arrays = {name: _map(directory / f"{name}.bin", *layout[name])
                      for name in (*_TX_ARRAYS, *_INDEX_ARRAYS, *_KEY_ARRAYS)}
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise InvalidChainData(f"cannot load the chain graph at {directory}: {exc}") from None
        return cls(arrays, list(meta["assets"]), int(meta.get("built_at_us", 0)), int(meta.get("version", 0)))


def _map(path: Path, dtype: str, length: int) -> Any:
    """A read-only memory map of a raw array file (raw files, not .npy: no header to parse)."""
    if path.stat().st_size != length * np.dtype(dtype).itemsize:
        raise ValueError(f"{path.name} has {path.stat().st_size} bytes, expected {length} x {dtype}")
    if length == 0:
        return np.zeros(0, dtype)
    return np.memmap(path, dtype=dtype, mode="r", shape=(length,))


def _leg_value(graph: ChainGraph, kind: str, pos: int) -> float:
    """Value of the leg at index ``pos`` of the ``spend``/``recv`` index."""
    return float(graph.arrays[f"{kind}_val"][pos])


def empty_graph() -> ChainGraph:
    z64, z32, f64 = np.zeros(0, np.int64), np.zeros(0, np.int32), np.zeros(0, np.float64)
    arrays: dict[str, Any] = {
        "tx_time": z64, "tx_asset": z32, "tx_in_ptr": np.zeros(1, np.int64), "tx_out_ptr": np.zeros(1, np.int64),
        "in_node": z32, "in_val": f64, "out_node": z32, "out_val": f64,
        "tx_key": np.zeros(0, np.uint64), "tx_key_idx": z64, "node_key": np.zeros(0, np.uint64),
        "node_key_idx": z64, "acct_key": np.zeros(0, np.uint64), "acct_key_idx": z64,
        "txid_blob": np.zeros(0, np.uint8), "txid_off": np.zeros(1, np.int64),
        "name_blob": np.zeros(0, np.uint8), "name_off": np.zeros(1, np.int64),
    }
    arrays |= build_index(0, arrays)
    return ChainGraph(arrays, [])


def build_index(n_nodes: int, a: dict[str, Any]) -> dict[str, Any]:
    """Per-node spend and receipt legs sorted by (node, time, tx), with each node's running sums."""
    out: dict[str, Any] = {}
    tx_time = np.asarray(a["tx_time"])
    for kind, ptr_name, node_name_, val_name in (("spend", "tx_in_ptr", "in_node", "in_val"),
                                                  ("recv", "tx_out_ptr", "out_node", "out_val")):
        ptr = np.asarray(a[ptr_name])
        nodes = np.asarray(a[node_name_])
        vals = np.asarray(a[val_name])
        leg_tx = np.repeat(np.arange(len(ptr) - 1, dtype=np.int64), np.diff(ptr))
        times = tx_time[leg_tx] if len(leg_tx) else np.zeros(0, np.int64)
        order = np.lexsort((leg_tx, times, nodes))
        s_nodes = nodes[order]
        s_vals = vals[order].astype(np.float64)
        node_ptr = np.zeros(n_nodes + 1, np.int64)
        np.cumsum(np.bincount(s_nodes, minlength=n_nodes), out=node_ptr[1:])
        total = np.concatenate(([0.0], np.cumsum(s_vals)))
        starts = node_ptr[s_nodes] if len(s_nodes) else np.zeros(0, np.int64)
        out[f"{kind}_ptr"] = node_ptr
        out[f"{kind}_tx"] = leg_tx[order].astype(np.int64)
        out[f"{kind}_time"] = times[order].astype(np.int64)
        out[f"{kind}_cum"] = (total[:-1] - total[starts]) if len(s_vals) else np.zeros(0, np.float64)
        out[f"{kind}_val"] = s_vals
    return out


@dataclass(slots=True)
class ImportReport:
    """What one import did: transactions added, already known (skipped), problems of skipped lines."""

    added: int = 0
    known: int = 0
    problems: list[LineProblem] = field(default_factory=list)
    seconds: float = 0.0

    def to_dict(self, *, max_problems: int = 100) -> dict[str, Any]:
        return {"added": self.added, "known": self.known, "skipped": len(self.problems),
                "problems": [p.to_dict() for p in self.problems[:max_problems]],
                "problems_truncated": len(self.problems) > max_problems, "seconds": round(self.seconds, 3)}


def _blob(names: Sequence[str]) -> tuple[U8, I64]:
    encoded = [n.encode() for n in names]
    off = np.zeros(len(encoded) + 1, np.int64)
    np.cumsum([len(e) for e in encoded], out=off[1:])
    return np.frombuffer(b"".join(encoded), np.uint8).copy(), off


def _sorted_keys(arr: U64) -> tuple[U64, I64]:
    order = np.argsort(arr, kind="stable")
    return arr[order], order.astype(np.int64)


def append(graph: ChainGraph, txs: Iterable[tuple[int, ChainTx]], *, now_us: int | None = None) -> tuple[
        ChainGraph, ImportReport]:
    """A new graph with the transactions added (those already in ``graph`` are counted as known and
    skipped; a txid seen twice in this batch is reported as ``duplicate_txid``). Pure: ``graph`` is unchanged."""
    began = time.perf_counter()
    report = ImportReport()
    batch_keys: dict[str, int] = {}
    new_names: dict[str, int] = {}
    new_assets: dict[str, int] = {}
    n_nodes0 = graph.n_nodes
    txids: list[str] = []
    times: list[int] = []
    assets: list[int] = []
    in_nodes: list[int] = []
    in_vals: list[float] = []
    out_nodes: list[int] = []
    out_vals: list[float] = []
    in_counts: list[int] = []
    out_counts: list[int] = []

    def intern(chain: str, address: str, asset: str) -> int:
        name = node_name(chain, address, asset)
        found = new_names.get(name)
        if found is None:
            found = graph.node_index(chain, address, asset)
            if found is None:
                found = n_nodes0 + len(new_names)
                new_names[name] = found
        return found

    for line, tx in txs:
        key = f"{tx.chain}|{tx.txid}"
        if key in batch_keys:
            report.problems.append(LineProblem(line, "duplicate_txid", f"txid {tx.txid[:80]} already appeared "
                                               f"on line {batch_keys[key]} of this import"))
            continue
        batch_keys[key] = line
        if graph.tx_index(tx.chain, tx.txid) is not None:
            report.known += 1
            continue
        asset_key = f"{tx.chain}|{tx.asset}"
        asset = graph.asset_id(tx.chain, tx.asset)
        if asset is None:
            asset = new_assets.setdefault(asset_key, len(graph.assets) + len(new_assets))
        txids.append(key)
        times.append(tx.time_us)
        assets.append(asset)
        for address, value in tx.inputs:
            in_nodes.append(intern(tx.chain, address, tx.asset))
            in_vals.append(float(value))
        for address, value in tx.outputs:
            out_nodes.append(intern(tx.chain, address, tx.asset))
            out_vals.append(float(value))
        in_counts.append(len(tx.inputs))
        out_counts.append(len(tx.outputs))
        report.added += 1
    if not report.added:
        report.seconds = time.perf_counter() - began
        return graph, report
    g = graph.arrays

    def cat(name: str, values: Any, dtype: Any) -> Any:
        return np.concatenate((np.asarray(g[name]), np.asarray(values, dtype=dtype)))

    def ptr(name: str, counts: list[int]) -> Any:
        old = np.asarray(g[name])
        return np.concatenate((old, old[-1] + np.cumsum(np.asarray(counts, np.int64))))

    arrays: dict[str, Any] = {
        "tx_time": cat("tx_time", times, np.int64), "tx_asset": cat("tx_asset", assets, np.int32),
        "tx_in_ptr": ptr("tx_in_ptr", in_counts), "tx_out_ptr": ptr("tx_out_ptr", out_counts),
        "in_node": cat("in_node", in_nodes, np.int32), "in_val": cat("in_val", in_vals, np.float64),
        "out_node": cat("out_node", out_nodes, np.int32), "out_val": cat("out_val", out_vals, np.float64),
    }
    n_nodes = n_nodes0 + len(new_names)
    arrays |= build_index(n_nodes, arrays)
    arrays |= _keys(graph, txids, list(new_names))
    all_assets = graph.assets + list(new_assets)
    report.seconds = time.perf_counter() - began
    return ChainGraph(arrays, all_assets, now_us if now_us is not None else time.time_ns() // 1000,
                      graph.version + 1), report


def _keys(graph: ChainGraph, txids: list[str], names: list[str]) -> dict[str, Any]:
    g = graph.arrays
    t_blob, t_off = _blob(txids)
    n_blob, n_off = _blob(names)
    txid_off = np.concatenate((np.asarray(g["txid_off"]), np.asarray(g["txid_off"])[-1] + t_off[1:]))
    name_off = np.concatenate((np.asarray(g["name_off"]), np.asarray(g["name_off"])[-1] + n_off[1:]))
    tx_keys = np.concatenate((np.asarray(g["tx_key"])[np.argsort(np.asarray(g["tx_key_idx"]))],
                              np.array([key64(t) for t in txids], np.uint64)))
    node_keys = np.concatenate((np.asarray(g["node_key"])[np.argsort(np.asarray(g["node_key_idx"]))],
                                np.array([key64(n) for n in names], np.uint64)))
    old_acct = np.asarray(g["acct_key"])[np.argsort(np.asarray(g["acct_key_idx"]), kind="stable")]
    acct = np.concatenate((old_acct, np.array([key64(n.rsplit("|", 1)[0]) for n in names], np.uint64)))
    for label, keys in (("transaction", tx_keys), ("address", node_keys)):
        if len(np.unique(keys)) != len(keys):
            raise InvalidChainData(f"64-bit {label} key collision in the graph; report this (it should "
                                   "happen about once in 10^9 graphs of this size)")
    tk, tki = _sorted_keys(tx_keys)
    nk, nki = _sorted_keys(node_keys)
    ak, aki = _sorted_keys(acct)
    return {"tx_key": tk, "tx_key_idx": tki, "node_key": nk, "node_key_idx": nki, "acct_key": ak,
            "acct_key_idx": aki, "txid_blob": np.concatenate((np.asarray(g["txid_blob"]), t_blob)),
            "txid_off": txid_off, "name_blob": np.concatenate((np.asarray(g["name_blob"]), n_blob)),
            "name_off": name_off}


def from_arrays(*, tx_time: I64, tx_asset: I32, tx_in_ptr: I64, in_node: I32, in_val: F64, tx_out_ptr: I64,
                out_node: I32, out_val: F64, n_nodes: int, assets: list[str]) -> ChainGraph:
    """An unnamed graph straight from arrays (benchmarks and tests of scale): nodes are ``#i``,
    transactions ``#t``; only index-based lookups work."""
    arrays: dict[str, Any] = {"tx_time": tx_time, "tx_asset": tx_asset, "tx_in_ptr": tx_in_ptr, "in_node": in_node,
                              "in_val": in_val, "tx_out_ptr": tx_out_ptr, "out_node": out_node, "out_val": out_val}
    arrays |= build_index(n_nodes, arrays)
    empty = empty_graph().arrays
    arrays |= {k: empty[k] for k in _KEY_ARRAYS}
    return ChainGraph(arrays, assets, time.time_ns() // 1000, 1)



IMPORT_CHUNK: Final = 500_000


class GraphStore:
    """The chain graph of a data directory (``<data_dir>/aml-graph``): memory-mapped once, replaced
    by each import (imports are serialised; readers keep the snapshot they hold)."""

    def __init__(self, directory: Path, *, reload_check_s: float = 2.0) -> None:
        self.directory = directory
        self.reload_check_s = reload_check_s
        self._lock = threading.Lock()
        self._graph: ChainGraph | None = None
        self._stamp: int | None = None
        self._next_check = 0.0

    @property
    def graph(self) -> ChainGraph:
        """The current graph; a graph written by another process (``mamori aml chain import``) is picked
        up within ``reload_check_s`` seconds."""
        if self._graph is None or time.monotonic() >= self._next_check:
            self._next_check = time.monotonic() + self.reload_check_s
            stamp = self._meta_stamp()
            if self._graph is None or stamp != self._stamp:
                self._graph, self._stamp = ChainGraph.load(self.directory), stamp
        return self._graph

    def _meta_stamp(self) -> int | None:
        try:
            return (self.directory / "meta.json").stat().st_mtime_ns
        except OSError:
            return None

    def import_file(self, path: Path, fmt: str | None = None, *, chain: str | None = None) -> ImportReport:
        """Import a chain data file (see :mod:`mamori.aml.chaindata`); bad lines are reported and skipped."""
        return self.import_items(read_chain_file(path, fmt, chain=chain))

    def import_items(self, items: Iterable[tuple[int, ChainTx | LineProblem]]) -> ImportReport:
        began = time.perf_counter()
        total = ImportReport()
        with self._lock:
            graph = self.graph
            chunk: list[tuple[int, ChainTx]] = []
            for line, item in items:
                if isinstance(item, LineProblem):
                    total.problems.append(item)
                    continue
                chunk.append((line, item))
                if len(chunk) >= IMPORT_CHUNK:
                    graph = self._append(graph, chunk, total)
                    chunk = []
            graph = self._append(graph, chunk, total)
            if graph is not self._graph:
                graph.save(self.directory)
                self._graph, self._stamp = ChainGraph.load(self.directory), self._meta_stamp()
        total.problems.sort(key=lambda p: p.line)
        total.seconds = time.perf_counter() - began
        return total

    @staticmethod
    def _append(graph: ChainGraph, chunk: list[tuple[int, ChainTx]], total: ImportReport) -> ChainGraph:
        if not chunk:
            return graph
        graph, report = append(graph, chunk)
        total.added += report.added
        total.known += report.known
        total.problems.extend(report.problems)
        return graph

    def stats(self) -> dict[str, Any]:
        g = self.graph
        return {"transactions": g.n_tx, "transfers": g.n_edges, "nodes": g.n_nodes, "assets": g.assets,
                "version": g.version, "built_at_us": g.built_at_us, "bytes": g.nbytes()}
