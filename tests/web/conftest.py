"""Fixtures of the web UI's tests: a logged-in browser-like test client, and for the browser
stories a real ``cardcrm up`` server process with Chromium driven by Playwright."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.cardcrm_up import DEMO_EMAIL, cardcrm_up
from tests.conftest import free_port

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
#: ``cardcrm up`` generates the demo password; these tests choose it, as automation may.
DEMO_PASSWORD = "browser-tests-demo-password"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')
#: The SMTP receiver of each live server (base URL → (host, port)): ``cardcrm up`` runs one.
LIVE_MAIL: dict[str, tuple[str, int]] = {}


class WebClient:
    """Flask's test client used like a browser: it logs in with a form and sends the token."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.token = ""

    def get(self, path: str, **kwargs: Any) -> Any:
        response = self.client.get(path, **kwargs)
        self._remember_token(response)
        return response

    def post(self, path: str, data: dict | None = None, *, csrf: bool = True, **kwargs: Any):
        data = dict(data or {})
        if csrf:
            data.setdefault("csrf_token", self.token or self._fetch_token())
        response = self.client.post(path, data=data, **kwargs)
        self._remember_token(response)
        return response

    def htmx(self, path: str, data: dict | None = None) -> Any:
        headers = {"HX-Request": "true", "X-CSRF-Token": self.token or self._fetch_token()}
        return self.client.post(path, data=data or {}, headers=headers)

    def log_in(self, email: str, password: str = "password123") -> WebClient:
        response = self.post("/login", {"email": email, "password": password})
        assert response.status_code == 302, response.get_data(as_text=True)
        self.get("/help")  # a new session has a new token
        return self

    def _fetch_token(self) -> str:
        self.get("/login")
        return self.token

    def _remember_token(self, response: Any) -> None:
        if response.mimetype == "text/html":
            found = CSRF_INPUT.search(response.get_data(as_text=True))
            if found:
                self.token = found.group(1)


@pytest.fixture
def web(app: Any) -> WebClient:
    """An anonymous browser-like client (log in with ``web.log_in(email)``)."""
    return WebClient(app.test_client())


@pytest.fixture
def web_client() -> Any:
    """Make a browser-like client of any app: ``web_client(app).log_in(email)``."""
    return lambda app: WebClient(app.test_client())


@pytest.fixture
def admin_web(app: Any, admin: Any) -> WebClient:
    return WebClient(app.test_client()).log_in(admin.user.email)


@pytest.fixture
def member_web(app: Any, member: Any) -> WebClient:
    return WebClient(app.test_client()).log_in(member.user.email)


# --- a real server and a real browser -------------------------------------------------------------


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``cardcrm up`` on a free port with its demo data; yields the base URL."""
    if not os.environ.get("CARDCRM_TEST_BROWSER"):
        pytest.skip("CARDCRM_TEST_BROWSER is not set (CI sets it to /usr/bin/chromium)")
    folder = tmp_path_factory.mktemp("web-live")
    mail_port = free_port()
    with cardcrm_up(
        folder, demo_password=DEMO_PASSWORD, CARDCRM_MAIL_LISTEN=f"127.0.0.1:{mail_port}"
    ) as base:
        LIVE_MAIL[base] = ("127.0.0.1", mail_port)
        yield base


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One Chromium per test process (launching it costs seconds on a busy machine); each
    test opens contexts of its own in it (``page``, ``new_tab``), which share nothing."""
    from playwright.sync_api import sync_playwright

    executable = os.environ.get("CARDCRM_TEST_BROWSER")
    if not executable:
        pytest.skip("CARDCRM_TEST_BROWSER is not set (CI sets it to /usr/bin/chromium)")
    if not Path(executable).exists():
        pytest.skip(f"CARDCRM_TEST_BROWSER names no file: {executable}")
    # The service worker's own requests pass the contexts' routes too (test_browser_pwa cuts
    # one): Playwright's switch for that in Chromium, read by its driver when it starts.
    os.environ["PW_EXPERIMENTAL_SERVICE_WORKER_NETWORK_EVENTS"] = "1"
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=executable, headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any, live_server: str) -> Iterator[Any]:
    """A new browser tab logged in as the demo admin, at the Today view (desktop size)."""
    context = browser.new_context(viewport={"width": 1280, "height": 800}, base_url=live_server)
    context.set_default_timeout(10_000)
    tab = context.new_page()
    log_in(tab)
    yield tab
    context.close()


def log_in(tab: Any, email: str = DEMO_EMAIL, password: str = DEMO_PASSWORD) -> None:
    tab.goto("/login")
    tab.get_by_label("E-mail").fill(email)
    tab.get_by_label("Password").fill(password)
    tab.get_by_role("button", name="Log in").click()
    tab.wait_for_url("**/")


@pytest.fixture
def new_tab(browser: Any, live_server: str) -> Iterator[Any]:
    """Open more logged-in tabs, each in its own browser context (another person's browser)."""
    contexts = []

    def open_tab(width: int = 1280, height: int = 800) -> Any:
        context = browser.new_context(
            viewport={"width": width, "height": height}, base_url=live_server
        )
        context.set_default_timeout(10_000)
        contexts.append(context)
        tab = context.new_page()
        log_in(tab)
        return tab

    yield open_tab
    for context in contexts:
        context.close()


@pytest.fixture
def artifact() -> Any:
    """The path of a test artefact (screenshots) in test-artifacts/, which git ignores."""

    def path(name: str) -> Path:
        ARTIFACTS.mkdir(exist_ok=True)
        return ARTIFACTS / name

    return path


#: The page scripts' translations (web/script_messages.py): data keyed by the English words.
SCRIPT_MESSAGES = re.compile(
    r'<script type="application/json" id="cardcrm-messages">.*?</script>', re.S
)


def shown_text(html: str) -> str:
    """A page without the scripts' translation table, whose keys are the English words."""
    return SCRIPT_MESSAGES.sub("", html)
