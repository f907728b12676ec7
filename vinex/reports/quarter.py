"""A calendar quarter in UTC, written ``2026Q3``: the half-open interval ``[start, end)``."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

_QUARTER = re.compile(r"(\d{4})Q([1-4])")


class QuarterError(ValueError):
    """Not a quarter such as 2026Q3."""


@dataclass(frozen=True)
class Quarter:
    year: int
    number: int

    @classmethod
    def parse(cls, text: str) -> Quarter:
        """``2026Q3`` (a year of four digits, Q, 1 to 4); QuarterError for anything else."""
        found = _QUARTER.fullmatch(text.strip())
        if found is None or int(found.group(1)) < 1970:
            raise QuarterError(f"{text!r} is not a quarter: write the year and Q1 to Q4, such as 2026Q3")
        return cls(int(found.group(1)), int(found.group(2)))

    def __str__(self) -> str:
        return f"{self.year}Q{self.number}"

    @property
    def start(self) -> datetime:
        return datetime(self.year, 3 * self.number - 2, 1, tzinfo=UTC)

    @property
    def end(self) -> datetime:
        if self.number == 4:
            return datetime(self.year + 1, 1, 1, tzinfo=UTC)
        return datetime(self.year, 3 * self.number + 1, 1, tzinfo=UTC)

    @property
    def hours(self) -> int:
        return int((self.end - self.start).total_seconds()) // 3600


def iso_z(moment: datetime) -> str:
    """``2026-07-01T00:00:00Z``: how report.json writes an instant."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
