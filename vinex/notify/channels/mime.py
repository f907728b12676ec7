"""Plain-text email messages (RFC 5322, MIME) built from a fixed set of headers.

vinex sends one kind of email: UTF-8 plain text with a handful of headers. Building that directly
is a few string joins; the standard library's general-purpose builder still does the parts that need
care: RFC 2047 encoding of a non-ASCII subject or display name, dates, and base64 bodies.
"""

from __future__ import annotations

import base64
from email.header import Header
from email.utils import formataddr, formatdate, parseaddr
from functools import lru_cache

_CRLF = "\r\n"


def _header_value(value: str) -> str:
    if value.isascii() and "\n" not in value and "\r" not in value:
        return value
    return Header(value.replace("\r", " ").replace("\n", " "), "utf-8").encode()


@lru_cache(maxsize=1024)
def _address(address: str) -> str:
    """The header form of an address; cached, as every message repeats the sender's."""
    name, email = parseaddr(address)
    if "\n" in email or "\r" in email or not email:
        raise ValueError("not an email address")
    return formataddr((name, email), charset="utf-8")


def plain_text_message(*, sender: str, recipient: str, subject: str, body: str, headers: dict[str, str]) -> bytes:
    """The bytes of a UTF-8 plain-text message, ready for ``smtplib.SMTP.sendmail``."""
    lines = [
        f"From: {_address(sender)}",
        f"To: {_address(recipient)}",
        f"Subject: {_header_value(subject)}",
        f"Date: {formatdate(usegmt=True)}",
        *(f"{name}: {_header_value(value)}" for name, value in headers.items()),
        "MIME-Version: 1.0",
        'Content-Type: text/plain; charset="utf-8"',
        "Content-Transfer-Encoding: base64",
    ]
    encoded = base64.encodebytes(body.encode("utf-8")).decode("ascii").replace("\n", _CRLF)
    return (_CRLF.join(lines) + _CRLF + _CRLF + encoded).encode("ascii")
