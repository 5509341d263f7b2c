"""/healthz: is this app server able to serve? For load balancers and monitoring.

It checks what a request needs from outside the process: that the database can write,
and, when the rate limiter or anything else is configured to use Redis, Redis (PING).
"Can write", because a database that answers SELECT 1 but refuses every signature is
not healthy: on PostgreSQL, not a read-only server or session (a replica, a failover in
progress); on SQLite, a write that is rolled back (a read-only file or mount fails it)
and enough free space where the database lives (a full disk fails only at COMMIT, which
a check should not do). The
answer is JSON, never cached, 200 when everything answered and 503 otherwise. It names
the failing dependency but no host, address or error text, so it leaks nothing useful.
"""
from __future__ import annotations

import logging
import os
import time

from flask import Blueprint, Flask, current_app, jsonify
from sqlalchemy import text

from petition.database import writing
from petition.extensions import db
from petition.security.limits import limiter

log = logging.getLogger("petition.health")

_CLIENT_KEY = "petition.health.redis"


def redis_url(config) -> str | None:
    """The Redis this app depends on: REDIS_URL, else a Redis rate-limit storage."""
    if config.REDIS_URL:
        return config.REDIS_URL
    storage = config.RATELIMIT_STORAGE_URI or ""
    if storage.startswith(("redis://", "rediss://", "redis+unix://", "unix://")):
        # The limiter's scheme names (redis+unix://) are not redis-py's.
        return storage.replace("redis+unix://", "unix://", 1)
    return None


def _redis_client(app: Flask, url: str):
    client = app.extensions.get(_CLIENT_KEY)
    if client is None:
        # Imported here: only a site with REDIS_URL set checks Redis, and redis-py takes
        # a noticeable part of start-up to import (python -X importtime).
        import redis

        client = redis.Redis.from_url(url, **app.config["PETITION"].redis_options())
        app.extensions[_CLIENT_KEY] = client
    return client


# Below this much free space on the SQLite database's file system, the site is not
# healthy: every signature writes, and SQLite fails writes on a full disk.
MIN_FREE_BYTES = 64 * 1024 * 1024
_POSTGRES_WRITABLE = text("SELECT NOT pg_is_in_recovery() AND current_setting('transaction_read_only') = 'off'")


def check_database() -> bool:
    try:
        if db.engine.dialect.name == "sqlite":
            problem = _sqlite_cannot_write()
        else:
            problem = None if db.session.execute(_POSTGRES_WRITABLE).scalar_one() else "read-only"
            db.session.rollback()
    except Exception as exc:  # any failure means "not healthy"; never a 500
        problem = exc.__class__.__name__
        db.session.rollback()
    if problem:
        log.warning("health: database check failed (%s)", problem)
    return problem is None


def _sqlite_cannot_write() -> str | None:
    """Why the SQLite database cannot take a write, or None. The write is PRAGMA
    user_version set to its own value (it dirties the header page, so a read-only file
    refuses it), rolled back."""
    path = db.engine.url.database
    if path and path != ":memory:" and not path.startswith("file:"):
        stats = os.statvfs(os.path.dirname(os.path.abspath(path)))
        if stats.f_flag & os.ST_RDONLY:
            return "read-only file system"
        if stats.f_bavail * stats.f_frsize < MIN_FREE_BYTES:
            return "disk nearly full"
    with writing(), db.engine.connect() as connection:
        driver = connection.connection.driver_connection
        driver.execute("PRAGMA busy_timeout=2000")  # a busy writer: wait briefly, not 30 s
        try:
            version = connection.exec_driver_sql("PRAGMA user_version").scalar_one()
            connection.exec_driver_sql(f"PRAGMA user_version={int(version)}")
        finally:
            connection.rollback()
            driver.execute("PRAGMA busy_timeout=30000")
    return None


def check_redis(url: str) -> bool:
    try:
        return bool(_redis_client(current_app._get_current_object(), url).ping())
    except Exception as exc:
        log.warning("health: redis check failed (%s)", exc.__class__.__name__)
        return False


def status() -> tuple[dict, bool]:
    started = time.perf_counter()
    checks: dict[str, str] = {"database": "ok" if check_database() else "error"}
    url = redis_url(current_app.config["PETITION"])
    if url:
        checks["redis"] = "ok" if check_redis(url) else "error"
    healthy = all(value == "ok" for value in checks.values())
    body = {
        "status": "ok" if healthy else "error",
        "checks": checks,
        "ms": round((time.perf_counter() - started) * 1000, 1),
    }
    return body, healthy


bp = Blueprint("health", __name__)


@bp.get("/healthz")
@limiter.exempt
def healthz():
    body, healthy = status()
    response = jsonify(body)
    response.status_code = 200 if healthy else 503
    response.headers["Cache-Control"] = "no-store"
    return response


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
