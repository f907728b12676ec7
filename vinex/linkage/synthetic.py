"""A seeded synthetic population with the errors real custody records carry (training and benchmarks).

No real person is in it. People are drawn from name and place lists with skewed (Zipf-like)
frequencies; each may appear in several records, as several agencies would hold them, and every copy
after the first is perturbed the way clerks, forms and systems perturb records: typos, nicknames,
initials, accents and case, compound surnames cut short, first and last names swapped, day and month
swapped, digits mistyped, fields left empty, people who moved, addresses with a space dropped or moved
and postcodes and cities mistyped. The same seed gives the same records.
"""

from __future__ import annotations

import random
import string
from dataclasses import dataclass
from itertools import accumulate

import polars as pl
from nicknames import NickNamer

from vinex.linkage.features import INPUT_COLUMNS
from vinex.linkage.names import given_aliases

_SPANISH_GIVEN = ("jose", "juan", "luis", "carlos", "jesus", "francisco", "miguel", "antonio", "manuel", "pedro",
                  "alejandro", "jorge", "ricardo", "fernando", "eduardo", "roberto", "sergio", "rafael", "javier",
                  "guadalupe", "maria", "rosa", "ana", "carmen", "dolores", "teresa", "lucia", "sofia", "isabel",
                  "elena", "veronica", "adriana", "gabriela", "alicia", "yolanda", "rosario", "mercedes",
                  "ignacio", "guillermo", "enrique", "alberto", "gustavo", "vicente", "concepcion", "josefina")
_SURNAMES = ("smith", "johnson", "williams", "brown", "jones", "miller", "davis", "wilson", "anderson", "taylor",
             "thomas", "moore", "martin", "jackson", "thompson", "white", "harris", "clark", "lewis", "robinson",
             "walker", "young", "allen", "king", "wright", "scott", "hill", "green", "adams", "baker", "nelson",
             "mitchell", "campbell", "roberts", "carter", "phillips", "evans", "turner", "parker", "collins",
             "garcia", "rodriguez", "martinez", "hernandez", "lopez", "gonzalez", "perez", "sanchez", "ramirez",
             "torres", "flores", "rivera", "gomez", "diaz", "reyes", "morales", "cruz", "ortiz", "gutierrez",
             "chavez", "ramos", "ruiz", "alvarez", "mendoza", "castillo", "jimenez", "moreno", "romero", "herrera",
             "medina", "aguilar", "vargas", "guzman", "mendez", "salazar", "soto", "delgado", "pena", "rios",
             "nguyen", "tran", "le", "pham", "wang", "li", "zhang", "liu", "chen", "yang", "kim", "lee", "park",
             "patel", "singh", "kumar", "shah", "khan", "ali", "hassan", "ahmed", "ibrahim", "popescu", "ivanov",
             "mueller", "schmidt", "rossi", "russo", "silva", "santos", "oliveira", "souza", "pereira", "costa",
             "o'brien", "mcdonald", "de la cruz", "del rio", "van der berg", "st john", "nunez", "pena", "munoz")
_SYLLABLES = ("an", "ar", "be", "bo", "ca", "da", "de", "do", "el", "fa", "ga", "go", "ha", "is", "ka", "la", "le",
              "li", "lo", "ma", "me", "mi", "mo", "na", "ne", "no", "or", "pa", "ra", "re", "ri", "ro", "sa", "se",
              "so", "ta", "te", "to", "va", "ve", "wa", "ya", "za", "zu", "ber", "ton", "son", "ley", "man", "dez")
_COUNTRIES = (("US", 40), ("MX", 25), ("GT", 6), ("HN", 5), ("SV", 4), ("CU", 2), ("DO", 2), ("CO", 2),
              ("VE", 2), ("HT", 2), ("CN", 2), ("IN", 2), ("VN", 1), ("PH", 1), ("BR", 1), ("EC", 1), ("NG", 1),
              ("RO", 1))
