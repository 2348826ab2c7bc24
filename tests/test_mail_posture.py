"""Sender-spoofing posture against real DNS and HTTPS servers on loopback.

A dnslib server on 127.0.0.1 serves test zones (a well-configured domain, a weak one, a parked one,
a missing one, and names whose server fails with SERVFAIL or never answers); a TLS server with a
throwaway CA serves the MTA-STS policies. Nothing leaves the machine.
"""

from __future__ import annotations

import base64
import datetime as dt
import http.server
import json
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import dns.resolver
import pytest
from click.testing import CliRunner
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from dnslib import MX, QTYPE, RCODE, RR, TXT, A, DNSError  # type: ignore[import-untyped]
from dnslib.server import DNSServer  # type: ignore[import-untyped]

from mamori.cli.main import main
from mamori.mail.posture import (
    DomainPosture,
    HttpsOptions,
    PublicSuffixList,
    check_domain,
    mx_pattern_matches,
    organizational_domain,
    parse_mta_sts_policy,
)

HOST = "127.0.0.1"
DNS_TIMEOUT = 3.0
"""Generous, so that a loaded CI machine does not turn a slow answer into a failure; the tests that
expect a timeout use a short one."""
SHORT_TIMEOUT = 0.5


# --------------------------------------------------------------------------------------------------
# Keys and certificates
# --------------------------------------------------------------------------------------------------


def _dkim_rsa(bits: int) -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    der = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(der).decode()


def _dkim_rsa_tiny() -> str:
    """A 768-bit RSA public key (cryptography refuses to generate one; the numbers need not factor)."""
    n = (1 << 767) | 0x10001 | 1
    der = rsa.RSAPublicNumbers(65537, n).public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(der).decode()


def _dkim_ed25519() -> str:
    raw = ed25519.Ed25519PrivateKey.generate().public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode()


@dataclass
class CertFiles:
    ca_path: Path
    cert_path: Path
    key_path: Path


def _make_certs(directory: Path, hosts: list[str]) -> CertFiles:
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mamori test CA")])
    ca_cert = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
               .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
               .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
               .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                            content_commitment=False, key_encipherment=False, data_encipherment=False,
                                            key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
               .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(h) for h in hosts]), critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    ca = CertFiles(directory / "ca.pem", directory / "cert.pem", directory / "key.pem")
    ca.ca_path.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    ca.cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    ca.key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                              serialization.NoEncryption()))
    return ca


# --------------------------------------------------------------------------------------------------
# Loopback DNS server (dnslib)
# --------------------------------------------------------------------------------------------------

Record = tuple[str, Any]


def _txt(value: str) -> TXT:
    data = value.encode()
    return TXT([data[i:i + 255] for i in range(0, len(data), 255)] or [b""])


class ZoneResolver:
    """Authoritative answers from a dict; ``failures`` maps a name (and everything under it) to
    ``servfail`` or ``timeout`` (no answer at all)."""

    def __init__(self, zone: dict[str, list[Record]], failures: dict[str, str]) -> None:
        self.zone = {k.lower(): v for k, v in zone.items()}
        self.failures = failures
        self.queries: list[tuple[str, str]] = []

    def _failure(self, name: str) -> str | None:
        for base, kind in self.failures.items():
            if name == base or name.endswith("." + base):
                return kind
        return None

    def resolve(self, request: Any, handler: Any) -> Any:
        name = str(request.q.qname).rstrip(".").lower()
        qtype = QTYPE[request.q.qtype]
        self.queries.append((name, qtype))
        reply = request.reply()
        failure = self._failure(name)
        if failure == "timeout":
            raise DNSError("dropped on purpose (timeout test)")
        if failure == "servfail":
            reply.header.rcode = RCODE.SERVFAIL
            return reply
        if name in self.zone:
            for rtype, rdata in self.zone[name]:
                if rtype == qtype:
                    reply.add_answer(RR(name + ".", getattr(QTYPE, rtype), rdata=rdata, ttl=60))
        elif not any(n.endswith("." + name) for n in self.zone):
            reply.header.rcode = RCODE.NXDOMAIN
        return reply


class _QuietLogger:
    def __getattr__(self, name: str) -> Any:
        return lambda *args, **kwargs: None


