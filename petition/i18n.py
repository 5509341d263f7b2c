"""Languages of the interface: which exist, which way they run, which one a request wants."""
from __future__ import annotations

from collections.abc import Callable

from babel import Locale
from babel.dates import format_skeleton
from flask import g, request
from flask_babel import get_locale, get_timezone

# "comma" and "semicolon" separate the items of a list in running text: Arabic has its
# own (U+060C, U+061B), and a Latin comma between two Arabic words reads as a mistake.
LANGUAGES: dict[str, dict[str, str]] = {
    "en": {"name": "English", "dir": "ltr"},
    "fr": {"name": "Français", "dir": "ltr"},
    "ar": {"name": "العربية", "dir": "rtl", "comma": "، ", "semicolon": "؛ "},
    "el": {"name": "Ελληνικά", "dir": "ltr"},
}
DEFAULT_LANGUAGE = "en"


def text_direction(lang: str) -> str:
    return LANGUAGES.get(lang, {}).get("dir", "ltr")


def separators(lang: str) -> dict[str, str]:
    """{"comma": …, "semicolon": …} for lists in running text, each with its space."""
    language = LANGUAGES.get(lang, {})
    return {"comma": language.get("comma", ", "), "semicolon": language.get("semicolon", "; ")}


def best_language() -> str:
    """The language for a URL without one: Accept-Language, else English."""
    return request.accept_languages.best_match(list(LANGUAGES), default=DEFAULT_LANGUAGE)


def select_locale() -> str:
    """Flask-Babel's locale selector: the language in the URL wins, then the browser's."""
    lang = getattr(g, "lang", None)
    if lang in LANGUAGES:
        return lang
    return best_language()


def select_timezone() -> str:
    """Flask-Babel's time zone selector: the time zone of the letter a page is about
    (its slug kept by petition.web from the URL), else UTC. Looked up only when a page
    formats a date: a cached letter page formats none."""
    slug = getattr(g, "letter_slug", None)
    return (slug and _letter_timezone(slug)) or "UTC"


def _no_letters(_slug: str) -> str | None:
    return None


_letter_timezone: Callable[[str], str | None] = _no_letters


def register_letter_timezones(lookup: Callable[[str], str | None]) -> None:
    """How to find a letter's time zone from its slug (the core knows no letters)."""
    global _letter_timezone
    _letter_timezone = lookup


def format_when(moment) -> str:
    """The one format for a date and time, on every page and in the console: Babel's, in
    the reader's language ("29 Nov 2026, 22:14", "29 نوفمبر 2026، 22:14") and in the
    time zone of the letter the page is about (select_timezone). Naive values are UTC."""
    if moment is None:
        return "—"

    locale, zone = Locale.parse(str(get_locale())), get_timezone()
    day = format_skeleton("yMMMd", moment, tzinfo=zone, locale=locale)
    time = format_skeleton("Hm", moment, tzinfo=zone, locale=locale)
    # CLDR has no skeleton for both at once: the language's own way of joining them.
    return str(locale.datetime_formats["medium"]).replace("{1}", day).replace("{0}", time)
