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

from flask import current_app
from limits.storage import Storage, storage_from_string

from petition.security.keys import keyed_digest

log = logging.getLogger("petition.security")


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
    try:
        return _storage().incr(key(purpose, value), seconds)
    except Exception:  # noqa: BLE001  fail open, see the module's docstring
        log.warning("short-lived counters unavailable (limiter storage error): %s not counted", purpose)
        return None


def count(purpose: str, value: str) -> int:
    """The current count (0 when unknown, expired or unreachable)."""
    try:
        return int(_storage().get(key(purpose, value)) or 0)
    except Exception:  # noqa: BLE001
        log.warning("short-lived counters unavailable (limiter storage error): %s not read", purpose)
        return 0


def clear(purpose: str, value: str) -> None:
    try:
        _storage().clear(key(purpose, value))
    except Exception:  # noqa: BLE001
        log.warning("short-lived counters unavailable (limiter storage error): %s not cleared", purpose)
