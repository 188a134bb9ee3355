"""The web UI through Flask's test client (no browser): log in and out, the first-run page,
CSRF, security headers, every page for an admin and a member, and bad input never a 500."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from html.parser import HTMLParser
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from cardcrm.core import create_app
from cardcrm.core.web.tasks import postponed_deadline

CSP = "Content-Security-Policy"


def tomorrow_at_ten() -> str:
    return (datetime.now(UTC) + timedelta(days=1)).replace(hour=10, minute=0).isoformat()


def yesterday() -> str:
    return (datetime.now(UTC) - timedelta(days=1)).replace(hour=9, minute=0).isoformat()


@pytest.fixture
def sales(admin, member):
    """A sales product (the member is a member) with one card and two tasks of the admin."""
    product = admin.product("sales", name="Sales")
    admin.grant(product, member)
    card = admin.card(product, "ACME deal", owner_id=admin.user.id)
    overdue = admin.task(card, yesterday(), "Call ACME")
    later = admin.task(card, tomorrow_at_ten(), "Send the offer")
    return SimpleNamespace(product=product, card=card, overdue=overdue, later=later)


# --- logging in and out ---------------------------------------------------------------------------


def test_logging_in_and_out_with_email_and_password(web, admin):
    assert web.get("/").headers["Location"].startswith("/login?next=/")

    refused = web.post("/login", {"email": admin.user.email, "password": "wrong-password"})
    assert refused.status_code == 401
    assert "Wrong e-mail or password." in refused.get_data(as_text=True)

    answer = web.post(
        "/login", {"email": admin.user.email.upper(), "password": "password123", "next": "/help"}
    )
    assert (answer.status_code, answer.headers["Location"]) == (302, "/help")
    cookie = answer.headers["Set-Cookie"]
    assert "cardcrm_session=" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert web.get("/").status_code == 200

    out = web.post("/logout")
    assert (out.status_code, out.headers["Location"]) == (302, "/login")
    assert web.get("/").status_code == 302


def test_login_never_redirects_to_another_site(web, admin):
    for target in ("https://evil.example/", "//evil.example/x", "/\\evil.example"):
        answer = web.post(
            "/login", {"email": admin.user.email, "password": "password123", "next": target}
        )
        assert answer.headers["Location"] == "/", target
        web.post("/logout")


def test_changing_the_password_ends_other_sessions(app, admin, web_client):
    first = web_client(app).log_in(admin.user.email)
    second = web_client(app).log_in(admin.user.email)
    answer = first.post(
        "/profile",
        {
            "name": "Boss",
            "timezone": "Europe/Bucharest",
            "password": "new-secret-1",
            "current_password": "password123",
        },
    )
    assert answer.status_code == 302
    assert first.get("/").status_code == 200
    assert second.get("/").status_code == 302


# --- first run ------------------------------------------------------------------------------------


def test_the_first_run_page_creates_the_first_user_as_an_admin(web, app):
    assert web.get("/login").headers["Location"] == "/setup"
    page = web.get("/setup")
    assert page.status_code == 200 and "Create the admin" in page.get_data(as_text=True)

    bad = web.post(
        "/setup", {"name": "Ana", "email": "not-an-email", "password": "short", "timezone": "Mars"}
    )
    assert bad.status_code == 422
    text = bad.get_data(as_text=True)
    assert "Not a valid email address." in text and "Unknown time zone" in text
    assert 'value="Ana"' in text  # what was typed stays

    made = web.post(
        "/setup",
        {"name": "Ana", "email": "ana@example.com", "password": "long-enough", "timezone": ""},
    )
    assert (made.status_code, made.headers["Location"]) == (302, "/products")
    assert "New product" in web.get("/products").get_data(as_text=True)  # an admin
    web.post("/logout")
    assert web.get("/setup").headers["Location"] == "/login"


# --- CSRF and the API -----------------------------------------------------------------------------


def test_a_post_without_the_csrf_token_is_refused(admin_web, sales):
    path = f"/tasks/{sales.overdue['id']}/close"
    for data in ({}, {"csrf_token": "forged"}, {"csrf_token": "é"}):
        refused = admin_web.post(path, data, csrf=False)
        assert refused.status_code == 403, data
        assert "security token" in refused.get_data(as_text=True)
    assert admin_web.client.post(path, headers={"X-CSRF-Token": "nope"}).status_code == 403
    assert admin_web.post(path).status_code == 302  # with the token: done


def test_the_api_ignores_the_session_and_needs_no_csrf_token(admin_web, admin):
    assert admin_web.client.get("/api/v1/me").status_code == 401  # the cookie is no credential
    created = admin_web.client.post(
        "/api/v1/products",
        json={"name": "API made", "template": "sales"},
        headers={"Authorization": f"Bearer {admin.token}"},
    )
    assert created.status_code == 201
    assert CSP not in created.headers


def test_the_browser_gets_a_token_for_the_sidecars_and_loses_it_at_logout(admin_web):
    answer = admin_web.htmx("/session/api-token")
    token = answer.get_json()["token"]
    again = admin_web.htmx("/session/api-token").get_json()["token"]
    assert again == token  # one per session
    me = admin_web.client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200
    admin_web.post("/logout")
    gone = admin_web.client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert gone.status_code == 401


# --- headers --------------------------------------------------------------------------------------


def test_pages_carry_the_security_headers(web, admin_web):
    for client, path in ((web, "/login"), (admin_web, "/"), (admin_web, "/products")):
        headers = client.get(path).headers
        assert headers[CSP].startswith("default-src 'self'; script-src 'self'")
        assert "frame-ancestors 'none'" in headers[CSP]
        assert headers["X-Frame-Options"] == "DENY"
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Referrer-Policy"] == "same-origin"
        assert headers["Cache-Control"] == "no-store"
    script = web.get("/assets/htmx.min.js")
    assert script.status_code == 200 and script.headers["X-Content-Type-Options"] == "nosniff"
    assert web.get("/healthz").headers.get(CSP) is None
    assert "Strict-Transport-Security" not in web.get("/login").headers  # plain http
    secure = web.get("/login", base_url="https://crm.example.com")
    assert secure.headers["Strict-Transport-Security"] == "max-age=31536000"


def test_the_page_escapes_what_users_typed(admin_web, admin):
    product = admin.product("sales", name="<script>alert(1)</script>")
    admin.card(product, '"><img src=x onerror=alert(1)>')
    page = admin_web.get(f"/products/{product['id']}").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<img src=x" not in page


# --- every page -----------------------------------------------------------------------------------


def pages(sales) -> list[str]:
    product, card = sales.product["id"], sales.card["id"]
    return [
        "/",
        "/?from=2026-01-01&to=2026-12-31",
        "/products",
        f"/products/{product}",
        f"/products/{product}?q=ACME&group=inactive",
        f"/products/{product}/board",
        f"/cards/{card}",
        f"/cards/{card}?kind=task",
        "/recent",
        "/wall",
        "/help",
        "/mobile",
        "/profile",
    ]


def test_every_page_renders_for_an_admin_and_a_member(admin_web, member_web, sales):
    for client in (admin_web, member_web):
        for path in pages(sales):
            answer = client.get(path)
            assert answer.status_code == 200, (path, answer.get_data(as_text=True)[:500])
            assert answer.mimetype == "text/html"
    product = sales.product["id"]
    assert admin_web.get(f"/products/{product}/settings").status_code == 200
    assert admin_web.get("/users").status_code == 200
    assert member_web.get(f"/products/{product}/settings").status_code == 403
    assert member_web.get("/users").status_code == 403
    assert "New product" not in member_web.get("/products").get_data(as_text=True)


def test_product_settings_speak_the_users_words_not_the_developers(admin_web, sales):
    page = admin_web.get(f"/products/{sales.product['id']}/settings").get_data(as_text=True)
    assert "lower_snake_case" not in page
    assert "Amount of money" in page  # the sales template's money field, and the type list
    assert "· money" not in page and "<code>value</code> ·" not in page


class FormFields(HTMLParser):
    """Collects the form fields of a page and the ids its labels point at."""

    def __init__(self) -> None:
        super().__init__()
        self.fields: list[dict] = []
        self.labelled: set[str] = set()
        self.open_labels = 0

    def handle_starttag(self, tag: str, attrs: list) -> None:
        attributes = dict(attrs)
        if tag == "label":
            self.open_labels += 1
            if attributes.get("for"):
                self.labelled.add(attributes["for"])
        elif tag in ("input", "select", "textarea") and attributes.get("type") != "hidden":
            self.fields.append({**attributes, "wrapped": self.open_labels > 0, "tag": tag})

    def handle_endtag(self, tag: str) -> None:
        if tag == "label":
            self.open_labels -= 1


def test_every_form_field_has_a_label(sales, app_config, web_client, admin):
    client = web_client(create_app({**app_config, "SIDECARS": "calendar,notifications"}))
    client.log_in(admin.user.email)
    product = sales.product["id"]
    for path in [*pages(sales), f"/products/{product}/settings", "/users", "/settings/calendar"]:
        parser = FormFields()
        parser.feed(client.get(path).get_data(as_text=True))
        for field in parser.fields:
            assert field["wrapped"] or field.get("id") in parser.labelled, (path, field)


def test_the_sidecar_panels_show_only_when_the_sidecars_are_there(app_config, admin, web_client):
    plain = web_client(create_app(app_config)).log_in(admin.user.email)
    page = plain.get("/").get_data(as_text=True)
    assert "Calendar sync" not in page and "activate-notifications" not in page
    assert plain.get("/settings/calendar").status_code == 404

    both = create_app({**app_config, "SIDECARS": ["calendar", "notifications"]})
    client = web_client(both).log_in(admin.user.email)
    page = client.get("/").get_data(as_text=True)
    assert "Set up calendar sync" in page and 'id="activate-notifications"' in page
    assert "Google Calendar" in client.get("/settings/calendar").get_data(as_text=True)


def test_bad_input_gets_a_message_and_never_a_500(admin_web, sales):
    card, task = sales.card["id"], sales.overdue["id"]
    product = sales.product["id"]
    gets = [
        "/?from=yesterday&to=2026-02-30",
        "/?from=2026-12-01&to=2026-01-01",
        "/?cursor=%%%",
        f"/products/{product}?status_id=abc&group=limbo&owner_id=x&field.nope=1",
        f"/products/{product}?cursor=not-a-cursor",
        "/products/999999",
        "/cards/999999",
        "/wall?before=abc",
    ]
    for path in gets:
        answer = admin_web.get(path)
        assert 400 <= answer.status_code < 500 or answer.status_code == 200, path
        assert answer.mimetype == "text/html", path
    posts = [
        (f"/cards/{card}", {"title": "", "status_id": "abc", "version": "x"}),
        (f"/cards/{card}", {"title": "T", "field.value": "lots", "field.close_date": "soon"}),
        (f"/cards/{card}/tasks", {"text": "Call", "due_date": "someday", "due_time": "25:99"}),
        (f"/cards/{card}/tasks", {"text": "", "due_date": "2026-12-01", "type": "dance"}),
        (f"/tasks/{task}/postpone", {"when": "date", "date": ""}),
        (f"/tasks/{task}/postpone", {"when": "never"}),
        (f"/tasks/{task}/reassign", {"assignee_id": "999999"}),
        ("/tasks/999999/close", {}),
        (f"/cards/{card}/move", {"status_id": "abc"}),
        ("/products", {"name": "", "template": "nope"}),
        (f"/products/{product}/statuses", {"name": "", "group": "limbo"}),
        (f"/products/{product}/fields", {"label": "Colour", "type": "choice", "choices": ""}),
        ("/favorites", {"name": "", "product_id": "abc", "query.status_id": "x"}),
        ("/profile", {"name": "", "timezone": "Nowhere/City"}),
    ]
    for path, data in posts:
        answer = admin_web.post(path, data)
        assert answer.status_code < 500, (path, answer.get_data(as_text=True)[:800])
        answer = admin_web.htmx(path, data)
        assert answer.status_code < 500, (path, answer.get_data(as_text=True)[:800])


# --- the Today view's actions ---------------------------------------------------------------------


def totals_of(html: str) -> dict[str, int]:
    found = re.findall(r'data-total="(\w+)">\s*<dt>\w+</dt>\s*<dd><a [^>]*>(\d+)</a></dd>', html)
    return {key: int(value) for key, value in found}


def test_closing_a_task_with_htmx_answers_its_row_and_new_totals(admin_web, sales):
    before = totals_of(admin_web.get("/").get_data(as_text=True))
    assert before["overdue"] == 1
    today = date.today().isoformat()
    answer = admin_web.htmx(
        f"/tasks/{sales.overdue['id']}/close", {"view": "today", "from": today, "to": today}
    )
    html = answer.get_data(as_text=True)
    assert answer.status_code == 200
    assert f'id="task-{sales.overdue["id"]}"' in html and 'data-state="closed"' in html
    assert 'hx-swap-oob="true"' in html
    after = totals_of(html)
    assert (after["overdue"], after["closed"]) == (0, before["closed"] + 1)


def test_postponing_a_task_moves_it_out_of_the_period_and_counts_it(admin_web, sales):
    answer = admin_web.htmx(f"/tasks/{sales.overdue['id']}/postpone", {"when": "monday"})
    html = answer.get_data(as_text=True)
    assert answer.status_code == 200 and 'data-state="postponed"' in html
    assert totals_of(html)["postponed"] == 1


def test_a_refused_action_is_shown_in_the_row(admin_web, sales):
    admin_web.post(f"/tasks/{sales.overdue['id']}/close")
    answer = admin_web.htmx(f"/tasks/{sales.overdue['id']}/postpone", {"when": "day"})
    assert answer.status_code == 409
    assert "Only open tasks are postponed" in answer.get_data(as_text=True)


def test_postponing_keeps_the_time_of_day_and_never_leaves_a_task_overdue():
    zone = ZoneInfo("Europe/Bucharest")
    now = datetime(2026, 11, 27, 12, 0, tzinfo=zone)  # a Friday
    overdue = SimpleNamespace(due=datetime(2026, 11, 20, 9, 30, tzinfo=zone), all_day=False)
    assert postponed_deadline(overdue, "day", None, zone, now) == datetime(
        2026, 11, 28, 9, 30, tzinfo=zone
    )
    assert postponed_deadline(overdue, "monday", None, zone, now).date() == date(2026, 11, 30)
    later = SimpleNamespace(due=datetime(2026, 12, 3, 9, 30, tzinfo=zone), all_day=False)
    assert postponed_deadline(later, "day", None, zone, now).date() == date(2026, 12, 4)
    monday = SimpleNamespace(due=datetime(2026, 11, 30, 8, 0, tzinfo=zone), all_day=False)
    assert postponed_deadline(monday, "monday", None, zone, now).date() == date(2026, 12, 7)
    all_day = SimpleNamespace(
        due=datetime(2026, 11, 27, tzinfo=zone), all_day=True, due_date=date(2026, 11, 27)
    )
    assert postponed_deadline(all_day, "date", date(2027, 1, 4), zone, now) == date(2027, 1, 4)


# --- cards ----------------------------------------------------------------------------------------


def test_a_stale_card_edit_is_refused_and_keeps_what_was_typed(admin_web, admin, sales):
    card = sales.card
    page = admin_web.get(f"/cards/{card['id']}").get_data(as_text=True)
    version = re.search(r'name="version" value="(\d+)"', page).group(1)
    admin.ok("PATCH", f"cards/{card['id']}", {"title": "Renamed by a colleague"})

    answer = admin_web.post(
        f"/cards/{card['id']}",
        {
            "version": version,
            "title": "My careful new title",
            "status_id": str(card["status_id"]),
            "owner_id": str(admin.user.id),
            "field.value": "1500",
        },
    )
    html = answer.get_data(as_text=True)
    assert answer.status_code == 412
    assert "Someone else changed this card" in html
    assert 'value="My careful new title"' in html and 'value="1500"' in html
    assert "Renamed by a colleague" in html  # their value, beside ours
    assert admin.ok("GET", f"cards/{card['id']}")["title"] == "Renamed by a colleague"


def test_a_card_form_saves_typed_custom_fields(admin_web, admin):
    product = admin.product("recruiting")
    card = admin.card(product, "Ana", fields={"position": "Engineer"})
    fields = {field["key"]: field for field in product["fields"]}
    form = {"version": "1", "title": "Ana P.", "status_id": str(card["status_id"])}
    for key, field in fields.items():
        if field["type"] in ("text",):
            form[f"field.{key}"] = "Backend"
        elif field["type"] == "email":
            form[f"field.{key}"] = "ana@example.com"
    answer = admin_web.post(f"/cards/{card['id']}", form)
    assert answer.status_code == 302, answer.get_data(as_text=True)
    saved = admin.ok("GET", f"cards/{card['id']}")
    assert saved["title"] == "Ana P."
    assert saved["owner_id"] is None  # "Nobody" was chosen (no owner sent)


def test_moving_an_invoice_without_an_amount_shows_the_veto(admin_web, admin):
    product = admin.product("invoices")
    card = admin.card(product, "Invoice 7")
    sent = next(status for status in product["statuses"] if status["name"] == "Sent")
    answer = admin_web.htmx(f"/cards/{card['id']}/move", {"status_id": str(sent["id"])})
    assert answer.status_code == 422
    assert "An invoice needs an amount before it is sent." in answer.get_data(as_text=True)
    assert admin.ok("GET", f"cards/{card['id']}")["status_id"] == card["status_id"]


def test_an_admin_edits_statuses_and_fields_of_a_product(admin_web, admin):
    product = admin.product("sales", name="Deals")
    pid = product["id"]
    assert admin_web.post(f"/products/{pid}/statuses", {"name": "Parked", "group": "inactive"})
    statuses = {item["name"]: item for item in admin.ok("GET", f"products/{pid}")["statuses"]}
    parked, lead = statuses["Parked"], statuses["Lead"]
    card = admin.card(product, "On ice", status_id=parked["id"])

    admin_web.post(f"/statuses/{parked['id']}", {"name": "On hold", "group": "inactive"})
    admin_web.post(
        f"/statuses/{parked['id']}", {"name": "On hold", "group": "inactive", "move": "up"}
    )
    names = [item["name"] for item in admin.ok("GET", f"products/{pid}")["statuses"]]
    assert names[:3] == ["Database", "On hold", "Lead"]

    refused = admin_web.post(f"/statuses/{parked['id']}/delete", {"move_to": ""})
    assert refused.status_code == 422
    assert "choose the status they go to" in refused.get_data(as_text=True)
    moved = admin_web.post(f"/statuses/{parked['id']}/delete", {"move_to": str(lead["id"])})
    assert moved.status_code == 302
    assert admin.ok("GET", f"cards/{card['id']}")["status_id"] == lead["id"]

    admin_web.post(
        f"/products/{pid}/fields", {"label": "Region", "type": "choice", "choices": "EU, US"}
    )
    fields = {field["key"]: field for field in admin.ok("GET", f"products/{pid}")["fields"]}
    assert fields["region"]["choices"] == ["EU", "US"]
    admin_web.post(
        f"/products/{pid}/fields/region", {"label": "Sales region", "choices": "EU, US, APAC"}
    )
    admin_web.post(f"/products/{pid}/fields/source", {"delete": "1"})
    fields = {field["key"]: field for field in admin.ok("GET", f"products/{pid}")["fields"]}
    assert fields["region"]["label"] == "Sales region" and "source" not in fields
    assert admin_web.post(f"/products/{pid}/settings", {"name": "Deals 2027"}).status_code == 302
    assert admin.ok("GET", f"products/{pid}")["name"] == "Deals 2027"


def test_tasks_are_added_reassigned_and_closed_on_the_card_page(admin_web, admin, member, sales):
    card = sales.card["id"]
    added = admin_web.htmx(
        f"/cards/{card}/tasks",
        {"text": "Demo call", "due_date": "2030-01-07", "due_time": "09:30", "type": "meeting"},
    )
    assert added.status_code == 200 and "Demo call" in added.get_data(as_text=True)
    task = next(
        item
        for item in admin.ok("GET", f"cards/{card}/tasks")["items"]
        if item["text"] == "Demo call"
    )
    assert (task["type"], task["all_day"], task["due"]) == (
        "meeting",
        False,
        "2030-01-07T09:30:00Z",
    )

    answer = admin_web.htmx(
        f"/tasks/{task['id']}/reassign", {"assignee_id": str(member.user.id), "view": "card"}
    )
    assert answer.status_code == 200 and 'id="tasks"' in answer.get_data(as_text=True)
    assert admin.ok("GET", f"tasks/{task['id']}")["assignee_id"] == member.user.id
    admin_web.htmx(f"/tasks/{task['id']}/close", {"view": "card"})
    assert admin.ok("GET", f"tasks/{task['id']}")["status"] == "done"
    history = admin_web.get(f"/cards/{card}?kind=task").get_data(as_text=True)
    assert "reassigned “Demo call” to Member" in history and "closed “Demo call” as done" in history


def test_a_user_outside_a_product_sees_none_of_it(web, new_user, sales):
    new_user("outsider@example.com")
    outsider = web.log_in("outsider@example.com")
    product, card = sales.product["id"], sales.card["id"]
    for path in (f"/products/{product}", f"/products/{product}/board", f"/cards/{card}"):
        assert outsider.get(path).status_code == 404, path
    for path in ("/", "/products", "/wall"):
        page = outsider.get(path).get_data(as_text=True)
        assert "ACME deal" not in page and "Call ACME" not in page, path


# --- addresses that name no page ------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/nope", "/product/1", "/cards/abc", "/products/1/nothing"])
def test_an_unknown_address_gets_a_page_in_the_sites_layout(admin_web, web, path):
    page = admin_web.get(path)
    assert page.status_code == 404
    assert page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    assert "Page not found" in html and "There is no page at this address" in html
    assert "Log out" in html  # the header knows who is logged in
    assert page.headers[CSP].startswith("default-src 'self'")
    anonymous = web.get(path)
    assert anonymous.status_code == 404 and anonymous.mimetype == "text/html"
    assert "Log out" not in anonymous.get_data(as_text=True)


def test_the_api_keeps_problem_json_for_unknown_addresses(admin_web):
    for method, path in (("GET", "/api/v1/nope"), ("POST", "/api/v1/nope"), ("GET", "/healthz/x")):
        response = admin_web.client.open(path, method=method)
        assert response.status_code == 404
        assert response.mimetype == "application/problem+json"
    wrong_method = admin_web.client.put("/api/v1/me")
    assert wrong_method.status_code == 405
    assert wrong_method.mimetype == "application/problem+json"
