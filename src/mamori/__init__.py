"""mamori (守り): account-takeover, trading-fraud and AML defence for Japanese securities firms
and crypto-asset exchanges.

The package is laid out as the architecture note describes: ``kit`` (domain-free toolkit),
``events`` (the event contract), ``risk`` (features, rules and the engine), ``adapters`` (storage,
IP enrichment), and thin entry points ``api`` and ``cli``.
"""

__version__ = "0.1.0"
