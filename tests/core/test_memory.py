"""A process's short memory: a value is kept for its lifetime only, never with a lifetime of 0, and past its
size the memory starts again empty instead of growing."""

from __future__ import annotations

import time

import pytest

from vinex.core import memory
from vinex.core.memory import Remembered


def test_a_value_is_remembered_until_its_lifetime_has_passed(monkeypatch: pytest.MonkeyPatch) -> None:
    remembered: Remembered[str, int] = Remembered(size=8)
    remembered.put("a", 1, lifetime=5)
    assert remembered.get("a") == 1

    later = time.monotonic() + 6
    monkeypatch.setattr(memory.time, "monotonic", lambda: later)

    assert remembered.get("a") is None


def test_a_lifetime_of_zero_remembers_nothing() -> None:
    remembered: Remembered[str, int] = Remembered(size=8)
    remembered.put("a", 1, lifetime=0)
    assert remembered.get("a") is None
    assert len(remembered) == 0


def test_past_its_size_the_memory_starts_again_empty() -> None:
    remembered: Remembered[int, int] = Remembered(size=3)
    for key in range(3):
        remembered.put(key, key, lifetime=60)
    remembered.put(3, 3, lifetime=60)
    assert len(remembered) == 1
    assert remembered.get(0) is None and remembered.get(3) == 3


def test_forgetting_one_key_or_all() -> None:
    remembered: Remembered[str, int] = Remembered(size=8)
    remembered.put("a", 1, lifetime=60)
    remembered.put("b", 2, lifetime=60)
    remembered.forget("a")
    assert remembered.get("a") is None and remembered.get("b") == 2
    remembered.forget()
    assert len(remembered) == 0
