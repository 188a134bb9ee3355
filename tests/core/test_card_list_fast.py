"""The card list's fast path (``cards/fast.py``) answers byte for byte what ``CardSchema`` did.

The reference is the list as it was answered before the fast path: the ORM product, the ORM
cards of ``queries.list_cards`` (still what the web pages read), ``CardSchema().dump`` of them
and the API's encoder (``cardcrm.common.api.dumps``). Every page of every query is compared,
following each side's own cursor, for every built-in template's fields, money, dates, cleared
values, contacts, trashed cards, each sort and filter, and a member limited to their own cards.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from cardcrm.common import rawsql
from cardcrm.common.api import dumps
from cardcrm.common.db import get_db
from cardcrm.common.errors import NotFound
from cardcrm.core import answers
from cardcrm.core.auth.models import User
from cardcrm.core.cards import queries, service
from cardcrm.core.cards.fast import KEYS, schema_keys
from cardcrm.core.cards.models import Card
from cardcrm.core.cards.schemas import CardListArgsSchema, CardSchema
from cardcrm.core.products.service import get_product
from sqlalchemy import event, update
from werkzeug.datastructures import MultiDict

from .test_query_count import count_queries

TEMPLATES = ("sales", "invoices", "recruiting", "projects")
#: Values of each built-in template's fields (every field type, money, dates, unicode).
FIELDS = {
    "sales": [
        {"value": "1250.50", "expected_close_date": "2026-12-31", "source": "Referral"},
        {"value": "900", "contact_email": "ana@example.com", "contact_phone": "+40 721 000 111"},
        {"source": "Website", "contact_email": "Zoë@Example.com"},
        {},
    ],
    "invoices": [
        {"number": "F-2026/001", "amount": "99.99", "issue_date": "2026-01-02"},
        {"number": "ÎNTÂI-ȘȚ", "amount": "0", "due_date": "2026-02-28", "client_email": "a@b.ro"},
        {},
    ],
    "recruiting": [
        {"position": "Dev", "skills": ["SQL", "Python"], "expected_salary": "5000"},
        {"position": "Designer ✏️", "cv_url": "https://example.com/cv.pdf", "phone": "0721"},
        {"position": "Ops", "skills": [], "email": "ops@example.com"},
    ],
    "projects": [
        {"budget": "10000.00", "start_date": "2026-03-01", "priority": "high", "remote": True},
        {"deadline": "2027-01-15", "priority": "low", "remote": False},
        {},
    ],
}
TITLES = [
    "Ștefan's deal",
    "Zoë",
    "apple",
    "Ärger",
    "日本語のカード",
    "banana",
    "\u00a0space",
    "x" * 500,
]
SORTS = ("title", "status", "owner", "next_task", "updated")
SORTABLE = ("text", "number", "money", "date", "datetime", "choice", "email", "phone", "url")


def reference(app: Any, user_id: int, product_id: int, query: dict[str, Any]) -> bytes:
    """The page as the list answered it before ``fast.py``: ORM objects and ``CardSchema``."""
    with app.test_request_context(f"/api/v1/products/{product_id}/cards", query_string=query):
        session = get_db().session()
        try:
            user = session.get(User, user_id)
            raw = MultiDict(query)
            args = CardListArgsSchema().load({key: raw[key] for key in raw if "." not in key})
            product = get_product(session, product_id, viewer=user)
            cards, cursor = queries.list_cards(
                session, product, args, queries.field_filters_of(raw), viewer=user
            )
            return dumps({"items": CardSchema().dump(cards, many=True), "next_cursor": cursor})
        finally:
            session.close()


def compare_every_page(app: Any, api: Any, product: dict, **query: Any) -> int:
    """Walk every page of the list through the API and the reference; returns the cards seen."""
    seen, cursor = 0, None
    while True:
        page_query = {**query, **({"cursor": cursor} if cursor else {})}
        response = api.get(f"products/{product['id']}/cards", query_string=page_query)
        assert response.status_code == 200, response.get_json()
        assert response.mimetype == "application/json"
        expected = reference(app, api.user.id, product["id"], page_query)
        assert response.get_data() == expected, (query, cursor)
        page = response.get_json()
        seen += len(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            return seen


@pytest.fixture
def world(app, admin, member):
    """Products of every built-in template with varied cards; ``member`` limited in sales."""
    products = {name: admin.product(name) for name in TEMPLATES}
    stefan = admin.ok("POST", "contacts", {"name": "Ștefan Ionescu"}, status=201)
    acme = admin.ok("POST", "contacts", {"name": "ACME"}, status=201)
    zed = admin.ok("POST", "contacts", {"name": "Zed"}, status=201)
    admin.grant(products["sales"], member, own_cards_only=True)
    admin.grant(products["projects"], member)
    cards = []
    index = 0
    for name, product in products.items():
        statuses = [status["id"] for status in product["statuses"]]
        for values in FIELDS[name]:
            for owner in (None, admin.user.id, member.user.id):
                title = TITLES[index % len(TITLES)]
                body: dict[str, Any] = {"fields": values, "owner_id": owner}
                if name == "sales":
                    body["status_id"] = statuses[index % len(statuses)]
                if index % 3 == 0:
                    body["contact_id"] = acme["id"]
                if index % 4 == 1:
                    body["contact_ids"] = [zed["id"], stefan["id"]]
                card = admin.card(product, title, **body)
                cards.append(card)
                if index % 2 == 0:
                    # Deadlines with ties, so the order and the cursors need the ids.
                    admin.task(card, f"2026-12-{index % 5 + 1:02d}T09:{index % 4 * 15:02d}:00Z")
                index += 1
    # A cleared value, a trashed card and one with a task done (no deadline left).
    sales_cards = [card for card in cards if card["product_id"] == products["sales"]["id"]]
    admin.ok("PATCH", f"cards/{sales_cards[1]['id']}", {"fields": {"contact_email": None}})
    admin.ok("DELETE", f"cards/{sales_cards[2]['id']}", status=204)
    admin.ok("DELETE", f"cards/{cards[-1]['id']}", status=204)
    # Equal update times: the part without a deadline orders ties by id.
    with app.app_context():
        session = get_db().session()
        table = Card.__table__
        moment = session.get(Card, cards[0]["id"]).updated_at
        session.execute(update(table).where(table.c.id % 2 == 0).values(updated_at=moment))
        session.commit()
        session.close()
    return {"products": products, "cards": cards}


def test_instants_are_written_as_the_schema_writes_them(app, admin, world):
    """On PostgreSQL the page's instants are written by the database (``fast._PG_INSTANT``):
    whole seconds, a few microseconds, the last microsecond of a day and an early year read
    as ``Instant`` writes them."""
    moments = [
        datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
        datetime(2026, 1, 2, 3, 4, 5, 10, tzinfo=UTC),
        datetime(2026, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        datetime(999, 3, 4, 5, 6, 7, 500000, tzinfo=UTC),
    ]
    sales = world["products"]["sales"]
    ids = [card["id"] for card in world["cards"] if card["product_id"] == sales["id"]]
    with app.app_context():
        session = get_db().session()
        table = Card.__table__
        for index, card_id in enumerate(ids[: len(moments) * 2]):
            moment = moments[index % len(moments)]
            values = {"created_at": moment, "updated_at": moment}
            session.execute(update(table).where(table.c.id == card_id).values(**values))
        session.commit()
        session.close()
    page = admin.ok("GET", f"products/{sales['id']}/cards?limit=100")
    written = {card["created_at"] for card in page["items"]}
    assert {
        "2026-01-02T03:04:05Z",
        "2026-01-02T03:04:05.000010Z",
        "2026-12-31T23:59:59.999999Z",
        "0999-03-04T05:06:07.500000Z",
    } <= written
    for limit in (1, 3, 50):
        compare_every_page(app, admin, sales, limit=limit)


def test_the_fast_path_writes_the_schemas_keys_in_its_order():
    assert schema_keys() == KEYS


@pytest.mark.parametrize("limit", [1, 4, 50])
def test_every_page_of_every_product_matches_the_schemas_dump(app, admin, world, limit):
    for product in world["products"].values():
        assert compare_every_page(app, admin, product, limit=limit) > 0
        compare_every_page(app, admin, product, limit=limit, trashed="true")


def test_every_sort_matches_the_schemas_dump(app, admin, world):
    for product in world["products"].values():
        sorts = list(SORTS) + [
            f"field.{field['key']}" for field in product["fields"] if field["type"] in SORTABLE
        ]
        for sort in sorts:
            for direction in ("", "-"):
                for limit in (3, 50):
                    compare_every_page(app, admin, product, sort=direction + sort, limit=limit)


def test_every_filter_matches_the_schemas_dump(app, admin, member, world):
    sales = world["products"]["sales"]
    recruiting = world["products"]["recruiting"]
    projects = world["products"]["projects"]
    queries_of = [
        (sales, {"status_id": sales["statuses"][0]["id"]}),
        (sales, {"status_id": sales["statuses"][-1]["id"], "trashed": "true"}),
        (sales, {"group": "positive"}),
        (sales, {"closed": "true"}),
        (sales, {"closed": "false", "sort": "-title"}),
        (sales, {"owner_id": member.user.id}),
        (sales, {"q": "ȘTEF"}),
        (sales, {"q": "a", "sort": "updated"}),
        (sales, {"field.source": "Referral"}),
        (sales, {"field.value": "900"}),
        (sales, {"field.contact_email": "zoë@example.com"}),
        (recruiting, {"field.skills": "SQL"}),
        (projects, {"field.remote": "true"}),
        (projects, {"field.priority": "low", "group": "inactive"}),
    ]
    for product, query in queries_of:
        for limit in (2, 50):
            compare_every_page(app, admin, product, limit=limit, **query)


def test_a_member_limited_to_own_cards_gets_the_same_answer(app, admin, member, world):
    sales = world["products"]["sales"]
    projects = world["products"]["projects"]
    for product in (sales, projects):
        for query in (
            {},
            {"sort": "-updated"},
            {"owner_id": admin.user.id},
            {"owner_id": member.user.id},  # their own: the filter alone keeps to them
            {"owner_id": member.user.id, "sort": "-updated"},
            {"q": "a"},
        ):
            for limit in (1, 50):
                seen = compare_every_page(app, member, product, limit=limit, **query)
                if product is sales and not query:
                    visible = [
                        card
                        for card in world["cards"]
                        if card["product_id"] == sales["id"]
                        and card["owner_id"] in (None, member.user.id)
                    ]
                    assert 0 < seen < len(visible) + 1  # a trashed card is out of the list
    # A product the member is not in: 404, as before.
    response = member.get(f"products/{world['products']['invoices']['id']}/cards")
    assert response.status_code == 404


def test_bad_cursors_and_filters_are_still_422(admin, world):
    sales = world["products"]["sales"]
    path = f"products/{sales['id']}/cards"
    for query in (
        {"cursor": "garbage"},
        {"cursor": "eyJwYXJ0IjoiZHVlIiwiZHVlIjoibm8ifQ"},  # {"part":"due","due":"no"}
        {"status_id": 999999},
        {"field.nope": "x"},
        {"field.value": "not a number"},
    ):
        response = admin.get(path, query_string=query)
        assert response.status_code == 422, (query, response.get_json())


def make_answers(app: Any) -> None:
    """The app from now on makes every answer (keeps none), as the benchmark times it."""
    app.config["ANSWER_CACHE_BYTES"] = 0
    answers.install(app)


def test_a_made_first_page_takes_the_token_and_one_statement(app, admin, member, world):
    """The page's statement also reads the caller's membership: token, page (+ BEGIN)."""
    make_answers(app)
    sales, projects = world["products"]["sales"], world["products"]["projects"]
    with app.app_context():
        engine = get_db().engine
    begins = 1 if engine.dialect.name == "sqlite" else 0
    # Enough cards with a deadline that the first page ends among them. The member is limited
    # to own cards in sales and sees the whole of projects.
    assert count_queries(app, admin, f"products/{sales['id']}/cards?limit=2") == 2 + begins
    assert count_queries(app, member, f"products/{sales['id']}/cards?limit=1") == 2 + begins
    assert count_queries(app, member, f"products/{projects['id']}/cards?limit=1") == 2 + begins
    # A filter is checked against the product's statuses first: token, product, page.
    filtered = f"products/{sales['id']}/cards?limit=1&closed=false"
    assert count_queries(app, admin, filtered) == 3 + begins


def test_with_answers_kept_a_member_shares_the_list_without_a_statement_more(
    app, admin, member, world
):
    """Kept answers (the app's default): a member who sees the whole product makes the
    team's list with the token's statement and the page's (the memberships came with the
    token), and the next caller who sees the whole product gets it for the token's alone."""
    projects = world["products"]["projects"]
    with app.app_context():
        begins = 1 if get_db().engine.dialect.name == "sqlite" else 0
    path = f"products/{projects['id']}/cards?limit=1"
    assert count_queries(app, member, path) == 2 + begins
    assert count_queries(app, admin, path) == 1 + begins


