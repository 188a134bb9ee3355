"""A card's page in Romanian: asked by the browser (``Accept-Language: ro``) or chosen in the
profile, every panel speaks it (details, tasks, notes, timeline, files, e-mail), history lines
included; a refused form says why beside the field, in Romanian. Without either, English."""

from __future__ import annotations

import io
from typing import Any

import pytest
from cardcrm.core.web.files import human_size

RO = {"Accept-Language": "ro-RO,ro;q=0.9,en;q=0.5"}

#: (Romanian, its English counterpart): one pair per panel of the page.
PANELS = [
    ('id="card-edit">Detalii<', 'id="card-edit">Details<'),  # the card's details
    ("Dați acestui card o adresă de e-mail nouă?", "Give this card a new e-mail address?"),
    (">Adăugați sarcina<", ">Add the task<"),  # tasks
    ("Lunea viitoare", "Next Monday"),
    ('class="task-meta">De făcut · ', 'class="task-meta">To-do · '),  # a built-in task type
    (">Salvați notița<", ">Save the note<"),  # the notes composer
    ("Notiță nouă", "New note"),
    ('id="card-timeline">Cronologie<', 'id="card-timeline">Timeline<'),  # the timeline
    ("a creat cardul", "created the card"),
    ("a adăugat sarcina „Call ACME”", "added the task “Call ACME”"),
    ('id="card-files">Fișiere<', 'id="card-files">Files<'),  # files
    ("Alegeți un fișier", "Choose a file"),
    ("E-mail către acest card", "E-mail to this card"),  # the e-mail panel
    ("Niciun e-mail încă.", "No e-mail yet."),
    ('id="card-contacts">Contacte<', 'id="card-contacts">Contacts<'),
]


@pytest.fixture
def deal(admin: Any) -> dict:
    """A card moved from its first status to another, with a task and a file."""
    product = admin.product("sales", name="Sales")
    card = admin.card(product, "ACME deal")
    first = next(s for s in product["statuses"] if s["id"] == card["status_id"])
    then = next(s for s in product["statuses"] if s["id"] != card["status_id"])
    admin.ok("PATCH", f"cards/{card['id']}", {"status_id": then["id"]})
    admin.task(card, "2030-01-07T09:30:00Z", text="Call ACME")
    admin.task(card, "2030-01-08", text="All day", all_day=True)
    now = admin.ok("GET", f"cards/{card['id']}")
    return {**now, "moved": (first["name"], then["name"])}


def card_page(web: Any, card: dict, **headers: str) -> str:
    response = web.get(f"/cards/{card['id']}", headers=headers)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def assert_romanian(page: str, card: dict) -> None:
    assert '<html lang="ro"' in page
    for romanian, english in PANELS:
        assert romanian in page, romanian
        assert english not in page, english
    before, after = card["moved"]
    assert f"a mutat cardul din {before} în {after}" in page
    assert "moved it from" not in page
    assert "(toată ziua)" in page and "(all day)" not in page


def test_the_browsers_language_gives_a_romanian_card_page(admin_web: Any, deal: dict) -> None:
    assert_romanian(card_page(admin_web, deal, **RO), deal)


def test_without_a_choice_the_card_page_stays_english(admin_web: Any, deal: dict) -> None:
    page = card_page(admin_web, deal)
    for romanian, english in PANELS:
        assert english in page and romanian not in page, english
    before, after = deal["moved"]
    assert f"moved it from {before} to {after}" in page


def test_the_profiles_language_gives_a_romanian_card_page(
    admin: Any, admin_web: Any, deal: dict
) -> None:
    admin.ok("PATCH", "me", {"language": "ro"})
    assert_romanian(card_page(admin_web, deal, **{"Accept-Language": "en"}), deal)


def test_a_refused_title_is_told_beside_the_field_in_romanian(admin_web: Any, deal: dict) -> None:
    form = {"title": "", "status_id": str(deal["status_id"]), "version": str(deal["version"])}
    refused = admin_web.post(f"/cards/{deal['id']}", form, headers=RO)
    assert refused.status_code == 422
    page = refused.get_data(as_text=True)
    assert '<p class="field-error" id="error-title">Dați un titlu cardului.</p>' in page
    assert "Give the card a title." not in page


def test_a_refused_task_is_told_beside_its_inputs_in_romanian(admin_web: Any, deal: dict) -> None:
    refused = admin_web.post(f"/cards/{deal['id']}/tasks", {"text": "", "due_date": ""}, headers=RO)
    assert refused.status_code == 422
    page = refused.get_data(as_text=True)
    assert '<p class="field-error" id="error-text">Spuneți ce este de făcut.</p>' in page
    assert '<p class="field-error" id="error-due_date">Dați data termenului.</p>' in page
    assert "Say what is to be done." not in page


def test_a_saved_card_and_an_uploaded_file_are_said_in_romanian(admin_web: Any, deal: dict) -> None:
    form = {"title": "ACME", "status_id": str(deal["status_id"]), "version": str(deal["version"])}
    admin_web.post(f"/cards/{deal['id']}", form, headers=RO)
    data = {"file": (io.BytesIO(b"x" * 1536), "oferta.pdf")}
    admin_web.post(
        f"/cards/{deal['id']}/files", data, content_type="multipart/form-data", headers=RO
    )
    page = card_page(admin_web, deal, **RO)
    assert "Cardul a fost salvat." in page and "„oferta.pdf” a fost adăugat pe card." in page
    assert "1,5 KB" in page and "1.5 KB" not in page
    assert "a modificat titlul din „ACME deal” în „ACME”" in page


@pytest.mark.parametrize(
    ("size", "romanian"),
    [
        (1, "1 octet"),
        (5, "5 octeți"),
        (25, "25 de octeți"),
        (101, "101 octeți"),
        (1000, "1.000 de octeți"),
        (1536, "1,5 KB"),
    ],
)
def test_file_sizes_follow_romanian_numbers_and_plurals(app: Any, size: int, romanian: str):
    with app.test_request_context("/", headers=RO):
        assert human_size(size) == romanian


@pytest.mark.slow
@pytest.mark.parametrize(("width", "height"), [(1280, 800), (390, 844)])
def test_in_a_browser_the_card_page_works_in_romanian(new_tab, artifact, width, height):
    from .test_browser import api, card_id

    tab = new_tab(width, height)
    tab.context.set_extra_http_headers(RO)  # from here on the browser asks for Romanian
    card = card_id(tab, api(tab), "Sales", "Initech pilot")
    tab.goto(f"/cards/{card}")
    tab.get_by_role("heading", name="Detalii").wait_for()
    text = f"Sunați la Initech {width}"
    tab.get_by_label("Ce este de făcut").fill(text)
    tab.get_by_label("Data", exact=True).fill("2030-01-07")
    tab.get_by_role("button", name="Adăugați sarcina").click()
    # The task list and the timeline follow without a reload, in Romanian.
    tab.locator("#tasks .task-text", has_text=text).wait_for()
    tab.locator("#timeline .tl-text", has_text=f"a adăugat sarcina „{text}”").wait_for()
    assert tab.get_by_role("button", name=f"Gata: {text}").is_visible()
    tab.screenshot(path=artifact(f"card-page-romanian-{width}.png"), full_page=True)
    for panel in ("timeline", "tasks", "files"):  # each panel at a size one can read
        tab.locator(f"#{panel}").screenshot(
            path=artifact(f"card-page-romanian-{width}-{panel}.png")
        )
