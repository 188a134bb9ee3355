"""Speaking to a person in their own language, where no request says which (a worker's
e-mail, a calendar feed fetched by a calendar app).

A person's language is their core profile's (``language`` in ``GET /api/v1/me``), else
``CARDCRM_DEFAULT_LANGUAGE``; never the language of whoever happens to cause the message.
``Speaker.speaking(language)`` makes Flask-Babel's ``gettext`` answer in that language, in a
request or outside one (it pushes an app context of its own with the service's catalogues).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from cardcrm.common.i18n import SOURCE_LANGUAGE, force_locale, install
from flask import Flask


class Speaker:
    """The catalogues of one service, usable from any thread."""

    def __init__(self, directories: list[Path], default: str | None = None) -> None:
        # A small app of its own: workers have no app, and a request's app may speak another
        # language than the person a message is for.
        app = Flask("cardcrm-speaker")
        if default:
            app.config["DEFAULT_LANGUAGE"] = default
        install(app, directories, user_language=lambda: None)
        self.app = app
        #: the service's own catalogue folders (the shared one comes after them)
        self.directories = list(directories)
        self.languages: list[str] = list(app.config["LANGUAGES"])
        self.default: str = app.config["DEFAULT_LANGUAGE"] or SOURCE_LANGUAGE

    def language_of(self, person: Mapping[str, Any] | None) -> str:
        """The language of ``person`` (core's user, as ``/me`` answers): their profile's if
        this service has a catalogue for it, else the installation's default."""
        chosen = (person or {}).get("language")
        return chosen if isinstance(chosen, str) and chosen in self.languages else self.default

    @contextmanager
    def speaking(self, language: str) -> Iterator[None]:
        """Within it, ``gettext`` and ``lazy_gettext`` strings are in ``language``."""
        if language not in self.languages:
            language = self.default
        with self.app.app_context(), force_locale(language):
            yield
