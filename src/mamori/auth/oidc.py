"""OpenID Connect provider: authorization code flow with PKCE, for mamori's passkey-first login.

mamori's login pages authenticate the customer and create a session (a :class:`LoginContext`); this
module turns that session into an authorization code, then an access token and an ID token, for any
standard OIDC client library on the firm's trading site. No web framework here: the HTTP binding is
``mamori.api.oidc_routes``.

What is implemented, and where it comes from:

* OpenID Connect Core 1.0 (OIDC Core) authorization code flow (§3.1): authentication request (§3.1.2.1),
  errors (§3.1.2.6), token endpoint (§3.1.3), ID token (§2, §3.1.3.6 ``at_hash``), UserInfo (§5.3);
  RS256 signatures (§15.1: the algorithm every OP must support).
* OAuth 2.0, RFC 6749: redirect URI rules (§3.1.2), authorization errors (§4.1.2.1), single-use codes
  with revocation on replay (§4.1.2), client authentication (§2.3.1), token errors (§5.2).
* PKCE, RFC 7636, ``S256`` only (``plain`` is refused, as the OAuth 2.0 Security BCP, RFC 9700 §2.1.1,
  recommends); PKCE is required of every client, confidential or public.
* OpenID Connect Discovery 1.0 (§3), JWKS (RFC 7517 §5) with RFC 7638 thumbprints as ``kid``.
* ``amr`` values from RFC 8176 §2; ``acr`` values below; ``iss`` in every authorization response
  (RFC 9207 §2), including errors.
* ``unmet_authentication_requirements`` (OpenID Connect Core Error Code
  unmet_authentication_requirements 1.0) when a fresh login still does not reach the required ``acr``.

Not supported (and said so in the discovery document): request objects, ``request_uri``, the ``claims``
parameter, refresh tokens, implicit and hybrid flows, dynamic registration.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import os
import re
import secrets
import stat
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Protocol
from urllib.parse import unquote_plus, urlencode, urlsplit, urlunsplit

import yaml
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeyParameters, KeySet, RSAKey

log = logging.getLogger("mamori.auth.oidc")

# --------------------------------------------------------------------------------------------------
# Authentication context: acr and amr
# --------------------------------------------------------------------------------------------------

#: A passkey (WebAuthn) login: phishing-resistant, the ``phr`` value of OpenID Extended Authentication
#: Profile (EAP) ACR Values 1.0 §2.
ACR_PHISHING_RESISTANT: Final = "phr"
#: Password plus a second factor that is not phishing-resistant (TOTP).
ACR_MFA: Final = "urn:mamori:acr:mfa"
#: Password only.
ACR_PASSWORD: Final = "urn:mamori:acr:password"  # noqa: S105 (not a secret)

#: The ``acr`` values mamori knows, weakest first. A login *satisfies* a requested value when its own
#: value is at least as strong: a passkey login satisfies a request for ``urn:mamori:acr:mfa``; a
#: password login does not satisfy ``phr`` (the provider then sends the customer to log in again).
ACR_STRENGTH_ORDER: Final[tuple[str, ...]] = (ACR_PASSWORD, ACR_MFA, ACR_PHISHING_RESISTANT)
_ACR_RANK: Final = {value: rank for rank, value in enumerate(ACR_STRENGTH_ORDER, start=1)}

#: Typical ``amr`` values (RFC 8176 §2) per login kind, for the session layer to use.
AMR_PASSKEY: Final = ("pop", "user", "mfa")
AMR_PASSWORD_TOTP: Final = ("pwd", "otp", "mfa")
AMR_PASSWORD: Final = ("pwd",)


def acr_rank(acr: str | None) -> int:
    """Strength of an ``acr`` value: 0 for unknown values, then 1, 2, 3 in :data:`ACR_STRENGTH_ORDER`."""
    return _ACR_RANK.get(acr or "", 0)


def acr_satisfies(actual: str, required: str | None) -> bool:
    """Whether a login with ``actual`` meets ``required`` (``None``: no requirement)."""
    return required is None or acr_rank(actual) >= acr_rank(required) > 0


@dataclass(frozen=True)
class LoginContext:
    """An authenticated session, as mamori's session layer hands it over.

    ``auth_time`` is when the customer last actively authenticated (unix seconds, OIDC Core §2
    ``auth_time``); ``amr`` uses RFC 8176 values; ``acr`` one of the ``ACR_*`` constants.
    ``session_id`` never leaves mamori: ID tokens carry a one-way ``sid`` derived from it.
    """

    subject: str
    session_id: str
    auth_time: int
    amr: tuple[str, ...]
    acr: str


# --------------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------------


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _sha256_hex(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


_PKCE_VERIFIER = re.compile(r"[A-Za-z0-9\-._~]{43,128}")  # RFC 7636 §4.1
_S256_CHALLENGE = re.compile(r"[A-Za-z0-9_-]{43}")  # RFC 7636 §4.2: BASE64URL(SHA-256) is 43 characters
_SCOPE_TOKEN = re.compile(r"[\x21\x23-\x5B\x5D-\x7E]+")  # RFC 6749 §3.3
_CLIENT_ID = re.compile(r"[A-Za-z0-9._~-]{1,128}")  # unreserved: form-encoding (RFC 6749 §2.3.1) is a no-op
_B64TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*")  # RFC 6750 §2.1
_MAX_PARAM_LEN = 4096


def pkce_s256(code_verifier: str) -> str:
    """``BASE64URL(SHA256(ASCII(code_verifier)))``, RFC 7636 §4.2."""
    return _b64url(hashlib.sha256(code_verifier.encode("ascii")).digest())


def verify_pkce_s256(code_verifier: str, code_challenge: str) -> bool:
    """RFC 7636 §4.6: the verifier must be well-formed (§4.1) and hash to the challenge."""
    if not _PKCE_VERIFIER.fullmatch(code_verifier):
        return False
    return hmac.compare_digest(pkce_s256(code_verifier), code_challenge)


def _half_hash(value: str) -> str:
    """OIDC Core §3.1.3.6 ``at_hash`` for RS256: left half of SHA-256 of the ASCII value, base64url."""
    digest = hashlib.sha256(value.encode("ascii")).digest()
    return _b64url(digest[: len(digest) // 2])


def _session_sid(session_id: str) -> str:
    """A stable, one-way ``sid`` (OIDC Front-Channel Logout 1.0 §3) so the session id never leaves."""
    return _b64url(hashlib.sha256(b"mamori-oidc-sid\x00" + session_id.encode("utf-8")).digest())


_DESCRIPTION_CHARS = re.compile(r"[^\x20\x21\x23-\x5B\x5D-\x7E]")


def _description(text: str) -> str:
    """RFC 6749 §4.1.2.1 / §5.2: ``error_description`` is limited to %x20-21 / %x23-5B / %x5D-7E."""
    return _DESCRIPTION_CHARS.sub("", text)


def _add_query(uri: str, params: Sequence[tuple[str, str]]) -> str:
    """Append parameters, keeping the redirect URI's own query (RFC 6749 §3.1.2)."""
    parts = urlsplit(uri)
    query = "&".join(q for q in (parts.query, urlencode(params)) if q)
    return urlunsplit(parts._replace(query=query))


