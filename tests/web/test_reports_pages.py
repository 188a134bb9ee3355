"""The Reports page through Flask's test client: the API's numbers, in charts and tables,
under the same access rule, with a bad period told beside its field."""

from __future__ import annotations

import re

import pytest


def status_id(product, name):
    return next(status["id"] for status in product["statuses"] if status["name"] == name)


def figures(html):
    """``data-figure`` name → the texts shown under it, in page order."""
    found: dict[str, list[str]] = {}
    for name, value in re.findall(r'data-figure="([\w-]+)">([^<]*)<', html):
        found.setdefault(name, []).append(value.strip())
    return found


@pytest.fixture
def sales(admin, member):
    """Sales: the member sees only own cards; two won (one the member's), one lost, one lead."""
    product = admin.product("sales", name="Sales")
    admin.grant(product, member, own_cards_only=True)
    won, lost = status_id(product, "Won"), status_id(product, "Lost")
    for title, value, owner, status in [
        ("Mine", "1000.00", member.user.id, won),
        ("Theirs", "250.50", admin.user.id, won),
        ("Gone", "75.00", admin.user.id, lost),
    ]:
        card = admin.card(product, title, fields={"value": value}, owner_id=owner)
        admin.ok("PATCH", f"cards/{card['id']}", {"status_id": status})
    admin.card(product, "Lead", status_id=status_id(product, "Lead"))
    late = admin.card(product, "Late", owner_id=admin.user.id)
    admin.task(late, "2026-01-05T09:00:00Z", "long overdue")
    return product


def test_the_page_shows_the_apis_numbers_with_charts_and_tables(admin, admin_web, sales):
    query = f"product_id={sales['id']}&period=this_month"
    api = {
        name: admin.ok("GET", f"reports/{name}?{query}")
        for name in ("funnel", "outcomes", "tasks-closed")
    }
    api["overdue"] = admin.ok("GET", f"reports/overdue?product_id={sales['id']}")
    response = admin_web.get(f"/reports?{query}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    shown = figures(html)
    assert shown["won-count"] == [str(api["outcomes"]["won"]["count"])] == ["2"]
    assert shown["won-value"] == ["€1,250.50"]
    assert shown["lost-count"] == ["1"] and shown["lost-value"] == ["€75.00"]
    assert shown["win-rate"] == ["67%"]
    assert shown["overdue-total"] == [str(api["overdue"]["total"])] == ["1"]
    assert shown["status-count"] == [str(s["count"]) for s in api["funnel"]["statuses"]]
    assert shown["group-positive"] == ["2"] and shown["group-inactive"] == ["2"]
    assert html.count("<svg") >= 3 and 'role="img"' in html
    assert 'class="bar bar-positive"' in html and 'class="bar bar-negative"' in html
    assert 'id="funnel-table"' in html and 'id="overdue-table"' in html
    assert '<a class="chip" href="/reports?product_id=' in html
    assert 'aria-current="true">This month</a>' in html


def test_the_header_links_to_reports_and_the_team_report_is_the_default(admin_web, sales):
    html = admin_web.get("/reports").get_data(as_text=True)
    assert re.search(r'href="/reports" aria-current="page">.*?<span>Reports</span></a>', html)
    assert "Team · every product you can see" in html
    assert figures(html)["won-count"] == ["2"]
    assert 'href="/reports"' in admin_web.get("/help").get_data(as_text=True)


def test_a_member_limited_to_own_cards_sees_only_their_figures(member_web, sales):
    html = member_web.get(f"/reports?product_id={sales['id']}").get_data(as_text=True)
    shown = figures(html)
    assert shown["won-count"] == ["1"] and shown["won-value"] == ["€1,000.00"]
    assert shown["lost-count"] == ["0"]
    assert shown["overdue-total"] == ["0"]
    assert "Theirs" not in html and "250.50" not in html


def test_a_product_the_user_may_not_see_is_a_not_found_page(app, sales, web_client, new_user):
    new_user("stranger@example.com")
    stranger = web_client(app).log_in("stranger@example.com")
    response = stranger.get(f"/reports?product_id={sales['id']}")
    assert response.status_code == 404
    assert response.mimetype == "text/html" and "Sales" not in response.get_data(as_text=True)
    team = stranger.get("/reports").get_data(as_text=True)
    assert figures(team)["won-count"] == ["0"] and "No products to report on yet." in team


def test_a_bad_period_is_told_beside_its_field(admin_web, sales):
    response = admin_web.get("/reports?from=2026-12-31&to=2026-01-01")
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert 'id="error-from"' in html and "start is after its end" in html
    assert 'aria-invalid="true" aria-describedby="error-from"' in html
    assert admin_web.get("/reports?from=2025-01-01&to=2026-12-31").status_code == 422
    assert admin_web.get("/reports?from=nonsense&product_id=x").status_code == 422
