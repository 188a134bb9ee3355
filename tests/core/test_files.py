"""A card's files through the API: upload, list, read, download; stored once per content, bounded
in size while they stream in, under the card's access rules, and removed with the card only
when nothing else names the same bytes (and only once that removal has committed)."""

from __future__ import annotations

import hashlib
import http.client
import io
import json
import stat
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from cardcrm.common.db import get_db, write_transaction
from cardcrm.core.auth.models import User
from cardcrm.core.cards.models import Card
from cardcrm.core.files import service as files_service
from cardcrm.core.files.contents import sweep_orphans
from cardcrm.core.files.models import CardFile
from cardcrm.core.files.storage import FileStorage, LocalFileStorage, get_storage
from cardcrm.core.hookspecs import hookimpl
from cardcrm.core.timeline import SOURCES
from sqlalchemy import func, select

from tests.conftest import Api


def upload(api: Api, card: dict, content: bytes, name: str = "offer.pdf", **kwargs: Any) -> Any:
    content_type = kwargs.pop("content_type", None)
    part = (
        (io.BytesIO(content), name, content_type) if content_type else (io.BytesIO(content), name)
    )
    return api.post(f"cards/{card['id']}/files", None, data={"file": part}, **kwargs)


def uploaded(api: Api, card: dict, content: bytes, name: str = "offer.pdf", **kwargs: Any) -> dict:
    response = upload(api, card, content, name, **kwargs)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def stored_files(app: Any) -> list[Path]:
    """The contents in the file storage (not its temporary files)."""
    root = Path(app.config["DATA_DIR"]) / "files"
    return sorted(path for path in root.glob("??/??/*") if path.is_file())


def temporary_files(app: Any) -> list[Path]:
    return sorted((Path(app.config["DATA_DIR"]) / "files" / "tmp").glob("*"))


def rows(app: Any) -> int:
    with app.app_context():
        session = get_db().session()
        try:
            return session.scalar(select(func.count()).select_from(CardFile)) or 0
        finally:
            session.close()


def refused(response: Any, status: int) -> dict:
    assert response.status_code == status, (response.status_code, response.get_data()[:300])
    assert response.mimetype == "application/problem+json"
    return response.get_json()


@pytest.fixture
def card(admin: Api) -> dict:
    return admin.card(admin.product("sales"), "ACME")


# --- upload, read, download ------------------------------------------------------------------


def test_an_uploaded_file_is_described_listed_and_downloaded_with_the_same_bytes(admin, card):
    content = b"%PDF-1.4\n" + bytes(range(256)) * 400
    response = upload(admin, card, content, "Ofertă 2026 — ACME.pdf")
    assert response.status_code == 201
    file = response.get_json()
    assert set(file) == {
        "id",
        "card_id",
        "name",
        "size",
        "content_type",
        "sha256",
        "uploaded_by",
        "created_at",
    }
    assert file["card_id"] == card["id"]
    assert file["name"] == "Ofertă 2026 — ACME.pdf"
    assert file["size"] == len(content)
    assert file["content_type"] == "application/pdf"
    assert file["sha256"] == hashlib.sha256(content).hexdigest()
    assert file["uploaded_by"] == admin.user.id
    assert file["created_at"].endswith("Z")
    assert response.headers["Location"] == f"/api/v1/files/{file['id']}"

    assert admin.ok("GET", f"files/{file['id']}") == file
    assert admin.ok("GET", f"cards/{card['id']}/files")["items"] == [file]

    download = admin.get(f"files/{file['id']}/content")
    assert download.status_code == 200
    assert download.data == content
    assert download.headers["Content-Type"] == "application/pdf"
    assert download.headers["Content-Length"] == str(len(content))
    assert download.headers["Content-Disposition"] == (
        "attachment; filename=\"Oferta 2026 _ ACME.pdf\"; filename*=UTF-8''"
        + quote("Ofertă 2026 — ACME.pdf", safe="")
    )
    assert download.headers["X-Content-Type-Options"] == "nosniff"
    assert download.headers["Content-Security-Policy"] == "sandbox; default-src 'none'"
    assert download.headers["ETag"] == f'"{file["sha256"]}"'
    again = admin.get(
        f"files/{file['id']}/content", headers={"If-None-Match": download.headers["ETag"]}
    )
    assert again.status_code == 304 and again.data == b""


