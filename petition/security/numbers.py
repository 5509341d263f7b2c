"""Numbers read from a URL, bounded: a query argument or a path segment never reaches the
database as a value it cannot hold (`?before=99999999999999999999999` was a 500).

Every number in a URL comes through here: query arguments through int_arg, path
segments through the "int" converter that create_app installs (BoundedIntConverter).
tests/security/test_numbers.py checks that no view reads `type=int` on its own.
"""
from __future__ import annotations

from flask import request
from werkzeug.routing import IntegerConverter

# The largest id any table holds (BIGINT); SQLite and PostgreSQL both take it.
MAX_ID = 2**63 - 1
_MAX_DIGITS = 40  # longer than that is not a number anyone meant


def int_arg(name: str, *, default: int | None = None, minimum: int = 0, maximum: int = MAX_ID) -> int | None:
    """request.args[name] as an int clamped to [minimum, maximum]; default when it is
    missing or not a plain decimal number (as if it had not been given)."""
    raw = (request.args.get(name) or "").strip()
    digits = raw[1:] if raw[:1] in "+-" else raw
    if not digits or len(digits) > _MAX_DIGITS or not (digits.isascii() and digits.isdigit()):
        return default
    return min(max(int(raw), minimum), maximum)


class BoundedIntConverter(IntegerConverter):
    """werkzeug's int converter with an upper bound: a longer number is no match (404)."""

    def __init__(self, url_map, fixed_digits: int = 0, min: int | None = None, max: int | None = MAX_ID,  # noqa: A002
                 signed: bool = False) -> None:
        super().__init__(url_map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)
