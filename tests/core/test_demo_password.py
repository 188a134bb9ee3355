"""A demo admin made by an earlier version still has the password every demo had: the next
``cardcrm up`` replaces it (``core/demo.py``), so that published password lets no one in."""

from __future__ import annotations

from cardcrm.common.db import get_db
from cardcrm.core.auth.service import create_token, create_user
from cardcrm.core.demo import DEMO_EMAIL, replace_published_password


def log_in(client, password: str) -> int:
    body = {"email": DEMO_EMAIL, "password": password}
    return client.post("/api/v1/auth/token", json=body).status_code


def test_a_demo_admin_on_the_published_password_gets_a_new_one_at_the_next_start(app, client):
    with app.app_context():
        session = get_db().session()
        user = create_user(
            session, email=DEMO_EMAIL, name="Demo Admin", password="demo-password", is_admin=True
        )
        old_token, _ = create_token(session, user=user, name="made with the published password")
        session.close()
    assert log_in(client, "demo-password") == 201

    assert replace_published_password(app, "a-new-generated-one") is True

    assert log_in(client, "demo-password") == 401
    assert log_in(client, "a-new-generated-one") == 201
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {old_token}"})
    assert me.status_code == 401  # whoever knew the published password is out
    assert replace_published_password(app, "yet-another-one") is False  # once only
    assert log_in(client, "a-new-generated-one") == 201


def test_a_demo_admin_with_a_password_of_its_own_is_left_alone(app, client):
    with app.app_context():
        session = get_db().session()
        create_user(session, email=DEMO_EMAIL, name="Demo Admin", password="chosen-by-owner")
        session.close()

    assert replace_published_password(app, "a-new-generated-one") is False
    assert log_in(client, "chosen-by-owner") == 201
