"""Group commit: many concurrent requests share one transaction (and one fsync).

Requests hand their records to a writer thread and await a future; the thread takes everything that
queued up while the previous transaction was committing and writes it in one transaction. Under
load this turns thousands of commits per second into tens, and each response is still sent only
after its own records are durable.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from collections.abc import Callable
from typing import cast

from mamori.adapters.sql.store import AcceptedRecord
from mamori.kit.errors import StorageUnavailable

_STOP = object()
_Submission = tuple[list[AcceptedRecord], "asyncio.Future[None]", asyncio.AbstractEventLoop]


class GroupCommitWriter:
    def __init__(self, write: Callable[[list[AcceptedRecord]], None], *, max_batch: int = 2000) -> None:
        self._write = write
        self._max_batch = max_batch
        self._queue: queue.SimpleQueue[object] = queue.SimpleQueue()
        # Guards ``_closed`` and the queue's end: nothing is queued after _STOP, so nothing waits forever.
        self._lock = threading.Lock()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="mamori-writer", daemon=True)
        self._thread.start()

    async def submit(self, records: list[AcceptedRecord]) -> None:
        """Return once ``records`` are committed; raise what the store raised otherwise."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        with self._lock:
            if self._closed:
                raise StorageUnavailable("the event writer is closed")
            self._queue.put((records, future, loop))
        await future

    def close(self) -> None:
        """Write what is queued, then stop; later submits raise StorageUnavailable."""
        with self._lock:
            if not self._closed:
                self._closed = True
                self._queue.put(_STOP)
        self._thread.join(timeout=30)

    def _run(self) -> None:
        try:
            self._loop()
        finally:
            # However the thread ends, fail whatever is still queued instead of leaving it waiting.
            with self._lock:
                self._closed = True
            leftovers = []
            while True:
                try:
                    leftovers.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            stopped = StorageUnavailable("the event writer stopped")
            for item in leftovers:
                if item is not _STOP:
                    _records, future, loop = cast(_Submission, item)
                    _notify(loop, future, stopped)

    def _loop(self) -> None:
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
            errors: list[BaseException | None] = [None] * len(pending)
            try:
                self._write(records)
            except BaseException as exc:
                if len(pending) == 1:
                    errors[0] = exc
                else:
                    # One bad submission must not fail the others it happened to be grouped with:
                    # write each on its own, so only requests whose own records fail see an error.
                    for i, item in enumerate(pending):
                        try:
                            self._write(cast(_Submission, item)[0])
                        except BaseException as own_exc:
                            errors[i] = own_exc
            # One wake-up per event loop for the whole batch (not one per request): each
            # call_soon_threadsafe writes to the loop's self-pipe.
            by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[None], BaseException | None]]] = {}
            for item, error in zip(pending, errors, strict=True):
                _records, future, loop = cast(_Submission, item)
                by_loop.setdefault(loop, []).append((future, error))
            for loop, settlements in by_loop.items():
                with contextlib.suppress(RuntimeError):  # that loop is closed: nobody waits any more
                    loop.call_soon_threadsafe(_settle_all, settlements)
            if stop:
                return


def _notify(loop: asyncio.AbstractEventLoop, future: asyncio.Future[None],
            error: BaseException | None) -> None:
    # A RuntimeError means the submitter's event loop is closed: nobody waits for this future any
    # more, and the writer thread must not die of it (every later submit would hang).
    with contextlib.suppress(RuntimeError):
        loop.call_soon_threadsafe(_settle, future, error)


def _settle_all(settlements: list[tuple[asyncio.Future[None], BaseException | None]]) -> None:
    for future, error in settlements:
        _settle(future, error)


def _settle(future: asyncio.Future[None], error: BaseException | None) -> None:
    if future.done():
        return
    if error is None:
        future.set_result(None)
    else:
        future.set_exception(error)
