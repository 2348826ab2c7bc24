"""Build the authentication service from the settings (one obvious place for the wiring)."""

from __future__ import annotations

import ipaddress
import logging
import os
from typing import Any
from urllib.parse import urlsplit

from mamori.auth.breached import BreachedPasswords, default_breached_file
from mamori.auth.client_ip import parse_trusted_proxies
from mamori.auth.oidc import ClientConfigError, OidcProvider, SigningKeyError, SigningKeys, load_clients
from mamori.auth.passkeys import RelyingParty
from mamori.auth.passwords import PasswordHasher
from mamori.auth.policy import load_policy
from mamori.auth.service import AuthService
from mamori.auth.sessions import SessionManager
from mamori.auth.store import AuthStore
from mamori.auth.throttle import SourceThrottle, ThrottleConfig
from mamori.kit.errors import ConfigError
from mamori.kit.settings import Settings, ensure_private_dir
from mamori.notify.contacts import load_or_create_key

log = logging.getLogger("mamori.auth")


def origins_of(settings: Settings) -> list[str]:
    origins = [settings.auth_origin.rstrip("/")]
    origins += [o.strip().rstrip("/") for o in settings.auth_extra_origins.split(",") if o.strip()]
    for origin in origins:
        parts = urlsplit(origin)
        if parts.scheme not in ("https", "http") or not parts.hostname or parts.path not in ("", "/"):
            raise ConfigError(f"auth origin {origin!r} must look like https://login.example.co.jp")
        if parts.scheme == "http" and parts.hostname not in ("localhost", "127.0.0.1", "::1"):
            raise ConfigError(f"auth origin {origin!r}: passkeys need https (http only for localhost)")
    return origins


def trusted_proxies_of(settings: Settings) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    try:
        return parse_trusted_proxies(settings.auth_trusted_proxies)
    except ValueError as exc:
        raise ConfigError(f"MAMORI_AUTH_TRUSTED_PROXIES: {exc}") from None


def build_oidc_provider(settings: Settings) -> OidcProvider:
    """The OpenID Connect provider: issuer = the auth origin, signing key in the data directory (0600)."""
    origins = origins_of(settings)
    ensure_private_dir(settings.data_dir)
    try:
        clients = load_clients(settings.oidc_clients_path) if settings.oidc_clients_path else {}
        keys = SigningKeys.load_or_create(settings.data_dir / "oidc-signing-key.json")
    except (ClientConfigError, SigningKeyError) as exc:
        raise ConfigError(str(exc)) from None
    log.info("OpenID Connect issuer %s with %d client(s)", origins[0], len(clients))
    return OidcProvider(origins[0], keys, clients)


def build_auth_service(settings: Settings, risk: Any, oidc: OidcProvider | None = None) -> AuthService:
    """``risk`` is the running :class:`mamori.risk.service.RiskService` (same database, same engine)."""
    origins = origins_of(settings)
    rp_id = settings.auth_rp_id or (urlsplit(origins[0]).hostname or "localhost")
    store = AuthStore(risk.store.engine)
    raw = os.environ.get("MAMORI_CONTACTS_KEY")
    key = raw.encode() if raw else load_or_create_key(settings.data_dir / "contacts.key")
    breached_path = settings.auth_breached_passwords or default_breached_file(settings.data_dir)
    breached = BreachedPasswords.open(breached_path)
    asn_of = None
    geo = getattr(risk.engine, "geo", None)
    if geo is not None:
        def asn_of(ip: str) -> int | None:
            info = geo.lookup(ip)
            return getattr(info, "asn", None) if info is not None else None
    service = AuthService(
        store=store,
        sessions=SessionManager(store, idle_s=settings.auth_session_idle_minutes * 60,
                                absolute_s=settings.auth_session_absolute_hours * 3600),
        rp=RelyingParty(rp_id=rp_id, rp_name=settings.auth_rp_name, origins=origins),
        policy=load_policy(settings.auth_policy_path), hasher=PasswordHasher(),
        throttle=SourceThrottle(ThrottleConfig(), asn_of=asn_of), risk=risk, secret_key=key,
        audit=risk.store.audit, breached=breached)
    service.oidc = oidc
    log.info("customer authentication: rp_id=%s origins=%s", rp_id, ",".join(origins))
    return service
