"""Benchmark of cardcrm's CalDAV server against Radicale serving the same 5,000 to-dos.

``python -m bench.dav [--tasks 5000] [--runs 20] [--host 127.0.0.1] [--port 0]``

One user with ``--tasks`` open tasks (made by core's service functions, as ``bench.calendar``
makes them); the calendar service's mirror caught up; the CalDAV server (the calendar app
mounted at ``/calendar`` as ``cardcrm up`` mounts it) served by its own process on
``--host``/``--port``; Radicale (from PyPI) in its own process holding the same to-dos, as
the GET of cardcrm's "Tasks" collection gives them. Measured, interleaved (A, B, A, B):

- a phone's poll of an unchanged collection: PROPFIND ``getctag``/``sync-token`` (Depth 0)
  then ``sync-collection`` with the token it has, cardcrm vs Radicale;
- a full ``calendar-query`` of the to-dos (``getetag`` and ``calendar-data``), cardcrm vs
  Radicale (warm: after a first query each), as a client repeats it (cardcrm answers from the
  answer kept for the unchanged collection, ``dav/cache.py``), and each one different
  (``_not_kept``: a comment of its own in each body, so cardcrm builds every answer).

Requests sign in as a phone does, with Basic auth and an app password (``--auth app-password``,
the default); ``--auth none`` leaves sign-in out (the bench user, no check) to see its cost.
Figures go to ``bench/results/dav-latest.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import requests

from bench.calendar import Radicale, calendar_service, core_service, free_port
from bench.timing import interleaved, load_average, summary

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
    parser.add_argument("--auth", choices=("none", "app-password"), default="app-password")
    parser.add_argument("--json", default=str(RESULTS))
    parser.add_argument("--serve", help=argparse.SUPPRESS)  # the server process's settings
    args = parser.parse_args(argv)
    if args.serve:
        return serve(json.loads(args.serve), args.host, args.port)
    figures = run(args)
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(figures, indent=2) + "\n")
    print(json.dumps(figures, indent=2))
    return 0


def serve(options: dict[str, Any], host: str, port: int) -> int:
    """The calendar app under /calendar, in this process (started by ``run``)."""
    from cardcrm.calendar_sync import create_app
    from werkzeug.middleware.dispatcher import DispatcherMiddleware
    from werkzeug.serving import run_simple
    from werkzeug.wrappers import Response

    app = create_app(options["settings"])
    if options["auth"] == "none":
        from cardcrm.calendar_sync.dav import views

        user = options["user"]
        views.current_dav_user = lambda: user  # type: ignore[assignment]
    site = DispatcherMiddleware(Response("", 404), {"/calendar": app})
    run_simple(host, port, site, threaded=True)
    return 0


def run(args: argparse.Namespace) -> dict[str, Any]:
    figures: dict[str, Any] = {"tasks": args.tasks, "runs": args.runs, "auth": args.auth}
    with tempfile.TemporaryDirectory(prefix="cardcrm-bench-dav-") as folder:
        root = Path(folder)
        with core_service(root) as core:
            user = core.fill(args.tasks)
            user.update(is_admin=False, language=None)
            with calendar_service(root, core) as calendar:
                context = calendar.extensions["calendar_sync"]
                context.follower(batch=1000).catch_up()
                settings = dict(calendar.settings)
                credentials = None
                if args.auth == "app-password":
                    from cardcrm.calendar_sync.app_passwords import create_app_password

                    with context.database.session() as session:
                        _, secret = create_app_password(session, user, "bench", context.clock())
                    credentials = (user["email"], secret)
            port = args.port or free_port()
            base = f"http://{args.host}:{port}/calendar/dav/calendars/{user['id']}/tasks/"
            server = start_server(settings, user, args, port)
            radicale = Radicale(root / "radicale")
            radicale.start()
            try:
                figures.update(measure(base, radicale, args.runs, credentials))
            finally:
                radicale.stop()
                server.terminate()
                server.wait(15)
    figures["load_average"] = load_average()
    return figures


def start_server(
    settings: dict[str, Any], user: dict[str, Any], args: argparse.Namespace, port: int
) -> subprocess.Popen:
    options = json.dumps({"settings": settings, "user": user, "auth": args.auth})
    command = [sys.executable, "-m", "bench.dav", "--serve", options]
    command += ["--host", args.host, "--port", str(port)]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent)}
    process = subprocess.Popen(command, env=env, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            requests.options(f"http://{args.host}:{port}/calendar/dav/", timeout=1)
            return process
        except requests.RequestException:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("the CalDAV server did not start")


def measure(
    ours: str, radicale: Radicale, runs: int, credentials: tuple[str, str] | None
) -> dict[str, Any]:
    cardcrm = requests.Session()
    cardcrm.auth = credentials
    peer = requests.Session()
    peer.auth = ("peer", "x")
    theirs = f"{radicale.url}peer/tasks/"
    whole = cardcrm.get(ours)
    whole.raise_for_status()
    peer.request("MKCALENDAR", theirs).raise_for_status()
    peer.put(theirs, data=whole.content, headers={"Content-Type": "text/calendar"})

    def query(http: requests.Session, url: str, unique: bool = False) -> Any:
        count = [0]

        def call() -> int:
            count[0] += 1
            # a comment of its own: a request cardcrm never answered (no kept answer)
            body = QUERY + f"<!-- {count[0]} -->".encode() if unique else QUERY
            response = http.request("REPORT", url, data=body, headers={"Depth": "1"})
            assert response.status_code == 207, response.status_code
            return response.content.count(b"BEGIN:VTODO")

        return call

    def poll(http: requests.Session, url: str) -> Any:
        token = {"value": ""}

        def call() -> None:
            response = http.request("PROPFIND", url, data=CTAG, headers={"Depth": "0"})
            assert response.status_code == 207, response.status_code
            body = SYNC.format(token=token["value"]).encode()
            synced = http.request("REPORT", url, data=body, headers={"Depth": "1"})
            assert synced.status_code == 207, synced.status_code
            text = synced.text
            token["value"] = text.split("sync-token>")[-2].rsplit("<", 1)[0]

        call()  # the first sync lists everything; the timed ones find nothing changed
        return call

    counted = query(cardcrm, ours)(), query(peer, theirs)()
    assert counted[0] == counted[1], counted
    figures: dict[str, Any] = {"todos": counted[0]}
    for name, a, b in (
        ("poll_unchanged", poll(cardcrm, ours), poll(peer, theirs)),
        ("calendar_query", query(cardcrm, ours), query(peer, theirs)),
        ("calendar_query_not_kept", query(cardcrm, ours, True), query(peer, theirs, True)),
    ):
        a_ms, b_ms = interleaved(a, b, runs)
        figures[name] = {
            "cardcrm": summary(a_ms),
            "radicale": summary(b_ms),
            "radicale_over_cardcrm": round(
                summary(b_ms)["median_ms"] / summary(a_ms)["median_ms"], 2
            ),
        }
    return figures


if __name__ == "__main__":
    sys.exit(main())
