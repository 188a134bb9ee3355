"""Gunicorn's access log without secrets: feed tokens, secret query values, credentials.

The iCal feed URL *is* its secret (``/feeds/<token>.ics``, ``/calendar/feeds/...`` under
``cardcrm up``), and an access log is read by more people, and kept longer, than the database.
``RedactingLogger`` (gunicorn's ``logger_class``, the default of ``cardcrm serve`` and of the
files in ``contrib/gunicorn/``) blanks those parts out of every value a log format can name,
so no ``access_log_format`` can print them.
"""

from __future__ import annotations

import re
from functools import lru_cache
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
    environ values) have no secret in them.

    Only the atoms the format names are kept (redacted): those are all a line prints, and
    going through all of them (some sixty: every header and environ value) for each request
    cost 82 us a line, 33 with the atoms named only (the default format, a card list's request)."""

    def atoms(
        self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any
    ) -> dict[str, Any]:
        atoms: dict[str, Any] = super().atoms(resp, req, environ, request_time)
        kept: dict[str, Any] = {}
        for key in named_atoms(self.cfg.access_log_format):
            if key not in atoms:
                continue  # gunicorn prints "-"
            value = atoms[key]
            if _is_secret_header(key):
                value = REDACTED
            elif isinstance(value, str):
                value = redact(value)
            kept[key] = value
        return kept


@lru_cache(maxsize=16)
def named_atoms(log_format: str) -> tuple[str, ...]:
    """The atoms ``log_format`` names (``%(name)s``), as gunicorn looks them up: a header's
    or environ value's (``{Name}i``) in lower case."""
    names = re.findall(r"%\(([^)]*)\)", log_format)
    return tuple(dict.fromkeys(name.lower() if name.startswith("{") else name for name in names))


def _is_secret_header(key: str) -> bool:
    """Whether an atom is a credential header: ``{authorization}i`` or ``{http_cookie}e``."""
    if key.endswith(("}i", "}e")):
        name = key[1:-2].removeprefix("http_").replace("_", "-")
        return name in SECRET_HEADERS
    return False
