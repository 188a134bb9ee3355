"""Channels are plugins: a third-party channel gets deliveries like the built-in ones, with its
own settings in the preferences; broken plugins stop the start with a clear error."""

from __future__ import annotations

import types
from datetime import timedelta
from pathlib import Path

import pytest
from cardcrm.common.plugins import PluginLoadError
from cardcrm.notifications import create_app, hookspecs
from cardcrm.notifications.channels.base import Channel, TemporaryFailure
from cardcrm.notifications.hookspecs import hookimpl
from cardcrm.notifications.plugins import get_plugin_manager, load_channels
from cardcrm.notifications.worker import Worker

from .conftest import Notifications
from .helpers import iso, sales_card

DOCS = Path(__file__).resolve().parents[2] / "docs" / "notifications.md"


class Pigeon(Channel):
    name = "pigeon"
    label = "Carrier pigeon"
    max_attempts = 2

    def __init__(self) -> None:
        self.sent: list = []
        self.weather = "fine"

    def address(self, preferences):
        settings = preferences.channels.get(self.name)
        return settings["loft"] if settings else None

    def validate_settings(self, settings):
        if not isinstance(settings.get("loft"), str) or not settings["loft"]:
            raise ValueError("Name the loft the pigeon flies to.")
        return {"loft": settings["loft"]}

    def send(self, message):
        if self.weather != "fine":
            raise TemporaryFailure("a storm")
        self.sent.append(message)


def pigeon_plugin() -> tuple[types.SimpleNamespace, Pigeon]:
    pigeon = Pigeon()

    @hookimpl
    def cardcrm_notification_channels(settings):
        return [pigeon]

    return types.SimpleNamespace(
        cardcrm_notification_channels=cardcrm_notification_channels
    ), pigeon


def test_a_plugin_channel_gets_its_deliveries_with_the_users_own_settings(
    admin, member, settings, clock
):
    plugin, pigeon = pigeon_plugin()
    settings = {**settings, "PLUGINS": [plugin]}
    app = create_app(settings)
    worker = Worker(settings, clock=clock)
    try:
        api = Notifications(app.test_client(), member.token)
        names = [item["name"] for item in api.ok("GET", "channels")["items"]]
        assert names == ["inapp", "email", "webhook", "pigeon"]
        bad = api.request("PATCH", "preferences", {"channels": {"pigeon": {}}})
        assert bad.status_code == 422
        assert bad.get_json()["errors"] == {
            "channels.pigeon": ["Name the loft the pigeon flies to."]
        }
        api.preferences(channels={"pigeon": {"loft": "north tower"}})

        card = sales_card(admin, member)
        admin.task(
            card, iso(clock.now + timedelta(days=1)), "Feed the birds", assignee_id=member.user.id
        )
        worker.drain()
        [message] = pigeon.sent
        assert message.address == "north tower" and message.rule == "assigned"
        assert "Feed the birds" in message.content.title
        assert message.content.url.endswith(f"/cards/{card['id']}")
        assert message.event["type"] == "task.created"

        pigeon.weather = "stormy"
        admin.task(card, iso(clock.now + timedelta(days=1)), "Second", assignee_id=member.user.id)
        for _ in range(3):
            worker.drain()
            clock.advance(hours=1)
        dead = api.deliveries(channel="pigeon", state="dead")
        assert len(dead) == 1 and dead[0]["attempts"] == 2  # the channel's own limit
        assert dead[0]["last_error"] == "a storm"
    finally:
        worker.context.close()
        app.extensions["cardcrm_notifications"].close()


def test_a_misspelled_notification_hook_stops_the_start():
    @hookimpl
    def cardcrm_notification_channel(settings):  # one letter short
        return []

    plugin = types.SimpleNamespace(cardcrm_notification_channel=cardcrm_notification_channel)
    with pytest.raises(PluginLoadError, match="cardcrm_notification_channel"):
        get_plugin_manager([plugin], entry_points=False)


def test_hooks_of_other_services_in_the_same_plugin_are_left_to_their_managers():
    @hookimpl
    def cardcrm_task_types():
        return [{"key": "visit", "label": "Visit"}]

    plugin = types.SimpleNamespace(cardcrm_task_types=cardcrm_task_types)
    manager = get_plugin_manager([plugin], entry_points=False)
    assert manager.is_registered(plugin)


def test_two_channels_with_one_name_stop_the_start():
    first, _ = pigeon_plugin()
    second, _ = pigeon_plugin()
    manager = get_plugin_manager([first, second], entry_points=False)
    with pytest.raises(PluginLoadError, match="'pigeon' is offered by both"):
        load_channels(manager, {})


def test_a_plugin_returning_one_channel_instead_of_a_list_stops_the_start():
    @hookimpl
    def cardcrm_notification_channels(settings):
        return Pigeon()  # not in a list

    plugin = types.SimpleNamespace(cardcrm_notification_channels=cardcrm_notification_channels)
    manager = get_plugin_manager([plugin], entry_points=False)
    with pytest.raises(PluginLoadError, match="not a list of channels"):
        load_channels(manager, {})


def test_a_plugin_from_the_plugins_folder_is_found(tmp_path):
    (tmp_path / "owl.py").write_text(
        "from cardcrm.notifications.channels.base import Channel\n"
        "from cardcrm.notifications.hookspecs import hookimpl\n\n"
        "class Owl(Channel):\n    name = 'owl'\n\n"
        "@hookimpl\ndef cardcrm_notification_channels():\n    return [Owl()]\n"
    )
    manager = get_plugin_manager(plugins_dir=tmp_path, entry_points=False)
    assert list(load_channels(manager, {})) == ["inapp", "email", "webhook", "owl"]


def test_the_docs_name_every_hook_with_its_signature():
    text = DOCS.read_text()
    hooks = [name for name in dir(hookspecs) if name.startswith("cardcrm_notification_")]
    assert hooks
    for name in hooks:
        assert f"{name}(" in text, name
