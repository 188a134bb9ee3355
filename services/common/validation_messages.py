"""marshmallow's own messages, and our constants it formats, in the reader's language.

marshmallow writes its messages in English ("Missing data for required field.", "Length must
be between 1 and 200."). Rather than giving every field ``error_messages``, the messages of an
error are translated here, once, where an answer is made of them (problem+json's ``errors``,
the web forms' messages): a message the catalogue holds is translated as it is; one of
marshmallow's templates with its values filled in is matched and translated with those values.

A text that is neither (already translated, or a plugin's own) is kept as it is.
"""

from __future__ import annotations

import re
from typing import Any

from .translate import N_, LazyString, gettext

__all__ = ["N_", "known", "translate_message", "translate_messages"]

#: marshmallow 4's default messages (fields, validators, schema), as catalogue texts: its
#: ``{name}`` placeholders written ``%(name)s``. tests/test_api_languages.py checks that every
#: default of marshmallow's classes is here.
MARSHMALLOW_MESSAGES: tuple[str, ...] = (
    # fields.Field and the field classes
    N_("Missing data for required field."),
    N_("Field may not be null."),
    N_("Invalid value."),
    N_("Invalid type."),
    N_("Not a valid list."),
    N_("Not a valid tuple."),
    N_("Not a valid string."),
    N_("Not a valid utf-8 string."),
    N_("Not a valid UUID."),
    N_("Not a valid number."),
    N_("Number too large."),
    N_("Not a valid integer."),
    N_("Special numeric values (nan or infinity) are not permitted."),
    N_("Not a valid boolean."),
    N_("Not a valid datetime."),
    N_("Not a valid date."),
    N_("Not a valid time."),
    N_("Not a valid aware datetime."),
    N_("Not a valid naive datetime."),
    N_("Not a valid aware time."),
    N_("Not a valid naive time."),
    N_("Not a valid period of time."),
    N_("Not a valid mapping type."),
    N_("Not a valid URL."),
    N_("Not a valid email address."),
    N_("Not a valid IP address."),
    N_("Not a valid IPv4 address."),
    N_("Not a valid IPv6 address."),
    N_("Not a valid IP interface."),
    N_("Not a valid IPv4 interface."),
    N_("Not a valid IPv6 interface."),
    N_("Must be one of: %(choices)s."),
    # validate
    N_("Must be greater than or equal to %(min)s."),
    N_("Must be greater than %(min)s."),
    N_("Must be less than or equal to %(max)s."),
    N_("Must be less than %(max)s."),
    N_("Must be greater than or equal to %(min)s and less than or equal to %(max)s."),
    N_("Must be greater than or equal to %(min)s and less than %(max)s."),
    N_("Must be greater than %(min)s and less than or equal to %(max)s."),
    N_("Must be greater than %(min)s and less than %(max)s."),
    N_("Shorter than minimum length %(min)s."),
    N_("Longer than maximum length %(max)s."),
    N_("Length must be between %(min)s and %(max)s."),
    N_("Length must be %(equal)s."),
    N_("Must be equal to %(other)s."),
    N_("String does not match expected pattern."),
    N_("Invalid input."),
    N_("One or more of the choices you made was not in: %(choices)s."),
    N_("One or more of the choices you made was in: %(values)s."),
    # Schema
    N_("Invalid input type."),
    N_("Unknown field."),
)

_PLACEHOLDER = re.compile(r"%\((\w+)\)s")
#: Texts with placeholders, as patterns matching their English with the values filled in.
_TEMPLATES: list[tuple[re.Pattern[str], str]] = []


def _add_template(message: str) -> None:
    if not _PLACEHOLDER.search(message) or any(known == message for _, known in _TEMPLATES):
        return
    parts = _PLACEHOLDER.split(message)  # text, name, text, name, ..., text
    pattern = "".join(
        re.escape(part) if index % 2 == 0 else f"(?P<{part}>.+?)"
        for index, part in enumerate(parts)
    )
    _TEMPLATES.append((re.compile(f"^{pattern}$", re.DOTALL), message))


def known(template: str, **values: Any) -> str:
    """The English text of ``template`` (marked with ``N_``) with ``values`` filled in, for a
    constant made once (a library formats it, or many places use it); ``translate_message``
    recognises the text later and translates it with the same values."""
    _add_template(template)
    return template % values if values else template


for _message in MARSHMALLOW_MESSAGES:
    _add_template(_message)


def translate_message(message: Any) -> str:
    """One message in the current language (``message`` may be a ``LazyString``)."""
    text = str(message)
    translated = gettext(text)
    if translated != text:
        return translated
    for pattern, template in _TEMPLATES:
        match = pattern.match(text)
        if match:
            return gettext(template, **match.groupdict())
    return text


def translate_messages(messages: Any) -> Any:
    """An errors structure (nested dicts and lists of messages) with every message translated;
    keys (field names) are kept, as strings, and values other than texts as they are."""
    if isinstance(messages, dict):
        return {str(key): translate_messages(value) for key, value in messages.items()}
    if isinstance(messages, list | tuple):
        return [translate_messages(message) for message in messages]
    if isinstance(messages, str | LazyString):
        return translate_message(messages)
    return messages  # a number beside the messages (an import's line) stays one
