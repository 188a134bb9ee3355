"""How large a CSV file an import over HTTP (the API and the web pages) takes.

Any member may import, so the file is bounded: ``CARDCRM_CSV_MAX_MB`` (MiB, default 32) and
``CARDCRM_CSV_MAX_ROWS`` (rows after the header, default 100,000). The defaults take an
export of 100,000 cards with a few custom fields, and such a file imports in seconds without
holding up other users (docs/benchmarks.md). ``cardcrm import`` on the server has no limit.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cardcrm.common.errors import ConfigurationError

DEFAULT_MAX_MB = 32
DEFAULT_MAX_ROWS = 100_000
MEBIBYTE = 1024 * 1024


@dataclass(frozen=True)
class CsvLimits:
    max_bytes: int = DEFAULT_MAX_MB * MEBIBYTE
    max_rows: int = DEFAULT_MAX_ROWS

    @classmethod
    def of(cls, config: Mapping[str, Any]) -> CsvLimits:
        """The limits of an app's config (``CSV_MAX_BYTES``, ``CSV_MAX_ROWS``)."""
        return cls(
            max_bytes=config.get("CSV_MAX_BYTES") or DEFAULT_MAX_MB * MEBIBYTE,
            max_rows=config.get("CSV_MAX_ROWS") or DEFAULT_MAX_ROWS,
        )


def limits_from_env(env: Mapping[str, str]) -> dict[str, int]:
    """``CSV_MAX_BYTES`` and ``CSV_MAX_ROWS`` for the app's config; ``ConfigurationError``
    (naming the variable: the service does not start) for a value that is not a positive
    number."""
    megabytes = _positive(env, "CARDCRM_CSV_MAX_MB", DEFAULT_MAX_MB, float)
    rows = _positive(env, "CARDCRM_CSV_MAX_ROWS", DEFAULT_MAX_ROWS, int)
    return {"CSV_MAX_BYTES": max(1, int(megabytes * MEBIBYTE)), "CSV_MAX_ROWS": int(rows)}


def _positive(env: Mapping[str, str], name: str, default: float, kind: type) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = kind(raw.replace("_", ""))
    except ValueError:
        value = 0
    if not value > 0 or value == float("inf"):
        raise ConfigurationError(f"{name} must be a positive number, not {raw!r}.")
    return float(value)
