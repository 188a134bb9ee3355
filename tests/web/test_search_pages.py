"""The header's global search: suggestions while typing and the results page, both limited to
what the user may see, and working without JavaScript (the box submits to /search)."""

from __future__ import annotations


def test_every_page_has_the_search_box_which_submits_to_the_results_page(admin_web, admin):
    page = admin_web.get("/products").get_data(as_text=True)
    assert 'role="search"' in page and 'action="/search"' in page and 'name="q"' in page
    sales = admin.product("sales")
    admin.card(sales, "Ștefan SRL renewal")
    admin.ok("POST", "contacts", {"name": "Ștefan Ionescu", "emails": ["stefan@example.ro"]})

    results = admin_web.get("/search?q=stefan").get_data(as_text=True)
    assert "Ștefan SRL renewal" in results and "Ștefan Ionescu" in results
    assert 'Cards <span class="muted">(1)' in results
    assert 'Contacts <span class="muted">(1)' in results
    assert admin_web.get("/search").status_code == 200  # the empty page explains itself
    nothing = admin_web.get("/search?q=zzzz").get_data(as_text=True)
    assert "No card you may see holds “zzzz”" in nothing


def test_suggestions_are_a_fragment_of_links_to_what_the_user_may_see(member_web, admin, member):
    sales = admin.product("sales")
    admin.grant(sales, member, own_cards_only=True)
    mine = admin.card(sales, "Globex renewal (mine)", owner_id=member.user.id)
    admin.card(sales, "Globex renewal (admin's)", owner_id=admin.user.id)

    fragment = member_web.get("/search/suggest?q=globex").get_data(as_text=True)
    assert "<html" not in fragment
    assert f'href="/cards/{mine["id"]}"' in fragment
    assert "(admin&#39;s)" not in fragment and "(admin's)" not in fragment
    assert 'href="/search?q=globex"' in fragment  # all results
    assert member_web.get("/search/suggest?q=").get_data(as_text=True).strip() == ""
    escaped = member_web.get("/search/suggest?q=<b>x</b>").get_data(as_text=True)
    assert "<b>x</b>" not in escaped and "&lt;b&gt;x&lt;/b&gt;" in escaped
