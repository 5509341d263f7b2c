"""Short-lived counters shared by every app server: login failures, used form stamps.

They live in the limiter's storage (RATELIMIT_STORAGE_URI: Redis in production, memory
in development), with the same options, under keyed hashes only: the storage never sees
an address, an email or a nonce in the clear. Each app has its own storage object,
built on first use.

Like the limits, these fail open: if the storage cannot be reached, incr() returns None
and the caller goes on as if nothing had been counted (an outage never stops a signer
or a lead; it only suspends these defences, and says so in the log).
"""
from __future__ import annotations

import logging
import time

from flask import current_app
from limits.storage import Storage, storage_from_string

from petition.security.keys import keyed_digest

log = logging.getLogger("petition.security")

# After a storage error the counters are skipped for this long, so a hung Redis costs
# one request its timeout (REDIS_TIMEOUT), not every login and form post their sum.
SKIP_AFTER_ERROR_SECONDS = 30.0


def _skipping() -> bool:
    return time.monotonic() < current_app.extensions.get("petition.ephemeral_skip_until", 0.0)


def _failed(what: str) -> None:
    if not _skipping():
        log.warning("short-lived counters unavailable (limiter storage error): %s; skipped for %ds",
                    what, SKIP_AFTER_ERROR_SECONDS)
    current_app.extensions["petition.ephemeral_skip_until"] = time.monotonic() + SKIP_AFTER_ERROR_SECONDS


def _storage() -> Storage:
    app = current_app._get_current_object()
    store = app.extensions.get("petition.ephemeral")
    if store is None:
        store = storage_from_string(app.config.get("RATELIMIT_STORAGE_URI") or "memory://",
                                    **app.config.get("RATELIMIT_STORAGE_OPTIONS", {}))
        app.extensions["petition.ephemeral"] = store
    return store


def key(purpose: str, value: str) -> str:
    return f"petition/{purpose}/{keyed_digest(purpose, value)}"


def incr(purpose: str, value: str, seconds: int) -> int | None:
    """Add one to the counter for (purpose, value), which expires `seconds` after its
    first count; the new count, or None if the storage is unreachable."""
    if _skipping():
        return None
    try:
        return _storage().incr(key(purpose, value), seconds)
    except Exception:  # noqa: BLE001  fail open, see the module's docstring
        _failed(f"{purpose} not counted")
        return None


def count(purpose: str, value: str) -> int:
    """The current count (0 when unknown, expired or unreachable)."""
    if _skipping():
        return 0
    try:
        return int(_storage().get(key(purpose, value)) or 0)
    except Exception:  # noqa: BLE001
        _failed(f"{purpose} not read")
        return 0


def clear(purpose: str, value: str) -> None:
    if _skipping():
        return
    try:
        _storage().clear(key(purpose, value))
    except Exception:  # noqa: BLE001
        _failed(f"{purpose} not cleared")
