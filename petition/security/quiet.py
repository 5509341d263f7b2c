"""Quiet defences for public forms: a honeypot field, a minimum fill time, one use per form.

A script that trips them gets exactly what a person gets (the "check your inbox"
redirect), and nothing is stored or sent, so it learns nothing about why it failed.

Use: mix QuietFields into a FlaskForm, call form.stamp() when showing the form, render
templates/security/quiet_fields.html inside the <form>, and on POST call
quiet_rejection(form) before anything else; if it returns a reason, answer as if the
submission had succeeded.
"""
from __future__ import annotations

import functools
import logging
import secrets
import time
from dataclasses import dataclass

from flask import current_app
from flask_babel import lazy_gettext as _l
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from wtforms import HiddenField, StringField

from petition.security import ephemeral

log = logging.getLogger("petition.security")

SALT = "form-time"


def _serializer() -> URLSafeTimedSerializer:
    return _serializer_for(current_app.config["SECRET_KEY"])


@functools.lru_cache(maxsize=8)
def _serializer_for(secret_key: str) -> URLSafeTimedSerializer:
    # Built once per key, not per form shown and per form sent: building one was ~17 us
    # of the signing form's ~450 us in process (cProfile, bench/pages.py's form view).
    return URLSafeTimedSerializer(secret_key, salt=SALT)


def issue_stamp(shown_at: float | None = None) -> str:
    """A signed, tamper-proof record of when a form was shown (to the millisecond: the
    signature's own timestamp has whole seconds only) and a random nonce that makes it
    good for one submission."""
    shown_at = round(time.time(), 3) if shown_at is None else shown_at
    return _serializer().dumps([shown_at, secrets.token_urlsafe(12)])


@dataclass(frozen=True)
class Verdict:
    reason: str | None  # why to drop the submission quietly, or None
    shown_at: float | None = None  # when the form was first shown (a valid stamp)


def _verdict(honeypot: str | None, stamp: str | None, now: float | None) -> Verdict:
    config = current_app.config["PETITION"]
    if honeypot:
        return Verdict("honeypot")
    if config.MIN_FILL_SECONDS <= 0:
        return Verdict(None)
    if not stamp or len(stamp) > 200:
        return Verdict("missing")
    max_age = config.FORM_MAX_AGE_HOURS * 3600
    try:
        payload, signed_at = _serializer().loads(stamp, max_age=max_age, return_timestamp=True)
    except SignatureExpired:
        return Verdict("stale")
    except BadSignature:
        return Verdict("tampered")
    nonce = None
    if isinstance(payload, list) and len(payload) == 2 and isinstance(payload[1], str):
        payload, nonce = payload
    if not isinstance(payload, (int, float)) or isinstance(payload, bool):
        payload = signed_at.timestamp()
    shown_at = float(payload)
    now = now if now is not None else time.time()
    if now - shown_at > max_age:
        return Verdict("stale")  # re-stamped after a validation error, but first shown too long ago
    if now - shown_at < config.MIN_FILL_SECONDS:
        return Verdict("too-fast", shown_at)
    # One submission per stamp: a script cannot post one page's stamp again and again.
    # Every request that gets this far does this one storage write, whoever it is about.
    # Stamps signed before stamps had nonces carry none; they expire within max_age.
    if nonce is not None:
        uses = ephemeral.incr("form-stamp", nonce, max_age)
        if uses is not None and uses > 1:
            return Verdict("replayed", shown_at)
    return Verdict(None, shown_at)


def check(honeypot: str | None, stamp: str | None, *, now: float | None = None) -> str | None:
    """Why this submission should be dropped quietly, or None if it looks human.

    Reasons: "honeypot" (the hidden field was filled), "missing" / "tampered" (no valid
    stamp), "stale" (older than FORM_MAX_AGE_HOURS), "too-fast" (sent sooner than
    MIN_FILL_SECONDS after the form was shown), "replayed" (the stamp was used before).
    With MIN_FILL_SECONDS = 0 the stamp checks are off altogether and only the honeypot
    counts.
    """
    return _verdict(honeypot, stamp, now).reason


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
        verdict = _verdict(self.homepage.data, self.started.data, None)
        if verdict.reason is None and verdict.shown_at is not None:
            # The submitted stamp is used up. Should the form be shown again (a
            # validation error), it carries a fresh one with the original start time,
            # so the person can correct and send at once.
            self.started.data = issue_stamp(verdict.shown_at)
        return verdict.reason


def quiet_rejection(form: QuietFields, where: str) -> str | None:
    """check() for a submitted form, logging only the reason and the form's place
    (never what was typed, never who sent it)."""
    reason = form.quiet_rejection()
    if reason:
        log.info("quiet rejection on %s: %s", where, reason)
    return reason
