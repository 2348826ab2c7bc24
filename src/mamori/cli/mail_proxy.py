"""``mamori mail proxy | quarantine | record | evidence``: the SMTP policy proxy, its quarantine, and
the month-by-month evidence."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import signal
import threading
from pathlib import Path
from typing import Any

import click

from mamori.adapters.sql.store import now_us
from mamori.kit.settings import Settings


def _host_port(text: str, default_port: int) -> tuple[str, int]:
    host, _, port = text.rpartition(":") if ":" in text else (text, "", str(default_port))
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise click.BadParameter(f"{text!r} must look like HOST:PORT")
    return host, int(port)


def _open(data_dir: Path | None, policy_path: Path) -> tuple[Any, Any, Any]:
    from mamori.adapters.sql.store import SqlStore
    from mamori.mail.policy import load_mail_policy
    from mamori.mail.store import MailStore
    from mamori.notify.service import contacts_for

    settings = Settings(data_dir=data_dir) if data_dir else Settings()
    sql = SqlStore(settings.resolved_database_url(), synchronous=settings.sqlite_synchronous)
    store = MailStore(sql.engine, settings.data_dir / "quarantine")
    contacts = contacts_for(settings, sql)
    return load_mail_policy(policy_path), store, (lambda address: bool(contacts.accounts_with_email(address)))


def _handler(policy_path: Path, upstream: str, data_dir: Path | None) -> Any:
    from mamori.mail.message import PpapTracker, scan_message
    from mamori.mail.proxy import PolicyHandler

    policy, store, is_customer = _open(data_dir, policy_path)
    return PolicyHandler(policy=policy, store=store, scan=scan_message, upstream=_host_port(upstream, 25),
                         is_customer=is_customer, tracker=PpapTracker())


POLICY = click.option("--policy", "policy_path", required=True, type=click.Path(exists=True, dir_okay=False,
                                                                                 path_type=Path),
                      help="The mail policy YAML (firm domains, counterparties, departments, actions).")
DATA_DIR = click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), default=None)


def register(group: click.Group) -> None:
    @group.command("proxy")
    @POLICY
    @click.option("--upstream", required=True, help="The firm's relay, HOST:PORT.")
    @click.option("--listen", default="127.0.0.1:10025", show_default=True, help="Where to accept mail.")
    @DATA_DIR
    def proxy(policy_path: Path, upstream: str, listen: str, data_dir: Path | None) -> None:
        """Run the SMTP policy proxy until interrupted."""
        from mamori.mail.proxy import start_proxy

        handler = _handler(policy_path, upstream, data_dir)
        host, port = _host_port(listen, 10025)
        controller = start_proxy(handler, host=host, port=port)
        click.echo(f"mamori mail proxy on {host}:{port} → {upstream}", err=True)
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        try:
            stop.wait()
        except KeyboardInterrupt:
            pass
        finally:
            controller.stop()

    @group.group("quarantine")
    def quarantine() -> None:
        """Messages the proxy held: list, release (deliver unchanged) or delete."""

    @quarantine.command("list")
    @POLICY
    @DATA_DIR
    def q_list(policy_path: Path, data_dir: Path | None) -> None:
        _, store, _ = _open(data_dir, policy_path)
        for item in store.held():
            click.echo(json.dumps({"id": item.id, "sender": item.sender, "recipients": list(item.recipients),
                                   "reasons": list(item.reasons), "size": item.size,
                                   "held_at": dt.datetime.fromtimestamp(item.at_us / 1e6, dt.UTC).isoformat()},
                                  ensure_ascii=False))

    @quarantine.command("release")
    @click.argument("held_id")
    @POLICY
    @click.option("--upstream", required=True, help="The firm's relay, HOST:PORT.")
    @click.option("--by", "operator", required=True, help="Who releases it (recorded).")
    @DATA_DIR
    def q_release(held_id: str, policy_path: Path, upstream: str, operator: str, data_dir: Path | None) -> None:
        handler = _handler(policy_path, upstream, data_dir)
        handler.release(held_id, by=operator)
        click.echo(f"ok: {held_id} delivered to {upstream}")

    @quarantine.command("delete")
    @click.argument("held_id")
    @POLICY
    @click.option("--by", "operator", required=True)
    @DATA_DIR
    def q_delete(held_id: str, policy_path: Path, operator: str, data_dir: Path | None) -> None:
        _, store, _ = _open(data_dir, policy_path)
        store.decide(held_id, status="deleted", by=operator, at_us=now_us())
        click.echo(f"ok: {held_id} deleted")

    @group.command("record")
    @click.argument("path", type=click.Path(exists=True, path_type=Path))
    @POLICY
    @DATA_DIR
    def record(path: Path, policy_path: Path, data_dir: Path | None) -> None:
        """Scan an archive of sent mail (.eml, directory or mbox) into the evidence log, as the proxy
        would have judged it: how PPAP and linked customer mail looked before the proxy."""
        from mamori.mail.message import PpapTracker, iter_messages, scan_message
        from mamori.mail.proxy import JST, decide

        policy, store, is_customer = _open(data_dir, policy_path)
        tracker = PpapTracker()
        n = 0
        scanned = []
        for _source, raw in iter_messages(path):
            report = scan_message(raw)
            scanned.append((_date(report.date), hashlib.sha256(raw).hexdigest(), report))
        scanned.sort(key=lambda item: item[0])  # sending order, so password follow-ups pair with their mail
        for when, digest, report in scanned:
            recipients = list(report.recipients)
            if not report.sender or not recipients or not policy.is_outgoing(report.sender):
                continue
            followup = bool(tracker.observe(report, at=when))
            verdict = decide(report, recipients, policy, is_customer, followup)
            store.log([{"at_us": int(when.timestamp() * 1e6), "month": when.astimezone(JST).strftime("%Y-%m"),
                        "source": "archive", "department": policy.department(report.sender),
                        "recipient_class": cls, "counterparty": address.rsplit("@", 1)[-1].lower(),
                        "encrypted_attachment": int("encrypted_attachment" in verdict.findings),
                        "ppap_password": int("ppap_password" in verdict.findings),
                        "links": int("links" in verdict.findings and cls == "customer"), "action": verdict.action,
                        "message_sha256": digest} for address, cls in verdict.classes.items()])
            n += 1
        click.echo(f"ok: {n} outgoing messages recorded")

    @group.command("evidence")
    @POLICY
    @DATA_DIR
    @click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("mamori-mail-evidence"),
                  show_default=True)
    def evidence(policy_path: Path, data_dir: Path | None, out: Path) -> None:
        """Counts by month, department and counterparty, with a chart (evidence.html, evidence.json)."""
        from mamori.mail.evidence import evidence_html, summarise

        _, store, _ = _open(data_dir, policy_path)
        summary = summarise(store.log_rows())
        out.mkdir(parents=True, exist_ok=True)
        (out / "evidence.json").write_text(json.dumps(summary, ensure_ascii=False, indent=2), encoding="utf-8")
        (out / "evidence.html").write_text(evidence_html(summary), encoding="utf-8")
        for month in summary["months"]:
            click.echo(f"{month['month']}: messages {month['messages']}, PPAP {month['ppap']}, "
                       f"linked customer mail {month['linked_customer_mail']}, stopped {month['stopped']}")
        click.echo(f"wrote {out / 'evidence.html'} {out / 'evidence.json'}")


def _date(text: str | None) -> dt.datetime:
    if text:
        try:
            parsed = dt.datetime.fromisoformat(text)
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)
        except ValueError:
            pass
    return dt.datetime.now(dt.UTC)
