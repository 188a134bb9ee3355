"""Numbers and money in the reader's locale (web/numbers.py), and the week's first day
(web/dates.py): the rules themselves, without pages."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from cardcrm.core.reports.period import ReportPeriod
from cardcrm.core.web import dates
from cardcrm.core.web.numbers import format_money, format_number, money_symbol

NBSP = "\u00a0"


@pytest.mark.parametrize(
    ("amount", "currency", "locale", "shown"),
    [
        (1250, "RON", "ro", f"1.250,00{NBSP}lei"),
        (1250, "RON", "en", f"RON{NBSP}1,250.00"),
        ("12500.5", "EUR", "en", "€12,500.50"),
        ("12500.5", "EUR", "ro", f"12.500,50{NBSP}EUR"),
        (Decimal("-3"), "USD", "en", "-$3.00"),
        (Decimal("0.005"), "RON", "ro", f"0,01{NBSP}lei"),
        (1234567.891, "ron", "ro", f"1.234.567,89{NBSP}lei"),
        (1250, None, "ro", "1.250,00"),
        ("1e30", "EUR", "en", "€1,000,000,000,000,000,000,000,000,000,000.00"),
        (1250, "", "en", "1,250.00"),
    ],
)
def test_money_is_written_as_the_readers_language_writes_it(amount, currency, locale, shown):
    assert format_money(amount, currency, locale=locale) == shown


def test_a_letter_symbol_is_kept_apart_from_the_digits_and_a_sign_is_not():
    assert format_money(7, "CHF", locale="en") == f"CHF{NBSP}7.00"
    assert format_money(7, "GBP", locale="en") == "£7.00"
    assert money_symbol("RON", "ro") == "lei" and money_symbol("RON", "en") == "RON"


@pytest.mark.parametrize("value", [None, "", "lots", True, float("nan"), "Infinity"])
def test_no_value_or_not_a_number_is_written_as_nothing(value):
    assert format_money(value, "RON", locale="ro") == ""
    assert format_number(value, locale="ro") == ""


def test_a_number_too_big_for_cents_is_still_written():
    assert format_money("1e300", "RON", locale="ro").endswith(f"000,00{NBSP}lei")
    assert format_number("1e300", locale="en").startswith("1,000,000")
    assert format_money("1e999", "RON", locale="ro") == "1e999"


def test_numbers_use_the_readers_separators_and_keep_their_decimals():
    assert format_number(1234.5, locale="en") == "1,234.5"
    assert format_number(1234.5, locale="ro") == "1.234,5"
    assert format_number(0.1, locale="ro") == "0,1"
    assert format_number(2, locale="en") == "2"


def test_the_week_starts_on_the_locales_first_day():
    assert dates.first_week_day("en") == 0  # CLDR's world (001): Monday
    assert dates.first_week_day("ro") == 0  # Romania: Monday
    assert dates.first_week_day("en_US") == 6  # the United States: Sunday
    thursday = date(2026, 12, 10)
    assert dates.week_start(thursday, dates.first_week_day("ro")) == date(2026, 12, 7)
    assert dates.week_start(thursday, dates.first_week_day("en_US")) == date(2026, 12, 6)
    sunday = date(2026, 12, 13)
    assert dates.week_start(sunday, 0) == date(2026, 12, 7)
    assert dates.week_start(sunday, 6) == sunday


def test_a_reports_weeks_start_on_the_day_it_is_given():
    zone = ZoneInfo("UTC")
    december = (date(2026, 12, 1), date(2026, 12, 14))  # a Tuesday to a Monday
    monday = ReportPeriod(*december, zone)
    assert monday.weeks() == [
        (date(2026, 12, 1), date(2026, 12, 6)),
        (date(2026, 12, 7), date(2026, 12, 13)),
        (date(2026, 12, 14), date(2026, 12, 14)),
    ]
    sunday = ReportPeriod(*december, zone, first_weekday=6)
    assert sunday.weeks() == [
        (date(2026, 12, 1), date(2026, 12, 5)),
        (date(2026, 12, 6), date(2026, 12, 12)),
        (date(2026, 12, 13), date(2026, 12, 14)),
    ]
