"""The page scripts' words in the reader's language.

Scripts mark their words with ``t("...")`` (``static/i18n.js``). The layout writes the
translations of those words into the page as a JSON data block (``script_messages``); the CSP
allows no inline script, and a data block is not one. Only words whose translation differs
from the English are sent, so an English page carries an empty object.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from babel.messages.extract import extract
from flask_babel import gettext

STATIC = Path(__file__).parent / "static"


@cache
def script_words() -> tuple[str, ...]:
    """Every word the page scripts mark with ``t()``, read once from ``static/*.js``."""
    found: set[str] = set()
    for path in sorted(STATIC.glob("*.js")):
        if path.name.endswith(".min.js"):
            continue
        with path.open("rb") as script:
            for _, message, _, _ in extract("javascript", script, keywords={"t": None}):
                if isinstance(message, str):
                    found.add(message)
    return tuple(sorted(found))


def script_messages() -> dict[str, str]:
    """``{english: translation}`` for the scripts' words, in the current request's language."""
    translated = {word: gettext(word) for word in script_words()}
    return {word: text for word, text in translated.items() if text != word}
