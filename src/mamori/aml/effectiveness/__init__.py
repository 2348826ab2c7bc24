"""Verifying that AML transaction monitoring works (マネロン等対策の有効性検証, FSA 2025-03-31).

* :mod:`~mamori.aml.effectiveness.metrics` - per scenario: alert volume by week, conversion alert →
  case → STR draft → locked STR, precision against closed cases, median times, false-positive reasons;
* :mod:`~mamori.aml.effectiveness.tuning` - threshold sweeps with above/below-the-line samples, and
  backtests of candidate thresholds, re-running only the scenario's rules
  (:mod:`~mamori.aml.effectiveness.runner`) over stored history streamed in chunks, split by account
  across processes when the scenario's features allow it (:mod:`~mamori.aml.effectiveness.history`);
* :mod:`~mamori.aml.effectiveness.coverage` - reference cases and the firm's risk assessment against
  live scenarios;
* :mod:`~mamori.aml.effectiveness.report` - the versioned report (HTML with inline SVG charts:
  :mod:`~mamori.aml.effectiveness.render`, Excel: :mod:`~mamori.aml.effectiveness.workbook`);
* :mod:`~mamori.aml.effectiveness.service` - the above for the CLI (``mamori aml effectiveness``) and
  the API (``/v1/aml/effectiveness/...``), audited.

The other AML parts are reached through :mod:`~mamori.aml.effectiveness.sources` only. See
``docs/aml-effectiveness.md``.
"""

from __future__ import annotations

from mamori.aml.effectiveness.period import Period
from mamori.aml.effectiveness.service import EffectivenessService, write_report

__all__ = ["EffectivenessService", "Period", "write_report"]
