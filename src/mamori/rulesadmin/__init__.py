"""Rule management (issue 5 item 8): hit counts and precision, drafts, backtests, shadow runs and
publication with four-eyes approval.

* :mod:`.paths` - the managed rule set directories under the data directory and the pointers the
  risk service reads at start-up (kept free of other imports: ``mamori.risk.service`` uses it);
* :mod:`.tables` - the SQL tables (own ``MetaData``, created on the shared engine);
* :mod:`.stats` - incremental hit counts per rule and hour, shadow comparisons, precision from cases;
* :mod:`.drafts` - a rule edited as YAML text applied to the active sources, compiled, diffed;
* :mod:`.backtests` - replays of stored history in a background thread (progress, cancellation);
* :mod:`.service` - :class:`RulesAdmin`, the workflow the API and console call.

Rules are versioned data (ARCHITECTURE.md "Rules are data"); published rule sets are immutable
(CONVENTIONS.md 5): a publication writes a new directory and never edits the built-in files.
"""