def test_made_answers_keep_the_access_rules(app, admin, member, world):
    """With the caller's sight decided in the page's statement: every page as before for an
    admin, a member of the whole product and one limited to own cards; 404 for a product the
    caller is not in or that does not exist; an empty product is an empty list."""
    make_answers(app)
    products = world["products"]
    for api in (admin, member):
        for name in ("sales", "projects"):
            for query in ({}, {"trashed": "true"}):
                for limit in (1, 50):
                    compare_every_page(app, api, products[name], limit=limit, **query)
    sales = products["sales"]
    seen = member.ok("GET", f"products/{sales['id']}/cards?limit=100")["items"]
    assert seen and all(card["owner_id"] in (None, member.user.id) for card in seen)
    everything = admin.ok("GET", f"products/{sales['id']}/cards?limit=100")["items"]
    assert len(seen) < len(everything)
    for path in (f"products/{products['invoices']['id']}/cards", "products/999999/cards"):
        # No cursor, a cursor ({"part": "none"}), one of another sort, one that is garbage.
        cursors = ("eyJwYXJ0Ijoibm9uZSJ9", "eyJzb3J0IjoidGl0bGUifQ", "garbage")
        for query in ({}, {"trashed": "true"}, *({"cursor": cursor} for cursor in cursors)):
            response = member.get(path, query_string=query)
            assert response.status_code == 404, (path, query)
    assert admin.get("products/999999/cards").status_code == 404
    empty = admin.product("sales")
    admin.grant(empty, member)
    for api in (admin, member):
        assert api.ok("GET", f"products/{empty['id']}/cards") == {
            "items": [],
            "next_cursor": None,
        }


