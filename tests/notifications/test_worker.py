"""The worker as it runs in production: threads following core over HTTP, surviving core going
away and coming back; and what it does on its first start with core's history."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from cardcrm.notifications.config import from_env
from cardcrm.notifications.migrate import alembic_config, upgrade
from cardcrm.notifications.models import Base
from cardcrm.notifications.worker import Worker, run
from sqlalchemy import create_engine, inspect

from .helpers import iso, sales_card


def test_the_running_worker_mails_a_change_within_seconds_and_survives_core_going_away(
    admin, member, notifications, settings, core_server, smtp
):
    notifications(member).preferences(email=member.user.email)
    settings = {**settings, "CLOCK": None, "FEED_WAIT_SECONDS": 0.5, "POLL_SECONDS": 0.2}
    stop = threading.Event()
    thread = threading.Thread(target=run, args=(settings, stop), daemon=True)
    thread.start()
    try:
        card = sales_card(admin, member)
        due = iso(datetime.now(UTC) + timedelta(days=1))
        started = time.monotonic()
        admin.task(card, due, "First", assignee_id=member.user.id)
        assert len(smtp.wait_for(1, timeout=15)) == 1
        assert time.monotonic() - started < 5

        core_server.server.stop()  # core's HTTP goes away; changes still happen in core
        time.sleep(1.0)  # the long-poll that was under way ends
        admin.task(card, due, "While core was away", assignee_id=member.user.id)
        time.sleep(1.5)
        assert len(smtp.messages) == 1 and thread.is_alive()
        live_server = type(core_server.server)  # conftest's LiveServer, on the same port again
        core_server.server = live_server(core_server.app, port=core_server.server.port)
        messages = smtp.wait_for(2, timeout=30)
        assert "While core was away" in messages[1]["Subject"]
    finally:
        stop.set()
        thread.join(timeout=40)
    assert not thread.is_alive()
    assert len(smtp.messages) == 2


def test_events_from_before_the_first_start_notify_nobody_but_schedule_reminders(
    admin, member, notifications, settings, clock
):
    notifications(member).preferences(due_reminder_minutes=15)
    card = sales_card(admin, member)
    due = clock.now + timedelta(hours=2)
    admin.task(card, iso(due), "Assigned long ago", assignee_id=member.user.id)

    clock.set(datetime.now(UTC))  # the first start: after the first task, before the next
    worker = Worker({**settings, "NOTIFY_PAST_EVENTS": False}, clock=clock)
    try:
        worker.start()
        admin.task(card, iso(due), "Assigned now", assignee_id=member.user.id)
        worker.drain()
        titles = [item["title"] for item in notifications(member).inbox()]
        assert titles == ["Admin assigned you a task: Assigned now"]

        clock.set(due - timedelta(minutes=15))
        worker.drain()
        reminders = [i for i in notifications(member).inbox() if i["rule"] == "due_reminder"]
        assert {item["title"].split(": ", 1)[1] for item in reminders} == {
            "Assigned long ago",
            "Assigned now",
        }
    finally:
        worker.context.close()


def test_a_worker_without_a_service_token_says_what_to_do(settings):
    from cardcrm.common.errors import ConfigurationError

    worker = Worker({**settings, "SERVICE_TOKEN": None})
    try:
        with pytest.raises(ConfigurationError, match="CARDCRM_SERVICE_TOKEN"):
            worker.run(threading.Event())
    finally:
        worker.context.close()


def test_settings_come_from_the_environment(tmp_path):
    env = {
        "CARDCRM_SMTP_URL": "smtps://cardcrm:s3cret@mail.example.com?from=crm@example.com",
        "CARDCRM_CORE_URL": "http://core:8000",
        "CARDCRM_SERVICE_TOKEN": "ccrm_service",
        "CARDCRM_SECRET_KEY": "notifications-secret-key-0123456789",
        "CARDCRM_PUBLIC_URL": "https://crm.example.com",
    }
    settings = from_env(env, data=str(tmp_path))
    assert settings["DATABASE_URL"] == f"sqlite:///{tmp_path / 'notifications.db'}"
    assert settings["CORE_URL"] == "http://core:8000"
    assert settings["SERVICE_TOKEN"] == "ccrm_service"
    assert settings["SMTP_URL"].startswith("smtps://")
    # Each service's PUBLIC_URL is its own address; messages link to core's.
    assert settings["PUBLIC_URL"] == "https://crm.example.com/notifications"
    assert settings["CORE_PUBLIC_URL"] == "https://crm.example.com"
    defaults = from_env({}, data=str(tmp_path))
    assert defaults["SMTP_URL"] is None and defaults["CORE_URL"] == "http://127.0.0.1:8000"
    assert defaults["SECRET_KEY"]  # kept in the data folder
    assert (
        from_env(
            {"CARDCRM_NOTIFICATIONS_DATABASE_URL": "postgresql+psycopg://db/n"}, data=str(tmp_path)
        )["DATABASE_URL"]
        == "postgresql+psycopg://db/n"
    )


def test_operators_set_retries_in_the_environment_and_bad_values_stop_the_start(tmp_path):
    from cardcrm.common.errors import ConfigurationError
    from cardcrm.notifications.config import dead_letter_after

    defaults = from_env({}, data=str(tmp_path))
    assert dead_letter_after(defaults) == (7425.0, 14850.0)  # about 2 to 4 hours
    env = {
        "CARDCRM_DELIVERY_MAX_ATTEMPTS": "3",
        "CARDCRM_DELIVERY_BACKOFF_SECONDS": "5",
        "CARDCRM_DELIVERY_BACKOFF_MAX_SECONDS": "60",
    }
    settings = from_env(env, data=str(tmp_path))
    assert settings["DELIVERY_MAX_ATTEMPTS"] == 3
    assert settings["DELIVERY_BACKOFF_SECONDS"] == 5.0
    assert settings["DELIVERY_BACKOFF_MAX_SECONDS"] == 60.0
    assert dead_letter_after(settings) == (7.5, 15.0)
    for name, value in [
        ("CARDCRM_DELIVERY_MAX_ATTEMPTS", "0"),
        ("CARDCRM_DELIVERY_MAX_ATTEMPTS", "2.5"),
        ("CARDCRM_DELIVERY_BACKOFF_SECONDS", "soon"),
        ("CARDCRM_DELIVERY_BACKOFF_SECONDS", "-1"),
        ("CARDCRM_DELIVERY_BACKOFF_MAX_SECONDS", "1"),  # below the backoff of 5 s
    ]:
        with pytest.raises(ConfigurationError, match=name):
            from_env({**env, name: value}, data=str(tmp_path))


def test_the_migrations_make_the_schema_the_models_describe(tmp_path):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    url = f"sqlite:///{tmp_path / 'n.db'}"
    upgrade(url)
    engine = create_engine(url)
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection,
            opts={"compare_type": True, "version_table": "alembic_version_notifications"},
        )
        assert compare_metadata(context, Base.metadata) == []
        assert "alembic_version_notifications" in inspect(connection).get_table_names()
    engine.dispose()
    assert alembic_config(url).get_main_option("script_location").endswith("migrations")
