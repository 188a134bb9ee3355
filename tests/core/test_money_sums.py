"""The board's and the reports' money sums (read from ``cards.amount_cents``) equal the sums of
the cards' JSON values as a user counts them: what the viewer may see, not in the trash, a
value that is no number counting as nothing; and they follow a change of the money field.
"""

from __future__ import annotations

import json
import re
import threading
from collections import defaultdict
from decimal import Decimal

import pytest
from cardcrm.common.db import get_db
from cardcrm.core.auth.models import User
from cardcrm.core.products.models import Product
from cardcrm.core.web.board import column_totals, money_field
from sqlalchemy import text

NOTE = {"key": "note", "label": "Note", "type": "text"}


def status_id(product, name):
    return next(status["id"] for status in product["statuses"] if status["name"] == name)


def expected(app, product_id, key, viewer_id=None):
    """Per status: (count, sum) of the cards' ``fields[key]``, counted by hand from the rows."""
    totals = defaultdict(lambda: [0, Decimal(0)])
    with app.app_context(), get_db().engine.connect() as connection:
        rows = connection.execute(
            text("SELECT status_id, owner_id, fields, trashed_at FROM cards WHERE product_id = :p"),
            {"p": product_id},
        ).all()
    for status, owner, fields, trashed in rows:
        if trashed is not None or (viewer_id is not None and owner not in (None, viewer_id)):
            continue
        value = (fields if isinstance(fields, dict) else json.loads(fields)).get(key)
        totals[status][0] += 1
        if isinstance(value, str) and re.fullmatch(r"-?[0-9]+(\.[0-9]+)?", value):
            totals[status][1] += Decimal(value)
    return {status: (count, amount) for status, (count, amount) in totals.items()}


def board(app, product_id, user_id):
    with app.app_context():
        session = get_db().session()
        try:
            product = session.get(Product, product_id)
            viewer = session.get(User, user_id)
            totals = column_totals(session, product, viewer, money_field(product))
            return {status: (item.count, item.amount) for status, item in totals.items()}
        finally:
            session.close()


@pytest.fixture
def deals(admin, member):
    """Sales cards of the admin, of the member and of nobody, one in the trash; each has a
    ``note`` (text) that is a number, a number with words after it, words or nothing."""
    product = admin.product("sales", name="Deals")
    product = admin.ok("PATCH", f"products/{product['id']}", {"fields": [*product["fields"], NOTE]})
    admin.grant(product, member, own_cards_only=True)
    mine, theirs = member.user.id, admin.user.id
    cards = [
        ("A", "1000.10", "12abc", mine, "Won"),
        ("B", "0.10", "7.25", theirs, "Won"),
        ("C", "0.20", "abc", None, "Lead"),
        ("D", None, "", None, "Lead"),
        ("E", "250.55", "3.00", theirs, "Lost"),
        ("F", "99.99", "-2.50", mine, "Lost"),
        ("G", "5000.00", "9", mine, "Won"),  # in the trash
    ]
    for title, value, note, owner, status in cards:
        fields = {"note": note} if note else {}
        if value is not None:
            fields["value"] = value
        body = {"fields": fields, "owner_id": owner} if owner else {"fields": fields}
        card = admin.card(product, title, **body)
        admin.ok("PATCH", f"cards/{card['id']}", {"status_id": status_id(product, status)})
        if title == "G":
            admin.ok("DELETE", f"cards/{card['id']}", status=204)
    return product


def test_board_sums_per_status_are_the_cards_values_the_viewer_sees(app, admin, member, deals):
    for user in (admin.user, member.user):
        viewer = None if user.is_admin else user.id
        assert board(app, deals["id"], user.id) == expected(app, deals["id"], "value", viewer)
    won = status_id(deals, "Won")
    assert board(app, deals["id"], member.user.id)[won] == (1, Decimal("1000.10"))


