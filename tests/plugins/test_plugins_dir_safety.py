"""``CARDCRM_PLUGINS_DIR`` is refused, as ssh refuses a loose ``authorized_keys``, when anyone
but the user cardcrm runs as (or root) could change the code it loads: the start stops with an
error naming each loose path and the command that fixes it."""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cardcrm.cli import main
from cardcrm.common.plugins import PluginLoadError
from cardcrm.core import create_app
from click.testing import CliRunner

PLUGIN = """
from cardcrm.core.hookspecs import hookimpl

@hookimpl
def cardcrm_task_types():
    return [{"key": "site_visit", "label": "Site visit"}]
"""

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="giving files away needs root")


@pytest.fixture
def folder(tmp_path: Path) -> Iterator[Path]:
    """A plugins folder as an admin makes it (umask 022): a file, a package, a README."""
    folder = tmp_path / "plugins"
    (folder / "visits").mkdir(parents=True)
    (folder / "site_visit.py").write_text(PLUGIN)
    (folder / "visits" / "__init__.py").write_text(PLUGIN.replace("site_visit", "visit"))
    (folder / "README.txt").write_text("Plugins of the office.\n")
    for path in (folder, folder / "visits"):
        path.chmod(0o755)
    for path in (folder / "site_visit.py", folder / "visits" / "__init__.py"):
        path.chmod(0o644)
    yield folder
    for name in [name for name in sys.modules if name.startswith("cardcrm_dir_plugin_")]:
        del sys.modules[name]


def start(app_config: dict[str, Any], folder: Path) -> Any:
    app = create_app({**app_config, "PLUGINS_DIR": str(folder)})
    app.extensions["cardcrm_db"].dispose()
    return app


def task_types(app: Any) -> set[str]:
    answers = app.extensions["cardcrm_plugins"].hook.cardcrm_task_types()
    return {item["key"] for answer in answers for item in answer}


def test_a_folder_only_its_owner_may_change_is_loaded(app_config, folder):
    (folder / "README.txt").chmod(0o666)  # never loaded, so never checked
    app = start(app_config, folder)
    names = [name for name, _ in app.extensions["cardcrm_plugins"].list_name_plugin()]
    assert any("site_visit" in name for name in names)
    assert any("visits" in name for name in names)


@pytest.mark.parametrize(
    ("loose", "mode", "who"),
    [
        (".", 0o777, "group and others"),
        (".", 0o775, "group"),
        ("site_visit.py", 0o646, "others"),
        ("visits", 0o775, "group"),
        ("visits/__init__.py", 0o664, "group"),
    ],
)
def test_code_others_may_change_stops_the_start_naming_the_path_and_the_fix(
    app_config, folder, loose, mode, who
):
    path = (folder / loose).resolve()
    path.chmod(mode)

    with pytest.raises(PluginLoadError) as refused:
        start(app_config, folder)

    message = str(refused.value)
    assert f"{path} is writable by {who} (mode {mode:04o})" in message
    assert f"chmod go-w {path}" in message
    assert not [name for name in sys.modules if name.startswith("cardcrm_dir_plugin_")]


def test_a_bytecode_cache_others_may_write_to_is_refused(app_config, folder):
    cache = folder / "__pycache__"
    cache.mkdir()
    cache.chmod(0o777)
    with pytest.raises(PluginLoadError, match=f"chmod go-w {cache}"):
        start(app_config, folder)


def test_every_loose_path_is_listed_at_once(app_config, folder):
    (folder / "site_visit.py").chmod(0o666)
    (folder / "visits" / "__init__.py").chmod(0o666)
    with pytest.raises(PluginLoadError) as refused:
        start(app_config, folder)
    assert str(refused.value).count("chmod go-w") == 2


def test_after_chmod_go_w_the_service_starts(app_config, folder):
    (folder / "site_visit.py").chmod(0o666)
    with pytest.raises(PluginLoadError):
        start(app_config, folder)
    path = folder / "site_visit.py"
    path.chmod(stat.S_IMODE(path.stat().st_mode) & ~0o022)  # chmod go-w
    assert "site_visit" in task_types(start(app_config, folder))


@needs_root
def test_a_file_owned_by_another_user_is_refused(app_config, folder):
    os.chown(folder / "visits" / "__init__.py", 4321, -1)
    with pytest.raises(PluginLoadError) as refused:
        start(app_config, folder)
    message = str(refused.value)
    assert f"{folder / 'visits' / '__init__.py'} belongs to user 4321" in message
    assert "chown root" in message


@needs_root
def test_root_may_own_the_plugins_of_a_service_running_as_another_user(
    app_config, folder, monkeypatch
):
    """As ssh accepts root's files: the admin installs plugins as root, cardcrm runs as itself."""
    os.chown(folder / "site_visit.py", 4321, -1)  # the service's own user
    monkeypatch.setattr(os, "geteuid", lambda: 4321)
    assert "site_visit" in task_types(start(app_config, folder))

    os.chown(folder / "site_visit.py", 5555, -1)  # somebody else
    with pytest.raises(PluginLoadError, match="belongs to user 5555"):
        start(app_config, folder)


def test_the_command_line_stops_with_the_message_not_a_traceback(folder, tmp_path, monkeypatch):
    for key in [key for key in os.environ if key.startswith("CARDCRM_")]:
        monkeypatch.delenv(key)
    folder.chmod(0o777)
    env = {"CARDCRM_PLUGINS_DIR": str(folder), "CARDCRM_DATA_DIR": str(tmp_path / "data")}

    result = CliRunner().invoke(main, ["serve", "core", "--port", "1"], env=env)

    assert result.exit_code == 1
    assert f"CARDCRM_PLUGINS_DIR '{folder}' is refused" in result.stderr
    assert f"chmod go-w {folder}" in result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit)
