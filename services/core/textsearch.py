"""Folding text for case- and accent-insensitive search ("Ștefan" is found by "stefan")."""

from __future__ import annotations

import re
import unicodedata


def fold(text: str) -> str:
    """Lower case without accents: ``fold("Ștefan Ionescu") == "stefan ionescu"``."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def digits(text: str) -> str:
    return re.sub(r"\D", "", text)


#: Digits that identify a phone number however it was written: the national number without
#: the country code or trunk prefix ("+40 721 000 111", "0040-721-000-111" and "0721 000 111"
#: all give "721000111"). Nine digits fit most numbering plans.
PHONE_KEY_DIGITS = 9


def phone_key(text: str) -> str:
    number = digits(text)
    return number[-PHONE_KEY_DIGITS:] if len(number) >= PHONE_KEY_DIGITS else number
