"""The msgids a source file or template asks to translate, found the way the catalogues are made:
Django's ``templatize`` turns a template into gettext calls, babel's extractor reads those and Python."""

from __future__ import annotations

import html
import io
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from babel.messages.extract import extract_python
from django.utils import translation
from django.utils.translation.template import templatize

ROOT = Path(__file__).resolve().parents[2] / "vinex"
KEYWORDS = {"_": None, "gettext": None, "gettext_lazy": None, "pgettext": ((1, "c"), 2),
            "pgettext_lazy": ((1, "c"), 2), "ngettext": (1, 2), "ngettext_lazy": (1, 2),
            "npgettext": ((1, "c"), 2, 3)}


@dataclass(frozen=True)
class Msgid:
    text: str
    context: str = ""
    plural: str = ""
    where: str = ""


def msgids_of(path: Path) -> list[Msgid]:
    source = path.read_text()
    if path.suffix in (".html", ".txt"):
        # The template's own indentation would read as Python's; every msgid is on one line.
        source = "\n".join(line.lstrip() for line in templatize(source, origin=str(path)).splitlines())
    found = []
    extracted = extract_python(io.BytesIO(source.encode()), list(KEYWORDS), [], {"encoding": "utf-8"})  # type: ignore[arg-type]
    for _lineno, funcname, messages, _comments in extracted:
        args: tuple[Any, ...] = (*messages, "") if isinstance(messages, (tuple, list)) else (messages, "")
        if funcname in ("pgettext", "pgettext_lazy", "npgettext"):
            context, text, plural = args[0], args[1], args[2]
        else:
            context, text, plural = "", args[0], args[1]
        if isinstance(text, str) and text:
            found.append(Msgid(text, str(context or ""), str(plural or ""), str(path.relative_to(ROOT))))
    return found


def untranslated(msgids: list[Msgid], language: str = "es") -> list[Msgid]:
    """The msgids the loaded (compiled) catalogues have no translation for."""
    missing = []
    with translation.override(language):
        for m in msgids:
            if m.plural:
                done = translation.ngettext(m.text, m.plural, 1) != m.text
            elif m.context:
                done = translation.pgettext(m.context, m.text) != m.text
            else:
                done = translation.gettext(m.text) != m.text
            if not done:
                missing.append(m)
    return missing


def sources(*patterns: str) -> list[Path]:
    return sorted(p for pattern in patterns for p in ROOT.glob(pattern))


_PLACEHOLDER = re.compile(r"%\(\w+\)[sd]|%[sd]|\{\{[^}]*\}\}")


def english_fragments(msgids: list[Msgid], min_words: int = 3) -> set[str]:
    """The literal parts of these msgids (placeholders cut out) long enough to be an English sentence."""
    fragments = set()
    for m in msgids:
        for text in (m.text, m.plural):
            for part in _PLACEHOLDER.split(text):
                part = " ".join(part.split()).strip(" .,:;")
                if len(part.split()) >= min_words:
                    fragments.add(part)
    return fragments


def english_left(rendered: str, fragments: set[str]) -> list[str]:
    flat = " ".join(html.unescape(rendered).split())
    return sorted(f for f in fragments if f in flat)
