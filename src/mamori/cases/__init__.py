"""Case management: the engine's alerts grouped into cases, worked by analysts, every step audited.

* :mod:`mamori.cases.model` - kinds, states, dispositions, the state machine, priority, the SLA (pure);
* :mod:`mamori.cases.store` - the tables (own ``MetaData`` on the shared engine);
* :mod:`mamori.cases.keys` and :mod:`mamori.cases.grouping` - which alerts belong together, and the
  incremental, idempotent :class:`~mamori.cases.grouping.CaseBuilder`;
* :mod:`mamori.cases.workflow` - the analyst's actions, each with its history record;
* :mod:`mamori.cases.queries` - the case list (red SLA first) and one case in full;
* :mod:`mamori.cases.letters` - victim letters in Japanese and English, without links;
* :mod:`mamori.cases.attachments` - evidence files under the data directory;
* :mod:`mamori.cases.service` - :class:`~mamori.cases.service.CasesService`, what the API uses.
"""

from mamori.cases.service import CasesService, refresh_periodically

__all__ = ["CasesService", "refresh_periodically"]
