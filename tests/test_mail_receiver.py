"""The mail receiver for real: an aiosmtpd server talking to a real core over HTTP, sent to
with smtplib as a mail server would. Accepted mail shows through the API; unknown and rotated
addresses get 550 at RCPT, oversized messages 552, and a core that is down 451, never an
accepted-then-lost message."""

from __future__ import annotations

import re
import smtplib
from collections.abc import Iterator
from typing import Any

import pytest
from cardcrm.common.db import get_db
from cardcrm.core.auth.service import create_token
from cardcrm.mail_receiver import MailReceiver

from tests.conftest import LiveServer, free_port
from tests.core.test_mail import hostile_messages, message

SENDER = "ana@client.example"


def mail_token(app: Any) -> str:
    with app.app_context():
        session = get_db().session()
        token, _ = create_token(session, service="mail", scopes=("mail:deliver",))
        session.close()
    return token


def start_receiver(core_url: str, token: str, max_bytes: int = 1024 * 1024) -> MailReceiver:
    receiver = MailReceiver(
        {
            "LISTEN": ("127.0.0.1", free_port()),
            "CORE_URL": core_url,
            "SERVICE_TOKEN": token,
            "MAX_BYTES": max_bytes,
        }
    )
    receiver.start()
    return receiver


@pytest.fixture
def core(app) -> Iterator[LiveServer]:
    server = LiveServer(app)
    yield server
    server.stop()


@pytest.fixture
def receiver(app, core) -> Iterator[MailReceiver]:
    started = start_receiver(core.url, mail_token(app), max_bytes=200_000)
    yield started
    started.stop()


def smtp(receiver: MailReceiver) -> smtplib.SMTP:
    host, port = receiver.address
    return smtplib.SMTP(host, port, timeout=30)


def test_a_message_to_a_cards_address_is_accepted_and_shows_on_the_card(admin, receiver):
    card = admin.card(admin.product("sales"), "ACME")
    with smtp(receiver) as client:
        refused = client.sendmail(SENDER, [card["email_address"]], message(card["email_address"]))
    assert refused == {}
    (email,) = admin.ok("GET", f"cards/{card['id']}/emails")["items"]
    assert email["subject"] == "Offer"
    assert email["from"] == "Ana Client <ana@client.example>"


def test_a_message_to_two_cards_and_a_stranger_reaches_the_two(admin, receiver):
    product = admin.product("sales")
    first, second = admin.card(product, "ACME"), admin.card(product, "Globex")
    stranger = f"card-{first['id']}-{'b' * 20}@localhost"
    recipients = [first["email_address"], stranger, second["email_address"]]
    with smtp(receiver) as client:
        refused = client.sendmail(SENDER, recipients, message(", ".join(recipients)))
    assert refused == {stranger: (550, b"5.1.1 No such card address here")}
    for card in (first, second):
        assert len(admin.ok("GET", f"cards/{card['id']}/emails")["items"]) == 1


def test_unknown_and_rotated_addresses_are_refused_at_rcpt_with_550(admin, receiver):
    card = admin.card(admin.product("sales"), "ACME")
    old = card["email_address"]
    admin.ok("POST", f"cards/{card['id']}/email-address/rotate")
    for address in (old, "nobody@localhost", f"card-{card['id']}-{'c' * 20}@localhost"):
        with smtp(receiver) as client:
            client.ehlo()
            client.mail(SENDER)
            code, text = client.rcpt(address)
        assert code == 550, (address, code, text)
        assert text.startswith(b"5.1.1")
    with smtp(receiver) as client, pytest.raises(smtplib.SMTPRecipientsRefused):
        client.sendmail(SENDER, [old], message(old))
    assert admin.ok("GET", f"cards/{card['id']}/emails")["items"] == []


def test_oversized_messages_are_refused_with_552_and_size_is_advertised(admin, receiver):
    card = admin.card(admin.product("sales"), "ACME")
    address = card["email_address"]
    big = message(address, text=("x" * 70 + "\n") * 4000)
    with smtp(receiver) as client:
        client.ehlo()
        assert client.has_extn("size")
        assert int(client.esmtp_features["size"]) == 200_000
        # A client that says the size is refused at MAIL FROM...
        with pytest.raises(smtplib.SMTPSenderRefused) as said:
            client.sendmail(SENDER, [address], big)
        assert said.value.smtp_code == 552
    with smtp(receiver) as client:
        # ...and one that does not, at the end of DATA.
        client.ehlo()
        client.mail(SENDER)
        assert client.rcpt(address)[0] == 250
        code, _ = client.data(big)
        assert code == 552
    assert admin.ok("GET", f"cards/{card['id']}/emails")["items"] == []


