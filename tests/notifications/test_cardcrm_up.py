"""The service as `cardcrm up` runs it: mounted under /notifications with its worker in a
thread, in one process with core, over real HTTP, mailing through a real SMTP server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.cardcrm_up import DEMO_EMAIL, call, cardcrm_up

#: ``cardcrm up`` generates the demo password; this test chooses it, as automation may.
DEMO_PASSWORD = "notifications-tests-demo-password"


@pytest.mark.slow
def test_cardcrm_up_serves_notifications_and_its_worker_mails_an_assignment(tmp_path, smtp):
    """A fresh site of its own: what the worker does first (nothing for the demo data) counts."""
    with cardcrm_up(
        tmp_path,
        demo_password=DEMO_PASSWORD,
        ready_path="/notifications/healthz",
        CARDCRM_SMTP_URL=smtp.url,
    ) as base:
        _, login = call(
            base, "POST", "/api/v1/auth/token", {"email": DEMO_EMAIL, "password": DEMO_PASSWORD}
        )
        demo = login["token"]
        status, preferences = call(
            base, "PATCH", "/notifications/api/v1/preferences", {"email": DEMO_EMAIL}, demo
        )
        assert status == 200 and preferences["timezone"] == "Europe/Bucharest"
        status, _ = call(
            base,
            "POST",
            "/api/v1/users",
            {"email": "ana@example.com", "name": "Ana", "password": "ana-password"},
            demo,
        )
        assert status == 201
        _, ana = call(
            base,
            "POST",
            "/api/v1/auth/token",
            {"email": "ana@example.com", "password": "ana-password"},
        )
        _, products = call(base, "GET", "/api/v1/products", token=demo)
        members = f"/api/v1/products/{products['items'][0]['id']}/members"
        status, current = call(base, "GET", members, token=demo)
        if status == 200:  # per-product access: Ana must be a member to add a task
            items = [*current["items"], {"user_id": ana["user"]["id"], "own_cards_only": False}]
            assert call(base, "PUT", members, {"items": items}, demo)[0] == 200
        _, cards = call(
            base, "GET", f"/api/v1/products/{products['items'][0]['id']}/cards", token=demo
        )
        card = cards["items"][0]
        due = (datetime.now(UTC) + timedelta(days=1)).isoformat()
        task = {"text": "Check the demo", "due": due, "assignee_id": login["user"]["id"]}
        status, _ = call(base, "POST", f"/api/v1/cards/{card['id']}/tasks", task, ana["token"])
        assert status == 201

        [message] = smtp.wait_for(1, timeout=20)
        assert message["Subject"] == "Ana assigned you a task: Check the demo"
        body = message.get_body(preferencelist=("plain",)).get_content()
        assert f"{base}/cards/{card['id']}" in body  # the UI's card page, not the mount
        _, inbox = call(base, "GET", "/notifications/api/v1/inbox", token=demo)
        assert [item["title"] for item in inbox["items"]] == [
            "Ana assigned you a task: Check the demo"
        ]
        # the demo data seeded before the worker's first start notified nobody
        assert len(smtp.messages) == 1
    assert (tmp_path / "data" / "notifications.db").is_file()