def test_the_list_is_newest_first_and_pages_with_a_cursor(admin, card):
    names = [f"page-{number}.txt" for number in range(5)]
    for name in names:
        uploaded(admin, card, name.encode(), name)
    first = admin.ok("GET", f"cards/{card['id']}/files?limit=3")
    second = admin.ok("GET", f"cards/{card['id']}/files?limit=3&cursor={first['next_cursor']}")
    assert [item["name"] for item in first["items"] + second["items"]] == names[::-1]
    assert second["next_cursor"] is None


@pytest.mark.parametrize(
    ("given", "name"),
    [
        ("text/html", "page.html"),
        ("image/svg+xml", "logo.svg"),
        ("application/xhtml+xml", "page.xhtml"),
        ("text/xml", "feed.xml"),
        ("text/plain", "page.html"),  # what it says it is is kept, and that is not HTML
        (None, "page.htm"),  # no type given: guessed from the name, then made harmless
    ],
)
def test_what_a_browser_would_render_as_a_page_is_downloaded_as_plain_bytes(
    admin, card, given, name
):
    content = b"<html><script>alert(document.cookie)</script></html>"
    file = uploaded(admin, card, content, name, content_type=given)
    download = admin.get(f"files/{file['id']}/content")
    assert download.data == content
    assert download.headers["Content-Disposition"].startswith("attachment;")
    assert download.headers["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in download.headers["Content-Security-Policy"]
    served = download.headers["Content-Type"].split(";")[0]
    assert "html" not in served and "xml" not in served
    if given == "text/plain":
        assert served == "text/plain"
    else:
        assert served == "application/octet-stream"


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("../../etc/passwd", "passwd"),
        ("/home/ana/Desktop/report.docx", "report.docx"),
        ("a\x07b\x1bc.txt", "abc.txt"),
        ("invoice\u202etxt.exe", "invoicetxt.exe"),  # no right-to-left override ("exe.txt")
        ("..", "file"),
        ("名前 📎.txt", "名前 📎.txt"),
        ("x" * 300 + ".pdf", "x" * 251 + ".pdf"),
    ],
)
def test_names_lose_folders_and_control_characters_and_are_cut_at_255(admin, card, given, kept):
    file = uploaded(admin, card, b"content", given)
    assert file["name"] == kept
    header = admin.get(f"files/{file['id']}/content").headers["Content-Disposition"]
    assert header.isascii() and "\n" not in header and "/" not in header.split("filename=")[1]


def test_windows_paths_are_cut_to_the_name_too():
    assert files_service.clean_name("C:\\Users\\ana\\Desktop\\report.docx") == "report.docx"
    assert files_service.clean_name("  \u200fnotes.txt\t") == "notes.txt"


def test_the_same_bytes_uploaded_twice_are_stored_once_privately(app, admin, card):
    other = admin.card(admin.product("projects"), "Globex")
    content = b"the same signed contract" * 1000
    first = uploaded(admin, card, content, "contract.pdf")
    second = uploaded(admin, other, content, "contract (copy).pdf")
    third = uploaded(admin, card, content, "contract.pdf")
    assert len({first["id"], second["id"], third["id"]}) == 3
    assert first["sha256"] == second["sha256"] == third["sha256"]
    [path] = stored_files(app)
    sha = first["sha256"]
    assert path.relative_to(Path(app.config["DATA_DIR"]) / "files") == Path(sha[:2], sha[2:4], sha)
    assert path.read_bytes() == content
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    for folder in (path.parent, path.parent.parent, path.parent.parent.parent):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert temporary_files(app) == []


# --- limits and bad input ----------------------------------------------------------------------


@pytest.fixture
def small_limit(app: Any) -> int:
    app.config["MAX_UPLOAD_BYTES"] = 256 * 1024
    return app.config["MAX_UPLOAD_BYTES"]


def test_a_file_over_the_limit_is_refused_with_413_and_nothing_is_kept(
    app, admin, card, small_limit
):
    problem = refused(upload(admin, card, b"x" * (small_limit + 1)), 413)
    assert "CARDCRM_MAX_UPLOAD_MB" in problem["detail"]
    assert admin.ok("GET", f"cards/{card['id']}/files")["items"] == []
    uploaded(admin, card, b"x" * small_limit)  # exactly the limit is taken
    assert rows(app) == 1 and len(stored_files(app)) == 1


