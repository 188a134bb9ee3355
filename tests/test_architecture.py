"""The shape of the code that DESIGN.md promises: the sidecars stand on ``cardcrm.common`` and
talk to core only over HTTP and its event feed, and ``cardcrm.common`` belongs to no service."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

SERVICES = Path(__file__).resolve().parents[1] / "services"
#: The mail receiver too: it talks to core over HTTP only, and can run on its own host.
SIDECARS = ("calendar_sync", "notifications", "sidecar", "mail_receiver")


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
from cardcrm.mail_receiver import MailReceiver, config as mail_config
environment = {{"CARDCRM_DATA_DIR": {str(tmp_path)!r}}}
calendar_app(calendar_config.from_env(environment))
notifications_app(notifications_config.from_env(environment))
MailReceiver(mail_config.from_env(environment))
loaded = sorted(name for name in sys.modules if name.startswith("cardcrm.core"))
print(" ".join(loaded))
"""
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""


def test_no_module_imports_itself_back():
    # Every import counts, at module level or inside a function or a TYPE_CHECKING block: a
    # lazy import hides a cycle from Python, not from a reader.
    modules = {
        ".".join(["cardcrm", *path.relative_to(SERVICES).with_suffix("").parts]).removesuffix(
            ".__init__"
        ): path
        for path in SERVICES.rglob("*.py")
        if "migrations" not in path.parts
    }
    graph = {}
    for path, names in imports_of(SERVICES).items():
        if "migrations" in Path(path).parts:
            continue
        module = ".".join(["cardcrm", *Path(path).with_suffix("").parts]).removesuffix(".__init__")
        graph[module] = {name for name in names if name in modules and name != module}
    assert cycles(graph) == []


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        for target in graph[module]:
            if target not in index:
                visit(target)
                low[module] = min(low[module], low[target])
            elif target in stack:
                low[module] = min(low[module], index[target])
        if low[module] == index[module]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == module:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return found
