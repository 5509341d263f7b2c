"""Pages (and mail bodies) rendered once per process, re-used with each request's own values.

The signing form is the page a surge hits hardest, and all of it is the same for every
person reading one letter in one language except a few values that must be fresh per
request (the CSRF token, the signed fill-time stamp). Rendering it (the layout, the
fields, ~250 countries) was most of the cost of a form view. So it is rendered once
with a placeholder where each fresh value goes, and each request only substitutes its
values into that text.

The key must name everything else the page depends on (path, letter row, text
version, ...): two requests with equal keys get the same page but for the values.
"""
from __future__ import annotations

import secrets
import threading
from collections.abc import Callable, Hashable

from flask import current_app
from markupsafe import escape

from petition import caching

MAX_PAGES = 256

# Random per process, so no submitted text can forge a placeholder into a cached page.
_TAG = secrets.token_hex(6)
_EXTENSION = "petition.page_cache"
_RECENT = "web.recent_pages"
_lock = threading.Lock()


def _pages() -> dict[Hashable, str]:
    # Per app: two apps in one process (tests) may differ in settings the page shows.
    return current_app.extensions.setdefault(_EXTENSION, {})


def placeholder(name: str) -> str:
    # Letters, digits and dashes only: HTML escaping leaves it exactly as it is.
    return f"pagecache-{_TAG}-{name}"


def fill(key: Hashable, render: Callable[..., str], *, escape_values: bool = True, **values: str) -> str:
    """The page for key with values in place; render(**placeholders) makes it once.

    render receives one placeholder per value name and must return the page with each
    placeholder wherever that value belongs (as an attribute value or text, where it
    is escaped like any other value). escape_values=False is for plain text (mail
    bodies), where the template does not escape either."""
    pages = _pages()
    page = pages.get(key)
    if page is None:
        page = render(**{name: placeholder(name) for name in values})
        if all(placeholder(name) in page for name in values):
            _store(pages, key, page)
        else:  # the template lost a value: never cache a page that would miss it
            return render(**values)
    for name, value in values.items():
        page = page.replace(placeholder(name), str(escape(value)) if escape_values else str(value))
    return page


def recent(key: Hashable, seconds: float, render: Callable[[], str]) -> str:
    """A public page (the same for every visitor) as rendered at most `seconds` ago.

    For a page whose queries grow with a letter's success (newest names, organisations,
    counts): under a surge, each process renders it once per period instead of once per
    view. Its figures are as fresh as the cached count anyway (COUNT_CACHE_SECONDS)."""
    return caching.cache(_RECENT, MAX_PAGES).get(key, seconds, render)


def _store(pages: dict, key: Hashable, page: str) -> None:
    with _lock:
        if len(pages) >= MAX_PAGES:
            pages.pop(next(iter(pages)))  # the oldest: keys of old letter rows
        pages[key] = page
