"""A product's Trash page: trashed cards are found again there, restored, or (admins) deleted
for good; the message after trashing a card leads there."""

from __future__ import annotations

import re


def test_trashing_a_card_says_where_it_went_and_the_trash_page_restores_it(admin_web, admin):
    product = admin.product("sales")
    card = admin.card(product, "Old <b>lead</b>")
    admin.card(product, "Still alive")
    trash = f"/products/{product['id']}/trash"
    empty = admin_web.get(trash).get_data(as_text=True)
    assert "The trash is empty" in empty

    moved = admin_web.post(f"/cards/{card['id']}/trash", follow_redirects=True)
    page = moved.get_data(as_text=True)
    assert "“Old &lt;b&gt;lead&lt;/b&gt;” is in the trash." in page  # escaped, once
    assert f'<a href="{trash}">Open the trash</a>' in page  # a real link, not escaped text
    assert "Old &lt;b&gt;lead" not in admin_web.get(f"/products/{product['id']}").get_data(
        as_text=True
    )

    listed = admin_web.get(trash).get_data(as_text=True)
    assert "Old &lt;b&gt;lead&lt;/b&gt;" in listed and "Still alive" not in listed
    assert f'href="{trash}" aria-current="page">Trash</a>' in listed  # the product's tab

    restored = admin_web.post(f"/cards/{card['id']}/restore", follow_redirects=True)
    assert restored.status_code == 200
    assert admin.ok("GET", f"cards/{card['id']}")["trashed"] is False
    assert "The trash is empty" in admin_web.get(trash).get_data(as_text=True)


def test_only_admins_delete_for_good_and_members_see_only_their_cards_in_the_trash(
    admin_web, member_web, admin, member
):
    product = admin.product("sales")
    admin.grant(product, member, own_cards_only=True)
    theirs = admin.card(product, "Admin secret deal", owner_id=admin.user.id)
    mine = admin.card(product, "Member deal", owner_id=member.user.id)
    for card in (theirs, mine):
        admin.ok("DELETE", f"cards/{card['id']}", status=204)
    trash = f"/products/{product['id']}/trash"

    seen = member_web.get(trash).get_data(as_text=True)
    assert "Member deal" in seen and "Admin secret deal" not in seen
    assert "Delete for good" not in seen
    refused = member_web.post(f"/cards/{mine['id']}/purge")
    assert refused.status_code == 403
    assert admin.ok("GET", f"cards/{mine['id']}")["trashed"] is True

    admin_page = admin_web.get(trash).get_data(as_text=True)
    assert "Admin secret deal" in admin_page and "Delete for good" in admin_page
    gone = admin_web.post(f"/cards/{theirs['id']}/purge", follow_redirects=True)
    assert "is deleted for good" in gone.get_data(as_text=True)
    assert admin.get(f"cards/{theirs['id']}").status_code == 404


def test_the_trash_pages_through_many_cards_newest_first(admin_web, admin):
    product = admin.product("sales")
    for number in range(55):
        card = admin.card(product, f"Trashed {number:02}")
        admin.ok("DELETE", f"cards/{card['id']}", status=204)
    trash = f"/products/{product['id']}/trash"
    first = admin_web.get(trash).get_data(as_text=True)
    titles = list(dict.fromkeys(re.findall(r"Trashed (\d\d)", first)))
    assert titles[0] == "54" and len(titles) == 50
    older = re.search(r'href="([^"]+cursor=[^"]+)"', first)
    assert older is not None
    rest = admin_web.get(older.group(1).replace("&amp;", "&")).get_data(as_text=True)
    assert list(dict.fromkeys(re.findall(r"Trashed (\d\d)", rest))) == [
        "04",
        "03",
        "02",
        "01",
        "00",
    ]
