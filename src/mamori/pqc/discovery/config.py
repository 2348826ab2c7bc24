"""Configuration discovery: the algorithms that OpenSSL, nginx, Apache httpd, OpenSSH and Java are told to use.

Files are recognised by name first, then by content (a directory is walked for candidates, bounded):

* **OpenSSL** ``openssl.cnf`` / ``*.cnf`` (``config(5)``, ``SSL_CONF_cmd(3)``): ``[section]`` / ``key = value``
  with ``.include``; ``MinProtocol``, ``MaxProtocol``, ``Protocol``, ``CipherString``, ``Ciphersuites``,
  ``Groups`` / ``Curves``, ``SignatureAlgorithms``, ``ClientSignatureAlgorithms`` in any section, and whether
  the section is reached through ``openssl_conf → ssl_conf → system_default`` (``detail["applies_to"]``);
  ``default_md`` / ``default_bits`` of ``[req]`` and ``[ca]`` sections.
* **nginx** (``ngx_http_ssl_module``, ``ngx_stream_ssl_module``, ``ngx_http_proxy_module``): ``ssl_protocols``,
  ``ssl_ciphers``, ``ssl_ecdh_curve``, ``ssl_conf_command <OpenSSL command> <value>``, and the same with the
  ``proxy_``/``grpc_``/``uwsgi_`` prefixes (upstream TLS); ``include`` files and globs are followed, relative to
  the including file's directory.
* **Apache httpd** (``mod_ssl``): ``SSLProtocol``, ``SSLProxyProtocol``, ``SSLCipherSuite`` /
  ``SSLProxyCipherSuite`` (with the optional ``SSL`` / ``TLSv1.3`` protocol argument), ``SSLOpenSSLConfCmd
  Curves|Groups|SignatureAlgorithms|CipherString|Ciphersuites|MinProtocol|MaxProtocol``; ``Include`` /
  ``IncludeOptional`` followed relative to the including file (httpd resolves them against ``ServerRoot``).
* **OpenSSH** ``sshd_config`` / ``ssh_config`` (and ``*.d/*.conf``): ``KexAlgorithms``, ``Ciphers``, ``MACs``,
  ``HostKeyAlgorithms``, ``PubkeyAcceptedAlgorithms`` (and the old ``PubkeyAcceptedKeyTypes``),
  ``HostbasedAcceptedAlgorithms``, ``CASignatureAlgorithms``, ``RequiredRSASize``; the ``+`` (append), ``-``
  (remove) and ``^`` (prepend) list modifiers are recorded; ``Match`` / ``Host`` blocks in ``detail["block"]``;
  ``Include`` followed. Names are canonicalised as in :mod:`mamori.pqc.discovery.ssh`.
* **Java** ``java.security`` (``java.util.Properties`` syntax, continuation lines): ``jdk.tls.disabledAlgorithms``,
  ``jdk.certpath.disabledAlgorithms``, ``jdk.jar.disabledAlgorithms``, ``jdk.tls.legacyAlgorithms``,
  ``jdk.security.legacyAlgorithms``, ``jdk.tls.namedGroups``, ``jdk.tls.server.SignatureSchemes`` /
  ``jdk.tls.client.SignatureSchemes``, ``jdk.tls.client.protocols``, ``keystore.type``.

One finding per algorithm a directive *names*, at ``path:line`` (the directive's first line), with the
directive as ``context`` and ``detail``: ``value`` (the raw value), ``kind`` (``openssl``, ``nginx``, ``apache``,
``sshd``/``ssh``, ``java``), ``tokens`` (the words that named it) and ``effect``:

``enable`` (listed), ``disable`` (OpenSSL ``!``, a Java ``disabledAlgorithms`` entry), ``remove`` (OpenSSL /
Apache / OpenSSH ``-``), ``deprioritise`` (OpenSSL ``+``), ``append`` / ``prepend`` (OpenSSH ``+`` / ``^``),
``legacy`` (Java ``legacyAlgorithms``), ``minimum`` / ``maximum`` (``MinProtocol``, ``RequiredRSASize`` ...),
``keystore`` (``keystore.type``).

**Consumers must read ``effect``**: a ``disable`` finding is a policy that forbids the algorithm, not a use of it.
OpenSSL cipher strings are *not* expanded (that needs the deploying OpenSSL's cipher list): the string is kept in
``value``, keywords such as ``HIGH`` or ``DEFAULT`` and ``@SECLEVEL=n`` are listed in ``detail["aliases"]`` /
``detail["seclevel"]``, and each algorithm the string names (``ECDHE`` → ``ECDH``, ``aRSA`` → ``RSA``,
``AES128`` → ``AES``/``128``, a full suite name → its key exchange, authentication, cipher and MAC) is a
finding. A directive that names no algorithm (``ssl_ciphers HIGH:!aNULL``) still gives one ``protocol``
finding (``TLS`` / ``SSH`` / ``Java``) so the setting is in the inventory.

Canonical names follow :class:`mamori.pqc.model.CryptoFinding`: TLS groups ``X25519``, ``X448``, ``ECDH`` /
``P-256`` (``prime256v1``, ``secp256r1``), ``DH`` / ``2048`` (``ffdhe2048``), ``ML-KEM`` / ``768``
(``MLKEM768``), hybrids by their IANA name with the ML-KEM set as parameter (``X25519MLKEM768`` / ``768``);
signature schemes ``RSA`` / ``ECDSA`` / ``Ed25519`` / ``ML-DSA`` (``65``) with the hash in ``detail``;
protocols ``TLS`` / ``1.2``, ``SSL`` / ``3.0``, ``DTLS`` / ``1.2``.

Problems are ``"<code>: <path>: <message>"``: ``config-not-found``, ``config-unreadable``, ``config-too-large``,
``config-unrecognised`` (an explicitly named file of no known kind), ``config-include-missing``,
``config-include-loop``, ``config-parse`` (an unterminated quote or block).
"""

from __future__ import annotations

import glob
import os
import re
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mamori.pqc.discovery.ssh import (
    Canonical,
    canonical_cipher,
    canonical_host_key_algorithm,
    canonical_kex,
    canonical_mac,
)
from mamori.pqc.model import CryptoFinding, Primitive, ScanResult

__all__ = ["scan_config"]

MAX_CONFIG_BYTES = 2_000_000
MAX_FILES = 50_000
MAX_INCLUDE_DEPTH = 16


# --------------------------------------------------------------------------------------------------------
# Mentions: one named algorithm inside a directive value
# --------------------------------------------------------------------------------------------------------