RELATIVE_SHARE = 0.15  # people who live with someone else of the population
_HISPANIC = frozenset({"MX", "GT", "HN", "SV", "CU", "DO", "CO", "VE", "EC"})
_STATES = ("tx", "ca", "az", "nm", "fl", "ny", "il", "ga", "nc", "wa")
_STREET_KINDS = ("street", "avenue", "road", "drive", "lane", "court", "place", "boulevard")
_ACCENTS = {"a": "á", "e": "é", "i": "í", "o": "ó", "u": "ú", "n": "ñ"}
_KEYBOARD = {c: n for c, n in zip("qwertyuiopasdfghjklzxcvbnm", "wqeryuioiosdfghjklkxcvbnmn", strict=True)}


@dataclass
class _Person:
    person_id: int
    first: str
    last: str
    dob: str  # YYYY-MM-DD
    country: str
    sex: str
    a_number: str
    fbi: str
    state_id: str
    state: str
    street: str
    city: str
    postcode: str


class _Vocabulary:
    """Name and place lists with skewed weights: a few common names, a long tail of rare ones."""

    def __init__(self, rng: random.Random) -> None:
        namer = NickNamer()
        english = sorted(name for name in namer.nickname_lookup if len(name) > 2)
        self.given = list(_SPANISH_GIVEN) + english
        invented = {"".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 3))) for _ in range(6000)}
        self.surnames = list(_SURNAMES) + sorted(invented - set(_SURNAMES))
        self.cities = sorted({"".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 4))) for _ in range(800)})
        self.streets = sorted({"".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 3))) for _ in range(2000)})
        self.given_weights = list(accumulate(1 / (rank + 1) ** 0.9 for rank in range(len(self.given))))
        self.surname_weights = list(accumulate(1 / (rank + 1) ** 0.8 for rank in range(len(self.surnames))))
        self.country_weights = list(accumulate(weight for _, weight in _COUNTRIES))
        self.nicknames = {name: sorted(namer.nicknames_of(name)) for name in english}

    def given_name(self, rng: random.Random) -> str:
        return rng.choices(self.given, cum_weights=self.given_weights)[0]

    def surname(self, rng: random.Random) -> str:
        return rng.choices(self.surnames, cum_weights=self.surname_weights)[0]

    def country(self, rng: random.Random) -> str:
        return rng.choices([code for code, _ in _COUNTRIES], cum_weights=self.country_weights)[0]


def _digits(rng: random.Random, count: int) -> str:
    return "".join(rng.choice(string.digits) for _ in range(count))


def _address(rng: random.Random, vocabulary: _Vocabulary) -> tuple[str, str, str]:
    street = f"{rng.randint(1, 9999)} {rng.choice(vocabulary.streets)} {rng.choice(_STREET_KINDS)}"
    return street, rng.choice(vocabulary.cities), _digits(rng, 5)


def _person(rng: random.Random, vocabulary: _Vocabulary, person_id: int) -> _Person:
    country = vocabulary.country(rng)
    last = vocabulary.surname(rng)
    if country in _HISPANIC and rng.random() < 0.6:
        last = f"{last} {vocabulary.surname(rng)}"  # paternal and maternal surnames
    street, city, postcode = _address(rng, vocabulary)
    year, month, day = rng.randint(1945, 2008), rng.randint(1, 12), rng.randint(1, 28)
    return _Person(
        person_id=person_id, first=vocabulary.given_name(rng), last=last, dob=f"{year:04d}-{month:02d}-{day:02d}",
        country=country, sex=rng.choice("mf"),
        a_number=_digits(rng, 9) if country != "US" and rng.random() < 0.5 else "",
        fbi=_digits(rng, 7) + rng.choice(string.ascii_uppercase) + _digits(rng, 1) if rng.random() < 0.3 else "",
        state_id=_digits(rng, 8) if rng.random() < 0.4 else "", state=rng.choice(_STATES),
        street=street, city=city, postcode=postcode,
    )


