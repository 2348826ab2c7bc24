"""The ``mamori`` command. Thin: parse arguments, call the package, print; errors become a message
on stderr and a non-zero exit code (1 = bad input, 2 = usage)."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

import click
import orjson

from mamori import __version__
from mamori.kit.errors import MamoriError
from mamori.kit.scopes import SCOPES
from mamori.kit.settings import Settings


def _out(obj: Any, *, pretty: bool = False) -> None:
    option = orjson.OPT_INDENT_2 if pretty else 0
    sys.stdout.buffer.write(orjson.dumps(obj, option=option) + b"\n")


def _fail(message: str, code: int = 1) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def _settings(**overrides: Any) -> Settings:
    return Settings(**{k: v for k, v in overrides.items() if v is not None})


class _Group(click.Group):
    """Turns mamori's own errors into a clean message instead of a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except MamoriError as exc:
            _fail(f"{exc.message} [{exc.code}]")


@click.group(cls=_Group)
@click.version_option(__version__, prog_name="mamori")
def main() -> None:
    """mamori (守り): real-time defence against account takeover, trading fraud and money laundering."""


@main.command()
@click.option("--host", default=None, help="Address to listen on (default 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port (default 8600).")
@click.option("--data-dir", type=click.Path(path_type=Path), default=None, help="Data directory.")
@click.option("--database-url", default=None, help="SQLAlchemy URL (default: SQLite in the data dir).")
@click.option("--rules", "rules_path", type=click.Path(path_type=Path, exists=True), default=None,
              help="Rule set directory (default: the built-in rules).")
@click.option("--shadow-rules", "shadow_rules_path", type=click.Path(path_type=Path, exists=True), default=None,
              help="Candidate rule set to run in shadow next to the active one.")
@click.option("--log-level", default="info", type=click.Choice(["debug", "info", "warning", "error"]))
def serve(log_level: str, **options: Any) -> None:
    """Start the HTTP API (embedded default: SQLite and the engine in this process)."""
    import uvicorn

    from mamori.api.app import create_app
    from mamori.api.fastpath import DecisionFastPath

    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = _settings(**options)
    app = DecisionFastPath(create_app(settings))
    # proxy_headers=False: X-Forwarded-For is never trusted by default (a trusted-proxy list belongs
    # to the firm's configuration, not to whoever can send a header).
    uvicorn.run(app, host=settings.host, port=settings.port, log_level=log_level, access_log=False,
                loop="uvloop" if sys.platform != "win32" else "asyncio", http="httptools",
                proxy_headers=False, server_header=False)


@main.command()
@click.option("--out", type=click.Path(path_type=Path), default=None, help="Write to a file instead of stdout.")
def schema(out: Path | None) -> None:
    """Print the JSON Schema of the event contract."""
    from mamori.events.parse import event_json_schema

    data = orjson.dumps(event_json_schema(), option=orjson.OPT_INDENT_2) + b"\n"
    if out:
        out.write_bytes(data)
    else:
        sys.stdout.buffer.write(data)


@main.command()
@click.option("--out", type=click.Path(path_type=Path), default=None, help="Write to a file instead of stdout.")
def openapi(out: Path | None) -> None:
    """Print the OpenAPI document of the HTTP API (no server needed)."""
    from mamori.api.app import create_app

    data = orjson.dumps(create_app(_settings()).openapi(), option=orjson.OPT_INDENT_2) + b"\n"
    if out:
        out.write_bytes(data)
    else:
        sys.stdout.buffer.write(data)


@main.command()
@click.argument("events_file", type=click.File("rb"))
@click.option("--rules", "rules_path", type=click.Path(path_type=Path, exists=True), default=None,
              help="Rule set directory (default: the built-in rules).")
