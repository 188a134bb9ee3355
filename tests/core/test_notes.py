"""Notes on a card: written, read, edited and deleted as the card's access rules allow, their
Markdown rendered to HTML that carries nothing a browser would run, found by the card list's
``q``, with mentions only of people who may see the card."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest


def note(api, card, body="Called *Ana*", **extra):
    return api.ok("POST", f"cards/{card['id']}/notes", {"body": body, **extra}, status=201)


def events_of(api, type_):
    page = api.ok("GET", "events?after=0&limit=1000")
    return [event for event in page["items"] if event["type"] == type_]


@pytest.fixture
def sales(admin):
    return admin.product("sales")


# --- writing and reading ------------------------------------------------------------------------


def test_a_note_is_written_read_listed_edited_and_deleted(admin, sales):
    card = admin.card(sales, "ACME")
    response = admin.post(f"cards/{card['id']}/notes", {"body": "Called **Ana**: wants 10"})
    assert response.status_code == 201
    written = response.get_json()
    assert set(written) == {
        "id", "card_id", "author_id", "body", "html", "mentions",
        "created_at", "updated_at", "version", "not_notified",
    }  # fmt: skip
    assert written["card_id"] == card["id"] and written["author_id"] == admin.user.id
    assert written["html"] == "<p>Called <strong>Ana</strong>: wants 10</p>\n"
    assert written["mentions"] == [] and written["not_notified"] == []
    assert response.headers["Location"] == f"/api/v1/notes/{written['id']}"
    assert response.headers["ETag"] == f'"{written["version"]}"'

    read = admin.get(f"notes/{written['id']}")
    assert read.headers["ETag"] == f'"{written["version"]}"'
    assert read.get_json()["body"] == "Called **Ana**: wants 10"
    second = note(admin, card, "Sent the offer")
    listed = admin.ok("GET", f"cards/{card['id']}/notes")["items"]
    assert [item["id"] for item in listed] == [second["id"], written["id"]]  # newest first

    edited = admin.ok("PATCH", f"notes/{written['id']}", {"body": "Called Ana: wants 12"})
    assert edited["html"] == "<p>Called Ana: wants 12</p>\n"
    assert edited["version"] == written["version"] + 1
    assert admin.delete(f"notes/{written['id']}").status_code == 204
    assert admin.get(f"notes/{written['id']}").status_code == 404
    assert [item["id"] for item in admin.ok("GET", f"cards/{card['id']}/notes")["items"]] == [
        second["id"]
    ]


def test_notes_are_paged_newest_first(admin, sales):
    card = admin.card(sales)
    ids = [note(admin, card, f"Note {number}")["id"] for number in range(5)]
    first = admin.ok("GET", f"cards/{card['id']}/notes?limit=2")
    second = admin.ok("GET", f"cards/{card['id']}/notes?limit=2&cursor={first['next_cursor']}")
    third = admin.ok("GET", f"cards/{card['id']}/notes?limit=2&cursor={second['next_cursor']}")
    seen = [item["id"] for page in (first, second, third) for item in page["items"]]
    assert seen == ids[::-1] and third["next_cursor"] is None


@pytest.mark.parametrize("body", ["", "   \n\t ", "x" * 100_001])
def test_an_empty_or_overlong_note_is_refused(admin, sales, body):
    card = admin.card(sales)
    response = admin.post(f"cards/{card['id']}/notes", {"body": body})
    assert response.status_code == 422
    assert "body" in response.get_json()["errors"]
    assert admin.ok("GET", f"cards/{card['id']}/notes")["items"] == []


def test_a_long_note_up_to_the_limit_is_kept(admin, sales):
    card = admin.card(sales)
    assert len(note(admin, card, "y" * 100_000)["body"]) == 100_000


def test_control_characters_and_unknown_fields_are_refused(admin, sales):
    card = admin.card(sales)
    assert admin.post(f"cards/{card['id']}/notes", {"body": "bell \x07"}).status_code == 422
    assert admin.post(f"cards/{card['id']}/notes", {"body": "a", "x": 1}).status_code == 422
    assert admin.post(f"cards/{card['id']}/notes", {"body": 5}).status_code == 422
    written = note(admin, card, "Line one\nLine two\tand a tab")
    assert written["body"] == "Line one\nLine two\tand a tab"
    patched = admin.patch(f"notes/{written['id']}", {"body": "nul \x00"})
    assert patched.status_code == 422
    assert admin.ok("GET", f"notes/{written['id']}")["version"] == written["version"]


# --- who may do what ------------------------------------------------------------------------------


def test_only_the_author_or_an_admin_edits_or_deletes_a_note(admin, sales, new_user):
    ana, bob = new_user("ana@example.com"), new_user("bob@example.com")
    admin.grant(sales, ana, bob)
    card = admin.card(sales)
    written = note(ana, card, "Ana's note")
    assert bob.ok("GET", f"notes/{written['id']}")["body"] == "Ana's note"  # everyone reads
    assert bob.patch(f"notes/{written['id']}", {"body": "Bob was here"}).status_code == 403
    assert bob.delete(f"notes/{written['id']}").status_code == 403
    assert bob.ok("GET", f"notes/{written['id']}")["body"] == "Ana's note"
    ana.ok("PATCH", f"notes/{written['id']}", {"body": "Ana's note, edited"})
    admin.ok("PATCH", f"notes/{written['id']}", {"body": "Moderated"})
    assert admin.delete(f"notes/{written['id']}").status_code == 204


def test_notes_of_a_card_one_may_not_see_are_not_found(admin, sales, new_user):
    outsider, limited = new_user("out@example.com"), new_user("limited@example.com")
    admin.grant(sales, limited, own_cards_only=True)
    card = admin.card(sales, owner_id=admin.user.id)
    written = note(admin, card)
    for api in (outsider, limited):
        assert api.get(f"cards/{card['id']}/notes").status_code == 404
        assert api.get(f"notes/{written['id']}").status_code == 404
        assert api.post(f"cards/{card['id']}/notes", {"body": "hi"}).status_code == 404
        assert api.patch(f"notes/{written['id']}", {"body": "hi"}).status_code == 404
        assert api.delete(f"notes/{written['id']}").status_code == 404
        assert api.get(f"cards/{card['id']}/mentionable").status_code == 404
    own = admin.card(sales, owner_id=limited.user.id)
    assert note(limited, own, "Mine")["author_id"] == limited.user.id


def test_if_match_guards_edits_and_deletes(admin, sales):
    card = admin.card(sales)
    written = note(admin, card)
    stale = {"If-Match": f'"{written["version"]}"'}
    admin.ok("PATCH", f"notes/{written['id']}", {"body": "First edit"}, headers=stale)
    response = admin.patch(f"notes/{written['id']}", {"body": "Second edit"}, headers=stale)
    assert response.status_code == 412
    assert admin.delete(f"notes/{written['id']}", headers=stale).status_code == 412
    assert admin.ok("GET", f"notes/{written['id']}")["body"] == "First edit"
    fresh = {"If-Match": f'"{written["version"] + 1}"'}
    assert admin.delete(f"notes/{written['id']}", headers=fresh).status_code == 204


def test_a_card_in_the_trash_takes_no_note_changes_but_shows_its_notes(admin, sales):
    card = admin.card(sales)
    written = note(admin, card)
    assert admin.delete(f"cards/{card['id']}").status_code == 204
    assert admin.post(f"cards/{card['id']}/notes", {"body": "late"}).status_code == 409
    assert admin.patch(f"notes/{written['id']}", {"body": "late"}).status_code == 409
    assert admin.delete(f"notes/{written['id']}").status_code == 409
    assert [n["id"] for n in admin.ok("GET", f"cards/{card['id']}/notes")["items"]] == [
        written["id"]
    ]
    admin.ok("POST", f"cards/{card['id']}/restore")
    note(admin, card, "Back again")


def test_purging_a_card_removes_its_notes(admin, sales):
    card = admin.card(sales)
    written = note(admin, card)
    admin.delete(f"cards/{card['id']}")
    assert admin.delete(f"cards/{card['id']}?purge=true").status_code == 204
    assert admin.get(f"notes/{written['id']}").status_code == 404


# --- Markdown, sanitised ------------------------------------------------------------------------

HOSTILE = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    '<a href="javascript:alert(1)">x</a>',
    "[click](javascript:alert(1))",
    "[click](JaVaScRiPt:alert(1))",
    "[click](java&#115;cript:alert(1))",
    "[click](&#106;avascript:alert(1))",
    "[click](vbscript:msgbox(1))",
    "[data](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "![x](data:image/svg+xml,<svg onload=alert(1)>)",
    "![x](https://tracker.example/pixel.gif)",
    "<iframe src=https://evil.example></iframe>",
    "<div onmouseover=alert(1)>hover</div>",
    "&lt;script&gt;alert(1)&lt;/script&gt;",
    "<scr<script>ipt>alert(1)</script>",
    '<svg><a xlink:href="javascript:alert(1)">x</a></svg>',
    "<style>body{display:none}</style>",
    '[x](https://ok.example "title\\" onmouseover=\\"alert(1)")',
    "<!-- comment --><b>bold</b>",
    "`<script>in code</script>`\n\n    <script>indented</script>",
    "| a | b |\n|---|:-:|\n| <script>x</script> | [y](javascript:z) |",
]


class Elements(HTMLParser):
    """The elements and attributes a browser would build from some HTML."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[str, dict[str, str | None]]] = []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, dict(attrs)))


