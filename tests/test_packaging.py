"""A plain (non-editable) install has everything the services need at run time: each
service's migrations, the web UI's templates and static files, the built-in plugins."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_the_wheel_holds_migrations_templates_and_static_files(tmp_path):
    source = tmp_path / "source"
    shutil.copytree(
        ROOT,
        source,
        ignore=shutil.ignore_patterns(
            ".venv", ".git", "data", "build", "*.egg-info", "__pycache__", "test-artifacts"
        ),
    )
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation"]
        + ["--wheel-dir", str(tmp_path / "dist"), str(source)],
        check=True,
        timeout=300,
    )
    (wheel,) = (tmp_path / "dist").glob("cardcrm-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for service in ("core", "calendar_sync", "notifications"):
        migrations = sorted((ROOT / "services" / service / "migrations" / "versions").glob("*.py"))
        assert migrations
        for migration in migrations:
            assert f"cardcrm/{service}/migrations/versions/{migration.name}" in names
        assert f"cardcrm/{service}/migrations/env.py" in names
    templates = ROOT / "services" / "core" / "web" / "templates"
    for template in templates.rglob("*.html"):
        assert f"cardcrm/core/web/templates/{template.relative_to(templates)}" in names
    assert "cardcrm/core/web/static/htmx.min.js" in names
    assert "cardcrm_plugins/sales.py" in names