def _relative(rng: random.Random, vocabulary: _Vocabulary, of: _Person, person_id: int) -> _Person:
    """Someone else of the same household: same surname and address, mostly an own given name and birthday.

    Siblings, parents and children, now and then twins or a child named after the parent, are the
    near-misses a model must keep apart.
    """
    person = _person(rng, vocabulary, person_id)
    while set(given_aliases(person.first) or ()) & set(given_aliases(of.first) or ()):
        person.first = vocabulary.given_name(rng)  # parents do not give two children one name
    person.last, person.country, person.state = of.last, of.country, of.state
    person.street, person.city, person.postcode = of.street, of.city, of.postcode
    roll = rng.random()
    if roll < 0.1:
        person.dob = of.dob  # a twin
        if rng.random() < 0.3:  # twins named alike: Mario and Maria, Daniel and Daniela, Juan and Juana
            person.first, person.sex = _gender_partner(of.first), "f" if of.sex == "m" else "m"
    elif roll < 0.2:  # a son or daughter named after the parent: one name, one address, a generation apart
        person.first, person.sex = of.first, of.sex
        gap, year = rng.randint(18, 40), int(of.dob[:4])
        year = year + gap if year + gap <= 2008 else year - gap  # the parent may be the later record
        person.dob = f"{year:04d}{person.dob[4:]}"
    return person


def _gender_partner(name: str) -> str:
    """The name's counterpart of the other sex, as parents pick for twins: Mario → Maria, Maria → Mario,
    Daniel → Daniela, Simone → Simona. Not a dictionary, a rule: good enough to make near-identical twins."""
    if name.endswith("o"):
        return name[:-1] + "a"
    if name.endswith("a"):
        return name[:-1] + "o"
    if name.endswith("e"):
        return name[:-1] + "a"
    return name + "a"


def _typo(rng: random.Random, word: str) -> str:
    if len(word) < 2:
        return word
    at = rng.randrange(len(word))
    kind = rng.randrange(4)
    if kind == 0:  # a letter left out
        return word[:at] + word[at + 1:]
    if kind == 1:  # a letter typed twice
        return word[:at] + word[at] + word[at:]
    if kind == 2:  # a neighbouring key
        return word[:at] + _KEYBOARD.get(word[at], word[at]) + word[at + 1:]
    at = min(at, len(word) - 2)  # two letters swapped
    return word[:at] + word[at + 1] + word[at] + word[at + 2:]


def _space_slip(rng: random.Random, text: str) -> str:
    """A space dropped, or moved by one letter, as typing and scanning do to addresses."""
    spaces = [at for at, char in enumerate(text) if char == " "]
    if not spaces:
        return text
    at = rng.choice(spaces)
    if rng.random() < 0.5 or at + 2 > len(text):
        return text[:at] + text[at + 1:]
    return text[:at] + text[at + 1] + " " + text[at + 2:]


def _digit_slip(rng: random.Random, digits: str) -> str:
    at = rng.randrange(len(digits))
    return digits[:at] + rng.choice(string.digits) + digits[at + 1:]


def _styled(rng: random.Random, name: str) -> str:
    """How a form or clerk may write the same name: case, accents, stray spaces and punctuation."""
    roll = rng.random()
    if roll < 0.3:
        name = name.upper()
    elif roll < 0.6:
        name = name.title()
    if rng.random() < 0.1:
        name = "".join(_ACCENTS.get(c, c) if rng.random() < 0.3 else c for c in name)
    if rng.random() < 0.05:
        name = f" {name}  ".replace(" ", "  ")
    return name


def _first_variant(rng: random.Random, vocabulary: _Vocabulary, first: str) -> str | None:
    roll = rng.random()
    if roll < 0.01:  # custody systems require a first name; a copy from elsewhere may lack it
        return None
    if roll < 0.11 and vocabulary.nicknames.get(first):
        return rng.choice(vocabulary.nicknames[first])
    if roll < 0.17:
        return first[0] + ("." if rng.random() < 0.5 else "")
    if roll < 0.32:
        return _typo(rng, first)
    return first


def _last_variant(rng: random.Random, last: str) -> str | None:
    parts = last.split(" ")
    roll = rng.random()
    if roll < 0.02:
        return None
    if len(parts) == 2 and roll < 0.35:
        return parts[0]  # the paternal surname alone, as English-speaking systems often keep it
    if len(parts) == 2 and roll < 0.4:
        return "-".join(parts)
    if roll < 0.55:
        return _typo(rng, last)
    return last