@pytest.mark.parametrize("body", HOSTILE)
def test_no_raw_html_survives_in_a_note(admin, sales, body):
    card = admin.card(sales)
    html = note(admin, card, body)["html"]
    elements = Elements(html).found
    allowed = {"p", "a", "code", "pre", "table", "thead", "tbody", "tr", "th", "td", "strong"}
    assert {tag for tag, _ in elements} <= allowed, html
    for _tag, attributes in elements:
        assert not [name for name in attributes if name.startswith("on")], html
        assert set(attributes) <= {"href", "title", "rel", "style"}, html
        if "href" in attributes:
            assert (attributes["href"] or "").startswith(("http:", "https:", "mailto:")), html
            assert attributes["rel"] == "noopener noreferrer nofollow"
        if "style" in attributes:
            assert re.fullmatch(r"text-align:\s*(left|right|center)", attributes["style"] or "")


def test_markdown_renders_links_lists_tables_and_strikethrough(admin, sales):
    card = admin.card(sales)
    body = (
        "# Meeting\n\n- one\n- **two**\n\n1. first\n\n"
        "See [the offer](https://example.com/offer) or mail <mailto:ana@example.com>.\n\n"
        "~~old price~~ new price\n\n| item | qty |\n|---|--:|\n| chairs | 10 |\n"
    )
    html = note(admin, card, body)["html"]
    assert "<h1>Meeting</h1>" in html and "<li><strong>two</strong></li>" in html
    assert (
        '<a href="https://example.com/offer" rel="noopener noreferrer nofollow">the offer</a>'
        in html
    )
    assert 'href="mailto:ana@example.com"' in html
    assert "<s>old price</s>" in html or "<del>old price</del>" in html
    assert "<table>" in html and 'style="text-align:right"' in html