@click.option("--full", is_flag=True, help="Print the whole decision (fired rules with values, features).")
def replay(events_file: Any, rules_path: Path | None, full: bool) -> None:
    """Decide every event of a JSON-lines file; one decision per line on stdout.

    Bad lines are reported on stderr with their line number and field, the rest is still processed,
    and the exit code is 1 if any line was bad.
    """
    from mamori.risk.engine import Engine
    from mamori.risk.replay import Deduplicator, LineError, read_events
    from mamori.risk.rules.loader import builtin_ruleset, load_ruleset
    from mamori.risk.service import open_geo

    settings = _settings()
    ruleset = load_ruleset(rules_path) if rules_path else builtin_ruleset()
    engine = Engine(ruleset, geo=open_geo(settings), home_country=settings.home_country)
    dedup = Deduplicator()
    bad = 0
    write = sys.stdout.buffer.write
    for item in read_events(events_file):
        if isinstance(item, LineError):
            bad += 1
            click.echo(str(item), err=True)
            continue
        if not dedup.first_time(item.id):
            click.echo(f"event {item.id}: duplicate id, processed once", err=True)
            continue
        decision = engine.process(item)
        if full:
            body = decision.to_dict()
        else:
            body = {"event_id": decision.event_id, "decision": decision.verdict.name, "score": decision.score,
                    "rules": [r.id for r in decision.rules]}
        write(orjson.dumps(body) + b"\n")
    sys.stdout.flush()
    if bad:
        click.echo(f"{bad} bad line(s) skipped", err=True)
        sys.exit(1)


@main.group()
def rules() -> None:
    """Check, test and backtest rule sets."""


@rules.command("check")
@click.argument("path", type=click.Path(path_type=Path), required=False)
def rules_check(path: Path | None) -> None:
    """Compile a rule set and report every problem as FILE:LINE:COLUMN: message."""
    from mamori.risk.rules.loader import builtin_rules_path, check_ruleset, load_ruleset

    target = path or builtin_rules_path()
    problems = check_ruleset(target)
    for problem in problems:
        click.echo(problem.message, err=True)
    if problems:
        _fail(f"{len(problems)} problem(s) in {target}")
    ruleset = load_ruleset(target)
    click.echo(f"ok: {ruleset.identity}: {len(ruleset.rules)} rules, {len(ruleset.aggregates)} window features")


@rules.command("test")
@click.argument("path", type=click.Path(path_type=Path), required=False)
def rules_test(path: Path | None) -> None:
    """Run the rule tests (*.test.yaml) next to a rule set."""
    from mamori.risk.rules.loader import builtin_rules_path, load_ruleset
    from mamori.risk.ruletest import run_tests
    from mamori.risk.service import open_geo

    target = path or builtin_rules_path()
    ruleset = load_ruleset(target)
    results = run_tests(Path(target), ruleset, open_geo(_settings()))
    if not results:
        _fail(f"no rule tests (*.test.yaml) in {target}")
    failed = 0
    for result in results:
        status = "PASS" if result.passed else "FAIL"
        click.echo(f"{status} {result.file}: {result.name}")
        for failure in result.failures:
            click.echo(f"     {failure}")
        failed += not result.passed
    click.echo(f"{len(results) - failed} passed, {failed} failed")
    if failed:
        sys.exit(1)


@rules.command("backtest")
@click.argument("candidate", type=click.Path(path_type=Path, exists=True))
@click.option("--baseline", type=click.Path(path_type=Path, exists=True), default=None,
              help="Rule set to compare against (default: the built-in rules).")
@click.option("--events", "events_file", type=click.File("rb"), default=None,
              help="JSON-lines history; default: every event in the store.")
@click.option("--data-dir", type=click.Path(path_type=Path), default=None)
@click.option("--database-url", default=None)
@click.option("--labels", type=click.File("rb"), default=None,
              help="JSON lines {\"event_id\": ..., \"fraud\": true|false} for precision and recall.")