def _atomic_write(path: Path, data: bytes, *, exclusive: bool) -> bool:
    """Write ``data`` to ``path`` with mode 0600 through a temporary file in the same directory, then
    fsync. ``exclusive``: only if ``path`` does not exist yet (returns False if it does)."""
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)  # mode 0600
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        if exclusive:
            try:
                os.link(tmp, path)  # atomic create-if-absent: two starting processes agree on one key
            except FileExistsError:
                return False
        else:
            os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    return True


# --------------------------------------------------------------------------------------------------
# Signing keys (RFC 7517 JWK, RFC 7638 thumbprint kid)
# --------------------------------------------------------------------------------------------------


class SigningKeyError(RuntimeError):
    """The signing key file is unreadable, malformed, too weak or readable by others."""


_MIN_RSA_BITS: Final = 2048


class SigningKeys:
    """The RS256 signing key (OIDC Core §15.1) and the previous public key, kept in the JWKS so that
    tokens signed before :meth:`rotate` still verify.

    The file is JSON: ``{"current": <private JWK>, "previous": [<public JWK>]}``, mode 0600, written
    atomically; ``kid`` is the RFC 7638 thumbprint. Keys are read once: after ``rotate()`` in another
    process (for example a CLI), restart the server to sign with the new key.
    """

    def __init__(self, current: RSAKey, previous: Sequence[RSAKey] = (), *, path: Path | None = None) -> None:
        _check_rsa_key(current, private=True)
        self._current = current
        self._previous = tuple(previous)
        self.path = path

    @classmethod
    def generate(cls, *, key_size: int = _MIN_RSA_BITS, path: Path | None = None) -> SigningKeys:
        """New keys held in memory only (``path=None``), e.g. for tests."""
        return cls(_new_rsa_key(key_size), path=path)

    @classmethod
    def load_or_create(cls, path: Path, *, key_size: int = _MIN_RSA_BITS) -> SigningKeys:
        """Read the key file, or create it with a new key. A file group or others can access is refused."""
        path = Path(path)
        if not path.exists():
            created = cls.generate(key_size=key_size, path=path)
            if _atomic_write(path, created._serialize(), exclusive=True):
                return created
            # another process created it first: use theirs
        mode = path.stat().st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise SigningKeyError(f"OIDC signing key file {path} is accessible to group or others "
                                  f"(mode {stat.S_IMODE(mode):o}); chmod 600 it")  # fmt: skip
        try:
            data = json.loads(path.read_bytes())
            current = RSAKey.import_key(data["current"])
            previous = [RSAKey.import_key(k) for k in data.get("previous", [])]
        except (OSError, ValueError, KeyError, TypeError, AttributeError, JoseError) as exc:
            raise SigningKeyError(f"OIDC signing key file {path} is not a valid key file: {exc}") from None
        try:
            for key in previous:
                _check_rsa_key(key, private=False)
            return cls(current, previous, path=path)
        except SigningKeyError as exc:
            raise SigningKeyError(f"OIDC signing key file {path}: {exc}") from None

    @property
    def kid(self) -> str:
        """The ``kid`` of the key that signs new tokens."""
        return str(self._current.kid)

    def signing_key(self) -> RSAKey:
        return self._current

    def jwks(self) -> dict[str, Any]:
        """The public JWK Set (RFC 7517 §5): the current key, then the previous one."""
        keys = [self._current.as_dict(private=False), *(k.as_dict(private=False) for k in self._previous)]
        return {"keys": keys}

    def key_set(self) -> KeySet:
        """The public keys as a joserfc KeySet (for verifying tokens this provider issued)."""
        return KeySet.import_key_set({"keys": self.jwks()["keys"]})

    def rotate(self, *, key_size: int = _MIN_RSA_BITS) -> str:
        """Sign with a new key from now on; the current key's public part stays in the JWKS (only the
        most recent previous key is kept). Writes the file when there is one. Returns the new ``kid``."""
        new = _new_rsa_key(key_size)
        previous = (RSAKey.import_key(self._current.as_dict(private=False)),)
        if self.path is not None:
            _atomic_write(self.path, self._serialize(new, previous), exclusive=False)
        self._current, self._previous = new, previous
        return self.kid

    def _serialize(self, current: RSAKey | None = None, previous: Sequence[RSAKey] | None = None) -> bytes:
        cur = self._current if current is None else current
        prev = self._previous if previous is None else previous
        doc = {"current": cur.as_dict(private=True), "previous": [k.as_dict(private=False) for k in prev]}
        return (json.dumps(doc, indent=1) + "\n").encode("ascii")


def _new_rsa_key(key_size: int) -> RSAKey:
    if key_size < _MIN_RSA_BITS:
        raise SigningKeyError(f"RSA keys must have at least {_MIN_RSA_BITS} bits, not {key_size}")
    parameters: KeyParameters = {"alg": "RS256", "use": "sig"}
    key = RSAKey.generate_key(key_size, parameters=parameters, private=True)
    key.ensure_kid()
    return key


def _check_rsa_key(key: RSAKey, *, private: bool) -> None:
    if private and not key.is_private:
        raise SigningKeyError("the current key has no private part")
    size = key.public_key.key_size
    if size < _MIN_RSA_BITS:
        raise SigningKeyError(f"RSA key {key.kid} has {size} bits; at least {_MIN_RSA_BITS} are required")
    if key.kid != key.thumbprint():
        raise SigningKeyError(f"key id {key.kid!r} is not the RFC 7638 thumbprint of its key")
    if key.alg not in (None, "RS256"):
        raise SigningKeyError(f"key {key.kid} is for {key.alg}, not RS256")


