"""/healthz: the database always, Redis when one is configured; JSON, 200 or 503, never cached."""
from __future__ import annotations

import pytest

from petition import create_app
from petition.health import redis_url
from tests.conftest import free_port
from tests.helpers import TEST_REDIS_URL, make_config


def test_healthy_database(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.is_json
    assert response.json["status"] == "ok"
    assert response.json["checks"] == {"database": "ok"}  # no Redis configured: not checked
    assert response.headers["Cache-Control"] == "no-store"


def test_unreachable_database_is_503_not_500(tmp_path):
    # A real connection attempt to a port nothing listens on.
    app = create_app(make_config(tmp_path, DATABASE_URL=f"postgresql://postgres@127.0.0.1:{free_port()}/nothing"))
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.json["status"] == "error"
    assert response.json["checks"]["database"] == "error"
    assert response.headers["Cache-Control"] == "no-store"
    assert "127.0.0.1" not in response.text  # names the dependency, not where it lives


@pytest.mark.parametrize("setting", ["REDIS_URL", "RATELIMIT_STORAGE_URI"])
def test_unreachable_redis_is_503(make_app, setting):
    app = make_app(**{setting: f"redis://127.0.0.1:{free_port()}/0"})
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.json["checks"] == {"database": "ok", "redis": "error"}


@pytest.mark.redis
@pytest.mark.skipif(not TEST_REDIS_URL, reason="TEST_REDIS_URL is not set")
@pytest.mark.parametrize("setting", ["REDIS_URL", "RATELIMIT_STORAGE_URI"])
def test_real_redis_is_checked(make_app, setting):
    app = make_app(**{setting: TEST_REDIS_URL})
    response = app.test_client().get("/healthz")
    assert response.status_code == 200
    assert response.json["checks"] == {"database": "ok", "redis": "ok"}


def test_memory_limiter_storage_needs_no_redis(tmp_path):
    config = make_config(tmp_path, RATELIMIT_STORAGE_URI="memory://")
    assert redis_url(config) is None
    config = make_config(tmp_path, RATELIMIT_STORAGE_URI="redis+unix:///run/redis.sock")
    assert redis_url(config) == "unix:///run/redis.sock"


def test_health_is_not_rate_limited(make_app):
    app = make_app(RATELIMIT_ENABLED=True, RATELIMIT_STORAGE_URI="memory://")
    client = app.test_client()
    assert all(client.get("/healthz").status_code == 200 for _ in range(300))


def test_only_get(client):
    assert client.post("/healthz").status_code == 405


# ---- "can write", not only "answers" ---------------------------------------------------

import os  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402

from petition.extensions import db  # noqa: E402
from tests.helpers import TEST_DATABASE_URL  # noqa: E402

sqlite_only = pytest.mark.skipif(bool(TEST_DATABASE_URL), reason="SQLite's file checks (the suite runs on PostgreSQL)")


@sqlite_only
def test_a_read_only_sqlite_file_is_unhealthy(make_app, tmp_path):
    if not shutil.which("chattr"):
        pytest.skip("chattr is not installed")
    app = make_app()
    client = app.test_client()
    assert client.get("/healthz").status_code == 200
    path = tmp_path / "test.db"
    # Immutable: even root cannot open it for writing (permission bits would not stop root).
    if subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode != 0:
        pytest.skip("this file system does not support chattr +i")
    try:
        with app.app_context():
            db.engine.dispose()  # new connections, opened on the read-only file
        response = client.get("/healthz")
        assert response.status_code == 503
        assert response.json["checks"]["database"] == "error"
        assert client.get("/en/").status_code == 200  # reading still works
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=True)
    with app.app_context():
        db.engine.dispose()
    assert client.get("/healthz").status_code == 200


@sqlite_only
def test_a_full_disk_under_sqlite_is_unhealthy(make_app, monkeypatch):
    app = make_app()
    client = app.test_client()
    real = os.statvfs

    class Full:
        def __init__(self, stats):
            self.f_flag, self.f_frsize, self.f_bavail = stats.f_flag, stats.f_frsize, 10

    monkeypatch.setattr(os, "statvfs", lambda path: Full(real(path)))
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json["checks"]["database"] == "error"


@pytest.mark.skipif(not TEST_DATABASE_URL, reason="TEST_DATABASE_URL is not set")
def test_a_read_only_postgresql_session_is_unhealthy(tmp_path):
    separator = "&" if "?" in TEST_DATABASE_URL else "?"
    url = TEST_DATABASE_URL + separator + "options=-c%20default_transaction_read_only%3Don"
    app = create_app(make_config(tmp_path, DATABASE_URL=url))
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.json["checks"]["database"] == "error"
