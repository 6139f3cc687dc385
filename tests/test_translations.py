"""The French catalogue is complete and its compiled form is current."""

from __future__ import annotations

from io import BytesIO
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
TRANSLATIONS = ROOT / "portal" / "translations"
METHODS = [
    ("portal/**.py", "python"),
    ("worker/**.py", "python"),
    ("templates/**.html", "jinja2"),
    ("templates/**.txt", "jinja2"),
]
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "lazy_gettext": None, "_l": None}


def _source_messages() -> set[str]:
    found = set()
    for _filename, _lineno, message, _comments, _context in extract_from_dir(
        str(ROOT), METHODS, keywords=KEYWORDS, options_map={"templates/**": {"extensions": ""}}
    ):
        found.add(message[0] if isinstance(message, tuple) else message)
    return {m for m in found if m}


def _catalogue(locale: str):
    with open(TRANSLATIONS / locale / "LC_MESSAGES" / "messages.po", "rb") as fh:
        return read_po(fh, locale=locale)


def test_every_message_in_the_code_has_a_french_translation():
    catalogue = _catalogue("fr")
    missing = sorted(
        m for m in _source_messages() if not (catalogue.get(m) and catalogue.get(m).string)
    )
    assert missing == [], f"{len(missing)} messages lack French: {missing[:20]}"


def test_no_french_translation_is_fuzzy():
    fuzzy = [m.id for m in _catalogue("fr") if m.id and m.fuzzy]
    assert fuzzy == []


def test_the_compiled_french_catalogue_matches_the_po_file():
    catalogue = _catalogue("fr")
    with open(TRANSLATIONS / "fr" / "LC_MESSAGES" / "messages.mo", "rb") as fh:
        compiled = read_mo(BytesIO(fh.read()))
    expected = {_key(m.id): _text(m.string) for m in catalogue if m.id}
    actual = {_key(m.id): _text(m.string) for m in compiled if m.id}
    assert actual == expected, "run: pybabel compile -d portal/translations"


def _key(msgid) -> str:
    return msgid if isinstance(msgid, str) else msgid[0]


def _text(string):
    """Plural forms come back as a tuple from .po files and a list from .mo files."""
    return tuple(string) if isinstance(string, (list, tuple)) else string
