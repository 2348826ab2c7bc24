"""The investigation view's data and the management figures.

* :mod:`.timeline` – one account's events in time order with their decisions, fired rules, the
  feature values those rules read and a one-line summary (keyset pages).
* :mod:`.overview` – what the account used and holds: devices, networks, destinations, holdings,
  orders, transfers, freeze state, alerts.
* :mod:`.links` (on :mod:`.linkindex`) – other accounts sharing a device, an IP /24 (/48) or a
  withdrawal destination within a window, bounded so that a carrier NAT stays one line.
* :mod:`.figures` and :mod:`.export` – the monthly figures in the shape of the FSA's table of
  unauthorised access and trading (不正アクセス件数, 不正取引件数, 売却金額, 買付金額), the live
  counters, and their JSON / CSV / Excel renderings.

Everything here reads the durable store through SQLAlchemy Core and writes only to objects this
package owns (the index ``ix_decisions_type_time`` and the two ``inv_link_*`` tables, all created
idempotently on first use; see :func:`mamori.investigate.common.ensure_schema`).
"""

from __future__ import annotations

from mamori.investigate.common import ensure_schema
from mamori.investigate.figures import live_counters, monthly_figures, takeover_incidents
from mamori.investigate.linkindex import refresh_link_index
from mamori.investigate.links import linked_accounts
from mamori.investigate.overview import account_overview
from mamori.investigate.timeline import account_timeline

__all__ = [
    "account_overview",
    "account_timeline",
    "ensure_schema",
    "linked_accounts",
    "live_counters",
    "monthly_figures",
    "refresh_link_index",
    "takeover_incidents",
]
