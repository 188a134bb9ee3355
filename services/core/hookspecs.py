"""Hook specifications of the core service (pluggy project name ``cardcrm``).

A plugin is a module or object with functions named like these, decorated with
``cardcrm.core.hookspecs.hookimpl``. Implementations may accept any subset of the arguments,
so arguments are only ever added here, never renamed.
"""

from __future__ import annotations

from typing import Any

import pluggy

PROJECT_NAME = "cardcrm"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


# --- Products -------------------------------------------------------------------------------


@hookspec
def cardcrm_product_templates() -> list[dict[str, Any]]:
    """Return the product templates this plugin offers.

    Called whenever templates are listed (``GET /api/v1/templates``) or a product is created
    from a template. Each template is a dict::

        {"key": "sales", "name": "Sales", "description": "...",
         "statuses": [{"name": "Lead", "group": "inactive"}, ...],
         "fields": [{"key": "value", "label": "Deal value", "type": "money"}, ...],
         "task_types": [{"key": "demo", "label": "Demo"}]}

    ``group`` is one of ``inactive``, ``in_progress``, ``positive``, ``negative``; field
    ``type`` is one of the card field types (see ``cardcrm.core.cards.fields``). All results
    are collected; a key offered twice is an error reported at start-up.
    """
    raise NotImplementedError  # a specification: pluggy never calls it


@hookspec
def cardcrm_task_types() -> list[dict[str, str]]:
    """Return extra task types available in every product, as ``{"key", "label"}`` dicts.

    Called when a product's task types are computed. All results are collected and added after
    the built-in types (call, email, meeting, todo) and the template's own types.
    """
    raise NotImplementedError  # a specification: pluggy never calls it


@hookspec
def cardcrm_translation_directories() -> list[Any]:
    """Return folders of message catalogues (``<folder>/<lang>/LC_MESSAGES/messages.po``).

    Called once when the core app starts. All results are collected; the words a plugin marks
    with ``flask_babel.lazy_gettext`` (template names, status names, field labels, task types)
    are looked up in these catalogues, after core's own. The ``.po`` files are compiled when the
    app starts if their ``.mo`` is missing or older. See docs/languages.md.
    """
    raise NotImplementedError  # a specification: pluggy never calls it


# --- Cards ----------------------------------------------------------------------------------


@hookspec
def cardcrm_validate_status_change(card, old_status, new_status, user) -> list[str] | str | None:
    """Return the reasons to refuse moving ``card`` from ``old_status`` to ``new_status``.

    Called inside the transaction of a status change, before anything is written. ``card`` is
    the card with its current values (its ``fields`` already hold the values of the same
    request), the statuses are ``Status`` rows and ``user`` the acting ``User`` (or ``None``
    for a service). Return ``None`` or an empty list to allow; a string or a list of strings
    to refuse. Every plugin is asked; the reasons of all of them reach the client in one 422.
    """


# --- Files ----------------------------------------------------------------------------------


@hookspec(firstresult=True)
def cardcrm_file_storage(settings: dict[str, Any]) -> Any:
    """Return the ``FileStorage`` that keeps the bytes of card files, or ``None``.

    Called once per app, when the core app is created, with its settings (``app.config``:
    ``FILES_DIR``, ``DATA_DIR``, ``MAX_UPLOAD_BYTES`` and the rest). The first plugin that returns
    a storage wins (``firstresult``); when none does, files are kept under ``CARDCRM_FILES_DIR``
    (``cardcrm.core.files.storage.LocalFileStorage``). The object must subclass
    ``cardcrm.core.files.storage.FileStorage`` (``put``, ``open``, ``delete``, ``exists``, and
    ``contents`` for the orphan sweep); contents are named by their SHA-256 (docs/files.md).
    """


# --- Events ---------------------------------------------------------------------------------


@hookspec
def cardcrm_event_committed(event: dict[str, Any]) -> None:
    """React to a change that has been committed.

    Called once per event after the transaction that wrote it committed, in the process that
    made the change, with the event as the event feed serves it: ``{"id", "uid", "type", "at",
    "actor_id", "data"}`` (``uid`` names the event outside core; ``id`` is reused after a
    restore). Errors raised here are logged and do not undo the change. Work that must not be
    lost belongs in a consumer of the event feed instead, which resumes after a crash.
    """
