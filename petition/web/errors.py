"""Every error is a localised page (or JSON under /api/), never a stack trace."""
from __future__ import annotations

from flask import Flask, g, jsonify, render_template, request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from petition.i18n import LANGUAGES, best_language


def _messages() -> dict[int, str]:
    return {
        400: _("The request could not be understood. Please go back and try again."),
        403: _("You are not allowed to see this page."),
        404: _("There is no page at this address."),
        405: _("This page cannot be used that way."),
        413: _("What was sent is too large."),
        429: _("Too many requests in a short time. Please wait a little and try again."),
        500: _("Something went wrong on our side. Nothing you sent was lost; please try again later."),
    }


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
        app.logger.exception("unhandled error on %s %s", request.method, request.url_rule)
        return render_error(500)