def test_a_streamed_body_without_a_length_is_cut_at_the_limit_over_real_http(
    app, admin, card, small_limit, core_server
):
    """A client that sends no Content-Length (chunked) cannot make the server read more than
    the limit: 413 as soon as the body passes it, and nothing lands on the disk."""
    host, port = core_server.url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    boundary = "cardcrm-test-boundary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.bin"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    sent = {"bytes": 0}

    def body():
        yield head
        piece = b"\0" * 65536
        for _ in range(4 * small_limit // len(piece)):  # four times the limit
            sent["bytes"] += len(piece)
            yield piece
        yield f"\r\n--{boundary}--\r\n".encode()

    try:
        connection.request(
            "POST",
            f"/api/v1/cards/{card['id']}/files",
            body=body(),
            headers={
                "Authorization": f"Bearer {admin.token}",
                "Content-Type": f"multipart/form-data; boundary={boundary}",
            },
            encode_chunked=True,
        )
        response = connection.getresponse()
        status, problem = response.status, json.loads(response.read())
    except (BrokenPipeError, ConnectionResetError):  # the server may stop reading at once
        status, problem = 413, {"status": 413}
    finally:
        connection.close()
    assert status == 413 and problem["status"] == 413
    assert rows(app) == 0 and stored_files(app) == []


def test_a_client_announcing_too_much_is_refused_before_the_body_is_read(
    app, admin, card, small_limit, core_server
):
    host, port = core_server.url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        connection.putrequest("POST", f"/api/v1/cards/{card['id']}/files")
        connection.putheader("Authorization", f"Bearer {admin.token}")
        connection.putheader("Content-Type", "multipart/form-data; boundary=b")
        connection.putheader("Content-Length", str(small_limit + 10 * 1024 * 1024))
        connection.endheaders(b"--b\r\n")  # and then nothing: the answer must not wait for it
        response = connection.getresponse()
        assert response.status == 413
        assert json.loads(response.read())["status"] == 413
    finally:
        connection.close()
    assert rows(app) == 0 and stored_files(app) == []


def test_a_client_lying_about_a_short_length_gets_a_4xx_and_no_file(app, admin, card, small_limit):
    """Only the announced bytes are read: the rest of the body never reaches the disk."""
    content = b"y" * (3 * small_limit)
    good = upload(admin, card, content)  # built as the test client would send it...
    assert good.status_code == 413
    body = (
        b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.bin"\r\n\r\n'
        + content
        + b"\r\n--b--\r\n"
    )
    response = admin.post(
        f"cards/{card['id']}/files",
        None,
        input_stream=io.BytesIO(body),
        headers={"Content-Type": "multipart/form-data; boundary=b", "Content-Length": "200"},
    )
    assert 400 <= response.status_code < 500
    assert rows(app) == 0 and stored_files(app) == []


def test_a_missing_or_empty_file_is_a_422(app, admin, card):
    path = f"cards/{card['id']}/files"
    missing = admin.post(path, None, data={"other": "x"})
    assert "file" in refused(missing, 422)["errors"]
    no_name = admin.post(path, None, data={"file": (io.BytesIO(b""), "")})
    assert "file" in refused(no_name, 422)["errors"]
    empty = upload(admin, card, b"", "empty.txt")
    assert refused(empty, 422)["errors"] == {"file": ["The file is empty."]}
    as_json = admin.post(path, {"file": "aGVsbG8="})
    assert "file" in refused(as_json, 422)["errors"]
    assert rows(app) == 0


# --- who may do what ---------------------------------------------------------------------------


def test_someone_who_may_not_see_the_card_gets_404_for_its_files(admin, new_user, card):
    file = uploaded(admin, card, b"secret numbers", "secret.txt")
    outsider = new_user("outsider@example.com")
    for path in (f"cards/{card['id']}/files", f"files/{file['id']}", f"files/{file['id']}/content"):
        response = outsider.get(path)
        assert response.status_code == 404, path
        assert b"secret" not in response.data
    assert refused(upload(outsider, card, b"planted"), 404)
    assert refused(outsider.delete(f"files/{file['id']}"), 404)
    assert admin.ok("GET", f"cards/{card['id']}/files")["items"] == [file]


def test_a_member_limited_to_own_cards_sees_files_of_their_cards_only(admin, new_user):
    product = admin.product("sales")
    ana = new_user("ana@example.com")
    admin.grant(product, ana, own_cards_only=True)
    theirs = admin.card(product, "Ana's", owner_id=ana.user.id)
    others = admin.card(product, "Someone else's", owner_id=admin.user.id)
    hidden = uploaded(admin, others, b"not for ana", "hidden.txt")
    mine = uploaded(ana, theirs, b"ana's notes", "notes.txt")
    assert ana.ok("GET", f"cards/{theirs['id']}/files")["items"] == [mine]
    assert ana.get(f"files/{mine['id']}/content").data == b"ana's notes"
    assert ana.get(f"cards/{others['id']}/files").status_code == 404
    assert ana.get(f"files/{hidden['id']}").status_code == 404
    assert ana.get(f"files/{hidden['id']}/content").status_code == 404
    assert upload(ana, others, b"x").status_code == 404


def test_the_uploader_the_card_owner_and_admins_may_remove_a_file_others_may_not(
    app, admin, new_user
):
    product = admin.product("sales")
    owner, uploader, colleague = (new_user(f"{who}@example.com") for who in ("o", "u", "c"))
    admin.grant(product, owner, uploader, colleague)
    card = admin.card(product, "Shared", owner_id=owner.user.id)
    files = [
        uploaded(uploader, card, f"v{number}".encode(), f"v{number}.txt") for number in range(3)
    ]
    problem = refused(colleague.delete(f"files/{files[0]['id']}"), 403)
    assert "uploaded" in problem["detail"]
    assert colleague.ok("GET", f"files/{files[0]['id']}")  # still there, still visible
    assert uploader.delete(f"files/{files[0]['id']}").status_code == 204
    assert owner.delete(f"files/{files[1]['id']}").status_code == 204
    assert admin.delete(f"files/{files[2]['id']}").status_code == 204
    assert admin.ok("GET", f"cards/{card['id']}/files")["items"] == []
    assert stored_files(app) == []  # nothing else named those bytes
    assert admin.get(f"files/{files[0]['id']}").status_code == 404


def test_a_trashed_cards_files_can_be_read_but_not_added_or_removed(admin, member):
    product = admin.product("sales")
    admin.grant(product, member)
    card = admin.card(product, "Old deal")
    file = uploaded(admin, card, b"kept in the trash", "kept.txt")
    assert admin.delete(f"cards/{card['id']}").status_code == 204
    assert refused(upload(admin, card, b"more"), 409)
    assert refused(admin.delete(f"files/{file['id']}"), 409)
    assert member.ok("GET", f"cards/{card['id']}/files")["items"] == [file]
    assert member.get(f"files/{file['id']}/content").data == b"kept in the trash"
    admin.ok("POST", f"cards/{card['id']}/restore")
    assert admin.delete(f"files/{file['id']}").status_code == 204


# --- purge, orphans, rollback ----------------------------------------------------------------


def test_purging_a_card_removes_its_files_and_the_bytes_no_other_card_names(app, admin):
    product = admin.product("sales")
    first, second = admin.card(product, "First"), admin.card(product, "Second")
    shared = uploaded(admin, first, b"shared attachment", "shared.txt")
    uploaded(admin, second, b"shared attachment", "shared.txt")
    own = uploaded(admin, first, b"only on the first card", "own.txt")
    assert len(stored_files(app)) == 2

    assert admin.delete(f"cards/{first['id']}").status_code == 204
    assert len(stored_files(app)) == 2  # in the trash: everything stays
    assert admin.delete(f"cards/{first['id']}?purge=true").status_code == 204
    assert [path.name for path in stored_files(app)] == [shared["sha256"]]
    assert admin.get(f"files/{own['id']}").status_code == 404
    assert admin.get(f"files/{shared['id']}").status_code == 404
    [kept] = admin.ok("GET", f"cards/{second['id']}/files")["items"]
    assert admin.get(f"files/{kept['id']}/content").data == b"shared attachment"

    assert admin.delete(f"cards/{second['id']}").status_code == 204
    assert admin.delete(f"cards/{second['id']}?purge=true").status_code == 204
    assert stored_files(app) == [] and rows(app) == 0


def test_deleting_a_product_with_force_removes_its_cards_files(app, admin):
    product, other = admin.product("sales"), admin.product("projects")
    uploaded(admin, admin.card(product, "A"), b"goes with the product", "a.txt")
    uploaded(admin, admin.card(product, "B"), b"also named elsewhere", "b.txt")
    elsewhere = uploaded(admin, admin.card(other, "C"), b"also named elsewhere", "c.txt")
    assert admin.delete(f"products/{product['id']}?force=true").status_code == 204
    assert [path.name for path in stored_files(app)] == [elsewhere["sha256"]]
    assert rows(app) == 1


def test_bytes_are_kept_when_the_purge_rolls_back(app, admin, monkeypatch):
    """The bytes go only after the commit: a purge that fails keeps the card and its file."""
    from cardcrm.core.cards import service as cards_service

    card = admin.card(admin.product("sales"), "ACME")
    file = uploaded(admin, card, b"must survive", "survive.txt")
    assert admin.delete(f"cards/{card['id']}").status_code == 204

    def failing(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("the database went away mid-purge")

    monkeypatch.setattr(cards_service, "record_event", failing)
    assert admin.delete(f"cards/{card['id']}?purge=true").status_code == 500
    monkeypatch.undo()
    assert admin.get(f"files/{file['id']}/content").data == b"must survive"
    assert len(stored_files(app)) == 1


def test_a_rolled_back_upload_leaves_no_row_and_the_sweep_removes_its_bytes(app, admin, card):
    before = admin.ok("GET", f"cards/{card['id']}")
    with app.test_request_context():
        session = get_db().session()
        try:
            actor = session.get(User, admin.user.id)
            with pytest.raises(RuntimeError), write_transaction(session):
                row = session.get(Card, card["id"])
                files_service.add_file(
                    session,
                    actor,
                    row,
                    name="crash.txt",
                    content_type=None,
                    stream=io.BytesIO(b"written, never committed"),
                )
                raise RuntimeError("the process died before the commit")
            storage = get_storage(app)
            assert session.scalar(select(func.count()).select_from(CardFile)) == 0
            assert len(stored_files(app)) == 1  # an orphan: no row names it
            kept = uploaded(admin, card, b"a committed file", "kept.txt")
            assert sweep_orphans(session, storage).removed == 0  # younger than an hour
            result = sweep_orphans(session, storage, older_than=timedelta(0))
            assert result.removed == 1
            assert [path.name for path in stored_files(app)] == [kept["sha256"]]
        finally:
            session.close()
    assert admin.ok("GET", f"cards/{card['id']}/history")["items"][-1]["type"] == "file.added"
    events = admin.ok("GET", "events?after=0&limit=500")["items"]
    assert [event["data"]["name"] for event in events if event["type"] == "file.added"] == [
        "kept.txt"
    ]
    assert before["version"] == admin.ok("GET", f"cards/{card['id']}")["version"]


def test_the_sweep_removes_leftover_temporary_files_and_keeps_fresh_ones(app, admin, card):
    uploaded(admin, card, b"a committed file", "kept.txt")
    folder = Path(app.config["DATA_DIR"]) / "files" / "tmp"
    (folder / "crashed.part").write_bytes(b"half a file")
    with app.app_context():
        session = get_db().session()
        try:
            storage = get_storage(app)
            assert sweep_orphans(session, storage).temporary == 0
            assert sweep_orphans(session, storage, older_than=timedelta(0)).temporary == 1
        finally:
            session.close()
    assert temporary_files(app) == [] and len(stored_files(app)) == 1


def test_cardcrm_files_sweep_runs_from_the_command_line(tmp_path):
    from cardcrm.cli import main
    from click.testing import CliRunner

    runner = CliRunner()
    data = tmp_path / "data"
    assert runner.invoke(main, ["db", "upgrade", "--data", str(data)]).exit_code == 0
    orphan = LocalFileStorage(data / "files")
    sha, _ = orphan.put(io.BytesIO(b"nobody's"))
    result = runner.invoke(main, ["files", "sweep", "--data", str(data), "--older-than", "0"])
    assert result.exit_code == 0, result.output
    assert "1 stored file(s) no card names" in result.output
    assert not orphan.exists(sha)


# --- events, history, timeline ------------------------------------------------------------------


def test_adding_and_removing_a_file_is_in_the_events_the_history_and_the_cards_update(admin, card):
    before = admin.ok("GET", f"cards/{card['id']}")
    file = uploaded(admin, card, b"minutes of the meeting", "minutes.txt")
    after_upload = admin.ok("GET", f"cards/{card['id']}")
    assert after_upload["updated_at"] > before["updated_at"]
    assert after_upload["version"] == before["version"]  # an open edit form stays current
    assert admin.delete(f"files/{file['id']}").status_code == 204
    assert admin.ok("GET", f"cards/{card['id']}")["updated_at"] > after_upload["updated_at"]

    events = [
        event
        for event in admin.ok("GET", "events?after=0&limit=500")["items"]
        if event["type"].startswith("file.")
    ]
    assert [event["type"] for event in events] == ["file.added", "file.removed"]
    expected = {**file, "product_id": card["product_id"], "owner_id": card["owner_id"]}
    assert [event["data"] for event in events] == [expected, expected]
    assert events[0]["actor_id"] == admin.user.id
    history = admin.ok("GET", f"cards/{card['id']}/history?type=file")["items"]
    assert [row["type"] for row in history] == ["file.added", "file.removed"]
    assert history[0]["data"]["file"]["name"] == "minutes.txt"


def test_the_timeline_source_gives_the_cards_files_newest_first(app, admin, card):
    first = uploaded(admin, card, b"one", "one.txt")
    second = uploaded(admin, card, b"two", "two.txt")
    with app.app_context():
        session = get_db().session()
        try:
            row = session.get(Card, card["id"])
            entries = SOURCES["file"](session, row, None, 10)
            assert [(entry.kind, entry.data) for entry in entries] == [
                ("file", second),
                ("file", first),
            ]
            rest = SOURCES["file"](session, row, entries[0].position, 10)
            assert [entry.data for entry in rest] == [first]
        finally:
            session.close()


# --- the storage a plugin may replace -------------------------------------------------------


class MemoryStorage(FileStorage):
    """A storage kept in a dict: what an object-store plugin would do, in a few lines."""

    def __init__(self) -> None:
        self.contents_by_sha: dict[str, bytes] = {}

    def put(self, stream: Any) -> tuple[str, int]:
        content = stream.read()
        sha = hashlib.sha256(content).hexdigest()
        self.contents_by_sha[sha] = content
        return sha, len(content)

    def open(self, sha256: str) -> Any:
        if sha256 not in self.contents_by_sha:
            raise FileNotFoundError(sha256)
        return io.BytesIO(self.contents_by_sha[sha256])

    def delete(self, sha256: str) -> None:
        self.contents_by_sha.pop(sha256, None)

    def exists(self, sha256: str) -> bool:
        return sha256 in self.contents_by_sha


def test_a_plugin_replaces_the_storage_through_cardcrm_file_storage(app_config, tmp_path):
    from cardcrm.core import create_app

    from tests.conftest import make_user

    storage = MemoryStorage()

    class Plugin:
        @hookimpl
        def cardcrm_file_storage(self, settings):
            assert settings["DATA_DIR"] == str(tmp_path)
            return storage

    app = create_app({**app_config, "PLUGINS": [Plugin()]})
    try:
        user, token = make_user(app, "plugin@example.com", admin=True)
        api = Api(app.test_client(), token, user)
        card = api.card(api.product("sales"), "Stored elsewhere")
        file = uploaded(api, card, b"in the object store", "remote.txt")
        assert storage.contents_by_sha == {file["sha256"]: b"in the object store"}
        assert api.get(f"files/{file['id']}/content").data == b"in the object store"
        assert not (tmp_path / "files").exists()
        assert api.delete(f"files/{file['id']}").status_code == 204
        assert storage.contents_by_sha == {}
    finally:
        get_db_of(app).dispose()


def get_db_of(app: Any) -> Any:
    with app.app_context():
        return get_db()


def test_nginx_lets_uploads_through_up_to_the_upload_limit():
    """Behind the example nginx site, an upload at the default limit reaches core."""
    import re

    from cardcrm.core.files.service import DEFAULT_MAX_UPLOAD_MB

    site = (Path(__file__).resolve().parents[2] / "contrib" / "nginx" / "cardcrm.conf").read_text()
    [(pattern, body)] = [
        found
        for found in re.findall(r"\n    location ~ (\S+) \{(.*?)\n    \}", site, re.DOTALL)
        if re.match(found[0], "/cards/12/files")
    ]
    assert re.match(pattern, "/api/v1/cards/12/files")
    assert not re.match(pattern, "/api/v1/cards/12/files/3")
    (body_size,) = re.findall(r"client_max_body_size (\d+)m;", body)
    assert int(body_size) > DEFAULT_MAX_UPLOAD_MB
    assert "proxy_request_buffering off;" in body
