"""Gunicorn settings of cardcrm's core service (API, web UI, event feed).

    cardcrm serve core --config /etc/cardcrm/gunicorn/core.conf.py

Gunicorn's own loader reads this file over the defaults of `cardcrm serve`; options given on
the command line win over it (--host or --port replace `bind`). See docs/production.md.
"""

import multiprocessing

# Loopback only: nginx (contrib/nginx/cardcrm.conf) and the sidecars' workers talk to it here.
bind = "127.0.0.1:8000"

# Requests served at once = workers x threads. gthread workers keep each request in a thread,
# so a client long-polling the event feed (up to 30 s) holds one thread, not a process.
# Every worker has its own database connection pool: mind PostgreSQL's max_connections.
worker_class = "gthread"
workers = 2 * multiprocessing.cpu_count()
threads = 4

# A worker silent for `timeout` seconds is killed and replaced. On a restart (SIGHUP, SIGTERM)
# requests in flight get `graceful_timeout` seconds: longer than the event feed's longest wait.
timeout = 60
graceful_timeout = 35
keepalive = 5
# Replace each worker after about this many requests, so that no leak can grow for weeks.
max_requests = 5000
max_requests_jitter = 500

# Logs on standard output and error (journald under systemd, `docker logs` in a container).
# The logger blanks secrets (feed tokens, secret query values, credentials) out of every atom.
accesslog = "-"
errorlog = "-"
loglevel = "info"
logger_class = "cardcrm.common.access_log.RedactingLogger"
access_log_format = '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" %(M)sms'
proc_name = "cardcrm-core"
