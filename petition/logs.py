"""Logs say what happened, never who: no client address, no token, no email."""
from __future__ import annotations

import ipaddress
import logging
import re
from urllib.parse import urlsplit

from flask import Flask

# Capabilities in URLs (confirm, withdraw, unsubscribe links) and anything that looks
# like an address are cut out of every record before it is written.
_TOKEN = re.compile(r"[A-Za-z0-9_\-]{16,}\.[A-Za-z0-9_\-.]{10,}")
_EMAIL = re.compile(r"[^\s@<>\"']+@[^\s@<>\"']+")
_IPV4 = re.compile(r"\b\d{1,3}(?:\.\d{1,3}){3}\b")
# Four or more groups, or a "::" run: never a clock time like 17:13:40.
_IPV6 = re.compile(r"(?<![\w:])(?:[0-9a-fA-F]{1,4}:){3,7}[0-9a-fA-F]{1,4}(?![\w:])|(?<![\w:])[0-9a-fA-F:]*::[0-9a-fA-F:]*(?![\w:])")


# Addresses that are nobody's: the machine itself (loopback) and the site's own address
# (PUBLIC_URL's host, added by configure_logging). Without them the start-up banner read
# "Running on http://<ip>:5000", hiding the one address a newcomer has to open.
_SITE_ADDRESSES: set[str] = set()


def _address(match: re.Match) -> str:
    text = match.group(0)
    if text in _SITE_ADDRESSES:
        return text
    try:
        address = ipaddress.ip_address(text)
        if address.is_loopback or address.is_unspecified:  # 127.0.0.1, ::1, 0.0.0.0 (all addresses)
            return text
    except ValueError:
        pass
    return "<ip>"


def redact(text: str) -> str:
    text = _TOKEN.sub("<token>", text)
    text = _EMAIL.sub("<email>", text)
    text = _IPV4.sub(_address, text)
    return _IPV6.sub(_address, text)


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        record.msg = redact(message)
        record.args = ()
        if record.exc_info and not record.exc_text:
            # Exception texts can quote an address (an SMTP refusal, say): redact the
            # formatted traceback too; formatters use exc_text when it is set.
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        return True


def configure_logging(app: Flask, config) -> None:
    level = getattr(logging, config.LOG_LEVEL.upper(), logging.INFO)
    host = urlsplit(config.PUBLIC_URL).hostname
    if host:
        _SITE_ADDRESSES.add(host)
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
