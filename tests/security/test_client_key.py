"""Per-client limits count an IPv6 client by its /64 (configurable), IPv4 by its address,
and the limiter's storage holds only a keyed hash of that.

Attack: one home or phone gets a whole IPv6 /64 and can send each request from a new
address; keyed per address, 25 of 25 submissions were accepted."""
from __future__ import annotations

import secrets

import pytest

from petition.config import Config, ConfigError
from petition.security.keys import client_network, keyed_digest
from tests.helpers import TEST_REDIS_URL
from tests.security.test_limits import sign_from

PREFIX = "2001:db8:1234:5678"


def test_one_ipv6_64_is_one_client(make_app):
    app = make_app(RATELIMIT_ENABLED=True, RATELIMIT_SIGN="3/hour")  # an hour: a slow run cannot cross a window
    client = app.test_client()
    statuses = [sign_from(client, f"{PREFIX}:{secrets.token_hex(2)}:{i:x}::{i + 1:x}", f"v6-{i}@example.org").status_code
                for i in range(25)]
    assert statuses[:3] == [303, 303, 303]
    assert set(statuses[3:]) == {429}, statuses
    # The next /64 (another household) is another client.
    assert sign_from(app.test_client(), "2001:db8:1234:5679::1", "other@example.org").status_code == 303


def test_ipv4_clients_stay_per_address(make_app):
    app = make_app(RATELIMIT_ENABLED=True, RATELIMIT_SIGN="2/hour")
    client = app.test_client()
    assert [sign_from(client, "203.0.113.7", f"a{i}@example.org").status_code for i in range(3)] == [303, 303, 429]
    assert sign_from(client, "203.0.113.8", "b@example.org").status_code == 303
    # An IPv4-mapped IPv6 address is that IPv4 client, not a fresh /64.
    assert sign_from(client, "::ffff:203.0.113.7", "c@example.org").status_code == 429


def test_the_login_limit_uses_the_same_key(make_app):
    app = make_app(RATELIMIT_ENABLED=True, RATELIMIT_LOGIN="2/minute")
    client = app.test_client()
    statuses = []
    for i in range(4):
        env = {"REMOTE_ADDR": f"{PREFIX}::{i + 1:x}"}
        page = client.get("/en/console/login", environ_base=env)
        from tests.helpers import csrf_token
        statuses.append(client.post("/en/console/login", environ_base=env, data={
            "csrf_token": csrf_token(page.text), "email": "x@example.org", "password": "wrong password!"}).status_code)
    assert statuses == [401, 401, 429, 429]


@pytest.mark.parametrize("address, prefix, network", [
    ("2001:db8:1234:5678:9abc:def0:1:2", 64, "2001:db8:1234:5678::/64"),
    ("2001:db8:1234:5678::1%eth0", 64, "2001:db8:1234:5678::/64"),
    ("2001:db8:1234:5678:9abc::1", 56, "2001:db8:1234:5600::/56"),
    ("2001:db8::1", 128, "2001:db8::1/128"),
    ("::ffff:192.0.2.9", 64, "192.0.2.9"),
    ("192.0.2.9", 64, "192.0.2.9"),
    ("unknown", 64, "unknown"),
])
def test_client_network(address, prefix, network):
    assert client_network(address, prefix) == network


def test_the_prefix_comes_from_the_environment():
    base = {"SECRET_KEY": "s" * 40, "HASH_KEY": "h" * 40, "DATA_KEYS": "", "ENV": "testing"}
    from tests.helpers import DATA_KEY
    base["DATA_KEYS"] = DATA_KEY
    assert Config.from_env(env=base).CLIENT_IPV6_PREFIX == 64
    assert Config.from_env(env=base | {"CLIENT_IPV6_PREFIX": "56"}).CLIENT_IPV6_PREFIX == 56
    with pytest.raises(ConfigError, match="CLIENT_IPV6_PREFIX"):
        Config.from_env(env=base | {"CLIENT_IPV6_PREFIX": "200"})


@pytest.mark.redis
def test_redis_keys_hold_neither_the_address_nor_the_prefix(make_app):
    import redis

    url = TEST_REDIS_URL or "redis://127.0.0.1:6379/15"
    try:
        connection = redis.Redis.from_url(url, socket_connect_timeout=1)
        connection.ping()
    except Exception as exc:  # noqa: BLE001
        pytest.skip(f"Redis at {url} is not reachable ({exc.__class__.__name__})")
    hash_key = "client-key-test-" + secrets.token_hex(24)
    app = make_app(RATELIMIT_ENABLED=True, RATELIMIT_SIGN="2/minute", RATELIMIT_STORAGE_URI=url, HASH_KEY=hash_key)
    before = set(connection.keys("*"))
    client = app.test_client()
    for i in range(3):
        sign_from(client, f"{PREFIX}::{i + 1:x}", f"r{i}@example.org")
    created = [key.decode() for key in set(connection.keys("*")) - before]
    try:
        with app.app_context():
            expected = keyed_digest("client", f"{PREFIX}::/64")
        assert created and any(expected in key for key in created), created
        for key in created:
            for clear in ("2001", "db8", "1234:5678", "/64", "::"):
                assert clear not in key, key
            assert all(connection.type(key) != b"string" or PREFIX.encode() not in (connection.get(key) or b"")
                       for key in [key])
    finally:
        if created:
            connection.delete(*created)