def test_statements_of_the_plain_list_are_built_once(app, admin, world, monkeypatch):
    """The unfiltered list sends the same statements each time, compiled once: a second
    request (another page size) compiles nothing and sends the same SQL."""
    sales = world["products"]["sales"]
    with app.app_context():
        engine = get_db().engine
    compiled: list[Any] = []
    sent: list[str] = []
    compile_for_real = rawsql._compile

    def compile_counted(statement, dialect):
        compiled.append(statement)
        return compile_for_real(statement, dialect)

    def remember(conn, cursor, statement, parameters, context, executemany):
        sent.append(statement)

    monkeypatch.setattr(rawsql, "_compile", compile_counted)
    admin.ok("GET", f"products/{sales['id']}/cards?limit=2")  # compiled here if not before
    compiled.clear()
    event.listen(engine, "before_cursor_execute", remember)
    try:
        # Other page sizes: answers made, not kept ones (``answers.py``).
        admin.ok("GET", f"products/{sales['id']}/cards?limit=3")
        first = list(sent)
        sent.clear()
        admin.ok("GET", f"products/{sales['id']}/cards?limit=4")
    finally:
        event.remove(engine, "before_cursor_execute", remember)
    assert compiled == []
    # The token check and the page (SQLite: after its BEGIN), the same SQL both times.
    assert len([sql for sql in first if sql.startswith("SELECT")]) >= 2 and sent == first


