"""Finding plugins in each place an admin can put one: installed packages (the ``cardcrm``
entry-point group), modules named in ``CARDCRM_PLUGINS`` and files in ``CARDCRM_PLUGINS_DIR``;
and what the hooks of a plugin found there do."""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import pytest
from cardcrm.common.plugins import PluginLoadError
from cardcrm.core import create_app
from cardcrm.core.config import from_env
from sqlalchemy import create_engine, text

BUILTINS = {"sales", "invoices", "recruiting", "projects"}
REPOSITORY = Path(__file__).resolve().parents[2]

# A plugin as a company would write it for its own process: a template, a task type every
# product gets, and a reaction to committed changes (kept in EVENTS for the test to read).
COMPANY_PLUGIN = '''
"""Maintenance contracts of a facility-services company."""

from cardcrm.core.hookspecs import hookimpl

EVENTS = []
OBSERVERS = []


@hookimpl
def cardcrm_product_templates():
    return [
        {
            "key": "maintenance",
            "name": "Maintenance",
            "description": "Maintenance jobs from the request to the signed report.",
            "statuses": [
                {"name": "Requested", "group": "inactive"},
                {"name": "Scheduled", "group": "in_progress"},
                {"name": "Done", "group": "positive"},
                {"name": "Declined", "group": "negative"},
            ],
            "fields": [
                {"key": "site", "label": "Site", "type": "text", "required": True},
                {"key": "visit_on", "label": "Visit on", "type": "date"},
            ],
            "task_types": [{"key": "spare_parts_order", "label": "Order spare parts"}],
        }
    ]


@hookimpl
def cardcrm_task_types():
    return [{"key": "travel", "label": "Travel"}]


@hookimpl
def cardcrm_event_committed(event):
    EVENTS.append(event)
    for observer in OBSERVERS:
        observer(event)
'''

# A rule kept as a file in CARDCRM_PLUGINS_DIR; it takes only some of the hook's arguments.
OWNER_RULE_FILE = '''
"""Office rule: nobody closes a card that has no owner."""

from cardcrm.core.hookspecs import hookimpl

ASKED_BY = []


@hookimpl
def cardcrm_validate_status_change(card, new_status, user):
    ASKED_BY.append(user.email if user is not None else None)
    if new_status.group in ("positive", "negative") and card.owner_id is None:
        return "A card needs an owner before it is closed."
    return None
'''

FLEET_PACKAGE = '''
"""A plugin package in the plugins folder."""

import pluggy

hookimpl = pluggy.HookimplMarker("cardcrm")


@hookimpl
def cardcrm_task_types():
    return [{"key": "vehicle_check", "label": "Vehicle check"}]
'''


def write(path: Path, source: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(source).lstrip())
    return path