@dataclass
class Mention:
    primitive: Primitive
    algorithm: str
    parameter: str
    effect: str
    token: str
    extra: dict[str, Any] = field(default_factory=dict)


_PROTOCOLS = {"sslv2": ("SSL", "2.0"), "sslv3": ("SSL", "3.0"), "tlsv1": ("TLS", "1.0"), "tlsv1.0": ("TLS", "1.0"),
              "tlsv1.1": ("TLS", "1.1"), "tlsv1.2": ("TLS", "1.2"), "tlsv1.3": ("TLS", "1.3"),
              "dtlsv1": ("DTLS", "1.0"), "dtlsv1.0": ("DTLS", "1.0"), "dtlsv1.2": ("DTLS", "1.2"),
              "tls1": ("TLS", "1.0"), "tls1.1": ("TLS", "1.1"), "tls1.2": ("TLS", "1.2"), "tls1.3": ("TLS", "1.3")}


def protocol_mention(token: str, effect: str) -> Mention | None:
    """``TLSv1.2`` / ``SSLv3`` / ``DTLSv1.2`` (OpenSSL, nginx, Apache and Java spellings)."""
    p = _PROTOCOLS.get(token.lower())
    return Mention("protocol", p[0], p[1], effect, token) if p else None


_GROUPS: dict[str, tuple[str, str]] = {
    "x25519": ("X25519", ""), "x448": ("X448", ""), "prime256v1": ("ECDH", "P-256"), "secp256r1": ("ECDH", "P-256"),
    "p-256": ("ECDH", "P-256"), "secp384r1": ("ECDH", "P-384"), "p-384": ("ECDH", "P-384"),
    "secp521r1": ("ECDH", "P-521"), "p-521": ("ECDH", "P-521"), "secp224r1": ("ECDH", "P-224"),
    "p-224": ("ECDH", "P-224"), "secp256k1": ("ECDH", "secp256k1"), "prime192v1": ("ECDH", "P-192"),
    "brainpoolp256r1": ("ECDH", "brainpoolP256r1"), "brainpoolp384r1": ("ECDH", "brainpoolP384r1"),
    "brainpoolp512r1": ("ECDH", "brainpoolP512r1"), "brainpoolp256r1tls13": ("ECDH", "brainpoolP256r1"),
    "brainpoolp384r1tls13": ("ECDH", "brainpoolP384r1"), "brainpoolp512r1tls13": ("ECDH", "brainpoolP512r1"),
    "ffdhe2048": ("DH", "2048"), "ffdhe3072": ("DH", "3072"), "ffdhe4096": ("DH", "4096"),
    "ffdhe6144": ("DH", "6144"), "ffdhe8192": ("DH", "8192"),
    "x25519mlkem768": ("X25519MLKEM768", "768"), "secp256r1mlkem768": ("SecP256r1MLKEM768", "768"),
    "secp384r1mlkem1024": ("SecP384r1MLKEM1024", "1024"), "mlkem512": ("ML-KEM", "512"),
    "mlkem768": ("ML-KEM", "768"), "mlkem1024": ("ML-KEM", "1024"),
    "x25519kyber768draft00": ("X25519Kyber768Draft00", "768"), "sm2": ("SM2", ""),
    "curvesm2": ("SM2", ""), "curvesm2mlkem768": ("curveSM2MLKEM768", "768"),
}
_POST_QUANTUM_GROUPS = {"X25519MLKEM768", "SecP256r1MLKEM768", "SecP384r1MLKEM1024", "ML-KEM", "curveSM2MLKEM768",
                        "X25519Kyber768Draft00"}


def group_mentions(value: str, effect: str = "enable") -> tuple[list[Mention], list[str]]:
    """TLS groups: OpenSSL ``Groups``/``Curves`` (``:`` lists; OpenSSL 3.5 ``?`` optional, ``*`` key share,
    ``/`` tuples, ``-`` removal), nginx ``ssl_ecdh_curve``, Java ``jdk.tls.namedGroups`` (``,`` lists)."""
    mentions: list[Mention] = []
    aliases: list[str] = []
    for raw in re.split(r"[:,/\s]+", value.strip().strip('"')):
        if not raw:
            continue
        tok = raw
        eff = effect
        extra: dict[str, Any] = {}
        while tok[:1] in ("?", "*", "-"):
            if tok[0] == "-":
                eff = "remove"
            elif tok[0] == "*":
                extra["key_share"] = True
            else:
                extra["optional"] = True
            tok = tok[1:]
        g = _GROUPS.get(tok.lower())
        if g is None:
            aliases.append(raw)
            continue
        if g[0] in _POST_QUANTUM_GROUPS:
            extra["post_quantum"] = True
        mentions.append(Mention("key-exchange", g[0], g[1], eff, raw, extra))
    return mentions, aliases


_SIG_HASH = {"sha1": "SHA-1", "sha224": "SHA-224", "sha256": "SHA-256", "sha384": "SHA-384", "sha512": "SHA-512",
             "md5": "MD5"}


def sigalg_mentions(value: str, effect: str = "enable") -> tuple[list[Mention], list[str]]:
    """Signature schemes: OpenSSL ``SignatureAlgorithms`` (``RSA+SHA256``, ``RSA-PSS+SHA256``, ``ed25519``,
    ``rsa_pss_rsae_sha256``, ``mldsa65``) and the IANA TLS SignatureScheme names Java uses."""
    mentions: list[Mention] = []
    aliases: list[str] = []
    for tok in re.split(r"[:,\s]+", value.strip().strip('"')):
        if not tok:
            continue
        t = tok.lower()
        m = re.fullmatch(r"(rsa|rsa-pss|pss|ecdsa|dsa)\+(sha\d+|md5)", t)
        extra: dict[str, Any] = {}
        if m:
            alg = {"rsa": "RSA", "rsa-pss": "RSA", "pss": "RSA", "ecdsa": "ECDSA", "dsa": "DSA"}[m.group(1)]
            extra["hash"] = _SIG_HASH.get(m.group(2), m.group(2))
            if "pss" in m.group(1):
                extra["pss"] = True
            mentions.append(Mention("signature", alg, "", effect, tok, extra))
            continue
        m = re.fullmatch(r"(rsa_pkcs1|rsa_pss_rsae|rsa_pss_pss|ecdsa_(secp\d+r1|brainpoolp\d+r1tls13))_(sha\d+)", t)
        if m:
            alg = "ECDSA" if t.startswith("ecdsa") else "RSA"
            curve = {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"}.get(m.group(2) or "",
                                                                                         m.group(2) or "")
            extra["hash"] = _SIG_HASH.get(m.group(3), m.group(3))
            if "pss" in t:
                extra["pss"] = True
            mentions.append(Mention("signature", alg, curve, effect, tok, extra))
            continue
        if t == "ecdsa_sha1":
            mentions.append(Mention("signature", "ECDSA", "", effect, tok, {"hash": "SHA-1"}))
            continue
        if t in ("ed25519", "ed448"):
            mentions.append(Mention("signature", "Ed25519" if t == "ed25519" else "Ed448", "", effect, tok))
            continue
        m = re.fullmatch(r"ml-?dsa-?(44|65|87)", t)
        if m:
            mentions.append(Mention("signature", "ML-DSA", m.group(1), effect, tok, {"post_quantum": True}))
            continue
        aliases.append(tok)
    return mentions, aliases