def _dob_variant(rng: random.Random, dob: str) -> str | None:
    year, month, day = dob.split("-")
    roll = rng.random()
    if roll < 0.04:
        return None
    if roll < 0.08 and int(day) <= 12:
        return f"{year}-{day}-{month}"
    if roll < 0.16:
        digits = list(f"{year}{month}{day}")
        at = rng.choice((3, 5, 7))  # a last digit of year, month or day
        digits[at] = rng.choice("0123456789")
        return f"{''.join(digits[:4])}-{''.join(digits[4:6])}-{''.join(digits[6:])}"
    if roll < 0.17:  # another date altogether (a placeholder, someone else's, a guess)
        return f"{rng.randint(1945, 2008):04d}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
    if roll < 0.19:
        return f"{int(year) + rng.choice((-1, 1)):04d}-{month}-{day}"
    return dob


def _dob_written(rng: random.Random, dob: str | None) -> str | None:
    return dob.replace("-", "") if dob and rng.random() < 0.3 else dob


def _slip(rng: random.Random, value: str, share: float) -> str:
    """A coded field recorded wrongly now and then (country MX entered as US, sex m as f)."""
    if rng.random() >= share:
        return value
    if len(value) == 1:
        return "f" if value == "m" else "m"
    return rng.choice([code for code, _ in _COUNTRIES if code != value])


def _record(rng: random.Random, vocabulary: _Vocabulary, person: _Person, *, copy: bool) -> dict[str, str | None]:
    first: str | None = person.first
    last: str | None = person.last
    dob: str | None = person.dob
    street, city, postcode = person.street, person.city, person.postcode
    if copy:
        first, last, dob = _first_variant(rng, vocabulary, person.first), _last_variant(rng, person.last), \
            _dob_variant(rng, person.dob)
        if rng.random() < 0.03:
            first, last = last, first
        if rng.random() < 0.3:
            street, city, postcode = _address(rng, vocabulary)  # moved
        elif rng.random() < 0.15:
            street = _typo(rng, street)
        elif rng.random() < 0.05:
            street = _space_slip(rng, street)
        if rng.random() < 0.05:
            postcode = _typo(rng, postcode) if rng.random() < 0.5 else _digit_slip(rng, postcode)
        if rng.random() < 0.05:
            city = _typo(rng, city)

    def kept(value: str, share: float) -> str | None:
        return value if value and rng.random() < share else None

    return {
        "first_name": _styled(rng, first) if first else None,
        "last_name": _styled(rng, last) if last else None,
        "date_of_birth": _dob_written(rng, dob),
        "country_of_birth": kept(_slip(rng, person.country, 0.02), 0.85),
        "sex": kept(_slip(rng, person.sex, 0.01), 0.85),
        "a_number": kept(person.a_number, 0.7),
        "fbi_number": kept(person.fbi, 0.6),
        "state_id": kept(person.state_id, 0.6),
        "state": person.state,
        "street": kept(street, 0.8),
        "city": kept(city, 0.9),
        "postcode": kept(postcode, 0.85),
    }


def population_generate(*, people: int, seed: int, copies: tuple[float, ...] = (0.5, 0.15),
                        relatives: bool = False) -> pl.DataFrame:
    """Records of ``people`` synthetic people: ``record_id``, ``person_id`` (the truth) and INPUT_COLUMNS.

    Each share in ``copies`` is the chance of one more record of a person (by default a second record
    half the time, another one 15 % of the time). With ``relatives`` a ``relative_of`` column names the
    person of the household each relative was drawn beside (null for the others); the records are the same.
    """
    rng = random.Random(seed)  # noqa: S311 - reproducible test data, not secrets
    vocabulary = _Vocabulary(rng)
    rows: list[dict[str, str | int | None]] = []
    person: _Person | None = None
    for person_id in range(people):
        relative_of = None
        if person is not None and rng.random() < RELATIVE_SHARE:
            relative_of = person.person_id
            person = _relative(rng, vocabulary, person, person_id)
        else:
            person = _person(rng, vocabulary, person_id)
        count = 1 + sum(rng.random() < share for share in copies)
        for number in range(count):
            record = _record(rng, vocabulary, person, copy=number > 0)
            rows.append({"record_id": f"r{len(rows)}", "person_id": person_id, **record, "relative_of": relative_of})
    schema = {"record_id": pl.Utf8, "person_id": pl.Int64, **dict.fromkeys(INPUT_COLUMNS, pl.Utf8),
              "relative_of": pl.Int64}
    frame = pl.DataFrame(rows, schema=schema)
    return frame if relatives else frame.drop("relative_of")
