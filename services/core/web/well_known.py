"""``/.well-known/caldav`` (RFC 6764): where a calendar app given only the site's address
finds the CalDAV server, the calendar sync service's ``/calendar/dav/``.

Registered on the app itself, not in the ``web`` blueprint: calendar apps send PROPFIND and
OPTIONS without a session or a CSRF token, and the web pages' hooks would refuse them. A site
without the calendar sync service has no CalDAV server: 404.
"""

from __future__ import annotations

from cardcrm.common.errors import NotFound
from cardcrm.common.translate import gettext as _
from flask import Blueprint, redirect, request
from werkzeug.wrappers import Response

from .display import configured_sidecars

bp = Blueprint("well_known", __name__)

#: Where the calendar sync service's DAV root is, as ``cardcrm up`` and nginx mount it.
DAV_ROOT = "/calendar/dav/"


@bp.route("/.well-known/caldav", methods=["GET", "HEAD", "PROPFIND", "OPTIONS"])
def caldav() -> Response:
    """301 to the DAV root, under the site's own prefix if it has one."""
    if "calendar" not in configured_sidecars():
        raise NotFound(_("This site has no calendar server."))
    # Absolute: some DAV clients of old read a relative Location against the wrong base.
    return redirect(request.url_root.rstrip("/") + DAV_ROOT, 301)