# --- cipher suites and OpenSSL cipher strings

_OPENSSL_ALIASES: dict[str, list[tuple[Primitive, str, str, dict[str, Any]]]] = {
    "krsa": [("key-exchange", "RSA", "", {"key_transport": True})],
    "rsa": [("key-exchange", "RSA", "", {"key_transport": True})],
    "arsa": [("signature", "RSA", "", {})],
    "kedh": [("key-exchange", "DH", "", {})], "kdhe": [("key-exchange", "DH", "", {})],
    "edh": [("key-exchange", "DH", "", {})], "dhe": [("key-exchange", "DH", "", {})],
    "dh": [("key-exchange", "DH", "", {})],
    "keecdh": [("key-exchange", "ECDH", "", {})], "kecdhe": [("key-exchange", "ECDH", "", {})],
    "eecdh": [("key-exchange", "ECDH", "", {})], "ecdhe": [("key-exchange", "ECDH", "", {})],
    "ecdh": [("key-exchange", "ECDH", "", {})],
    "aecdsa": [("signature", "ECDSA", "", {})], "ecdsa": [("signature", "ECDSA", "", {})],
    "adss": [("signature", "DSA", "", {})], "dss": [("signature", "DSA", "", {})],
    "aes": [("cipher", "AES", "", {})], "aes128": [("cipher", "AES", "128", {})],
    "aes256": [("cipher", "AES", "256", {})], "aesgcm": [("cipher", "AES", "", {"mode": "GCM"})],
    "aesccm": [("cipher", "AES", "", {"mode": "CCM"})], "aesccm8": [("cipher", "AES", "", {"mode": "CCM_8"})],
    "chacha20": [("cipher", "ChaCha20-Poly1305", "256", {})],
    "3des": [("cipher", "3DES", "168", {})], "des": [("cipher", "DES", "56", {})],
    "rc4": [("cipher", "RC4", "", {})], "rc2": [("cipher", "RC2", "", {})], "idea": [("cipher", "IDEA", "128", {})],
    "seed": [("cipher", "SEED", "128", {})], "camellia": [("cipher", "Camellia", "", {})],
    "camellia128": [("cipher", "Camellia", "128", {})], "camellia256": [("cipher", "Camellia", "256", {})],
    "aria": [("cipher", "ARIA", "", {})], "aria128": [("cipher", "ARIA", "128", {})],
    "aria256": [("cipher", "ARIA", "256", {})],
    "md5": [("mac", "HMAC", "MD5", {})], "sha1": [("mac", "HMAC", "SHA-1", {})], "sha": [("mac", "HMAC", "SHA-1", {})],
    "sha256": [("mac", "HMAC", "SHA-256", {})], "sha384": [("mac", "HMAC", "SHA-384", {})],
    "gost94": [("mac", "GOST R 34.11-94", "", {})], "gost89mac": [("mac", "GOST 28147-89", "", {})],
}

_SUITE_CIPHERS = (
    (re.compile(r"AES[_-]?(128|256)[_-](GCM|CCM8|CCM_8|CCM)"), "AES", r"\1", r"\2"),
    (re.compile(r"AES[_-]?(128|256)(?:[_-]CBC)?"), "AES", r"\1", "CBC"),
    (re.compile(r"CAMELLIA[_-]?(128|256)[_-]GCM"), "Camellia", r"\1", "GCM"),
    (re.compile(r"CAMELLIA[_-]?(128|256)(?:[_-]CBC)?"), "Camellia", r"\1", "CBC"),
    (re.compile(r"ARIA[_-]?(128|256)[_-]GCM"), "ARIA", r"\1", "GCM"),
    (re.compile(r"ARIA[_-]?(128|256)(?:[_-]CBC)?"), "ARIA", r"\1", "CBC"),
    (re.compile(r"CHACHA20[_-]POLY1305"), "ChaCha20-Poly1305", "256", "AEAD"),
    (re.compile(r"(?:DES[_-]CBC3|3DES[_-]EDE[_-]CBC|DES[_-]EDE3[_-]CBC)"), "3DES", "168", "CBC"),
    (re.compile(r"DES40[_-]CBC"), "DES", "40", "CBC"),
    (re.compile(r"DES[_-]CBC"), "DES", "56", "CBC"),
    (re.compile(r"RC4[_-](128|40)"), "RC4", r"\1", "stream"),
    (re.compile(r"RC4"), "RC4", "128", "stream"),
    (re.compile(r"(?:EXP[_-])?RC2[_-]CBC(?:[_-]40)?"), "RC2", "40", "CBC"),
    (re.compile(r"IDEA(?:[_-]CBC)?"), "IDEA", "128", "CBC"),
    (re.compile(r"SEED(?:[_-]CBC)?"), "SEED", "128", "CBC"),
    (re.compile(r"SM4[_-](GCM|CCM)"), "SM4", "128", r"\1"),
    (re.compile(r"NULL"), "NULL", "0", ""),
)
_MAC_HASH = {"SHA": "SHA-1", "SHA1": "SHA-1", "SHA256": "SHA-256", "SHA384": "SHA-384", "MD5": "MD5"}
_KX = {"ECDHE": ("ECDH", False), "EECDH": ("ECDH", False), "ECDH": ("ECDH", True), "DHE": ("DH", False),
       "EDH": ("DH", False), "DH": ("DH", True), "RSA": ("RSA", False), "PSK": ("PSK", False),
       "SRP": ("SRP", False), "ADH": ("DH", False), "AECDH": ("ECDH", False)}
_AUTH = {"RSA": "RSA", "ECDSA": "ECDSA", "DSS": "DSA", "anon": "anon", "PSK": "PSK"}


