"""The built-in process templates in the reader's language: listed in it, and a product made
from one keeps its words in the language it was made in (status names are data then)."""

from __future__ import annotations

RO = {"Accept-Language": "ro"}


def sales_of(templates: dict) -> dict:
    return next(item for item in templates["items"] if item["key"] == "sales")


def test_the_templates_are_listed_in_romanian_for_a_romanian_reader(admin):
    sales = sales_of(admin.ok("GET", "templates", headers=RO))

    assert sales["name"] == "Vânzări"
    assert "Câștigat" in [status["name"] for status in sales["statuses"]]
    assert "Valoarea afacerii" in [field["label"] for field in sales["fields"]]
    assert sales["task_types"] == [{"key": "demo", "label": "Demonstrație"}]


def test_the_templates_stay_english_without_romanian(admin):
    sales = sales_of(admin.ok("GET", "templates"))

    assert sales["name"] == "Sales"
    assert [status["name"] for status in sales["statuses"]][-2:] == ["Won", "Lost"]
    assert "Deal value" in [field["label"] for field in sales["fields"]]


def test_a_product_made_from_sales_in_romanian_has_romanian_status_names(admin):
    product = admin.ok(
        "POST", "products", {"name": "Vânzări 2027", "template": "sales"}, status=201, headers=RO
    )

    names = [status["name"] for status in product["statuses"]]
    assert names == [
        "Bază de date",
        "Potențial client",
        "Ofertă trimisă",
        "Revenire",
        "Negociere",
        "Câștigat",
        "Pierdut",
    ]
    assert product["fields"][0]["label"] == "Valoarea afacerii"
    labels = {item["key"]: item["label"] for item in product["task_types"]}
    assert labels["call"] == "Apel" and labels["demo"] == "Demonstrație"

    # The names are the product's now: an English reader sees them as they were made...
    again = admin.ok("GET", f"products/{product['id']}")
    assert [status["name"] for status in again["statuses"]] == names
    # ...while the built-in task types are said in each reader's language.
    labels = {item["key"]: item["label"] for item in again["task_types"]}
    assert labels["call"] == "Call" and labels["demo"] == "Demonstrație"


def test_the_romanian_profile_language_makes_products_from_templates_romanian(admin):
    admin.ok("PATCH", "me", {"language": "ro"})

    product = admin.product("invoices")

    assert [status["name"] for status in product["statuses"]][-2:] == ["Plătită", "Anulat"]


def test_the_four_templates_share_one_catalogue_folder_listed_once(app):
    from cardcrm.core.app import translation_directories

    folders = translation_directories(app.extensions["cardcrm_plugins"])

    assert len(folders) == len({folder.resolve() for folder in folders})
    assert any(folder.parent.name in ("plugins", "cardcrm_plugins") for folder in folders)