@pytest.fixture
def company_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The name of a fresh importable module holding COMPANY_PLUGIN."""
    name = f"company_plugin_{uuid.uuid4().hex[:8]}"
    write(tmp_path / "site" / f"{name}.py", COMPANY_PLUGIN)
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    yield name
    sys.modules.pop(name, None)


@pytest.fixture
def plugins_dir(tmp_path: Path) -> Iterator[Path]:
    """A plugins folder with a rule file, a package, and files that must be skipped."""
    folder = tmp_path / "plugins"
    write(folder / "owner_rule.py", OWNER_RULE_FILE)
    write(folder / "fleet" / "__init__.py", FLEET_PACKAGE)
    write(folder / "_draft.py", "this is not python\n")
    write(folder / ".hidden.py", "raise SystemExit('hidden files are not plugins')\n")
    write(folder / "README.txt", "Plugins of the office.\n")
    write(folder / "empty_folder" / "notes.md", "not a package\n")
    yield folder
    for name in [name for name in sys.modules if name.startswith("cardcrm_dir_plugin_")]:
        del sys.modules[name]


@pytest.fixture
def started_apps(app_config: dict[str, Any]) -> Iterator[list[Any]]:
    apps: list[Any] = []
    yield apps
    for app in apps:
        app.extensions["cardcrm_db"].dispose()


def start_app(started_apps: list[Any], config: dict[str, Any]) -> Any:
    app = create_app(config)
    started_apps.append(app)
    return app


def by_name(items: list[dict]) -> dict[str, dict]:
    return {item.get("key") or item["name"]: item for item in items}


def task_type_keys(product: dict) -> list[str]:
    return [item["key"] for item in product["task_types"]]


# --- (a) Installed packages: the cardcrm entry-point group ----------------------------------------


def test_the_built_ins_are_registered_through_the_cardcrm_entry_point_group():
    found = {point.name: point.value for point in entry_points(group="cardcrm")}
    for key in BUILTINS:
        assert found[key] == f"cardcrm_plugins.{key}"


def test_plugins_of_installed_packages_are_loaded_at_start(member):
    plugins = by_name(member.ok("GET", "plugins")["items"])
    templates = by_name(member.ok("GET", "templates")["items"])
    assert set(plugins) >= BUILTINS
    assert set(templates) >= BUILTINS


def test_without_entry_points_no_built_in_template_is_offered(started_apps, app_config):
    app = start_app(started_apps, {**app_config, "PLUGIN_ENTRY_POINTS": False})
    manager = app.extensions["cardcrm_plugins"]
    assert manager.hook.cardcrm_product_templates() == []


# --- (b) Modules named in PLUGINS / CARDCRM_PLUGINS -----------------------------------------------


class TestAModuleNamedInThePluginsSetting:
    @pytest.fixture
    def app_config(self, app_config: dict[str, Any], company_plugin: str) -> dict[str, Any]:
        return {**app_config, "PLUGINS": company_plugin}

    @pytest.fixture
    def plugin(self, app: Any, company_plugin: str) -> Any:
        module = sys.modules[company_plugin]
        module.EVENTS.clear()
        return module

    def test_its_template_is_offered_next_to_the_built_ins(self, member):
        templates = by_name(member.ok("GET", "templates")["items"])
        assert BUILTINS | {"maintenance"} <= set(templates)
        assert [s["group"] for s in templates["maintenance"]["statuses"]] == [
            "inactive",
            "in_progress",
            "positive",
            "negative",
        ]

    def test_it_is_listed_with_the_hooks_it_implements(self, member, company_plugin):
        plugins = by_name(member.ok("GET", "plugins")["items"])
        assert plugins[company_plugin]["hooks"] == [
            "cardcrm_event_committed",
            "cardcrm_product_templates",
            "cardcrm_task_types",
        ]
        # A module that no installed distribution provides has no version to show.
        assert "version" not in plugins[company_plugin]

    def test_a_product_from_its_template_has_the_plugins_task_types(self, admin):
        product = admin.product("maintenance", name="Maintenance")
        assert [s["name"] for s in product["statuses"]] == [
            "Requested",
            "Scheduled",
            "Done",
            "Declined",
        ]
        assert [f["key"] for f in product["fields"]] == ["site", "visit_on"]
        assert task_type_keys(product) == [
            "call",
            "email",
            "meeting",
            "todo",
            "spare_parts_order",
            "travel",
        ]

    def test_its_extra_task_type_is_available_in_every_product(self, admin):
        sales = admin.product("sales")
        assert task_type_keys(sales)[-2:] == ["demo", "travel"]
        card = admin.card(sales, "ACME")
        task = admin.task(card, "2026-12-01T09:00:00+01:00", text="Drive to ACME", type="travel")
        assert task["type"] == "travel"

    def test_creating_a_card_calls_its_event_hook_after_the_commit(
        self, admin, plugin, database_url
    ):
        product = admin.product("maintenance")
        plugin.EVENTS.clear()
        # The hook must see the change as committed: another connection can already read it.
        engine = create_engine(database_url)
        seen_by_others: list[Any] = []

        def observe(event: dict[str, Any]) -> None:
            with engine.connect() as connection:
                seen_by_others.append(
                    connection.execute(
                        text("SELECT title FROM cards WHERE id = :id"), {"id": event["data"]["id"]}
                    ).scalar()
                )

        plugin.OBSERVERS.append(observe)
        try:
            card = admin.card(product, "Boiler, 3rd floor", fields={"site": "HQ"})
        finally:
            plugin.OBSERVERS.remove(observe)
            engine.dispose()

        assert [event["type"] for event in plugin.EVENTS] == ["card.created"]
        event = plugin.EVENTS[0]
        assert isinstance(event["id"], int)
        assert event["at"].endswith("Z")
        assert event["data"]["id"] == card["id"]
        assert event["data"]["title"] == "Boiler, 3rd floor"
        assert event["data"]["fields"] == {"site": "HQ"}
        assert seen_by_others == ["Boiler, 3rd floor"]

    def test_every_committed_change_reaches_the_event_hook_once_in_order(self, admin, plugin):
        product = admin.product("maintenance")
        card = admin.card(product, "Lift", fields={"site": "HQ"})
        scheduled = next(s for s in product["statuses"] if s["name"] == "Scheduled")
        admin.ok("PATCH", f"cards/{card['id']}", {"status_id": scheduled["id"]})

        types = [event["type"] for event in plugin.EVENTS]
        assert types == ["product.created", "card.created", "card.status_changed"]
        ids = [event["id"] for event in plugin.EVENTS]
        assert ids == sorted(ids) and len(set(ids)) == len(ids)
        assert plugin.EVENTS[-1]["data"]["before"]["status_group"] == "inactive"

    def test_a_refused_or_invalid_request_calls_no_event_hook(self, admin, plugin):
        invoices = admin.product("invoices")
        sent = next(s for s in invoices["statuses"] if s["name"] == "Sent")
        maintenance = admin.product("maintenance")
        plugin.EVENTS.clear()

        # Vetoed by the invoices plugin inside the transaction: rolled back.
        response = admin.post(
            f"products/{invoices['id']}/cards", {"title": "No amount", "status_id": sent["id"]}
        )
        assert response.status_code == 422
        # A field value that does not fit its definition.
        response = admin.post(f"products/{maintenance['id']}/cards", {"title": "No site"})
        assert response.status_code == 422
        # Malformed JSON.
        response = admin.post(
            f"products/{maintenance['id']}/cards",
            data="{not json",
            headers={"Content-Type": "application/json"},
        )
        assert response.status_code == 400

        assert plugin.EVENTS == []
        assert admin.ok("GET", f"products/{invoices['id']}/cards")["items"] == []


def test_a_module_named_in_CARDCRM_PLUGINS_is_loaded(
    started_apps, app_config, company_plugin, monkeypatch, tmp_path
):
    monkeypatch.setenv("CARDCRM_PLUGINS", f" {company_plugin} ,")
    monkeypatch.delenv("CARDCRM_PLUGINS_DIR", raising=False)
    settings = from_env(data=str(tmp_path / "data"))
    assert settings["PLUGINS"].strip(" ,") == company_plugin

    app = start_app(started_apps, {**settings, **_database_of(app_config)})

    manager = app.extensions["cardcrm_plugins"]
    assert manager.has_plugin(company_plugin)
    keys = [t["key"] for result in manager.hook.cardcrm_product_templates() for t in result]
    assert {"maintenance", *BUILTINS} <= set(keys)


def test_several_modules_can_be_named_comma_separated(
    started_apps, app_config, company_plugin, tmp_path, monkeypatch
):
    other = f"other_plugin_{uuid.uuid4().hex[:8]}"
    write(tmp_path / "site" / f"{other}.py", FLEET_PACKAGE)
    try:
        app = start_app(started_apps, {**app_config, "PLUGINS": f"{company_plugin},{other}"})
        manager = app.extensions["cardcrm_plugins"]
        assert manager.has_plugin(company_plugin) and manager.has_plugin(other)
    finally:
        sys.modules.pop(other, None)


def test_plugin_modules_can_also_be_given_as_a_list(started_apps, app_config, company_plugin):
    app = start_app(started_apps, {**app_config, "PLUGINS": [company_plugin]})
    assert app.extensions["cardcrm_plugins"].has_plugin(company_plugin)


def test_naming_a_built_in_in_CARDCRM_PLUGINS_does_not_load_it_twice(started_apps, app_config):
    app = start_app(started_apps, {**app_config, "PLUGINS": "cardcrm_plugins.invoices"})
    client = app.test_client()
    manager = app.extensions["cardcrm_plugins"]
    implementations = manager.hook.cardcrm_validate_status_change.get_hookimpls()
    assert [impl.plugin_name for impl in implementations] == ["invoices"]
    with app.app_context():
        from cardcrm.core.products.templates import list_templates

        assert [t["key"] for t in list_templates()].count("invoices") == 1
    assert client.get("/healthz").status_code == 200


def test_a_plugin_module_that_does_not_exist_stops_the_start_with_a_clear_error(app_config):
    with pytest.raises(PluginLoadError, match="no_such_cardcrm_plugin"):
        create_app({**app_config, "PLUGINS": "no_such_cardcrm_plugin"})


def test_a_missing_module_in_CARDCRM_PLUGINS_stops_the_start_with_a_clear_error(
    app_config, monkeypatch, tmp_path
):
    monkeypatch.setenv("CARDCRM_PLUGINS", "cardcrm_plugins.sales,no_such_cardcrm_plugin")
    monkeypatch.delenv("CARDCRM_PLUGINS_DIR", raising=False)
    settings = {**from_env(data=str(tmp_path / "data")), **_database_of(app_config)}
    with pytest.raises(PluginLoadError) as raised:
        create_app(settings)
    assert "no_such_cardcrm_plugin" in str(raised.value)
    assert "cannot import" in str(raised.value)


def test_a_plugin_module_that_fails_on_import_stops_the_start_with_a_clear_error(
    app_config, tmp_path, monkeypatch
):
    name = f"broken_plugin_{uuid.uuid4().hex[:8]}"
    write(tmp_path / "site" / f"{name}.py", "raise RuntimeError('no licence key configured')\n")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    try:
        with pytest.raises(PluginLoadError, match="no licence key configured"):
            create_app({**app_config, "PLUGINS": name})
    finally:
        sys.modules.pop(name, None)


def test_a_template_key_offered_twice_is_reported_at_start_up(app_config, tmp_path):
    copy = "from cardcrm_plugins.sales import cardcrm_product_templates  # noqa: F401\n"
    write(tmp_path / "copycat" / "sales_again.py", copy)
    try:
        with pytest.raises(PluginLoadError, match="sales"):
            create_app({**app_config, "PLUGINS_DIR": str(tmp_path / "copycat")})
    finally:
        sys.modules.pop("cardcrm_dir_plugin_sales_again", None)


def _database_of(app_config: dict[str, Any]) -> dict[str, Any]:
    return {key: app_config[key] for key in ("DATABASE_URL", "TESTING")}


# --- (c) Files and packages in PLUGINS_DIR / CARDCRM_PLUGINS_DIR ----------------------------------


class TestAPluginsFolder:
    @pytest.fixture
    def app_config(self, app_config: dict[str, Any], plugins_dir: Path) -> dict[str, Any]:
        return {**app_config, "PLUGINS_DIR": str(plugins_dir)}

    def test_its_python_files_and_packages_are_loaded_and_the_rest_skipped(self, member):
        plugins = member.ok("GET", "plugins")["items"]
        loaded = {item["name"]: item["hooks"] for item in plugins if item["name"] not in BUILTINS}
        assert len(loaded) == 2, loaded
        rule = next(hooks for name, hooks in loaded.items() if "owner_rule" in name)
        fleet = next(hooks for name, hooks in loaded.items() if "fleet" in name)
        assert rule == ["cardcrm_validate_status_change"]
        assert fleet == ["cardcrm_task_types"]

    def test_a_task_type_from_a_package_in_the_folder_reaches_every_product(self, admin):
        assert "vehicle_check" in task_type_keys(admin.product("projects"))

    def test_its_rule_refuses_closing_a_card_without_an_owner(self, admin):
        product = admin.product("sales")
        won = next(s for s in product["statuses"] if s["group"] == "positive")
        card = admin.card(product, "Initech")

        response = admin.patch(f"cards/{card['id']}", {"status_id": won["id"]})

        assert response.status_code == 422
        assert response.get_json()["errors"]["status_id"] == [
            "A card needs an owner before it is closed."
        ]
        rule = next(m for n, m in sys.modules.items() if n.endswith("owner_rule"))
        assert rule.ASKED_BY[-1] == "admin@example.com"

        moved = admin.ok(
            "PATCH", f"cards/{card['id']}", {"owner_id": admin.user.id, "status_id": won["id"]}
        )
        assert moved["closed"] is True

    def test_the_reasons_of_every_plugin_come_back_in_one_answer(self, admin):
        invoices = admin.product("invoices")
        paid = next(s for s in invoices["statuses"] if s["name"] == "Paid")
        card = admin.card(invoices, "Invoice without anything")

        response = admin.patch(f"cards/{card['id']}", {"status_id": paid["id"]})

        assert response.status_code == 422
        problem = response.get_json()
        reasons = {
            "A card needs an owner before it is closed.",
            "An invoice needs an amount before it is sent.",
            "An invoice must be sent before it is paid.",
        }
        assert set(problem["errors"]["status_id"]) == reasons
        for reason in reasons:
            assert reason in problem["detail"]


def test_CARDCRM_PLUGINS_DIR_names_the_plugins_folder(
    started_apps, app_config, plugins_dir, monkeypatch, tmp_path
):
    monkeypatch.setenv("CARDCRM_PLUGINS_DIR", str(plugins_dir))
    monkeypatch.delenv("CARDCRM_PLUGINS", raising=False)
    settings = {**from_env(data=str(tmp_path / "data")), **_database_of(app_config)}

    app = start_app(started_apps, settings)

    names = [name for name, _ in app.extensions["cardcrm_plugins"].list_name_plugin()]
    assert any("owner_rule" in name for name in names)
    assert any("fleet" in name for name in names)


def test_a_plugins_folder_that_does_not_exist_stops_the_start(app_config, tmp_path):
    with pytest.raises(PluginLoadError, match="not a folder"):
        create_app({**app_config, "PLUGINS_DIR": str(tmp_path / "nowhere")})


def test_a_broken_file_in_the_plugins_folder_stops_the_start_naming_the_file(app_config, tmp_path):
    write(tmp_path / "broken" / "half_done.py", "def cardcrm_task_types(:\n")
    with pytest.raises(PluginLoadError, match="half_done.py"):
        create_app({**app_config, "PLUGINS_DIR": str(tmp_path / "broken")})
    assert "cardcrm_dir_plugin_half_done" not in sys.modules


# --- Errors in a plugin's event hook --------------------------------------------------------------


class TestAFailingEventHook:
    @pytest.fixture
    def app_config(self, app_config: dict[str, Any], tmp_path: Path) -> dict[str, Any]:
        source = """
        from cardcrm.core.hookspecs import hookimpl

        @hookimpl
        def cardcrm_event_committed(event):
            raise RuntimeError("the chat server is down")
        """
        write(tmp_path / "failing" / "chat_notifier.py", source)
        return {**app_config, "PLUGINS_DIR": str(tmp_path / "failing")}

    @pytest.fixture(autouse=True)
    def _forget_the_module(self) -> Iterator[None]:
        yield
        sys.modules.pop("cardcrm_dir_plugin_chat_notifier", None)

    def test_it_is_logged_and_does_not_undo_the_change(self, admin, caplog):
        with caplog.at_level(logging.ERROR):
            product = admin.product("projects")
            card = admin.card(product, "Office move")

        assert admin.ok("GET", f"cards/{card['id']}")["title"] == "Office move"
        failures = [r for r in caplog.records if "cardcrm_event_committed" in r.getMessage()]
        assert failures, "the hook's failure was not logged"
        assert "the chat server is down" in str(failures[-1].exc_info[1])


def test_one_failing_event_hook_does_not_keep_the_event_from_other_plugins(
    started_apps, app_config, company_plugin, tmp_path
):
    failing = """
    from cardcrm.core.hookspecs import hookimpl

    @hookimpl
    def cardcrm_event_committed(event):
        raise RuntimeError("the chat server is down")
    """
    write(tmp_path / "failing" / "chat_notifier.py", failing)
    try:
        # Folder plugins register after named modules, so pluggy calls the failing one first.
        app = start_app(
            started_apps,
            {**app_config, "PLUGINS": company_plugin, "PLUGINS_DIR": str(tmp_path / "failing")},
        )
        with app.app_context():
            from cardcrm.common.db import get_db
            from cardcrm.core.products.service import create_product

            session = get_db().session()
            create_product(session, None, {"name": "Jobs", "template": "maintenance"})
            session.close()
    finally:
        sys.modules.pop("cardcrm_dir_plugin_chat_notifier", None)
    assert [event["type"] for event in sys.modules[company_plugin].EVENTS] == ["product.created"]


def test_a_template_that_breaks_the_template_format_is_reported_at_start_up(app_config, tmp_path):
    source = """
    from cardcrm.core.hookspecs import hookimpl

    @hookimpl
    def cardcrm_product_templates():
        return [{"key": "helpdesk", "name": "Helpdesk", "description": "",
                 "statuses": [{"name": "Open", "group": "doing"}],
                 "fields": [{"key": "colour", "label": "Colour", "type": "colour"}],
                 "task_types": []}]
    """
    write(tmp_path / "sloppy" / "helpdesk.py", source)
    try:
        with pytest.raises(PluginLoadError, match="helpdesk"):
            create_app({**app_config, "PLUGINS_DIR": str(tmp_path / "sloppy")})
    finally:
        sys.modules.pop("cardcrm_dir_plugin_helpdesk", None)


# --- (d) A third-party package installed with pip: contrib/example_plugin -------------------------

EXAMPLE_APP_SCRIPT = """
import json, sys

