"""Reading codes and links out of real email received by the test SMTP server."""

from __future__ import annotations

import re
from email.message import Message

from tests.support.smtp import SmtpServer, body_text
from vinex.notify.worker import Worker


def deliver() -> int:
    """Run the real worker once, in-process, over everything queued."""
    worker = Worker(threads=2)
    try:
        return worker.run_once()
    finally:
        worker.close()


def messages_to(smtp: SmtpServer, address: str) -> list[Message]:
    return [m for m in smtp.inbox.messages if address in str(m["To"])]


def last_code(smtp: SmtpServer, address: str) -> str:
    codes = [re.search(r"\b(\d{6})\b", body_text(m)) for m in messages_to(smtp, address)]
    found = [c[1] for c in codes if c]
    assert found, f"no code mailed to {address}"
    return found[-1]


def manage_token(smtp: SmtpServer, address: str) -> str:
    for message in reversed(messages_to(smtp, address)):
        match = re.search(r"/manage/\?token=([\w-]+)", body_text(message))
        if match:
            return match[1]
    raise AssertionError(f"no manage link mailed to {address}")
