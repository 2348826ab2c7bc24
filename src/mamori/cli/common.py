"""Pieces every ``mamori`` sub-command module shares: who acts (for the audit log) and the options
that choose the data directory and the database."""

from __future__ import annotations

import getpass
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])


def cli_actor() -> str:
    """The audit log's actor for a command run by hand: ``cli:<operating-system user>``."""
    try:
        return f"cli:{getpass.getuser()}"[:128]
    except (KeyError, OSError):
        return "cli:unknown"


def database_options(func: F) -> F:
    """``--data-dir`` and ``--database-url`` (the settings' defaults when absent)."""
    func = click.option("--database-url", default=None, help="SQLAlchemy URL (default: SQLite in the data dir).")(func)
    return click.option("--data-dir", type=click.Path(path_type=Path), default=None, help="Data directory.")(func)
