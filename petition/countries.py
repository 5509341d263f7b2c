"""The localised list of countries (from CLDR through Babel: no extra package)."""
from __future__ import annotations

from functools import lru_cache

from babel import Locale

UNKNOWN = "ZZ"  # "prefer not to say"
# CLDR territories that are not countries a person lives in.
_NOT_COUNTRIES = {"EU", "EZ", "UN", "QO", "ZZ", "XA", "XB", "XK"}


@lru_cache(maxsize=16)
def choices(lang: str) -> tuple[tuple[str, str], ...]:
    names = Locale.parse(lang).territories
    pairs = [(code, name) for code, name in names.items()
             if len(code) == 2 and code.isalpha() and code not in _NOT_COUNTRIES]
    pairs.sort(key=lambda pair: pair[1].casefold())
    return tuple(pairs)


@lru_cache(maxsize=1)
def codes() -> frozenset[str]:
    return frozenset(code for code, _ in choices("en")) | {UNKNOWN, "XK"}


def name(code: str, lang: str) -> str:
    if code == UNKNOWN:
        return ""
    return Locale.parse(lang).territories.get(code, code)
