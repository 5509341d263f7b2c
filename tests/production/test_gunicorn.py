"""deploy/gunicorn.conf.py: the settings gunicorn really reads, and logs without client
addresses or capability tokens, checked against a running gunicorn."""
from __future__ import annotations

import os
import re
import socket
import time
import urllib.request

import pytest
from gunicorn.config import Config as GunicornConfig

from tests.production.servers import GUNICORN_CONF, ROOT, Client, app_env, start_gunicorn


def load_config(monkeypatch, **env) -> GunicornConfig:
    # The config sets this default for its workers; undone after the test.
    monkeypatch.delenv("DATABASE_STATEMENT_TIMEOUT", raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    namespace: dict = {"__file__": str(GUNICORN_CONF), "__name__": "__config__"}
    exec(compile(GUNICORN_CONF.read_text(), str(GUNICORN_CONF), "exec"), namespace)
    cfg = GunicornConfig()
    for key, value in namespace.items():
        if key in cfg.settings:
            cfg.set(key, value)
    return cfg


def test_settings(monkeypatch):
    cfg = load_config(monkeypatch)
    assert cfg.bind == ["127.0.0.1:8000"]  # never a public address by default
    from gunicorn.workers.sync import SyncWorker

    # sync workers (threads > 1 would mean gthread), with a timeout on client sockets
    assert issubclass(cfg.worker_class, SyncWorker) and cfg.threads == 1
    assert cfg.workers >= 2
    assert cfg.preload_app is False  # no database connection shared across a fork
    assert cfg.max_requests > 0 and cfg.max_requests_jitter > 0
    assert "%(h)s" not in cfg.access_log_format and "%(a)s" not in cfg.access_log_format
    assert "%(r)s" not in cfg.access_log_format and "%(q)s" not in cfg.access_log_format
    assert cfg.logger_class.__name__ == "PrivateLogger"
    # Web workers' statements end before gunicorn would kill the worker.
    assert 0 < int(os.environ["DATABASE_STATEMENT_TIMEOUT"]) < cfg.timeout


def test_environment_overrides(monkeypatch):
    cfg = load_config(monkeypatch, GUNICORN_BIND="unix:/run/petition/web.sock", GUNICORN_WORKERS="5",
                      GUNICORN_THREADS="8", GUNICORN_WORKER_CLASS="gthread")
    assert cfg.bind == ["unix:/run/petition/web.sock"]
    assert (cfg.workers, cfg.threads, cfg.worker_class_str) == (5, 8, "gthread")


def test_wsgi_module_is_the_app_factory():
    assert (ROOT / "wsgi.py").read_text().strip().splitlines() == [
        "from petition import create_app", "", "app = create_app()",
    ]


@pytest.fixture
def served(make_app, tmp_path):
    app = make_app()  # migrated and emptied; the server below uses the same database
    access_log = tmp_path / "access.log"
    env = app_env(app.config["SQLALCHEMY_DATABASE_URI"], tmp_path)
    server = start_gunicorn(env, tmp_path, "web", access_log=access_log)
    yield server, access_log
    server.stop()


def test_access_log_holds_no_address_token_or_agent(served):
    server, access_log = served
    client = Client()
    token = "WzEyMywiYWJjZGVmZ2hpamtsbW5vcCJd.aBcDeF.0123456789abcdefghijklmnopqrstu"
    headers = {"X-Forwarded-For": "203.0.113.77", "User-Agent": "Agent/Distinctive-UA-42",
               "Referer": "https://referrer.example/secret-page"}
    assert client.get(f"{server.base}/en/confirm/{token}?email=leak@example.org", headers=headers).status == 404
    assert client.get(f"{server.base}/ar/letters/secure-our-socials/", headers=headers).status == 200
    assert client.get(f"{server.base}/en/letters/secure-our-socials/sign", headers=headers).status == 200

    # A malformed request: gunicorn's error log would name the client's address.
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as raw:
        raw.sendall(b"NOT A REQUEST LINE\r\n\r\n")
        raw.recv(1024)

    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and access_log.read_text().count("\n") < 3:
        time.sleep(0.1)
    server.stop()
    logged = access_log.read_text() + server.output()
    lines = access_log.read_text().splitlines()
    assert len(lines) >= 3, logged
    assert any('"GET /en/confirm/<token>" 404' in line for line in lines), lines
    assert any('"GET /ar/letters/secure-our-socials/" 200' in line for line in lines), lines
    for secret in ("127.0.0.1", "203.0.113.77", token, token.split(".")[0], "leak@example.org", "email=",
                   "Distinctive-UA", "referrer.example"):
        assert secret not in logged, f"{secret!r} in the logs:\n{logged}"
    assert not re.search(r"\b\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}\b", access_log.read_text())


def test_worker_freezes_the_loaded_app_out_of_the_collectors_sight(monkeypatch):
    import gc

    cfg = load_config(monkeypatch)
    gc.unfreeze()
    try:
        cfg.post_worker_init(object())
        assert gc.get_freeze_count() > 1000  # the imported app and its modules
    finally:
        gc.unfreeze()


@pytest.mark.slow
@pytest.mark.parametrize("stall", ["silent", "half a request"])
def test_slow_clients_do_not_take_the_site_down(make_app, tmp_path, stall):
    """gunicorn facing clients directly: twice as many stalled connections as workers.
    Each is dropped after GUNICORN_CLIENT_TIMEOUT without progress (plus gunicorn's 2 s
    graceful close), so a real request is answered after two rounds of them; before,
    each worker was held until the arbiter killed it (timeout, 30 s)."""
    app = make_app()
    env = app_env(app.config["SQLALCHEMY_DATABASE_URI"], tmp_path, GUNICORN_CLIENT_TIMEOUT="2",
                  GUNICORN_TIMEOUT="30")
    server = start_gunicorn(env, tmp_path, "web", workers=2, threads=1)
    stalled = []
    try:
        for _ in range(4):  # twice as many as workers
            conn = socket.create_connection(("127.0.0.1", server.port), timeout=30)
            if stall != "silent":
                conn.sendall(b"GET /healthz HTTP/1.1\r\nHost: petition.test\r\nX-Slow: ")
            stalled.append(conn)
        time.sleep(0.3)
        started = time.monotonic()
        with urllib.request.urlopen(f"{server.base}/healthz", timeout=60) as response:
            assert response.status == 200
        waited = time.monotonic() - started
        # Two rounds of stalled connections (2 + 2 s each), then ours; slack for a busy
        # machine, still well under the 30 s a stalled connection used to cost.
        assert waited < 20, waited
        for conn in stalled:  # each was closed by the server, not left holding a worker
            conn.settimeout(5)
            assert conn.recv(1024) == b""
        assert "Traceback" not in server.output()
    finally:
        for conn in stalled:
            conn.close()
        server.stop()
