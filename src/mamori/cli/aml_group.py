"""The ``mamori aml`` command group (crypto transfer monitoring and AML, FSA request 5). Each AML
module adds its commands in its own file (``aml_*.py``) through ``register(group)``; list it here."""

from __future__ import annotations

import importlib

import click

MODULES: tuple[str, ...] = ("mamori.cli.aml_str", "mamori.cli.aml_effectiveness", "mamori.cli.aml_lists",
                             "mamori.cli.aml_trace")


@click.group()
def aml() -> None:
    """Crypto AML: risk lists and screening, tracing funds, suspicious transaction reports, effectiveness."""


def register(main: click.Group) -> None:
    for name in MODULES:
        importlib.import_module(name).register(aml)
    main.add_command(aml)
