"""/healthz: is this app server able to serve? For load balancers and monitoring.

It checks what a request needs from outside the process: the database (SELECT 1) and,
when the rate limiter or anything else is configured to use Redis, Redis (PING). The
answer is JSON, never cached, 200 when everything answered and 503 otherwise. It names
the failing dependency but no host, address or error text, so it leaks nothing useful.
"""
from __future__ import annotations

import logging
import time

from flask import Blueprint, Flask, current_app, jsonify
from sqlalchemy import text

from petition.extensions import db, limiter

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
        import redis

        client = redis.Redis.from_url(url, **app.config["PETITION"].redis_options())
        app.extensions[_CLIENT_KEY] = client
    return client


def check_database() -> bool:
    try:
        db.session.execute(text("SELECT 1")).scalar_one()
        return True
    except Exception as exc:  # any failure means "not healthy"; never a 500
        log.warning("health: database check failed (%s)", exc.__class__.__name__)
        db.session.rollback()
        return False


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


def make_blueprint() -> Blueprint:
    bp = Blueprint("health", __name__)

    @bp.get("/healthz")
    @limiter.exempt
    def healthz():
        body, healthy = status()
        response = jsonify(body)
        response.status_code = 200 if healthy else 503
        response.headers["Cache-Control"] = "no-store"
        return response

    return bp


def init_app(app: Flask) -> None:
    app.register_blueprint(make_blueprint())
