"""With the real Redis: two separate app processes (gunicorn servers) share one set of
limits, per client and per letter (the surge brake). Only keys this test created are
removed afterwards: each run uses its own HASH_KEY, so all its keys carry digests no
other run produces."""
from __future__ import annotations

import hashlib
import hmac
import os
import secrets

import pytest

from tests.helpers import form_values
from tests.production.servers import Client, app_env, start_gunicorn

REDIS_URL = os.environ.get("TEST_REDIS_URL") or "redis://127.0.0.1:6379/15"
SLUG = "secure-our-socials"


def _redis():
    import redis

    try:
        connection = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
        connection.ping()
    except Exception as exc:  # noqa: BLE001
        pytest.skip(f"Redis at {REDIS_URL} is not reachable ({exc.__class__.__name__})")
    return connection


def digest(hash_key: str, purpose: str, value: str) -> str:
    """petition.security.keys.keyed_digest, computed outside the app."""
    return hmac.new(hash_key.encode(), f"{purpose}\x00{value}".encode(), hashlib.sha256).hexdigest()[:32]


@pytest.fixture
def redis_client():
    return _redis()


@pytest.fixture
def servers():
    started = []
    yield started
    for process in started:
        process.stop()


def sign(client: Client, server, forwarded_for: str, email: str):
    headers = {"X-Forwarded-For": forwarded_for}
    page = client.get(f"{server.base}/en/letters/{SLUG}/sign", headers=headers)
    assert page.status == 200, page.text[:500]
    data = form_values(page.text)
    data.update(name="Omar Idris", email=email, country="MA", affiliation="",
                public_visibility="none", bundle_visibility="counted")
    return client.post(f"{server.base}/en/letters/{SLUG}/sign", data, headers=headers)


@pytest.mark.redis
@pytest.mark.slow
def test_two_app_processes_share_one_limit_per_client(make_app, tmp_path, servers, redis_client):
    app = make_app()
    hash_key = "redis-limits-" + secrets.token_hex(24)
    env = app_env(
        app.config["SQLALCHEMY_DATABASE_URI"], tmp_path,
        HASH_KEY=hash_key, MIN_FILL_SECONDS="0",
        RATELIMIT_ENABLED="1", RATELIMIT_STORAGE_URI=REDIS_URL,
        RATELIMIT_SIGN="4/minute", TRUSTED_PROXIES="1",
    )
    clients = ["203.0.113.1", "203.0.113.2", "203.0.113.3", "203.0.113.4"]
    mine = [digest(hash_key, "client", c) for c in clients + ["127.0.0.1"]]
    try:
        a = start_gunicorn(env, tmp_path, "limits-a")
        servers.append(a)
        b = start_gunicorn(env, tmp_path, "limits-b")
        servers.append(b)
        browser = Client()

        # One client, alternating between the two processes: four per minute in total.
        first = [sign(browser, server, clients[0], f"shared{i}@example.org").status for i, server in enumerate([a, b, a, b, a])]
        assert first == [303, 303, 303, 303, 429]
        blocked = sign(browser, b, clients[0], "shared-more@example.org")
        assert blocked.status == 429 and int(blocked.headers["Retry-After"]) > 0

        # Other clients are not affected, however many requests the letter has had: a
        # flood is paced by the intake, never refused.
        assert sign(browser, b, clients[1], "second@example.org").status == 303
        assert sign(browser, a, clients[2], "third@example.org").status == 303
        assert sign(browser, b, clients[3], "fourth@example.org").status == 303

        # The storage holds only keyed hashes: no client address, no letter name.
        keys = [k.decode() for k in redis_client.scan_iter(match="*", count=1000)]
        created = [k for k in keys if any(d in k for d in mine)]
        assert created
        for key in created:
            assert "203.0.113" not in key and SLUG not in key
    finally:
        for key in redis_client.scan_iter(match="*", count=1000):
            if any(d in key.decode() for d in mine):
                redis_client.delete(key)
