"""What the parts of a CalDAV round share: the account as a round reads it, what a round did,
and ``CalDAVBase``, the state and helpers pulling and pushing work with.

``CalDAVSync`` (``sync.py``) is composed of ``Pulling`` (``pull.py``) and ``Pushing``
(``push.py``). Both stand on this base alone, which declares everything they use, so neither
knows the other nor the class that composes them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from cardcrm.common.db import Database
from cardcrm.sidecar.core_client import CoreClient
from sqlalchemy import update

from ..context import CalendarContext
from ..ical import Renderer
from ..models import CaldavAccount

#: How long a worker holds an account for a round; a long push renews it batch by batch.
LEASE = timedelta(minutes=2)


@dataclass
class Account:
    """What a round needs of an account, read once (no session is kept open over HTTP)."""

    id: int
    user_id: int
    url: str
    username: str
    password_encrypted: str
    calendar_name: str
    calendar_url: str
    timezone: str
    sync_token: str | None
    pull_at: datetime | None
    shown_as_admin: bool | None = None


@dataclass
class Round:
    """What one round did: pushed, deleted and pulled to-dos, to-dos removed for tasks core
    does not have (``orphans``), and per-to-do refusals."""

    pushed: int = 0
    deleted: int = 0
    pulled: int = 0
    orphans: int = 0
    changed_remotely: bool = False
    rejected: list[str] = field(default_factory=list)


class CalDAVBase:
    """The state a worker's rounds share, taken once from the service's context."""

    context: CalendarContext
    database: Database
    core: CoreClient
    renderer: Renderer
    clock: Callable[[], datetime]
    #: Seconds between two pulls of an account (``PULL_SECONDS``, 60 by default).
    pull_seconds: float
    #: Queued tasks read per query while pushing.
    batch: int

    def __init__(self, context: CalendarContext, *, batch: int = 100) -> None:
        self.context = context
        self.database = context.database
        self.core = context.core
        self.renderer = context.renderer
        self.clock = context.clock
        self.pull_seconds = float(context.settings.get("PULL_SECONDS") or 60)
        self.batch = batch

    def _renew(self, account_id: int) -> None:
        """Hold the account's lease a while longer (a round still at work)."""
        self._set(account_id, lease_until=self.clock() + LEASE)

    def _set(self, account_id: int, **values: Any) -> None:
        with self.database.writer.begin() as session:
            session.execute(
                update(CaldavAccount).where(CaldavAccount.id == account_id).values(**values)
            )
