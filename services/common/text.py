"""The one rule for text people type: no control characters.

Text fields accept any Unicode a person can type, with tab, carriage return and line feed,
but no other control character: C0 (U+0000–U+001F) other than those three, DEL (U+007F) and
C1 (U+0080–U+009F). Such a character is invisible on screen, makes strict iCalendar parsers
reject a whole feed and mail servers reject a message, and is never what someone meant.
Input carrying one is refused (``control_character_error``); text written into an iCalendar
object or an e-mail header passes through ``printable`` as a second line of defence for rows
stored before the rule existed.

Lone surrogates (U+D800–U+DFFF, which JSON's ``\\ud800`` escape can produce) cannot be
encoded as UTF-8, so they are refused by the same check.
"""

from __future__ import annotations

import re

from .validation_messages import N_, known

#: Every character the rule refuses.
CONTROL_CHARACTERS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")

#: The same, and also the line breaks: for one-line texts (names, titles, e-mail headers).
LINE_BREAKING = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff\u2028\u2029]")


def control_character_error(value: str, *, of_name: bool = False) -> str | None:
    """What is wrong with ``value`` under the rule, or ``None`` when it is fine (``of_name``:
    said of a JSON object's key). English; ``translate_message`` gives the reader's words."""
    found = CONTROL_CHARACTERS.search(value)
    if found is None:
        return None
    code = f"U+{ord(found.group()):04X}"
    if "\ud800" <= found.group() <= "\udfff":
        if of_name:
            return known(
                N_("The name contains an unpaired surrogate (%(code)s), which is not valid text."),
                code=code,
            )
        return known(
            N_("Contains an unpaired surrogate (%(code)s), which is not valid text."), code=code
        )
    if of_name:
        return known(N_("The name contains a control character (%(code)s); remove it."), code=code)
    return known(N_("Contains a control character (%(code)s); remove it."), code=code)


def printable(value: str, *, one_line: bool = False) -> str:
    """``value`` without the characters the rule refuses (with ``one_line``: line breaks
    become spaces), for writing into formats that must not carry them."""
    if one_line:
        return LINE_BREAKING.sub(" ", value)
    return CONTROL_CHARACTERS.sub("", value)
