"""A bare Flask app with one ``hello`` endpoint: the framework's ceiling for ``bench.load``.

``python -m bench.hello --port P --workers W --threads T`` serves it under gunicorn with the
very options ``cardcrm serve`` uses (``cardcrm.server.gunicorn_options``: gthread workers, the
access log on stdout...). No database, no token, no marshmallow: what a request costs in
gunicorn, werkzeug and Flask alone. ``bench.load`` and ``bench.memory`` run it next to core,
on core's port + 1 (``--port``), and alternate their phases between the two.
"""

from __future__ import annotations

import argparse
import sys

from cardcrm.server import GunicornServer, gunicorn_options
from flask import Flask, jsonify

PATH = "/hello"


def create_app() -> Flask:
    app = Flask(__name__)

    @app.get(PATH)
    def hello():  # noqa: ANN202 - a Flask view
        return jsonify(hello="world")

    return app


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.hello", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=8000, help="port to listen on")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args(argv)
    options = gunicorn_options(args.host, args.port, args.workers, args.threads)
    print(f"bench.hello on http://{args.host}:{args.port}{PATH}", file=sys.stderr)
    GunicornServer(create_app, options).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