# --------------------------------------------------------------------------------------------------
# Clients
# --------------------------------------------------------------------------------------------------


class ClientConfigError(ValueError):
    """A client registration is invalid; the message names the file, the client and the field."""

    def __init__(self, message: str, *, field: str = "", problem: str = "") -> None:
        super().__init__(message)
        self.field = field
        self.problem = problem or message


_AUTH_METHODS: Final = ("client_secret_basic", "client_secret_post", "none")
_LOOPBACK_HOSTS: Final = frozenset({"localhost", "127.0.0.1", "::1"})
_SECRET_HASH = re.compile(r"[0-9a-f]{64}")


def redirect_uri_problem(uri: str) -> str | None:
    """Why ``uri`` may not be registered, or None. RFC 6749 §3.1.2: absolute, no fragment; mamori also
    requires https (http only for localhost / 127.0.0.1 / [::1] in development), and no wildcards or
    user information (matching is exact, OAuth 2.0 Security BCP RFC 9700 §4.1.3)."""
    if not isinstance(uri, str) or not uri:
        return "must be a non-empty string"
    if not uri.isascii() or any(c.isspace() or ord(c) < 0x20 or c == "\x7f" for c in uri):
        return "must be ASCII without spaces or control characters"
    if "*" in uri:
        return "must not contain wildcards (redirect URIs are matched exactly)"
    if "#" in uri:
        return "must not contain a fragment (RFC 6749 §3.1.2)"
    parts = urlsplit(uri)
    try:
        parts.port  # noqa: B018  (raises ValueError on a bad port)
    except ValueError:
        return "has an invalid port"
    if "@" in parts.netloc:
        return "must not contain user information"
    if not parts.hostname:
        return "must be an absolute URI with a host"
    if parts.scheme == "https":
        return None
    if parts.scheme == "http" and parts.hostname in _LOOPBACK_HOSTS:
        return None
    return "must use https (http is allowed only for localhost, 127.0.0.1 and [::1])"


@dataclass(frozen=True)
class OidcClient:
    """A registered relying party (OIDC Core §2 ``aud``; RFC 6749 §2).

    Confidential clients set ``client_secret_sha256`` (hex SHA-256 of the secret, see
    :func:`new_client_secret`) and may authenticate with ``client_secret_basic`` or
    ``client_secret_post``; public clients set ``token_endpoint_auth_method="none"`` and no secret.
    ``require_acr``: every login for this client must reach at least this ``acr``.
    """

    client_id: str
    redirect_uris: tuple[str, ...]
    client_secret_sha256: str | None = None
    token_endpoint_auth_method: str = "client_secret_basic"  # noqa: S105 (a method name)
    scopes: frozenset[str] = frozenset({"openid"})
    require_acr: str | None = None
    name: str = ""

    def __post_init__(self) -> None:
        problem = self._problem()
        if problem is not None:
            field_name, message = problem
            raise ClientConfigError(f"client {self.client_id!r}: {field_name}: {message}",
                                    field=field_name, problem=message)

    @property
    def is_public(self) -> bool:
        return self.token_endpoint_auth_method == "none"  # noqa: S105 (a method name)

    def _problem(self) -> tuple[str, str] | None:
        if not isinstance(self.client_id, str) or not _CLIENT_ID.fullmatch(self.client_id):
            return "client_id", "1-128 characters of A-Z a-z 0-9 . _ ~ -"
        if not self.redirect_uris:
            return "redirect_uris", "at least one redirect URI is required"
        for i, uri in enumerate(self.redirect_uris):
            if (why := redirect_uri_problem(uri)) is not None:
                return f"redirect_uris[{i}]", why
        if self.token_endpoint_auth_method not in _AUTH_METHODS:
            return "token_endpoint_auth_method", f"must be one of {', '.join(_AUTH_METHODS)}"
        if self.is_public and self.client_secret_sha256 is not None:
            return "client_secret_sha256", "a public client (token_endpoint_auth_method: none) has no secret"
        if not self.is_public and (self.client_secret_sha256 is None
                                   or not _SECRET_HASH.fullmatch(self.client_secret_sha256)):
            return "client_secret_sha256", ("64 lowercase hex digits (SHA-256 of the secret) are required, "
                                            "or token_endpoint_auth_method: none for a public client")
        if "openid" not in self.scopes:
            return "scopes", "must include openid"
        for scope in self.scopes:
            if not isinstance(scope, str) or not _SCOPE_TOKEN.fullmatch(scope):
                return "scopes", f"{scope!r} is not a valid scope token (RFC 6749 §3.3)"
        if self.require_acr is not None and self.require_acr not in _ACR_RANK:
            return "require_acr", f"must be one of {', '.join(ACR_STRENGTH_ORDER)}"
        return None


def hash_client_secret(secret: str) -> str:
    """Hex SHA-256 of a client secret, the form kept in the clients file. Secrets are 256-bit random
    values (:func:`new_client_secret`), so a fast hash is enough; comparison is constant-time."""
    return _sha256_hex(secret)


def new_client_secret() -> tuple[str, str]:
    """A new client secret and its hash: ``(secret for the client, client_secret_sha256 for the file)``."""
    secret = secrets.token_urlsafe(32)
    return secret, hash_client_secret(secret)


_CLIENT_FIELDS: Final = frozenset({"client_id", "name", "redirect_uris", "client_secret_sha256",
                                   "token_endpoint_auth_method", "scopes", "require_acr"})


