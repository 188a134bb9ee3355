"""Benchmark of cardcrm's CalDAV server against Radicale serving the same 5,000 to-dos.

``python -m bench.dav [--tasks 5000] [--runs 20] [--host H] [--port P] [--before DIR]
[--poll-only]``

One user with ``--tasks`` open tasks (made by core's service functions, as ``bench.calendar``
makes them); the calendar service's mirror caught up; the calendar service served as in
production, by ``cardcrm serve calendar`` (gunicorn, one worker with four threads) on
``--host``/``--port``, the DAV root at ``/dav/``; Radicale (from PyPI) in its own process
holding the same to-dos, as the GET of cardcrm's "Tasks" collection gives them. Every request
signs in as a phone does, with Basic auth and an app password. Each client is one keep-alive
connection (``http.client``: next to nothing of the client's own time in the figures).
Measured, interleaved (A, B, A, B) so that both see the same load:

- a phone's poll of an unchanged collection: PROPFIND ``getctag``/``sync-token`` (Depth 0)
  then ``sync-collection`` with the token it has, against its floor (two GETs of the same
  server's ``/healthz``, one trivial query each: what any two requests cost there), against
  Radicale, and (``--before DIR``) against the same poll of another version of cardcrm
  serving the same database (``DIR``: that version's ``services`` folder, e.g. from
  ``git archive``), so that a change is measured before and after in one run;
- a full ``calendar-query`` of the to-dos (``getetag`` and ``calendar-data``), cardcrm vs
  Radicale (warm: after a first query each), as a client repeats it (cardcrm answers from the
  answer kept for the unchanged collection, ``dav/cache.py``), and each one different
  (``_not_kept``: a comment of its own in each body, so cardcrm builds every answer).

``--poll-only`` leaves Radicale out (it takes seconds per request on a busy machine): the
poll against its floor, and against ``--before``, only.

Figures (medians, 95th percentiles, fastest, ratios) and the machine they were measured on
(``bench.timing.machine``) go to ``bench/results/dav-latest.json``.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bench.calendar import Radicale, calendar_service, core_service, served_calendar
from bench.timing import interleaved, load_average, machine, summary

RESULTS = Path(__file__).parent / "results" / "dav-latest.json"
QUERY = b"""<?xml version="1.0" encoding="utf-8"?>
<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">
  <D:prop><D:getetag/><C:calendar-data/></D:prop>
  <C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VTODO"/></C:comp-filter>
  </C:filter>
</C:calendar-query>"""
CTAG = b"""<?xml version="1.0" encoding="utf-8"?>
<D:propfind xmlns:D="DAV:" xmlns:CS="http://calendarserver.org/ns/">
  <D:prop><CS:getctag/><D:sync-token/></D:prop>
</D:propfind>"""
SYNC = """<?xml version="1.0" encoding="utf-8"?>
<D:sync-collection xmlns:D="DAV:"><D:sync-token>{token}</D:sync-token>
<D:sync-level>1</D:sync-level><D:prop><D:getetag/></D:prop></D:sync-collection>"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.dav", description=__doc__)
    parser.add_argument("--tasks", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=20, help="interleaved pairs per figure")
    parser.add_argument("--host", default="127.0.0.1", help="where cardcrm's server listens")
    parser.add_argument("--port", type=int, default=0, help="its port (0: a free one)")
    parser.add_argument(
        "--before", help="another version's services folder, served beside this one"
    )
    parser.add_argument(
        "--poll-only",
        action="store_true",
        help="only the poll against its floor (and --before): no Radicale, minutes sooner",
    )
    parser.add_argument("--json", default=str(RESULTS))
    args = parser.parse_args(argv)
    figures = run(args)
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(figures, indent=2) + "\n")
    print(json.dumps(figures, indent=2))
    return 0


class Client:
    """One keep-alive connection with Basic credentials, as a calendar app holds one."""

    def __init__(self, url: str, user: str, password: str) -> None:
        parts = urlsplit(url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port
        self.connection = http.client.HTTPConnection(self.host, self.port, timeout=120)
        secret = base64.b64encode(f"{user}:{password}".encode()).decode()
        self.headers = {"Authorization": f"Basic {secret}"}

    def request(
        self, method: str, path: str, body: bytes | None = None, depth: str | None = None
    ) -> tuple[int, bytes]:
        headers = dict(self.headers)
        if depth is not None:
            headers["Depth"] = depth
        if body is not None:
            kind = "text/calendar" if method == "PUT" else "application/xml; charset=utf-8"
            headers["Content-Type"] = kind
        for attempt in (1, 2):
            try:
                self.connection.request(method, path, body=body, headers=headers)
                response = self.connection.getresponse()
                return response.status, response.read()
            except (http.client.RemoteDisconnected, ConnectionError):
                # the server closed the idle connection: a new one, as a client would
                self.connection.close()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        self.connection.close()


@contextmanager
def served_version(
    settings: dict[str, Any], host: str, port: int, services: str | None = None
) -> Iterator[str]:
    """``cardcrm serve calendar`` (``bench.calendar.served_calendar``); with ``services``, of
    that copy of the ``services`` folder instead of this checkout's: it is put first on the
    server's path as the ``cardcrm`` package (the installed one is found after it)."""
    if services is None:
        with served_calendar(settings, host, port) as base:
            yield base
        return
    with tempfile.TemporaryDirectory(prefix="cardcrm-bench-before-") as folder:
        (Path(folder) / "cardcrm").symlink_to(Path(services).resolve())
        kept = os.environ.get("PYTHONPATH")
        os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [folder, kept]))
        try:
            served = served_calendar(settings, host, port)
            base = served.__enter__()
        finally:
            if kept is None:
                del os.environ["PYTHONPATH"]
            else:
                os.environ["PYTHONPATH"] = kept
        try:
            yield base
        finally:
            served.__exit__(None, None, None)


