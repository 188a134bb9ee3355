"""Files on a card in a real browser (Chromium through Playwright, against ``cardcrm up``):
upload with the button and by dropping a file on the panel, download the same bytes back, see
a refusal in the panel, remove a file; screenshots at desktop and phone sizes."""

from __future__ import annotations

import base64
import uuid
from pathlib import Path
from typing import Any

import pytest

from .test_browser import api

pytestmark = pytest.mark.slow

#: Bytes no text decoding would keep intact: every byte value, twice.
BINARY = bytes(range(256)) * 2 + "Ofertă — 2026".encode()


def new_card(page: Any, title: str) -> int:
    headers = api(page)
    products = page.request.get("/api/v1/products", headers=headers).json()["items"]
    sales = next(item for item in products if item["name"] == "Sales")
    answer = page.request.post(
        f"/api/v1/products/{sales['id']}/cards", data={"title": title}, headers=headers
    )
    assert answer.status == 201
    return answer.json()["id"]


def count_card_changed(page: Any) -> None:
    page.evaluate(
        """() => { window.cardChanged = 0;
        document.body.addEventListener("card-changed", () => { window.cardChanged += 1; }); }"""
    )


def drop_file(page: Any, name: str, content: bytes, mime: str) -> None:
    """Drag a file from outside the browser onto the files panel, as a desktop would."""
    transfer = page.evaluate_handle(
        """([name, data, mime]) => {
            const bytes = Uint8Array.from(atob(data), (char) => char.charCodeAt(0));
            const transfer = new DataTransfer();
            transfer.items.add(new File([bytes], name, { type: mime }));
            return transfer;
        }""",
        [name, base64.b64encode(content).decode(), mime],
    )
    for kind in ("dragenter", "dragover"):
        page.dispatch_event("[data-files-drop]", kind, {"dataTransfer": transfer})
    assert "is-dragging" in (page.get_attribute("[data-files-panel]", "class") or "")
    page.dispatch_event("[data-files-drop]", "drop", {"dataTransfer": transfer})


def downloaded(page: Any, name: str) -> tuple[bytes, str]:
    with page.expect_download() as info:
        page.locator(".file-row a.file-name", has_text=name).click()
    download = info.value
    return Path(download.path()).read_bytes(), download.suggested_filename


def test_uploading_by_button_and_by_drop_then_downloading_the_same_bytes(page, artifact):
    card = new_card(page, f"Files story {uuid.uuid4().hex[:6]}")
    page.goto(f"/cards/{card}")
    page.locator("#files").scroll_into_view_if_needed()
    count_card_changed(page)
    assert page.locator("#files").get_by_text("No file yet.").is_visible()

    page.set_input_files(
        "#files-input",
        files=[{"name": "Ofertă 2026.pdf", "mimeType": "application/pdf", "buffer": BINARY}],
    )
    row = page.locator(".file-row", has_text="Ofertă 2026.pdf")
    row.wait_for()
    assert "Demo" in row.inner_text() or "demo" in row.inner_text().lower()
    assert page.evaluate("window.cardChanged") == 1

    dropped = BINARY[::-1] * 3
    drop_file(page, "contract (signed).bin", dropped, "application/octet-stream")
    page.locator(".file-row", has_text="contract (signed).bin").wait_for()
    assert page.evaluate("window.cardChanged") == 2
    assert "is-dragging" not in (page.get_attribute("[data-files-panel]", "class") or "")

    content, name = downloaded(page, "Ofertă 2026.pdf")
    assert content == BINARY and name == "Ofertă 2026.pdf"
    content, name = downloaded(page, "contract (signed).bin")
    assert content == dropped and name == "contract (signed).bin"

    # Over the limit (dropped, made in the page: 25 MiB through Playwright takes a minute):
    # said in the panel, nothing sent.
    huge = page.evaluate_handle(
        """() => { const transfer = new DataTransfer();
        transfer.items.add(new File([new Uint8Array(25 * 1024 * 1024 + 1)], "huge.iso"));
        return transfer; }"""
    )
    page.dispatch_event("[data-files-drop]", "drop", {"dataTransfer": huge})
    error = page.locator("[data-files-error]")
    error.wait_for()
    assert "“huge.iso” is over the upload limit of 25 MB." in error.inner_text()
    assert page.locator(".file-row").count() == 2
    page.locator("#files").screenshot(path=artifact("card-files-panel-desktop.png"))
    page.screenshot(path=artifact("card-files-desktop.png"), full_page=True)

    page.once("dialog", lambda dialog: dialog.accept())
    page.locator(".file-row", has_text="contract (signed).bin").get_by_role(
        "button", name="Remove contract (signed).bin"
    ).click()
    page.locator(".file-row", has_text="contract (signed).bin").wait_for(state="detached")
    assert page.evaluate("window.cardChanged") == 3
    assert page.locator(".file-row").count() == 1


def test_a_refusal_from_the_server_is_shown_in_the_panel(page):
    """The browser's own check is bypassed (a script could be stale): the server's 422 reaches
    the panel as its message."""
    card = new_card(page, f"Refused file {uuid.uuid4().hex[:6]}")
    page.goto(f"/cards/{card}")
    page.evaluate(
        """() => { const box = document.querySelector("[data-files-panel]");
        box.setAttribute("data-max-bytes", "0"); }"""
    )
    # An empty file is refused by the browser's check too; a name-only part is the server's.
    page.evaluate(
        """() => { const form = new FormData(); form.append("file", new Blob([]), "");
        return fetch(document.querySelector("[data-files-panel]").dataset.uploadUrl, {
          method: "POST", body: form, headers: { "HX-Request": "true",
          "X-CSRF-Token": JSON.parse(document.body.getAttribute("hx-headers"))["X-CSRF-Token"] }
        }).then((answer) => answer.text()).then((html) => {
          const holder = document.createElement("div"); holder.innerHTML = html;
          document.querySelector("[data-files-panel]").replaceWith(
            holder.querySelector("[data-files-panel]")); }); }"""
    )
    assert "Choose a file to upload." in page.locator("[data-files-error]").inner_text()


def test_the_files_panel_at_phone_width(new_tab, artifact):
    tab = new_tab(390, 844)
    card = new_card(tab, f"Phone files {uuid.uuid4().hex[:6]}")
    tab.goto(f"/cards/{card}")
    for name in (
        "Quote for the kitchen renovation, final version with all options.pdf",
        "photo.jpg",
    ):
        tab.set_input_files(
            "#files-input",
            files=[{"name": name, "mimeType": "image/jpeg", "buffer": name.encode() * 50}],
        )
        tab.locator(".file-row", has_text=name).wait_for()
    panel = tab.locator("#files")
    panel.scroll_into_view_if_needed()
    box = panel.bounding_box()
    assert box is not None and box["width"] <= 390
    width = tab.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page scrolls sideways at phone width ({width}px)"
    panel.screenshot(path=artifact("card-files-panel-phone.png"))
    tab.screenshot(path=artifact("card-files-phone.png"), full_page=True)