def test_a_new_money_field_makes_the_sums_its_values_numbers_only(app, admin, member, deals):
    money_note = {**NOTE, "type": "money", "currency": "EUR"}
    others = [field for field in deals["fields"] if field["key"] != "note"]
    admin.ok("PATCH", f"products/{deals['id']}", {"fields": [money_note, *others]})

    for user in (admin.user, member.user):
        viewer = None if user.is_admin else user.id
        assert board(app, deals["id"], user.id) == expected(app, deals["id"], "note", viewer)
    # "12abc", "abc" and "" count as nothing: the member's Won column is A's "12abc" alone.
    assert board(app, deals["id"], member.user.id)[status_id(deals, "Won")] == (1, Decimal(0))
    report = admin.ok("GET", f"reports/outcomes?product_id={deals['id']}&period=this_year")
    assert report["won"] == {"count": 2, "values": [{"currency": "EUR", "amount": "7.25"}]}
    assert report["lost"] == {"count": 2, "values": [{"currency": "EUR", "amount": "0.50"}]}


def test_outcomes_sum_the_values_of_the_cards_won_and_lost_that_the_caller_sees(
    admin, member, deals
):
    path = f"reports/outcomes?product_id={deals['id']}&period=this_year"
    report = admin.ok("GET", path)
    assert report["won"] == {"count": 2, "values": [{"currency": "EUR", "amount": "1000.20"}]}
    assert report["lost"] == {"count": 2, "values": [{"currency": "EUR", "amount": "350.54"}]}
    mine = member.ok("GET", path)
    assert mine["won"] == {"count": 1, "values": [{"currency": "EUR", "amount": "1000.10"}]}
    assert mine["lost"] == {"count": 1, "values": [{"currency": "EUR", "amount": "99.99"}]}


def test_editing_a_cards_value_moves_the_sum(app, admin, deals):
    card = admin.card(deals, "H", fields={"value": "10.00"})
    admin.ok("PATCH", f"cards/{card['id']}", {"fields": {"value": "12.34"}})
    lead = status_id(deals, "Database")
    assert board(app, deals["id"], admin.user.id)[lead] == (1, Decimal("12.34"))
    admin.ok("PATCH", f"cards/{card['id']}", {"fields": {"value": None}})
    assert board(app, deals["id"], admin.user.id)[lead] == (1, Decimal(0))


def test_a_csv_import_keeps_the_sums_of_the_cards_it_creates_and_changes(app, admin, deals):
    from .csv_helpers import imported, lines

    existing = admin.card(deals, "H", fields={"value": "10.00"})
    body = lines(
        "id,title,field:value",
        f"{existing['id']},H,20.50",
        ",I,1.25",
        ",J,",
    )
    result = imported(admin, f"products/{deals['id']}/cards.csv", body)
    assert (result["created"], result["updated"], result["errors"]) == (2, 1, [])
    first = status_id(deals, "Database")
    assert board(app, deals["id"], admin.user.id)[first] == (3, Decimal("21.75"))
    assert board(app, deals["id"], admin.user.id) == expected(app, deals["id"], "value")


def test_a_card_created_while_the_money_field_changes_counts_the_field_it_ends_with(app, admin):
    """A new card's amount comes from the money field its product names when the card is
    written: a change of the fields in another transaction makes the card wait, and the card
    is then written under the new fields (never an amount of a field no longer the money one,
    which the change's recomputation of the product's cards would have missed)."""
    product = admin.product("sales", name="Deals")
    product = admin.ok("PATCH", f"products/{product['id']}", {"fields": [*product["fields"], NOTE]})
    with app.app_context():
        engine = get_db().engine
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite runs one write transaction at a time: no write can wait for another")
    money_note = {**NOTE, "type": "money", "currency": "EUR"}
    others = [field for field in product["fields"] if field["key"] != "note"]
    created: dict = {}

    def create() -> None:
        fields = {"value": "5.00", "note": "7.25"}
        created.update(admin.card(product, "Signed during the change", fields=fields))

    writer = threading.Thread(target=create)
    with engine.connect() as change:
        change.execute(
            text("SELECT id FROM products WHERE id = :p FOR UPDATE"), {"p": product["id"]}
        )
        writer.start()
        writer.join(0.5)
        assert writer.is_alive(), "the new card did not wait for the product's change"
        change.execute(
            text("UPDATE products SET fields = CAST(:fields AS json) WHERE id = :p"),
            {"fields": json.dumps([money_note, *others]), "p": product["id"]},
        )
        change.commit()
    writer.join(10)
    assert created["fields"] == {"value": "5.00", "note": "7.25"}
    with engine.connect() as connection:
        amount = connection.scalar(
            text("SELECT amount_cents FROM cards WHERE id = :c"), {"c": created["id"]}
        )
    assert amount == 725