def suite_mentions(name: str, effect: str) -> list[Mention] | None:
    """Mentions for one full cipher-suite name, IANA (``TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256``, TLS 1.3
    ``TLS_AES_128_GCM_SHA256``) or OpenSSL (``ECDHE-RSA-AES128-GCM-SHA256``, ``AES128-SHA``, ``DES-CBC3-SHA``).
    None when ``name`` is not a suite name."""
    up = name.upper()
    kx: str | None
    auth: str | None
    if up.startswith("TLS_") or up.startswith("SSL_"):
        body = up[4:]
        if "_WITH_" in body:
            head, rest = body.split("_WITH_", 1)
            parts = [p for p in head.split("_") if p != "EXPORT"]
            kx = parts[0]
            auth = "anon" if parts[-1] == "ANON" else (parts[1] if len(parts) > 1 else ("PSK" if kx == "PSK"
                                                                                      else "RSA"))
        else:
            kx, auth, rest = None, None, body
        m = re.fullmatch(r"(.+?)_(SHA|SHA256|SHA384|MD5)", rest)
        cipher_part, mac = (m.group(1), m.group(2)) if m else (rest, "")
    else:
        parts = up.split("-")
        if len(parts) < 2:
            return None
        kx, auth = "RSA", "RSA"
        i = 0
        if parts[0] in ("ECDHE", "EECDH", "DHE", "EDH", "ECDH", "DH", "ADH", "AECDH", "PSK", "SRP", "RSA"):
            kx = parts[0]
            i = 1
            auth = {"ADH": "anon", "AECDH": "anon", "PSK": "PSK", "SRP": "SRP"}.get(kx, "RSA")
            if i < len(parts) and parts[i] in ("RSA", "ECDSA", "DSS", "PSK"):
                auth = parts[i]
                i += 1
        mac = parts[-1] if parts[-1] in _MAC_HASH else ""
        cipher_part = "-".join(parts[i:len(parts) - (1 if mac else 0)])
        if not cipher_part:
            return None
    cipher = None
    for pattern, canon, bits, mode in _SUITE_CIPHERS:
        cm = pattern.fullmatch(cipher_part)
        if cm:
            cipher = (canon, cm.expand(bits), cm.expand(mode))
            break
    if cipher is None:
        return None
    out: list[Mention] = []
    if kx is not None:
        k, static = _KX.get(kx, (kx.replace("ANON", "anon"), False))
        if k not in ("PSK", "SRP"):
            out.append(Mention("key-exchange", k, "", effect, name,
                               {"key_transport": True} if k == "RSA" else ({"static": True} if static else {})))
    if auth is not None and _AUTH.get(auth.upper() if auth != "anon" else "anon", auth) in ("RSA", "ECDSA", "DSA"):
        out.append(Mention("signature", _AUTH[auth.upper()], "", effect, name))
    out.append(Mention("cipher", cipher[0], cipher[1], effect, name, {"mode": cipher[2]} if cipher[2] else {}))
    if mac and cipher[2] not in ("GCM", "CCM", "CCM8", "CCM_8", "AEAD"):
        out.append(Mention("mac", "HMAC", _MAC_HASH[mac], effect, name))
    return out


def cipher_string_mentions(value: str) -> tuple[list[Mention], list[str], dict[str, Any]]:
    """An OpenSSL cipher string (``ciphers(1)``): ``:`` / ``,`` / space separated; ``!`` disable, ``-`` remove,
    ``+`` move to the end; ``A+B`` intersections; ``@SECLEVEL=n``, ``@STRENGTH``. Not expanded."""
    mentions: list[Mention] = []
    aliases: list[str] = []
    extra: dict[str, Any] = {}
    for raw in re.split(r"[:,\s]+", value.strip().strip("'\"")):
        if not raw:
            continue
        if raw.startswith("@"):
            m = re.fullmatch(r"@SECLEVEL=(\d)", raw, re.I)
            if m:
                extra["seclevel"] = int(m.group(1))
            else:
                aliases.append(raw)
            continue
        effect = {"!": "disable", "-": "remove", "+": "deprioritise"}.get(raw[0], "enable")
        tok = raw[1:] if raw[0] in "!-+" else raw
        suite = suite_mentions(tok, effect)
        if suite is not None:
            mentions += suite
            continue
        for part in tok.split("+"):
            found = _OPENSSL_ALIASES.get(part.lower())
            if found is None:
                aliases.append(raw if part == tok else f"{raw} ({part})")
                continue
            for prim, alg, param, ex in found:
                mentions.append(Mention(prim, alg, param, effect, raw, dict(ex)))
    return mentions, aliases, extra


# --------------------------------------------------------------------------------------------------------
# Directive → findings
# --------------------------------------------------------------------------------------------------------

@dataclass
class _Ctx:
    findings: list[CryptoFinding]
    problems: list[str]
    seen: set[str]
    """Resolved paths already read (a file included and also found by the walk is inventoried once)."""
    stack: list[str] = field(default_factory=list)
    """The include chain being read, to tell a loop from a file simply seen before."""


def _emit(ctx: _Ctx, path: str, line: int, context: str, kind: str, value: str, mentions: list[Mention],
          family: str, extra: dict[str, Any] | None = None, aliases: Sequence[str] = ()) -> None:
    """One finding per distinct (primitive, algorithm, parameter) named by a directive."""
    location = f"{path}:{line}"
    base: dict[str, Any] = {"directive": context, "value": value, "kind": kind, **(extra or {})}
    if aliases:
        base["aliases"] = list(aliases)
    merged: dict[tuple[Primitive, str, str], dict[str, Any]] = {}
    for m in mentions:
        key = (m.primitive, m.algorithm, m.parameter)
        d = merged.setdefault(key, {"tokens": [], "effects": [], **m.extra})
        if m.token not in d["tokens"]:
            d["tokens"].append(m.token)
        d["effects"].append(m.effect)
        for k, v in m.extra.items():
            d.setdefault(k, v)
    if not merged:
        ctx.findings.append(CryptoFinding("config", location, "protocol", family, "", context, 1.0,
                                          {**base, "effect": "configure", "note": "no algorithm named"}))
        return
    for (prim, alg, param), d in merged.items():
        effects = d.pop("effects")
        effect = "disable" if "disable" in effects else effects[-1]
        ctx.findings.append(CryptoFinding("config", location, prim, alg, param, context, 1.0,
                                          {**base, **d, "effect": effect}))