def run(args: argparse.Namespace) -> dict[str, Any]:
    figures: dict[str, Any] = {"tasks": args.tasks, "runs": args.runs, "auth": "app-password"}
    figures["server"] = "cardcrm serve calendar (gunicorn, 1 worker, 4 threads)"
    with tempfile.TemporaryDirectory(prefix="cardcrm-bench-dav-") as folder:
        root = Path(folder)
        with core_service(root) as core:
            user = core.fill(args.tasks)
            with calendar_service(root, core) as calendar:
                context = calendar.extensions["calendar_sync"]
                context.follower(batch=1000).catch_up()
                settings = dict(calendar.settings)
                from cardcrm.calendar_sync.app_passwords import create_app_password

                with context.database.session() as session:
                    _, secret = create_app_password(session, user, "bench", context.clock())
            figures["machine"] = machine(settings["DATABASE_URL"])
            path = f"/dav/calendars/{user['id']}/tasks/"
            with ExitStack() as stack:
                base = stack.enter_context(served_version(settings, args.host, args.port))
                before = None
                if args.before:
                    before = stack.enter_context(
                        served_version(settings, args.host, 0, args.before)
                    )
                theirs = None
                if not args.poll_only:
                    radicale = Radicale(root / "radicale")
                    radicale.start()
                    stack.callback(radicale.stop)
                    theirs = Client(radicale.url, "peer", "x")
                ours = Client(base, user["email"], secret)
                older = Client(before, user["email"], secret) if before else None
                for client in (ours, theirs, older):
                    if client is not None:
                        stack.callback(client.close)
                figures.update(measure(ours, path, theirs, "/peer/tasks/", args.runs, older))
    figures["load_average"] = load_average()
    return figures


def measure(
    ours: Client,
    path: str,
    theirs: Client | None,
    their_path: str,
    runs: int,
    older: Client | None = None,
) -> dict[str, Any]:
    """The figures; those against Radicale only with ``theirs``."""
    status, whole = ours.request("GET", path)
    assert status == 200, status
    if theirs is not None:
        assert theirs.request("MKCALENDAR", their_path)[0] in (201, 405)
        status = theirs.request("PUT", their_path, whole)[0]
        assert status in (201, 204), status

    def query(client: Client, url: str, unique: bool = False) -> Callable[[], int]:
        count = [0]

        def call() -> int:
            count[0] += 1
            # a comment of its own: a request cardcrm never answered (no kept answer)
            body = QUERY + f"<!-- {count[0]} -->".encode() if unique else QUERY
            status, answer = client.request("REPORT", url, body, "1")
            assert status == 207, status
            return answer.count(b"BEGIN:VTODO")

        return call

    def poll(client: Client, url: str) -> Callable[[], None]:
        token = {"value": ""}

        def call() -> None:
            status, _answer = client.request("PROPFIND", url, CTAG, "0")
            assert status == 207, status
            body = SYNC.format(token=token["value"]).encode()
            status, synced = client.request("REPORT", url, body, "1")
            assert status == 207, status
            text = synced.decode()
            token["value"] = text.split("sync-token>")[-2].rsplit("<", 1)[0]
            assert token["value"], text

        call()  # the first sync lists everything; the timed ones find nothing changed
        return call

    def floor() -> None:
        for _ in range(2):  # as many requests as a poll
            status, _answer = ours.request("GET", "/healthz")
            assert status == 200, status

    figures: dict[str, Any] = {"todos": query(ours, path)()}
    polled = poll(ours, path)
    pairs = [("poll_unchanged_floor", "floor", polled, floor)]
    if older is not None:
        pairs.append(("poll_unchanged_before", "before", polled, poll(older, path)))
    if theirs is not None:
        assert query(theirs, their_path)() == figures["todos"]
        pairs += [
            ("poll_unchanged", "radicale", polled, poll(theirs, their_path)),
            ("calendar_query", "radicale", query(ours, path), query(theirs, their_path)),
            (
                "calendar_query_not_kept",
                "radicale",
                query(ours, path, True),
                query(theirs, their_path, True),
            ),
        ]
    for name, other, a, b in pairs:
        a_ms, b_ms = interleaved(a, b, runs, warmup=3)
        mine, theirs_ = summary(a_ms), summary(b_ms)
        figures[name] = {
            "cardcrm": mine,
            other: theirs_,
            f"{other}_over_cardcrm": round(theirs_["median_ms"] / mine["median_ms"], 2),
        }
    return figures


if __name__ == "__main__":
    sys.exit(main())
