"""A throwaway PostgreSQL server for the tests: initdb into a temporary directory, start, stop, delete.

The server listens on 127.0.0.1 only (on a free port) and on a unix socket inside its own directory,
trusts loopback connections and keeps ``fsync`` on. PostgreSQL refuses to run as root, so when the
tests run as root the server runs as the unprivileged ``postgres`` system user (created if missing).
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

SERVER_USER = "postgres"
HOST = "127.0.0.1"


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL server binaries were found, or the server would not start."""


def find_bindir() -> Path | None:
    """The directory holding initdb, pg_ctl and postgres: the newest /usr/lib/postgresql/*/bin, else PATH."""

    def version(path: Path) -> tuple[int, ...]:
        return tuple(int(n) for n in re.findall(r"\d+", path.parent.parent.name)) or (0,)

    candidates = sorted((p.parent for p in Path("/usr/lib/postgresql").glob("*/bin/initdb")),
                        key=lambda bindir: version(bindir / "initdb"), reverse=True)
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(Path(on_path).resolve().parent)
    for bindir in candidates:
        if all(os.access(bindir / tool, os.X_OK) for tool in ("initdb", "pg_ctl", "postgres")):
            return bindir
    return None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _server_user() -> pwd.struct_passwd | None:
    """The account the server runs as: None (ourselves) unless we are root."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(SERVER_USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--user-group", "--no-create-home",
                        "--shell", "/usr/sbin/nologin", SERVER_USER], check=True, capture_output=True)
        return pwd.getpwnam(SERVER_USER)


@dataclass
class PostgresServer:
    bindir: Path
    root: Path
    port: int = 0
    startup_seconds: float = 0.0
    _user: pwd.struct_passwd | None = field(default=None, repr=False)

    @property
    def datadir(self) -> Path:
        return self.root / "data"

    @property
    def socket_dir(self) -> Path:
        return self.root / "socket"

    @property
    def logfile(self) -> Path:
        return self.root / "server.log"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@{HOST}:{self.port}/{database}"

    # -- lifecycle -------------------------------------------------------------------------------
    @classmethod
    def start_new(cls) -> PostgresServer:
        bindir = find_bindir()
        if bindir is None:
            raise PostgresUnavailable(
                "PostgreSQL server binaries (initdb, pg_ctl, postgres) were not found under "
                "/usr/lib/postgresql/*/bin or on PATH. Run the tests with scripts/test, which installs "
                "them (apt-get install -y postgresql).")
        began = time.monotonic()
        server = cls(bindir=bindir, root=Path(tempfile.mkdtemp(prefix="mamori-pg-")), _user=_server_user())
        try:
            server._initdb()
            server._start()
        except BaseException:
            server.stop()
            raise
        server.startup_seconds = time.monotonic() - began
        return server

    def stop(self) -> None:
        try:
            if (self.datadir / "postmaster.pid").exists():
                self._run(["pg_ctl", "stop", "-D", str(self.datadir), "-m", "immediate", "-w", "-t", "30"],
                          check=False)
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def _initdb(self) -> None:
        self.socket_dir.mkdir()
        if self._user is not None:
            for path in (self.root, self.socket_dir):
                os.chown(path, self._user.pw_uid, self._user.pw_gid)
        self.root.chmod(0o700)
        # --no-sync only skips flushing the freshly created (throwaway) cluster files to disk, which
        # takes most of initdb's time; the server itself runs with fsync on, so every commit the
        # tests make is durable the way it is in production.
        self._run(["initdb", "-D", str(self.datadir), "-U", "postgres", "-E", "UTF8", "--no-locale",
                   "--auth=trust", "--no-sync"])
        (self.datadir / "pg_hba.conf").write_text(
            "# loopback only, no passwords: a throwaway test server\n"
            "local all all trust\n"
            f"host all all {HOST}/32 trust\n")
        with (self.datadir / "postgresql.conf").open("a") as conf:
            conf.write(
                "\n# mamori tests\n"
                f"listen_addresses = '{HOST}'\n"
                f"unix_socket_directories = '{self.socket_dir}'\n"
                "fsync = on\n"
                "synchronous_commit = on\n"
                "full_page_writes = on\n"
                "max_connections = 100\n"
                "shared_buffers = 32MB\n")

    def _start(self) -> None:
        last = ""
        for _attempt in range(3):  # another process may grab the free port before the server binds it
            self.port = free_port()
            conf = self.datadir / "postgresql.auto.conf"
            conf.write_text(f"port = {self.port}\n")
            if self._user is not None:
                os.chown(conf, self._user.pw_uid, self._user.pw_gid)
            done = self._run(["pg_ctl", "start", "-D", str(self.datadir), "-l", str(self.logfile),
                              "-w", "-t", "60"], check=False)
            if done.returncode == 0:
                return
            last = done.stdout + done.stderr
        log = self.logfile.read_text(errors="replace") if self.logfile.exists() else ""
        raise PostgresUnavailable(f"PostgreSQL did not start:\n{last}\n{log[-4000:]}")

    def _run(self, argv: list[str], *, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run a server tool from ``bindir`` as the server user, in the server's own directory."""
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C", "HOME": str(self.root),
               "PGTZ": "UTC"}
        user = self._user
        done = subprocess.run(
            [str(self.bindir / argv[0]), *argv[1:]], cwd=self.root, env=env, capture_output=True,
            text=True, stdin=subprocess.DEVNULL, timeout=120,
            user=user.pw_uid if user else None, group=user.pw_gid if user else None,
            extra_groups=[] if user else None)
        if check and done.returncode != 0:
            raise PostgresUnavailable(f"{argv[0]} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
        return done
