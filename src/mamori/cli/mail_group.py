"""The ``mamori mail`` command group; each mail module adds its commands in its own file
(``mail_scan.py``, ``mail_dns.py``, ``mail_proxy.py``) through ``register(group)``."""

from __future__ import annotations

import importlib

import click

MODULES = ("mamori.cli.mail_scan", "mamori.cli.mail_dns", "mamori.cli.mail_proxy")


@click.group()
def mail() -> None:
    """Mail safety: PPAP and links in outgoing mail, the SMTP policy proxy, sender-spoofing posture."""


def register(main: click.Group) -> None:
    for name in MODULES:
        importlib.import_module(name).register(mail)
    main.add_command(mail)
