"""Mail is never lost: the outbox row commits with the signature, and an SMTP outage is
waited out with backoff."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from petition.extensions import db
from petition.mail import outbox, worker
from petition.mail.models import OutboxMessage
from petition.models_common import utcnow
from tests.helpers import plain_body, sign_letter, process_intake


def make_due():
    db.session.execute(update(OutboxMessage).values(next_attempt_at=utcnow() - timedelta(seconds=1)))
    db.session.commit()


def test_smtp_down_then_up_loses_nothing(make_app, smtp_server):
    from tests.conftest import free_port

    dead_port = free_port()  # nothing listens here
    app = make_app(MAIL_SERVER="127.0.0.1", MAIL_PORT=dead_port)
    with app.app_context():
        client = app.test_client()
        for i in range(3):
            assert sign_letter(client, email=f"queued{i}@example.org").status_code == 303
        process_intake(app)
        sent, failed = worker.deliver_due()
        assert (sent, failed) == (0, 3)
        rows = db.session.scalars(select(OutboxMessage)).all()
        assert len(rows) == 3 and all(r.attempts == 1 and r.next_attempt_at > utcnow() for r in rows)
        assert all("@" not in (r.last_error or "") for r in rows)
        # Not due yet: a drain sends nothing.
        assert worker.deliver_due() == (0, 0)

        # The server comes back.
        app.config["PETITION"].MAIL_PORT = smtp_server.port
        make_due()
        assert worker.drain() == (3, 0)
        messages = smtp_server.wait_for(3)
        assert {m["To"] for m in messages} == {f"queued{i}@example.org" for i in range(3)}
        assert db.session.scalars(select(OutboxMessage)).all() == []


def test_server_refusing_a_message_is_retried(make_app, smtp_server):
    app = make_app(MAIL_SERVER=smtp_server.host, MAIL_PORT=smtp_server.port)
    with app.app_context():
        client = app.test_client()
        sign_letter(client, email="later@example.org")
        process_intake(app)
        smtp_server.refuse = True
        assert worker.deliver_due() == (0, 1)
        smtp_server.refuse = False
        make_due()
        assert worker.deliver_due() == (1, 0)
        assert "confirm" in plain_body(smtp_server.wait_for(1)[0])


def test_backoff_grows_and_is_capped():
    assert outbox.backoff(1) == timedelta(seconds=30)
    assert outbox.backoff(2) == timedelta(seconds=60)
    assert outbox.backoff(20) == outbox.MAX_BACKOFF


def test_two_senders_never_send_one_message_twice(make_app, smtp_server):
    import threading

    app = make_app(MAIL_SERVER=smtp_server.host, MAIL_PORT=smtp_server.port)
    with app.app_context():
        client = app.test_client()
        for i in range(20):
            sign_letter(client, email=f"many{i}@example.org")

    def drain():
        with app.app_context():
            worker.drain()
            db.session.remove()

    threads = [threading.Thread(target=drain) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    messages = smtp_server.wait_for(20)
    assert len(messages) == 20
    assert len({m["To"] for m in messages}) == 20


def test_console_backend_writes_to_instance_outbox(app, client, capsys):
    sign_letter(client, email="local@example.org")
    assert worker.drain() == (1, 0)
    from pathlib import Path

    files = list(Path(app.config["PETITION"].OUTBOX_DIR).glob("*.eml"))
    assert len(files) == 1
    assert "/en/confirm/" in files[0].read_text()
    assert "development mail" in capsys.readouterr().out


def test_outbox_commands(runner, app, client):
    sign_letter(client, email="cli@example.org")
    process_intake(app)
    result = runner.invoke(args=["outbox", "status"])
    assert "queued 1" in result.output
    result = runner.invoke(args=["outbox", "drain"])
    assert result.exit_code == 0 and "sent 1" in result.output
