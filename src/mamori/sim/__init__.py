"""Attack simulator and closed-loop evaluation of a rule set (``mamori simulate`` / ``mamori evaluate``).

:mod:`.population` draws the firm's customers, :mod:`.scenarios` writes their sessions and the
labelled attack campaigns and benign look-alikes as a plan, :mod:`.simulate` assembles and stores the
plan, :mod:`.evaluate` drives it through the engine and measures what the rules stopped. The design
(plan of intents in wire format + gating by the engine's decisions) is described in
:mod:`mamori.sim.simulate`.
"""

from __future__ import annotations

from mamori.sim.simulate import SimParams, Simulation, read_simulation, simulate, write_simulation

__all__ = ["SimParams", "Simulation", "read_simulation", "simulate", "write_simulation"]
