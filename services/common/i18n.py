"""Languages: which one a request speaks, and the message catalogues it reads from.

Every service marks its words with Flask-Babel's ``_()`` (``gettext``) and keeps one catalogue
per language, ``<package>/translations/<lang>/LC_MESSAGES/messages.po``, in the repository.
The ``.po`` files are compiled to ``.mo`` at install (``make`` runs ``python -m
cardcrm.common.i18n compile``) and again when a service starts if a ``.po`` is newer than its
``.mo`` (an editable install, a catalogue just edited), so no step can be forgotten.

Which language a request gets (``select_language``):

1. for the JSON API, the ``Accept-Language`` header first (clients ask for their messages);
2. the signed-in user's profile language;
3. the browser's ``Accept-Language``;
4. ``CARDCRM_DEFAULT_LANGUAGE`` (``en`` unless set).

English is the source language: its catalogue is the marked strings themselves. Adding a
language is one more catalogue per service (see docs/languages.md); plugins add their own
catalogue directories through the ``cardcrm_translation_directories`` hook.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import sys
from collections.abc import Callable, Iterable, Mapping
from functools import cache, lru_cache
from pathlib import Path

from babel import Locale
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask import Flask, Response, request
from flask_babel import Babel, force_locale, get_locale
from werkzeug.datastructures import LanguageAccept
from werkzeug.http import parse_accept_header

log = logging.getLogger(__name__)

SOURCE_LANGUAGE = "en"
#: Distinct ``Accept-Language`` headers whose best language a process keeps.
ACCEPT_HEADERS_KEPT = 256
#: The catalogue directory of the shared code (problem+json titles, validation messages).
COMMON_TRANSLATIONS = Path(__file__).parent / "translations"

__all__ = [
    "COMMON_TRANSLATIONS",
    "SOURCE_LANGUAGE",
    "compile_catalogues",
    "current_language",
    "default_language",
    "force_locale",
    "install",
    "language_name",
]


def default_language(env: Mapping[str, str] = os.environ) -> str:
    """``CARDCRM_DEFAULT_LANGUAGE`` (e.g. ``ro``), else English."""
    return (env.get("CARDCRM_DEFAULT_LANGUAGE") or SOURCE_LANGUAGE).strip().lower()


def languages_in(directories: Iterable[Path]) -> list[str]:
    """English, then every language some catalogue directory has a ``messages.po`` for."""
    found = {SOURCE_LANGUAGE}
    for directory in directories:
        if directory.is_dir():
            found.update(
                entry.name
                for entry in directory.iterdir()
                if any((entry / "LC_MESSAGES").glob("*.po"))
            )
    return [SOURCE_LANGUAGE] + sorted(found - {SOURCE_LANGUAGE})


def language_name(code: str) -> str:
    """A language's name in itself, as a language menu shows it: ``Română``, ``English``."""
    name = Locale.parse(code).get_display_name(code) or code
    return name[:1].upper() + name[1:]


def compile_catalogues(directories: Iterable[Path], *, force: bool = False) -> list[Path]:
    """Compile each ``.po`` whose ``.mo`` is missing or older; return the ``.mo`` files written.

    A folder the process may not write (a system-wide install compiled at build time) is left
    as it is, with a warning when its ``.mo`` is stale.
    """
    written = []
    for directory in directories:
        for po_path in sorted(Path(directory).glob("*/LC_MESSAGES/*.po")):
            mo_path = po_path.with_suffix(".mo")
            if (
                not force
                and mo_path.exists()
                and mo_path.stat().st_mtime >= po_path.stat().st_mtime
            ):
                continue
            with po_path.open("rb") as po_file:
                catalogue = read_po(po_file, locale=po_path.parent.parent.name)
            try:
                with mo_path.open("wb") as mo_file:
                    write_mo(mo_file, catalogue)
            except OSError as error:
                log.warning("cannot compile %s (%s): its old translations are used", po_path, error)
                continue
            written.append(mo_path)
    return written


def install(
    app: Flask,
    directories: list[Path],
    *,
    user_language: Callable[[], str | None],
    api_prefix: str = "/api/",
) -> None:
    """Give ``app`` Flask-Babel with cardcrm's choice of language (module docstring).

    ``directories`` are the service's own catalogue directories, most specific first; the
    shared one is added last. ``user_language`` returns the signed-in user's profile language,
    if any, for the current request.
    """
    directories = [*directories, COMMON_TRANSLATIONS]
    compile_catalogues(directories)
    languages = languages_in(directories)
    default = app.config.get("DEFAULT_LANGUAGE") or default_language()
    if default not in languages:
        log.warning("CARDCRM_DEFAULT_LANGUAGE=%s has no catalogue; using English", default)
        default = SOURCE_LANGUAGE
    app.config["DEFAULT_LANGUAGE"] = default
    app.config["LANGUAGES"] = languages

    @lru_cache(maxsize=ACCEPT_HEADERS_KEPT)
    def best_match(accept_language: str) -> str | None:
        return parse_accept_header(accept_language, LanguageAccept).best_match(languages)

    def select_language() -> str:
        # Parsed once per distinct header (a client sends the same one on every request).
        header = best_match(request.headers.get("Accept-Language", "")) if request else None
        if request and request.path.startswith(api_prefix) and header:
            return header
        profile = user_language()
        if profile in languages:
            return profile
        return header or default

    Babel(
        app,
        locale_selector=select_language,
        default_locale=default,
        default_translation_directories=";".join(str(path) for path in directories),
    )
    app.jinja_env.globals.update(current_language=current_language, language_name=language_name)

    @app.after_request
    def _content_language(response: Response) -> Response:
        # The API says which language its messages are in (a client may have asked for one
        # cardcrm lacks, or none: then the profile's or the site's language answered).
        if request.path.startswith(api_prefix):
            response.headers.setdefault("Content-Language", current_language())
        return response


def current_language() -> str:
    """The language of the request being answered (``en`` outside a request)."""
    locale = get_locale()
    return str(locale.language) if locale else SOURCE_LANGUAGE


@cache
def _all_directories() -> tuple[Path, ...]:
    """Every service's and the built-in plugins' catalogue directories."""
    services = Path(__file__).parent.parent
    plugins = importlib.util.find_spec("cardcrm_plugins")
    plugin_folders = (
        [Path(folder) for folder in (plugins.submodule_search_locations or [])] if plugins else []
    )
    return tuple(sorted(services.glob("*/translations"))) + tuple(
        folder / "translations" for folder in plugin_folders if (folder / "translations").is_dir()
    )


def main(argv: list[str]) -> int:
    """``python -m cardcrm.common.i18n compile``: compile every catalogue of the installation."""
    if argv[1:2] != ["compile"]:
        print("usage: python -m cardcrm.common.i18n compile", file=sys.stderr)
        return 2
    written = compile_catalogues(_all_directories(), force="--force" in argv)
    print(f"compiled {len(written)} catalogue(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
