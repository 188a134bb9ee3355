"""Gunicorn's access log without secrets: feed tokens, secret query values, credentials.

The iCal feed URL *is* its secret (``/feeds/<token>.ics``, ``/calendar/feeds/...`` under
``cardcrm up``), and an access log is read by more people, and kept longer, than the database.
``RedactingLogger`` (gunicorn's ``logger_class``, the default of ``cardcrm serve`` and of the
files in ``contrib/gunicorn/``) blanks those parts out of every value a log format can name,
so no ``access_log_format`` can print them.
"""

from __future__ import annotations

import re
from typing import Any

from gunicorn.glogging import Logger

REDACTED = "[redacted]"

#: The token of a feed URL (what follows ``/feeds/`` up to ``.ics``, ``/``, ``?`` or a space).
FEED_TOKEN = re.compile(r"(/feeds/)[^/?#\s]+?(\.ics)?(?=[/?#\s]|$)")
#: Query parameters whose value is a secret (``?token=...&secret=...``).
SECRET_PARAMETER = re.compile(
    r"(?i)((?:^|[?&;])[\w.\-]*(?:token|secret|password|passwd|signature|api_?key)[\w.\-]*=)[^&;#\s]*"
)
#: Request headers that carry credentials: never logged, whatever the format asks for.
SECRET_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "cookie", "x-cardcrm-signature"}
)


def redact(text: str) -> str:
    """``text`` (a request line, a path, a query string...) with its secrets replaced.

    Each pattern runs only on a text that holds what it needs (``/feeds/``, ``=``): a request
    logs some sixty atoms (every header and environ value), and two regular expressions on
    each showed in a profile of small requests under gunicorn."""
    if "/feeds/" in text:
        text = FEED_TOKEN.sub(rf"\1{REDACTED}\2", text)
    if "=" in text:
        text = SECRET_PARAMETER.sub(rf"\1{REDACTED}", text)
    return text


class RedactingLogger(Logger):  # type: ignore[misc]  # gunicorn ships no type hints
    """Gunicorn's logger whose access-log atoms (``%(r)s``, ``%(U)s``, ``%(q)s``, headers,
    environ values) have no secret in them."""

    def atoms(
        self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any
    ) -> dict[str, Any]:
        atoms: dict[str, Any] = super().atoms(resp, req, environ, request_time)
        for key, value in atoms.items():
            if _is_secret_header(key):
                atoms[key] = REDACTED
            elif isinstance(value, str):
                atoms[key] = redact(value)
        return atoms


def _is_secret_header(key: str) -> bool:
    """Whether an atom is a credential header: ``{authorization}i`` or ``{http_cookie}e``."""
    if key.endswith(("}i", "}e")):
        name = key[1:-2].removeprefix("http_").replace("_", "-")
        return name in SECRET_HEADERS
    return False
