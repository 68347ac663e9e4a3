"""The French and English catalogues are complete: CI fails on a missing translation.

Same check as ``scripts/translate_missing.py --check`` (run ``scripts/i18n`` then that
script to see what is missing), plus: every placeholder of a msgid (``%(name)s``,
``%s``, ``{name}``) appears in the French msgstr, and the msgstr adds none of its own.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
CATALOGUES = ROOT / "kiosk" / "translations"
PLACEHOLDER = re.compile(r"%\([^)]+\)[-#0 +]*\d*(?:\.\d+)?[diouxXeEfFgGcrsa]|%[-#0 +]*\d*(?:\.\d+)?[sdif]|\{[A-Za-z_][A-Za-z0-9_]*\}")


@pytest.fixture(autouse=True)
def clean_slate():
    """Reading .po files needs no database or Redis: override the conftest fixture."""
    yield


def _catalog(lang: str):
    with open(CATALOGUES / lang / "LC_MESSAGES" / "messages.po", "rb") as f:
        return read_po(f, locale=lang)


def _placeholders(text: str) -> set[str]:
    return set(PLACEHOLDER.findall(text.replace("%%", "")))


def _messages(lang: str):
    return [m for m in _catalog(lang) if m.id]


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_every_string_is_translated(lang):
    messages = _messages(lang)
    assert messages, f"{lang} catalogue is empty"
    missing = [
        m.id for m in messages
        if (not m.string if isinstance(m.id, str) else not all(m.string))
    ]
    assert not missing, f"{lang}: {len(missing)} untranslated (run scripts/translate_missing.py): {missing}"


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_no_fuzzy_entries(lang):
    fuzzy = [m.id for m in _messages(lang) if m.fuzzy]
    assert not fuzzy, f"{lang}: fuzzy entries are not used at runtime: {fuzzy}"


def test_french_keeps_every_placeholder():
    wrong = []
    for m in _messages("fr"):
        if isinstance(m.id, str):
            pairs = [(m.id, m.string)]
        else:  # plural: the last form must carry the plural msgid's placeholders
            pairs = [(m.id[-1], m.string[-1])]
            expected = _placeholders(m.id[0]) | _placeholders(m.id[-1])
            wrong += [(m.id, s) for s in m.string if not _placeholders(s) <= expected]
        for msgid, msgstr in pairs:
            if msgstr and _placeholders(msgid) != _placeholders(msgstr):
                wrong.append((msgid, msgstr))
    assert not wrong, f"placeholders differ between msgid and French msgstr: {wrong}"


def test_the_checker_catches_a_dropped_placeholder():
    assert _placeholders("Ticket %(code)s, counter %(counter)s") == {"%(code)s", "%(counter)s"}
    assert _placeholders("%(ratio).2f:1 needs %(min).1f:1; {choices}; 100%% %s") == {
        "%(ratio).2f", "%(min).1f", "{choices}", "%s"}
