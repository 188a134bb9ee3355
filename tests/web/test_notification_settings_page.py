"""The notification settings page and the notifications panel, through Flask's test client.

What the page saves is the notifications service's (its browser test saves and reads back);
here: the page is there when the service is, offers every setting with a label and a place
for its error, and the panel links to it instead of promising reminders that are off."""

from __future__ import annotations

from html.parser import HTMLParser

from cardcrm.core import create_app

SETTINGS = "/settings/notifications"


class Fields(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.fields: dict[str, dict[str, str | None]] = {}
        self.labels: set[str] = set()
        self.ids: set[str] = set()
        self.options: list[str] = []
        self.scripts: list[str] = []
        self.open_labels = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if attributes.get("id"):
            self.ids.add(str(attributes["id"]))
        if tag == "label":
            self.open_labels += 1
            if attributes.get("for"):
                self.labels.add(str(attributes["for"]))
        elif tag in ("input", "select") and attributes.get("type") != "hidden":
            self.fields[str(attributes.get("id"))] = {
                **attributes,
                "wrapped": str(self.open_labels),
            }
        elif tag == "option":
            self.options.append(str(attributes.get("value")))
        elif tag == "script":
            self.scripts.append(str(attributes.get("src")))

    def handle_endtag(self, tag: str) -> None:
        if tag == "label":
            self.open_labels -= 1


def client_with_notifications(app_config, web_client, user):
    app = create_app({**app_config, "SIDECARS": "calendar,notifications"})
    return web_client(app).log_in(user.user.email)


def test_the_settings_page_offers_every_setting_with_a_label_and_an_error_slot(
    app_config, web_client, member
):
    client = client_with_notifications(app_config, web_client, member)
    response = client.get(SETTINGS)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    parser = Fields()
    parser.feed(page)

    wanted = {
        "rule-assigned",
        "rule-status",
        "rule-mentioned",
        "due-reminder",
        "digest-on",
        "digest-at",
        "browser-on",
        "email-on",
        "email",
        "webhook-url",
        "webhook-secret",
    }
    assert wanted <= set(parser.fields)
    for name, field in parser.fields.items():
        assert field["wrapped"] != "0" or name in parser.labels, name
    # reminders and the digest can be off; every field the API may refuse has its error slot
    assert parser.options[0] == "" and "30" in parser.options
    for name in ("email", "webhook_url", "webhook_secret", "due_reminder_minutes"):
        assert f"error-{name}" in parser.ids
    assert "daily_digest_at" in page and "error-daily_digest_at" in parser.ids
    assert "In-app inbox" in page and "Always on" in page
    assert 'data-account-email="member@example.com"' in page
    assert any(src.endswith("/notification_settings.js") for src in parser.scripts)
    assert 'data-notifications-base="/notifications"' in page


def test_the_panel_links_to_the_settings_and_promises_no_reminder(app_config, web_client, member):
    client = client_with_notifications(app_config, web_client, member)
    page = client.get("/").get_data(as_text=True)
    assert f'href="{SETTINGS}" id="activate-notifications"' in page
    assert f'data-settings-url="{SETTINGS}"' in page
    assert "falls due" not in page and "Activate notifications" not in page


def test_without_the_notifications_service_there_is_no_settings_page(admin_web):
    response = admin_web.get(SETTINGS)
    assert response.status_code == 404
    assert response.mimetype == "text/html"
    assert 'id="activate-notifications"' not in admin_web.get("/").get_data(as_text=True)
