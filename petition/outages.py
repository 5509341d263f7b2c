"""A dependency being down (the database, Redis, the SMTP relay) is one event, logged as
one line, not one line per request or per retry: 160,000 identical tracebacks in ten
seconds hide the one that matters and fill the disk during the outage.

`report(kind, exc)` logs the first failure of a kind with its traceback, then at most
one summary line per REPEAT_SECONDS while failures continue ("still failing, N more"),
and `recovered(kind)` logs once when it works again. Per process: each worker says it
once.
"""
from __future__ import annotations

import logging
import threading
import time

log = logging.getLogger("petition.outage")

REPEAT_SECONDS = 60.0

_lock = threading.Lock()
# kind -> [first failure (monotonic), last line logged (monotonic), failures since that line]
_open: dict[str, list[float]] = {}


def report(kind: str, exc: BaseException, logger: logging.Logger = log) -> None:
    """One failure of a dependency. Logs only the first, and a count now and then."""
    now = time.monotonic()
    with _lock:
        state = _open.get(kind)
        if state is None:
            _open[kind] = [now, now, 0]
            first = True
        else:
            state[2] += 1
            if now - state[1] < REPEAT_SECONDS:
                return
            first, repeats, since = False, int(state[2]), now - state[0]
            state[1], state[2] = now, 0
    if first:
        logger.error("%s unavailable (%s); further failures are counted, not logged",
                     kind, exc.__class__.__name__, exc_info=exc)
    else:
        logger.error("%s still unavailable after %d s (%d more failures, last %s)",
                     kind, int(since), repeats, exc.__class__.__name__)


def recovered(kind: str, logger: logging.Logger = log) -> None:
    """The dependency answered again: close its outage with one line."""
    if kind not in _open:  # the common case, without the lock
        return
    with _lock:
        state = _open.pop(kind, None)
    if state is not None:
        logger.warning("%s available again after %d s", kind, int(time.monotonic() - state[0]))


def is_down(kind: str) -> bool:
    return kind in _open


def forget_all() -> None:
    """Close every open outage without a line, as in a new process (tests start over)."""
    with _lock:
        _open.clear()