def _tls_command(ctx: _Ctx, path: str, line: int, context: str, kind: str, command: str, value: str,
                 extra: dict[str, Any] | None = None) -> bool:
    """An OpenSSL ``SSL_CONF_cmd`` name and value (openssl.cnf, nginx ``ssl_conf_command``, Apache
    ``SSLOpenSSLConfCmd``). Returns False for commands that name no algorithm family handled here."""
    c = command.lower()
    if c in ("groups", "curves"):
        ms, aliases = group_mentions(value)
        _emit(ctx, path, line, context, kind, value, ms, "TLS", extra, aliases)
    elif c in ("signaturealgorithms", "clientsignaturealgorithms", "sigalgs", "client_sigalgs"):
        ms, aliases = sigalg_mentions(value)
        _emit(ctx, path, line, context, kind, value, ms, "TLS", extra, aliases)
    elif c in ("cipherstring", "cipher", "ciphersuites"):
        ms, aliases, more = cipher_string_mentions(value)
        _emit(ctx, path, line, context, kind, value, ms, "TLS", {**(extra or {}), **more}, aliases)
    elif c in ("minprotocol", "maxprotocol"):
        p = protocol_mention(value.strip().strip('"'), "minimum" if c == "minprotocol" else "maximum")
        _emit(ctx, path, line, context, kind, value, [p] if p else [], "TLS", extra,
              [] if p else [value.strip()])
    elif c == "protocol":
        _emit_protocols(ctx, path, line, context, kind, value, extra)
    else:
        return False
    return True


def _emit_protocols(ctx: _Ctx, path: str, line: int, context: str, kind: str, value: str,
                    extra: dict[str, Any] | None = None) -> None:
    """``ssl_protocols TLSv1.2 TLSv1.3``, ``SSLProtocol all -SSLv3 +TLSv1.2``, OpenSSL ``Protocol -TLSv1.1``."""
    ms: list[Mention] = []
    aliases: list[str] = []
    for raw in re.split(r"[\s,]+", value.strip().strip('"')):
        if not raw:
            continue
        effect = {"-": "remove", "+": "enable", "!": "disable"}.get(raw[0], "enable")
        m = protocol_mention(raw.lstrip("+-!"), effect)
        if m:
            ms.append(m)
        else:
            aliases.append(raw)
    _emit(ctx, path, line, context, kind, value, ms, "TLS", extra, aliases)


# --------------------------------------------------------------------------------------------------------
# Parsers per kind
# --------------------------------------------------------------------------------------------------------

def _resolve_includes(base_dir: Path, pattern: str) -> list[Path]:
    p = pattern.strip().strip("'\"")
    full = p if os.path.isabs(p) else str(base_dir / p)
    if any(ch in full for ch in "*?["):
        return sorted(Path(x) for x in glob.glob(full))
    path = Path(full)
    if path.is_dir():
        return sorted(x for x in path.iterdir() if x.is_file())
    return [path]


def _include(ctx: _Ctx, path: Path, line: int, pattern: str, parse: Callable[[_Ctx, Path, int, str], None],
             depth: int, optional: bool = False) -> None:
    targets = _resolve_includes(path.parent, pattern)
    if not targets or (len(targets) == 1 and not targets[0].exists()):
        if not optional and not any(ch in pattern for ch in "*?["):
            ctx.problems.append(f"config-include-missing: {path}:{line}: {pattern!r} not found")
        return
    for t in targets:
        _parse_file(ctx, t, parse, depth + 1, included_from=f"{path}:{line}")


def _read(ctx: _Ctx, path: Path) -> str | None:
    try:
        size = path.stat().st_size
        if size > MAX_CONFIG_BYTES:
            ctx.problems.append(f"config-too-large: {path}: {size} bytes over the {MAX_CONFIG_BYTES}-byte limit")
            return None
        data = path.read_bytes()
    except FileNotFoundError:
        ctx.problems.append(f"config-not-found: {path}: no such file")
        return None
    except OSError as exc:
        ctx.problems.append(f"config-unreadable: {path}: {exc.strerror or exc}")
        return None
    if b"\x00" in data[:4096]:
        return None
    return data.decode("utf-8", "replace")


def _parse_file(ctx: _Ctx, path: Path, parse: Callable[[_Ctx, Path, int, str], None], depth: int,
                included_from: str = "") -> None:
    key = str(path.resolve())
    if key in ctx.stack or depth > MAX_INCLUDE_DEPTH:
        ctx.problems.append(f"config-include-loop: {path}: included again from {included_from} "
                            f"(chain of {len(ctx.stack)})")
        return
    if key in ctx.seen:
        return
    ctx.seen.add(key)
    text = _read(ctx, path)
    if text is None:
        return
    before = len(ctx.findings)
    ctx.stack.append(key)
    try:
        parse(ctx, path, depth, text)
    finally:
        ctx.stack.pop()
    if included_from:
        for i in range(before, len(ctx.findings)):
            f = ctx.findings[i]
            ctx.findings[i] = CryptoFinding(f.source, f.location, f.primitive, f.algorithm, f.parameter, f.context,
                                            f.confidence, {**f.detail, "included_from": included_from})


# --- OpenSSL config(5)

_OPENSSL_TLS_KEYS = {"minprotocol", "maxprotocol", "protocol", "cipherstring", "ciphersuites", "groups", "curves",
                     "signaturealgorithms", "clientsignaturealgorithms"}


def _parse_openssl(ctx: _Ctx, path: Path, depth: int, text: str) -> None:
    section = "default"
    entries: list[tuple[str, int, str, str]] = []  # section, line, key, value
    values: dict[str, dict[str, str]] = {}
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        lineno = i + 1
        line = lines[i]
        while line.endswith("\\") and i + 1 < len(lines):
            i += 1
            line = line[:-1] + lines[i]
        i += 1
        s = re.sub(r"(?<!\\)#.*", "", line).strip()
        if not s:
            continue
        m = re.fullmatch(r"\[\s*([^\]]+?)\s*\]", s)
        if m:
            section = m.group(1)
            continue
        m = re.fullmatch(r"\.include\s*=?\s*(.+)", s)
        if m:
            _include(ctx, path, lineno, m.group(1), _parse_openssl, depth)
            continue
        if "=" not in s:
            continue
        k, v = (x.strip() for x in s.split("=", 1))
        v = v.strip('"\'')
        values.setdefault(section, {})[k] = v
        entries.append((section, lineno, k, v))
    applies: dict[str, str] = {}
    root = values.get("default", {}).get("openssl_conf")
    ssl_sect = values.get(root or "", {}).get("ssl_conf") if root else None
    for app, sect in (values.get(ssl_sect, {}) if ssl_sect else {}).items():
        applies[sect] = app
    for sect, lineno, k, v in entries:
        kl = k.lower()
        extra = {"section": sect, "applies_to": applies.get(sect, "unreferenced section")}
        if kl in _OPENSSL_TLS_KEYS:
            _tls_command(ctx, str(path), lineno, k, "openssl", k, v, extra)
        elif kl == "default_md":
            extra = {"section": sect}
            h = {"sha1": "SHA-1", "sha256": "SHA-256", "sha384": "SHA-384", "sha512": "SHA-512", "md5": "MD5",
                 "sha224": "SHA-224"}.get(v.lower())
            ms = [Mention("hash", h, "", "enable", v)] if h else []
            _emit(ctx, str(path), lineno, k, "openssl", v, ms, "X.509", extra, [] if h else [v])
        elif kl == "default_bits" and v.isdigit():
            extra = {"section": sect}
            _emit(ctx, str(path), lineno, k, "openssl", v, [Mention("key", "RSA", v, "enable", v)], "X.509", extra)


