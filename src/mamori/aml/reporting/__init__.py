"""Suspicious transaction reports (疑わしい取引の届出, 犯罪収益移転防止法 第8条) drafted from cases.

A report is built from a case (:class:`~mamori.aml.reporting.service.StrService`), completed by the
compliance officer (customer identification data from the firm's KYC records), submitted, locked by
a second person with ``str:approve`` and exported as the entry sheet of the JAFIC filing program
(Excel), CSV and JSON. See ``docs/str.md``.

For the effectiveness figures (contract 5): :func:`reports_by_case`, :func:`locked_reports_by_case`.
"""

from __future__ import annotations

from mamori.aml.reporting.store import locked_reports_by_case, reports_by_case

__all__ = ["locked_reports_by_case", "reports_by_case"]