def reference_card(app: Any, user_id: int, card_id: int) -> bytes | None:
    """A card as ``GET /cards/{id}`` answered it before ``fast.py`` (None: a 404)."""
    with app.test_request_context(f"/api/v1/cards/{card_id}"):
        session = get_db().session()
        try:
            user = session.get(User, user_id)
            try:
                card = service.get_card(session, card_id, viewer=user)
            except NotFound:
                return None
            return dumps(CardSchema().dump(card))
        finally:
            session.close()


def test_a_single_card_matches_the_schemas_dump(app, admin, member, world):
    answered = {"admin": 0, "member": 0, "member 404": 0}
    for api, who in ((admin, "admin"), (member, "member")):
        for card in world["cards"]:
            response = api.get(f"cards/{card['id']}")
            expected = reference_card(app, api.user.id, card["id"])
            if expected is None:
                assert response.status_code == 404
                answered[f"{who} 404"] += 1
                continue
            assert response.status_code == 200
            assert response.get_data() == expected, card["title"]
            assert response.headers["ETag"] == f'"{response.get_json()["version"]}"'
            answered[who] += 1
    # The limited member sees their own and nobody's sales cards, not the admin's; and no
    # card of a product they are not in.
    assert answered["admin"] == len(world["cards"])
    assert answered["member"] > 0 and answered["member 404"] > 0
    assert admin.get("cards/999999").status_code == 404


