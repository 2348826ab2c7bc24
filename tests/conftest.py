"""Shared fixtures: the database back ends (SQLite in tmp_path, a throwaway PostgreSQL server)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from pg import PostgresServer, PostgresUnavailable
from smtp import Mailbox, running_smtp_server


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One PostgreSQL server for the whole session. Fails (never skips) without the binaries:
    CI must exercise the real back end."""
    server, problem = None, ""
    try:
        server = PostgresServer.start_new()
    except PostgresUnavailable as exc:
        problem = str(exc)
    if server is None:
        pytest.fail(problem, pytrace=False)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """A SQLAlchemy URL to a fresh, empty database, dropped after the test."""
    name = f"test_{uuid.uuid4().hex}"
    admin = create_engine(postgres_server.url(), isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        yield postgres_server.url(name)
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of an empty store, once per back end."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'mamori.db'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def smtp_server() -> Iterator[tuple[Mailbox, int]]:
    """A real SMTP server on 127.0.0.1 (aiosmtpd): (mailbox, port)."""
    with running_smtp_server() as running:
        yield running
