"""The outbox sender as a whole: claims, sends, deletes; keeps its connections from batch
to batch when it runs for long; reschedules what fails, with nothing personal in the
error it stores or logs."""
from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from petition import workers
from petition.extensions import db
from petition.mail import outbox, transport, worker
from petition.mail import services as mail
from petition.mail.mime import render
from petition.models_common import utcnow
from petition.mail.models import OutboxMessage
from tests.mail.fake_smtp import FakeSMTP


@pytest.fixture
def server():
    fake = FakeSMTP().start()
    yield fake
    fake.stop()


@pytest.fixture
def smtp_app(make_app, server):
    app = make_app(MAIL_SERVER="127.0.0.1", MAIL_PORT=server.port)
    with app.app_context():
        yield app
        db.session.remove()


def queue(count: int, start: int = 0, lang: str = "fr") -> None:
    for i in range(start, start + count):
        mail.queue(db.session, mail.Message(
            to=f"person{i}@example.org", subject="Confirmez votre signature : Sécurisons nos réseaux",
            text=f"Bonjour,\nhttps://petition.test/{lang}/confirm/token{i}\n", html=f"<p>token{i}</p>", lang=lang),
            purpose="confirm")
    db.session.commit()


def left() -> int:
    db.session.rollback()
    return len(db.session.scalars(select(OutboxMessage)).all())


def test_drain_sends_every_batch_over_one_connection(smtp_app, server):
    queue(worker.BATCH + 30)
    assert worker.drain() == (worker.BATCH + 30, 0)
    assert len(server.wait_for(worker.BATCH + 30)) == worker.BATCH + 30
    assert len({m.recipients[0] for m in server.messages}) == worker.BATCH + 30
    assert server.connections == 1
    assert left() == 0


def test_work_keeps_its_connection_between_batches(smtp_app, server):
    stop = threading.Event()
    thread = threading.Thread(target=lambda: (smtp_app.app_context().push(), worker.work(stop, idle_seconds=0.05)))
    thread.start()
    try:
        queue(3)
        server.wait_for(3)
        time.sleep(0.2)
        queue(2, start=3)
        assert len(server.wait_for(5)) == 5
        assert server.connections == 1
    finally:
        stop.set()
        workers.wake()
        thread.join(10)
    assert not thread.is_alive()
    assert left() == 0


def test_refused_and_unreadable_rows_are_rescheduled(smtp_app, server, caplog):
    queue(3)
    server.refuse_rcpt = {"person1@example.org"}
    # A row whose payload cannot be decrypted (a key removed too early) must not stop the others.
    db.session.execute(update(OutboxMessage).where(OutboxMessage.id == db.session.scalar(
        select(OutboxMessage.id).order_by(OutboxMessage.id.desc()).limit(1))).values(payload_enc="gAAAAbroken"))
    db.session.commit()
    with caplog.at_level(logging.WARNING, logger="petition.mail"):
        assert worker.deliver_due() == (1, 2)
    assert [m.recipients for m in server.messages] == [["person0@example.org"]]
    db.session.rollback()
    rows = db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
    assert [(r.attempts, r.locked_until) for r in rows] == [(1, None), (1, None)]
    assert rows[0].last_error == "send: SMTPRecipientsRefused"
    assert rows[1].last_error.startswith("build: ")
    assert all(r.next_attempt_at > utcnow() for r in rows)
    assert "@" not in caplog.text
    # Not due yet: nothing is claimed again before its backoff.
    assert worker.deliver_due() == (0, 0)


def test_a_claimed_row_is_not_claimed_again(smtp_app, server):
    queue(2)
    claim = outbox._statements(db.engine.dialect.name).claim
    now = utcnow()
    with db.engine.connect() as conn:
        first = conn.execute(claim, {"now": now, "lease": now + timedelta(seconds=60), "limit": 1}).all()
        conn.commit()
        second = conn.execute(claim, {"now": now, "lease": now + timedelta(seconds=60), "limit": 5}).all()
        conn.commit()
    assert len(first) == 1 and len(second) == 1 and first[0].id != second[0].id
    assert worker.deliver_due() == (0, 0)  # both leased


def test_development_mail_files_never_overwrite_each_other(tmp_path, capsys):
    """Three messages in one second with the same row id (SQLite reuses the ids of
    deleted rows) leave three files."""
    from types import SimpleNamespace

    console = transport.ConsoleBackend(SimpleNamespace(OUTBOX_DIR=str(tmp_path / "outbox")))
    batch = [render(mail.Message(to=f"p{i}@example.org", subject=f"S{i}", text=f"text {i}\n"),
                           "Open letters <letters@example.org>", row_id=1) for i in range(3)]
    for out in batch:
        assert console.send_batch([out]) == {1: None}
    files = sorted((tmp_path / "outbox").glob("*.eml"))
    assert len(files) == 3
    assert sorted(f"p{i}@example.org" in f.read_text() for i in range(3) for f in files).count(True) == 3
    assert all(f.stat().st_mode & 0o077 == 0 for f in files)  # personal data: owner only
