"""The people-facing pages in Romanian: logging in, the profile, the users, the contacts, the
quick-access pages (wall, help, mobile), calendar sync and notification settings.

Romanian comes from the browser's Accept-Language or from the profile's language; without
either the same pages stay in English.
"""

from __future__ import annotations

from typing import Any

import pytest
from cardcrm.core.app import create_app

from tests.conftest import get_db_from
from tests.web.conftest import shown_text

RO = {"Accept-Language": "ro-RO,ro;q=0.9"}

#: Per page: Romanian words it must show, and the English they replace (which it must not).
PAGES: dict[str, tuple[list[str], list[str]]] = {
    "/profile": (
        ["Profilul dumneavoastră", "Fus orar", "Unde sunteți autentificat", "acest browser"],
        ["<h1>Your profile</h1>", "Where you are logged in", "this browser", "Current password"],
    ),
    "/users": (
        ["Adăugați un utilizator", "Prima parolă (cel puțin 8 caractere)", "Fus orar"],
        ["Add a user", "First password", "Time zone"],
    ),
    "/contacts": (
        ["Nume, e-mail sau telefon", "Persoane și firme", "Contact nou", "Creați contactul"],
        ["Name, e-mail or phone", "People and companies", "New contact", "Create the contact"],
    ),
    "/contacts/import": (
        ["Importați contacte din CSV", "Simulare: doar verifică și numără"],
        ["Import contacts from CSV", "Dry run: only check and count"],
    ),
    "/wall": (
        ["Avizierul progresului", "a finalizat „Trimiteți oferta”", "Gata"],
        ["Wall of Progress", "completed", ">Done<"],
    ),
    "/recent": (["Carduri deschise recent"], ["Recently opened cards"]),
    "/help": (
        ["Cum funcționează cardcrm", "Produse, statusuri și carduri", "documentul OpenAPI"],
        ["How cardcrm works", "Products, statuses and cards", "the OpenAPI document"],
    ),
    "/mobile": (
        ["cardcrm pe telefon", "Instalați aplicația", "Fără conexiune", "În ambele sensuri"],
        ["Install the app", "Without a connection", "Both ways with CalDAV"],
    ),
    "/settings/calendar": (
        ["Sincronizare calendar", "Adresa feedului", "Conectați contul", "Parolă de aplicație"],
        ["Calendar sync", "Feed address", "Connect the account", "App password"],
    ),
    "/settings/notifications": (
        ["Setări pentru notificări", "Anunțați-mă când", "cu 15 minute înainte", "cu 1 oră"],
        ["Notification settings", "Tell me when", "15 minutes before", "1 hour before"],
    ),
}


@pytest.fixture
def site(app_config: dict[str, Any], admin: Any) -> Any:
    """A site with both sidecars, and one task done (so the wall has a line to say)."""
    app = create_app({**app_config, "SIDECARS": "calendar,notifications"})
    product = admin.product("sales")
    card = admin.card(product, "Contract Popescu")
    task = admin.task(card, "2026-12-01T10:00:00Z", "Trimiteți oferta")
    admin.ok("POST", f"tasks/{task['id']}/close", {})
    yield app
    get_db_from(app).dispose()


def check(web: Any, headers: dict[str, str], romanian: bool) -> None:
    for path, (words, english) in PAGES.items():
        response = web.get(path, headers=headers)
        assert response.status_code == 200, path
        page = shown_text(response.get_data(as_text=True))
        shown, absent = (words, english) if romanian else (english, words)
        for word in shown:
            assert word in page, (path, word)
        for word in absent:
            assert word not in page, (path, word)


def test_the_pages_speak_the_browsers_romanian(site: Any, admin: Any, web_client: Any) -> None:
    web = web_client(site).log_in(admin.user.email)
    check(web, RO, romanian=True)
    check(web, {"Accept-Language": "en"}, romanian=False)


def test_the_profiles_romanian_wins_over_an_english_browser(
    site: Any, admin: Any, web_client: Any
) -> None:
    admin.ok("PATCH", "me", {"language": "ro"})
    web = web_client(site).log_in(admin.user.email)
    check(web, {"Accept-Language": "en"}, romanian=True)
    admin.ok("PATCH", "me", {"language": None})
    check(web, {"Accept-Language": "en"}, romanian=False)


def test_the_first_run_page_follows_the_browser(web: Any) -> None:
    page = web.get("/setup", headers=RO).get_data(as_text=True)
    assert "Bun venit în cardcrm" in page and "Creați administratorul și începeți" in page
    assert "Welcome to cardcrm" not in page
    assert "Welcome to cardcrm" in web.get("/setup").get_data(as_text=True)


def test_the_login_page_follows_the_browser(admin: Any, web: Any) -> None:
    page = web.get("/login", headers=RO).get_data(as_text=True)
    assert "<h1>Autentificare</h1>" in page and "Parolă" in page
    assert "<h1>Log in</h1>" not in page and ">Password<" not in page
    assert "<h1>Log in</h1>" in web.get("/login").get_data(as_text=True)


def test_a_contact_is_made_and_shown_in_romanian(admin: Any, admin_web: Any) -> None:
    made = admin_web.post("/contacts", {"kind": "company", "name": "Firma Ionescu"}, headers=RO)
    assert made.status_code == 302
    page = admin_web.get(made.headers["Location"], headers=RO).get_data(as_text=True)
    assert "Contactul Firma Ionescu a fost creat." in page
    for word in ("firmă", "Detalii", "Salvați", "Istoric", "a creat contactul"):
        assert word in page, word
    for word in ("is created", "Details", "created the contact", ">History<"):
        assert word not in page, word
    # A blank name is refused beside the field, in Romanian.
    refused = admin_web.post("/contacts", {"kind": "person", "name": ""}, headers=RO)
    assert refused.status_code == 422
    assert "Dați un nume contactului." in refused.get_data(as_text=True)


def test_the_sessions_lifetimes_are_said_with_romanian_plurals(
    app_config: dict[str, Any], admin: Any, web_client: Any
) -> None:
    app = create_app({**app_config, "SESSION_IDLE_HOURS": 1, "SESSION_MAX_DAYS": 20})
    try:
        web = web_client(app).log_in(admin.user.email)
        page = web.get("/profile", headers=RO).get_data(as_text=True)
        assert "după 1 oră fără folosire și cel târziu la 20 de zile după" in page
        english = web.get("/profile").get_data(as_text=True)
        assert "ends after 1 hour without use, and 20 days after logging in" in english
    finally:
        get_db_from(app).dispose()
