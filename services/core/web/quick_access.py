"""Quick access: favourite filters, recent cards, the Wall of Progress, help, the mobile page,
and the settings of the sidecars (calendar sync, notifications) when they are mounted.

The sidecars are separate services under their own prefixes (``/calendar``,
``/notifications``) that take a user's bearer token, not this session. The browser asks for
a token (``POST /session/api-token``, CSRF-checked) and keeps it for the tab; the token
belongs to the web session (``auth.service.browser_token``) and ends with it. Which sidecars
exist is the ``SIDECARS`` config key (``cardcrm up`` sets it); core cannot know otherwise.
"""

from __future__ import annotations

from typing import Any

from cardcrm.common.db import get_session
from cardcrm.common.errors import CardcrmError
from flask import (
    Blueprint,
    abort,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from marshmallow import ValidationError
from sqlalchemy.orm import Session

from ..auth.service import browser_token as session_token
from ..quick_access import service
from ..quick_access.views import FavoriteCreateSchema
from .display import configured_sidecars, user_zone
from .favorite_links import query_string
from .form_messages import worded
from .forms import messages_of, optional_int, text
from .lookups import all_users, cards_with_context, task_texts, user_names
from .security import current_session, current_user

bp = Blueprint("quick_access", __name__)

WALL_PAGE = 50
NO_NAME = _l("Give this filter a name.")


@bp.post("/favorites")
def create_favorite() -> Any:
    db, user = get_session(), current_user()
    product_id = optional_int("product_id") or 0
    query = {key[len("query.") :]: value for key, value in _form_items() if value}
    back = url_for("web.products.show", product_id=product_id) + query_string(query)
    try:
        # The API's schema too: a favourite needs a name of up to 200 characters.
        data = FavoriteCreateSchema().load(
            {"name": text("name"), "product_id": product_id, "query": query}
        )
        service.create_favorite(db, user, data)
    except (CardcrmError, ValidationError) as error:
        # The form posts with the page's filters in its query string: the same filtered page
        # comes back, the name kept beside its message. (Imported here: products.py imports
        # this module for the favourites' links.)
        from .products import product_page

        errors = worded(messages_of(error), {"name": text("name")}, {"name": str(NO_NAME)})
        if not errors:
            errors = {"_": [getattr(error, "detail", "") or _("Check the form.")]}
        return product_page(product_id, favorite_name=text("name"), favorite_errors=errors)
    flash(_("Saved as a favourite: it is one click away in quick access."))
    return redirect(back)


@bp.post("/favorites/<int:favorite_id>/delete")
def delete_favorite(favorite_id: int) -> Any:
    service.delete_favorite(get_session(), current_user(), favorite_id)
    flash(_("The favourite is removed."))
    return redirect(url_for("web.today.index"))


@bp.get("/recent")
def recent() -> Any:
    db = get_session()
    cards = service.recent_cards(db, current_user())
    context = cards_with_context(db, [card.id for card in cards])
    return render_template("quick/recent.html", cards=cards, context=context)


@bp.get("/wall")
def wall() -> Any:
    before = request.args.get("before", type=int)
    items = wall_items(get_session(), before, WALL_PAGE + 1)
    more = items[WALL_PAGE - 1]["id"] if len(items) > WALL_PAGE else None
    return render_template("quick/wall.html", items=items[:WALL_PAGE], more=more)


@bp.get("/help")
def help_page() -> Any:
    return render_template("quick/help.html")


@bp.get("/mobile")
def mobile() -> Any:
    return render_template("quick/mobile.html")


@bp.get("/settings/calendar")
def calendar() -> Any:
    if "calendar" not in configured_sidecars():
        abort(404, _("Calendar sync is not installed on this server."))
    return render_template("quick/calendar.html", timezone=str(user_zone()))


@bp.post("/session/api-token")
def browser_token() -> Any:
    """A bearer token for the browser to call the sidecars as this user (one per session,
    ending with it)."""
    web_session, secret = current_session()
    return jsonify(token=session_token(get_session(), web_session, secret))


# --- used by the Today view and the product page -------------------------------------------------


def wall_items(db: Session, before: int | None, limit: int) -> list[dict[str, Any]]:
    rows = service.wall(db, before, limit, viewer=current_user())
    names = user_names(all_users(db)) if rows else {}
    texts = task_texts(db, [row.task_id for row, _ in rows if row.task_id])
    items = []
    for row, card in rows:
        if row.type == "card.status_changed":
            status = (row.data.get("to") or {}).get("name") or _("a positive status")
            what = _("moved to %(status)s", status=status)
        else:
            task = texts.get(row.task_id) if row.task_id else None
            what = _("completed “%(task)s”", task=task or _("a task"))
        items.append(
            {
                "id": row.id,
                "at": row.at,
                "who": names.get(row.user_id, _("Someone")),
                "what": what,
                "card": card,
                "kind": "won" if row.type == "card.status_changed" else "done",
            }
        )
    return items


def _form_items() -> list[tuple[str, str]]:
    return [(key, value.strip()) for key, value in request.form.items() if key.startswith("query.")]
