"""The benchmark's own processes (load generator, SMTP sink) on the fastest event loop
at hand: their CPU counts against the same two cores as the site's."""
from __future__ import annotations

import asyncio


def run_fast(coroutine):
    """asyncio.run on uvloop's event loop when it is installed (the test extra brings it):
    uvloop's C event loop spends about half of what the pure-Python one does per
    connection, and with sync gunicorn workers every request is a new connection."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coroutine)
    return uvloop.run(coroutine)
