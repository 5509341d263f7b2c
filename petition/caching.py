"""Per-process copies of values that may be a few seconds old: the one expiry mechanism.

A letter page under a surge reads the same few things for every visitor: the letter's
row (status, dates), its confirmed count (the sum of 16 counter shards), its share
images' digests, and, for the page itself, the rendered HTML. Each is read once per
period per process and kept here; the period comes from the caller (a setting such as
COUNT_CACHE_SECONDS or LETTER_CACHE_SECONDS), and a period of 0 keeps nothing.

Measured gain (bench/load.py --only pages --signatures 100000, PostgreSQL and Redis, 4
gunicorn workers on a shared 2-core machine; each figure against the same run's /healthz):
the letter page served 1.79x /healthz's rate with no signatures and 1.99x with 100,000,
at 1.8 ms of gunicorn CPU a view; with every period set to 0 (COUNT_CACHE_SECONDS=0,
LETTER_CACHE_SECONDS=0) it served 0.26x and 0.31x, at 12.8 ms a view, and PostgreSQL
spent 4.8-12.7 ms a view instead of 1.3-1.8. About six times the pages for the same CPU.

Each application has its own caches (in app.extensions), so two apps in one process
(tests) never see each other's values, and `clear()` empties an app's caches at once
(tests call it between cases instead of reaching into a module's globals).

A visitor's own change is the exception. Someone who has just confirmed (or withdrawn)
expects the next page to count them, but gunicorn's other workers may hold a count from
before. `after_own_change()` marks the visitor's session for as long as any copy here may
live; while it holds, that visitor's requests read and render afresh (refreshing the
copies for everyone else too) instead of being served a copy. The mark is a time, not
what changed, and the first request after it runs out removes it.
"""
from __future__ import annotations

import threading
import time
from contextvars import ContextVar
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

from flask import Flask, current_app, session

V = TypeVar("V")

_EXTENSION = "petition.caches"
_FRESH_UNTIL = "fresh_until"  # in the session: until when this visitor reads afresh
# Set by a request for itself and unset when it ends (a context variable, as Flask's own
# request context is: every cache hit asks, and asking through flask.request cost ~1.5 us
# a hit). Left set, it would make every later read in that thread skip its copies.
_read_afresh: ContextVar[bool] = ContextVar("petition_caching_read_afresh", default=False)


def after_own_change() -> None:
    """The visitor changed something other visitors see (a count): until every copy
    here that may predate the change has expired, their own pages are read afresh."""
    settings = current_app.config["PETITION"]
    longest = max(settings.COUNT_CACHE_SECONDS, settings.LETTER_CACHE_SECONDS)
    if longest > 0:
        session[_FRESH_UNTIL] = int(time.time() + longest) + 1


def init_app(app: Flask) -> None:
    @app.before_request
    def _read_afresh_after_own_change():
        until = session.get(_FRESH_UNTIL)
        _read_afresh.set(until is not None and time.time() < until)
        if until is not None and not _read_afresh.get():
            session.pop(_FRESH_UNTIL)

    @app.teardown_request
    def _read_copies_again(_error=None):
        _read_afresh.set(False)


class TTLCache(Generic[V]):
    """Values kept for a number of seconds each, at most max_entries of them (the oldest
    entry goes first). Thread-safe: gunicorn's threads share one."""

    def __init__(self, max_entries: int = 1024) -> None:
        self.max_entries = max_entries
        self._entries: dict[Hashable, tuple[float, V]] = {}
        self._lock = threading.Lock()

    def get(self, key: Hashable, seconds: float, compute: Callable[[], V]) -> V:
        """The value for key computed at most `seconds` ago, else compute()'s, kept for
        `seconds` (not kept at all when seconds <= 0). A request marked by
        after_own_change always gets (and keeps) a new value."""
        now = time.monotonic()
        with self._lock:
            hit = self._entries.get(key)
        if hit is not None and hit[0] > now and not _read_afresh.get():
            return hit[1]
        value = compute()  # outside the lock: a slow query holds up no other key
        if seconds > 0:
            with self._lock:
                if key not in self._entries and len(self._entries) >= self.max_entries:
                    self._entries.pop(next(iter(self._entries)))
                self._entries[key] = (now + seconds, value)
        return value

    def forget(self, key: Hashable) -> None:
        with self._lock:
            self._entries.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


def cache(name: str, max_entries: int = 1024) -> TTLCache:
    """The current application's cache called name (created on first use)."""
    caches: dict[str, TTLCache] = current_app.extensions.setdefault(_EXTENSION, {})
    found = caches.get(name)
    if found is None:
        found = caches.setdefault(name, TTLCache(max_entries))
    return found


def clear(app: Flask | None = None) -> None:
    """Empty every cache of app (the current application by default)."""
    app = app if app is not None else current_app._get_current_object()
    for each in app.extensions.get(_EXTENSION, {}).values():
        each.clear()