@dataclass
class World:
    port: int
    https_port: int
    ca: CertFiles
    resolver_obj: ZoneResolver

    def resolver(self, lifetime: float = DNS_TIMEOUT) -> dns.resolver.Resolver:
        r = dns.resolver.Resolver(configure=False)
        r.nameservers = [HOST]
        r.port = self.port
        r.timeout = r.lifetime = lifetime
        return r

    def https(self) -> HttpsOptions:
        return HttpsOptions(ca_bundle=self.ca.ca_path, port=self.https_port, timeout=5.0)

    def check(self, domain: str, *, lifetime: float = DNS_TIMEOUT, **kwargs: Any) -> DomainPosture:
        kwargs.setdefault("https", self.https())
        return check_domain(domain, resolver=self.resolver(lifetime), **kwargs)


GOOD_POLICY = "version: STSv1\r\nmode: enforce\r\nmx: mx1.good.test\r\nmx: *.good.test\r\nmax_age: 1209600\r\n"
WEAK_POLICY = "version: STSv1\nmode: testing\nmx: *.other.test\nmax_age: 3600\n"


def _zone(keys: dict[str, str]) -> dict[str, list[Record]]:
    z: dict[str, list[Record]] = {}

    def add(name: str, rtype: str, rdata: Any) -> None:
        z.setdefault(name, []).append((rtype, rdata))

    # good.test: everything right.
    add("good.test", "MX", MX("mx1.good.test", 10))
    add("good.test", "MX", MX("mx2.good.test", 20))
    add("mx1.good.test", "A", A("192.0.2.1"))
    add("mx2.good.test", "A", A("192.0.2.2"))
    add("good.test", "TXT", _txt("v=spf1 ip4:192.0.2.0/24 include:_spf.good.test -all"))
    add("good.test", "TXT", _txt("google-site-verification=abc"))
    add("_spf.good.test", "TXT", _txt("v=spf1 ip4:198.51.100.0/24 ip6:2001:db8::/32 -all"))
    add("selector1._domainkey.good.test", "TXT", _txt(f"v=DKIM1; k=rsa; p={keys['rsa2048']}"))
    add("selector2._domainkey.good.test", "TXT", _txt(f"v=DKIM1; k=ed25519; p={keys['ed25519']}"))
    add("s1._domainkey.good.test", "TXT", _txt("v=DKIM1; p="))
    add("_dmarc.good.test", "TXT", _txt("v=DMARC1; p=reject; sp=reject; adkim=s; aspf=s; "
                                        "rua=mailto:dmarc@good.test,mailto:rua@dmarc-reports.test"))
    add("good.test._report._dmarc.dmarc-reports.test", "TXT", _txt("v=DMARC1"))
    add("default._bimi.good.test", "TXT", _txt("v=BIMI1; l=https://good.test/logo.svg; a=https://good.test/vmc.pem"))
    add("_mta-sts.good.test", "TXT", _txt("v=STSv1; id=20250101T00"))
    add("mta-sts.good.test", "A", A(HOST))
    add("_smtp._tls.good.test", "TXT", _txt("v=TLSRPTv1; rua=mailto:tls@good.test"))
    add("sub.good.test", "A", A("192.0.2.10"))

    # weak.test: ~all, 11 lookups through nested includes, 1024-bit DKIM in testing mode, p=none,
    # an unauthorised external rua, MTA-STS testing with a policy that misses the MX, no TLS-RPT.
    add("weak.test", "MX", MX("mail.weak.test", 10))
    add("weak.test", "A", A("192.0.2.20"))
    add("mail.weak.test", "A", A("192.0.2.21"))
    add("weak.test", "TXT", _txt("v=spf1 include:spf1.weak.test include:spf2.weak.test mx a ~all"))
    add("spf1.weak.test", "TXT", _txt("v=spf1 a:h1.weak.test a:h2.weak.test a:h3.weak.test include:spf3.weak.test -all"))
    add("spf2.weak.test", "TXT", _txt("v=spf1 a:h6.weak.test -all"))
    add("spf3.weak.test", "TXT", _txt("v=spf1 a:h4.weak.test a:h5.weak.test -all"))
    for i in range(1, 7):
        add(f"h{i}.weak.test", "A", A(f"192.0.2.{30 + i}"))
    add("k1._domainkey.weak.test", "TXT", _txt(f"v=DKIM1; k=rsa; t=y; p={keys['rsa1024']}"))
    add("_dmarc.weak.test", "TXT", _txt("v=DMARC1; p=none; rua=mailto:dmarc@thirdparty.test"))
    add("thirdparty.test", "A", A("192.0.2.40"))
    add("default._bimi.weak.test", "TXT", _txt("v=BIMI1; l=https://weak.test/logo.svg"))
    add("_mta-sts.weak.test", "TXT", _txt("v=STSv1; id=1"))
    add("mta-sts.weak.test", "A", A(HOST))

    # parked.test: null MX, null SPF, p=reject.
    add("parked.test", "MX", MX(".", 0))
    add("parked.test", "TXT", _txt("v=spf1 -all"))
    add("_dmarc.parked.test", "TXT", _txt("v=DMARC1; p=reject; sp=reject; adkim=s; aspf=s"))

    # void.test: SPF with void lookups, ptr, an include without SPF, a syntax error.
    add("void.test", "MX", MX("mx.void.test", 10))
    add("mx.void.test", "A", A("192.0.2.50"))
    add("void.test", "TXT", _txt("v=spf1 a:nx1.void.test a:nx2.void.test a:nx3.void.test ptr "
                                 "include:nospf.void.test ip4:2001:db8::1 ?all"))
    add("nospf.void.test", "A", A("192.0.2.51"))
    add("default._domainkey.void.test", "TXT", _txt(f"v=DKIM1; h=sha1; p={keys['rsa768']}"))
    add("mail._domainkey.void.test", "TXT", _txt("v=DKIM1; k=rsa; p=not-base64!"))
    add("_dmarc.void.test", "TXT", _txt("v=DMARC1; p=quarantine; pct=50; sp=none; foo=bar"))

    # multi.test: two SPF records, +all.
    add("multi.test", "MX", MX("mx.multi.test", 10))
    add("multi.test", "TXT", _txt("v=spf1 +all"))
    add("multi.test", "TXT", _txt("v=spf1 ip4:192.0.2.0/24 -all"))

    # flaky.test: the DMARC name SERVFAILs, the MTA-STS name never answers.
    add("flaky.test", "MX", MX("mx.flaky.test", 10))
    add("mx.flaky.test", "A", A("192.0.2.60"))
    add("flaky.test", "TXT", _txt("v=spf1 mx -all"))
    add("_mta-sts.flaky.test", "TXT", _txt("v=STSv1; id=1"))

    # broken-mts.test: MTA-STS record whose policy host serves 404.
    add("broken-mts.test", "MX", MX("mx.broken-mts.test", 10))
    add("mx.broken-mts.test", "A", A("192.0.2.70"))
    add("_mta-sts.broken-mts.test", "TXT", _txt("v=STSv1; id=2"))
    add("mta-sts.broken-mts.test", "A", A(HOST))
    return z


