"""The delivery loop: send due deliveries and record what came of each attempt.

A step claims a few due deliveries (``sending``, with a lease), sends those to one destination
(``deliveries.destinations``: its slot held meanwhile, so a slow receiver holds up only the
thread sending to it) outside any transaction, gives the others back unsent, and marks each
sent one ``sent``, ``retrying`` (with exponential backoff and jitter) or ``dead`` (after the
channel's last attempt, or a permanent refusal), at the time its send ended. A crash after the claim
leaves the row ``sending`` until its lease runs out; it is then sent again: at least once.
Local channels (the inbox) write their item in the transaction that marks the row sent:
exactly once.
"""

from __future__ import annotations

import dataclasses
import logging
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from cardcrm.common.outbound import OutboundRefused
from cardcrm.common.timeutil import Clock, utcnow
from cardcrm.sidecar.core_client import CoreUnavailable
from sqlalchemy.orm import Session

from ..channels.base import Channel, Content, DeliveryError, Message, PermanentFailure
from ..channels.email import EmailChannel
from ..config import setting
from ..directory import Directory
from ..messages import Composer
from ..preferences.effective import UserPreferences
from ..preferences.lookup import preferences_for
from .destinations import Destinations
from .models import Delivery
from .service import backoff, claim, finish, release

if TYPE_CHECKING:
    from ..context import NotificationsContext

log = logging.getLogger(__name__)


#: Outcomes of sends are recorded together, but never later than this after the send.
RECORD_WITHIN_SECONDS = 1.0


@dataclass(frozen=True)
class Outcome:
    """What came of a claimed delivery: its new state, the error, when to try again; when
    it happened; whether trying again may help (the destination is then backed off)."""

    state: str
    error: str | None = None
    retry_at: datetime | None = None
    at: datetime | None = None
    retry: bool = False
    retry_after: float | None = None


