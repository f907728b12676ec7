"""Names, dates and identifiers as they really arrive, folded into comparable keys (pure functions).

Every function here takes one raw value and returns its normalised form, or ``None`` when nothing
usable is left: a missing value is evidence of nothing, whereas an empty string would "agree" with
every other empty string.
"""

from __future__ import annotations

import re
from functools import cache

from nicknames import NickNamer
from unidecode import unidecode

from vinex.custody.schemas import normalise_a_number

# Particles that belong to the surname that follows them (de la Cruz, van der Berg): they are kept
# attached so that "de la Cruz López" has the surnames "delacruz" and "lopez", not "de".
_PARTICLES = frozenset({"de", "del", "la", "las", "los", "da", "das", "do", "dos", "di", "van", "von", "der",
                        "den", "le", "du", "st", "san", "mc", "bin", "al", "el"})
# "García y López", "Souza e Silva": the conjunction between two surnames is no part of either.
_CONJUNCTIONS = frozenset({"y", "e", "i"})
# Spanish diminutives the English nickname list lacks; each maps to the formal given name.
_SPANISH_NICKNAMES = {
    "pepe": "jose", "chepe": "jose", "pepito": "jose", "paco": "francisco", "pancho": "francisco",
    "curro": "francisco", "kiko": "francisco", "lupe": "guadalupe", "lupita": "guadalupe", "chuy": "jesus",
    "chucho": "jesus", "nacho": "ignacio", "memo": "guillermo", "beto": "alberto", "quique": "enrique",
    "lalo": "eduardo", "tono": "antonio", "tonio": "antonio", "chema": "josemaria", "concha": "concepcion",
    "conchita": "concepcion", "chayo": "rosario", "lola": "dolores", "lolita": "dolores", "manolo": "manuel",
    "meche": "mercedes", "nando": "fernando", "pili": "pilar", "rafa": "rafael", "santi": "santiago",
    "juanjo": "juanjose", "charo": "rosario", "chelo": "consuelo", "fito": "adolfo", "goyo": "gregorio",
    "licha": "alicia", "nena": "elena", "pancha": "francisca", "paquita": "francisca", "tere": "teresa",
    "toni": "antonio", "vicho": "vicente", "yoli": "yolanda", "tavo": "gustavo", "checo": "sergio",
}
_SOUNDEX_CODES = {**dict.fromkeys("bfpv", "1"), **dict.fromkeys("cgjkqsxz", "2"), **dict.fromkeys("dt", "3"),
                  "l": "4", **dict.fromkeys("mn", "5"), "r": "6"}
_NOT_LETTERS = re.compile(r"[^a-z ]+")
_NOT_ALNUM = re.compile(r"[^0-9a-z]+")
_SPACES = re.compile(r"\s+")
_ISO_DATE = re.compile(r"(\d{4})-?(\d{2})-?(\d{2})")


def text_fold(value: str | None) -> str | None:
    """Lower-case ASCII words: accents and other scripts transliterated, punctuation and extra spaces gone.

    Hyphens and apostrophes join nothing (``García-López`` → ``garcia lopez``, ``O'Brien`` → ``obrien``).
    """
    if value is None:
        return None
    ascii_text = unidecode(value).lower().replace("'", "").replace("-", " ").replace(".", " ")
    words = _SPACES.sub(" ", _NOT_LETTERS.sub(" ", ascii_text)).strip()
    return words or None


def _glued(words: list[str]) -> list[str]:
    """Particles joined to the word after them: ["de", "la", "cruz", "lopez"] → ["delacruz", "lopez"]."""
    glued: list[str] = []
    pending = ""
    for position, word in enumerate(words):
        if word in _CONJUNCTIONS and 0 < position < len(words) - 1:
            continue
        if word in _PARTICLES:
            pending += word
            continue
        glued.append(pending + word)
        pending = ""
    if pending:  # a trailing particle is kept as a word of its own rather than dropped
        glued.append(pending)
    return glued


def name_clean(value: str | None) -> str | None:
    """A name as space-separated folded words, particles glued to their word."""
    folded = text_fold(value)
    return " ".join(_glued(folded.split())) if folded else None


def surname_first(value: str | None) -> str | None:
    """The first of a compound surname (Hispanic paternal surname): ``García López`` → ``garcia``."""
    cleaned = name_clean(value)
    return cleaned.split()[0] if cleaned else None


@cache
def _nicknamer() -> NickNamer:
    return NickNamer()


@cache
def given_name_key(word: str) -> str:
    """One given name reduced to a formal form shared with its nicknames (``bill`` → ``william``).

    A nickname with several formal names (``nick``: nicholas, nikolas) takes the first in alphabetical
    order, so the key is stable; a name that is itself formal keeps its own spelling.
    """
    if word in _SPANISH_NICKNAMES:
        return _SPANISH_NICKNAMES[word]
    namer = _nicknamer()
    if namer.nicknames_of(word):
        return word
    formal = namer.canonicals_of(word)
    return min(formal) if formal else word


