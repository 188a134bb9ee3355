"""Global search in the header: suggestions while typing (``/search/suggest``, a fragment the
header's script shows under the box) and the results page (``/search``, also what the box
submits to without JavaScript)."""

from __future__ import annotations

from typing import Any

from cardcrm.common.db import get_session
from flask import Blueprint, render_template, request

from ..search.service import search
from .security import current_user

bp = Blueprint("search", __name__)

SUGGESTIONS = 6
RESULTS = 50
MAX_QUERY = 200


@bp.get("/search")
def page() -> Any:
    q = _query()
    hits = search(get_session(), current_user(), q, RESULTS) if q else []
    return render_template("search/page.html", q=q, hits=hits)


@bp.get("/search/suggest")
def suggest() -> Any:
    q = _query()
    hits = search(get_session(), current_user(), q, SUGGESTIONS) if q else []
    return render_template("search/_suggestions.html", q=q, hits=hits)


def _query() -> str:
    return (request.args.get("q") or "").strip()[:MAX_QUERY]
