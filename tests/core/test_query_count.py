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
    # The token, the cards with a deadline, the cards without one (each statement reads the
    # cards' statuses and other contacts too, and decides what the caller sees) (+ BEGIN on
    # SQLite). Before the product was read in the page's statements: 4 (+ BEGIN).
    with app.app_context():
        begins = 1 if get_db().dialect == "sqlite" else 0
    assert large == 3 + begins


def statements_of(app, action):
    """The statements ``action()`` sends to the database, and what it returned."""
    with app.app_context():
        engine = get_db().engine
    statements = []

    def remember(conn, cursor, statement, *args):
        statements.append(" ".join(statement.split()))

    event.listen(engine, "before_cursor_execute", remember)
    try:
        result = action()
    finally:
        event.remove(engine, "before_cursor_execute", remember)
    return statements, result


#: The statements each card or task kind of the load test's mix (``bench/load.py``) sends, for
#: a member of the whole product: (on SQLite, on PostgreSQL). SQLite adds its ``BEGIN``s;
#: PostgreSQL sends ``BEGIN`` without a statement of its own, and the history rows, the events,
#: their lock and their NOTIFY as one statement. Every write: the token (with the caller and
#: the caller's memberships), [the card's lock,] the card, then its writes, history and events
#: (the comments below name each, as SQLite sends them).
#: Before issue 18: card tasks 5/4, create card 11/11, edit card 12/12, move card 14/14,
#: create task 12/12, postpone task 14/14, close task 13/13; before the caller was kept
#: loaded and the memberships came with the token: 4/3, 10/10, 10/10, 11/11, 10/10, 12/12,
#: 11/11; before the history rows went in the events' statement (PostgreSQL): 6, 6, 7, 6, 8, 7;
#: before a new card's product was read once, under its share lock: create card 8/5.
MIX_STATEMENTS = {
    "card tasks": (4, 3),  # token, card with the memberships, tasks
    "create card": (7, 4),  # token, product (share-locked: its money field), card, history, events
    "edit card": (8, 5),  # token, lock, card + contacts + product, card, history, events
    "move card": (9, 6),  # ... and the new status
    "create task": (8, 5),  # token, card locked with its product, task, history, card, events
    "postpone task": (10, 7),  # token, card locked by the task, task, postponement, task, ...
    "close task": (9, 6),
}


def test_the_card_and_task_kinds_of_the_mix_send_the_statements_they_need(app, admin, member):
    product = admin.product("sales")
    admin.grant(product, member)
    card = member.card(product, "Opened")
    task = member.task(card, "2026-12-03T09:15:00Z")
    other = member.task(card, "2026-12-04T09:15:00Z")
    status = product["statuses"][1]["id"]
    version = card["version"]

    def call(method, path, body=None, version=None):
        headers = {"If-Match": f'"{version}"'} if version is not None else {}
        return lambda: member.ok(method, path, body, headers=headers)

    due = "2026-12-06T10:00:00Z"
    kinds = {
        "card tasks": call("GET", f"cards/{card['id']}/tasks?limit=50"),
        "create card": call("POST", f"products/{product['id']}/cards", {"title": "New"}),
        "edit card": call("PATCH", f"cards/{card['id']}", {"title": "Edited"}, version),
        "move card": call("PATCH", f"cards/{card['id']}", {"status_id": status}, version + 1),
        "create task": call("POST", f"cards/{card['id']}/tasks", {"text": "Call", "due": due}),
        "postpone task": call("POST", f"tasks/{task['id']}/postpone", {"due": due}, 1),
        "close task": call("POST", f"tasks/{other['id']}/close", {}, other["version"]),
    }
    with app.app_context():
        column = 0 if get_db().dialect == "sqlite" else 1
    counts = {kind: len(statements_of(app, action)[0]) for kind, action in kinds.items()}
    assert counts == {kind: expected[column] for kind, expected in MIX_STATEMENTS.items()}
