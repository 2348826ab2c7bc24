"""Group commit: many concurrent requests share one transaction (and one fsync).

Requests hand their records to a writer thread and await a future; the thread takes everything that
queued up while the previous transaction was committing and writes it in one transaction. Under
load this turns thousands of commits per second into tens, and each response is still sent only
after its own records are durable.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Callable

from mamori.adapters.sql.store import AcceptedRecord

_STOP = object()


class GroupCommitWriter:
    def __init__(self, write: Callable[[list[AcceptedRecord]], None], *, max_batch: int = 2000) -> None:
        self._write = write
        self._max_batch = max_batch
        self._queue: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="mamori-writer", daemon=True)
        self._thread.start()

    async def submit(self, records: list[AcceptedRecord]) -> None:
        """Return once ``records`` are committed; raise what the store raised otherwise."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        self._queue.put((records, future, loop))
        await future

    def close(self) -> None:
        self._queue.put(_STOP)
        self._thread.join(timeout=30)

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            pending = [item]
            count = len(item[0])  # type: ignore[index]
            stop = False
            while count < self._max_batch:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is _STOP:
                    stop = True
                    break
                pending.append(nxt)
                count += len(nxt[0])  # type: ignore[index]
            records = [r for p in pending for r in p[0]]  # type: ignore[index]
            error: BaseException | None = None
            try:
                self._write(records)
            except BaseException as exc:  # reported to every waiting request
                error = exc
            for _records, future, loop in pending:  # type: ignore[misc]
                loop.call_soon_threadsafe(_settle, future, error)
            if stop:
                return


def _settle(future: asyncio.Future[None], error: BaseException | None) -> None:
    if future.done():
        return
    if error is None:
        future.set_result(None)
    else:
        future.set_exception(error)
