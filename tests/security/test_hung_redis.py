"""A Redis that accepts connections and never answers (a TCP listener of our own, no
shared server touched): a request pays at most REDIS_TIMEOUT once, then the limiter's
breaker (Flask-Limiter marks the storage dead and asks Redis again only after 1, 2, 4 ...
seconds) skips it; limits fail open, nobody is refused, nothing is a 500. Before, every
request waited for redis-py's default (no timeout) or the OS: 10-20 s each."""
from __future__ import annotations

import time

import pytest

from petition.security.limits import limiter
from tests.proxy import TCPProxy

TIMEOUT = 0.3


@pytest.fixture(autouse=True)
def _limiter_storage_alive_again():
    yield
    # Flask-Limiter keeps "storage dead, use the in-memory fallback" on the Limiter object,
    # which every app of the test process shares (in production: one app per process).
    limiter._storage_dead = False


@pytest.fixture
def hung_redis():
    proxy = TCPProxy("127.0.0.1", 9).start()  # the target is never reached
    proxy.hang()
    yield proxy
    proxy.stop()


def timed(client, path: str, method: str = "get", **kw) -> tuple[int, float]:
    started = time.monotonic()
    response = getattr(client, method)(path, **kw)
    return response.status_code, time.monotonic() - started


def test_a_hung_redis_costs_one_timeout_then_is_skipped(make_app, hung_redis):
    app = make_app(RATELIMIT_ENABLED=True, RATELIMIT_STORAGE_URI=f"redis://127.0.0.1:{hung_redis.port}/0",
                   REDIS_TIMEOUT=TIMEOUT)
    client = app.test_client()
    results = [timed(client, "/api/v1/letters")]  # a limited endpoint: asks the storage
    started = time.monotonic()
    # Well within the breaker's first second, which may have started before the first
    # request's timeout ran out (under load, 0.9 s here once reached Redis again).
    while time.monotonic() - started < 0.5:
        results.append(timed(client, "/api/v1/letters"))
    statuses = {status for status, _ in results}
    assert statuses == {200}  # fail open: no 429, no 500
    first, rest = results[0][1], [seconds for _, seconds in results[1:]]
    assert TIMEOUT * 0.8 <= first < TIMEOUT + 1.5, first
    assert len(rest) >= 5
    assert max(rest) < TIMEOUT * 0.8, rest  # skipped: none waits for Redis again
    assert hung_redis.accepted >= 1


def test_over_several_seconds_the_hung_redis_is_asked_rarely(make_app, hung_redis):
    app = make_app(RATELIMIT_ENABLED=True, RATELIMIT_STORAGE_URI=f"redis://127.0.0.1:{hung_redis.port}/0",
                   REDIS_TIMEOUT=TIMEOUT)
    client = app.test_client()
    durations = []
    started = time.monotonic()
    while time.monotonic() - started < 5:
        durations.append(timed(client, "/api/v1/letters")[1])
    slow = [d for d in durations if d >= TIMEOUT * 0.8]
    # Asked again after 1 s, 2 s (and maybe 4 s): at most a handful of requests pay.
    assert len(slow) <= 4, (len(slow), len(durations))
    assert len(durations) - len(slow) > 20
    assert max(durations) < TIMEOUT + 1.5


def test_signing_goes_on_through_a_hung_redis(make_app, hung_redis):
    """The per-client limit and the one-use form stamp both use Redis: hung, they cost
    the request at most their timeouts, and the signature is still taken."""
    from tests.helpers import sign_letter

    app = make_app(RATELIMIT_ENABLED=True, RATELIMIT_STORAGE_URI=f"redis://127.0.0.1:{hung_redis.port}/0",
                   REDIS_TIMEOUT=TIMEOUT)
    client = app.test_client()
    started = time.monotonic()
    assert sign_letter(client, email="through-a-hung-redis@example.org").status_code == 303
    assert time.monotonic() - started < TIMEOUT * 4 + 1
