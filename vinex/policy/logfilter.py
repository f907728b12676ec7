"""A logging filter that keeps personal data out of logs.

Installed on every handler (see ``LOGGING`` in settings). It drops query strings from request
descriptions (locator searches carry names and A-numbers in the URL) and masks anything shaped like
an email address, a phone number or an A-number in the message, its arguments and its extra fields.

Exceptions are logged with their traceback (where it happened) but without their messages: those
quote whatever values were at hand — a recipient's address, a database row in an integrity error, the
whole template context in Django's template debug records — and a name cannot be recognised by shape.
"""

from __future__ import annotations

import logging
import re
import traceback
from typing import Any

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_PHONE = re.compile(r"(?<![\w/])\+?\d[\d ().-]{8,}\d(?![\w/])")
_A_NUMBER = re.compile(r"\bA[- ]?\d{3}[- ]?\d{3}[- ]?\d{3}\b", re.IGNORECASE)
_QUERY = re.compile(r"\?[^'\"\s>]*")
_DATE_OR_TIME = re.compile(r"\d{4}-\d{2}-\d{2}|\d{1,2}:\d{2}")
# Attributes every record has; anything else was passed in ``extra`` and is written out by the formatter.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}
_CAUSE = "\nThe above exception was the direct cause of the following exception:\n\n"
_CONTEXT = "\nDuring handling of the above exception, another exception occurred:\n\n"


def _mask_phone(match: re.Match[str]) -> str:
    # Timestamps are digit runs too; they are not personal data and logs are useless without them.
    return match.group() if _DATE_OR_TIME.search(match.group()) else "[number removed]"


def redact(text: str) -> str:
    text = _QUERY.sub("?[query removed]", text)
    text = _EMAIL.sub("[email removed]", text)
    text = _A_NUMBER.sub("[a-number removed]", text)
    return _PHONE.sub(_mask_phone, text)


def _redact_value(value: Any) -> Any:
    return redact(value) if isinstance(value, str) else value


def exception_text(error: BaseException) -> str:
    """The traceback of ``error`` and the exceptions it was raised from, each named by type only."""
    chain: list[tuple[BaseException, str]] = []
    current: BaseException | None = error
    link = ""
    while current is not None and all(current is not seen for seen, _ in chain):
        chain.append((current, link))
        if current.__cause__ is not None:
            current, link = current.__cause__, _CAUSE
        else:
            current, link = (None if current.__suppress_context__ else current.__context__), _CONTEXT
    parts: list[str] = []
    for exc, link in reversed(chain):
        kind = type(exc)
        frames = "".join(traceback.format_tb(exc.__traceback__))
        parts.append(f"Traceback (most recent call last):\n{frames}{kind.__module__}.{kind.__qualname__}\n{link}")
    return "".join(parts).rstrip("\n")


class PersonalDataFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage()) if record.args else _redact_value(record.msg)
        record.args = None
        request = getattr(record, "request", None)
        if request is not None and not isinstance(request, str):
            # Django attaches the request object; its repr carries the full URL with the query string.
            record.request = f"<{request.__class__.__name__}: {getattr(request, 'method', '')} {request.path!r}>"
        for name, value in list(vars(record).items()):
            if name not in _STANDARD and isinstance(value, str):
                setattr(record, name, redact(value))
        if record.exc_info and record.exc_info[1] is not None:
            # Formatters use exc_text when exc_info is gone, so every handler writes the message-free version.
            record.exc_text = exception_text(record.exc_info[1])
            record.exc_info = None
        return True
