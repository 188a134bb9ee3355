"""Keeping the message catalogues in step with the code: extract, update, check.

``python -m cardcrm.common.i18n_catalogues update`` reads every marked string of each part of
the code (``CATALOGUES``) and adds what is new to each language's ``messages.po``, keeping the
translations already made and dropping strings no longer used. The test suite runs ``missing``
so that a string without a translation fails it (``tests/test_i18n_catalogues.py``).
"""

from __future__ import annotations

import io
import sys
from collections.abc import Iterator
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent.parent
#: Catalogue folder -> the source folders whose strings it holds.
CATALOGUES: dict[str, tuple[str, ...]] = {
    "services/common/translations": ("services/common", "services/sidecar"),
    "services/core/translations": ("services/core",),
    "services/notifications/translations": ("services/notifications",),
    "services/calendar_sync/translations": ("services/calendar_sync",),
    "plugins/translations": ("plugins",),
}
#: Header lines Babel stamps with the time of each update.
STAMPED = ('"POT-Creation-Date:', '"PO-Revision-Date:')
#: The names the code translates with: Python, templates (Flask-Babel) and scripts (``t``).
KEYWORDS = {
    "_": None,
    "gettext": None,
    "lazy_gettext": None,
    "_l": None,
    "ngettext": (1, 2),
    "lazy_ngettext": (1, 2),
    "pgettext": ((1, "c"), 2),
    "t": None,
}


def extracted(catalogue: str) -> Catalog:
    """The template of one catalogue: every string its source folders mark."""
    with (ROOT / "babel.cfg").open() as config:
        method_map, options_map = parse_mapping_cfg(config)  # type: ignore[no-untyped-call]
    template = Catalog(project="cardcrm", fuzzy=False)
    for source in CATALOGUES[catalogue]:
        for filename, lineno, message, comments, context in extract_from_dir(
            ROOT / source, method_map, options_map, keywords=KEYWORDS, comment_tags=("i18n:",)
        ):
            location = (str(Path(source) / filename), lineno)
            template.add(message, None, [location], auto_comments=comments, context=context)
    return template


def po_files(catalogue: str) -> Iterator[Path]:
    yield from sorted((ROOT / catalogue).glob("*/LC_MESSAGES/messages.po"))


def update() -> None:
    """Add new strings to every language's catalogue and drop the unused ones."""
    for catalogue in CATALOGUES:
        template = extracted(catalogue)
        for path in po_files(catalogue):
            with path.open("rb") as po_file:
                translations = read_po(po_file, locale=path.parent.parent.name)
            translations.update(template, no_fuzzy_matching=True)
            translations.obsolete.clear()
            translations.msgid_bugs_address = "https://github.com/cardcrm/cardcrm/issues"
            translations.last_translator = translations.language_team = "cardcrm contributors"
            buffer = io.BytesIO()
            write_po(buffer, translations, width=100, sort_output=True, include_lineno=False)
            # Without the dates, a catalogue changes only when its strings do (clean merges).
            text = buffer.getvalue().decode()
            header, start, rest = text.partition('msgid ""')
            kept = [line for line in rest.splitlines(keepends=True) if not line.startswith(STAMPED)]
            path.write_text(start + "".join(kept), encoding="utf-8")
            print(f"{path.relative_to(ROOT)}: {len(translations)} strings")


def missing() -> dict[Path, list[str]]:
    """Per language catalogue, the marked strings it has no translation for."""
    gaps: dict[Path, list[str]] = {}
    for catalogue in CATALOGUES:
        wanted = {message.id for message in extracted(catalogue) if message.id}
        for path in po_files(catalogue):
            with path.open("rb") as po_file:
                translations = read_po(po_file)
            done = {
                message.id
                for message in translations
                if message.id
                and message.string
                and not message.fuzzy
                and (not isinstance(message.string, tuple) or all(message.string))
            }
            lacking: list[str] = sorted(
                str(item[0]) if isinstance(item, tuple) else str(item) for item in wanted - done
            )
            if lacking:
                gaps[path] = lacking
    return gaps


def main(argv: list[str]) -> int:
    if argv[1:2] == ["update"]:
        update()
        return 0
    if argv[1:2] == ["missing"]:
        gaps = missing()
        for path, lacking in gaps.items():
            print(f"{path.relative_to(ROOT)}: {len(lacking)} untranslated")
            for message in lacking:
                print("   ", message)
        return 1 if gaps else 0
    print("usage: python -m cardcrm.common.i18n_catalogues update|missing", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
