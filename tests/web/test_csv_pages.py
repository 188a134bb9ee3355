"""CSV on the web pages: the import pages answer a file over the limits or with control
characters with a message (and write nothing), and exports keep formula-like cells text."""

from __future__ import annotations

import csv
import io
from typing import Any


def sales_product(admin: Any) -> dict:
    return admin.product(
        None,
        statuses=[{"name": "Lead", "group": "inactive"}],
        fields=[{"key": "phone", "label": "Phone", "type": "phone"}],
    )


def upload(web: Any, path: str, content: str, **form: str) -> Any:
    data = {"file": (io.BytesIO(content.encode()), "file.csv"), **form}
    return web.post(path, data, content_type="multipart/form-data")


def test_a_file_over_the_import_limit_gets_a_message_and_writes_nothing(
    app, admin, member, member_web
):
    app.config["CSV_MAX_BYTES"] = 2000
    product = sales_product(admin)
    admin.grant(product, member)
    body = "title\n" + "".join(f"Card number {n}\n" for n in range(300))

    page = upload(member_web, f"/products/{product['id']}/import", body)
    contacts = upload(member_web, "/contacts/import", "name\n" + "Ana\n" * 1000)

    assert page.status_code == 413 and "CARDCRM_CSV_MAX_MB" in page.get_data(as_text=True)
    assert contacts.status_code == 413 and "Nothing was written" in contacts.get_data(as_text=True)
    assert admin.ok("GET", f"products/{product['id']}/cards")["items"] == []
    assert admin.ok("GET", "contacts")["items"] == []


def test_too_many_rows_and_control_characters_are_shown_as_messages(app, admin, admin_web):
    app.config["CSV_MAX_ROWS"] = 2
    product = sales_product(admin)
    path = f"/products/{product['id']}/import"

    many = upload(admin_web, path, "title\nA\nB\nC\n")
    control = upload(admin_web, path, "title\nFine\nBad\x0bone\n")

    assert many.status_code == 413 and "more than 2 rows" in many.get_data(as_text=True)
    text = control.get_data(as_text=True)
    assert control.status_code == 422 and "Line 3:" in text and "U+000B" in text
    assert admin.ok("GET", f"products/{product['id']}/cards")["items"] == []
    form = admin_web.get(path).get_data(as_text=True)
    assert "up to 32 MiB and 2 rows" in form  # the page says how large a file may be


def test_the_web_export_keeps_formula_like_cells_text(admin, admin_web):
    product = sales_product(admin)
    admin.card(product, "\uff20SUM(A1)", fields={"phone": "+40 721 000 111"})
    admin.card(product, "Plain", fields={"phone": "0721 000 111"})

    response = admin_web.get(f"/products/{product['id']}/export.csv")

    first, second = csv.DictReader(io.StringIO(response.get_data(as_text=True)))
    assert first["title"] == "'\uff20SUM(A1)" and first["field:phone"] == "'+40 721 000 111"
    assert second["title"] == "Plain" and second["field:phone"] == "0721 000 111"


def test_an_export_filter_past_64_bits_is_refused_before_the_download_starts(admin, admin_web):
    product = sales_product(admin)
    admin.card(product, "One")

    response = admin_web.get(f"/products/{product['id']}/export.csv?owner_id={2**63}")

    assert response.status_code == 422 and response.mimetype == "text/html"
    assert "Out of range" in response.get_data(as_text=True)
