"""Gunicorn settings of cardcrm's notifications service (preferences, in-app inbox, deliveries).

    cardcrm serve notifications --config /etc/cardcrm/gunicorn/notifications.conf.py

Gunicorn's own loader reads this file over the defaults of `cardcrm serve`; options given on
the command line win over it (--host or --port replace `bind`). See docs/production.md.
Its delivery worker is another process: `cardcrm worker notifications`.
"""

# Loopback only: nginx serves it under /notifications/ (contrib/nginx/cardcrm.conf).
bind = "127.0.0.1:8002"

# The web UI polls the inbox; preferences change rarely.
worker_class = "gthread"
workers = 2
threads = 4

timeout = 60
graceful_timeout = 30
keepalive = 5
max_requests = 5000
max_requests_jitter = 500

# Logs on standard output and error; the logger blanks secrets (webhook secrets in query
# strings, credentials) out of every atom of the access log.
accesslog = "-"
errorlog = "-"
loglevel = "info"
logger_class = "cardcrm.common.access_log.RedactingLogger"
access_log_format = '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" %(M)sms'
proc_name = "cardcrm-notifications"
