"""The notifications API as users call it: preferences (validated, 422 naming the fields),
the inbox with read marks and pages, the delivery log, the OpenAPI document, and tokens."""

from __future__ import annotations

from datetime import timedelta

import pytest
from openapi_spec_validator import validate

from .helpers import iso, sales_card

DEFAULTS = {
    "email": None,
    "webhook_url": None,
    "webhook_secret": None,
    "assigned": True,
    "due_reminder_minutes": None,
    "daily_digest_at": None,
    "status_changes": True,
    "mentioned": True,
    "channels": {},
    "timezone": "UTC",
    "next_digest_at": None,
    "email_verified": False,
    "email_in_effect": None,
    "email_verification_sent_at": None,
    "email_verification_error": None,
}


def test_a_user_who_saved_nothing_has_the_defaults(member, notifications):
    assert notifications(member).ok("GET", "preferences") == DEFAULTS


def test_without_a_valid_user_token_every_endpoint_answers_401(
    notifications, core_server, notifications_app
):
    paths = [
        ("GET", "preferences"),
        ("PUT", "preferences"),
        ("PATCH", "preferences"),
        ("POST", "preferences/email/resend"),
        ("GET", "channels"),
        ("GET", "inbox"),
        ("GET", "inbox/summary"),
        ("POST", "inbox/1/read"),
        ("POST", "inbox/read-all"),
        ("GET", "deliveries"),
        ("POST", "deliveries/1/retry"),
    ]
    for token in (None, "ccrm_not-a-token", core_server.service_token):
        for method, path in paths:
            response = notifications(token).request(method, path, {"assigned": "bad"})
            assert response.status_code == 401, (token, method, path)
            assert response.mimetype == "application/problem+json"
            assert response.get_json()["status"] == 401


def test_preferences_are_saved_and_read_back(member, notifications, clock):
    api = notifications(member)
    saved = api.ok(
        "PUT",
        "preferences",
        {
            "email": "ana@example.com",
            "webhook_url": "https://hooks.example.com/cardcrm?team=sales",
            "webhook_secret": "0123456789abcdef0123",
            "assigned": False,
            "due_reminder_minutes": 10080,
            "daily_digest_at": "07:45",
            "status_changes": False,
            "mentioned": False,
        },
    )
    assert saved["mentioned"] is False
    assert saved["webhook_secret"] == "0123456789abcdef0123"
    assert saved["due_reminder_minutes"] == 10080 and saved["daily_digest_at"] == "07:45"
    assert saved["next_digest_at"] is not None
    assert api.ok("GET", "preferences") == saved

    patched = api.ok("PATCH", "preferences", {"assigned": True})
    assert patched == {**saved, "assigned": True}
    replaced = api.ok("PUT", "preferences", {"email": "ana@example.com"})
    assert replaced == {
        **DEFAULTS,
        "email": "ana@example.com",
        "email_in_effect": "member@example.com",  # until ana@ is confirmed
        "email_verification_sent_at": saved["email_verification_sent_at"],
    }


def test_a_webhook_without_a_secret_gets_one_and_null_makes_a_new_one(member, notifications):
    api = notifications(member)
    first = api.preferences(webhook_url="http://127.0.0.1:9999/hook")
    assert len(first["webhook_secret"]) >= 32
    assert api.preferences(assigned=False)["webhook_secret"] == first["webhook_secret"]
    rotated = api.preferences(webhook_secret=None)
    assert rotated["webhook_secret"] not in (None, first["webhook_secret"])
    assert api.preferences(webhook_url=None)["webhook_secret"] is None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": "not an address"}, "email"),
        ({"webhook_url": "ftp://example.com/hook"}, "webhook_url"),
        ({"webhook_url": "javascript:alert(1)"}, "webhook_url"),
        ({"webhook_url": "https://user:pass@example.com/"}, "webhook_url"),
        ({"webhook_url": "https://"}, "webhook_url"),
        ({"webhook_secret": "short"}, "webhook_secret"),
        ({"due_reminder_minutes": 10081}, "due_reminder_minutes"),
        ({"due_reminder_minutes": -1}, "due_reminder_minutes"),
        ({"due_reminder_minutes": "30"}, "due_reminder_minutes"),
        ({"due_reminder_minutes": 1.5}, "due_reminder_minutes"),
        ({"daily_digest_at": "24:00"}, "daily_digest_at"),
        ({"daily_digest_at": "8:00"}, "daily_digest_at"),
        ({"daily_digest_at": "08:00:00"}, "daily_digest_at"),
        ({"assigned": "yes"}, "assigned"),
        ({"status_changes": 1}, "status_changes"),
        ({"mentioned": "no"}, "mentioned"),
        ({"mentioned": None}, "mentioned"),
        ({"channels": {"pigeon": {}}}, "channels.pigeon"),
        ({"channels": {"email": {"to": "x"}}}, "channels.email"),
        ({"colour": "blue"}, "colour"),
    ],
)
def test_bad_preferences_are_422_naming_the_field_and_change_nothing(
    member, notifications, body, field
):
    api = notifications(member)
    api.preferences(email="kept@example.com")
    for method in ("PUT", "PATCH"):
        response = api.request(method, "preferences", body)
        assert response.status_code == 422, (method, body, response.get_json())
        problem = response.get_json()
        assert response.mimetype == "application/problem+json"
        assert problem["status"] == 422 and field in problem["errors"]
    assert api.ok("GET", "preferences")["email"] == "kept@example.com"


