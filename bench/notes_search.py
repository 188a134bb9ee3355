"""The card list's ``q`` with notes: one product of N cards and M notes, ``q`` timed with the
title-only search it replaced ("before") and with notes ("after").

    .venv/bin/python -m bench.notes_search --url postgresql+psycopg://postgres@127.0.0.1:5432/db
    .venv/bin/python -m bench.notes_search --url sqlite:////tmp/notes-search.db

The database must be empty (it is migrated here). Rows are written with plain INSERTs, the
notes' folded text as ``rendering.search_text`` makes it.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from cardcrm.common.db import get_db
from cardcrm.core import create_app
from cardcrm.core.auth.service import create_token, create_user
from cardcrm.core.cards import queries
from cardcrm.core.cards.models import Card
from cardcrm.core.migrate import upgrade
from cardcrm.core.notes.models import Note
from cardcrm.core.notes.rendering import render, search_text
from cardcrm.core.products.service import create_product
from sqlalchemy import insert

WORDS = [
    *("offer", "call", "budget", "meeting", "chairs"),
    *("invoice", "delivery", "contract", "discount", "visit"),
]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--cards", type=int, default=100_000)
    parser.add_argument("--notes", type=int, default=50_000)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    upgrade(args.url)
    app = create_app({"DATABASE_URL": args.url, "PLUGIN_ENTRY_POINTS": True})
    with app.app_context():
        session = get_db().session()
        admin = create_user(
            session, email="a@bench.example", name="A", password="bench-password", is_admin=True
        )
        token, _ = create_token(session, user=admin)
        product = create_product(session, admin, {"name": "Sales", "template": "sales"})
        product_id, status_id = product.id, product.statuses[0].id
        _fill(session, product_id, status_id, admin.id, args.cards, args.notes)
        session.close()
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    queries_ = {
        "rare word in notes": "zanzibar",
        "common word in notes": "discount",
        "a title": "Card 77777",
        "nothing": "qqqqxx",
    }
    plain = queries._text_condition
    rows = []
    for label, q in queries_.items():
        queries._text_condition = lambda product, q: Card.title.ilike(f"%{q}%")  # type: ignore[assignment]
        before = _time(client, headers, product_id, q, args.runs)
        queries._text_condition = plain
        after = _time(client, headers, product_id, q, args.runs)
        rows.append((label, q, before, after))
    print(f"{args.cards:,} cards, {args.notes:,} notes, median of {args.runs} (ms)")
    for label, q, before, after in rows:
        print(f"  {label:22} q={q!r:14} before {before:8.1f}   after {after:8.1f}")


def _time(client: Any, headers: dict, product_id: int, q: str, runs: int) -> float:
    path = f"/api/v1/products/{product_id}/cards?q={q}"
    assert client.get(path, headers=headers).status_code == 200
    spent = []
    for _ in range(runs):
        start = time.perf_counter()
        assert client.get(path, headers=headers).status_code == 200
        spent.append((time.perf_counter() - start) * 1000)
    return statistics.median(spent)


def _fill(
    session: Any, product_id: int, status_id: int, user_id: int, cards: int, notes: int
) -> None:
    rng = random.Random(15)
    now = datetime.now(UTC)
    batch = 5000
    for start in range(0, cards, batch):
        session.execute(
            insert(Card),
            [
                {
                    "product_id": product_id,
                    "status_id": status_id,
                    "title": f"Card {number}",
                    "fields": {},
                    "created_at": now,
                    "updated_at": now - timedelta(seconds=number),
                    "version": 1,
                }
                for number in range(start, min(start + batch, cards))
            ],
        )
    session.commit()
    first = session.query(Card.id).order_by(Card.id).first()[0]
    for start in range(0, notes, batch):
        rows = []
        for number in range(start, min(start + batch, notes)):
            words = " ".join(rng.choice(WORDS) for _ in range(30))
            if number % 5000 == 0:
                words += " Zanzibar"
            rows.append(
                {
                    "card_id": first + rng.randrange(cards),
                    "product_id": product_id,
                    "author_id": user_id,
                    "body": words,
                    "html": render(words),
                    "search_text": search_text(words),
                    "mentions": [],
                    "created_at": now,
                    "updated_at": now,
                    "version": 1,
                }
            )
        session.execute(insert(Note), rows)
    session.commit()


if __name__ == "__main__":
    main()
