"""Translating the shared code's messages in any service, with or without Flask-Babel.

The shared code (errors, validation, the sidecars' auth) runs in every service, and not every
service installs Flask-Babel, nor is every message made inside a request. Flask-Babel's own
``gettext`` needs an app that installed it; these fall back to the English source text (with its
placeholders filled in) elsewhere, so marking a message never turns into a 500.

Usage is Flask-Babel's: ``_("No card %(id)s.", id=card_id)`` at call time, ``_l(...)`` for a
module-level constant (a ``LazyString``: ``str()`` it before JSON), ``N_(...)`` for an English
constant a library formats itself, translated later by its text (``validation_messages``).
"""

from __future__ import annotations

from typing import Any

import flask_babel
from flask import current_app, has_app_context
from flask_babel import LazyString

__all__ = ["N_", "LazyString", "gettext", "lazy_gettext", "ngettext", "translatable"]


def translatable() -> bool:
    """Whether a catalogue can be read now (an app that installed Flask-Babel is current)."""
    return has_app_context() and "babel" in current_app.extensions


def gettext(string: str, **variables: Any) -> str:
    """``string`` in the current language, its ``%(name)s`` placeholders filled in."""
    if translatable():
        return str(flask_babel.gettext(string, **variables))
    return string % variables if variables else string


def ngettext(singular: str, plural: str, num: int, **variables: Any) -> str:
    """``singular`` or ``plural`` by ``num`` (``%(num)d`` in them), in the current language."""
    if translatable():
        return str(flask_babel.ngettext(singular, plural, num, **variables))
    return (singular if num == 1 else plural) % {"num": num, **variables}


def lazy_gettext(string: str, **variables: Any) -> LazyString:
    """A ``gettext`` made when the text is read (``str()``), in the language of that moment."""
    return LazyString(gettext, string, **variables)


def N_(string: str) -> str:  # noqa: N802 (gettext's name for "mark only")
    """Mark ``string`` for the catalogue and keep it as it is (English)."""
    return string
