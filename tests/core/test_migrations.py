"""The migrations build exactly the schema the models describe, on every database."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from cardcrm.core.models import Base
from sqlalchemy import create_engine, text


def test_migrated_database_matches_the_models(database_url):
    engine = create_engine(database_url)
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "version_table": "alembic_version_core"}
        )
        differences = compare_metadata(context, Base.metadata)
    engine.dispose()
    differences = [item for item in differences if not _is_left_out(item)]
    assert differences == []


def _is_left_out(difference) -> bool:
    # Trigram indexes, only where the database can (migration 0015): pg_trgm, SQLite's FTS5.
    if difference[0] == "remove_index":
        return difference[1].name.endswith("_search_text_trgm")
    if difference[0] == "remove_table" and difference[1].name.startswith(
        ("cards_fts", "notes_fts")
    ):
        return True
    return difference[0] == "remove_table" and difference[1].name.startswith("alembic_version")


def test_history_rows_written_as_card_trashed_are_rewritten_as_card_deleted(admin, database_url):
    from alembic import command
    from cardcrm.core.migrate import alembic_config

    card = admin.card(admin.product("sales"), "ACME")
    admin.delete(f"cards/{card['id']}")
    config = alembic_config(database_url)

    def stored_types() -> list[str]:
        engine = create_engine(database_url)
        with engine.connect() as connection:
            query = text("SELECT type FROM card_history WHERE card_id = :id ORDER BY id")
            types = list(connection.scalars(query, {"id": card["id"]}))
        engine.dispose()
        return types

    command.downgrade(config, "0003")  # the rows as the code before 0004 wrote them
    assert stored_types() == ["card.created", "card.trashed"]
    command.upgrade(config, "head")
    assert stored_types() == ["card.created", "card.deleted"]
    items = admin.ok("GET", f"cards/{card['id']}/history")["items"]
    assert [row["type"] for row in items] == ["card.created", "card.deleted"]


def test_tokens_from_before_0005_keep_the_sidecars_working_and_old_browser_tokens_end(
    app, admin, database_url, client
):
    """Existing service tokens get what the sidecars need; the browsers' tokens of the old
    cookie sessions (which no longer log anyone in) are revoked with them."""
    from alembic import command
    from cardcrm.core.auth.service import hash_token
    from cardcrm.core.migrate import alembic_config

    config = alembic_config(database_url)
    command.downgrade(config, "0004")
    engine = create_engine(database_url)
    with engine.begin() as connection:
        insert = text(
            "INSERT INTO api_tokens (token_hash, user_id, service, name, created_at)"
            " VALUES (:hash, :user_id, :service, :name, CURRENT_TIMESTAMP)"
        )
        connection.execute(
            insert,
            {
                "hash": hash_token("ccrm_sidecar"),
                "user_id": None,
                "service": "sidecars",
                "name": "command line",
            },
        )
        connection.execute(
            insert,
            {
                "hash": hash_token("ccrm_browser"),
                "user_id": admin.user.id,
                "service": None,
                "name": "web UI (browser session)",
            },
        )
    engine.dispose()
    command.upgrade(config, "head")

    def call(path: str, token: str, **headers: str) -> int:
        headers["Authorization"] = f"Bearer {token}"
        return client.get(f"/api/v1/{path}", headers=headers).status_code

    assert call("events?after=0", "ccrm_sidecar") == 200
    assert call("me", "ccrm_sidecar", **{"X-Cardcrm-On-Behalf-Of": str(admin.user.id)}) == 200
    assert call("me", "ccrm_browser") == 401
    assert call("me", admin.token) == 200  # a token the user made stays


def test_events_from_before_0006_each_get_their_own_uid_and_the_feed_an_incarnation(
    admin, database_url
):
    import uuid

    from alembic import command
    from cardcrm.core.migrate import alembic_config

    product = admin.product("sales")
    for title in ("One", "Two", "Three"):
        admin.card(product, title)
    config = alembic_config(database_url)
    command.downgrade(config, "0005")  # events as they were, without uid
    command.upgrade(config, "head")

    page = admin.ok("GET", "events?limit=1000")
    uids = [event["uid"] for event in page["items"]]
    assert len(uids) >= 4 and len(set(uids)) == len(uids)
    assert all(str(uuid.UUID(value)) == value for value in uids)
    assert str(uuid.UUID(page["incarnation"])) == page["incarnation"]


def test_0013_gives_existing_cards_their_money_value_in_cents(admin, database_url):
    """Cards written before 0013 get ``amount_cents`` from their product's first money field;
    a value that is no number gets none, and the board's sums count them after the upgrade."""
    from alembic import command
    from cardcrm.core.migrate import alembic_config

    product = admin.product("sales")
    cards = [
        admin.card(product, title, fields={"value": value} if value else {})
        for title, value in (("A", "1250.50"), ("B", "0.05"), ("C", None))
    ]
    config = alembic_config(database_url)
    command.downgrade(config, "0010")  # the rows as the code before 0013 wrote them
    engine = create_engine(database_url)
    with engine.begin() as connection:  # text left from a field that was not money before
        connection.execute(
            text("UPDATE cards SET fields = :fields WHERE id = :id"),
            {"fields": '{"value": "12abc"}', "id": cards[2]["id"]},
        )
    command.upgrade(config, "head")
    with engine.connect() as connection:
        stored = dict(connection.execute(text("SELECT id, amount_cents FROM cards")).all())
    engine.dispose()
    assert [stored[card["id"]] for card in cards] == [125050, 5, None]


def test_0016_gives_default_sidecar_tokens_the_calendar_write_scopes_and_no_other(
    admin, database_url
):
    """A calendar service running on a token made before CalDAV writes keeps working (it may
    make the inbox card and write notes); a token narrowed on purpose stays narrow."""
    import json

    from alembic import command
    from cardcrm.core.auth.service import hash_token
    from cardcrm.core.migrate import alembic_config

    former_default = [
        "events:read",
        "users:read",
        "products:read",
        "tasks:read",
        "tasks:write",
        "tasks:sync-conflicts",
        "today:read",
    ]
    config = alembic_config(database_url)
    command.downgrade(config, "0015")
    engine = create_engine(database_url)
    insert = text(
        "INSERT INTO api_tokens (token_hash, user_id, service, name, created_at, scopes)"
        " VALUES (:hash, NULL, :service, 'cardcrm up', CURRENT_TIMESTAMP, :scopes)"
    )
    with engine.begin() as connection:
        for service, scopes in (("sidecars", former_default), ("mail", ["mail:deliver"])):
            connection.execute(
                insert,
                {
                    "hash": hash_token(f"ccrm_{service}"),
                    "service": service,
                    "scopes": json.dumps(scopes),
                },
            )
    command.upgrade(config, "head")
    with engine.connect() as connection:
        held = dict(
            connection.execute(
                text("SELECT service, scopes FROM api_tokens WHERE service IS NOT NULL")
            ).all()
        )
    engine.dispose()

    def scopes(value: object) -> list[str]:
        return json.loads(value) if isinstance(value, str) else list(value)  # type: ignore[arg-type]

    assert scopes(held["sidecars"]) == former_default + ["cards:create", "notes:write"]
    assert scopes(held["mail"]) == ["mail:deliver"]
