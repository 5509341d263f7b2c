"""A site started before `flask --app wsgi db upgrade` says so once, clearly.

Without this gate every page answered 500 with a traceback in the log, and the
in-process outbox sender and job worker (started by the first request) logged another
traceback every second. The gate runs before anything else of a request: until the
schema is there it answers 503 with a short page and starts nothing; the first request
that finds the schema loads the letter files into it (start-up could not) and the gate
steps aside for the life of the process, at the cost of one catalogue query.
"""
from __future__ import annotations

import logging
import threading

from flask import Flask, request
from flask_babel import gettext as _
from sqlalchemy.exc import SQLAlchemyError

from petition.database import UPGRADE_COMMAND, missing_tables
from petition.extensions import db
from petition.letters import services as letters
from petition.web.errors import render_error

log = logging.getLogger("petition.web")

# Pages that work without a database, so the 503 page keeps its stylesheet and the
# health check keeps reporting for itself.
_UNGATED = {"static", "health.healthz", "healthz"}


def init_app(app: Flask) -> None:
    state = {"ready": False, "told": False}
    lock = threading.Lock()

    @app.before_request
    def _schema_gate():
        if state["ready"] or request.endpoint in _UNGATED:
            return None
        try:
            missing = missing_tables(db.engine)
        except SQLAlchemyError:
            return None  # the database is unreachable: that is the health check's story
        if missing:
            with lock:
                if not state["told"]:
                    state["told"] = True
                    log.error("the database has no schema yet (%d tables missing): run `%s`",
                              len(missing), UPGRADE_COMMAND)
            message = _("This site is not ready yet. Please try again later.")
            if not app.config["PETITION"].is_production:
                message += " " + _("Its database has not been set up: run %(command)s, then reload this page.",
                                   command=UPGRADE_COMMAND)
            return render_error(503, message)
        with lock:
            if not state["ready"]:
                if state["told"]:
                    _load_letters()
                state["ready"] = True
        return None


def _load_letters() -> None:
    """Start-up skipped the letter files (there were no tables): load them now."""
    try:
        letters.sync(db.session, letters.registry())
        log.info("database schema found: letters loaded")
    finally:
        db.session.remove()
