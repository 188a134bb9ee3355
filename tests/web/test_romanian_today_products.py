"""Today, a product's card list, its board, settings and trash in Romanian (issue 17): asked for
by the browser (``Accept-Language: ro``) or chosen in the profile; English stays as it was."""

from __future__ import annotations

import re
from datetime import datetime
from html import unescape
from typing import Any

import pytest

from tests.web.conftest import shown_text

# Wednesday 2 December 2026, noon UTC (the test users' zone).
NOW = datetime.fromisoformat("2026-12-02T12:00:00Z")
ROMANIAN = {"Accept-Language": "ro-RO,ro;q=0.9,en;q=0.5"}
ENGLISH = {"Accept-Language": "en"}


@pytest.fixture
def clock(app: Any) -> Any:
    app.config["CLOCK"] = lambda: NOW
    yield NOW
    app.config.pop("CLOCK", None)


@pytest.fixture
def sales(admin: Any) -> dict:
    return admin.product("sales", name="Sales")


def shown(web: Any, path: str, headers: dict[str, str] | None = None, status: int = 200) -> str:
    answer = web.get(path, headers=headers or {})
    assert answer.status_code == status, answer.get_data(as_text=True)[:800]
    return unescape(shown_text(answer.get_data(as_text=True)))


def total_labels(html: str) -> dict[str, str]:
    return dict(re.findall(r'data-total="(\w+)">\s*<dt>([^<]+)</dt>', html))


def shortcut_labels(html: str) -> list[str]:
    nav = html[html.index('class="period-shortcuts"') :]
    nav = nav[: nav.index("</nav>")]
    return re.findall(r">([^<>]+)</a>", nav)


def test_today_speaks_romanian_when_the_browser_asks(admin_web: Any, admin: Any, sales, clock):
    card = admin.card(sales, "ACME deal")
    admin.task(card, "2026-12-01T09:00:00Z", "Call ACME", type="call")  # yesterday: overdue
    admin.task(card, "2026-12-02T15:00:00Z", "Send the offer")
    html = shown(admin_web, "/?from=2026-11-30&to=2026-12-06", ROMANIAN)
    assert total_labels(html) == {
        "due": "De făcut",
        "overdue": "Întârziate",
        "closed": "Închise",
        "postponed": "Amânate",
    }
    assert shortcut_labels(html) == [
        "Azi",
        "Mâine",
        "Săptămâna aceasta",
        "Săptămâna viitoare",
        "Luna aceasta",
    ]
    assert '<p class="today-kicker">Săptămâna aceasta</p>' in html
    assert '<span class="badge overdue">Întârziată</span>' in html  # one task: singular
    assert re.search(r"· apel\s", html)  # a built-in task type in the reader's words
    for words in ("Mai multe", "Lunea viitoare", "Anulați sarcina", "Gata", "Perioada următoare"):
        assert words in html, words
    for english in ("Overdue", "Postponed", "This week", "Tomorrow", "Next Monday", "Cancel the"):
        assert english not in html, english

    english = shown(admin_web, "/?from=2026-11-30&to=2026-12-06", ENGLISH)
    assert total_labels(english) == {
        "due": "Due",
        "overdue": "Overdue",
        "closed": "Closed",
        "postponed": "Postponed",
    }
    assert shortcut_labels(english)[:3] == ["Today", "Tomorrow", "This week"]
    assert "Întârziate" not in english and "Săptămâna" not in english
    assert re.search(r"· call\s", english) and "apel" not in english


def test_todays_lists_and_messages_in_romanian(admin_web: Any, clock) -> None:
    html = shown(admin_web, "/?show=overdue", ROMANIAN)
    assert '<h2 id="list-title">Întârziate</h2>' in html
    assert "Nimic întârziat. Foarte bine." in html and "Înapoi la sarcini" in html
    refused = shown(admin_web, "/?show=nonsense", ROMANIAN, status=422)
    assert "Această listă nu există; se afișează sarcinile." in refused
    assert "There is no such list" not in refused