def test_preview_renders_without_storing(admin, sales):
    card = admin.card(sales)
    preview = admin.ok("POST", "notes/preview", {"body": "**hi** <script>x</script>"})
    assert preview["html"] == "<p><strong>hi</strong> &lt;script&gt;x&lt;/script&gt;</p>\n"
    assert admin.ok("GET", f"cards/{card['id']}/notes")["items"] == []


# --- events, history and the card ---------------------------------------------------------------


def test_note_writes_record_events_and_history_and_move_only_the_cards_updated_at(
    admin, sales, new_user
):
    ana = new_user("ana@example.com")
    admin.grant(sales, ana)
    card = admin.card(sales, owner_id=ana.user.id)
    written = note(admin, card, "First")
    after_create = admin.ok("GET", f"cards/{card['id']}")
    assert after_create["updated_at"] > card["updated_at"]
    assert after_create["version"] == card["version"]  # a card form open elsewhere stays valid
    admin.ok("PATCH", f"notes/{written['id']}", {"body": "Second", "mentions": [ana.user.id]})
    after_edit = admin.ok("GET", f"cards/{card['id']}")
    assert after_edit["updated_at"] > after_create["updated_at"]
    admin.delete(f"notes/{written['id']}")
    assert admin.ok("GET", f"cards/{card['id']}")["version"] == card["version"]

    created = events_of(admin, "note.created")[-1]
    assert created["actor_id"] == admin.user.id
    assert created["data"]["id"] == written["id"] and created["data"]["body"] == "First"
    assert created["data"]["product_id"] == sales["id"]
    assert created["data"]["owner_id"] == ana.user.id
    updated = events_of(admin, "note.updated")[-1]["data"]
    assert updated["body"] == "Second" and updated["mentions"] == [ana.user.id]
    assert updated["new_mentions"] == [ana.user.id]
    deleted = events_of(admin, "note.deleted")[-1]["data"]
    assert deleted["id"] == written["id"] and deleted["body"] == "Second"

    rows = admin.ok("GET", f"cards/{card['id']}/history?type=note")["items"]
    assert [row["type"] for row in rows] == ["note.created", "note.updated", "note.deleted"]
    assert rows[0]["data"]["note_id"] == written["id"] and rows[0]["user_id"] == admin.user.id
    assert rows[1]["data"]["before"] == "First" and rows[1]["data"]["excerpt"] == "Second"