@click.option("--json", "as_json", is_flag=True, help="Print the full report as JSON.")
def rules_backtest(candidate: Path, baseline: Path | None, events_file: Any, data_dir: Path | None,
                   database_url: str | None, labels: Any, as_json: bool) -> None:
    """Replay history with a candidate rule set and report the decisions that would change."""
    from mamori.adapters.sql.store import SqlStore
    from mamori.events.parse import parse_event
    from mamori.risk.backtest import backtest
    from mamori.risk.replay import LineError, read_events
    from mamori.risk.rules.loader import builtin_ruleset, load_ruleset
    from mamori.risk.service import open_geo

    settings = _settings(data_dir=data_dir, database_url=database_url)
    cand = load_ruleset(candidate)
    base = load_ruleset(baseline) if baseline else builtin_ruleset()
    if events_file is not None:
        def from_file() -> Any:
            for item in read_events(events_file):
                if isinstance(item, LineError):
                    click.echo(str(item), err=True)
                else:
                    yield item
        events: Any = from_file()
    else:
        store = SqlStore(settings.resolved_database_url())
        events = (parse_event(p) for p in store.iter_events_between(None, None))
    label_map = None
    if labels is not None:
        label_map = {}
        for n, line in enumerate(labels, start=1):
            if line.strip():
                try:
                    row = orjson.loads(line)
                    label_map[str(row["event_id"])] = bool(row["fraud"])
                except (orjson.JSONDecodeError, KeyError, TypeError):
                    _fail(f"labels line {n}: expected {{\"event_id\": ..., \"fraud\": true|false}}")
    report = backtest(events, baseline=base, candidate=cand, geo=open_geo(settings), labels=label_map)
    data = report.to_dict()
    if as_json:
        _out(data, pretty=True)
        return
    click.echo(f"baseline  {data['baseline']}\ncandidate {data['candidate']}")
    click.echo(f"events {data['events']}, changed decisions {data['changed']}")
    for t in data["transitions"]:
        click.echo(f"  {t['from']:>9} -> {t['to']:<9} {t['count']}")
    click.echo("rule fires (baseline -> candidate):")
    for r in data["rules"]:
        if r["baseline"] != r["candidate"]:
            click.echo(f"  {r['id']:<24} {r['baseline']} -> {r['candidate']}")
    if "effectiveness" in data:
        for side in ("baseline", "candidate"):
            e = data["effectiveness"][side]
            click.echo(f"{side}: precision {e['precision']} recall {e['recall']} "
                       f"(tp {e['true_positive']}, fp {e['false_positive']}, fn {e['false_negative']})")
    click.echo(f"backtest events={data['events']} changed={data['changed']}")


@main.group()
def keys() -> None:
    """Manage API keys (stored hashed; a key is shown once, at creation)."""


def _store(data_dir: Path | None, database_url: str | None) -> Any:
    from mamori.adapters.sql.store import SqlStore

    settings = _settings(data_dir=data_dir, database_url=database_url)
    return SqlStore(settings.resolved_database_url())


@keys.command("create")
@click.option("--name", required=True, help="Who uses the key, e.g. 'order-system'.")
@click.option("--scope", "scopes", multiple=True, required=True,
              type=click.Choice(sorted(SCOPES)))
@click.option("--data-dir", type=click.Path(path_type=Path), default=None)
@click.option("--database-url", default=None)
def keys_create(name: str, scopes: tuple[str, ...], data_dir: Path | None, database_url: str | None) -> None:
    """Create a key and print it once."""
    store = _store(data_dir, database_url)
    key_id, key = store.create_api_key(name=name, scopes=frozenset(scopes))
    store.audit(actor="cli", action="api_key.create", target=key_id, details={"name": name, "scopes": sorted(scopes)})
    click.echo(key)
    click.echo(f"created key {key_id} ({', '.join(sorted(scopes))}); it is not shown again. "
               "A running server accepts it at once; revocations apply within 5 seconds.", err=True)


@keys.command("list")
@click.option("--data-dir", type=click.Path(path_type=Path), default=None)
@click.option("--database-url", default=None)
def keys_list(data_dir: Path | None, database_url: str | None) -> None:
    """List keys (never their secrets)."""
    for k in _store(data_dir, database_url).api_keys():
        click.echo(f"{k.key_id}  {'revoked' if k.revoked else 'active ':7}  {' '.join(sorted(k.scopes)):40}  {k.name}")


@keys.command("revoke")
@click.argument("key_id")
@click.option("--data-dir", type=click.Path(path_type=Path), default=None)
@click.option("--database-url", default=None)
def keys_revoke(key_id: str, data_dir: Path | None, database_url: str | None) -> None:
    """Revoke a key."""
    store = _store(data_dir, database_url)
    store.revoke_api_key(key_id)
    store.audit(actor="cli", action="api_key.revoke", target=key_id)
    click.echo(f"revoked {key_id}")


@main.group()
def audit() -> None:
    """The hash-chained audit log."""