def test_a_products_card_list_board_and_settings_in_romanian(admin_web: Any, admin: Any, sales):
    admin.card(sales, "Big deal", fields={"value": "12000"})
    admin.card(sales, "Small deal", owner_id=None)
    cards = shown(admin_web, f"/products/{sales['id']}", ROMANIAN)
    for words in (">Card nou<", "Titlul conține", ">Responsabil<", ">Neîncepute<", ">Panou<"):
        assert words in cards, words
    assert "Următoarea sarcină" in cards and "Creați cardul" in cards
    for english in ("New card", ">Owner<", "Title contains", "Not started", "Create the card"):
        assert english not in cards, english

    board = shown(admin_web, f"/products/{sales['id']}/board", ROMANIAN)
    assert 'data-count="2">2 carduri</span>' in board
    assert 'data-count="0">0 carduri</span>' in board  # Romanian's "few" form takes 0 too
    assert 'title="Fără responsabil"' in board and "Trageți un card" in board
    assert re.search(r'<label for="move-\d+" class="visually-hidden">Mutați „Big deal” în', board)
    assert "2 cards" not in board and "No owner" not in board and ">Move<" not in board

    settings = shown(admin_web, f"/products/{sales['id']}/settings", ROMANIAN)
    for words in (">Statusuri<", "Câmpurile cardurilor", "Adăugați un câmp", "Sumă de bani"):
        assert words in settings, words
    assert "<h3>Rezultat pozitiv</h3>" in settings  # a status group's name
    for english in ("Statuses", "Card fields", "Add a field", "Amount of money", "Positive"):
        assert english not in settings, english


def test_one_card_on_the_board_is_said_in_the_singular(admin_web: Any, admin: Any, sales):
    admin.card(sales, "Only deal")
    board = shown(admin_web, f"/products/{sales['id']}/board", ROMANIAN)
    assert 'data-count="1">1 card</span>' in board
    assert 'data-count="1">1 card</span>' in shown(admin_web, f"/products/{sales['id']}/board")


def test_the_profiles_romanian_wins_over_an_english_browser(admin_web: Any, admin: Any, sales):
    admin.ok("PATCH", "me", {"language": "ro"})
    cards = shown(admin_web, f"/products/{sales['id']}", ENGLISH)
    assert ">Card nou<" in cards and "New card" not in cards
    settings_path = f"/products/{sales['id']}/settings"
    assert "Câmpurile cardurilor" in shown(admin_web, settings_path, ENGLISH)

    added = admin_web.post(
        f"/products/{sales['id']}/statuses",
        {"name": "Trial", "group": "in_progress"},
        headers=ENGLISH,
        follow_redirects=True,
    )
    assert "Statusul Trial a fost adăugat." in added.get_data(as_text=True)
    unnamed = admin_web.post(
        f"/products/{sales['id']}/statuses", {"name": "", "group": "in_progress"}, headers=ENGLISH
    )
    assert unnamed.status_code == 422
    assert "Dați statusului un nume." in unescape(unnamed.get_data(as_text=True))

    admin.ok("PATCH", "me", {"language": None})
    assert "New card" in shown(admin_web, f"/products/{sales['id']}", ENGLISH)


def test_the_trash_and_a_refused_move_in_the_profiles_romanian(admin_web, admin, sales):
    admin.ok("PATCH", "me", {"language": "ro"})
    trash = f"/products/{sales['id']}/trash"
    assert "Coșul este gol." in shown(admin_web, trash)
    card = admin.card(sales, "Old <b>lead</b>")
    moved = admin_web.post(f"/cards/{card['id']}/trash", follow_redirects=True)
    page = moved.get_data(as_text=True)
    assert "„Old &lt;b&gt;lead&lt;/b&gt;” este în coș." in page  # escaped, once
    assert f'<a href="{trash}">Deschideți coșul</a>' in page
    listed = shown(admin_web, trash)
    assert "Restaurați" in listed and "Ștergeți definitiv" in listed and "mutat în coș" in listed
    assert "Restore" not in listed and "Delete for good" not in listed

    other = admin.card(sales, "Moving deal")
    admin.ok("PATCH", f"cards/{other['id']}", {"title": "Moving deal, renamed"})
    stale = admin_web.htmx(
        f"/cards/{other['id']}/move",
        {"status_id": str(sales["statuses"][1]["id"]), "version": str(other["version"])},
    )
    assert stale.status_code == 412
    assert "Altcineva a modificat între timp acest card" in stale.get_data(as_text=True)
