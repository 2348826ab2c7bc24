"""``mamori mail posture`` (sender-spoofing posture of the firm's domains: SPF, DKIM, DMARC, BIMI,
MTA-STS, TLS-RPT, MX) and ``mamori mail lookalikes`` (cousin domains, optionally as STIX 2.1)."""

from __future__ import annotations

import ipaddress
import json
import sys
from pathlib import Path

import click
import dns.resolver

from mamori.mail.lookalike import DEFAULT_LIMIT, lookalikes, stix_json
from mamori.mail.posture import (
    DEFAULT_SELECTORS,
    DomainPosture,
    HttpsOptions,
    check_domain,
    default_resolver,
    normalize_domain,
)

PASSING_GRADES = ("A", "B")
_ORDER = {"fail": 0, "warn": 1, "pass": 2, "info": 3}


def _parse_nameserver(value: str) -> tuple[str, int]:
    """``IP``, ``IP:PORT``, ``IPv6`` or ``[IPv6]:PORT``."""
    host, port = value, 53
    if value.startswith("["):
        host, _, rest = value[1:].partition("]")
        if rest:
            if not rest.startswith(":") or not rest[1:].isdigit():
                raise click.BadParameter(f"{value!r}: expected [IPv6]:PORT", param_hint="--nameserver")
            port = int(rest[1:])
    elif value.count(":") == 1:
        host, _, digits = value.partition(":")
        if not digits.isdigit():
            raise click.BadParameter(f"{value!r}: expected IP:PORT", param_hint="--nameserver")
        port = int(digits)
    try:
        ipaddress.ip_address(host)
    except ValueError:
        raise click.BadParameter(f"{value!r}: not an IP address", param_hint="--nameserver") from None
    if not 0 < port < 65536:
        raise click.BadParameter(f"{value!r}: bad port", param_hint="--nameserver")
    return host, port


def _resolver(nameserver: str | None, timeout: float) -> dns.resolver.Resolver | None:
    if nameserver is None:
        return None
    host, port = _parse_nameserver(nameserver)
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = [host]
    resolver.port = port
    resolver.timeout = resolver.lifetime = timeout
    return resolver


def _print_report(result: DomainPosture) -> None:
    kind = "送受信しないドメイン / parked domain" if result.parked else "メールドメイン / mail domain"
    click.echo(f"== {result.domain}: {result.score}/100, 評価 grade {result.grade} ({kind}) ==")
    if result.scores:
        parts = ", ".join(f"{name} {earned}/{most}" for name, (earned, most) in result.scores.items())
        click.echo(f"   内訳 / parts: {parts}")
    for finding in sorted(result.findings, key=lambda f: _ORDER[f.status]):
        click.echo(f"  [{finding.status.upper():4}] {finding.check}: {finding.message_ja}")
        click.echo(f"{'':9}{finding.message_en}")
        if finding.fix_ja or finding.fix_en:
            click.echo(f"{'':9}対策: {finding.fix_ja}")
            click.echo(f"{'':9}Fix: {finding.fix_en}")
    click.echo("")


@click.command("posture")
@click.argument("domains", nargs=-1, required=True)
@click.option("--selector", "selectors", multiple=True, metavar="S",
              help="DKIM selector to try, in addition to the common ones (repeatable).")
@click.option("--nameserver", default=None, metavar="IP[:PORT]",
              help="Ask this DNS server instead of the system resolver.")
@click.option("--timeout", type=click.FloatRange(0.1, 60), default=5.0, show_default=True,
              help="Seconds allowed per DNS query.")
@click.option("--ca-bundle", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="PEM CA bundle trusted for the MTA-STS policy fetch (default: the usual trust store).")
@click.option("--https-port", type=click.IntRange(1, 65535), default=443, hidden=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON document (a list, one object per domain).")
def posture(domains: tuple[str, ...], selectors: tuple[str, ...], nameserver: str | None, timeout: float,
            ca_bundle: Path | None, https_port: int, as_json: bool) -> None:
    """Sender-spoofing posture of DOMAIN...: SPF, DKIM, DMARC, BIMI, MTA-STS, TLS-RPT, MX, with fixes.

    Exit code 1 when any domain grades below B.
    """
    names: list[str] = []
    for domain in domains:
        try:
            names.append(normalize_domain(domain))
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="DOMAIN") from None
    resolver = _resolver(nameserver, timeout) or default_resolver(timeout)
    https = HttpsOptions(ca_bundle=ca_bundle, port=https_port, timeout=max(timeout, 5.0),
                         resolve_with_resolver=nameserver is not None)
    chosen = tuple(dict.fromkeys((*DEFAULT_SELECTORS, *selectors)))
    results = [check_domain(name, resolver=resolver, dkim_selectors=chosen, https=https) for name in names]
    if as_json:
        sys.stdout.write(json.dumps([r.to_dict() for r in results], ensure_ascii=False, indent=2) + "\n")
    else:
        for result in results:
            _print_report(result)
    failing = [r.domain for r in results if r.grade not in PASSING_GRADES]
    if failing:
        click.echo(f"評価 B 未満 / below grade B: {', '.join(failing)}", err=True)
        sys.exit(1)


@click.command("lookalikes")
@click.argument("domain")
@click.option("--brand", "brands", multiple=True, metavar="WORD",
              help="A brand word in romaji (repeatable): its spelling variants are tried too.")
@click.option("--stix", "stix_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the candidates as a STIX 2.1 bundle of indicators to this file.")
@click.option("--limit", type=click.IntRange(1, 100_000), default=DEFAULT_LIMIT, show_default=True,
              help="At most this many candidates.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of tab-separated lines.")
def lookalikes_command(domain: str, brands: tuple[str, ...], stix_path: Path | None, limit: int,
                       as_json: bool) -> None:
    """Lookalike (phishing) domains of DOMAIN, each with the technique that produced it."""
    try:
        original = normalize_domain(domain)
        candidates = lookalikes(original, brands=brands, limit=limit)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="DOMAIN") from None
    if as_json:
        sys.stdout.write(json.dumps([c.to_dict() for c in candidates], ensure_ascii=False, indent=2) + "\n")
    else:
        for c in candidates:
            shown = c.unicode if c.unicode != c.domain else ""
            click.echo(f"{c.domain}\t{c.technique}\t{shown}".rstrip("\t"))
    if stix_path is not None:
        stix_path.write_text(stix_json(candidates, original=original) + "\n", encoding="utf-8")
        click.echo(f"{len(candidates)} indicators written to {stix_path}", err=True)


def register(group: click.Group) -> None:
    group.add_command(posture)
    group.add_command(lookalikes_command)
