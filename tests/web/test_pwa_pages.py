"""The installable app through Flask's test client: the manifest's required fields, the icons
it names served as PNG of their sizes, the service worker at the site's root, the mark that
tells the worker whose page it keeps, and the worker's look-ahead not counting as opening."""

from __future__ import annotations

import json
import struct
from typing import Any

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk (the first one, by the format's rule)."""
    assert data[:8] == PNG_SIGNATURE, "not a PNG"
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def test_the_manifest_names_what_an_install_needs_and_its_icons_are_real_pngs(web):
    answer = web.get("/manifest.webmanifest")  # browsers fetch it without cookies

    assert answer.status_code == 200
    assert answer.mimetype == "application/manifest+json"
    manifest = json.loads(answer.get_data(as_text=True))
    assert manifest["name"] and manifest["short_name"]
    assert manifest["start_url"] == "/" and manifest["scope"] == "/"
    assert manifest["display"] == "standalone"
    assert manifest["theme_color"].startswith("#") and manifest["background_color"].startswith("#")
    sizes = {}
    for icon in manifest["icons"]:
        assert icon["type"] == "image/png"
        image = web.get(icon["src"])
        assert image.status_code == 200 and image.mimetype == "image/png"
        width, height = png_size(image.get_data())
        assert icon["sizes"] == f"{width}x{height}"
        sizes.setdefault(icon.get("purpose", "any"), set()).add(width)
    assert {192, 512} <= sizes["any"]
    assert 512 in sizes["maskable"]


def test_every_page_links_the_manifest_the_icons_and_the_app_script(admin_web):
    html = admin_web.get("/").get_data(as_text=True)

    assert '<link rel="manifest" href="/manifest.webmanifest">' in html
    assert 'rel="apple-touch-icon" href="/assets/icons/apple-touch-icon.png"' in html
    assert '<script src="/assets/pwa.js" defer></script>' in html
    touch_icon = admin_web.get("/assets/icons/apple-touch-icon.png")
    assert png_size(touch_icon.get_data()) == (180, 180)


def test_the_service_worker_is_served_at_the_root_with_its_assets_filled_in(web):
    answer = web.get("/sw.js")

    assert answer.status_code == 200
    assert answer.mimetype == "text/javascript"
    assert answer.headers["Cache-Control"] == "no-cache"
    script = answer.get_data(as_text=True)
    assert "__ASSETS_VERSION__" not in script and "__ASSET_URLS__" not in script
    assert '"/assets/app.css"' in script and '"/assets/pwa.js"' in script
    assert '"/assets/sw.js"' not in script


def test_pages_say_whose_they_are_so_the_worker_never_keeps_them_across_users(
    web_client, app, admin, member
):
    admin_page = web_client(app).log_in(admin.user.email).get("/recent")
    member_page = web_client(app).log_in(member.user.email).get("/recent")
    logged_out = web_client(app).get("/login")

    admin_owner = admin_page.headers["X-Cardcrm-Page-Owner"]
    assert admin_owner and admin_owner != member_page.headers["X-Cardcrm-Page-Owner"]
    assert str(admin.user.id) != admin_owner  # not the id itself
    assert "X-Cardcrm-Page-Owner" not in logged_out.headers


def test_fetching_a_card_ahead_for_offline_use_does_not_make_it_a_recent_card(admin_web, admin):
    product = admin.product("sales", name="Sales")
    fetched_ahead = admin.card(product, "Fetched ahead")
    opened = admin.card(product, "Opened by hand")

    ahead: Any = admin_web.get(f"/cards/{fetched_ahead['id']}", headers={"Sec-Purpose": "prefetch"})
    admin_web.get(f"/cards/{opened['id']}")

    assert ahead.status_code == 200
    recent = admin_web.get("/recent").get_data(as_text=True)
    assert "Opened by hand" in recent
    assert "Fetched ahead" not in recent
