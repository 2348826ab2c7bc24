"""The ``mamori pqc`` command group; each part adds its commands in its own file through
``register(group)``: discovery (``pqc_scan.py``), register/assessment/outputs (``pqc_assess.py``)."""

from __future__ import annotations

import importlib

import click

MODULES = ("mamori.cli.pqc_scan", "mamori.cli.pqc_assess")


@click.group()
def pqc() -> None:
    """Post-quantum cryptography inventory: scan, assess, plan the migration, report (CBOM, Excel)."""


def register(main: click.Group) -> None:
    for name in MODULES:
        importlib.import_module(name).register(pqc)
    main.add_command(pqc)
