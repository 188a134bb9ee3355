"""The notifications service given input crafted to break it (issue 13): a 4xx, never a 500,
and no control character ever written into an e-mail, not even from rows stored before core
refused them."""

from __future__ import annotations

from datetime import timedelta

from cardcrm.common.text import control_character_error
from cardcrm.core.auth.models import User
from cardcrm.core.tasks.service import create_task

from .helpers import html_of, sales_card, text_of

JSON = {"Content-Type": "application/json"}


def problem(response, status: int) -> dict:
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True))
    assert response.mimetype == "application/problem+json"
    return response.get_json()


def test_deep_json_and_control_characters_are_refused_by_the_notifications_api(
    member, notifications
):
    deep = "[" * 100_000
    problem(notifications(None).request("PUT", "preferences", data=deep, headers=JSON), 401)
    api = notifications(member)
    body = problem(api.request("PUT", "preferences", data=deep, headers=JSON), 400)
    assert "nested" in body["detail"]
    body = problem(api.request("PATCH", "preferences", {"webhook_secret": "s3cret\x00x" * 4}), 422)
    assert "U+0000" in body["errors"]["webhook_secret"][0]
    surrogate = '{"email": "ana\\ud800@example.com"}'
    body = problem(api.request("PATCH", "preferences", data=surrogate, headers=JSON), 422)
    assert "surrogate" in body["errors"]["email"][0]
    assert api.ok("GET", "preferences")["email"] is None


def test_control_characters_stored_in_a_task_never_reach_an_e_mail(
    app, db_session, admin, member, notifications, worker, smtp, clock
):
    notifications(member).preferences(email=member.user.email)  # no confirmation needed
    card = sales_card(admin, member)
    with app.app_context():
        # Past the API, which now refuses them: as rows stored before the rule may hold them.
        actor = db_session.get(User, admin.user.id)
        # (No NUL: PostgreSQL never stores one, so no row can hold it.)
        text = "Send\x0bthe\x1b offer\x85\x07"
        data = {"text": text, "due": clock.now + timedelta(days=1), "assignee_id": member.user.id}
        create_task(db_session, actor, card["id"], data)

    worker.drain()

    [message] = smtp.wait_for(1)
    # One-line texts (the subject) get a space for each, others lose them.
    assert message["Subject"] == "Admin assigned you a task: Send the offer"
    for text in (message["Subject"], text_of(message), html_of(message)):
        assert control_character_error(text) is None, repr(text)
    assert "“Sendthe offer”" in text_of(message)
    [item] = notifications(member).inbox()
    assert control_character_error(item["title"]) is None
