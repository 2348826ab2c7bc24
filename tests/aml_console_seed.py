"""What the compliance console tests need on a real server: a customer whose crypto withdrawal right after a
first yen deposit became a case, a risk list naming an online casino, and chain data in which the
withdrawn funds reach that casino two hops later (so a trace has a path to show)."""

from __future__ import annotations

import json
from dataclasses import dataclass

from mamori.aml.addresses import synthetic_address
from server import RunningServer

ACCOUNT = "C-7001"
DEST = synthetic_address("tron", b"console customer destination")
HOP = synthetic_address("tron", b"console hop")
CASINO = synthetic_address("tron", b"console casino")
HOT = synthetic_address("tron", b"console exchange hot wallet")
WITHDRAWAL_TX = "c1" * 32

EVENTS = [
    {"id": "aml-c-1", "type": "login", "occurred_at": "2026-06-01T09:50:00+09:00", "account_id": ACCOUNT,
     "result": "success", "method": "passkey", "ip": "126.10.20.31", "device_id": "dev-c", "channel": "web"},
    {"id": "aml-c-2", "type": "fiat_deposit", "occurred_at": "2026-06-01T10:00:00+09:00", "account_id": ACCOUNT,
     "transfer_id": "fc-1", "amount": "1000000", "ip": "126.10.20.31", "channel": "web"},
    {"id": "aml-c-3", "type": "crypto_withdrawal", "occurred_at": "2026-06-01T10:30:00+09:00", "account_id": ACCOUNT,
     "transfer_id": "wc-1", "asset": "USDT", "chain": "tron", "address": DEST, "amount": "6000",
     "tx_hash": "c1" * 32,
     "amount_jpy": "990000", "ip": "126.10.20.31", "device_id": "dev-c", "channel": "web"},
]


def _transfer(txid: str, when: str, sender: str, receiver: str, value: str) -> str:
    return json.dumps({"chain": "tron", "txid": txid, "time": when, "from": sender, "to": receiver, "value": value,
                       "asset": "USDT"})


CHAIN = "\n".join([_transfer(WITHDRAWAL_TX, "2026-06-01T01:30:00Z", HOT, DEST, "6000"),
                   _transfer("c2" * 32, "2026-06-01T02:00:00Z", DEST, HOP, "5000"),
                   _transfer("c3" * 32, "2026-06-01T03:00:00Z", HOP, CASINO, "4000")])


@dataclass(frozen=True, slots=True)
class Seeded:
    case_id: int
    trace_id: int


def seed(server: RunningServer) -> Seeded:
    """Events -> case; the casino on the lists; the chain data; one trace of the withdrawal for the case."""
    with server.client() as admin:
        out = admin.post("/v1/events", json={"events": EVENTS})
        assert out.status_code == 200, out.text
        assert admin.post("/v1/cases/refresh").status_code == 200
        cases = admin.get("/v1/cases", params={"account_id": ACCOUNT}).json()["cases"]
        assert cases, "the withdrawal should have made a case"
        case_id = int(cases[0]["id"])
        listed = admin.post("/v1/aml/lists/import", params={"format": "csv", "source": "seed"},
                            content=f"chain,address,category\ntron,{CASINO},online_casino\n".encode())
        assert listed.status_code == 200, listed.text
        chain = admin.post("/v1/aml/chain", content=CHAIN.encode())
        assert chain.status_code == 200 and chain.json()["added"] == 3, chain.text
        trace = admin.post("/v1/aml/traces", json={"chain": "tron", "start": WITHDRAWAL_TX, "address": DEST,
                                                   "case_id": case_id, "method": "haircut"})
        assert trace.status_code == 201, trace.text
        return Seeded(case_id=case_id, trace_id=int(trace.json()["id"]))