@cache
def _given_name_aliases(word: str) -> tuple[str, ...]:
    namer = _nicknamer()
    aliases = {word} | namer.nicknames_of(word) | namer.canonicals_of(word)
    formal = _SPANISH_NICKNAMES.get(word)
    aliases |= {formal} if formal else {nick for nick, name in _SPANISH_NICKNAMES.items() if name == word}
    return tuple(sorted(aliases))


def given_aliases(value: str | None) -> list[str] | None:
    """The first given name with its nicknames and formal forms; two records agree if these overlap.

    ``Bill`` and ``William``, ``Kate`` and ``Katherine``, ``Pepe`` and ``José`` overlap; a set rather than
    one key, because nicknames are shared (Bill is also short for Robert) and no single key is right.
    """
    cleaned = name_clean(value)
    return list(_given_name_aliases(cleaned.split()[0])) if cleaned else None


def given_key(value: str | None) -> str | None:
    """The nickname-folded key of the first given name (``Bill J.`` → ``william``)."""
    cleaned = name_clean(value)
    return given_name_key(cleaned.split()[0]) if cleaned else None


def soundex(word: str | None) -> str | None:
    """American Soundex of a folded word (``robert`` → ``r163``), used to bring similar surnames together."""
    if not word:
        return None
    letters = word.replace(" ", "")
    code = letters[0]
    previous = _SOUNDEX_CODES.get(letters[0], "")
    for char in letters[1:]:
        digit = _SOUNDEX_CODES.get(char, "")
        if digit and digit != previous:
            code += digit
        if char not in "hw":  # h and w do not separate two letters with the same code
            previous = digit
        if len(code) == 4:
            break
    return code.ljust(4, "0")


def date_clean(value: str | None) -> str | None:
    """``YYYY-MM-DD`` from ``YYYY-MM-DD`` or ``YYYYMMDD`` with a plausible month and day; otherwise None.

    The calendar is not checked further: 1980-02-30 is a typo of a real date and still evidence.
    """
    if value is None:
        return None
    match = _ISO_DATE.fullmatch(value.strip())
    if match is None:
        return None
    year, month, day = match.groups()
    if not (1 <= int(month) <= 12 and 1 <= int(day) <= 31):
        return None
    return f"{year}-{month}-{day}"


def date_digits(value: str | None) -> str | None:
    """The eight digits of a date written ``YYYY-MM-DD`` or ``YYYYMMDD``, even when they make no date.

    ``1945-04-93`` is no date, but it is one mistyped digit away from ``1945-04-03``: compared digit by
    digit it is still evidence, where ``date_clean`` has to call it unknown.
    """
    if value is None:
        return None
    match = _ISO_DATE.fullmatch(value.strip())
    return "".join(match.groups()) if match else None


def date_swapped(value: str | None) -> str | None:
    """The same date with day and month exchanged, when that is a different plausible date."""
    if value is None:
        return None
    year, month, day = value.split("-")
    if day == month or int(day) > 12:
        return None
    return f"{year}-{day}-{month}"


def a_number_clean(value: str | None) -> str | None:
    """Nine digits of an A-number (``A 012-345-678`` → ``012345678``), or None when it is not one."""
    if not value:
        return None
    try:
        return normalise_a_number(value.strip())
    except ValueError:
        return None


def identifier_clean(value: str | None) -> str | None:
    """An identifier (FBI number, state id) in upper case without spaces, dashes or punctuation."""
    if value is None:
        return None
    return _NOT_ALNUM.sub("", unidecode(value).lower()).upper() or None


def country_clean(value: str | None) -> str | None:
    """An ISO 3166-1 alpha-2 code in upper case, or None."""
    code = (value or "").strip().upper()
    return code if len(code) == 2 and code.isalpha() else None


def sex_clean(value: str | None) -> str | None:
    """``m`` or ``f`` from the usual spellings (M, male, F, female, H/hombre, mujer); anything else unknown."""
    word = (text_fold(value) or "").replace(" ", "")
    if word in {"m", "male", "man", "h", "hombre", "masculino"}:
        return "m"
    if word in {"f", "female", "woman", "mujer", "femenino"}:
        return "f"
    return None


def address_clean(value: str | None) -> str | None:
    """An address part (street, city, state) folded like a name, digits kept."""
    if value is None:
        return None
    words = _SPACES.sub(" ", _NOT_ALNUM.sub(" ", unidecode(value).lower())).strip()
    return words or None


def street_key(value: str | None) -> str | None:
    """A street folded like ``address_clean`` with its spaces gone: ``8 stobie place`` = ``8 stobiepl ace``.

    Clerks and scanners drop, add and move spaces in addresses more than in any other field.
    """
    cleaned = address_clean(value)
    return cleaned.replace(" ", "") if cleaned else None


def postcode_clean(value: str | None) -> str | None:
    """A postcode without spaces or punctuation, upper case."""
    return identifier_clean(value)
