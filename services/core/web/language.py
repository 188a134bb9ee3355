"""The header's language switch: ``POST /language`` puts the chosen language in the signed-in
user's profile (``users.language``, as Profile → Language does) and goes back to the page it
was chosen on, now in that language."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from cardcrm.common.db import get_session
from flask import Blueprint, redirect, request, url_for

from ..auth import service
from ..auth.schemas import MeUpdateSchema
from .security import current_user

bp = Blueprint("language", __name__)


@bp.post("/language")
def choose() -> Any:
    # A language without a catalogue is refused like on the profile (422, nothing changed).
    data = MeUpdateSchema(only=("language",)).load({"language": request.form.get("language", "")})
    service.update_user(get_session(), current_user(), data)
    return redirect(back_to(request.form.get("next") or request.referrer or ""))


def back_to(address: str) -> str:
    """The page to return to: a path of this site only (never another host), else Today."""
    parts = urlsplit(address)
    if parts.netloc and parts.netloc != request.host:
        return url_for("web.today.index")
    path = parts.path
    if not path.startswith("/") or path.startswith("//") or "\\" in path:
        return url_for("web.today.index")
    return path + (f"?{parts.query}" if parts.query else "")
