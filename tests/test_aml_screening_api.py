"""Screening through the real server (``mamori serve`` on loopback): list import with scopes, address
and name screening, search, export, removal, and the engine's decision on a crypto withdrawal to a
listed address carrying the screening hit as the fired rule's evidence — including a list change
made by the CLI while the server runs."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from mamori.aml.addresses import eip55, synthetic_address
from server import run_cli, start_server

SANCTIONED = synthetic_address("tron", b"api-sanctioned")
SCAM = synthetic_address("ethereum", b"api-scam")
LATER = synthetic_address("bitcoin", b"api-later")
LIST_CSV = f"""chain,address,category,confidence,reference
trc20,{SANCTIONED},sanctioned,1,SDN-42
eth,{"0x" + eip55(SCAM[2:])},scam,0.9,police-7
bitcoin,bc1qbroken,scam,,
""".encode()
NAMES_CSV = "氏名,別名,区分\n齋藤 健,サイトウ ケン;Ken Saito,sanctioned\n".encode()


def new_key(data_dir: Path, name: str, *scopes: str) -> str:
    args = ["keys", "create", "--name", name]
    for scope in scopes:
        args += ["--scope", scope]
    return run_cli(*args, data_dir=data_dir).stdout.strip()


def withdrawal(n: int, chain: str, address: str, asset: str) -> dict[str, Any]:
    return {"id": f"aml-api-{n}", "type": "crypto_withdrawal", "occurred_at": "2026-06-01T10:30:00+09:00",
            "account_id": f"cust-{n}", "transfer_id": f"w-{n}", "asset": asset, "chain": chain, "address": address,
            "amount": "100", "amount_jpy": "15000", "ip": "126.10.20.30", "device_id": f"dev-{n}"}


def test_lists_screening_and_decisions_through_the_server(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with start_server(data) as srv:
        writer = new_key(data, "aml-admin", "aml:read", "aml:write")
        reader = new_key(data, "aml-reader", "aml:read")
        oms = new_key(data, "wallet", "events:write")
        with srv.client(writer) as w, srv.client(reader) as r, srv.client(oms) as wallet:
            # scopes: a reader cannot import, the wallet cannot screen
            refused = r.post("/v1/aml/lists/import", params={"source": "x"}, content=LIST_CSV)
            assert refused.status_code == 403 and refused.json()["error"]["code"] == "mamori.auth.forbidden"
            assert wallet.post("/v1/aml/screen", json={"chain": "tron", "address": SANCTIONED}).status_code == 403

            imported = w.post("/v1/aml/lists/import", params={"source": "ofac", "format": "csv"}, content=LIST_CSV)
            assert imported.status_code == 200, imported.text
            report = imported.json()
            assert (report["added"], report["rejected"]) == (2, 1)
            assert report["errors"][0]["line"] == 4 and "bech32" in report["errors"][0]["message"]
            names = w.post("/v1/aml/lists/import", params={"source": "mof"}, content=NAMES_CSV)
            assert names.json()["added"] == 1

            one = r.post("/v1/aml/screen", json={"chain": "tron", "address": SANCTIONED}).json()
            assert one["listed"] and one["category"] == "sanctioned" and one["hits"][0]["reference"] == "SDN-42"
            bad = r.post("/v1/aml/screen", json={"chain": "ethereum", "address": "0x" + SCAM[2:].upper()[:-1] + "Z"})
            assert bad.status_code == 422 and bad.json()["error"]["code"] == "mamori.aml.invalid_address"
            unknown = r.post("/v1/aml/screen", json={"chain": "plasma", "address": "x"})
            assert unknown.status_code == 422 and unknown.json()["error"]["code"] == "mamori.aml.unknown_chain"
            batch = r.post("/v1/aml/screen", json={"items": [
                {"chain": "eth", "address": SCAM}, {"chain": "bitcoin", "address": LATER},
                {"chain": "bitcoin", "address": "nope"}]}).json()["results"]
            assert [x.get("category") for x in batch[:2]] == ["scam", None]
            assert batch[2]["error"]["code"] == "mamori.aml.invalid_address"
            empty = r.post("/v1/aml/screen", json={})
            assert empty.status_code == 422

            hits = r.post("/v1/aml/screen/names", json={"names": ["斎藤 健", "サイトウ ケン"], "subject": "cust-9"}).json()
            assert hits["hits"][0]["name"] == "齋藤 健" and hits["hits"][0]["match"]["score"] == 1.0
            assert r.post("/v1/aml/screen/names", json={"names": ["斎藤 健二"]}).json()["hits"] == []

            found = r.get("/v1/aml/lists", params={"category": "scam"}).json()["entries"]
            assert [e["address"] for e in found] == [SCAM]
            exported = r.get("/v1/aml/lists/export").text
            assert SANCTIONED in exported and exported.startswith("kind,chain,address")
            assert r.get("/v1/aml/lists/batches").json()["batches"][0]["added"] == 1

            # the engine: a withdrawal to the sanctioned address is blocked, to the scam address held
            blocked = wallet.post("/v1/decisions", json=withdrawal(1, "tron", SANCTIONED, "USDT")).json()
            assert blocked["decision"] == "block"
            rule = next(x for x in blocked["rules"] if x["id"] == "AML-SCREEN-WD-001")
            assert rule["values"]["address_screening_hit"]["reference"] == "SDN-42"
            assert rule["values"]["address_screening_hit"]["source"] == "ofac"
            held = wallet.post("/v1/decisions", json=withdrawal(2, "ethereum", "0x" + eip55(SCAM[2:]), "ETH")).json()
            assert held["decision"] == "hold"
            assert "AML-SCREEN-WD-002" in {x["id"] for x in held["rules"]}

            # a list change made by the CLI while the server runs reaches the engine
            cli_list = tmp_path / "later.csv"
            cli_list.write_text(f"chain,address,category\nbitcoin,{LATER},online_casino\n", encoding="utf-8")
            out = run_cli("aml", "lists", "import", str(cli_list), "--source", "own", data_dir=data)
            assert "added=1" in out.stdout
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                if r.post("/v1/aml/screen", json={"chain": "bitcoin", "address": LATER}).json()["listed"]:
                    break
                time.sleep(0.5)
            decision = wallet.post("/v1/decisions", json=withdrawal(3, "bitcoin", LATER, "BTC")).json()
            assert decision["decision"] in ("hold", "block")
            assert "AML-SCREEN-WD-002" in {x["id"] for x in decision["rules"]}

            # removal: audited, and the address is no longer listed
            entry_id = found[0]["id"]
            removed = w.post("/v1/aml/lists/remove", json={"ids": [entry_id], "reason": "false positive"})
            assert removed.json() == {"removed": [entry_id]}
            assert not r.post("/v1/aml/screen", json={"chain": "eth", "address": SCAM}).json()["listed"]
            again = w.post("/v1/aml/lists/remove", json={"ids": [entry_id]})
            assert again.status_code == 404
            assert w.post("/v1/aml/lists/import-cases", json={}).json()["added"] == 0
    audit = run_cli("audit", "verify", data_dir=data, check=False)
    assert audit.returncode == 0, audit.stdout + audit.stderr