# --- nginx

def _nginx_tokens(text: str) -> Iterator[tuple[int, str, bool]]:
    """(line, token, quoted) plus the structural tokens ``;`` ``{`` ``}`` (nginx conf syntax)."""
    i, line, n = 0, 1, len(text)
    while i < n:
        c = text[i]
        if c == "\n":
            line += 1
            i += 1
        elif c.isspace():
            i += 1
        elif c == "#":
            while i < n and text[i] != "\n":
                i += 1
        elif c in ";{}":
            yield line, c, False
            i += 1
        elif c in "'\"":
            start_line = line
            j = i + 1
            buf = []
            while j < n and text[j] != c:
                if text[j] == "\\" and j + 1 < n:
                    j += 1
                if text[j] == "\n":
                    line += 1
                buf.append(text[j])
                j += 1
            if j >= n:
                raise ValueError(f"line {start_line}: unterminated quote")
            yield start_line, "".join(buf), True
            i = j + 1
        else:
            j = i
            while j < n and not text[j].isspace() and text[j] not in ";{}\"'#":
                j += 1
            yield line, text[i:j], False
            i = j


_NGINX_PREFIXES = ("proxy_", "grpc_", "uwsgi_", "zone_sync_")


def _parse_nginx(ctx: _Ctx, path: Path, depth: int, text: str) -> None:
    stack: list[str] = []
    words: list[tuple[int, str]] = []
    try:
        for line, tok, quoted in _nginx_tokens(text):
            if not quoted and tok == "{":
                stack.append(" ".join(w for _, w in words) or "{")
                words = []
            elif not quoted and tok == "}":
                if stack:
                    stack.pop()
                words = []
            elif not quoted and tok == ";":
                if words:
                    _nginx_directive(ctx, path, depth, words, " > ".join(stack))
                words = []
            else:
                words.append((line, tok))
    except ValueError as exc:
        ctx.problems.append(f"config-parse: {path}: {exc}")


def _nginx_directive(ctx: _Ctx, path: Path, depth: int, words: list[tuple[int, str]], block: str) -> None:
    line, name = words[0]
    args = [w for _, w in words[1:]]
    p = str(path)
    if name == "include" and args:
        _include(ctx, path, line, args[0], _parse_nginx, depth)
        return
    base = name
    extra: dict[str, Any] = {"block": block}
    for pre in _NGINX_PREFIXES:
        if name.startswith(pre + "ssl_"):
            base = name[len(pre):]
            extra["upstream"] = True
    value = " ".join(args)
    if base == "ssl_protocols":
        _emit_protocols(ctx, p, line, name, "nginx", value, extra)
    elif base == "ssl_ciphers":
        ms, aliases, more = cipher_string_mentions(value)
        _emit(ctx, p, line, name, "nginx", value, ms, "TLS", {**extra, **more}, aliases)
    elif base == "ssl_ecdh_curve":
        ms, aliases = group_mentions(value)
        _emit(ctx, p, line, name, "nginx", value, ms, "TLS", extra, aliases)
    elif base == "ssl_conf_command" and len(args) >= 2:
        _tls_command(ctx, p, line, f"{name} {args[0]}", "nginx", args[0], " ".join(args[1:]), extra)


# --- Apache httpd

def _split_args(s: str) -> list[str]:
    return [a[1:-1] if len(a) >= 2 and a[0] == a[-1] and a[0] in "'\"" else a
            for a in re.findall(r"\"[^\"]*\"|'[^']*'|\S+", s)]


def _parse_apache(ctx: _Ctx, path: Path, depth: int, text: str) -> None:
    lines = text.splitlines()
    stack: list[str] = []
    i = 0
    p = str(path)
    while i < len(lines):
        lineno = i + 1
        line = lines[i]
        while line.endswith("\\") and i + 1 < len(lines):
            i += 1
            line = line[:-1] + " " + lines[i]
        i += 1
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        m = re.fullmatch(r"<\s*(/?)\s*([A-Za-z]+)([^>]*)>", s)
        if m:
            if m.group(1):
                if stack:
                    stack.pop()
            else:
                stack.append(f"{m.group(2)}{m.group(3)}".strip())
            continue
        parts = s.split(None, 1)
        name, rest = parts[0], parts[1] if len(parts) > 1 else ""
        nl = name.lower()
        args = _split_args(rest)
        extra: dict[str, Any] = {"block": " > ".join(stack)}
        if nl in ("include", "includeoptional") and args:
            _include(ctx, path, lineno, args[0], _parse_apache, depth, optional=nl == "includeoptional")
        elif nl in ("sslprotocol", "sslproxyprotocol"):
            _emit_protocols(ctx, p, lineno, name, "apache", rest, extra)
        elif nl in ("sslciphersuite", "sslproxyciphersuite") and args:
            spec = args[-1]
            if len(args) >= 2:
                extra["protocol"] = args[0]
            ms, aliases, more = cipher_string_mentions(spec)
            _emit(ctx, p, lineno, name, "apache", rest, ms, "TLS", {**extra, **more}, aliases)
        elif nl == "sslopensslconfcmd" and len(args) >= 2:
            _tls_command(ctx, p, lineno, f"{name} {args[0]}", "apache", args[0], " ".join(args[1:]), extra)


# --- OpenSSH ssh_config(5) / sshd_config(5)

_SSH_LISTS: dict[str, tuple[Primitive, Callable[[str], Canonical]]] = {
    "kexalgorithms": ("key-exchange", canonical_kex),
    "ciphers": ("cipher", canonical_cipher),
    "macs": ("mac", canonical_mac),
    "hostkeyalgorithms": ("signature", canonical_host_key_algorithm),
    "pubkeyacceptedalgorithms": ("signature", canonical_host_key_algorithm),
    "pubkeyacceptedkeytypes": ("signature", canonical_host_key_algorithm),
    "hostbasedacceptedalgorithms": ("signature", canonical_host_key_algorithm),
    "hostbasedacceptedkeytypes": ("signature", canonical_host_key_algorithm),
    "casignaturealgorithms": ("signature", canonical_host_key_algorithm),
}


