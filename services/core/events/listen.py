"""Wake this process's long-polls when another core process commits events (PostgreSQL).

With several core processes (gunicorn workers, machines), a write commits its events in one of
them; the in-process ``EventNotifier`` wakes only that one's long-polls, and the others would
see the events only at their next look at the database (``POLL_INTERVAL_SECONDS``). On
PostgreSQL the outbox sends ``NOTIFY cardcrm_events`` with the transaction's last event id
(``pg_notify`` in the same transaction, so it is delivered on commit and never for a rollback),
and each core process has one ``EventListener``: a background thread with its own connection
(outside the pool, in autocommit) that ``LISTEN``s and passes each id to the notifier.

The listener starts with the first long-poll that waits, so an app that never serves one (a
CLI command, most tests) opens no connection. When its connection breaks (the database
restarted) it reconnects after ``RECONNECT_SECONDS``, and on each (re)connect it wakes every
long-poll so that they look at the database for what they may have missed. While it is down the
long-polls' periodic look at the database still finds new events: slower, never lost.
SQLite, the embedded default, runs in one process: the in-process notifier is enough.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from sqlalchemy import Engine

log = logging.getLogger(__name__)

#: The channel the outbox notifies on commit; the payload is the last event id committed.
CHANNEL = "cardcrm_events"
#: How long to wait before connecting again after the listening connection broke.
RECONNECT_SECONDS = 1.0
#: How often the listening thread looks up from its connection to see whether it should stop.
CHECK_SECONDS = 1.0


class EventListener:
    """One thread per process that turns PostgreSQL notifications into notifier wake-ups."""

    def __init__(self, engine: Engine, notifier: Any) -> None:
        self.engine = engine
        self.notifier = notifier
        self.listening = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the thread unless it runs already (cheap: called by every long-poll)."""
        if self._thread is not None or self._stop.is_set():
            return
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="cardcrm-event-listener", daemon=True
                )
                self._thread.start()

    def close(self) -> None:
        """Have the thread end within ``CHECK_SECONDS`` (safe in a signal handler: no wait)."""
        self._stop.set()

    def stop(self, timeout: float | None = None) -> None:
        """End the thread and wait for it."""
        self._stop.set()
        thread = self._thread
        if thread is not None:
            thread.join(timeout if timeout is not None else CHECK_SECONDS * 3)

    def _run(self) -> None:
        failures = 0
        while not self._stop.is_set():
            try:
                self._listen()
                failures = 0
            except Exception as error:
                self.listening.clear()
                failures += 1
                if failures == 1:  # once per outage, not once a second
                    log.warning(
                        "event listener lost its database connection (%s); long-polls look"
                        " at the database every poll interval until it is back",
                        error,
                    )
                self._stop.wait(RECONNECT_SECONDS)
        self.listening.clear()

    def _listen(self) -> None:
        connection = self._connect()
        try:
            connection.execute(f"LISTEN {CHANNEL}")
            self.listening.set()
            log.info("event listener: listening on %s", CHANNEL)
            # Notifications sent while not listening are lost: have the long-polls look now.
            self.notifier.wake()
            while not self._stop.is_set():
                for notification in connection.notifies(timeout=CHECK_SECONDS):
                    try:
                        self.notifier.notify(int(notification.payload))
                    except ValueError:
                        self.notifier.wake()
        finally:
            self.listening.clear()
            connection.close()

    def _connect(self) -> Any:
        """A psycopg connection made as the engine's are, but outside its pool."""
        dialect = self.engine.dialect
        args, kwargs = dialect.create_connect_args(self.engine.url)
        connection = dialect.loaded_dbapi.connect(*args, **kwargs)
        connection.autocommit = True
        return connection
