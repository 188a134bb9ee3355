"""The layout, search, reports and error pages in Romanian: from the browser's Accept-Language,
from the profile's language, and from the header's language switch; English unchanged."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import text

from tests.conftest import get_db_from
from tests.web.conftest import shown_text

RO = {"Accept-Language": "ro-RO,ro;q=0.9,en;q=0.5"}
#: The header's navigation, English -> Romanian.
NAV = {
    "Today": "Azi",
    "Products": "Produse",
    "Contacts": "Contacte",
    "Wall": "Avizier",
    "Reports": "Rapoarte",
    "Help": "Ajutor",
}


def html(web: Any, path: str, **headers: str) -> str:
    return shown_text(web.get(path, headers=headers).get_data(as_text=True))


def nav_words(page: str) -> set[str]:
    nav = re.search(r'<nav class="main-nav".*?</nav>', page, re.S)
    assert nav, "the header's navigation"
    return set(re.findall(r"<span>([^<]+)</span>", nav.group()))


@pytest.fixture
def sales(app: Any, admin: Any) -> dict:
    """A product with a won card, a lead, a card-company contact and an unassigned late task."""
    product = admin.product("sales", name="Vânzări")
    won = next(status["id"] for status in product["statuses"] if status["name"] == "Won")
    card = admin.card(product, "Globex renewal", fields={"value": "1200.00"})
    admin.ok("PATCH", f"cards/{card['id']}", {"status_id": won})
    late = admin.card(product, "Globex follow-up")
    task = admin.task(late, "2026-01-05T09:00:00Z", "long overdue")
    with get_db_from(app).engine.begin() as connection:  # (as when its assignee is removed)
        connection.execute(
            text("UPDATE tasks SET assignee_id = NULL WHERE id = :id"), {"id": task["id"]}
        )
    admin.ok("POST", "contacts", {"name": "Globex SRL", "kind": "company"})
    return product


def test_the_header_speaks_the_browsers_language(admin_web: Any) -> None:
    romanian = html(admin_web, "/reports", **RO)
    assert '<html lang="ro"' in romanian
    assert nav_words(romanian) == set(NAV.values())
    assert "Deconectare" in romanian and "Salt la conținut" in romanian
    assert 'placeholder="Căutare… ( / )"' in romanian
    assert ">Log out<" not in romanian and "Skip to the content" not in romanian

    english = html(admin_web, "/reports")
    assert nav_words(english) == set(NAV)
    assert ">Log out<" in english and "Deconectare" not in english


def test_an_unknown_address_says_so_in_romanian(admin_web: Any, web: Any) -> None:
    for client in (admin_web, web):  # logged in or not
        page = client.get("/nope/nothing", headers=RO)
        assert page.status_code == 404
        text = shown_text(page.get_data(as_text=True))
        assert "Pagina nu a fost găsită" in text and "Nu există nicio pagină" in text
        assert "Înapoi la Azi" in text
        assert "Page not found" not in text and "Back to Today" not in text
    assert "Page not found" in html(admin_web, "/nope/nothing")


def test_search_results_and_suggestions_in_romanian(admin_web: Any, sales: dict) -> None:
    results = html(admin_web, "/search?q=globex", **RO)
    assert "<h1>Căutare</h1>" in results and "<title>Căutare: globex · cardcrm</title>" in results
    assert 'Carduri <span class="muted">(2)' in results
    assert 'Contacte <span class="muted">(1)' in results
    assert "firmă" in results and "Vânzări · " in results
    assert "company" not in results and "Cards <span" not in results

    suggestions = html(admin_web, "/search/suggest?q=globex", **RO)
    assert "Toate rezultatele pentru „globex”" in suggestions
    assert "All results for" not in suggestions
    nothing = html(admin_web, "/search/suggest?q=zzzz", **RO)
    assert "Nu s-a găsit nimic pentru „zzzz”" in nothing and "Nothing found" not in nothing
    empty = html(admin_web, "/search?q=zzzz", **RO)
    assert "Niciun card pe care îl puteți vedea nu conține „zzzz”" in empty
    assert "Adăugați un contact" in empty and "Add a contact" not in empty

    english = html(admin_web, "/search?q=globex")
    assert 'Cards <span class="muted">(2)' in english and "company" in english
    assert "firmă" not in english


def test_the_reports_page_in_romanian(admin_web: Any, sales: dict) -> None:
    page = html(admin_web, f"/reports?product_id={sales['id']}", **RO)
    for words in (
        "<h1>Rapoarte</h1>",
        "Rată de câștig",
        "Carduri pe status",
        "Luna aceasta",
        "Trimestrul acesta",
        "Sarcini întârziate pe persoană",
        "Neîncepute",
        "În lucru",
        "Rezultat pozitiv",
        "Câștigate și pierdute",
        "Nimeni",
        "valorile sunt suma din câmpul",
        "1.200,00",  # numbers written the Romanian way
    ):
        assert words in page, words
    for words in ("Win rate", "Cards per status", "This month", "Not started", "Nobody"):
        assert words not in page, words

    english = html(admin_web, f"/reports?product_id={sales['id']}")
    assert "Win rate" in english and "Nobody" in english and "Not started" in english
    assert "1,200.00" in english and "1.200,00" not in english
    assert "Rată de câștig" not in english


def test_the_profiles_language_applies_without_the_browser_asking(
    admin: Any, admin_web: Any, sales: dict
) -> None:
    admin.ok("PATCH", "me", {"language": "ro"})
    reports = html(admin_web, "/reports", **{"Accept-Language": "en"})
    assert nav_words(reports) == set(NAV.values()) and "Rată de câștig" in reports
    assert "Win rate" not in reports
    search = html(admin_web, "/search?q=globex")
    assert "<h1>Căutare</h1>" in search and "firmă" in search
    missing = html(admin_web, "/nope")
    assert "Pagina nu a fost găsită" in missing and "Page not found" not in missing


def test_the_language_switch_changes_the_language_and_returns_to_the_page(
    admin: Any, admin_web: Any
) -> None:
    page = html(admin_web, "/reports?period=last_month")
    switch = re.search(r'<form method="post" action="/language".*?</form>', page, re.S)
    assert switch, "a language switch in the header"
    assert 'name="csrf_token"' in switch.group()
    assert 'value="/reports?period=last_month"' in switch.group()
    assert 'name="language" value="ro"' in switch.group() and "Română" in switch.group()

    answer = admin_web.post("/language", {"language": "ro", "next": "/reports?period=last_month"})
    assert answer.status_code == 302
    assert answer.headers["Location"] == "/reports?period=last_month"
    assert admin.ok("GET", "me")["language"] == "ro"
    romanian = html(admin_web, "/reports?period=last_month")
    assert "<h1>Rapoarte</h1>" in romanian and 'aria-current="true">Luna trecută<' in romanian
    assert 'name="language" value="en"' in romanian and 'name="language" value="ro"' not in romanian

    back = admin_web.post("/language", {"language": "en", "next": "/search?q=x"})
    assert back.headers["Location"] == "/search?q=x"
    assert admin.ok("GET", "me")["language"] == "en"
    assert "<h1>Search</h1>" in html(admin_web, "/search?q=x", **RO)


def test_the_language_switch_refuses_what_it_should(admin: Any, admin_web: Any) -> None:
    forged = admin_web.post("/language", {"language": "ro"}, csrf=False)
    assert forged.status_code == 403
    unknown = admin_web.post("/language", {"language": "xx", "next": "/reports"})
    assert unknown.status_code == 422 and "language" in unknown.get_data(as_text=True)
    assert admin.ok("GET", "me")["language"] is None
    # Only pages of this site: another host's address goes to Today instead.
    for elsewhere in ("https://evil.example/x", "//evil.example/x", "/\\evil.example"):
        answer = admin_web.post("/language", {"language": "ro", "next": elsewhere})
        assert answer.status_code == 302 and answer.headers["Location"] == "/", elsewhere
