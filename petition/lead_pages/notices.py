"""The short line that confirms a console action on the page the action leads to.

Flashed messages live in Flask's cookie session (signed, not encrypted) until shown, so
they are fixed sentences in the lead's language: never a name, an address or anything a
lead typed.
"""
from __future__ import annotations

from flask import flash

CATEGORY = "done"


def done(message: str) -> None:
    flash(message, CATEGORY)
