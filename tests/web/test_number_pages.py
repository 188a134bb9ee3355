"""Money and dates in the reader's language on the pages: the board's sums and cards, the card
page and the reports, in Romanian (``Accept-Language: ro``) and unchanged in English."""

from __future__ import annotations

from datetime import datetime
from html import unescape
from typing import Any

import pytest

# Saturday 5 December 2026, 12:00 UTC.
NOW = datetime.fromisoformat("2026-12-05T12:00:00Z")
NBSP = "\u00a0"
RO = {"Accept-Language": "ro-RO,ro;q=0.9"}


@pytest.fixture
def clock(app: Any) -> Any:
    app.config["CLOCK"] = lambda: NOW
    yield NOW
    app.config.pop("CLOCK", None)


@pytest.fixture
def ana(new_user: Any) -> Any:
    return new_user("ana@example.com", admin=True, timezone="Europe/Bucharest")


@pytest.fixture
def ana_web(app: Any, web_client: Any, ana: Any) -> Any:
    return web_client(app).log_in(ana.user.email)


def page(web: Any, path: str, **headers: str) -> str:
    answer = web.get(path, headers=headers)
    assert answer.status_code == 200, answer.get_data(as_text=True)[:600]
    return unescape(answer.get_data(as_text=True))


@pytest.fixture
def lei(ana: Any) -> dict:
    """A process whose cards are worth lei, one card of 1,250 lei with a task on Sunday."""
    product = ana.product(
        None,
        name="Vânzări",
        statuses=[{"name": "Nou", "group": "inactive"}, {"name": "Câștigat", "group": "positive"}],
        fields=[{"key": "value", "label": "Valoare", "type": "money", "currency": "RON"}],
    )
    card = ana.card(product, "Contract ACME", fields={"value": "1250"})
    ana.task(card, "2026-12-06", text="Sunați clientul", all_day=True)
    ana.task(card, "2026-12-09", text="Trimiteți oferta", all_day=True)
    return {"product": product, "card": card}


def test_the_board_and_the_card_write_lei_and_romanian_dates(ana_web, lei, clock):
    board = page(ana_web, f"/products/{lei['product']['id']}/board", **RO)
    assert f'data-sum title="Valoare">1.250,00{NBSP}lei<' in board  # the column's sum
    assert board.count(f"1.250,00{NBSP}lei") == 2  # the sum and the card's own value
    assert "Mâine" in board  # Sunday's task, seen on Saturday

    card = page(ana_web, f"/cards/{lei['card']['id']}", **RO)
    assert f'data-shown="value">1.250,00{NBSP}lei<' in card
    assert "dum., 6 dec. 2026" in card and "mie., 9 dec. 2026" in card

    listing = page(ana_web, f"/products/{lei['product']['id']}", **RO)
    assert f"1.250,00{NBSP}lei" in listing


def test_the_same_pages_in_english_write_ron_before_the_amount(ana_web, lei, clock):
    board = page(ana_web, f"/products/{lei['product']['id']}/board", **{"Accept-Language": "en"})
    assert f'data-sum title="Valoare">RON{NBSP}1,250.00<' in board
    assert "lei" not in board
    card = page(ana_web, f"/cards/{lei['card']['id']}", **{"Accept-Language": "en"})
    assert f'data-shown="value">RON{NBSP}1,250.00<' in card
    assert "Sun 6 Dec 2026" in card


def test_the_profiles_language_formats_the_reports_money(ana, ana_web, lei, clock):
    won = lei["product"]["statuses"][1]["id"]
    ana.ok("PATCH", f"cards/{lei['card']['id']}", {"status_id": won})
    ana.ok("PATCH", "me", {"language": "ro"})
    reports = page(ana_web, f"/reports?product_id={lei['product']['id']}&period=this_year")
    assert f"1.250,00{NBSP}lei" in reports
