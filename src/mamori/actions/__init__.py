"""Actions with four-eyes control (issue 5 item 3): release or cancel held orders and withdrawals,
freeze and unfreeze accounts (unfreeze after a recorded re-identification), set a customer's limits,
block or unblock a source network or a symbol firm-wide; each approved action is carried out inside
mamori (engine events) and sent to the firm's systems through a signed, durable webhook.

* :mod:`.policy` - the kinds and the one table saying which need a second person;
* :mod:`.params` - each kind's parameters, validated at the edge;
* :mod:`.held` - held items, filled incrementally from the engine's hold decisions;
* :mod:`.effects` - the engine events an action sends;
* :mod:`.webhook` - Standard Webhooks signing and one delivery attempt; ``MAMORI_ACTIONS_*`` settings;
* :mod:`.service` - :class:`ActionsService`: the lifecycle, the outbox, the background worker.

The HTTP API is :mod:`mamori.api.actions_routes`; the guide is ``docs/actions.md``.
"""

from mamori.actions.policy import POLICY, ActionKind, ActionState, needs_second_person
from mamori.actions.service import ActionsService
from mamori.actions.webhook import ActionsSettings, ActionWebhook, sign, verify

__all__ = ["POLICY", "ActionKind", "ActionState", "ActionWebhook", "ActionsService", "ActionsSettings",
           "needs_second_person", "sign", "verify"]
