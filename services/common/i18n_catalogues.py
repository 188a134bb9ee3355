"""Keeping the message catalogues in step with the code: extract, update, check.

``python -m cardcrm.common.i18n_catalogues update`` reads every marked string of each part of
the code (``CATALOGUES``) and adds what is new to each language's ``messages.po``, keeping the
translations already made and dropping strings no longer used. The test suite runs ``missing``
so that a string without a translation fails it (``tests/test_i18n_catalogues.py``).
"""

from __future__ import annotations

import io
import re
import sys
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po, write_po
from jinja2 import Environment, TemplateSyntaxError

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
    "N_": None,
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
            write(path, translations)
            print(f"{path.relative_to(ROOT)}: {len(translations)} strings")


def adopt(target: Path, sources: list[Path]) -> int:
    """Fill ``target``'s untranslated strings from other copies of it (two branches' edits).

    Returns how many strings got a translation. Strings ``target`` does not have are ignored;
    run ``update`` first so that it has every marked string.
    """
    with target.open("rb") as po_file:
        translations = read_po(po_file, locale=target.parent.parent.name)
    filled = 0
    for source in sources:
        with source.open("rb") as po_file:
            other = read_po(po_file)
        for message in other:
            if not message.id or not _translated(message.string) or message.fuzzy:
                continue
            mine = translations.get(message.id, message.context)
            if mine is not None and not _translated(mine.string):
                mine.string = message.string
                filled += 1
    write(target, translations)
    return filled


def _translated(string: object) -> bool:
    """A translation is made when it has text (every plural form, for plurals)."""
    if isinstance(string, tuple | list):
        return bool(string) and all(string)
    return bool(string)


def write(path: Path, translations: Catalog) -> None:
    """Write a catalogue sorted, without line numbers or dates: it changes when words do."""
    translations.msgid_bugs_address = "https://github.com/cardcrm/cardcrm/issues"
    translations.last_translator = translations.language_team = "cardcrm contributors"
    buffer = io.BytesIO()
    write_po(buffer, translations, width=100, sort_output=True, include_lineno=False)
    _, start, rest = buffer.getvalue().decode().partition('msgid ""')
    kept = [line for line in rest.splitlines(keepends=True) if not line.startswith(STAMPED)]
    path.write_text(start + "".join(kept), encoding="utf-8")


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


# --- words left unmarked in templates -------------------------------------------------------

#: What a template may show untranslated: the product's name, and signs that are no words.
UNTRANSLATED_WORDS = {"cardcrm"}
#: Attributes people read (or hear, through a screen reader).
READ_ATTRIBUTES = {"title", "placeholder", "aria-label", "alt", "data-confirm", "label"}
_JINJA = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.S)
_TRANS_BLOCK = re.compile(r"\{%-?\s*trans\b.*?\{%-?\s*endtrans\s*-?%\}", re.S)
_WORD = re.compile(r"[^\W\d_]{2,}")


class _TextFinder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[int, str]] = []
        self.skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style", "code", "pre"):
            self.skipping += 1
        values = [value for name, value in attrs if name in READ_ATTRIBUTES and value]
        if tag == "input" and ("type", "submit") in attrs:
            values += [value for name, value in attrs if name == "value" and value]
        for value in values:
            self._check(value)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "code", "pre") and self.skipping:
            self.skipping -= 1

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self._check(data)

    def _check(self, text: str) -> None:
        words = [word for word in _WORD.findall(text) if word.lower() not in UNTRANSLATED_WORDS]
        if words:
            self.found.append((self.getpos()[0], " ".join(text.replace("\x00", "{…}").split())))


def _shown_literals(expression: str) -> list[str]:
    """String literals of a Jinja expression that end up on the page untranslated.

    Those given as a fallback (``or '…'``, ``else '…'``, ``default('…')``, ``.get(key, '…')``)
    or joined to text (``~ '…'``); a literal inside ``_()`` or naming a URL, a CSS class or a
    key is not shown as words.
    """
    tokens = [(kind, value) for _, kind, value in Environment().lex("{{" + expression + "}}")]
    tokens = [token for token in tokens if token[0] != "whitespace"]
    shown = []
    for index, (kind, value) in enumerate(tokens):
        if kind != "string" or not _WORD.search(value):
            continue
        before = tokens[index - 1] if index else ("", "")
        two_before = tokens[index - 2] if index > 1 else ("", "")
        fallback = before in (("name", "or"), ("name", "else"), ("operator", "~"))
        default = before == ("operator", "(") and two_before == ("name", "default")
        got = before == ("operator", ",") and _inside_call(tokens[:index], "get")
        if fallback or default or got:
            shown.append(value)
    return shown


def _inside_call(tokens: list[tuple[str, str]], name: str) -> bool:
    depth = 0
    for index in range(len(tokens) - 1, 0, -1):
        kind, value = tokens[index]
        if value == ")":
            depth += 1
        elif value == "(":
            if depth == 0:
                return tokens[index - 1] == ("name", name)
            depth -= 1
    return False


def unmarked_template_text(source: str) -> list[tuple[int, str]]:
    """The words of a template shown to people but not marked for translation, with lines."""
    source = _TRANS_BLOCK.sub(lambda match: "\n" * match.group().count("\n"), source)
    found: list[tuple[int, str]] = []
    for match in _JINJA.finditer(source):
        inner = match.group()[2:-2].strip("-+ \n")
        if match.group().startswith(("{{", "{%")):
            line = source.count("\n", 0, match.start()) + 1
            try:
                found += [(line, literal) for literal in _shown_literals(inner)]
            except TemplateSyntaxError:
                continue  # a block tag's own syntax ({% for %}, {% macro %}): no words shown
    markup = _JINJA.sub(lambda match: "\x00" + "\n" * match.group().count("\n"), source)
    finder = _TextFinder()
    finder.feed(markup)
    finder.close()
    return sorted(found + finder.found)


def template_files() -> Iterator[Path]:
    for sources in CATALOGUES.values():
        for source in sources:
            yield from sorted((ROOT / source).glob("**/templates/**/*.html"))


def main(argv: list[str]) -> int:
    if argv[1:2] == ["update"]:
        update()
        return 0
    if argv[1:2] == ["adopt"] and len(argv) > 3:
        filled = adopt(Path(argv[2]), [Path(name) for name in argv[3:]])
        print(f"{argv[2]}: {filled} translations adopted")
        return 0
    if argv[1:2] == ["unmarked"]:
        count = 0
        for path in template_files():
            for line, text in unmarked_template_text(path.read_text()):
                print(f"{path.relative_to(ROOT)}:{line}: {text}")
                count += 1
        return 1 if count else 0
    if argv[1:2] == ["missing"]:
        gaps = missing()
        for path, lacking in gaps.items():
            print(f"{path.relative_to(ROOT)}: {len(lacking)} untranslated")
            for message in lacking:
                print("   ", message)
        return 1 if gaps else 0
    print(
        "usage: python -m cardcrm.common.i18n_catalogues update|missing|unmarked", file=sys.stderr
    )
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
