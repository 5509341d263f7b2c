"""Languages of the interface: which exist, which way they run, which one a request wants."""
from __future__ import annotations

from flask import g, request

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
