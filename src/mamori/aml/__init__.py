"""Crypto-asset transfer monitoring and AML (FSA request 5).

* :mod:`mamori.aml.reference_cases` — the FSA's reference cases of suspicious transactions for
  crypto-asset exchangers (疑わしい取引の参考事例), the catalogue every scenario maps to;
* :mod:`mamori.aml.scenarios` — the monitoring scenarios (engine rules) and the reference cases
  each one covers;
* screening (risk lists, Japanese name matching), the funds tracer, suspicious transaction report
  drafts and the effectiveness verification live in their own modules of this package.
"""
