"""Every error is a localised page (or JSON under /api/), never a stack trace, and says
what is true: a dependency that is down (the database, Redis) is a 503 with Retry-After,
and a request that wrote nothing is told it did not go through. An outage is logged
once per process (petition.outages), not once per request."""
from __future__ import annotations

from flask import Flask, g, jsonify, render_template, request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from sqlalchemy import event
from sqlalchemy import exc as sa_exc
from werkzeug.exceptions import HTTPException

from petition import outages
from petition.extensions import db
from petition.i18n import LANGUAGES, best_language

# Seconds a client is asked to wait while a dependency is down.
RETRY_AFTER_SECONDS = 30
WRITES = ("POST", "PUT", "PATCH", "DELETE")


def unavailable_dependency(error: BaseException) -> str | None:
    """'database' or 'redis' when the error means that dependency cannot be reached (or
    timed out), else None: a bug is a 500, an outage a 503."""
    if isinstance(error, (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.DisconnectionError,
                          sa_exc.TimeoutError)):
        return "database"
    try:
        # Imported only when a request has failed: redis-py is a noticeable part of
        # start-up to import (python -X importtime), as health.py says.
        import redis
    except ImportError:  # pragma: no cover - redis is a dependency
        return None
    if isinstance(error, (redis.ConnectionError, redis.TimeoutError)):
        return "redis"
    return None


def _messages() -> dict[int, str]:
    return {
        400: _("The request could not be understood. Please go back and try again."),
        403: _("You are not allowed to see this page."),
        404: _("There is no page at this address."),
        405: _("This page cannot be used that way."),
        413: _("What was sent is too large."),
        429: _("Too many requests in a short time. Please wait a little and try again."),
        500: _("Something went wrong on our side. Please try again later."),
    }


def _failure_message(status: int) -> str:
    """What a person is told when their request failed on our side: for a form they sent,
    that it may not have gone through (a 503 is certain: nothing was written)."""
    if request.method not in WRITES:
        if status == 503:
            return _("The site cannot answer right now. Please try again in a minute.")
        return _messages()[500]
    if status == 503:
        return _("This did not go through: the site cannot save anything right now. "
                 "Please try again in a minute; what you typed is not kept.")
    return _("Something went wrong on our side, and what you sent may not have been saved. "
             "Please try again; sending it twice does no harm.")


def _ensure_lang() -> None:
    if getattr(g, "lang", None) not in LANGUAGES:
        first = request.path.strip("/").split("/", 1)[0]
        g.lang = first if first in LANGUAGES else best_language()


def render_error(status: int, message: str | None = None):
    _ensure_lang()
    text = message or _messages().get(status) or _messages()[400]
    if request.path.startswith("/api/"):
        return jsonify({"error": {"status": status, "message": text}}), status
    return render_template("web/error.html", status=status, message=text), status


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def _csrf(error):
        return render_error(400, _("This form has expired or was not sent from this site. Please reload the page and send it again."))

    @app.errorhandler(HTTPException)
    def _http(error: HTTPException):
        response = render_error(error.code or 500)
        if error.code == 429:
            body, status = response
            response = app.make_response((body, status))
            retry = getattr(error, "retry_after", None)
            limit = getattr(error, "limit", None)
            if retry is None and limit is not None:
                retry = int(limit.limit.get_expiry())
            response.headers["Retry-After"] = str(retry or 60)
        return response

    @app.errorhandler(Exception)
    def _unexpected(error: Exception):
        dependency = unavailable_dependency(error)
        if dependency is None:
            app.logger.exception("unhandled error on %s %s", request.method, request.url_rule)
            return render_error(500, _failure_message(500))
        outages.report(dependency, error)
        body, status = render_error(503, _failure_message(503))
        response = app.make_response((body, status))
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        response.headers["Cache-Control"] = "no-store"
        return response

    with app.app_context():
        engine = db.engine

    @event.listens_for(engine, "connect")
    def _database_back(_dbapi_connection, _record):
        # During an outage the pool's connections are thrown away: the next connection
        # that opens is the database answering again. Logged once.
        outages.recovered("database")
