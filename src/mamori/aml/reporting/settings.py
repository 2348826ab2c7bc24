"""The reporting entity's details (特定事業者の名称・所在地・担当者), from ``MAMORI_STR_*`` settings.

Every new draft starts with these in its 届出票 section; the compliance officer can still change
them per report. The name defaults to ``MAMORI_FIRM_NAME_JA`` (the name customer notices use).
"""

from __future__ import annotations

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from mamori.aml.reporting.model import ReportingEntity
from mamori.kit.errors import ConfigError

_SETTING = {"name": "MAMORI_STR_ENTITY_NAME"} | {
    k: f"MAMORI_STR_{k.upper()}" for k in ("representative", "head_office_postal_code", "head_office_address",
                                           "person_in_charge", "department", "title", "phone", "extension")}


class StrSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MAMORI_STR_", extra="ignore")

    entity_name: str | None = Field(default=None, description="特定事業者名 (default: MAMORI_FIRM_NAME_JA).")
    representative: str | None = Field(default=None, description="代表者名.")
    head_office_postal_code: str | None = None
    head_office_address: str | None = None
    person_in_charge: str | None = Field(default=None, description="担当者名.")
    department: str | None = Field(default=None, description="部署名, e.g. コンプライアンス部.")
    title: str | None = None
    phone: str | None = None
    extension: str | None = None
    lookback_days: float = Field(default=7.0, gt=0, le=366, description="How far before the case's first "
                                 "alert the draft collects the accounts' transactions.")


class _FirmName(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MAMORI_", extra="ignore")

    firm_name_ja: str | None = None


def entity_from_settings(settings: StrSettings | None = None) -> ReportingEntity:
    """The 届出票 entity block from the settings (validated like any edit: a bad postal code is named)."""
    s = settings or StrSettings()
    try:
        return ReportingEntity.model_validate({
            "name": s.entity_name or _FirmName().firm_name_ja, "representative": s.representative,
            "head_office_postal_code": s.head_office_postal_code, "head_office_address": s.head_office_address,
            "person_in_charge": s.person_in_charge, "department": s.department, "title": s.title, "phone": s.phone,
            "extension": s.extension})
    except ValidationError as exc:
        first = exc.errors(include_input=False, include_url=False)[0]
        setting = _SETTING.get(str(first["loc"][0]), str(first["loc"][0])) if first["loc"] else "MAMORI_STR_*"
        raise ConfigError(f"{setting}: {first['msg'].removeprefix('Value error, ')}") from None
