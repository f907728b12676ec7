"""Receiving a roster upload: the body lands on disk with its digest, and the population read while it
arrives is only trusted when the upload ended soon after."""

from __future__ import annotations

import hashlib
import io
import time
from pathlib import Path

import pytest
from django.http import HttpRequest
from django.test import Client

from tests.feeds.roster import people, put_roster, roster_csv
from vinex.custody.models import Agency, Facility
from vinex.feeds import api as feeds_api
from vinex.feeds.selectors import population_ids

pytestmark = pytest.mark.django_db


class SlowSender(io.BytesIO):
    """A body that arrives in pieces, with a pause before each."""

    def __init__(self, body: bytes, pause: float) -> None:
        super().__init__(body)
        self.pause = pause

    def read(self, size: int | None = -1) -> bytes:
        time.sleep(self.pause)
        return super().read(64)


def test_the_population_read_during_a_prompt_upload_is_the_facilitys(api: Client, agency: Agency,
                                                                     tmp_path: Path) -> None:
    put_roster(api, roster_csv(people(5)))
    main = Facility.objects.get(agency=agency, code="main")
    body = roster_csv(people(6)).encode()
    digest, population = feeds_api._receive(SlowSender(body, 0), tmp_path / "roster", main)  # type: ignore[arg-type]
    assert (tmp_path / "roster").read_bytes() == body
    assert digest == hashlib.sha256(body).hexdigest()
    assert population is not None
    held = sorted(population_ids(facility=main).to_list())
    assert sorted(population.to_list()) == held == [f"S-{i}" for i in range(5)]


def test_the_population_read_during_a_slow_upload_is_read_again(agency: Agency, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(feeds_api, "_POPULATION_FRESH_SECONDS", 0.05)
    main = Facility.objects.get(agency=agency, code="main")
    body = roster_csv(people(3)).encode()
    request: HttpRequest = SlowSender(body, 0.02)  # type: ignore[assignment]
    digest, population = feeds_api._receive(request, tmp_path / "roster", main)
    assert population is None  # the import reads the population itself, once the file is all there
    assert digest == hashlib.sha256(body).hexdigest()


def test_a_roster_sent_slowly_is_applied_against_the_population_at_its_end(api: Client, agency: Agency,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    put_roster(api, roster_csv(people(4)))
    monkeypatch.setattr(feeds_api, "_POPULATION_FRESH_SECONDS", -1.0)  # every upload counts as slow
    body = put_roster(api, roster_csv(people(4, start=1))).json()
    assert (body["status"], body["booked"], body["released"], body["unchanged"]) == ("applied", 1, 1, 3)
