"""A logging filter that keeps personal data out of logs.

Installed on every handler (see ``LOGGING`` in settings). It drops query strings from request
descriptions (locator searches carry names and A-numbers in the URL) and masks anything shaped like
an email address, a phone number or an A-number in the message and its arguments.
"""

from __future__ import annotations

import logging
import re
from typing import Any

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_PHONE = re.compile(r"(?<![\w/])\+?\d[\d ().-]{8,}\d(?![\w/])")
_A_NUMBER = re.compile(r"\bA[- ]?\d{3}[- ]?\d{3}[- ]?\d{3}\b", re.IGNORECASE)
_QUERY = re.compile(r"\?[^'\"\s>]*")
_DATE_OR_TIME = re.compile(r"\d{4}-\d{2}-\d{2}|\d{1,2}:\d{2}")


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


class PersonalDataFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage()) if record.args else _redact_value(record.msg)
        record.args = None
        request = getattr(record, "request", None)
        if request is not None and not isinstance(request, str):
            # Django attaches the request object; its repr carries the full URL with the query string.
            record.request = f"<{request.__class__.__name__}: {getattr(request, 'method', '')} {request.path!r}>"
        for name in ("path", "url", "query"):
            if isinstance(getattr(record, name, None), str):
                setattr(record, name, redact(getattr(record, name)))
        return True
