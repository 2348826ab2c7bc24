"""Customer notices from the running server: after each decision is durable, a background worker
hands it to the :class:`~mamori.notify.dispatch.Dispatcher` in arrival order (so lock tracking sees
every attempt), off the request path. Configured from settings; off until the firm's name and
support phone are set.

A notice that was due when the process stopped before the worker reached it is not sent after a
restart (the queue is in memory); the notices table records every notice that was sent.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from mamori.adapters.sql.store import SqlStore
from mamori.kit.settings import Settings
from mamori.notify.contacts import ContactDirectory, load_or_create_key
from mamori.notify.dispatch import Dispatcher, FirmInfo, SqlNoticeLog
from mamori.notify.sender import NoticeSender, SmtpNoticeSender, WebhookNoticeSender

log = logging.getLogger("mamori.notify")


def contacts_for(settings: Settings, store: SqlStore) -> ContactDirectory:
    """The contact directory, its key from ``MAMORI_CONTACTS_KEY`` or ``data_dir/contacts.key`` (0600)."""
    import os

    raw = os.environ.get("MAMORI_CONTACTS_KEY")
    key = raw.encode() if raw else load_or_create_key(settings.data_dir / "contacts.key")
    return ContactDirectory(store.engine, key=key)


def dispatcher_for(settings: Settings, store: SqlStore, contacts: ContactDirectory) -> Dispatcher | None:
    if not (settings.firm_name_ja and settings.support_phone):
        return None
    email: list[NoticeSender] = []
    if settings.smtp_host and settings.smtp_from:
        email.append(SmtpNoticeSender(settings.smtp_host, settings.smtp_port, from_addr=settings.smtp_from,
                                      starttls=settings.smtp_starttls, username=settings.smtp_username,
                                      password=settings.smtp_password))
    hooks: list[NoticeSender] = []
    if settings.notice_webhook_url and settings.notice_webhook_secret:
        hooks.append(WebhookNoticeSender(settings.notice_webhook_url, secret=settings.notice_webhook_secret))
    firm = FirmInfo(settings.firm_name_ja, settings.firm_name_en or settings.firm_name_ja, settings.support_phone)
    return Dispatcher(firm=firm, contacts=contacts, log=SqlNoticeLog(store.engine), email_senders=email,
                      webhook_senders=hooks)


class NoticeWorker:
    """Feeds decisions to the dispatcher one at a time, in the order they were decided."""

    def __init__(self, dispatcher: Dispatcher) -> None:
        self.dispatcher = dispatcher
        self.queue: asyncio.Queue[tuple[dict[str, Any], Any] | None] = asyncio.Queue(maxsize=100_000)
        self.task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.task = asyncio.create_task(self._run())

    def submit(self, decision: dict[str, Any], event: Any) -> None:
        try:
            self.queue.put_nowait((decision, event))
        except asyncio.QueueFull:
            log.error("notice queue full: a notice for account %s may be missed", event.account_id)

    async def _run(self) -> None:
        while True:
            item = await self.queue.get()
            if item is None:
                return
            try:
                outcome = await asyncio.to_thread(self.dispatcher.handle, *item)
                if outcome is not None and outcome.status == "failed":
                    log.warning("notice %s to account %s could not be delivered", outcome.kind,
                                item[1].account_id)
            except Exception:
                log.exception("notice dispatch failed for event %s", item[1].id)

    async def stop(self) -> None:
        """Send what is queued, then stop."""
        if self.task is not None:
            await self.queue.put(None)
            await self.task