def test_malformed_or_non_object_bodies_are_problems_not_crashes(member, notifications):
    api = notifications(member)
    response = api.client.put(
        "/api/v1/preferences",
        data="{not json",
        headers={"Authorization": f"Bearer {member.token}", "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert api.request("PUT", "preferences", ["a", "list"]).status_code == 422
    assert api.request("GET", "inbox?limit=0").status_code == 422
    assert api.request("GET", "inbox?cursor=@@@").status_code == 422
    assert api.request("GET", "deliveries?state=lost").status_code == 422


def test_the_inbox_pages_newest_first_and_keeps_read_marks_per_user(
    admin, member, new_user, notifications, worker, clock
):
    card = sales_card(admin, member)
    for number in range(5):
        admin.task(
            card, iso(clock.now + timedelta(days=1)), f"Task {number}", assignee_id=member.user.id
        )
    worker.drain()
    api = notifications(member)

    page = api.ok("GET", "inbox?limit=2")
    assert [item["title"].rsplit(" ", 1)[-1] for item in page["items"]] == ["4", "3"]
    rest = api.ok("GET", f"inbox?limit=10&cursor={page['next_cursor']}")
    assert [item["title"].rsplit(" ", 1)[-1] for item in rest["items"]] == ["2", "1", "0"]
    assert rest["next_cursor"] is None
    assert api.ok("GET", "inbox/summary") == {"unread": 5, "latest_id": page["items"][0]["id"]}

    newest = page["items"][0]
    read = api.ok("POST", f"inbox/{newest['id']}/read")
    assert read["read"] is True and read["read_at"] is not None
    assert api.ok("POST", f"inbox/{newest['id']}/read")["read_at"] == read["read_at"]
    assert len(api.ok("GET", "inbox?unread=true")["items"]) == 4
    assert [item["id"] for item in api.ok("GET", "inbox?unread=false")["items"]] == [newest["id"]]

    other = notifications(new_user("ana@example.com"))
    assert other.inbox() == []
    assert other.request("POST", f"inbox/{newest['id']}/read").status_code == 404
    assert other.request("POST", "deliveries/1/retry").status_code == 404

    assert api.ok("POST", "inbox/read-all") == {"marked": 4}
    assert api.ok("GET", "inbox/summary")["unread"] == 0


def test_without_an_smtp_server_e_mail_is_unavailable_and_deliveries_say_why(
    admin, member, settings, clock
):
    from cardcrm.notifications import create_app
    from cardcrm.notifications.worker import Worker

    from .conftest import Notifications

    settings = {**settings, "SMTP_URL": None}
    app = create_app(settings)
    worker = Worker(settings, clock=clock)
    try:
        api = Notifications(app.test_client(), member.token)
        channels = {item["name"]: item for item in api.ok("GET", "channels")["items"]}
        assert channels["email"]["available"] is False
        assert "CARDCRM_SMTP_URL" in channels["email"]["reason"]
        assert channels["inapp"]["available"] and channels["webhook"]["available"]

        api.preferences(email="ana@example.com")
        card = sales_card(admin, member)
        admin.task(card, iso(clock.now + timedelta(days=1)), "Call", assignee_id=member.user.id)
        worker.drain()
        email = api.deliveries(channel="email")[0]
        assert email["state"] == "skipped" and "CARDCRM_SMTP_URL" in email["last_error"]
        assert api.deliveries(channel="inapp")[0]["state"] == "sent"
    finally:
        worker.context.close()
        app.extensions["cardcrm_notifications"].close()


def test_the_openapi_document_is_valid_and_describes_every_endpoint(notifications_app):
    client = notifications_app.test_client()
    document = client.get("/api/v1/openapi.json").get_json()
    validate(document)
    assert document["info"]["title"] == "cardcrm notifications"
    documented = {
        (method.upper(), path)
        for path, operations in document["paths"].items()
        for method in operations
    }
    served = {
        (
            method,
            "/api/v1" + rule.rule.removeprefix("/api/v1").replace("<int:", "{").replace(">", "}"),
        )
        for rule in notifications_app.url_map.iter_rules()
        for method in rule.methods - {"HEAD", "OPTIONS"}
        if rule.rule.startswith("/api/v1/") and rule.endpoint != "openapi"
    }
    assert served <= documented
    preferences = document["paths"]["/api/v1/preferences"]
    assert set(preferences) == {"get", "put", "patch"}
    assert "401" in preferences["put"]["responses"] and "422" in preferences["put"]["responses"]
    assert preferences["get"]["security"] == [{"bearer": []}]
    assert client.get("/healthz").get_json()["status"] == "ok"
    missing = client.get("/api/v1/nothing-here")
    assert missing.status_code == 404 and missing.mimetype == "application/problem+json"
