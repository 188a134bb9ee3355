"""The shape of the code that DESIGN.md promises: the sidecars stand on ``cardcrm.common`` and
talk to core only over HTTP and its event feed, and ``cardcrm.common`` belongs to no service."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

SERVICES = Path(__file__).resolve().parents[1] / "services"
SIDECARS = ("calendar_sync", "notifications", "sidecar")


def imports_of(folder: Path) -> dict[str, set[str]]:
    """Every module a file under ``folder`` imports (anywhere in it), as absolute names."""
    found: dict[str, set[str]] = {}
    for path in folder.rglob("*.py"):
        package = ["cardcrm", *path.relative_to(SERVICES).parent.parts]
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom):
                base = package[: len(package) - node.level + 1] if node.level else []
                module = ".".join([*base, node.module] if node.module else base)
                names |= {module} | {f"{module}.{alias.name}" for alias in node.names}
        found[str(path.relative_to(SERVICES))] = names
    return found


@pytest.mark.parametrize("folder", [*SIDECARS, "common"])
def test_sidecars_and_the_shared_package_never_import_core(folder):
    offending = {
        path: sorted(name for name in names if name.startswith("cardcrm.core"))
        for path, names in imports_of(SERVICES / folder).items()
    }
    assert {path: names for path, names in offending.items() if names} == {}


def test_the_shared_package_imports_no_service():
    services = ("cardcrm.core", "cardcrm.calendar_sync", "cardcrm.notifications", "cardcrm.sidecar")
    offending = {
        path: sorted(name for name in names if name.startswith(services))
        for path, names in imports_of(SERVICES / "common").items()
    }
    assert {path: names for path, names in offending.items() if names} == {}


def test_a_sidecar_process_loads_nothing_of_core(tmp_path):
    # What `cardcrm serve calendar|notifications` and `cardcrm worker ...` load: the apps and
    # the workers, built from their settings.
    script = f"""
import sys
from cardcrm.calendar_sync import config as calendar_config, create_app as calendar_app
from cardcrm.calendar_sync import worker as calendar_worker
from cardcrm.notifications import config as notifications_config, create_app as notifications_app
from cardcrm.notifications import worker as notifications_worker
environment = {{"CARDCRM_DATA_DIR": {str(tmp_path)!r}}}
calendar_app(calendar_config.from_env(environment))
notifications_app(notifications_config.from_env(environment))
loaded = sorted(name for name in sys.modules if name.startswith("cardcrm.core"))
print(" ".join(loaded))
"""
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""
