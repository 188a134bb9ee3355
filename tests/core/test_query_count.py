"""A card list page costs the same number of queries whatever its size (no N+1)."""

from cardcrm.common.db import get_db
from sqlalchemy import event


def count_queries(app, api, path):
    with app.app_context():
        engine = get_db().engine
    statements = []

    def remember(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", remember)
    try:
        api.ok("GET", path)
    finally:
        event.remove(engine, "before_cursor_execute", remember)
    return len(statements)


def test_card_list_queries_do_not_grow_with_the_page(app, admin):
    product = admin.product("sales")
    for index in range(30):
        card = admin.card(product, f"card {index}", owner_id=admin.user.id)
        if index % 2:
            admin.task(card, f"2026-12-{index % 28 + 1:02d}T10:00:00Z")
    # Both pages reach past the 15 cards with a task into those without one.
    small = count_queries(app, admin, f"products/{product['id']}/cards?limit=16")
    large = count_queries(app, admin, f"products/{product['id']}/cards?limit=30")
    assert large == small
    # token, product, its statuses, cards with a deadline, cards without one, the cards'
    # other contacts (+ BEGIN on SQLite)
    assert large <= 7