def test_an_edit_that_changes_nothing_records_nothing(admin, sales):
    card = admin.card(sales)
    written = note(admin, card, "Same")
    same = admin.ok("PATCH", f"notes/{written['id']}", {"body": "Same"})
    assert same["version"] == written["version"]
    assert len(events_of(admin, "note.updated")) == 0


def test_a_second_edit_notifies_only_the_mentions_it_adds(admin, sales, new_user):
    ana, bob = new_user("ana@example.com"), new_user("bob@example.com")
    admin.grant(sales, ana, bob)
    card = admin.card(sales)
    written = note(admin, card, "@Ana", mentions=[ana.user.id])
    admin.ok("PATCH", f"notes/{written['id']}", {"mentions": [ana.user.id, bob.user.id]})
    assert events_of(admin, "note.updated")[-1]["data"]["new_mentions"] == [bob.user.id]
    admin.ok("PATCH", f"notes/{written['id']}", {"body": "@Ana @Bob, see this"})
    last = events_of(admin, "note.updated")[-1]["data"]
    assert last["new_mentions"] == [] and last["mentions"] == [ana.user.id, bob.user.id]


# --- the card list's q --------------------------------------------------------------------------


def test_the_card_lists_q_finds_words_in_notes(admin, sales, new_user):
    acme = admin.card(sales, "ACME")
    globex = admin.card(sales, "Globex")
    admin.card(sales, "Initech")
    note(admin, acme, "Ștefan wants a **discount** on chairs")
    note(admin, globex, "Nothing to say")

    def found(q):
        items = admin.ok("GET", f"products/{sales['id']}/cards?q={q}")["items"]
        return sorted(card["title"] for card in items)

    assert found("discount") == ["ACME"]
    assert found("DISCOUNT") == ["ACME"]
    assert found("stefan") == ["ACME"]  # accents ignored in notes
    assert found("glob") == ["Globex"]  # titles as before
    assert found("nothing%") == []  # LIKE wildcards are plain text
    assert found("to say") == ["Globex"]
    # A note of another product's card does not bring this product's cards.
    other = admin.product("sales")
    note(admin, admin.card(other, "Elsewhere"), "discount elsewhere")
    assert found("discount") == ["ACME"]
    # Deleted notes are not found.
    acme_note = admin.ok("GET", f"cards/{acme['id']}/notes")["items"][0]
    admin.delete(f"notes/{acme_note['id']}")
    assert found("discount") == []


def test_q_in_notes_keeps_the_access_rules(admin, sales, new_user):
    limited = new_user("limited@example.com")
    admin.grant(sales, limited, own_cards_only=True)
    theirs = admin.card(sales, "Theirs", owner_id=admin.user.id)
    note(admin, theirs, "secret discount")
    items = limited.ok("GET", f"products/{sales['id']}/cards?q=discount")["items"]
    assert items == []


