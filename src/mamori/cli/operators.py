"""``mamori operators``: console operators from the command line (the first administrator is made here).

Every change is written to the audit log with the actor ``cli:<OS user>``. Enrolment codes are shown
once, stored only as SHA-256 and expire after 72 hours; ``reset`` removes the operator's passkeys,
ends every session and issues a new code (a lost or replaced device).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
import orjson

from mamori.cli.common import cli_actor, database_options
from mamori.console.roles import ROLES
from mamori.console.service import ConsoleService
from mamori.kit.settings import Settings


def _service(data_dir: Path | None, database_url: str | None) -> ConsoleService:
    from mamori.adapters.sql.store import SqlStore
    from mamori.console.setup import build_console

    overrides: dict[str, Any] = {k: v for k, v in (("data_dir", data_dir), ("database_url", database_url)) if v}
    settings = Settings(**overrides)
    return build_console(settings, SqlStore(settings.resolved_database_url()))


def _print_code(login_id: str, code: str) -> None:
    click.echo(f"enrolment code for {login_id}: {code}")
    click.echo("Give it to the operator in person or by phone (not by e-mail). It works once, for 72 hours, "
               "at /console/enrol.")
    click.echo("登録コードは対面または電話で本人に伝えてください（メール不可）。"
               "72時間・1回限り、/console/enrol で有効です。")


@click.group()
def operators() -> None:
    """Console operators: create, list, disable/enable, change role, reset passkeys."""


@operators.command("create")
@click.option("--login-id", required=True, help="a-z, 0-9, '.', '_', '-' (e.g. hanako).")
@click.option("--name", required=True, help="Display name, e.g. 'Hanako Sato'.")
@click.option("--role", required=True, type=click.Choice(list(ROLES)))
@database_options
def create(login_id: str, name: str, role: str, data_dir: Path | None, database_url: str | None) -> None:
    """Create an operator and print the one-time enrolment code."""
    op, code = _service(data_dir, database_url).create_operator(login_id=login_id, name=name, role=role,
                                                                actor=cli_actor())
    click.echo(f"created {op.login_id} ({op.role})")
    _print_code(op.login_id, code)


@operators.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@database_options
def list_(as_json: bool, data_dir: Path | None, database_url: str | None) -> None:
    """List operators with their role, status and number of passkeys."""
    for row in _service(data_dir, database_url).operators():
        if as_json:
            click.echo(orjson.dumps(row).decode())
        else:
            status = "active" if row["active"] else "disabled"
            click.echo(f"{row['login_id']:<24} {row['role']:<11} {status:<9} passkeys={row['passkeys']}  {row['name']}")


@operators.command("disable")
@click.argument("login_id")
@database_options
def disable(login_id: str, data_dir: Path | None, database_url: str | None) -> None:
    """Disable an operator; their sessions end at once."""
    ended = _service(data_dir, database_url).disable(login_id, actor=cli_actor())
    click.echo(f"disabled {login_id}; {ended} session(s) ended")


@operators.command("enable")
@click.argument("login_id")
@database_options
def enable(login_id: str, data_dir: Path | None, database_url: str | None) -> None:
    """Enable a disabled operator again."""
    _service(data_dir, database_url).enable(login_id, actor=cli_actor())
    click.echo(f"enabled {login_id}")


@operators.command("set-role")
@click.argument("login_id")
@click.argument("role", type=click.Choice(list(ROLES)))
@database_options
def set_role(login_id: str, role: str, data_dir: Path | None, database_url: str | None) -> None:
    """Change an operator's role (their sessions end; they sign in again under the new role)."""
    _service(data_dir, database_url).set_role(login_id, role, actor=cli_actor())
    click.echo(f"{login_id} is now {role}")


@operators.command("reset")
@click.argument("login_id")
@database_options
def reset(login_id: str, data_dir: Path | None, database_url: str | None) -> None:
    """Remove the operator's passkeys, end their sessions and print a new enrolment code."""
    code = _service(data_dir, database_url).reset(login_id, actor=cli_actor())
    click.echo(f"passkeys of {login_id} removed, sessions ended")
    _print_code(login_id, code)


def register(main: click.Group) -> None:
    main.add_command(operators)