def _parse_ssh(ctx: _Ctx, path: Path, depth: int, text: str) -> None:
    kind = "ssh" if path.name.startswith("ssh_config") or path.parent.name == "ssh_config.d" else "sshd"
    block = ""
    p = str(path)
    for lineno, line in enumerate(text.splitlines(), start=1):
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        m = re.match(r"([A-Za-z]+)(?:\s*=\s*|\s+)(.*)$", s)
        if not m:
            continue
        name, value = m.group(1), m.group(2).strip().strip('"')
        nl = name.lower()
        if nl in ("match", "host"):
            block = f"{name} {value}"
            continue
        if nl == "include":
            for pat in value.split():
                _include(ctx, path, lineno, pat, _parse_ssh, depth)
            continue
        extra: dict[str, Any] = {"block": block} if block else {}
        if nl in _SSH_LISTS:
            primitive, canon = _SSH_LISTS[nl]
            modifier = value[:1] if value[:1] in "+-^" else ""
            effect = {"+": "append", "-": "remove", "^": "prepend"}.get(modifier, "enable")
            extra["modifier"] = modifier or "replace"
            ms: list[Mention] = []
            aliases: list[str] = []
            for name_ in (value[1:] if modifier else value).split(","):
                name_ = name_.strip()
                if not name_ or name_.startswith(("kex-strict-", "ext-info-")):
                    continue
                if any(ch in name_ for ch in "*?"):
                    aliases.append(name_)  # a wildcard pattern (allowed with - and in Match lists)
                    continue
                c = canon(name_)
                ex = {**c.facts, "ssh_name": name_}
                if not c.known:
                    ex["unrecognised"] = True
                ms.append(Mention(primitive, c.algorithm, c.parameter, effect, name_, ex))
            _emit(ctx, p, lineno, name, kind, value, ms, "SSH", extra, aliases)
        elif nl == "requiredrsasize" and value.isdigit():
            _emit(ctx, p, lineno, name, kind, value, [Mention("signature", "RSA", value, "minimum", value)], "SSH",
                  extra)


# --- Java java.security (java.util.Properties)

_JAVA_ALGS: dict[str, tuple[Primitive, str, str]] = {
    "rc4": ("cipher", "RC4", ""), "arcfour": ("cipher", "RC4", ""), "des": ("cipher", "DES", "56"),
    "desede": ("cipher", "3DES", "168"), "3des_ede_cbc": ("cipher", "3DES", "168"), "rc2": ("cipher", "RC2", ""),
    "md2": ("hash", "MD2", ""), "md5": ("hash", "MD5", ""), "sha1": ("hash", "SHA-1", ""),
    "sha-1": ("hash", "SHA-1", ""), "rsa": ("key", "RSA", ""), "dsa": ("key", "DSA", ""),
    "ec": ("key", "ECDSA", ""), "ecdsa": ("key", "ECDSA", ""), "dh": ("key-exchange", "DH", ""),
    "diffiehellman": ("key-exchange", "DH", ""), "ecdh": ("key-exchange", "ECDH", ""),
    "rsassa-pss": ("key", "RSA", ""), "eddsa": ("signature", "Ed25519", ""), "ed25519": ("signature", "Ed25519", ""),
    "ed448": ("signature", "Ed448", ""), "xdh": ("key-exchange", "X25519", ""),
    "x25519": ("key-exchange", "X25519", ""), "ml-dsa": ("signature", "ML-DSA", ""),
    "ml-kem": ("key-exchange", "ML-KEM", ""), "hmacmd5": ("mac", "HMAC", "MD5"),
}
_JAVA_LISTS = {"jdk.tls.disabledalgorithms": "disable", "jdk.certpath.disabledalgorithms": "disable",
               "jdk.jar.disabledalgorithms": "disable", "jdk.tls.legacyalgorithms": "legacy",
               "jdk.security.legacyalgorithms": "legacy"}


def _java_properties(text: str) -> Iterator[tuple[int, str, str]]:
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        lineno = i + 1
        line = lines[i].lstrip()
        i += 1
        if not line or line[0] in "#!":
            continue
        while line.endswith("\\") and not line.endswith("\\\\") and i < len(lines):
            line = line[:-1] + lines[i].lstrip()
            i += 1
        m = re.match(r"((?:\\.|[^=:\s])+)\s*[=:\s]\s*(.*)$", line)
        if m:
            yield lineno, m.group(1), m.group(2).strip()


def java_entry_mentions(entry: str, effect: str) -> tuple[list[Mention], str | None]:
    """One ``disabledAlgorithms`` entry (``RSA keySize < 1024``, ``SHA1 jdkCA & usage TLSServer``, ``TLSv1``,
    ``MD5withRSA``, ``TLS_RSA_*``, ``include jdk.disabled.namedCurves``)."""
    words = entry.split()
    if not words:
        return [], None
    alg, constraint = words[0], " ".join(words[1:])
    extra: dict[str, Any] = {"constraint": constraint} if constraint else {}
    if alg == "include":
        return [], entry
    p = protocol_mention(alg, effect)
    if p:
        return [p], None
    m = re.fullmatch(r"(MD2|MD5|SHA1|SHA224|SHA256|SHA384|SHA512)with(RSA|ECDSA|DSA|RSAandMGF1)", alg, re.I)
    if m:
        h = _SIG_HASH.get(m.group(1).lower(), m.group(1))
        sig = {"rsa": "RSA", "ecdsa": "ECDSA", "dsa": "DSA", "rsaandmgf1": "RSA"}[m.group(2).lower()]
        return [Mention("signature", sig, "", effect, entry, {**extra, "hash": h})], None
    if alg.upper().startswith(("TLS_", "SSL_")):
        if "*" in alg:
            kx = alg.upper().split("_")[1]
            k = _KX.get(kx)
            if k:
                return [Mention("key-exchange", k[0], "", effect, entry,
                                {**extra, "pattern": alg, **({"key_transport": True} if k[0] == "RSA" else {})})], None
            return [], entry
        suite = suite_mentions(alg, effect)
        return (suite or []), (None if suite else entry)
    g = _GROUPS.get(alg.lower())
    if g and alg.lower() not in ("dh", "ecdh"):
        return [Mention("key-exchange", g[0], g[1], effect, entry, extra)], None
    j = _JAVA_ALGS.get(alg.lower())
    if j:
        prim, a, param = j
        return [Mention(prim, a, param, effect, entry, {**extra, "java_name": alg})], None
    return [], entry


