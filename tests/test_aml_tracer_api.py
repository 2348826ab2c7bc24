"""Tracing end to end through a real ``mamori serve`` on 127.0.0.1 and the ``mamori aml`` CLI.

Given a risk list naming an online casino, chain data imported over HTTP, and a trace of a customer's
withdrawal; when the CLI imports the next day's chain data in which the funds reach the casino, then
the open trace is re-checked, an AML-TRACE-REACH-001 alert is filed into the customer's case, and
the trace shows the path. Bad input gets typed errors.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import httpx

from mamori.adapters.sql.store import SqlStore
from mamori.aml.addresses import synthetic_address
from server import start_server

HOT = synthetic_address("tron", b"exchange-hot")
A = synthetic_address("tron", b"customer")
B = synthetic_address("tron", b"hop")
CASINO = synthetic_address("tron", b"casino")


def transfer(txid: str, when: str, sender: str, receiver: str, value: str) -> str:
    return json.dumps({"chain": "tron", "txid": txid, "time": when, "from": sender, "to": receiver, "value": value,
                       "asset": "USDT"})


def test_trace_api_cli_recheck_and_case_alert(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    with start_server(data_dir) as server:
        client = httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {server.admin_key}"},
                              timeout=30)
        listed = client.post("/v1/aml/lists/import", params={"format": "csv", "source": "test"},
                             content=f"chain,address,category\ntron,{CASINO},online_casino\n".encode())
        assert listed.status_code == 200, listed.text

        day1 = "\n".join([transfer("a1" * 32, "2026-06-01T00:00:00Z", HOT, A, "1000"),
                          transfer("a2" * 32, "2026-06-01T01:00:00Z", A, B, "600"),
                          "{broken"])
        imported = client.post("/v1/aml/chain", content=day1.encode()).json()
        assert imported["added"] == 2 and [p["code"] for p in imported["problems"]] == ["bad_json"]

        created = client.post("/v1/aml/traces", json={"chain": "trx", "start": "A1" * 32, "address": A,
                                                      "account_id": "acct-9", "method": "haircut"})
        assert created.status_code == 201, created.text
        trace = created.json()
        assert trace["result"]["asset"] == "USDT" and trace["result"]["entities"] == []
        assert {a["address"]: a["taint"] for a in trace["result"]["addresses"]} == {A: "1000", B: "600"}

        # the next day's data arrives through the CLI (another process, same data directory)
        day2 = tmp_path / "day2.jsonl"
        day2.write_text(transfer("a3" * 32, "2026-06-02T00:00:00Z", B, CASINO, "500") + "\n")
        cli = subprocess.run([sys.executable, "-m", "mamori.cli.main", "aml", "chain", "import", str(day2),
                              "--data-dir", str(data_dir)], capture_output=True, text=True, timeout=120)
        assert cli.returncode == 0, cli.stderr
        assert "added=1" in cli.stdout and "traces_rechecked=1 alerts=1" in cli.stdout

        shown = client.get(f"/v1/aml/traces/{trace['id']}").json()
        entity = shown["result"]["entities"][0]
        assert entity["category"] == "online_casino" and entity["hop"] == 2 and entity["taint"] == "500"
        assert [s["to"] for s in entity["path"]] == [A, B, CASINO]
        assert shown["checks"][0]["alert_id"] is not None

        cases = client.get("/v1/cases", params={"account_id": "acct-9"}).json()["cases"]
        assert len(cases) == 1
        detail = client.get(f"/v1/cases/{cases[0]['id']}").json()
        assert [a["rules"] for a in detail["alerts"]] == [["AML-TRACE-REACH-001"]]

        # the server picks up the graph written by the CLI
        for _ in range(100):
            if client.get("/v1/aml/chain").json()["version"] == 2:
                break
            time.sleep(0.1)
        assert client.get("/v1/aml/chain").json()["transactions"] == 3
        exposure = client.get("/v1/aml/exposure", params={"chain": "tron", "address": A}).json()
        assert exposure["exposure"] == {"category": "online_casino", "hops": 2}

        # bad input: typed errors, never a crash
        bad_chain = client.post("/v1/aml/traces", json={"chain": "doge-classic", "start": "a1" * 32})
        assert bad_chain.status_code == 422 and bad_chain.json()["error"]["code"] == "mamori.aml.unknown_chain"
        bad_address = client.post("/v1/aml/traces", json={"chain": "tron", "start": "T123", "at": "2026-06-01T00:00:00Z"})
        assert bad_address.json()["error"]["code"] == "mamori.aml.invalid_address"
        missing = client.post("/v1/aml/traces", json={"chain": "tron", "start": "ff" * 32})
        assert missing.status_code == 404
        hops = client.post("/v1/aml/traces", json={"chain": "tron", "start": "a1" * 32, "max_hops": 99})
        assert hops.status_code == 422
        assert client.get("/v1/aml/traces/999").status_code == 404
        store = SqlStore(f"sqlite:///{(data_dir / 'mamori.db').resolve()}")
        _, reader = store.create_api_key(name="aml-reader", scopes=frozenset({"aml:read"}))
        store.close()
        forbidden = httpx.post(f"{server.url}/v1/aml/traces", json={"chain": "tron", "start": "a1" * 32},
                               headers={"Authorization": f"Bearer {reader}"})
        assert forbidden.status_code == 403
        assert httpx.get(f"{server.url}/v1/aml/traces/{trace['id']}",
                         headers={"Authorization": f"Bearer {reader}"}).status_code == 200


def test_indirect_exposure_reaches_the_engine_from_start_up(tmp_path: Path) -> None:
    """With the graph and the risk list prepared by the CLI before the server starts, the very first
    decision on a withdrawal to an address two hops from a casino fires the indirect-exposure rule: the
    graph is opened at start-up, not at the first tracing request."""
    data_dir = tmp_path / "data"
    chain = tmp_path / "chain.jsonl"
    chain.write_text("\n".join([transfer("b1" * 32, "2026-06-01T00:00:00Z", A, B, "600"),
                                transfer("b2" * 32, "2026-06-01T01:00:00Z", B, CASINO, "500")]) + "\n")
    risk_list = tmp_path / "list.csv"
    risk_list.write_text(f"chain,address,category\ntron,{CASINO},online_casino\n")
    for args in (["aml", "chain", "import", str(chain)], ["aml", "lists", "import", str(risk_list), "--source", "t"]):
        done = subprocess.run([sys.executable, "-m", "mamori.cli.main", *args, "--data-dir", str(data_dir)],
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
    with start_server(data_dir) as server:
        decided = httpx.post(f"{server.url}/v1/decisions", timeout=30,
                             headers={"Authorization": f"Bearer {server.admin_key}"},
                             json={"id": "wd-exposure-1", "type": "crypto_withdrawal", "account_id": "acct-7",
                                   "occurred_at": "2026-06-03T10:00:00+09:00", "transfer_id": "wd-1",
                                   "asset": "USDT", "chain": "tron", "address": A, "amount": "100"})
        assert decided.status_code == 200, decided.text
        fired = {rule["id"]: rule for rule in decided.json()["rules"]}
        assert "AML-EXPOSURE-WD-001" in fired, decided.json()
        assert decided.json()["features"]["address_exposure_hops"] == 2