# --- mentions ------------------------------------------------------------------------------------


def test_mentions_must_name_existing_users(admin, sales):
    card = admin.card(sales)
    response = admin.post(f"cards/{card['id']}/notes", {"body": "hi", "mentions": [999999]})
    assert response.status_code == 422 and "mentions" in response.get_json()["errors"]
    assert (
        admin.post(f"cards/{card['id']}/notes", {"body": "hi", "mentions": ["x"]}).status_code
        == 422
    )
    assert admin.ok("GET", f"cards/{card['id']}/notes")["items"] == []


def test_mentioned_users_who_may_not_see_the_card_are_not_notified_and_the_author_is_told(
    admin, sales, new_user
):
    member = new_user("member@example.com")
    limited = new_user("limited@example.com")
    outsider = new_user("outsider@example.com")
    boss = new_user("boss@example.com", admin=True)
    admin.grant(sales, member)
    admin.grant(sales, limited, own_cards_only=True)
    card = admin.card(sales, owner_id=member.user.id)
    ids = [member.user.id, limited.user.id, outsider.user.id, boss.user.id, member.user.id]
    written = note(admin, card, "@all", mentions=ids)
    assert written["mentions"] == [member.user.id, boss.user.id]
    assert written["not_notified"] == [
        {"user_id": limited.user.id, "reason": "sees only their own cards in the card's product"},
        {"user_id": outsider.user.id, "reason": "not a member of the card's product"},
    ]
    assert admin.ok("GET", f"notes/{written['id']}")["mentions"] == [member.user.id, boss.user.id]
    assert events_of(admin, "note.created")[-1]["data"]["mentions"] == [
        member.user.id,
        boss.user.id,
    ]
    # A limited member sees an unowned card, so may be mentioned on it.
    unowned = admin.card(sales)
    assert note(admin, unowned, "@limited", mentions=[limited.user.id])["mentions"] == [
        limited.user.id
    ]


def test_mentionable_lists_who_may_see_the_card_by_prefix_ignoring_case_and_accents(
    admin, sales, new_user
):
    stefan = new_user("stefan@example.com")
    ioana = new_user("ioana@example.com")
    limited = new_user("lim@example.com")
    new_user("outsider@example.com")
    admin.grant(sales, stefan, ioana)
    admin.grant(sales, limited, own_cards_only=True)
    from cardcrm.common.db import get_db
    from cardcrm.core.auth.models import User

    with admin.client.application.app_context():
        session = get_db().session()
        session.get(User, stefan.user.id).name = "Ștefan Ionescu"
        session.commit()
        session.close()
    card = admin.card(sales, owner_id=stefan.user.id)

    def names(q=""):
        items = stefan.ok("GET", f"cards/{card['id']}/mentionable?q={q}")["items"]
        return [item["name"] for item in items]

    assert names() == ["Admin", "Ioana", "Ștefan Ionescu"]  # not the limited, not the outsider
    assert names("stef") == ["Ștefan Ionescu"]
    assert names("ION") == ["Ștefan Ionescu"]  # a word of the name
    assert names("io") == ["Ioana", "Ștefan Ionescu"]
    assert names("@ioana") == ["Ioana"]
    assert names("admin@") == ["Admin"]  # the e-mail
    assert names("zzz") == []
    item = stefan.ok("GET", f"cards/{card['id']}/mentionable?q=ioa")["items"][0]
    assert item == {"id": ioana.user.id, "name": "Ioana", "email": "ioana@example.com"}
    unowned = admin.card(sales)
    assert "Lim" in [
        i["name"] for i in admin.ok("GET", f"cards/{unowned['id']}/mentionable")["items"]
    ]


def test_mentionable_lists_at_most_twenty(admin, sales, new_user):
    people = [new_user(f"person{number:02}@example.com") for number in range(25)]
    admin.grant(sales, *people)
    card = admin.card(sales)
    assert len(admin.ok("GET", f"cards/{card['id']}/mentionable?q=person")["items"]) == 20