class Dispatcher:
    def __init__(
        self,
        context: NotificationsContext,
        clock: Clock = utcnow,
        jitter: Callable[[], float] = random.random,
        destinations: Destinations | None = None,
    ) -> None:
        self.context = context
        self.clock = clock
        self.jitter = jitter
        self.composer = Composer(
            Directory(context.db, context.client()), context.links, context.speaker
        )
        settings = context.settings
        self.lease = timedelta(seconds=float(setting(settings, "SENDING_LEASE_SECONDS")))
        self.max_attempts = int(setting(settings, "DELIVERY_MAX_ATTEMPTS"))
        self.backoff_base = float(setting(settings, "DELIVERY_BACKOFF_SECONDS"))
        self.backoff_cap = float(setting(settings, "DELIVERY_BACKOFF_MAX_SECONDS"))
        #: shared by the worker's sender threads (one slot per destination)
        self.destinations = destinations or Destinations(
            self.backoff_base, self.backoff_cap, jitter
        )

    def step(self, now: datetime | None = None, limit: int = 20) -> int:
        """Claim up to ``limit`` due deliveries and send the ones to one destination; how
        many were settled (sent, stored, failed or skipped; not the ones given back).

        Deliveries to other destinations, and to one that is busy (another thread holds its
        slot) or backed off, are given back unsent and uncounted, for another thread or a
        later step: a destination waits only behind itself. With ``now`` given (tests, the
        drain), every time recorded is ``now``; otherwise each is the clock's time when it
        happened, not when the batch was claimed.
        """
        fixed = now
        now = now or self.clock()
        with self.context.db.writer.begin() as session:
            claimed = claim(session, now, self.lease, limit)
        if not claimed:
            return 0
        self.composer.directory.prefetch_cards(d.notification.card_id for d in claimed)
        settled: list[tuple[Delivery, Outcome]] = []
        local: list[tuple[Delivery, Channel, Message]] = []
        remote: dict[str, list[tuple[Delivery, Channel, Message]]] = {}
        contents: dict[int, Content] = {}  # one composition per notification and step
        with self.context.db.sessions() as session:
            for delivery in claimed:
                prepared = self._prepare(session, delivery, contents, now)
                if isinstance(prepared, Outcome):
                    settled.append((delivery, prepared))
                elif prepared[0].local:
                    local.append((delivery, *prepared))
                else:
                    channel, message = prepared
                    remote.setdefault(channel.destination(message), []).append(
                        (delivery, channel, message)
                    )
        destination, batch, given_back = self._choose(remote, fixed or self.clock())
        at = fixed or self.clock()
        if settled or local or given_back:
            # Local deliveries, the ones settled without sending and the ones given back:
            # one transaction.
            with self.context.db.writer.begin() as session:
                for delivery, outcome in settled:
                    finish(session, delivery, at, outcome.state, outcome.error)
                for delivery, channel, message in local:
                    if finish(session, delivery, at, "sent"):
                        channel.store(session, message)
                for delivery, due_at in given_back:
                    release(session, delivery, at, due_at)
        sent = self._send_to(destination, batch, fixed) if destination is not None else 0
        return len(settled) + len(local) + sent

    def _choose(
        self, remote: dict[str, list[tuple[Delivery, Channel, Message]]], now: datetime
    ) -> tuple[
        str | None, list[tuple[Delivery, Channel, Message]], list[tuple[Delivery, datetime]]
    ]:
        """The first destination whose slot this thread gets, its deliveries, and the others
        to give back with when they are due again."""
        chosen: str | None = None
        batch: list[tuple[Delivery, Channel, Message]] = []
        given_back: list[tuple[Delivery, datetime]] = []
        for destination, deliveries in remote.items():
            due_at = now if chosen is not None else self.destinations.acquire(destination, now)
            if due_at is None:
                chosen, batch = destination, deliveries
            else:
                given_back.extend((delivery, due_at) for delivery, _, _ in deliveries)
        return chosen, batch, given_back

    def _send_to(
        self,
        destination: str,
        batch: list[tuple[Delivery, Channel, Message]],
        fixed: datetime | None,
    ) -> int:
        """Send ``batch`` to ``destination``, whose slot this thread holds, one by one; on a
        failure worth retrying, back the destination off and give the rest back until then.
        Outcomes of quick sends share a transaction."""
        outcomes: list[tuple[Delivery, Outcome]] = []
        started = recorded = time.monotonic()
        failure: Outcome | None = None
        rest: list[tuple[Delivery, Channel, Message]] = []
        try:
            for index, (delivery, channel, message) in enumerate(batch):
                outcome = self._send(delivery, channel, message, fixed)
                outcomes.append((delivery, outcome))
                if outcome.retry:
                    failure = outcome
                    rest = batch[index + 1 :]
                    break
                if time.monotonic() - started > self.lease.total_seconds() / 2:
                    rest = batch[index + 1 :]  # before the lease runs out: no double sends
                    break
                if time.monotonic() - recorded >= RECORD_WITHIN_SECONDS:
                    self._record(outcomes)
                    outcomes, recorded = [], time.monotonic()
        finally:
            at = fixed or self.clock()
            until = self.destinations.release(
                destination,
                at,
                failed=failure is not None,
                retry_after=failure.retry_after if failure else None,
            )
        if failure is not None and until is not None:
            log.warning(
                "deliveries to %s wait until %s: %s", destination, until.isoformat(), failure.error
            )
        self._record(outcomes, [(delivery, until or at) for delivery, _, _ in rest])
        return len(batch) - len(rest)

    def _prepare(
        self, session: Session, delivery: Delivery, contents: dict[int, Content], now: datetime
    ) -> tuple[Channel, Message] | Outcome:
        """The channel and message of ``delivery``, or how it ends without being sent."""
        channel = self.context.channels.get(delivery.channel)
        if channel is None:
            return Outcome("dead", f"no channel {delivery.channel!r} is installed")
        preferences = preferences_for(session, delivery.user_id, self.context.box)
        if preferences.email and not preferences.email_verified:
            try:
                preferences = self._until_verified(preferences)
            except CoreUnavailable as error:
                if channel.name == EmailChannel.name:  # it waits for the address
                    failure = DeliveryError(f"cannot ask core for the account's address: {error}")
                    return self._failure(delivery, channel, now, failure)
                # Other channels need no address: they go on without the unverified one.
                preferences = dataclasses.replace(preferences, email=None)
        address = channel.address(preferences)
        reason = channel.unavailable()
        if reason or address is None:
            return Outcome("skipped", reason or "the user no longer uses this channel")
        notification = delivery.notification
        try:
            if notification.id not in contents:
                contents[notification.id] = self.composer.compose(notification, preferences)
        except Exception as error:  # a notification we cannot put in words must not loop
            log.exception("cannot compose delivery %s", delivery.id)
            return Outcome("dead", f"cannot compose the message: {error}")
        return channel, Message(
            delivery_id=delivery.id,
            notification_id=notification.id,
            user_id=delivery.user_id,
            rule=notification.rule,
            channel=channel.name,
            key=f"{notification.user_id}/{notification.rule}/{notification.key}/{channel.name}",
            address=address,
            content=contents[notification.id],
            event=notification.payload,
            at=notification.at,
            card_id=notification.card_id,
            preferences=preferences,
        )

    def _until_verified(self, preferences: UserPreferences) -> UserPreferences:
        """The preferences with the account's own address in place of an unverified one:
        what every channel sees, so none sends to an address its owner has not confirmed."""
        account = self.composer.directory.account_email(preferences.user_id)
        return dataclasses.replace(preferences, email=account, email_verified=account is not None)

    def _send(
        self, delivery: Delivery, channel: Channel, message: Message, fixed: datetime | None
    ) -> Outcome:
        """Send one delivery; the outcome carries the time the send ended."""
        failure: DeliveryError | None = None
        try:
            channel.send(message)
        except DeliveryError as error:
            failure = error
        except OutboundRefused as refusal:
            # A channel's connection through the outbound guard (cardcrm.common.outbound) to an
            # address it refuses: nothing was sent, and trying again will not change that.
            failure = PermanentFailure(refusal.rule)
        except Exception as error:
            log.exception("channel %r failed on delivery %s", channel.name, delivery.id)
            failure = DeliveryError(f"the channel failed: {error}")
        now = fixed or self.clock()
        if failure is not None:
            return self._failure(delivery, channel, now, failure)
        return Outcome("sent", at=now)

    def _failure(
        self, delivery: Delivery, channel: Channel, now: datetime, error: DeliveryError
    ) -> Outcome:
        limit = channel.max_attempts or self.max_attempts
        if not error.retry or delivery.attempts >= limit:
            log.warning(
                "delivery %s is dead after %s attempts: %s", delivery.id, delivery.attempts, error
            )
            return Outcome("dead", str(error), at=now, retry=error.retry)
        delay = backoff(
            delivery.attempts, self.backoff_base, self.backoff_cap, error.retry_after, self.jitter
        )
        log.info("delivery %s failed (%s); retrying in %.0fs", delivery.id, error, delay)
        return Outcome(
            "retrying",
            str(error),
            now + timedelta(seconds=delay),
            at=now,
            retry=True,
            retry_after=error.retry_after,
        )

    def _record(
        self,
        outcomes: list[tuple[Delivery, Outcome]],
        given_back: Sequence[tuple[Delivery, datetime]] = (),
    ) -> None:
        """Record ``outcomes``, each at the time it happened, and give ``given_back`` back."""
        if not outcomes and not given_back:
            return
        with self.context.db.writer.begin() as session:
            for delivery, outcome in outcomes:
                at = outcome.at or self.clock()
                if not finish(
                    session, delivery, at, outcome.state, outcome.error, outcome.retry_at
                ):
                    log.warning("delivery %s was taken over by another sender", delivery.id)
            for delivery, due_at in given_back:
                release(session, delivery, self.clock(), due_at)
