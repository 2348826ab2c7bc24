"""A real SMTP server on loopback for notice tests (aiosmtpd), and its mailbox."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from aiosmtpd.controller import Controller

from server import free_port

HOST = "127.0.0.1"


@dataclass
class Mailbox:
    """What the server received; ``refuse`` makes it reject every recipient (550)."""

    envelopes: list[Any] = field(default_factory=list)
    refuse: bool = False

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if self.refuse:
            return "550 5.1.1 No such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"


@contextmanager
def running_smtp_server() -> Iterator[tuple[Mailbox, int]]:
    box = Mailbox()
    port = free_port()
    controller = Controller(box, hostname=HOST, port=port)
    controller.start()
    try:
        yield box, port
    finally:
        controller.stop()
