"""Gunicorn settings for the open-letters site: `gunicorn -c deploy/gunicorn.conf.py wsgi:app`.

Copy it, or use it in place and tune it with the environment variables below. The app
reads its own settings (DATABASE_URL, SECRET_KEY, ...) from the environment; see README.

Logs say what happened, never who: the access log has no client address, no user agent,
no referrer, no query string, and capability tokens in paths (confirm and withdraw
links) are cut out, as they are from gunicorn's error log (which otherwise names the
client address of a malformed request).
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

from gunicorn import util
from gunicorn.glogging import Logger
from gunicorn.workers.sync import SyncWorker

# The redaction rules live once, in the app (petition.redaction): the same token routes
# and address patterns for the app's logs, these and nginx's. Importing it does not load
# the app. The project directory is added when gunicorn runs from elsewhere.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from petition.redaction import redact, redact_path  # noqa: E402

# Where to listen. Behind nginx on the same machine: 127.0.0.1:8000 or a unix socket
# (unix:/run/petition/web.sock). Never a public address: TLS and slow clients are nginx's.
bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000").split(",")

# Sync workers: one request at a time per process, no threads. Behind nginx (which
# buffers slow clients and does the keep-alive), this measured best by far on a small
# box (bench/load.py, 2 cores shared with PostgreSQL, Redis and the sender): 4 sync
# workers did ~100 complete signatures a second with p99 ~170 ms, where gthread 3 x 4 did
# ~55 with p99 ~650 ms (the GIL hand-offs between threads and their wake-ups cost more
# CPU than they saved in waiting). More processes than that only add switching on 2
# cores; on a dedicated app server start at 2 x cores. GUNICORN_THREADS above 1 makes
# gunicorn use gthread workers instead.
workers = int(os.environ.get("GUNICORN_WORKERS", "4"))
threads = int(os.environ.get("GUNICORN_THREADS", "1"))

# A sync worker serves one connection at a time, so a client that connects and then
# sends nothing (or stalls mid-request) holds a whole worker: four of them made the site
# unavailable when gunicorn faced clients directly, until the arbiter killed each worker
# after `timeout`. nginx in front (deploy/nginx/petition.conf) buffers whole requests, so
# gunicorn never sees a slow client; without it, this bounds the damage: every read and
# write on a client socket gives up after GUNICORN_CLIENT_TIMEOUT seconds without
# progress, and the worker goes on to the next connection. (gthread workers, with
# GUNICORN_THREADS above 1, park idle connections without holding a thread.)
client_timeout = float(os.environ.get("GUNICORN_CLIENT_TIMEOUT", "5"))


class ClientTimeoutSyncWorker(SyncWorker):
    """gunicorn's sync worker, with a timeout on each client socket."""

    def accept(self, listener):
        client, addr = listener.accept()
        client.settimeout(client_timeout)
        util.close_on_exec(client)
        self.handle(listener, client, addr)


worker_class = os.environ.get("GUNICORN_WORKER_CLASS") or ("gthread" if threads > 1 else ClientTimeoutSyncWorker)

# Each worker holds at most `threads` database connections (SQLAlchemy's pool), so the
# whole site needs workers x threads x servers connections: keep it under PostgreSQL's
# max_connections, or put PgBouncer (1.21 or newer, transaction mode, with
# max_prepared_statements set: psycopg 3 prepares a statement after five uses) in between.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
# Web workers' statements end before gunicorn's timeout would kill the worker (the app's
# DATABASE_STATEMENT_TIMEOUT; CLI commands and job workers keep no limit by default).
os.environ.setdefault("DATABASE_STATEMENT_TIMEOUT", str(max(1, timeout - 5)))
graceful_timeout = 20
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", "5"))

# Recycle workers now and then, with jitter so they do not all restart at once.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "20000"))
max_requests_jitter = max_requests // 10

# No preload: each worker builds its own app and database pool after the fork, so no
# connection is ever shared between processes.
preload_app = False


def post_worker_init(worker):
    # The app is built (no preload, see above): keep its long-lived objects out of the
    # garbage collector's full passes (petition.process).
    from petition.process import freeze_loaded_heap

    freeze_loaded_heap()


# Request size limits (the app caps bodies at 64 KiB itself).
limit_request_line = 4094
limit_request_fields = 60
limit_request_field_size = 8190

# X-Forwarded-Proto is believed from these addresses only (the local reverse proxy).
# The client address the app sees comes from werkzeug's ProxyFix, and only when
# TRUSTED_PROXIES is set; it is used for a keyed hash in the rate limiter and nothing else.
forwarded_allow_ips = os.environ.get("GUNICORN_FORWARDED_ALLOW_IPS", "127.0.0.1,::1")
proxy_allow_ips = forwarded_allow_ips

# Logging: to stderr (journald under systemd). "-" is stdout/stderr.
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-") or None
errorlog = os.environ.get("GUNICORN_ERROR_LOG", "-")
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
# time, method, path (redacted), status, bytes, milliseconds, worker pid. Nothing else.
access_log_format = '%(t)s "%(m)s %(U)s" %(s)s %(B)s %(M)sms %(p)s'

# Only these atoms ever reach the access log, whatever access_log_format asks for.
_SAFE_ATOMS = {"t", "m", "s", "B", "b", "M", "D", "T", "L", "p", "H"}


class _Redacting:
    """A logging filter for gunicorn's own messages ("Invalid request from ip=..."). A
    client that stalled past client_timeout is not logged at all (gunicorn would write a
    traceback): a script opening slow connections must not fill the log either."""

    def filter(self, record) -> bool:
        if record.exc_info and isinstance(record.exc_info[1], TimeoutError):
            return False
        record.msg = redact(record.getMessage())
        record.args = ()
        return True


class PrivateLogger(Logger):
    """gunicorn's logger, minus client addresses, headers, query strings and tokens."""

    def setup(self, cfg):
        super().setup(cfg)
        self.error_log.addFilter(_Redacting())

    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        safe = {key: value for key, value in atoms.items() if key in _SAFE_ATOMS}
        safe["U"] = redact_path(environ.get("PATH_INFO"))
        safe["r"] = f"{environ.get('REQUEST_METHOD', '-')} {safe['U']} {environ.get('SERVER_PROTOCOL', '-')}"
        for key in ("h", "l", "u", "q", "f", "a"):
            safe[key] = "-"
        return safe


logger_class = PrivateLogger
