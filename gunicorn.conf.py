"""gunicorn's settings for the web service (Dockerfile, docker-compose.yml): read by
`gunicorn crm.wsgi:application --config gunicorn.conf.py`. Each can be changed through the
environment variable named beside it (docs/operations.md, "Scaling the web service")."""

import multiprocessing
import os


def _int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
# Sync workers, one request each: twice the CPUs plus one keeps the CPUs busy while some wait
# on PostgreSQL. WEB_CONCURRENCY is the name platforms and gunicorn itself use.
workers = _int("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2 + 1)
# A request that takes longer is killed and its worker replaced (the API's heaviest answers
# take about a second; the proxy in front should wait a little longer than this).
timeout = _int("GUNICORN_TIMEOUT", 30)
# On SIGHUP (a graceful reload: `kill -HUP <master>`) or SIGTERM, old workers finish their
# requests for up to this long while new ones start.
graceful_timeout = _int("GUNICORN_GRACEFUL_TIMEOUT", 30)
# Kept-alive connections from the proxy in front, in seconds.
keepalive = _int("GUNICORN_KEEPALIVE", 5)
# Each worker is replaced after about this many requests (spread so they do not all restart at
# once): memory a long-lived process gathers is given back. 0 turns it off.
max_requests = _int("GUNICORN_MAX_REQUESTS", 2000)
max_requests_jitter = max_requests // 10

# The access log on standard output, one line a request, with its id (crm.middleware) and
# duration; errors and gunicorn's own lines on standard error.
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-") or None
errorlog = "-"
access_log_format = '%(h)s "%(r)s" %(s)s %(B)s %(M)sms request_id=%({x-request-id}o)s "%(a)s"'
# Temporary files of the worker heartbeat in memory, not on a container's overlay disk.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None