@audit.command("verify")
@click.option("--data-dir", type=click.Path(path_type=Path), default=None)
@click.option("--database-url", default=None)
def audit_verify(data_dir: Path | None, database_url: str | None) -> None:
    """Recompute the audit log's hash chain; exit 1 at the first broken link."""
    try:
        n = _store(data_dir, database_url).verify_audit_chain()
    except ValueError as exc:
        _fail(str(exc))
    click.echo(f"ok: {n} audit records, chain intact")


@main.group()
def bench() -> None:
    """Benchmarks (they print figures; they are not tests)."""


@bench.command("engine")
@click.option("--events", "n_events", type=int, default=200_000, show_default=True)
@click.option("--seed", type=int, default=7, show_default=True)
def bench_engine(n_events: int, seed: int) -> None:
    """The in-process engine on one core with the built-in rule set."""
    from mamori.bench.engine_bench import run

    r = run(n_events, seed=seed)
    click.echo(f"machine: {r['machine']}; rules {r['rules']}, window features {r['aggregates']}")
    click.echo(f"verdicts: {r['verdicts']}; p99.9 {r['p999_ms']:.3f} ms")
    click.echo(f"engine events_per_s={r['events_per_s']:.0f} p50_ms={r['p50_ms']:.3f} p99_ms={r['p99_ms']:.3f}")


@bench.command("http")
@click.option("--seconds", type=float, default=20.0, show_default=True)
@click.option("--connections", type=int, default=32, show_default=True)
@click.option("--rate", type=int, default=0, help="Offered load in requests/s (0 = as fast as possible).")
@click.option("--url", default=None, help="Drive a running server instead of starting one (needs --key).")
@click.option("--key", default=None, help="API key for --url.")
def bench_http(seconds: float, connections: int, rate: int, url: str | None, key: str | None) -> None:
    """The HTTP decision endpoint, driven from a second process on loopback, durable writes on."""
    from mamori.bench.http_bench import run

    r = run(seconds=seconds, connections=connections, rate=rate, url=url, key=key)
    click.echo(f"machine: {r['machine']}; requests {r['requests']}, errors {r['errors']}, "
               f"p50 {r['p50_ms']:.2f} ms; events stored {r.get('stored', 'n/a')} of "
               f"{r.get('answered_ok', 'n/a')} answered 200")
    click.echo(f"http decisions_per_s={r['decisions_per_s']:.0f} p99_ms={r['p99_ms']:.2f}")


@main.group()
def market() -> None:
    """The firm's market data for the rules (average daily value traded: thin symbols)."""


@market.command("adv-import")
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The rule-set file to write, e.g. rules/market.yaml.")
@click.option("--days", type=int, default=20, show_default=True, help="Trading days averaged per symbol.")
def market_adv_import(csv_file: Path, out: Path, days: int) -> None:
    """Average daily value traded per symbol (symbol,date,value_jpy or symbol,adv_jpy) into a rule-set
    file the server reloads; symbols below thin_adv_jpy count as thin."""
    from mamori.risk.market_data import read_adv_csv, write_market_rules

    adv = read_adv_csv(csv_file, days=days)
    write_market_rules(adv, out)
    click.echo(f"ok: {len(adv)} symbols written to {out}")


@main.group("auth")
def auth_group() -> None:
    """Customer authentication: breached-password list, OpenID Connect clients."""


@auth_group.command("breached-import")
@click.argument("sources", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--out", required=True, type=click.Path(path_type=Path),
              help="The list file to write (point MAMORI_AUTH_BREACHED_PASSWORDS at it).")
@click.option("--min-count", type=int, default=1, show_default=True,
              help="Skip hashes seen fewer times than this in breaches.")
def auth_breached_import(sources: tuple[Path, ...], out: Path, min_count: int) -> None:
    """Build the offline breached-password list from Have I Been Pwned downloads (the full SHA-1
    list, or a directory of range files). The login path never calls the network."""
    from mamori.auth.breached import BreachedSourceError, build_breached_file

    try:
        n = build_breached_file(list(sources), out, min_count=min_count)
    except (BreachedSourceError, OSError) as exc:
        _fail(str(exc))
    click.echo(f"ok: {n} hashes written to {out}")