def _parse_java(ctx: _Ctx, path: Path, depth: int, text: str) -> None:
    p = str(path)
    for lineno, key, value in _java_properties(text):
        kl = key.lower()
        if kl in _JAVA_LISTS:
            effect = _JAVA_LISTS[kl]
            ms: list[Mention] = []
            aliases: list[str] = []
            for entry in value.split(","):
                found, alias = java_entry_mentions(entry.strip().strip('"'), effect)
                ms += found
                if alias:
                    aliases.append(alias)
            _emit(ctx, p, lineno, key, "java", value, ms, "Java", None, aliases)
        elif kl == "jdk.tls.namedgroups":
            ms, aliases = group_mentions(value)
            _emit(ctx, p, lineno, key, "java", value, ms, "TLS", None, aliases)
        elif kl in ("jdk.tls.server.signatureschemes", "jdk.tls.client.signatureschemes"):
            ms, aliases = sigalg_mentions(value)
            _emit(ctx, p, lineno, key, "java", value, ms, "TLS", None, aliases)
        elif kl in ("jdk.tls.client.protocols", "jdk.tls.server.protocols", "https.protocols"):
            _emit_protocols(ctx, p, lineno, key, "java", value)
        elif kl == "keystore.type":
            fmt = {"pkcs12": "PKCS#12", "jks": "JKS", "jceks": "JCEKS", "bks": "BKS"}.get(value.lower(), value)
            _emit(ctx, p, lineno, key, "java", value, [Mention("key", fmt, "", "keystore", value)], "Java")


# --------------------------------------------------------------------------------------------------------
# Recognition and the public entry point
# --------------------------------------------------------------------------------------------------------

_PARSERS: dict[str, Callable[[_Ctx, Path, int, str], None]] = {
    "openssl": _parse_openssl, "nginx": _parse_nginx, "apache": _parse_apache, "ssh": _parse_ssh,
    "java": _parse_java}


def config_kind(path: Path, text: str | None = None) -> str | None:
    """``openssl`` / ``nginx`` / ``apache`` / ``ssh`` / ``java`` by file name, then by content."""
    name = path.name
    parent = path.parent.name
    if name == "java.security":
        return "java"
    if name in ("sshd_config", "ssh_config") or parent in ("sshd_config.d", "ssh_config.d"):
        return "ssh"
    if name in ("openssl.cnf", "openssl.conf") or name.endswith(".cnf"):
        return "openssl"
    if name == "nginx.conf" or (parent in ("sites-available", "sites-enabled") and "nginx" in str(path)):
        return "nginx"
    if name in ("httpd.conf", "apache2.conf", "ssl.conf", "httpd-ssl.conf"):
        return "apache"
    if text is None:
        return None
    if re.search(r"^\s*jdk\.(tls|certpath)\.disabledAlgorithms\s*[=:]", text, re.M):
        return "java"
    if re.search(r"^\s*(ssl_protocols|ssl_ciphers|ssl_ecdh_curve|ssl_conf_command|ssl_certificate|"
                 r"proxy_ssl_\w+)\s[^;]*;", text, re.M):
        return "nginx"
    if re.search(r"^\s*(SSLProtocol|SSLCipherSuite|SSLOpenSSLConfCmd|SSLEngine|SSLProxyProtocol)\b", text, re.M | re.I):
        return "apache"
    if re.search(r"^\s*(KexAlgorithms|HostKeyAlgorithms|PubkeyAcceptedAlgorithms|PubkeyAcceptedKeyTypes|"
                 r"CASignatureAlgorithms)\b", text, re.M | re.I):
        return "ssh"
    if re.search(r"^\s*\[\s*[\w.]+\s*\]", text, re.M) and re.search(
            r"^\s*(CipherString|MinProtocol|openssl_conf|ssl_conf|Ciphersuites)\s*=", text, re.M):
        return "openssl"
    return None


_MAIN_NAMES = ("nginx.conf", "httpd.conf", "apache2.conf", "sshd_config", "ssh_config", "openssl.cnf",
               "java.security")


def _candidates(paths: Sequence[Path], problems: list[str]) -> list[tuple[Path, bool]]:
    """(file, explicitly named) pairs, main configuration files first so that their includes are read (and
    attributed) before the walk reaches the included files; symlinks to directories are not followed."""
    found = list(_walk_candidates(paths, problems))
    return sorted(found, key=lambda c: (c[0].name not in _MAIN_NAMES, str(c[0])))


def _walk_candidates(paths: Sequence[Path], problems: list[str]) -> Iterator[tuple[Path, bool]]:
    count = 0
    for root in paths:
        if not root.exists():
            problems.append(f"config-not-found: {root}: no such file or directory")
            continue
        if root.is_file():
            yield root, True
            continue
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames.sort()
            for fn in sorted(filenames):
                fp = Path(dirpath) / fn
                count += 1
                if count > MAX_FILES:
                    problems.append(f"config-too-large: {root}: more than {MAX_FILES} files; the rest skipped")
                    return
                if fp.is_file():
                    yield fp, False


def scan_config(paths: Sequence[Path]) -> ScanResult:
    """Inventory the algorithms named in OpenSSL, nginx, Apache, OpenSSH and Java configuration under ``paths``
    (files or directories). See the module docstring for directives, effects and naming. Never raises for
    file content: failures are ``problems``."""
    started = datetime.now(UTC)
    t0 = time.monotonic()
    ctx = _Ctx([], [], set())
    for fp, explicit in _candidates(paths, ctx.problems):
        kind = config_kind(fp)
        text: str | None = None
        if kind is None:
            if not explicit and fp.suffix.lower() not in (".conf", ".cnf", ".config", ".security", ".properties", ""):
                continue
            try:
                if fp.stat().st_size > MAX_CONFIG_BYTES:
                    if explicit:
                        ctx.problems.append(f"config-too-large: {fp}: over the {MAX_CONFIG_BYTES}-byte limit")
                    continue
                raw = fp.read_bytes()
            except OSError as exc:
                ctx.problems.append(f"config-unreadable: {fp}: {exc.strerror or exc}")
                continue
            text = None if b"\x00" in raw[:4096] else raw.decode("utf-8", "replace")
            kind = config_kind(fp, text) if text is not None else None
        if kind is None:
            if explicit:
                ctx.problems.append(f"config-unrecognised: {fp}: not an OpenSSL, nginx, Apache, OpenSSH or Java "
                                    f"security configuration")
            continue
        _parse_file(ctx, fp, _PARSERS[kind], 0)
    target = ", ".join(str(p) for p in paths)
    return ScanResult("config", target, tuple(ctx.findings), tuple(ctx.problems), started.isoformat(),
                      time.monotonic() - t0, 0)
