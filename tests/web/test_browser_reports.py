"""The Reports page in Chromium: its numbers are the API's, at desktop and phone widths."""

from __future__ import annotations

import pytest

from tests.web.conftest import DEMO_EMAIL, DEMO_PASSWORD

DEALS = [
    ("Northwind renewal", "Won", "12400.00"),
    ("Globex pilot", "Won", "5800.00"),
    ("Initech upgrade", "Won", "2150.00"),
    ("Umbrella tender", "Lost", "9000.00"),
    ("Stark consulting", "Offer sent", "3300.00"),
    ("Wayne security", "Negotiation", "7600.00"),
    ("Acme follow-up", "Follow-up", "1800.00"),
    ("Hooli intro", "Lead", None),
]


class Api:
    """The demo admin's API client, through the browser context's own HTTP requests."""

    def __init__(self, request, base):
        self.request, self.base = request, base
        answer = request.post(
            f"{base}/api/v1/auth/token", data={"email": DEMO_EMAIL, "password": DEMO_PASSWORD}
        )
        assert answer.status == 201, answer.text()
        self.headers = {"Authorization": f"Bearer {answer.json()['token']}"}

    def call(self, method, path, body=None):
        answer = self.request.fetch(
            f"{self.base}/api/v1/{path}", method=method, headers=self.headers, data=body
        )
        assert answer.status < 300, (path, answer.status, answer.text())
        return answer.json()


@pytest.fixture(scope="module")
def seeded(browser, live_server):
    """Deals in the demo's Sales product, won, lost and open, and a few tasks done or late."""
    context = browser.new_context(base_url=live_server)
    api = Api(context.request, live_server)
    sales = next(p for p in api.call("GET", "products")["items"] if p["name"] == "Sales")
    statuses = {status["name"]: status["id"] for status in sales["statuses"]}
    for title, status, value in DEALS:
        body = {"title": title, "fields": {"value": value} if value else {}}
        card = api.call("POST", f"products/{sales['id']}/cards", body)
        if status != "Database":
            api.call("PATCH", f"cards/{card['id']}", {"status_id": statuses[status]})
        task = api.call(
            "POST",
            f"cards/{card['id']}/tasks",
            {"text": f"Call {title}", "due": "2026-01-05", "all_day": True},
        )
        if status in ("Won", "Lost", "Negotiation"):
            api.call("POST", f"tasks/{task['id']}/close", {"outcome": "done"})
    yield api, sales
    context.close()


def shown(tab, figure):
    return [text.strip() for text in tab.locator(f'[data-figure="{figure}"]').all_inner_texts()]


@pytest.mark.parametrize("width,height,name", [(1280, 800, "desktop"), (390, 844, "phone")])
def test_the_reports_page_matches_the_apis_numbers(seeded, new_tab, artifact, width, height, name):
    api, sales = seeded
    errors: list[str] = []
    tab = new_tab(width, height)
    tab.on("console", lambda message: errors.append(message.text) if message.type == "error" else 0)
    tab.get_by_role("link", name="Reports").click()
    tab.get_by_role("heading", name="Reports").wait_for()
    tab.get_by_label("Product").select_option(label="Sales")
    tab.get_by_role("button", name="Show").click()
    tab.get_by_role("link", name="This year").click()
    tab.wait_for_url("**period=this_year**")
    assert tab.get_by_role("link", name="This year").get_attribute("aria-current") == "true"

    query = f"product_id={sales['id']}&period=this_year"
    outcomes = api.call("GET", f"reports/outcomes?{query}")
    funnel = api.call("GET", f"reports/funnel?product_id={sales['id']}")
    closed = api.call("GET", f"reports/tasks-closed?{query}")
    overdue = api.call("GET", f"reports/overdue?product_id={sales['id']}")
    assert outcomes["won"]["count"] == 3 and outcomes["lost"]["count"] == 1
    assert shown(tab, "won-count") == [str(outcomes["won"]["count"])]
    assert (
        shown(tab, "won-value")
        == ["€20,350.00"]
        == [f"€{float(outcomes['won']['values'][0]['amount']):,.2f}"]
    )
    assert shown(tab, "lost-count") == [str(outcomes["lost"]["count"])]
    assert shown(tab, "win-rate") == [f"{outcomes['win_rate'] * 100:.0f}%"] == ["75%"]
    assert shown(tab, "status-count") == [str(status["count"]) for status in funnel["statuses"]]
    assert shown(tab, "closed-total") == [str(closed["total"])]
    assert shown(tab, "closed-count") == [str(person["total"]) for person in closed["people"]]
    assert shown(tab, "overdue-total") == [str(overdue["total"])]
    assert shown(tab, "overdue-count") == [str(person["count"]) for person in overdue["people"]]
    assert tab.locator("svg.chart").count() >= 4

    tab.screenshot(path=artifact(f"reports-{name}.png"), full_page=True)
    if name == "phone":  # one column: nothing wider than the screen
        assert tab.evaluate("document.documentElement.scrollWidth") <= width
    assert errors == []