from cardcrm.core import create_app
from cardcrm.core.auth.service import create_token, create_user
from cardcrm.common.db import get_db
from cardcrm.core.migrate import upgrade

url = sys.argv[1]
upgrade(url)
app = create_app({"DATABASE_URL": url, "SECRET_KEY": "example"})
with app.app_context():
    session = get_db().session()
    admin = create_user(session, email="admin@example.com", name="Admin",
                        password="password123", is_admin=True)
    token, _ = create_token(session, user=admin)
    session.close()
client = app.test_client()
headers = {"Authorization": "Bearer " + token}
print(json.dumps({
    "templates": client.get("/api/v1/templates", headers=headers).get_json(),
    "plugins": client.get("/api/v1/plugins", headers=headers).get_json(),
    "product": client.post("/api/v1/products", headers=headers,
                           json={"name": "Support", "template": "support"}).get_json(),
}))
"""


@pytest.mark.slow
def test_the_contrib_example_plugin_appears_once_installed_with_pip(tmp_path):
    """Installs contrib/example_plugin for real (offline) and starts an app in a new process."""
    source = tmp_path / "example_plugin"
    shutil.copytree(
        REPOSITORY / "contrib" / "example_plugin",
        source,
        ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"),
    )
    target = tmp_path / "site-packages"
    install = subprocess.run(
        [
            sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
            "--no-build-isolation", "--no-index", "--disable-pip-version-check",
            "--target", str(target), str(source),
        ],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )  # fmt: skip
    assert install.returncode == 0, install.stderr
    assert (target / "cardcrm_example_plugin" / "__init__.py").is_file()

    env = {key: value for key, value in os.environ.items() if not key.startswith("CARDCRM_")}
    env["PYTHONPATH"] = str(target)
    run = subprocess.run(
        [sys.executable, "-c", EXAMPLE_APP_SCRIPT, f"sqlite:///{tmp_path / 'core.db'}"],
        capture_output=True, text=True, timeout=120, cwd=tmp_path, env=env,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    answer = json.loads(run.stdout.strip().splitlines()[-1])

    templates = by_name(answer["templates"]["items"])
    assert BUILTINS | {"support"} <= set(templates)
    assert templates["support"]["plugin"] == "example"
    assert [s["name"] for s in templates["support"]["statuses"]][0] == "New"

    plugins = by_name(answer["plugins"]["items"])
    assert plugins["example"]["version"] == "0.1.0"
    assert plugins["example"]["hooks"] == ["cardcrm_product_templates", "cardcrm_task_types"]

    product = answer["product"]
    assert product["template"] == "support"
    assert task_type_keys(product) == ["call", "email", "meeting", "todo", "callback", "site_visit"]
