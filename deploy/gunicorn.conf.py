"""gunicorn settings for rxdesk behind nginx (docs/production.md).

    gunicorn -c deploy/gunicorn.conf.py

Read from the environment (the same file as the app, /etc/rxdesk/rxdesk.env):
RXDESK_BIND (default 127.0.0.1:8000: only the local nginx reaches it), RXDESK_WORKERS
(default 2 per core plus 1, at most 9), RXDESK_FORWARDED_ALLOW_IPS (the proxy's address,
default 127.0.0.1: only it may say the request came over HTTPS).
"""

import multiprocessing
import os

wsgi_app = "rxdesk.wsgi:application"
bind = [os.environ.get("RXDESK_BIND", "127.0.0.1:8000")]
workers = int(os.environ.get("RXDESK_WORKERS") or min(2 * multiprocessing.cpu_count() + 1, 9))
worker_class = "sync"
# Reports and label PDFs can take a while on a small server; nothing legitimate takes 2 min.
timeout = 120
graceful_timeout = 30
keepalive = 5
# A worker is replaced after this many requests (with jitter) so a slow leak cannot grow.
max_requests = 2000
max_requests_jitter = 200
forwarded_allow_ips = os.environ.get("RXDESK_FORWARDED_ALLOW_IPS", "127.0.0.1")
proxy_allow_ips = forwarded_allow_ips
# Request lines and headers no browser of ours sends.
limit_request_line = 8190
limit_request_fields = 100
# Logs go to stderr: journald keeps them (or the files named in the environment).
accesslog = os.environ.get("RXDESK_ACCESS_LOG", "-")
errorlog = os.environ.get("RXDESK_ERROR_LOG", "-")
loglevel = os.environ.get("RXDESK_LOG_LEVEL", "info")
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms "%(a)s"'
proc_name = "rxdesk"
