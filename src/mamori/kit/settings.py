"""Settings, from environment variables (``MAMORI_*``) or CLI flags. Defaults give the embedded
set-up: SQLite in ``./mamori-data``, the built-in rule set, the shipped IP database, 127.0.0.1."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MAMORI_", extra="ignore")

    data_dir: Path = Field(default=Path("mamori-data"), description="Where the SQLite database and the "
                           "initial API key live.")
    database_url: str | None = Field(default=None, description="SQLAlchemy URL; default SQLite in data_dir. "
                                     "PostgreSQL: postgresql+psycopg://user:pass@host/db")
    sqlite_synchronous: str = Field(default="FULL", description="SQLite durability: FULL survives power "
                                    "loss, NORMAL survives a process crash.")
    host: str = "127.0.0.1"
    port: int = Field(default=8600, ge=1, le=65535)
    rules_path: Path | None = Field(default=None, description="Rule set directory; default the built-in one.")
    shadow_rules_path: Path | None = Field(default=None, description="Candidate rule set evaluated in "
                                           "shadow (logged on every decision, never acting).")
    rules_reload_interval_s: float = Field(default=2.0, ge=0, description="How often to look for changed "
                                           "rule files (0 = never; SIGHUP or the API still reload).")
    snapshot_interval_s: float = Field(default=1800.0, ge=0, description="How often to save the engine "
                                       "state so a restart replays only newer events (0 = only at shutdown).")
    # Customer notices (FSA requests 2 and 3): off until the firm's name and support phone are set.
    firm_name_ja: str | None = Field(default=None, description="Firm name in Japanese, shown in notices.")
    firm_name_en: str | None = None
    support_phone: str | None = Field(default=None, description="Phone number notices tell customers to call.")
    smtp_host: str | None = Field(default=None, description="Relay for notice e-mails (none: no e-mail).")
    smtp_port: int = 25
    smtp_from: str | None = None
    smtp_starttls: bool = True
    smtp_username: str | None = None
    smtp_password: str | None = None
    notice_webhook_url: str | None = Field(default=None, description="The firm's endpoint for notices "
                                           "(signed with notice_webhook_secret).")
    notice_webhook_secret: str | None = None
    geo_country_mmdb: str | None = None
    geo_asn_mmdb: str | None = None
    geo_network_classes: str | None = None
    geo_tor_exits: str | None = None
    home_country: str = "JP"
    max_batch: int = Field(default=1000, ge=1, le=100_000)
    max_body_bytes: int = Field(default=4 * 1024 * 1024, ge=1024)

    # Customer authentication (issue 4): passkeys, sessions, OpenID Connect.
    auth_origin: str = Field(default="http://localhost:8600", description="The origin customers use to "
                             "reach mamori's login pages (scheme://host[:port]); WebAuthn assertions from any "
                             "other origin are rejected, and it is the OIDC issuer.")
    auth_extra_origins: str = Field(default="", description="Further allowed WebAuthn origins, comma-separated "
                                    "(e.g. the firm's app's origin).")
    auth_rp_id: str | None = Field(default=None, description="WebAuthn relying-party id (default: the host "
                                   "of auth_origin). Pinned: passkeys are bound to it.")
    auth_rp_name: str = "mamori"
    auth_trusted_proxies: str = Field(default="", description="Comma-separated CIDRs of reverse proxies whose "
                                      "X-Forwarded-For is honoured (none by default).")
    auth_session_idle_minutes: float = Field(default=30.0, gt=0)
    auth_session_absolute_hours: float = Field(default=12.0, gt=0)
    auth_policy_path: Path | None = Field(default=None, description="Authentication policy YAML (default: "
                                          "passkey required for everyone, no fallback transition).")
    auth_breached_passwords: Path | None = Field(default=None, description="Breached-password file built by "
                                                 "`mamori auth breached import` (default: built-in common list).")
    oidc_clients_path: Path | None = Field(default=None, description="OIDC relying parties (YAML).")

    # Analyst console (issue 5): operators sign in with passkeys bound to this origin.
    console_origin: str | None = Field(default=None, description="The origin operators use for the console "
                                       "(default http://localhost:<port>); passkeys are bound to its host.")
    console_session_idle_minutes: float = Field(default=15.0, gt=0)
    console_session_absolute_hours: float = Field(default=8.0, gt=0)

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        ensure_private_dir(self.data_dir)
        return f"sqlite:///{(self.data_dir / 'mamori.db').resolve()}"


def ensure_private_dir(path: Path) -> None:
    """Create the data directory readable only by its owner: it holds customer events, the engine
    state and (on first start) an admin key."""
    if not path.exists():
        path.mkdir(parents=True, mode=0o700)
