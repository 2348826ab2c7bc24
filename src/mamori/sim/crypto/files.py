"""The files of a crypto simulation: written by ``mamori simulate --domain crypto``, read back by
``mamori evaluate --domain crypto`` (and by anyone: the formats are documented in
``docs/crypto-simulator.md``). Reading is bounded (file size) and names the file and line of a problem.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import orjson

from mamori.sim.crypto.risklist import to_csv
from mamori.sim.crypto.simulate import FORMAT, CryptoSimulation
from mamori.sim.crypto.world import ATTACK_TYPOLOGIES, BENIGN_TYPOLOGIES, REFERENCE_CASES, Label

MAX_FILE_BYTES = 2 * 1024**3


def write_simulation(sim: CryptoSimulation, out: Path) -> None:
    """``events.jsonl``, ``labels.json`` (event id -> typology or null), ``chain.jsonl``, ``risk-list.csv``,
    plus ``episodes.json`` (parameters, episodes, entities: the ground truth) and ``label-details.jsonl``."""
    out.mkdir(parents=True, exist_ok=True)
    with (out / "events.jsonl").open("wb") as f:
        for event in sim.events:
            f.write(orjson.dumps(event) + b"\n")
    (out / "labels.json").write_bytes(orjson.dumps(sim.labels, option=orjson.OPT_INDENT_2) + b"\n")
    with (out / "label-details.jsonl").open("wb") as f:
        for event in sim.events:
            f.write(orjson.dumps(sim.details[event["id"]].to_dict(event["id"])) + b"\n")
    with (out / "chain.jsonl").open("wb") as f:
        for tx in sim.chain:
            f.write(orjson.dumps(tx) + b"\n")
    (out / "risk-list.csv").write_text(to_csv(sim.risk_list), encoding="utf-8")
    meta = {"format": FORMAT, "kind": "mamori-crypto-simulation", "params": sim.params,
            "typologies": {"attack": list(ATTACK_TYPOLOGIES), "benign": list(BENIGN_TYPOLOGIES)},
            "reference_cases": {k: list(v) for k, v in REFERENCE_CASES.items()},
            "episodes": sim.episodes, "entities": sim.entities}
    (out / "episodes.json").write_bytes(orjson.dumps(meta, option=orjson.OPT_INDENT_2) + b"\n")


def read_simulation(directory: str | Path) -> CryptoSimulation:
    """Read what :func:`write_simulation` wrote; ``ValueError`` names the file and the problem."""
    d = Path(directory)
    meta = _json(d / "episodes.json")
    if not isinstance(meta, dict) or meta.get("kind") != "mamori-crypto-simulation" or meta.get("format") != FORMAT:
        raise ValueError(f"{d / 'episodes.json'}: not a mamori crypto simulation (format {FORMAT})")
    events = _jsonl(d / "events.jsonl")
    for n, event in enumerate(events, 1):
        if not all(isinstance(event.get(k), str) for k in ("id", "type", "occurred_at", "account_id")):
            raise ValueError(f"{d / 'events.jsonl'}: event {n} lacks id, type, occurred_at or account_id")
    labels = _json(d / "labels.json")
    if not isinstance(labels, dict):
        raise ValueError(f"{d / 'labels.json'}: expected an object of event id -> typology")
    details = {row["event_id"]: Label.from_dict(row) for row in _jsonl(d / "label-details.jsonl")}
    missing = [e.get("id") for e in events if e.get("id") not in labels or e.get("id") not in details]
    if missing:
        raise ValueError(f"{len(missing)} event(s) have no label, e.g. {missing[0]}")
    risk = _risk_rows(d / "risk-list.csv")
    return CryptoSimulation(meta["params"], events, labels, _jsonl(d / "chain.jsonl"), risk, meta.get("episodes", []),
                            meta.get("entities", []), details)


def _read(path: Path) -> bytes:
    if not path.is_file():
        raise ValueError(f"{path}: missing")
    if path.stat().st_size > MAX_FILE_BYTES:
        raise ValueError(f"{path}: larger than {MAX_FILE_BYTES:,} bytes")
    return path.read_bytes()


def _json(path: Path) -> Any:
    try:
        return orjson.loads(_read(path))
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"{path}: not JSON ({exc})") from None


def _jsonl(path: Path) -> list[dict[str, Any]]:
    rows = []
    for n, line in enumerate(_read(path).splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            raise ValueError(f"{path}:{n}: not JSON ({exc})") from None
        if not isinstance(row, dict):
            raise ValueError(f"{path}:{n}: expected a JSON object")
        rows.append(row)
    return rows


def _risk_rows(path: Path) -> list[dict[str, Any]]:
    return list(csv.DictReader(io.StringIO(_read(path).decode("utf-8"))))
