"""Quiet defences for public forms: a honeypot field and a minimum fill time.

A script that trips them gets exactly what a person gets (the "check your inbox"
redirect), and nothing is stored or sent, so it learns nothing about why it failed.

Use: mix QuietFields into a FlaskForm, call form.stamp() when showing the form, render
templates/security/quiet_fields.html inside the <form>, and on POST call
quiet_rejection(form) before anything else; if it returns a reason, answer as if the
submission had succeeded.
"""
from __future__ import annotations

import logging
import time

from flask import current_app
from flask_babel import lazy_gettext as _l
from itsdangerous import BadSignature, SignatureExpired
from wtforms import HiddenField, StringField

from petition.security.signed import UncompressedSerializer, serializer

log = logging.getLogger("petition.security")

SALT = "form-time"


def _serializer() -> UncompressedSerializer:
    return serializer(current_app.config["SECRET_KEY"], SALT)


def issue_stamp() -> str:
    """A signed, tamper-proof record of when a form was shown (to the millisecond: the
    signature's own timestamp has whole seconds only)."""
    return _serializer().dumps(round(time.time(), 3))


def check(honeypot: str | None, stamp: str | None, *, now: float | None = None) -> str | None:
    """Why this submission should be dropped quietly, or None if it looks human.

    Reasons: "honeypot" (the hidden field was filled), "missing" / "tampered" (no valid
    stamp), "stale" (older than FORM_MAX_AGE_HOURS), "too-fast" (sent sooner than
    MIN_FILL_SECONDS after the form was shown). With MIN_FILL_SECONDS = 0 the timing
    check is off altogether and only the honeypot counts.
    """
    config = current_app.config["PETITION"]
    if honeypot:
        return "honeypot"
    if config.MIN_FILL_SECONDS <= 0:
        return None
    if not stamp or len(stamp) > 200:
        return "missing"
    max_age = config.FORM_MAX_AGE_HOURS * 3600
    try:
        shown_at, signed_at = _serializer().loads(stamp, max_age=max_age, return_timestamp=True)
    except SignatureExpired:
        return "stale"
    except BadSignature:
        return "tampered"
    if not isinstance(shown_at, (int, float)) or isinstance(shown_at, bool):
        shown_at = signed_at.timestamp()
    elapsed = (now if now is not None else time.time()) - shown_at
    if elapsed < config.MIN_FILL_SECONDS:
        return "too-fast"
    return None


class QuietFields:
    """Mixin for a FlaskForm: the honeypot and the signed start time.

    The honeypot has a real, accessible label telling people to leave it empty; it is
    visually hidden, out of the tab order and never autofilled.
    """

    homepage = StringField(
        _l("Leave this field empty"),
        render_kw={"tabindex": "-1", "autocomplete": "off"},
    )
    started = HiddenField()

    def stamp(self) -> None:
        self.started.data = issue_stamp()

    def quiet_rejection(self) -> str | None:
        return check(self.homepage.data, self.started.data)


def quiet_rejection(form: QuietFields, where: str) -> str | None:
    """check() for a submitted form, logging only the reason and the form's place
    (never what was typed, never who sent it)."""
    reason = form.quiet_rejection()
    if reason:
        log.info("quiet rejection on %s: %s", where, reason)
    return reason
