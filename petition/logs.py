"""Logs say what happened, never who: no client address, no token, no email.

The rules are petition.redaction's (shared with gunicorn's and nginx's logs); this
module adds what only the app knows: its own addresses, which may stay.
"""
from __future__ import annotations

import ipaddress
import logging
from urllib.parse import urlsplit

from flask import Flask

from petition import redaction
from petition.redaction import KeepAddress, loopback_only

__all__ = ["RedactingFilter", "configure_logging", "redact"]

# Addresses that are nobody's: the machine itself (loopback) and the site's own address
# (PUBLIC_URL's host, added by configure_logging). Without them the start-up banner read
# "Running on http://<ip>:5000", hiding the one address a newcomer has to open.
_SITE_ADDRESSES: set[str] = set()


def _normal(host: str) -> str:
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return host


def site_or_loopback(address) -> bool:
    """The app's keep-policy: loopback, "any" and the site's own addresses stay."""
    return loopback_only(address) or str(address) in _SITE_ADDRESSES


def redact(text: str, keep: KeepAddress | None = None) -> str:
    """petition.redaction.redact with the app's keep-policy (site_or_loopback)."""
    return redaction.redact(text, keep or site_or_loopback)


class RedactingFilter(logging.Filter):
    """Cuts tokens, email and client addresses out of every record (petition.redaction).

    keep: which addresses may stay; by default site_or_loopback."""

    def __init__(self, keep: KeepAddress | None = None) -> None:
        super().__init__()
        self.keep = keep

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        record.msg = redact(message, self.keep)
        record.args = ()
        if record.exc_info and not record.exc_text:
            # Exception texts can quote an address (an SMTP refusal, say): redact the
            # formatted traceback too; formatters use exc_text when it is set.
            formatted = logging.Formatter().formatException(record.exc_info)
            record.exc_text = redact(formatted, self.keep)
        return True


def configure_logging(app: Flask, config) -> None:
    level = getattr(logging, config.LOG_LEVEL.upper(), logging.INFO)
    host = urlsplit(config.PUBLIC_URL).hostname
    if host:
        _SITE_ADDRESSES.add(_normal(host))
    redacting = RedactingFilter()
    for name in ("petition", "werkzeug", "gunicorn.error", "gunicorn.access", app.logger.name):
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactingFilter) for f in logger.filters):
            logger.addFilter(redacting)
    petition_logger = logging.getLogger("petition")
    petition_logger.setLevel(level)
    if not petition_logger.handlers or all(isinstance(h, logging.NullHandler) for h in petition_logger.handlers):
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        handler.addFilter(redacting)
        petition_logger.addHandler(handler)
