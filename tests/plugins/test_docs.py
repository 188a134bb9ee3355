"""docs/plugins.md documents every hook, with the signature plugins must use."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest
from cardcrm.calendar_sync import hookspecs as calendar_hookspecs
from cardcrm.core import hookspecs
from cardcrm.core.cards.fields import FIELD_TYPES
from cardcrm.core.products.models import GROUPS
from cardcrm.notifications import hookspecs as notification_hookspecs

DOCS = Path(__file__).resolve().parents[2] / "docs" / "plugins.md"


def hook_specs() -> dict[str, inspect.Signature]:
    """Every hook of every service: core's and the sidecars'."""
    modules = [hookspecs, calendar_hookspecs, notification_hookspecs]
    return {
        name: inspect.signature(function)
        for module in modules
        for name, function in inspect.getmembers(module, inspect.isfunction)
        if getattr(function, f"{hookspecs.PROJECT_NAME}_spec", None) is not None
    }


@pytest.fixture(scope="module")
def docs() -> str:
    return DOCS.read_text()


def test_the_core_service_has_hooks_to_document():
    assert {"cardcrm_product_templates", "cardcrm_validate_status_change"} <= set(hook_specs())


@pytest.mark.parametrize("name", sorted(hook_specs()))
def test_every_hook_is_documented_with_its_exact_signature(docs, name):
    parameters = ", ".join(hook_specs()[name].parameters)
    heading = f"#### {name}({parameters})"
    assert heading in docs.splitlines(), f"docs/plugins.md needs the heading {heading!r}"


def test_the_docs_name_no_hook_that_does_not_exist(docs):
    documented = set(re.findall(r"^#### (cardcrm_\w+)\(", docs, flags=re.MULTILINE))
    assert documented == set(hook_specs())


def test_the_docs_list_every_card_field_type_and_status_group(docs):
    for field_type in FIELD_TYPES:
        assert f"| `{field_type}` |" in docs, field_type
    for group in GROUPS:
        assert f"| `{group}` |" in docs, group


def test_the_docs_name_the_three_plugin_sources(docs):
    for source in ("[project.entry-points.cardcrm]", "CARDCRM_PLUGINS=", "CARDCRM_PLUGINS_DIR="):
        assert source in docs
    assert "contrib/example_plugin" in docs


def test_every_python_example_in_the_docs_is_valid_python(docs):
    examples = re.findall(r"```python\n(.*?)```", docs, flags=re.DOTALL)
    assert len(examples) >= 5
    for example in examples:
        compile(example, "docs/plugins.md", "exec")
