"""What a log handler would write for a record, to assert that no search term gets there."""

from __future__ import annotations

import logging

_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


def logged_fields(record: logging.LogRecord) -> str:
    """The message and every extra field a handler would write (timestamps and the like left out)."""
    extras = {k: v for k, v in vars(record).items() if k not in _STANDARD}
    return f"{record.getMessage()} {extras}"
