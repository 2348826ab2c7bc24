"""``mamori bench http``: ``POST /v1/decisions`` driven from a second process on loopback.

Starts ``mamori serve`` on a fresh data directory (SQLite, ``synchronous=FULL``: every response
waits for its event to be durable), then a load process opens N keep-alive connections and sends
generated events as fast as responses come back (closed loop), or at a fixed offered rate. Latency
is measured per request in the load process; at the end the stored event count is checked against
the successful responses. Last line: ``http decisions_per_s=<n> p99_ms=<y>``.
"""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson

from mamori.bench.stream import generate, history

CUSTOMERS = 20_000


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _one_connection(host: str, port: int, path: str, key: str, bodies: list[bytes], offset: int,
                          stride: int, deadline: float, interval: float, latencies: list[float],
                          errors: list[int]) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    head = (f"POST {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {key}\r\n"
            "Content-Type: application/json\r\nContent-Length: ").encode()
    i = offset
    next_at = time.perf_counter()
    while True:
        now = time.perf_counter()
        if now >= deadline or i >= len(bodies):
            break
        if interval:
            if now < next_at:
                await asyncio.sleep(next_at - now)
            next_at += interval
        body = bodies[i]
        i += stride
        t0 = time.perf_counter()
        writer.write(head + str(len(body)).encode() + b"\r\n\r\n" + body)
        status_line = await reader.readline()
        length = 0
        while True:
            line = await reader.readline()
            if line in (b"\r\n", b""):
                break
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        await reader.readexactly(length)
        latencies.append(time.perf_counter() - t0)
        if not status_line.startswith(b"HTTP/1.1 200"):
            errors.append(int(status_line.split()[1]))
    writer.close()


def _load_process(url: str, key: str, seconds: float, connections: int, rate: int, seed: int,
                  id_prefix: str, result: Any) -> None:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    n_max = int(seconds * 6000) + 1000
    bodies = [orjson.dumps(e) for e in generate(n_max, seed=seed, customers=CUSTOMERS, id_prefix=id_prefix)]
    latencies: list[float] = []
    errors: list[int] = []
    interval = connections / rate if rate else 0.0

    async def main() -> float:
        deadline = time.perf_counter() + seconds
        started = time.perf_counter()
        await asyncio.gather(*(_one_connection(host, port, "/v1/decisions", key, bodies, c, connections,
                                               deadline, interval, latencies, errors)
                               for c in range(connections)))
        return time.perf_counter() - started

    try:  # the load generator must not be the bottleneck: use the faster event loop when present
        import uvloop

        elapsed = uvloop.run(main())
    except ImportError:
        elapsed = asyncio.run(main())
    cpu = time.process_time()
    latencies.sort()
    result.put({"requests": len(latencies), "errors": len(errors), "elapsed": elapsed, "client_cpu_s": cpu,
                "p50": latencies[len(latencies) // 2] if latencies else 0.0,
                "p99": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] if latencies else 0.0})


def start_server(data_dir: Path, *, port: int | None = None,
                 env_extra: dict[str, str] | None = None) -> tuple[subprocess.Popen[bytes], str, str]:
    """``mamori serve`` on a fresh data directory; returns the process, its URL and the admin key."""
    port = port or _free_port()
    env = {**os.environ, "MAMORI_DATA_DIR": str(data_dir), "MAMORI_RULES_RELOAD_INTERVAL_S": "0", **(env_extra or {})}
    proc = subprocess.Popen([sys.executable, "-m", "mamori.cli.main", "serve", "--port", str(port),  # noqa: S603 (our own module)
                             "--log-level", "warning"], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                key = (data_dir / "initial-api-key").read_text().strip()
                return proc, url, key
        except (httpx.HTTPError, FileNotFoundError):
            pass
        if proc.poll() is not None:
            raise RuntimeError(f"server exited: {proc.stderr.read().decode() if proc.stderr else ''}")
        time.sleep(0.2)
    proc.kill()
    raise RuntimeError("server did not start within 60 s")


def run(*, seconds: float = 20.0, connections: int = 32, rate: int = 0, url: str | None = None,
        key: str | None = None, seed: int = 11) -> dict[str, Any]:
    tmp = None
    proc = None
    if url is None:
        tmp = tempfile.TemporaryDirectory(prefix="mamori-bench-")
        proc, url, key = start_server(Path(tmp.name))
    if not key:
        raise ValueError("--key is required with --url")
    try:
        imported = _import_history(url, key, seed)
        # Warm-up: let the server load IP data and compile rules before timing.
        warm = _run_load(url, key, 2.0, connections, 0, seed, "warm")
        r = _run_load(url, key, seconds, connections, rate, seed, "timed")
        out: dict[str, Any] = {
            "requests": r["requests"], "errors": r["errors"],
            "decisions_per_s": (r["requests"] - r["errors"]) / r["elapsed"],
            "p50_ms": r["p50"] * 1000, "p99_ms": r["p99"] * 1000,
            "machine": f"{platform.machine()} {os.cpu_count()} cpus python {platform.python_version()}",
        }
        if tmp is not None:
            from mamori.adapters.sql.store import SqlStore

            store = SqlStore(f"sqlite:///{Path(tmp.name) / 'mamori.db'}")
            out["stored"] = store.count_events()
            out["answered_ok"] = imported + warm["requests"] - warm["errors"] + r["requests"] - r["errors"]
            store.close()
        return out
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=30)
        if tmp is not None:
            tmp.cleanup()


def _import_history(url: str, key: str, seed: int) -> int:
    """Send the customers' history (holdings, earlier logins) in batches, as a firm does before
    going live; not timed."""
    items = list(history(seed=seed, customers=CUSTOMERS))
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=120) as client:
        for i in range(0, len(items), 1000):
            r = client.post("/v1/events", json={"events": items[i:i + 1000]})
            r.raise_for_status()
    return len(items)


def _run_load(url: str, key: str, seconds: float, connections: int, rate: int, seed: int,
              id_prefix: str) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    p = ctx.Process(target=_load_process, args=(url, key, seconds, connections, rate, seed, id_prefix, queue))
    p.start()
    result: dict[str, Any] = queue.get(timeout=seconds + 300)
    p.join()
    return result