@auth_group.command("oidc-secret")
def auth_oidc_secret() -> None:
    """A new client secret for an OIDC relying party: the secret (give it to the client) and its
    SHA-256 (put it in the clients file as client_secret_sha256)."""
    from mamori.auth.oidc import new_client_secret

    secret, digest = new_client_secret()
    click.echo(f"client_secret: {secret}")
    click.echo(f"client_secret_sha256: {digest}")


@bench.command("auth")
@click.option("--logins", "n_logins", type=int, default=500, show_default=True)
def bench_auth(n_logins: int) -> None:
    """Passkey login latency (server side), Argon2id verifications and throttle decisions per core."""
    from mamori.bench.auth_bench import run

    r = run(n_logins)
    click.echo(f"machine: {r['machine']}; {r['logins']} passkey logins, p50 {r['passkey_login_p50_ms']:.2f} ms, "
               f"p99 {r['passkey_login_p99_ms']:.2f} ms (SQLite synchronous=FULL)")
    click.echo(f"auth passkey_login_p95_ms={r['passkey_login_p95_ms']:.2f} "
               f"password_verifications_per_s={r['password_verifications_per_s']:.0f} "
               f"throttle_decisions_per_s={r['throttle_decisions_per_s']:.0f}")


@bench.command("stuffing")
@click.option("--seconds", type=float, default=20.0, show_default=True)
@click.option("--rate", type=int, default=1200, show_default=True, help="Offered attack rate, attempts/s.")
@click.option("--connections", type=int, default=64, show_default=True)
def bench_stuffing(seconds: float, rate: int, connections: int) -> None:
    """A credential-stuffing burst against the login service, with customers signing in meanwhile."""
    from mamori.bench.stuffing_bench import run

    r = run(seconds=seconds, rate=rate, connections=connections)
    click.echo(f"machine: {r['machine']}; {r['attempts']} attack attempts (offered {r['offered_rate']}/s), "
               f"answers {r['statuses']}, attacker sessions {r['attacker_sessions']} (all before their address "
               f"was refused: {r['attacker_sessions_after_throttle'] == 0}), {r['addresses_refused']} of 16 "
               f"addresses refused, attack answers p50 {r['attack_p50_ms']:.2f} ms p99 {r['attack_p99_ms']:.0f} ms; "
               f"{r['legit_logins']} passkey logins, "
               f"{r['legit_failures']} failed")
    click.echo(f"stuffing attempts_per_s={r['attempts_per_s']:.0f} "
               f"attacker_logins_after_throttle={r['attacker_sessions_after_throttle']} "
               f"refused_p99_ms={r['refused_p99_ms']:.2f} legit_passkey_p95_ms={r['legit_passkey_p95_ms']:.2f}")


@bench.command("mail")
@click.option("--messages", "n_messages", type=int, default=2000, show_default=True)
@click.option("--seed", type=int, default=7, show_default=True)
def bench_mail(n_messages: int, seed: int) -> None:
    """The mail scanner on a generated corpus with encrypted attachments, side by side with ClamAV."""
    from mamori.bench.mail_bench import run

    r = run(n_messages, seed=seed)
    click.echo(f"corpus: {r['messages']} messages, {r['mb']:.1f} MB, {r['encrypted_messages']} with a "
               f"password-protected attachment; {r['workers']} worker processes")
    click.echo(f"mamori: detected {r['detected']}/{r['encrypted_messages']}, false positives {r['false_positives']}")
    if "clamav_messages_per_s" in r:
        click.echo(f"clamav --alert-encrypted: detected {r['clamav_detected']}/{r['encrypted_messages']}, false "
                   f"positives {r['clamav_false_positives']}, {r['clamav_messages_per_s']:.0f} messages/s, "
                   f"{r['clamav_mb_per_s']:.1f} MB/s")
    else:
        click.echo("clamav: not installed (scripts/system-deps installs it) - no comparison")
    click.echo(f"mail messages_per_s={r['messages_per_s']:.0f} mb_per_s={r['mb_per_s']:.1f}")


