"""Fixtures: isolated apps on SQLite (default) or on the PostgreSQL named by
TEST_DATABASE_URL, and a real SMTP server (aiosmtpd)."""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from email import message_from_bytes, policy

import socket

import pytest

from petition import create_app
from petition.extensions import db
from tests.helpers import make_config, reset_database


@pytest.fixture
def make_app(tmp_path):
    """Build an app with config overrides; the database is migrated and emptied."""
    def factory(**overrides):
        app = create_app(make_config(tmp_path, **overrides))
        reset_database(app)
        return app
    return factory


@pytest.fixture
def app(make_app):
    app = make_app()
    with app.app_context():
        yield app
        db.session.remove()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


# ---- a real SMTP server -------------------------------------------------------------

@dataclass
class SMTPSink:
    host: str
    port: int
    messages: list = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    refuse: bool = False

    def wait_for(self, count: int, timeout: float = 10.0) -> list:
        import time

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.messages) >= count:
                    return list(self.messages)
            time.sleep(0.05)
        raise AssertionError(f"expected {count} messages, got {len(self.messages)}")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def smtp_server():
    from aiosmtpd.controller import Controller

    class Handler:
        def __init__(self, sink):
            self.sink = sink

        async def handle_DATA(self, server, session, envelope):
            if self.sink.refuse:
                return "451 try again later"
            message = message_from_bytes(envelope.content, policy=policy.default)
            with self.sink.lock:
                self.sink.messages.append(message)
            return "250 OK"

    sink = SMTPSink(host="127.0.0.1", port=free_port())
    controller = Controller(Handler(sink), hostname="127.0.0.1", port=sink.port)
    controller.start()
    yield sink
    controller.stop()