FAILURES = {"servfail.test": "servfail", "timeout.test": "timeout", "_dmarc.flaky.test": "servfail",
            "_mta-sts.flaky.test": "timeout"}


class _PolicyHandler(http.server.BaseHTTPRequestHandler):
    policies: ClassVar[dict[str, str]] = {"mta-sts.good.test": GOOD_POLICY, "mta-sts.weak.test": WEAK_POLICY}

    def do_GET(self) -> None:
        host = (self.headers.get("Host") or "").split(":")[0]
        body = self.policies.get(host) if self.path == "/.well-known/mta-sts.txt" else None
        if body is None:
            self.send_response(404)
            self.end_headers()
            return
        data = body.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    keys = {"rsa2048": _dkim_rsa(2048), "rsa1024": _dkim_rsa(1024), "rsa768": _dkim_rsa_tiny(),
            "ed25519": _dkim_ed25519()}
    resolver = ZoneResolver(_zone(keys), FAILURES)
    dns_server = DNSServer(resolver, port=0, address=HOST, logger=_QuietLogger())
    dns_server.start_thread()
    port = dns_server.server.server_address[1]

    ca = _make_certs(tmp_path_factory.mktemp("tls"),
                     ["mta-sts.good.test", "mta-sts.weak.test", "mta-sts.broken-mts.test"])
    httpd = http.server.ThreadingHTTPServer((HOST, 0), _PolicyHandler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(ca.cert_path, ca.key_path)
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield World(port, httpd.server_address[1], ca, resolver)
    finally:
        httpd.shutdown()
        httpd.server_close()
        dns_server.stop()


def one(p: DomainPosture, check: str, **detail: Any) -> Any:
    matches = [f for f in p.findings if f.check == check and all(f.detail.get(k) == v for k, v in detail.items())]
    assert len(matches) == 1, (check, detail, [f.to_dict() for f in p.findings if f.check == check])
    return matches[0]


# --------------------------------------------------------------------------------------------------
# Whole domains
# --------------------------------------------------------------------------------------------------


def test_a_well_configured_domain_scores_full_marks_with_every_check_passing(world: World) -> None:
    p = world.check("good.test")
    assert (p.score, p.grade, p.parked) == (100, "A", False), [f.to_dict() for f in p.findings]
    assert not [f for f in p.findings if f.status in ("fail", "warn")]
    assert one(p, "spf.all").detail["qualifier"] == "-all"
    assert one(p, "spf.lookups").detail["lookups"] == 1
    assert one(p, "dmarc.policy").detail["policy"] == "reject"
    assert one(p, "dkim.key", selector="selector1").detail["bits"] == 2048
    assert one(p, "dkim.key", selector="selector2").detail["key_type"] == "ed25519"
    assert one(p, "dkim.revoked", selector="s1").status == "info"
    assert one(p, "dmarc.report_authorization").status == "pass"
    assert one(p, "mta_sts.mode").status == "pass"
    assert one(p, "mta_sts.mx").status == "pass"
    assert one(p, "tls_rpt.record").status == "pass"
    assert one(p, "bimi.record").status == "pass"
    assert p.records["mta_sts_policy"]["mx"] == ["mx1.good.test", "*.good.test"]
    assert all(f.message_ja and f.message_en for f in p.findings)


def test_a_weak_domain_gets_each_specific_finding_and_the_concrete_fix(world: World) -> None:
    p = world.check("weak.test")
    assert p.grade in ("D", "F") and p.score < 50

    spf_all = one(p, "spf.all")
    assert spf_all.status == "warn" and spf_all.detail["qualifier"] == "~all"
    assert "`v=spf1 include:spf1.weak.test include:spf2.weak.test mx a -all`" in spf_all.fix_en
    assert "-all" in spf_all.fix_ja

    lookups = one(p, "spf.lookups")
    assert lookups.status == "fail" and lookups.detail["lookups"] == 11
    assert "permerror" in lookups.message_en and "10回以下" in lookups.fix_ja
    assert p.scores["spf"] == (0, 25)  # permerror: SPF is broken, whatever the qualifier

    key = one(p, "dkim.key", selector="k1")
    assert key.status == "warn" and key.detail["bits"] == 1024 and "2048" in key.fix_en
    assert one(p, "dkim.testing", selector="k1").status == "warn"

    policy = one(p, "dmarc.policy")
    assert policy.status == "fail" and policy.detail["policy"] == "none"
    assert "monitoring only" in policy.message_en and "金融庁" in policy.message_ja
    assert "p=reject" in policy.fix_en and "rua=mailto:dmarc@thirdparty.test" in policy.fix_en

    auth = one(p, "dmarc.report_authorization")
    assert auth.status == "warn" and auth.detail["name"] == "weak.test._report._dmarc.thirdparty.test"
    assert "RFC 7489 §7.1" in auth.message_en

    assert one(p, "mta_sts.mode").status == "warn"
    mx = one(p, "mta_sts.mx")
    assert mx.status == "fail" and mx.detail["uncovered"] == ["mail.weak.test"]
    assert one(p, "mta_sts.max_age").detail["max_age"] == 3600
    assert one(p, "tls_rpt.record").status == "warn"
    assert one(p, "bimi.dmarc").status == "warn"
    assert one(p, "bimi.certificate").status == "info"


def test_a_parked_domain_with_null_mx_null_spf_and_reject_is_graded_a(world: World) -> None:
    p = world.check("parked.test")
    assert p.parked and (p.score, p.grade) == (100, "A"), [f.to_dict() for f in p.findings]
    assert one(p, "mx.null").status == "pass"
    assert one(p, "spf.all").status == "pass"
    assert one(p, "mta_sts.record").status == "info"  # not applicable
    assert set(p.scores) == {"dmarc", "spf", "mx"}


def test_forcing_the_parked_profile_on_a_mail_domain_flags_its_mx_and_senders(world: World) -> None:
    p = world.check("good.test", parked=True)
    assert one(p, "mx.null").status == "fail"
    assert "v=spf1 -all" in one(p, "spf.all").fix_en or any(
        "v=spf1 -all" in f.fix_en for f in p.by_check("spf.record"))


def test_a_missing_domain_is_a_finding_not_an_exception(world: World) -> None:
    p = world.check("missing.test")
    assert (p.score, p.grade) == (0, "F")
    assert one(p, "domain.exists").status == "fail"
    assert "NXDOMAIN" in p.findings[0].message_en


@pytest.mark.parametrize(("domain", "status"), [("servfail.test", "servfail"), ("timeout.test", "timeout")])
def test_a_broken_name_server_is_a_finding_not_an_exception(world: World, domain: str, status: str) -> None:
    p = world.check(domain, lifetime=SHORT_TIMEOUT)
    assert (p.score, p.grade) == (0, "F")
    finding = one(p, "dns.reachable")
    assert finding.status == "fail" and finding.detail["dns_status"] == status
    assert finding.fix_en and finding.fix_ja


def test_partial_dns_failures_are_reported_for_the_part_they_hide(world: World) -> None:
    p = world.check("flaky.test", lifetime=1.0)
    dmarc = one(p, "dmarc.record")
    assert dmarc.status == "fail" and dmarc.detail["dns_status"] == "servfail"
    mta = one(p, "mta_sts.record")
    assert mta.status == "fail" and mta.detail["dns_status"] == "timeout"
    assert one(p, "spf.all").status == "pass"
    assert p.scores["dmarc"] == (0, 40)


def test_spf_void_lookups_ptr_includes_without_spf_and_syntax_errors(world: World) -> None:
    p = world.check("void.test")
    void = one(p, "spf.void_lookups")
    assert void.status == "fail" and void.detail["void"] == 4  # the include's TXT query counts too (§4.6.4)
    assert void.detail["names"] == ["nx1.void.test", "nx2.void.test", "nx3.void.test", "nospf.void.test"]
    assert one(p, "spf.ptr").status == "warn"
    include = one(p, "spf.include")
    assert "nospf.void.test has no SPF record" in include.message_en
    syntax = one(p, "spf.syntax")
    assert "ip4 with an IPv6 address" in syntax.message_en
    assert one(p, "spf.all").detail["qualifier"] == "?all"
    assert p.scores["spf"][0] == 0


def test_dkim_keys_under_1024_bits_sha1_only_and_unparsable_records_fail(world: World) -> None:
    p = world.check("void.test")
    tiny = one(p, "dkim.key", selector="default")
    assert tiny.status == "fail" and tiny.detail["bits"] == 768 and "RFC 8301" in tiny.message_en
    assert one(p, "dkim.hash", selector="default").status == "warn"
    assert one(p, "dkim.syntax", selector="mail").detail["error"] == "p= is not base64"
    assert p.scores["dkim"] == (2, 15)


def test_dmarc_quarantine_with_pct_and_a_weaker_subdomain_policy(world: World) -> None:
    p = world.check("void.test")
    assert one(p, "dmarc.policy").status == "warn"
    assert one(p, "dmarc.pct").detail["pct"] == 50
    sub = one(p, "dmarc.subdomain_policy")
    assert sub.status == "warn" and sub.detail == {"p": "quarantine", "sp": "none"}
    assert "sp=reject" in sub.fix_en
    assert "unknown tag foo" in one(p, "dmarc.syntax").message_en


def test_two_spf_records_are_a_permerror(world: World) -> None:
    p = world.check("multi.test")
    record = one(p, "spf.record")
    assert record.status == "fail" and "Merge" in record.fix_en and "統合" in record.fix_ja
    assert p.scores["spf"] == (0, 25)


def test_a_subdomain_without_its_own_record_inherits_the_organizational_dmarc_policy(world: World) -> None:
    p = world.check("sub.good.test")
    record = one(p, "dmarc.record")
    assert record.detail["inherited_from"] == "good.test"
    assert one(p, "dmarc.policy").detail["policy"] == "reject"  # sp=reject of good.test


def test_a_dkim_selector_given_by_the_caller_is_the_one_checked(world: World) -> None:
    world.resolver_obj.queries.clear()
    p = world.check("weak.test", dkim_selectors=["nope"])
    assert one(p, "dkim.selectors").status == "warn"
    assert p.scores["dkim"] == (0, 15)
    assert not [q for q in world.resolver_obj.queries if q[0] == "selector1._domainkey.weak.test"]


# --------------------------------------------------------------------------------------------------
# MTA-STS over HTTPS
# --------------------------------------------------------------------------------------------------


def test_the_policy_certificate_is_verified_against_the_trusted_ca(world: World) -> None:
    p = world.check("good.test", https=HttpsOptions(port=world.https_port, timeout=5.0))  # system trust only
    policy = one(p, "mta_sts.policy")
    assert policy.status == "fail" and "CERTIFICATE_VERIFY_FAILED" in policy.message_en
    assert p.scores["mta_sts"] == (0, 10)


def test_a_policy_host_answering_404_fails_with_the_fix(world: World) -> None:
    p = world.check("broken-mts.test")
    policy = one(p, "mta_sts.policy")
    assert policy.status == "fail" and "HTTP 404" in policy.message_en
    assert "text/plain" in policy.fix_en


def test_an_explicit_address_is_used_and_the_certificate_still_names_the_policy_host(world: World) -> None:
    options = HttpsOptions(ca_bundle=world.ca.ca_path, port=world.https_port, address=HOST)
    assert one(world.check("good.test", https=options), "mta_sts.mode").status == "pass"


def test_mta_sts_policy_parsing_and_mx_patterns() -> None:
    policy, problems = parse_mta_sts_policy(GOOD_POLICY)
    assert problems == [] and policy["mode"] == "enforce" and policy["max_age"] == 1209600
    _, problems = parse_mta_sts_policy("version: STSv1\nmode: sometimes\nmax_age: x\n")
    assert "mode must be enforce, testing or none" in problems and any("max_age" in x for x in problems)
    assert mx_pattern_matches("*.good.test", "mx1.good.test")
    assert not mx_pattern_matches("*.good.test", "a.b.good.test")  # one label only (RFC 8461 §4.1)
    assert not mx_pattern_matches("*.good.test", "good.test")
    assert mx_pattern_matches("MX1.good.test.", "mx1.good.test")


# --------------------------------------------------------------------------------------------------
# Organizational domain
# --------------------------------------------------------------------------------------------------


def test_organizational_domain_knows_the_japanese_second_level_suffixes() -> None:
    psl = PublicSuffixList.builtin()
    assert psl.organizational_domain("mail.example-sec.co.jp") == "example-sec.co.jp"
    assert psl.organizational_domain("a.b.example.ne.jp") == "example.ne.jp"
    assert psl.organizational_domain("www.example.jp") == "example.jp"
    assert psl.organizational_domain("x.y.example.com") == "example.com"
    assert psl.organizational_domain("co.jp") == "co.jp"
    assert organizational_domain("login.example-sec.lg.jp") == "example-sec.lg.jp"


def test_public_suffix_wildcards_and_exceptions() -> None:
    psl = PublicSuffixList(["jp", "*.kawasaki.jp", "!city.kawasaki.jp"])
    assert psl.organizational_domain("www.foo.bar.kawasaki.jp") == "foo.bar.kawasaki.jp"
    assert psl.organizational_domain("www.city.kawasaki.jp") == "city.kawasaki.jp"


def test_a_malformed_domain_raises_value_error(world: World) -> None:
    with pytest.raises(ValueError, match="not a domain name"):
        world.check("not a domain")


# --------------------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------------------


def _cli(world: World, *args: str) -> Any:
    return CliRunner().invoke(main, ["mail", "posture", *args, "--nameserver", f"{HOST}:{world.port}",
                                     "--timeout", str(DNS_TIMEOUT), "--ca-bundle", str(world.ca.ca_path),
                                     "--https-port", str(world.https_port)])


def test_cli_json_report_and_exit_code_when_a_domain_grades_below_b(world: World) -> None:
    result = _cli(world, "good.test", "weak.test", "--json")
    assert result.exit_code == 1, result.output
    data = json.loads(result.stdout)
    assert (data[0]["domain"], data[0]["grade"]) == ("good.test", "A")
    assert data[1]["grade"] in ("D", "F")
    assert {"check", "status", "message_en", "message_ja", "fix_en", "fix_ja"} <= set(data[1]["findings"][0])


def test_cli_human_report_is_bilingual_and_exits_0_when_all_pass(world: World) -> None:
    result = _cli(world, "good.test", "parked.test", "--selector", "custom")
    assert result.exit_code == 0, result.output
    assert "good.test: 100/100, 評価 grade A" in result.output
    assert "SPF は `-all` で終わっており" in result.output
    assert "SPF ends in `-all`" in result.output
    assert ("custom._domainkey.good.test", "TXT") in world.resolver_obj.queries


def test_cli_rejects_a_bad_nameserver_and_a_bad_domain(world: World) -> None:
    bad_ns = CliRunner().invoke(main, ["mail", "posture", "good.test", "--nameserver", "dns.example:53"])
    assert bad_ns.exit_code == 2 and "not an IP address" in bad_ns.output
    bad_domain = CliRunner().invoke(main, ["mail", "posture", "no_dots"])
    assert bad_domain.exit_code == 2