def test_a_single_card_takes_one_statement_besides_the_token_and_recent_cards(app, admin, world):
    card = world["cards"][0]
    with app.app_context():
        engine = get_db().engine
    statements: list[str] = []

    def remember(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", remember)
    try:
        admin.ok("GET", f"cards/{card['id']}")
    finally:
        event.remove(engine, "before_cursor_execute", remember)
    reads = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    # The token's, then the card with its status, contacts and the caller's membership.
    assert len(reads) == 2, reads


def test_filtered_and_sorted_lists_are_planned_for_their_values(app, admin, world):
    """psycopg prepares a statement the fifth time a connection runs it, and PostgreSQL may
    then plan it once for any values: a list filtered by a status or an owner read the
    product's cards in the list's order that way, where the plan for the values asked for
    reads the status's or owner's index. A filtered or sorted list's statements are never
    prepared (``db.planned_for_values``); the plain list's, the same for every caller, are."""
    make_answers(app)
    with app.app_context():
        engine = get_db().engine
    if engine.dialect.name != "postgresql":
        pytest.skip("only PostgreSQL keeps prepared statements (SQLite plans each statement)")
    sales = world["products"]["sales"]
    status_id = sales["statuses"][0]["id"]
    connections: dict[int, Any] = {}

    def remember(conn, cursor, statement, parameters, context, executemany):
        dbapi_connection = conn.connection.dbapi_connection
        connections[id(dbapi_connection)] = dbapi_connection

    lists = f"products/{sales['id']}/cards?limit=2"
    event.listen(engine, "after_cursor_execute", remember)
    try:
        for _ in range(8):
            admin.ok("GET", lists)
            admin.ok("GET", f"{lists}&status_id={status_id}")
            admin.ok("GET", f"{lists}&sort=title")
    finally:
        event.remove(engine, "after_cursor_execute", remember)
    prepared: list[str] = []
    for dbapi_connection in connections.values():
        with dbapi_connection.cursor() as cursor:
            cursor.execute("SELECT statement FROM pg_prepared_statements")
            prepared += [row[0] for row in cursor.fetchall()]
        dbapi_connection.rollback()
    card_lists = [statement for statement in prepared if "FROM cards" in statement]
    assert any("ORDER BY cards.next_task_due" in statement for statement in card_lists)
    assert not [statement for statement in card_lists if "cards.status_id = $" in statement]
    assert not [statement for statement in card_lists if "lower(cards.title)" in statement]


def test_a_member_limited_to_own_cards_filtering_on_themselves_sees_all_their_cards(
    app, admin, member, world
):
    """``?owner_id=`` themselves: the filter alone (``fast.limited_sight``, and the web list's
    ``queries.list_cards``) lists exactly the member's cards, the ones an admin's list with the
    same filter holds; a member of the whole product gets the same."""

    def every_page(api, product, **query):
        ids, cursor = [], None
        while True:
            page_query = {"limit": 2, **query, **({"cursor": cursor} if cursor else {})}
            page = api.ok("GET", f"products/{product['id']}/cards", query_string=page_query)
            ids += [card["id"] for card in page["items"]]
            if (cursor := page["next_cursor"]) is None:
                return ids

    for name in ("sales", "projects"):  # limited to own cards in sales, whole in projects
        product = world["products"][name]
        listed = admin.ok(
            "GET", f"products/{product['id']}/cards", query_string={"owner_id": member.user.id}
        )
        status_id = listed["items"][-1]["status_id"]
        for query in ({}, {"sort": "-updated"}, {"status_id": status_id}):
            theirs = every_page(admin, product, owner_id=member.user.id, **query)
            assert theirs, (name, query)
            assert every_page(member, product, owner_id=member.user.id, **query) == theirs
            compare_every_page(app, member, product, limit=2, owner_id=member.user.id, **query)
