"""Marshmallow fields shared by the core service's schemas."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from marshmallow import fields

from .timeutil import OUT_OF_CALENDAR, in_calendar, isoformat_z, to_utc
from .validation_messages import N_

RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,6})?([Zz]|[+-]\d{2}:\d{2})$")


class Instant(fields.Field[datetime]):
    """An RFC 3339 instant with an offset on input; UTC with ``Z`` on output.

    Instants outside the calendar cardcrm keeps (``timeutil.EARLIEST`` to ``LATEST``) are
    refused: ``0001-01-01T00:30:00+05:00`` is a valid RFC 3339 text of an instant before year 1.
    """

    default_error_messages = {
        "invalid": N_("Not an RFC 3339 date-time with an offset (e.g. 2026-11-27T09:30:00+02:00)."),
        "range": OUT_OF_CALENDAR,
    }

    def _serialize(self, value: datetime | None, attr: Any, obj: Any, **kwargs: Any) -> str | None:
        return isoformat_z(value)

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> datetime:
        if isinstance(value, datetime) and value.tzinfo is not None:
            instant = value
        elif not isinstance(value, str) or not RFC3339.match(value):
            raise self.make_error("invalid")
        else:
            try:
                instant = datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
            except ValueError as error:
                raise self.make_error("invalid") from error
        if not in_calendar(instant):
            raise self.make_error("range")
        return to_utc(instant)