def load_clients(path: str | os.PathLike[str]) -> dict[str, OidcClient]:
    """Read client registrations from YAML::

        clients:
          - client_id: trading-web
            name: Trading site
            redirect_uris: [https://trade.example.jp/oidc/callback]
            client_secret_sha256: 9f86d081...   # from new_client_secret()
            require_acr: phr                     # optional
          - client_id: trading-app
            token_endpoint_auth_method: none     # public client (PKCE only)
            redirect_uris: [https://trade.example.jp/app/callback]

    Errors name the file, the entry and the field.
    """
    source = Path(path)
    try:
        doc = yaml.safe_load(source.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ClientConfigError(f"{source}: cannot read clients file: {exc}") from None
    if not isinstance(doc, dict) or set(doc) != {"clients"} or not isinstance(doc["clients"], list):
        raise ClientConfigError(f"{source}: expected a mapping with one key, clients: a list of clients")
    clients: dict[str, OidcClient] = {}
    for i, entry in enumerate(doc["clients"]):
        where = f"{source}: clients[{i}]"
        client = _client_from_entry(entry, where)
        if client.client_id in clients:
            raise ClientConfigError(f"{where}: client_id: {client.client_id!r} is registered twice")
        clients[client.client_id] = client
    return clients


def _client_from_entry(entry: object, where: str) -> OidcClient:
    if not isinstance(entry, dict):
        raise ClientConfigError(f"{where}: expected a mapping")
    if isinstance(entry.get("client_id"), str):
        where += f" ({entry['client_id']})"
    unknown = sorted(str(k) for k in set(entry) - _CLIENT_FIELDS)
    if unknown:
        raise ClientConfigError(f"{where}: {unknown[0]}: unknown field (known: {', '.join(sorted(_CLIENT_FIELDS))})")
    for required in ("client_id", "redirect_uris"):
        if required not in entry:
            raise ClientConfigError(f"{where}: {required}: required")
    for list_field in ("redirect_uris", "scopes"):
        if list_field in entry and not (isinstance(entry[list_field], list)
                                        and all(isinstance(v, str) for v in entry[list_field])):
            raise ClientConfigError(f"{where}: {list_field}: expected a list of strings")
    for str_field in ("client_id", "name", "client_secret_sha256", "token_endpoint_auth_method", "require_acr"):
        if str_field in entry and not isinstance(entry[str_field], str):
            raise ClientConfigError(f"{where}: {str_field}: expected a string")
    fields: dict[str, Any] = dict(entry)
    fields["redirect_uris"] = tuple(entry["redirect_uris"])
    if "scopes" in entry:
        fields["scopes"] = frozenset(entry["scopes"])
    try:
        return OidcClient(**fields)
    except ClientConfigError as exc:
        raise ClientConfigError(f"{where}: {exc.field}: {exc.problem}") from None


# --------------------------------------------------------------------------------------------------
# Codes and access tokens (stored hashed: a leaked store holds nothing usable)
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CodeGrant:
    """What an authorization code stands for; bound to the client and the redirect URI (RFC 6749 §4.1.3)."""

    client_id: str
    redirect_uri: str
    code_challenge: str
    scope: tuple[str, ...]
    nonce: str | None
    login: LoginContext
    expires_at: float


@dataclass(frozen=True)
class AccessTokenRecord:
    """An opaque access token (RFC 6750), usable at the UserInfo endpoint until ``expires_at``."""

    subject: str
    client_id: str
    scope: tuple[str, ...]
    session_id: str
    code_hash: str
    expires_at: float


class CodeStore(Protocol):
    """Authorization codes keyed by the SHA-256 hex of the code. A SQL or Redis implementation must make
    :meth:`take` atomic (``UPDATE ... SET used = true ... RETURNING`` the previous value, ``GETSET``)."""

    def put(self, code_hash: str, grant: CodeGrant, *, keep_until: float, now: float) -> None:
        """Store a new code; forget it (used or not) after ``keep_until``."""

    def take(self, code_hash: str, *, now: float) -> tuple[CodeGrant, bool] | None:
        """Mark the code used and return ``(grant, first_use)``; None when unknown or forgotten."""

    def drop_session(self, session_id: str) -> None:
        """Forget the codes issued for a session (logout)."""


class TokenStore(Protocol):
    """Access tokens keyed by the SHA-256 hex of the token."""

    def put(self, token_hash: str, record: AccessTokenRecord, *, now: float) -> None: ...

    def get(self, token_hash: str, *, now: float) -> AccessTokenRecord | None:
        """The token's record, or None when it is unknown, expired or revoked."""

    def revoke_code(self, code_hash: str) -> int:
        """Revoke the tokens issued for an authorization code; returns how many."""

    def revoke_session(self, session_id: str) -> int:
        """Revoke the tokens of a session; returns how many."""


_PURGE_EVERY_S: Final = 30.0


@dataclass
class _CodeEntry:
    grant: CodeGrant
    keep_until: float
    used: bool = False


class MemoryCodeStore:
    """In-process :class:`CodeStore` (one server process). Expired entries are purged every 30 s."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[str, _CodeEntry] = {}
        self._next_purge = float("-inf")

    def put(self, code_hash: str, grant: CodeGrant, *, keep_until: float, now: float) -> None:
        with self._lock:
            self._purge(now)
            self._entries[code_hash] = _CodeEntry(grant, keep_until)

    def take(self, code_hash: str, *, now: float) -> tuple[CodeGrant, bool] | None:
        with self._lock:
            self._purge(now)
            entry = self._entries.get(code_hash)
            if entry is None or entry.keep_until <= now:
                return None
            first_use, entry.used = not entry.used, True
            return entry.grant, first_use

    def drop_session(self, session_id: str) -> None:
        with self._lock:
            for code_hash in [h for h, e in self._entries.items() if e.grant.login.session_id == session_id]:
                del self._entries[code_hash]

    def __len__(self) -> int:
        return len(self._entries)

    def _purge(self, now: float) -> None:
        if now >= self._next_purge:
            self._entries = {h: e for h, e in self._entries.items() if e.keep_until > now}
            self._next_purge = now + _PURGE_EVERY_S


class MemoryTokenStore:
    """In-process :class:`TokenStore`. Expired tokens are purged every 30 s."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tokens: dict[str, AccessTokenRecord] = {}
        self._next_purge = float("-inf")

    def put(self, token_hash: str, record: AccessTokenRecord, *, now: float) -> None:
        with self._lock:
            if now >= self._next_purge:
                self._tokens = {h: r for h, r in self._tokens.items() if r.expires_at > now}
                self._next_purge = now + _PURGE_EVERY_S
            self._tokens[token_hash] = record

    def get(self, token_hash: str, *, now: float) -> AccessTokenRecord | None:
        record = self._tokens.get(token_hash)
        return record if record is not None and record.expires_at > now else None

    def revoke_code(self, code_hash: str) -> int:
        return self._revoke_where(lambda r: r.code_hash == code_hash)

    def revoke_session(self, session_id: str) -> int:
        return self._revoke_where(lambda r: r.session_id == session_id)

    def __len__(self) -> int:
        return len(self._tokens)

    def _revoke_where(self, match: Callable[[AccessTokenRecord], bool]) -> int:
        with self._lock:
            doomed = [h for h, r in self._tokens.items() if match(r)]
            for token_hash in doomed:
                del self._tokens[token_hash]
            return len(doomed)


# --------------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------------


class OidcError(Exception):
    """An OAuth 2.0 / OIDC error: ``error`` code and an ASCII ``description`` safe to send."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(f"{error}: {description}" if error else description)
        self.error = error
        self.description = _description(description)


class AuthorizationPageError(OidcError):
    """The client or redirect URI is missing or invalid: show an error page, never redirect
    (RFC 6749 §4.1.2.1, OIDC Core §3.1.2.6). The description never echoes request values."""


class AuthorizationRedirectError(OidcError):
    """An error returned to the client at its redirect URI with ``error``, ``error_description``,
    ``state`` and ``iss`` (RFC 6749 §4.1.2.1, OIDC Core §3.1.2.6, RFC 9207 §2)."""

    def __init__(self, error: str, description: str, *, redirect_url: str) -> None:
        super().__init__(error, description)
        self.redirect_url = redirect_url


class TokenError(OidcError):
    """A token endpoint error (RFC 6749 §5.2): JSON ``body``, HTTP ``status`` and extra ``headers``."""

    def __init__(self, error: str, description: str, *, status: int = 400,
                 headers: Mapping[str, str] | None = None) -> None:
        super().__init__(error, description)
        self.status = status
        self.headers: dict[str, str] = dict(headers or {})

    @property
    def body(self) -> dict[str, str]:
        return {"error": self.error, "error_description": self.description}


class BearerTokenError(OidcError):
    """A protected-resource error (RFC 6750 §3). ``error`` is empty when the request carried no token
    (§3.1: then no error code is sent)."""

    def __init__(self, error: str, description: str, *, status: int = 401) -> None:
        super().__init__(error, description)
        self.status = status

    @property
    def www_authenticate(self) -> str:
        value = f'Bearer realm="{_REALM}"'
        if self.error:
            value += f', error="{self.error}", error_description="{self.description}"'
        return value


_REALM: Final = "mamori"
_BASIC_CHALLENGE: Final = {"WWW-Authenticate": f'Basic realm="{_REALM}"'}


def _invalid_client(description: str = "client authentication failed") -> TokenError:
    return TokenError("invalid_client", description, status=401, headers=_BASIC_CHALLENGE)


# --------------------------------------------------------------------------------------------------
# The provider
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AuthorizationRequest:
    """A validated authentication request (OIDC Core §3.1.2.1, RFC 7636 §4.3).

    ``required_acr`` is the weakest ``acr`` the login must reach: the stronger of the client's
    ``require_acr`` and the weakest known value in ``acr_values`` (any listed value would do).
    ``login_started_at`` is set when mamori itself sent the customer to log in for this request.
    """

    client: OidcClient
    redirect_uri: str
    scope: tuple[str, ...]
    code_challenge: str
    state: str | None = None
    nonce: str | None = None
    prompt: frozenset[str] = frozenset()
    max_age: int | None = None
    acr_values: tuple[str, ...] = ()
    required_acr: str | None = None
    login_started_at: int | None = None
    params: tuple[tuple[str, str], ...] = field(default=(), repr=False)


@dataclass(frozen=True)
class RedirectToClient:
    """Send the browser to ``url`` (the client's redirect URI with ``code``, ``state`` and ``iss``)."""

    url: str


@dataclass(frozen=True)
class RedirectToLogin:
    """The customer must log in first; afterwards the login page sends the browser to ``next_path``
    (the authorization endpoint path and query on this origin, never an absolute URL)."""

    next_path: str


LOGIN_MARKER: Final = "mamori_login_at"
"""Query parameter added to the return path when mamori sends the customer to log in: logins at or
after that time count as fresh, so ``prompt=login`` and ``max_age`` ask for one re-authentication, not
a loop. Forging it only weakens the forger's own request (RPs must check ``auth_time`` anyway)."""

#: The login page only follows ``next`` paths up to this length (``mamori.api.auth_pages.safe_next``).
MAX_RETURN_PATH_LEN: Final = 2048
_RESUMED_PARAMS: Final = frozenset({"client_id", "redirect_uri", "response_type", "response_mode", "scope", "state",
                                    "nonce", "code_challenge", "code_challenge_method", "prompt", "max_age",
                                    "acr_values"})
_PROMPTS: Final = frozenset({"none", "login", "consent", "select_account"})
_UNSUPPORTED_PARAMS: Final = (
    ("request", "request_not_supported", "request objects are not supported (OpenID Connect Core 6)"),
    ("request_uri", "request_uri_not_supported", "request_uri is not supported (OpenID Connect Core 6)"),
    ("registration", "registration_not_supported", "dynamic registration is not supported"),
    ("claims", "invalid_request", "the claims parameter is not supported (claims_parameter_supported: false)"),
)
_ID_TOKEN_CLAIMS: Final = ("iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr", "sid", "at_hash")


def _check_issuer(issuer: str) -> None:
    """OIDC Discovery §3 / RFC 8414 §2: https, no query or fragment; no trailing slash (exact match)."""
    parts = urlsplit(issuer)
    loopback_http = parts.scheme == "http" and parts.hostname in _LOOPBACK_HOSTS
    if (parts.scheme != "https" and not loopback_http) or not parts.hostname or "@" in parts.netloc:
        raise ValueError(f"issuer {issuer!r} must be an https URL (http only for localhost in development)")
    if "?" in issuer or "#" in issuer or issuer.endswith("/"):
        raise ValueError(f"issuer {issuer!r} must have no query, fragment or trailing slash")


class OidcProvider:
    """The OpenID Provider: discovery, JWKS, authorization, token and UserInfo logic.

    Codes live ``code_ttl_s`` seconds and are single use; a replayed code revokes the access tokens
    issued for it (RFC 6749 §4.1.2). Stores default to in-process memory (one server process).
    """

    def __init__(
        self,
        issuer: str,
        keys: SigningKeys,
        clients: Mapping[str, OidcClient],
        *,
        code_ttl_s: int = 60,
        access_token_ttl_s: int = 600,
        id_token_ttl_s: int = 600,
        clock: Callable[[], float] = time.time,
        code_store: CodeStore | None = None,
        token_store: TokenStore | None = None,
        end_session_endpoint: str | None = None,
    ) -> None:
        _check_issuer(issuer)
        for client_id, client in clients.items():
            if client_id != client.client_id:
                raise ValueError(f"client registered as {client_id!r} has client_id {client.client_id!r}")
        self.issuer = issuer
        self.keys = keys
        self.clients: dict[str, OidcClient] = dict(clients)
        self.code_ttl_s = code_ttl_s
        self.access_token_ttl_s = access_token_ttl_s
        self.id_token_ttl_s = id_token_ttl_s
        self.clock = clock
        self.codes: CodeStore = code_store if code_store is not None else MemoryCodeStore()
        self.tokens: TokenStore = token_store if token_store is not None else MemoryTokenStore()
        self.end_session_endpoint = end_session_endpoint
        self.path_prefix = urlsplit(issuer).path  # the routes live under the issuer's path

    # --- metadata ---------------------------------------------------------------------------------

    def endpoint(self, name: str) -> str:
        """Absolute URL of ``authorize``, ``token``, ``userinfo`` or ``jwks``."""
        return f"{self.issuer}/oidc/{name}"

    def discovery(self) -> dict[str, Any]:
        """The OpenID Provider Metadata (OIDC Discovery 1.0 §3; RFC 9207 §3; RFC 7636 §6.2)."""
        scopes = sorted({"openid"}.union(*(c.scopes for c in self.clients.values())))
        doc: dict[str, Any] = {
            "issuer": self.issuer,
            "authorization_endpoint": self.endpoint("authorize"),
            "token_endpoint": self.endpoint("token"),
            "userinfo_endpoint": self.endpoint("userinfo"),
            "jwks_uri": self.endpoint("jwks"),
            "scopes_supported": scopes,
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": ["authorization_code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "token_endpoint_auth_methods_supported": list(_AUTH_METHODS),
            "code_challenge_methods_supported": ["S256"],
            "claims_supported": list(_ID_TOKEN_CLAIMS),
            "acr_values_supported": list(ACR_STRENGTH_ORDER),
            "prompt_values_supported": ["none", "login"],
            "request_parameter_supported": False,
            "request_uri_parameter_supported": False,
            "claims_parameter_supported": False,
            "authorization_response_iss_parameter_supported": True,
        }
        if self.end_session_endpoint:
            doc["end_session_endpoint"] = self.end_session_endpoint
        return doc

    def jwks(self) -> dict[str, Any]:
        """The public signing keys (RFC 7517 §5), served at ``jwks_uri``."""
        return self.keys.jwks()

    # --- authorization endpoint -------------------------------------------------------------------

    def validate_authorization_request(self, params: Mapping[str, str]) -> AuthorizationRequest:
        """Check an authentication request (OIDC Core §3.1.2.1-2, RFC 6749 §4.1.1, RFC 7636 §4.3).

        Raises :class:`AuthorizationPageError` when ``client_id`` or ``redirect_uri`` is missing or
        invalid (no redirect), otherwise :class:`AuthorizationRedirectError`. Unknown parameters are
        ignored (RFC 6749 §3.1); so are ``prompt=consent`` and ``prompt=select_account`` (first-party
        clients, one account per session).
        """
        client_id = params.get("client_id")
        if not client_id:
            raise AuthorizationPageError("invalid_request", "The request has no client_id.")
        client = self.clients.get(client_id)
        if client is None:
            raise AuthorizationPageError("invalid_client", "The client_id is not registered with this provider.")
        redirect_uri = params.get("redirect_uri")
        if not redirect_uri:
            raise AuthorizationPageError("invalid_request", "The request has no redirect_uri.")
        if redirect_uri not in client.redirect_uris:
            raise AuthorizationPageError("invalid_request", "The redirect_uri is not registered for this client.")
        state = params.get("state") or None

        def fail(error: str, description: str) -> AuthorizationRedirectError:
            return self._redirect_error(error, description, redirect_uri, state)

        if any(len(v) > _MAX_PARAM_LEN for v in params.values()):
            raise fail("invalid_request", f"parameters are limited to {_MAX_PARAM_LEN} characters")
        for name, error, description in _UNSUPPORTED_PARAMS:
            if name in params:
                raise fail(error, description)
        response_type = params.get("response_type")
        if not response_type:
            raise fail("invalid_request", "response_type is missing")
        if response_type != "code":
            raise fail("unsupported_response_type", "only response_type=code is supported")
        if params.get("response_mode", "query") != "query":
            raise fail("invalid_request", "only response_mode=query is supported")
        scope = tuple(dict.fromkeys(params.get("scope", "").split()))
        if not scope:
            raise fail("invalid_request", "scope is missing")
        if "openid" not in scope:
            raise fail("invalid_scope", "scope must include openid (OpenID Connect Core 3.1.2.1)")
        if any(not _SCOPE_TOKEN.fullmatch(s) for s in scope) or not set(scope) <= client.scopes:
            raise fail("invalid_scope", "a requested scope is not allowed for this client")
        code_challenge = params.get("code_challenge")
        if not code_challenge:
            raise fail("invalid_request", "code_challenge is required (PKCE, RFC 7636, method S256)")
        if params.get("code_challenge_method") != "S256":
            raise fail("invalid_request", "code_challenge_method must be S256 (plain is not accepted)")
        if not _S256_CHALLENGE.fullmatch(code_challenge):
            raise fail("invalid_request", "code_challenge must be 43 base64url characters (RFC 7636 4.2)")
        prompt = frozenset(params.get("prompt", "").split())
        if not prompt <= _PROMPTS:
            raise fail("invalid_request", "prompt may only contain none, login, consent, select_account")
        if "none" in prompt and len(prompt) > 1:
            raise fail("invalid_request", "prompt=none cannot be combined with other values")
        max_age_text = params.get("max_age")
        if max_age_text is not None and not (max_age_text.isascii() and max_age_text.isdigit()
                                             and len(max_age_text) <= 10):
            raise fail("invalid_request", "max_age must be a non-negative integer (seconds)")
        acr_values = tuple(params.get("acr_values", "").split())
        marker = params.get(LOGIN_MARKER, "")
        return AuthorizationRequest(
            client=client,
            redirect_uri=redirect_uri,
            scope=scope,
            code_challenge=code_challenge,
            state=state,
            nonce=params.get("nonce") or None,
            prompt=prompt,
            max_age=int(max_age_text) if max_age_text is not None else None,
            acr_values=acr_values,
            required_acr=_required_acr(client, acr_values),
            login_started_at=int(marker) if marker.isascii() and marker.isdigit() and len(marker) <= 12 else None,
            params=tuple(params.items()),
        )

    def needs_login(self, request: AuthorizationRequest, login: LoginContext | None,
                    now: float | None = None) -> bool:
        """Whether the customer must (re-)authenticate before a code can be issued (OIDC Core §3.1.2.3):
        no session; ``prompt=login`` or ``max_age`` exceeded, unless the login happened after mamori
        sent the customer to log in for this request; the login's ``acr`` below ``required_acr``."""
        return self._login_problem(request, login, self.clock() if now is None else now) is not None

    def authorize(self, request: AuthorizationRequest,
                  login: LoginContext | None) -> RedirectToClient | RedirectToLogin:
        """Decide the authorization endpoint's answer for a validated request and the current session.

        ``prompt=none`` without a usable session → ``login_required`` (OIDC Core §3.1.2.6); a fresh login
        that still misses the required ``acr`` → ``unmet_authentication_requirements`` (instead of a
        login loop); both raise :class:`AuthorizationRedirectError`.
        """
        now = self.clock()
        problem = self._login_problem(request, login, now)
        if problem is None:
            assert login is not None
            return RedirectToClient(self.issue_code(request, login))
        if "none" in request.prompt:
            raise self._redirect_error("login_required", f"{problem}; prompt=none forbids asking the user to log in",
                                       request.redirect_uri, request.state)
        if problem == _ACR_NOT_MET and login is not None and self._fresh(request, login):
            raise self._unmet_acr(request)
        next_path = self.login_return_path(request, now)
        if len(next_path) > MAX_RETURN_PATH_LEN:
            raise self._redirect_error("invalid_request", "the request is too long to resume after login",
                                       request.redirect_uri, request.state)
        return RedirectToLogin(next_path)

    def login_return_path(self, request: AuthorizationRequest, now: float | None = None) -> str:
        """Path and query (relative to this origin) of the authorization request, with :data:`LOGIN_MARKER`
        set to ``now``: where the login page sends the customer back. Parameters this provider ignores
        are left out."""
        now = self.clock() if now is None else now
        params = [(k, v) for k, v in request.params if k in _RESUMED_PARAMS] + [(LOGIN_MARKER, str(int(now)))]
        return f"{self.path_prefix}/oidc/authorize?{urlencode(params)}"

    def issue_code(self, request: AuthorizationRequest, login: LoginContext) -> str:
        """Issue a single-use authorization code for ``login`` and return the client redirect URL with
        ``code``, ``state`` and ``iss`` (RFC 6749 §4.1.2, RFC 9207 §2). The code is 256 random bits,
        stored as its SHA-256. Refuses (``unmet_authentication_requirements``) a login below the
        request's ``required_acr``, whoever calls it."""
        if not acr_satisfies(login.acr, request.required_acr):
            raise self._unmet_acr(request)
        now = self.clock()
        code = secrets.token_urlsafe(32)
        grant = CodeGrant(client_id=request.client.client_id, redirect_uri=request.redirect_uri,
                          code_challenge=request.code_challenge, scope=request.scope, nonce=request.nonce,
                          login=login, expires_at=now + self.code_ttl_s)
        # Used codes are remembered as long as tokens issued for them live, to detect replay.
        self.codes.put(_sha256_hex(code), grant, keep_until=grant.expires_at + self.access_token_ttl_s, now=now)
        return _add_query(request.redirect_uri, [("code", code), *_state(request.state), ("iss", self.issuer)])

    # --- token endpoint ---------------------------------------------------------------------------

    def exchange(self, form: Mapping[str, str], authorization_header: str | None) -> dict[str, Any]:
        """Token request (RFC 6749 §4.1.3, OIDC Core §3.1.3): authenticate the client, redeem the code
        (single use; replay revokes its tokens), check ``redirect_uri`` and the PKCE verifier (RFC 7636
        §4.6), and return ``access_token``, ``token_type``, ``expires_in``, ``scope`` and ``id_token``.
        Raises :class:`TokenError` (RFC 6749 §5.2)."""
        client = self._authenticate_client(form, authorization_header)
        grant_type = form.get("grant_type")
        if not grant_type:
            raise TokenError("invalid_request", "grant_type is missing")
        if grant_type != "authorization_code":
            raise TokenError("unsupported_grant_type", "only grant_type=authorization_code is supported")
        code, redirect_uri, verifier = form.get("code"), form.get("redirect_uri"), form.get("code_verifier")
        if not code:
            raise TokenError("invalid_request", "code is missing")
        if not redirect_uri:
            raise TokenError("invalid_request", "redirect_uri is missing")
        if not verifier:
            raise TokenError("invalid_request", "code_verifier is missing (PKCE is required)")
        if not _PKCE_VERIFIER.fullmatch(verifier):
            raise TokenError("invalid_request", "code_verifier must be 43-128 unreserved characters (RFC 7636 4.1)")
        now = self.clock()
        code_hash = _sha256_hex(code)
        taken = self.codes.take(code_hash, now=now)
        if taken is None:
            raise TokenError("invalid_grant", "the authorization code is invalid or expired")
        grant, first_use = taken
        if not first_use:
            revoked = self.tokens.revoke_code(code_hash)
            log.warning("authorization code used twice (client %s): %d access token(s) revoked",
                        client.client_id, revoked)
            raise TokenError("invalid_grant", "the authorization code was already used")
        if grant.expires_at <= now:
            raise TokenError("invalid_grant", "the authorization code is invalid or expired")
        if grant.client_id != client.client_id:
            raise TokenError("invalid_grant", "the authorization code was issued to another client")
        if grant.redirect_uri != redirect_uri:
            raise TokenError("invalid_grant", "redirect_uri differs from the authorization request")
        if not verify_pkce_s256(verifier, grant.code_challenge):
            raise TokenError("invalid_grant", "code_verifier does not match code_challenge")
        return self._issue_tokens(grant, code_hash, now)

    def _issue_tokens(self, grant: CodeGrant, code_hash: str, now: float) -> dict[str, Any]:
        access_token = secrets.token_urlsafe(32)
        login = grant.login
        self.tokens.put(_sha256_hex(access_token), AccessTokenRecord(
            subject=login.subject, client_id=grant.client_id, scope=grant.scope, session_id=login.session_id,
            code_hash=code_hash, expires_at=now + self.access_token_ttl_s), now=now)
        iat = int(now)
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "sub": login.subject,
            "aud": grant.client_id,
            "exp": iat + self.id_token_ttl_s,
            "iat": iat,
            "auth_time": int(login.auth_time),
            "acr": login.acr,
            "amr": list(login.amr),
            "sid": _session_sid(login.session_id),
            "at_hash": _half_hash(access_token),
        }
        if grant.nonce is not None:
            claims["nonce"] = grant.nonce
        id_token = jwt.encode({"alg": "RS256", "kid": self.keys.kid}, claims, self.keys.signing_key(),
                              algorithms=["RS256"])
        log.info("tokens issued to client %s", grant.client_id)
        return {"access_token": access_token, "token_type": "Bearer", "expires_in": self.access_token_ttl_s,
                "scope": " ".join(grant.scope), "id_token": id_token}

    def _authenticate_client(self, form: Mapping[str, str], authorization_header: str | None) -> OidcClient:
        """RFC 6749 §2.3.1 (``client_secret_basic``, ``client_secret_post``) or ``none`` for public clients
        (OIDC Core §9). One method per request (RFC 6749 §2.3). Secrets are compared as SHA-256 digests
        in constant time; unknown clients and wrong secrets get the same answer."""
        form_id = form.get("client_id") or None
        form_secret = form.get("client_secret")
        secret: str | None
        if authorization_header is not None:
            if form_secret is not None:
                raise TokenError("invalid_request", "use one client authentication method, not two")
            client_id, secret = _parse_basic(authorization_header)
            if form_id is not None and form_id != client_id:
                raise TokenError("invalid_request", "client_id differs from the Authorization header")
        elif form_secret is not None:
            if form_id is None:
                raise TokenError("invalid_request", "client_id is missing")
            client_id, secret = form_id, form_secret
        elif form_id is not None:
            client_id, secret = form_id, None
        else:
            raise _invalid_client("client authentication is required")
        presented = hash_client_secret(secret or "")
        client = self.clients.get(client_id)
        if client is None:
            raise _invalid_client()
        if client.is_public:
            if secret is not None:
                raise _invalid_client()
            return client
        expected = client.client_secret_sha256 or ""
        if secret is None or not hmac.compare_digest(presented, expected):
            raise _invalid_client()
        return client

    # --- UserInfo and sessions --------------------------------------------------------------------

    @staticmethod
    def bearer_token(authorization_header: str | None) -> str:
        """The access token from ``Authorization: Bearer <token>`` (RFC 6750 §2.1). Raises
        :class:`BearerTokenError`: without error code when there is no Bearer credential (§3.1)."""
        if not authorization_header or not authorization_header.strip():
            raise BearerTokenError("", "an access token is required")
        scheme, _, token = authorization_header.strip().partition(" ")
        if scheme.lower() != "bearer":
            raise BearerTokenError("", "an access token is required")
        token = token.strip()
        if not _B64TOKEN.fullmatch(token):
            raise BearerTokenError("invalid_request", "malformed Authorization header", status=400)
        return token

    def userinfo(self, access_token: str) -> dict[str, Any]:
        """UserInfo (OIDC Core §5.3): only ``sub``; mamori gives out nothing personal."""
        record = self.tokens.get(_sha256_hex(access_token), now=self.clock())
        if record is None:
            raise BearerTokenError("invalid_token", "the access token is invalid, expired or revoked")
        return {"sub": record.subject}

    def revoke_session(self, session_id: str) -> None:
        """Logout: revoke the session's access tokens and the codes not yet redeemed."""
        self.codes.drop_session(session_id)
        revoked = self.tokens.revoke_session(session_id)
        log.info("session ended: %d access token(s) revoked", revoked)

    # --- internals --------------------------------------------------------------------------------

    def _login_problem(self, request: AuthorizationRequest, login: LoginContext | None, now: float) -> str | None:
        if login is None:
            return "no session"
        fresh = self._fresh(request, login)
        if "login" in request.prompt and not fresh:
            return "prompt=login asks for a new login"
        if request.max_age is not None and now - login.auth_time > request.max_age and not fresh:
            return "the login is older than max_age"
        if not acr_satisfies(login.acr, request.required_acr):
            return _ACR_NOT_MET
        return None

    @staticmethod
    def _fresh(request: AuthorizationRequest, login: LoginContext) -> bool:
        return request.login_started_at is not None and login.auth_time >= request.login_started_at

    def _unmet_acr(self, request: AuthorizationRequest) -> AuthorizationRedirectError:
        return self._redirect_error("unmet_authentication_requirements",
                                    f"the login does not reach the required acr {request.required_acr}",
                                    request.redirect_uri, request.state)

    def _redirect_error(self, error: str, description: str, redirect_uri: str,
                        state: str | None) -> AuthorizationRedirectError:
        params = [("error", error), ("error_description", _description(description)), *_state(state),
                  ("iss", self.issuer)]
        return AuthorizationRedirectError(error, description, redirect_url=_add_query(redirect_uri, params))


_ACR_NOT_MET: Final = "the login does not reach the required acr"


def _state(state: str | None) -> list[tuple[str, str]]:
    return [("state", state)] if state is not None else []


def _required_acr(client: OidcClient, acr_values: Iterable[str]) -> str | None:
    known = [v for v in acr_values if v in _ACR_RANK]
    requested = min(known, key=acr_rank) if known else None
    candidates = [v for v in (client.require_acr, requested) if v is not None]
    return max(candidates, key=acr_rank) if candidates else None


def _parse_basic(header: str) -> tuple[str, str]:
    """``Authorization: Basic`` with form-encoded id and secret (RFC 6749 §2.3.1, RFC 7617)."""
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "basic":
        raise _invalid_client("only Basic authentication is accepted at the token endpoint")
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        raise _invalid_client("malformed Basic credentials") from None
    client_id, sep, secret = decoded.partition(":")
    if not sep or not client_id:
        raise _invalid_client("malformed Basic credentials")
    return unquote_plus(client_id), unquote_plus(secret)