def test_a_core_that_cannot_be_reached_gets_451_never_an_accepted_message(app, admin):
    card = admin.card(admin.product("sales"), "ACME")
    address = card["email_address"]
    token = mail_token(app)
    down = start_receiver(f"http://127.0.0.1:{free_port()}", token)
    try:
        with smtp(down) as client:
            client.ehlo()
            client.mail(SENDER)
            code, _ = client.rcpt(address)
        assert code == 451
    finally:
        down.stop()
    # Core goes away between RCPT and the end of DATA: still 451, and nothing was filed.
    core = LiveServer(app)
    receiver = start_receiver(core.url, token)
    try:
        with smtp(receiver) as client:
            client.ehlo()
            client.mail(SENDER)
            assert client.rcpt(address)[0] == 250
            core.stop()
            code, _ = client.data(message(address))
        assert code == 451
    finally:
        receiver.stop()
    assert admin.ok("GET", f"cards/{card['id']}/emails")["items"] == []


def test_a_token_without_the_mail_scope_files_nothing(app, admin, core):
    card = admin.card(admin.product("sales"), "ACME")
    with app.app_context():
        session = get_db().session()
        token, _ = create_token(session, service="notifications")  # the sidecars' scopes
        session.close()
    receiver = start_receiver(core.url, token)
    try:
        with smtp(receiver) as client:
            client.ehlo()
            client.mail(SENDER)
            code, _ = client.rcpt(card["email_address"])
        assert code == 451  # core refuses the receiver: a setup to fix, mail waits meanwhile
    finally:
        receiver.stop()


def test_hostile_mail_gets_an_answer_and_never_breaks_the_receiver(admin, receiver):
    card = admin.card(admin.product("sales"), "ACME")
    address = card["email_address"]
    for name, raw in hostile_messages(address).items():
        # SMTP lines end at 1,000 bytes (RFC 5321; the receiver answers 500 beyond): a mail
        # server folds long header lines before it sends them.
        raw = re.sub(rb"([^\r\n]{900})", rb"\1\r\n ", raw)
        if len(raw) > 200_000:
            raw = raw[:150_000] + b"\r\n\r\nhi\r\n"
        with smtp(receiver) as client:
            client.ehlo()
            client.mail(SENDER)
            assert client.rcpt(address)[0] == 250, name
            code, text = client.data(raw)
        assert code == 250, (name, code, text)
    with smtp(receiver) as client:
        client.ehlo()
        client.mail(SENDER)
        assert client.rcpt("<<<>>>@@@")[0] in (501, 550, 553)
        assert client.rcpt("x" * 2000 + "@localhost")[0] in (500, 501, 550)
        assert client.noop()[0] == 250
    with smtp(receiver) as client:
        client.ehlo()
        client.mail(SENDER)
        assert client.rcpt(address)[0] == 250
        client.putcmd("DATA")
        assert client.getreply()[0] == 354
        client.send(b"Subject: " + b"y" * 5000 + b"\r\n\r\nbody\r\n.\r\n")
        assert client.getreply()[0] == 500  # line too long: refused, the session goes on
        assert client.noop()[0] == 250
    assert len(admin.ok("GET", f"cards/{card['id']}/emails?limit=100")["items"]) == len(
        hostile_messages(address)
    )


# --- as processes: `cardcrm serve mail` beside `cardcrm serve core`, and `cardcrm up` ----------


def _stop(process: Any) -> int:
    import subprocess

    process.terminate()
    try:
        return int(process.wait(timeout=15))
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)
        raise


