"""Numbers and money on the page, in the reader's locale (``dates.current_locale()``), by Babel
from CLDR's patterns: ``1.250,00 lei`` in Romanian, ``RON 1,250.00`` in English.

Two choices over plain ``babel.numbers.format_currency``:

- **Narrow symbols** where CLDR's standard one is the bare ISO code a reader does not write:
  Romanian writes its own currency "lei" (CLDR's narrow symbol for RON in ``ro``; Babel has no
  narrow symbols, hence ``NARROW_SYMBOLS``). Other currencies keep Babel's symbol (€, $, EUR).
- **Currency spacing** (CLDR's ``currencySpacing``): a symbol ending or starting with a letter
  is kept apart from the digits by a no-break space, so English writes ``RON 1,250.00``, not
  Babel's ``RON1,250.00``; ``€1,250.00`` stays joined.

Money always shows its currency's digits (``1.250,00 lei``), so a column of sums lines up.
Page scripts write no money or numbers of their own: the board's sums after a drag come in the
server's HTML. CSV exports and the API stay machine-readable (plain ``1250.00``).
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation, localcontext
from typing import Any

from babel.numbers import (
    format_currency,
    format_decimal,
    get_currency_precision,
    get_currency_symbol,
)
from flask import Blueprint

from .dates import current_locale

#: (language, currency) → the symbol written instead of CLDR's standard one (CLDR's narrow).
NARROW_SYMBOLS = {("ro", "RON"): "lei"}
NBSP = "\u00a0"
CENT = Decimal("0.01")
#: Digits a Decimal holds while formatting: the largest value a JSON field can hold, with cents.
PRECISION = 400


def _language(locale: str) -> str:
    return locale.replace("-", "_").split("_")[0].lower()


def money_symbol(currency: str, locale: str | None = None) -> str:
    """The symbol ``currency`` is written with in ``locale``: ``lei`` (ro), ``RON`` (en), ``€``."""
    locale = locale or current_locale()
    code = currency.upper()
    return NARROW_SYMBOLS.get((_language(locale), code)) or get_currency_symbol(code, locale)


def _as_decimal(value: Any) -> Decimal | None:
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def format_money(value: Any, currency: str | None, *, locale: str | None = None) -> str:
    """``1.250,00 lei`` (ro), ``RON 1,250.00`` / ``€1,250.00`` (en); a sum without a currency
    as a number with two decimals; "" for no value."""
    with localcontext() as context:
        context.prec = PRECISION  # rounding to cents must not fail on a big number
        try:
            return _money(value, currency, locale)
        except InvalidOperation:  # past even that (text such as "1e999"): shown as it is
            return str(value)


def _money(value: Any, currency: str | None, locale: str | None) -> str:
    amount = _as_decimal(value)
    if amount is None:
        return ""
    locale = locale or current_locale()
    code = (currency or "").strip().upper()
    # Half a cent up, as people round (Babel would round half to even)
    step = Decimal(1).scaleb(-get_currency_precision(code)) if code else CENT
    amount = amount.quantize(step, ROUND_HALF_UP)
    if not code:
        return format_decimal(amount, "#,##0.00", locale=locale)
    try:
        text = format_currency(amount, code, locale=locale)
    except (ValueError, KeyError):  # a code CLDR does not know: written after the number
        return f"{format_decimal(amount, '#,##0.00', locale=locale)}{NBSP}{code}"
    standard = get_currency_symbol(code, locale)
    symbol = money_symbol(code, locale)
    if symbol != standard:
        text = text.replace(standard, symbol, 1)
    return _spaced(text, symbol)


def _spaced(text: str, symbol: str) -> str:
    """CLDR's currency spacing: a no-break space between a letter of the symbol and a digit."""
    at = text.find(symbol)
    if at < 0:
        return text
    before, after = text[:at], text[at + len(symbol) :]
    if symbol[-1:].isalpha() and after[:1].isdigit():
        after = NBSP + after
    if symbol[:1].isalpha() and before[-1:].isdigit():
        before += NBSP
    return before + symbol + after


def format_number(value: Any, *, locale: str | None = None) -> str:
    """A number as the reader writes it: ``1.250,5`` (ro), ``1,250.5`` (en); "" for none."""
    number = _as_decimal(value)
    if number is None:
        return ""
    # Up to ten decimals: a stored 0.1 is not shown as 0.1000000000000000055
    with localcontext() as context:
        context.prec = PRECISION
        try:
            return format_decimal(number, "#,##0.##########", locale=locale or current_locale())
        except InvalidOperation:
            return str(value)


def install(web: Blueprint) -> None:
    """The ``money`` and ``number`` Jinja filters: ``{{ amount|money(currency) }}``."""
    web.add_app_template_filter(lambda value, currency=None: format_money(value, currency), "money")
    web.add_app_template_filter(lambda value: format_number(value), "number")
