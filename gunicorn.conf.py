"""gunicorn settings for TokenAudit: `make serve`, or `gunicorn -c gunicorn.conf.py`.

Each setting can be changed through the environment variable named beside it; the README's
Deployment section explains them. Put a TLS-terminating proxy (nginx, a load balancer) in front.
"""

import os

wsgi_app = "wsgi:app"
bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")

# Sync workers: one request at a time each, so a slow client cannot starve the others of a
# database connection. About two per core; GUNICORN_THREADS > 1 switches to threaded workers.
workers = int(os.environ.get("GUNICORN_WORKERS") or 2 * (os.cpu_count() or 1) + 1)
threads = int(os.environ.get("GUNICORN_THREADS") or 1)

# A worker silent this long is killed and replaced. Longer than MAIL_TIMEOUT (10 s), the
# slowest thing a request waits for, so a hung SMTP server costs an email retry, not a worker.
timeout = int(os.environ.get("GUNICORN_TIMEOUT") or 30)
graceful_timeout = 30
keepalive = 5

# Not preloaded: each worker builds the app after the fork, so it opens its own database
# connections. (Pending mail is sent by one process beside gunicorn: `flask send-mail --watch`.)
preload_app = False

# The access log: client, method, path *without the query string* (%(U)s; queries can hold
# secrets), status, bytes, duration, user agent. No referrer: it can carry another page's query.
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-")
access_log_format = '%(h)s "%(m)s %(U)s" %(s)s %(B)s %(M)sms "%(a)s"'
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")

# X-Forwarded-Proto from these proxy addresses marks a request as https (HSTS, Secure cookies).
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")

# Served behind TLS: session and remember cookies are Secure unless explicitly turned off.
os.environ.setdefault("SESSION_COOKIE_SECURE", "true")

# No runtime control socket (gunicorn 27 creates one in $HOME by default): it is not used here,
# and several instances on one machine would share its path.
control_socket_disable = True
