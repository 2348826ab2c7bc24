"""Crypto-asset exchange simulator: customers, labelled money-laundering and fraud typologies, the
blockchain around the exchange and a risk list (``mamori simulate --domain crypto``), and the
evaluation of the engine's rules against it (``mamori evaluate --domain crypto``).

:mod:`.population` draws the customers, :mod:`.life` writes their own behaviour and the benign
look-alikes, :mod:`.typologies` the attacks and their on-chain aftermath, :mod:`.chain` the synthetic
chain, :mod:`.risklist` the partial risk list, :mod:`.simulate` assembles it all, :mod:`.files` stores it, and
:mod:`.evaluate` replays it through the engine and measures recall and precision per typology
(:mod:`.report` prints them).
"""

from __future__ import annotations

from mamori.sim.crypto.files import read_simulation, write_simulation
from mamori.sim.crypto.simulate import CryptoSimulation, simulate
from mamori.sim.crypto.world import ATTACK_TYPOLOGIES, BENIGN_TYPOLOGIES, TYPOLOGIES

__all__ = ["ATTACK_TYPOLOGIES", "BENIGN_TYPOLOGIES", "TYPOLOGIES", "CryptoSimulation", "read_simulation",
           "simulate", "write_simulation"]
