"""Building the report service from the application's settings (one call for the server and the CLI)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from mamori.adapters.sql.store import SqlStore
from mamori.aml.reporting.crypto import cipher_for_data_dir
from mamori.aml.reporting.service import StrService
from mamori.aml.reporting.settings import StrSettings, entity_from_settings
from mamori.kit.settings import Settings, ensure_private_dir


def rule_texts_of(rules: Iterable[Any]) -> Mapping[str, str]:
    """Rule id -> its Japanese description (else the English one), for the drafted reason text."""
    return {str(r.id): str(getattr(r, "description_ja", None) or r.description) for r in rules}


def build_str_service(settings: Settings, store: SqlStore, *,
                      active_rules: Callable[[], Iterable[Any]] | None = None) -> StrService:
    """The report service on ``store``: documents sealed with the contacts key of ``settings.data_dir``
    (or ``MAMORI_CONTACTS_KEY``), the reporting entity from ``MAMORI_STR_*``; ``active_rules`` returns the
    running rule set's rules (their Japanese descriptions go into drafted reasons)."""
    ensure_private_dir(settings.data_dir)
    str_settings = StrSettings()
    entity = entity_from_settings(str_settings)
    texts = (lambda: rule_texts_of(active_rules())) if active_rules is not None else None
    return StrService(store, cipher_for_data_dir(settings.data_dir), entity=lambda: entity, rule_texts=texts,
                      lookback_days=str_settings.lookback_days)
