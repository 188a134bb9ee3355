"""Gunicorn settings of cardcrm's calendar sync service (iCal feeds, CalDAV accounts).

    cardcrm serve calendar --config /etc/cardcrm/gunicorn/calendar.conf.py

Gunicorn's own loader reads this file over the defaults of `cardcrm serve`; options given on
the command line win over it (--host or --port replace `bind`). See docs/production.md.
Its sync worker is another process: `cardcrm worker calendar`.
"""

# Loopback only: nginx serves it under /calendar/ (contrib/nginx/cardcrm.conf).
bind = "127.0.0.1:8001"

# Calendar apps fetch each feed every few minutes to hours: a few threads are plenty.
worker_class = "gthread"
workers = 2
threads = 4

timeout = 60
graceful_timeout = 30
keepalive = 5
max_requests = 5000
max_requests_jitter = 500

# The feed URL is the feed's secret (/feeds/<token>.ics): the logger blanks it, and secret
# query values and credentials, out of every atom of the access log.
accesslog = "-"
errorlog = "-"
loglevel = "info"
logger_class = "cardcrm.common.access_log.RedactingLogger"
access_log_format = '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" %(M)sms'
proc_name = "cardcrm-calendar"
