"""Start a real ``mamori serve`` process on 127.0.0.1 for the HTTP and durability tests.

``start_server(data_dir)`` launches ``python -m mamori.cli.main serve`` on a free loopback port,
waits until ``GET /healthz`` answers and returns a :class:`RunningServer` (``.url``, ``.admin_key``,
``.kill()`` = SIGKILL, ``.stop()`` = SIGTERM and wait, ``.log()`` = everything it wrote to stderr).
It is a context manager; every process started here is also killed at interpreter exit (and, on Linux,
by the kernel if the test process itself is killed), so a failing test never leaves a server behind.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import TracebackType

import httpx

HOST = "127.0.0.1"
START_TIMEOUT_S = 30.0

_live: set[subprocess.Popen[bytes]] = set()


def _reap_all() -> None:
    for proc in list(_live):
        with contextlib.suppress(OSError):
            proc.kill()
        with contextlib.suppress(Exception):
            proc.wait(timeout=5)
    _live.clear()


atexit.register(_reap_all)


def _die_with_parent() -> None:
    """In the child before exec (Linux): get SIGKILL when the test process dies, however it dies."""
    with contextlib.suppress(Exception):
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def cli_env(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for mamori subprocesses: inherited ``MAMORI_*`` settings are dropped so that
    only what a test asks for applies; no proxies (everything stays on loopback)."""
    out = {k: v for k, v in os.environ.items()
           if not k.startswith("MAMORI_") and k.lower() not in ("http_proxy", "https_proxy", "all_proxy")}
    out["NO_PROXY"] = out["no_proxy"] = "127.0.0.1,localhost"
    out["PYTHONUNBUFFERED"] = "1"
    out.update(env or {})
    return out


def run_cli(*args: str, data_dir: Path | None = None, check: bool = True,
            timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run ``python -m mamori.cli.main ARGS`` (with ``--data-dir`` appended when given)."""
    cmd = [sys.executable, "-m", "mamori.cli.main", *args]
    if data_dir is not None:
        cmd += ["--data-dir", str(data_dir)]
    return subprocess.run(cmd, capture_output=True, text=True, env=cli_env(), timeout=timeout,
                          check=check)


class ServerError(RuntimeError):
    pass


class RunningServer:
    def __init__(self, proc: subprocess.Popen[bytes], *, port: int, data_dir: Path, log_path: Path,
                 log_offset: int) -> None:
        self.proc = proc
        self.port = port
        self.url = f"http://{HOST}:{port}"
        self.data_dir = data_dir
        self.log_path = log_path
        self._log_offset = log_offset

    # -- info ---------------------------------------------------------------------------------
    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def admin_key(self) -> str:
        return (self.data_dir / "initial-api-key").read_text(encoding="utf-8").strip()

    def headers(self, key: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {key or self.admin_key}"}

    def client(self, key: str | None = None, **kwargs: object) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers=self.headers(key), trust_env=False,
                            timeout=kwargs.pop("timeout", 30.0), **kwargs)  # type: ignore[arg-type]

    def log(self) -> str:
        """What this process wrote to stdout/stderr so far."""
        with self.log_path.open("rb") as f:
            f.seek(self._log_offset)
            return f.read().decode("utf-8", "replace")

    def alive(self) -> bool:
        return self.proc.poll() is None

    # -- stopping -----------------------------------------------------------------------------
    def kill(self) -> None:
        """SIGKILL: no shutdown code runs (a crash)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)
        _live.discard(self.proc)

    def stop(self, timeout: float = 20.0) -> int:
        """SIGTERM and wait for a clean exit (SIGKILL if it does not come within ``timeout``)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        _live.discard(self.proc)
        return int(self.proc.returncode)

    def __enter__(self) -> RunningServer:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


def start_server(data_dir: Path, *, port: int | None = None, rules: Path | None = None,
                 env: Mapping[str, str] | None = None, timeout: float = START_TIMEOUT_S) -> RunningServer:
    """Launch ``mamori serve`` on 127.0.0.1 and wait until it answers ``GET /healthz``."""
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    log_path = data_dir / "server.log"
    attempts = 1 if port is not None else 3
    last_error = ""
    for _attempt in range(attempts):
        chosen = port or free_port()
        cmd = [sys.executable, "-m", "mamori.cli.main", "serve", "--host", HOST, "--port", str(chosen),
               "--data-dir", str(data_dir)]
        if rules is not None:
            cmd += ["--rules", str(rules)]
        with log_path.open("ab") as log:
            offset = log.tell()
            proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    env=cli_env(env), start_new_session=True,
                                    preexec_fn=_die_with_parent if sys.platform == "linux" else None)
        _live.add(proc)
        server = RunningServer(proc, port=chosen, data_dir=data_dir, log_path=log_path, log_offset=offset)
        try:
            _wait_healthy(server, timeout)
            return server
        except ServerError as exc:
            last_error = str(exc)
            server.kill()
            if "address already in use" not in server.log().lower():
                break
    raise ServerError(last_error)


def _wait_healthy(server: RunningServer, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    with httpx.Client(trust_env=False, timeout=2.0) as client:
        while time.monotonic() < deadline:
            if not server.alive():
                raise ServerError(f"server exited with {server.proc.returncode} before it was ready:\n"
                                  f"{server.log()[-4000:]}")
            try:
                if client.get(f"{server.url}/healthz").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
    raise ServerError(f"server not healthy after {timeout}s:\n{server.log()[-4000:]}")


@contextlib.contextmanager
def running_server(data_dir: Path, **kwargs: object) -> Iterator[RunningServer]:
    """``with running_server(tmp_path) as srv:`` - always stopped (killed if need be) on exit."""
    server = start_server(data_dir, **kwargs)  # type: ignore[arg-type]
    try:
        yield server
    finally:
        server.stop()
