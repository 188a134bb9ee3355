"""Cells a spreadsheet would run as a formula, and how exports keep them text.

Excel, LibreOffice and Google Sheets read a cell that starts with ``=``, ``+``, ``-`` or ``@``
as a formula (``=HYPERLINK(...)`` sends data away when clicked). They also skip leading blanks
first, and take the full-width forms (``＝`` ``＋`` ``－`` ``＠``, which East Asian input methods
type) and the small forms (``﹦`` ``﹢`` ``﹣`` ``﹫``) as the same characters. A leading tab,
carriage return or line feed is dangerous too (OWASP's list).

The rule: an export puts a single quote (``'``) before a cell

- whose first character is a tab, carriage return or line feed, or
- whose first character after any leading blanks (spaces, tabs, line breaks, no-break and
  ideographic spaces, zero-width characters) is one of those formula characters,

unless the cell is just a number with a sign (``-5``, ``-1250.50``, ``+3``, ``-1e+20``), which a
spreadsheet reads as that same number. OWASP's advice is the quote: spreadsheets take it as
"this is text" (Excel does not show it). So a phone number ``+40 721 000 111`` is written
``'+40 721 000 111`` (unquoted, Excel would read a broken formula, ``#NULL!``) and still
reads as the number, while ``0721 000 111`` has nothing to fear and is left as it is. Imports
take the quote off again (``unescape``), so values survive a round trip through a file
unchanged; a value that really starts with a quote before such a cell gets a second one.
"""

from __future__ import annotations

import re

#: The characters that start a formula, with their full-width and small forms.
FORMULA_CHARACTERS = "=+-@\uff1d\uff0b\uff0d\uff20\ufe66\ufe62\ufe63\ufe6b"
#: Dangerous as the very first character, whatever follows.
LEADING_BREAKS = "\t\r\n"
#: Skipped by spreadsheets before they look for a formula (with everything ``str.isspace``).
INVISIBLE = "\u200b\u200c\u200d\u2060\ufeff"
#: The blanks before a cell's first visible character, in any order.
BLANKS = re.compile(rf"^[\s{INVISIBLE}]+")
SIGNED_NUMBER = re.compile(r"[+-](?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)


def is_formula_like(text: str) -> bool:
    """Would a spreadsheet run ``text`` as a formula (or mangle it as one)?"""
    if not text:
        return False
    if text[0] in LEADING_BREAKS:
        return True
    start = BLANKS.sub("", text, count=1)
    if not start or start[0] not in FORMULA_CHARACTERS:
        return False
    return SIGNED_NUMBER.fullmatch(text) is None


def escape(text: str) -> str:
    """A cell's text safe to open in a spreadsheet (formula-like text gets a leading ``'``)."""
    return "'" + text if is_formula_like(text) or _quoted(text) else text


def unescape(text: str) -> str:
    """The value of a cell ``escape`` wrote."""
    return text[1:] if _quoted(text) else text


def _quoted(text: str) -> bool:
    # A quote that ``escape`` added: before a formula-like text, or before another such quote.
    while text.startswith("'"):
        text = text[1:]
        if is_formula_like(text):
            return True
    return False
