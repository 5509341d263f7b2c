"""Pooled PostgreSQL connections: pinged only after sitting idle, replaced when dead."""
from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from petition.database import ping_idle_connections
from tests.helpers import TEST_DATABASE_URL

pytestmark = pytest.mark.skipif(not TEST_DATABASE_URL.startswith("postgresql"), reason="TEST_DATABASE_URL is not PostgreSQL")


def _engine(idle_seconds: float):
    engine = create_engine(TEST_DATABASE_URL.replace("postgresql://", "postgresql+psycopg://", 1), pool_size=1, max_overflow=0)
    ping_idle_connections(engine, idle_seconds=idle_seconds)
    return engine


def _backend_pid(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(text("SELECT pg_backend_pid()")).scalar_one()


def _terminate(engine, pid: int) -> None:
    with create_engine(engine.url, poolclass=None).connect() as admin:
        admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        admin.commit()


def test_a_connection_killed_while_idle_is_replaced_before_use():
    engine = _engine(idle_seconds=0)
    first = _backend_pid(engine)
    _terminate(engine, first)
    second = _backend_pid(engine)  # no error: the ping found it dead, the pool reconnected
    assert second != first
    engine.dispose()


def test_a_connection_used_a_moment_ago_is_not_pinged():
    """Proof by its absence: a connection killed just after use is handed out as it is
    (no ping ran to notice), and the statement on it fails."""
    engine = _engine(idle_seconds=3600)
    _terminate(engine, _backend_pid(engine))
    with pytest.raises(OperationalError), engine.connect() as conn:
        conn.execute(text("SELECT 1"))
    engine.dispose()
