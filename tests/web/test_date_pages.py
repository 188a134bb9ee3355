"""Every page writes dates one way: no template formats a date itself, and Today, the card page,
the board, the wall and the timeline show their dates in the named formats of dates.py, in
the viewer's own zone."""

from __future__ import annotations

import json
import re
from datetime import datetime
from html import unescape
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from cardcrm.core.web import dates

TEMPLATES = Path(dates.__file__).parent / "templates"
BUCHAREST = ZoneInfo("Europe/Bucharest")
# Saturday 5 December 2026, 12:00 UTC (14:00 in Bucharest).
NOW = datetime.fromisoformat("2026-12-05T12:00:00Z")
# Sunday 6 December, 00:32 UTC: 02:32 in Bucharest, so "Tomorrow, 02:32" there today.
DUE = "2026-12-06T00:32:00Z"
TIME_ELEMENT = re.compile(r'<time datetime="([^"]+)"[^>]*>([^<]*)</time>')
# The ways dates were written before: a zero-padded day ("06 Dec"), a US date ("12/6/2026").
OLD_STYLES = re.compile(
    r"\b0\d (?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)\b|\b\d{1,2}/\d{1,2}/\d{4}\b"
)


@pytest.fixture
def clock(app: Any) -> Any:
    app.config["CLOCK"] = lambda: NOW
    yield NOW
    app.config.pop("CLOCK", None)


@pytest.fixture
def ana(new_user: Any) -> Any:
    return new_user("ana@example.com", admin=True, timezone="Europe/Bucharest")


@pytest.fixture
def ana_web(app: Any, web_client: Any, ana: Any) -> Any:
    return web_client(app).log_in(ana.user.email)


def text_of(web: Any, path: str) -> str:
    answer = web.get(path)
    assert answer.status_code == 200, answer.get_data(as_text=True)[:600]
    return unescape(answer.get_data(as_text=True))


def assert_one_way(html: str, *, compact: bool) -> int:
    """Each ``<time>`` reads as its own instant in Ana's zone, and nothing in the old styles."""
    found = TIME_ELEMENT.findall(html)
    for machine, shown in found:
        expected = {dates.format_moment(machine, zone=BUCHAREST, locale="en")}
        if compact:
            expected.add(dates.moment_compact(machine, now=NOW, zone=BUCHAREST, locale="en"))
        assert shown in expected, (machine, shown)
    assert not OLD_STYLES.search(html), OLD_STYLES.search(html)
    return len(found)


def test_no_template_formats_a_date_itself():
    offending = [
        str(path.relative_to(TEMPLATES))
        for path in TEMPLATES.rglob("*.html")
        if re.search(r"strftime|local_time|toLocale", path.read_text())
    ]
    assert offending == []


def test_today_card_board_wall_and_timeline_write_dates_one_way(ana, ana_web, clock):
    product = ana.product("sales", name="Sales")
    deal = ana.card(product, "ACME deal")
    ana.task(deal, DUE, text="Call ACME")
    other = ana.card(product, "Globex renewal")
    ana.task(other, "2026-12-05", text="Send the offer", all_day=True)
    done = ana.task(other, "2026-12-20T08:00:00Z", text="Book the visit")
    ana.ok("POST", f"tasks/{done['id']}/close", {"outcome": "done"})

    today = text_of(ana_web, "/?from=2026-11-30&to=2026-12-06")
    assert "Mon 30 Nov – Sun 6 Dec 2026" in today  # the period's heading
    assert re.search(r'class="task-due">Tomorrow, 02:32<', today)
    assert re.search(r'class="task-due">Today \(all day\)<', today)
    assert_one_way(today, compact=True)
    assert "Saturday 5 December 2026" in text_of(ana_web, "/?from=2026-12-05&to=2026-12-05")

    card = text_of(ana_web, f"/cards/{deal['id']}")
    assert re.search(r'class="task-due">Sun 6 Dec 2026, 02:32<', card)
    assert assert_one_way(card, compact=False) >= 2  # the timeline's entries

    board = text_of(ana_web, f"/products/{product['id']}/board")
    chips = re.findall(r'class="due-chip[^"]*"[^>]*>(?:<span[^>]*>[^<]*</span>)?([^<]+)<', board)
    assert sorted(chips) == ["Today", "Tomorrow, 02:32"]
    assert_one_way(board, compact=True)

    wall = text_of(ana_web, "/wall")
    assert "Book the visit" in wall
    assert assert_one_way(wall, compact=True) >= 1


def test_the_page_gives_its_scripts_the_servers_patterns_locale_and_zone(ana_web):
    html = ana_web.get("/help").get_data(as_text=True)
    found = re.search(r"<html lang=\"en\" data-dates='([^']+)'>", html)
    assert found
    settings = json.loads(unescape(found.group(1)))
    assert settings["zone"] == "Europe/Bucharest"
    assert settings["locale"] == "en"
    assert settings["patterns"] == dates.patterns("en")
    assert settings["words"]["today"] == "Today"
    assert re.search(r'<script src="[^"]*/dates\.js"', html)
