from __future__ import annotations

import pytest

from vinex.linkage import names


@pytest.mark.parametrize(("raw", "clean"), [
    ("  GARCÍA   López ", "garcia lopez"),
    ("García-López", "garcia lopez"),
    ("O'Brien", "obrien"),
    ("de la Cruz López", "delacruz lopez"),
    ("García y López", "garcia lopez"),
    ("Мария", "mariia"),  # transliterated, so a Cyrillic record meets its Latin copy half way
    ("J.", "j"),
    ("", None),
    ("  -- ", None),
])
def test_names_fold_case_accents_spacing_and_punctuation(raw: str, clean: str | None) -> None:
    assert names.name_clean(raw) == clean


def test_compound_surname_keeps_its_first_part() -> None:
    assert names.surname_first("García López") == "garcia"
    assert names.surname_first("de la Cruz Pérez") == "delacruz"


@pytest.mark.parametrize(("nickname", "formal"), [("Bill", "William"), ("Pepe", "José"), ("Paco", "Francisco"),
                                                   ("Kate", "Katherine"), ("Liz", "Elizabeth"), ("Jim", "James")])
def test_nicknames_overlap_with_the_formal_name(nickname: str, formal: str) -> None:
    assert set(names.given_aliases(nickname) or []) & set(names.given_aliases(formal) or [])


def test_unrelated_given_names_do_not_overlap() -> None:
    assert not set(names.given_aliases("William") or []) & set(names.given_aliases("Katherine") or [])
    assert names.given_aliases("Zorblat") == ["zorblat"]


@pytest.mark.parametrize(("raw", "iso"), [("1980-03-07", "1980-03-07"), ("19800307", "1980-03-07"),
                                          (" 1980-03-07 ", "1980-03-07"), ("07/03/1980", None),
                                          ("1980-13-01", None), ("", None)])
def test_dates_in_both_accepted_forms(raw: str, iso: str | None) -> None:
    assert names.date_clean(raw) == iso


def test_day_and_month_swap_only_when_it_gives_another_date() -> None:
    assert names.date_swapped("1980-03-07") == "1980-07-03"
    assert names.date_swapped("1980-03-25") is None  # day 25 cannot be a month
    assert names.date_swapped("1980-03-03") is None


@pytest.mark.parametrize("raw", ["A012345678", "a 012-345-678", "012 345 678", "012345678"])
def test_a_numbers_accept_prefix_spaces_and_dashes(raw: str) -> None:
    assert names.a_number_clean(raw) == "012345678"


@pytest.mark.parametrize("raw", ["A12345", "A0123456789", "nope", "", None])
def test_a_number_that_is_not_one_is_unknown(raw: str | None) -> None:
    assert names.a_number_clean(raw) is None


def test_soundex_brings_spellings_together() -> None:
    assert names.soundex("robert") == names.soundex("rupert") == "r163"
    assert names.soundex("ashcraft") == "a261"


def test_sex_spellings() -> None:
    assert [names.sex_clean(v) for v in ("M", "Female", "mujer", "x", None)] == ["m", "f", "f", None, None]


@pytest.mark.parametrize(("raw", "digits"), [("1945-04-93", "19450493"), ("19450403", "19450403"),
                                             ("07/03/1980", None), (None, None)])
def test_date_digits_are_kept_even_when_a_typo_makes_no_date(raw: str | None, digits: str | None) -> None:
    assert names.date_clean("1945-04-93") is None
    assert names.date_digits(raw) == digits


def test_street_key_ignores_where_the_spaces_fell() -> None:
    assert names.street_key("8 Stobie Place") == names.street_key("8 stobiepl ace") == "8stobieplace"
    assert names.street_key(" ") is None
