"""The call-centre console and the phone menu have every string in Spanish too."""

from __future__ import annotations

from tests.support.catalogue import msgids_of, sources, untranslated

# Said in English on purpose (before a language is chosen), and one with no words to translate.
NOT_TRANSLATED = {"Welcome to vinex, custody information for victims. For English, press 1.", "%(name)s: %(status)s."}


def test_every_hotline_string_has_a_spanish_translation() -> None:
    msgids = [m for path in sources("hotline/templates/hotline/*.html", "hotline/*.py") for m in msgids_of(path)]
    assert "Key in your four-digit PIN." in {m.text for m in msgids}
    assert [f"{m.where}: {m.text}" for m in untranslated(msgids) if m.text not in NOT_TRANSLATED] == []