@bench.command("pqc")
@click.option("--probes", type=int, default=20_000, show_default=True)
@click.option("--code-files", type=int, default=10_000, show_default=True)
@click.option("--components", type=int, default=100_000, show_default=True)
@click.option("--install-peers", is_flag=True, help="Install sslyze (own venv) and testssl.sh to compare with.")
def bench_pqc(probes: int, code_files: int, components: int, install_peers: bool) -> None:
    """TLS endpoint probes, source files and CBOM components per second; sslyze and testssl.sh side by side."""
    from mamori.bench.pqc_bench import run

    r = run(probes=probes, code_files=code_files, components=components, peers=install_peers)
    m = r["scan_mamori"]
    click.echo(f"full TLS scan of one post-quantum server: mamori {m['seconds']:.2f} s, {m['connections']} "
               f"connections, post-quantum groups found {len(m['pq_groups'])}/6 {m['pq_groups']}")
    for name in ("sslyze", "testssl"):
        peer = r[f"scan_{name}"]
        if peer is None:
            click.echo(f"{name}: not installed (--install-peers) - no comparison")
        else:
            click.echo(f"{name}: {peer['seconds']:.2f} s ({peer['seconds'] / max(m['seconds'], 1e-9):.0f}x mamori), "
                       f"post-quantum groups found {len(peer['pq_groups'])}/6")
    c = r["code"]
    click.echo(f"code: {c['files']} files, {c['mb_per_s']} MB/s, {c['findings']} findings, {c['workers']} workers; "
               f"TLS probe failures {r['tls_probe_failures']}")
    click.echo(f"pqc tls_endpoints_per_s={r['tls_endpoints_per_s']:.0f} code_files_per_s={r['code_files_per_s']:.0f} "
               f"cbom_components_per_s={r['cbom_components_per_s']:.0f}")


@bench.command("timeline")
@click.option("--events", "n_events", type=int, default=1_000_000, show_default=True)
@click.option("--hot-events", "hot_events", type=int, default=10_000, show_default=True)
def bench_timeline(n_events: int, hot_events: int) -> None:
    """The investigation view and the monthly figures on a store of a million decided events."""
    from mamori.bench.timeline_bench import report, run

    for line in report(run(n_events, hot_events)):
        click.echo(line)


@bench.command("console")
@click.option("--events", "n_events", type=click.IntRange(1_000, None), default=1_000_000, show_default=True)
@click.option("--hot-events", "hot_events", type=click.IntRange(100, None), default=10_000, show_default=True)
@click.option("--cases", "n_cases", type=click.IntRange(1, None), default=10_000, show_default=True)
@click.option("--repeats", type=click.IntRange(1, 1000), default=10, show_default=True)
def bench_console(n_events: int, hot_events: int, n_cases: int, repeats: int) -> None:
    """Console pages (account investigation, case list, case, dashboard, audit log) on a store of a
    million events and 10,000 cases, timed server-side."""
    from mamori.bench.console_bench import report, run

    for line in report(run(n_events, hot_events, n_cases, repeats=repeats)):
        click.echo(line)


@bench.command("aml")
@click.option("--edges", type=click.IntRange(1_000, None), default=None,
              help="Edges of the synthetic chain graph for the trace part (default 10 million).")
@click.option("--traces", type=click.IntRange(1, None), default=None, help="Traces to time (default of the part).")
@click.option("--screenings", type=click.IntRange(1, None), default=None, help="Screenings to time.")
@click.option("--events", "n_events", type=click.IntRange(1_000, None), default=1_000_000, show_default=True,
              help="Stored events for the scenario backtest.")
@click.option("--workers", type=click.IntRange(1, 16), default=2, show_default=True)
def bench_aml(edges: int | None, traces: int | None, screenings: int | None, n_events: int, workers: int) -> None:
    """Crypto AML: address screenings/s, 5-hop trace p95, scenario backtest over stored events."""
    from mamori.bench.aml_bench import report as aml_report
    from mamori.bench.aml_bench import run as aml_run

    for line in aml_report(aml_run(edges=edges, traces=traces, screenings=screenings, events=n_events,
                                   workers=workers)):
        click.echo(line)


def _register_plugins() -> None:
    from mamori.cli.aml_group import register as register_aml
    from mamori.cli.mail_group import register as register_mail
    from mamori.cli.operators import register as register_operators
    from mamori.cli.pqc_group import register as register_pqc
    from mamori.cli.sim_commands import register as register_simulation

    register_simulation(main)
    register_mail(main)
    register_pqc(main)
    register_aml(main)
    register_operators(main)


_register_plugins()

if __name__ == "__main__":
    main()