def _wait_for_smtp(port: int, process: Any, log: Any) -> None:
    import socket
    import time

    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the receiver exited with {process.returncode}:\n{log.read_text()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    pytest.fail(f"no SMTP on port {port}:\n{log.read_text()}")


@pytest.fixture
def patient_start(monkeypatch):
    """Servers started beside other tests (``-n 2``) may take longer than alone."""
    import tests.test_server_process

    monkeypatch.setattr(tests.test_server_process, "START_TIMEOUT", 60.0)


def test_cardcrm_serve_mail_files_mail_through_a_served_core_and_stops_on_sigterm(
    tmp_path, patient_start
):
    import subprocess

    from tests.test_server_process import (
        CARDCRM,
        Http,
        environment,
        free_port,
        run_cardcrm,
        server,
    )

    env = environment(CARDCRM_DATA_DIR=str(tmp_path / "data"))
    run_cardcrm("db upgrade", env)
    run_cardcrm("user create boss@example.com --name Boss --password s3cret-pass --admin", env)
    token = run_cardcrm("token create boss@example.com", env).strip()
    mail_token = run_cardcrm("token create --service mail --scope mail:deliver", env).strip()
    port, smtp_port = free_port(), free_port()
    with server(
        ["serve", "core", "--port", str(port), "--workers", "1"], env, tmp_path / "core.log", port
    ) as base:
        api = Http(base, token)
        product = api.ok("POST", "/api/v1/products", {"name": "Sales", "template": "sales"}, 201)
        card = api.ok("POST", f"/api/v1/products/{product['id']}/cards", {"title": "ACME"}, 201)
        mail_env = {
            **env,
            "CARDCRM_CORE_URL": base,
            "CARDCRM_MAIL_SERVICE_TOKEN": mail_token,
            "CARDCRM_MAIL_LISTEN": f"127.0.0.1:{smtp_port}",
        }
        log = tmp_path / "mail.log"
        with log.open("w") as output:
            process = subprocess.Popen(
                [str(CARDCRM), "serve", "mail"],
                env=mail_env,
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        try:
            _wait_for_smtp(smtp_port, process, log)
            with smtplib.SMTP("127.0.0.1", smtp_port, timeout=30) as client:
                refused = client.sendmail(
                    SENDER, [card["email_address"]], message(card["email_address"])
                )
            assert refused == {}
        finally:
            code = _stop(process)
        assert code == 0, log.read_text()
        emails = api.ok("GET", f"/api/v1/cards/{card['id']}/emails")["items"]
        assert [email["subject"] for email in emails] == ["Offer"]


def test_cardcrm_serve_mail_needs_a_token(tmp_path):
    import subprocess

    from tests.test_server_process import CARDCRM, environment

    result = subprocess.run(
        [str(CARDCRM), "serve", "mail"],
        env=environment(CARDCRM_MAIL_LISTEN="127.0.0.1:1"),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 1
    assert "mail:deliver" in result.stderr


def test_cardcrm_up_runs_the_receiver_when_mail_listen_is_set_and_stops_it_with_the_rest(
    tmp_path, patient_start
):
    import re as regex

    from tests.test_server_process import Http, environment, free_port, server

    port, smtp_port = free_port(), free_port()
    env = environment(CARDCRM_MAIL_LISTEN=f"127.0.0.1:{smtp_port}")
    log = tmp_path / "up.log"
    with server(
        ["up", "--port", str(port), "--data", str(tmp_path / "data")], env, log, port
    ) as base:
        login = regex.search(r"Log in as (\S+) with the password (\S+)", log.read_text())
        assert login and f"SMTP on 127.0.0.1:{smtp_port}" in log.read_text()
        api = Http(base)
        email, password = login.groups()
        api.token = api.ok(
            "POST", "/api/v1/auth/token", {"email": email, "password": password}, 201
        )["token"]
        product = api.ok("GET", "/api/v1/products")["items"][0]
        card = api.ok("POST", f"/api/v1/products/{product['id']}/cards", {"title": "ACME"}, 201)
        with smtplib.SMTP("127.0.0.1", smtp_port, timeout=30) as client:
            assert (
                client.sendmail(SENDER, [card["email_address"]], message(card["email_address"]))
                == {}
            )
        (email_json,) = api.ok("GET", f"/api/v1/cards/{card['id']}/emails")["items"]
        assert email_json["subject"] == "Offer"
    # Stopped with the rest: nothing listens on the SMTP port any more, and nothing failed.
    import socket

    assert "Traceback" not in log.read_text()

    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", smtp_port), timeout=2):
        pass
