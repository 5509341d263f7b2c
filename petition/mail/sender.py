"""Sending the outbox: claim due rows, send them over one SMTP connection, delete what
the server accepted, back off on what it did not. Several senders may run at once: rows
are claimed with SELECT ... FOR UPDATE SKIP LOCKED on PostgreSQL and a lease
(locked_until) everywhere, so a message is sent by one sender at a time."""
from __future__ import annotations

import logging
import smtplib
import ssl
import sys
import threading
import time
from datetime import timedelta
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path

from flask import Flask, current_app
from sqlalchemy import delete, event, or_, select, update
from sqlalchemy.orm import Session

from petition.extensions import db
from petition.logs import redact
from petition.mail.models import OutboxMessage
from petition.mail.services import Message, payload
from petition.models_common import utcnow

log = logging.getLogger("petition.mail")

LEASE = timedelta(minutes=5)
MAX_BACKOFF = timedelta(hours=1)
_wake_event = threading.Event()


def wake() -> None:
    _wake_event.set()


def wait_for_work(seconds: float) -> None:
    """Sleep until something is queued (after its commit) or seconds pass."""
    if _wake_event.wait(seconds):
        _wake_event.clear()


@event.listens_for(Session, "after_commit")
def _wake_after_commit(session: Session) -> None:
    # Woken only once the outbox row is committed and visible to the sender.
    if session.info.pop("outbox_queued", False):
        wake()


def backoff(attempts: int) -> timedelta:
    """30 s, 1 min, 2 min, ... capped at an hour: SMTP outages are waited out, not lost."""
    return min(timedelta(seconds=30 * 2 ** max(attempts - 1, 0)), MAX_BACKOFF)


def to_email(message: Message, default_sender: str) -> EmailMessage:
    email = EmailMessage()
    email["From"] = message.sender or default_sender
    email["To"] = message.to
    email["Subject"] = message.subject
    email["Date"] = formatdate(localtime=False)
    email["Message-ID"] = make_msgid(domain=default_sender.rsplit("@", 1)[-1].strip(">") or "localhost")
    email["Auto-Submitted"] = "auto-generated"
    for name, value in message.headers.items():
        email[name] = value
    email.set_content(message.text)
    if message.html:
        email.add_alternative(message.html, subtype="html")
    # After set_content(), which drops Content-* headers set before it.
    email["Content-Language"] = message.lang
    return email


class SMTPBackend:
    def __init__(self, config):
        self.config = config

    def open(self) -> smtplib.SMTP:
        c = self.config
        if c.MAIL_USE_SSL:
            conn = smtplib.SMTP_SSL(c.MAIL_SERVER, c.MAIL_PORT, timeout=c.MAIL_TIMEOUT, context=ssl.create_default_context())
        else:
            conn = smtplib.SMTP(c.MAIL_SERVER, c.MAIL_PORT, timeout=c.MAIL_TIMEOUT)
            if c.MAIL_USE_TLS:
                conn.starttls(context=ssl.create_default_context())
        if c.MAIL_USERNAME:
            conn.login(c.MAIL_USERNAME, c.MAIL_PASSWORD)
        return conn

    def send_batch(self, emails: list[tuple[int, EmailMessage]]) -> dict[int, str | None]:
        """Send each; return {row id: None if accepted, else an error without personal data}."""
        results: dict[int, str | None] = {}
        try:
            conn = self.open()
        except (OSError, smtplib.SMTPException) as exc:
            return {row_id: f"connect: {exc.__class__.__name__}" for row_id, _ in emails}
        try:
            for row_id, email in emails:
                try:
                    conn.send_message(email)
                    results[row_id] = None
                except smtplib.SMTPServerDisconnected as exc:
                    results[row_id] = f"send: {exc.__class__.__name__}"
                    conn = self.open()
                except (OSError, smtplib.SMTPException) as exc:
                    code = getattr(exc, "smtp_code", "")
                    results[row_id] = f"send: {exc.__class__.__name__} {code}".strip()
        except (OSError, smtplib.SMTPException) as exc:
            for row_id, _ in emails:
                results.setdefault(row_id, f"send: {exc.__class__.__name__}")
        finally:
            try:
                conn.quit()
            except (OSError, smtplib.SMTPException):
                pass
        return results


class ConsoleBackend:
    """The embedded default: each message printed to the terminal and written to
    instance/outbox/, so a person running the site locally can click the link."""

    def __init__(self, config):
        self.directory = Path(config.OUTBOX_DIR)

    def send_batch(self, emails: list[tuple[int, EmailMessage]]) -> dict[int, str | None]:
        self.directory.mkdir(parents=True, exist_ok=True)
        results: dict[int, str | None] = {}
        for row_id, email in emails:
            stamp = time.strftime("%Y%m%d-%H%M%S")
            path = self.directory / f"{stamp}-{row_id}.eml"
            path.write_bytes(bytes(email))
            text = email.get_body(("plain",))
            sys.stdout.write(
                f"\n----- development mail (written to {path}) -----\n"
                f"To: {email['To']}\nSubject: {email['Subject']}\n\n"
                f"{text.get_content() if text else ''}\n-----\n"
            )
            sys.stdout.flush()
            results[row_id] = None
        return results


def backend(config):
    return SMTPBackend(config) if config.MAIL_SERVER else ConsoleBackend(config)


def _claim(session: Session, limit: int) -> list[OutboxMessage]:
    now = utcnow()
    ids = list(session.scalars(
        select(OutboxMessage.id)
        .where(OutboxMessage.next_attempt_at <= now,
               or_(OutboxMessage.locked_until.is_(None), OutboxMessage.locked_until < now))
        .order_by(OutboxMessage.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ))
    if not ids:
        session.commit()
        return []
    session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(ids),
               or_(OutboxMessage.locked_until.is_(None), OutboxMessage.locked_until < now))
        .values(locked_until=now + LEASE)
    )
    session.commit()
    return list(session.scalars(select(OutboxMessage).where(OutboxMessage.id.in_(ids), OutboxMessage.locked_until > now)))


def deliver_due(limit: int = 200) -> tuple[int, int]:
    """Send one batch of due messages. Returns (sent, failed)."""
    from petition.database import writing

    with writing():
        return _deliver_due(limit)


def _deliver_due(limit: int) -> tuple[int, int]:
    config = current_app.config["PETITION"]
    session = db.session
    rows = _claim(session, limit)
    if not rows:
        return 0, 0
    sender = config.MAIL_DEFAULT_SENDER
    emails = [(row.id, to_email(payload(row), sender)) for row in rows]
    results = backend(config).send_batch(emails)
    sent = [row_id for row_id, error in results.items() if error is None]
    if sent:
        session.execute(delete(OutboxMessage).where(OutboxMessage.id.in_(sent)))
    failed = 0
    now = utcnow()
    for row in rows:
        error = results.get(row.id, "not attempted")
        if error is None:
            continue
        failed += 1
        attempts = row.attempts + 1
        session.execute(
            update(OutboxMessage).where(OutboxMessage.id == row.id).values(
                attempts=attempts,
                next_attempt_at=now + backoff(attempts),
                locked_until=None,
                last_error=redact(error)[:300],
            )
        )
    session.commit()
    if failed:
        log.warning("outbox: %d sent, %d failed and rescheduled", len(sent), failed)
    return len(sent), failed


def drain(max_rounds: int = 10_000) -> tuple[int, int]:
    """Send everything due now, in batches. Returns totals (sent, failed)."""
    total_sent = total_failed = 0
    for _ in range(max_rounds):
        sent, failed = deliver_due()
        total_sent += sent
        total_failed += failed
        if sent + failed == 0 or sent == 0:
            break
    return total_sent, total_failed


def work(stop: threading.Event, idle_seconds: float = 1.0) -> None:
    """Run until stop is set: send as soon as woken, otherwise poll every idle_seconds."""
    while not stop.is_set():
        try:
            sent, _failed = deliver_due()
        except Exception:  # the database went away: keep the sender alive and retry
            log.exception("outbox sender error")
            db.session.rollback()
            sent = 0
        finally:
            db.session.remove()
        if sent == 0:
            wait_for_work(idle_seconds)


class InProcessWorkers:
    """The embedded default: an outbox sender and a job worker as daemon threads in the
    web process, so one `flask run` is a whole working site."""

    def __init__(self, app: Flask):
        self.app = app
        self.stop = threading.Event()
        self.threads: list[threading.Thread] = []
        self.lock = threading.Lock()

    def ensure_started(self) -> None:
        if self.threads and all(t.is_alive() for t in self.threads):
            return
        with self.lock:
            if self.threads and all(t.is_alive() for t in self.threads):
                return
            from petition.jobs import runner

            self.threads = [
                threading.Thread(target=self._run, args=(work,), name="outbox-sender", daemon=True),
                threading.Thread(target=self._run, args=(runner.work,), name="job-worker", daemon=True),
            ]
            for thread in self.threads:
                thread.start()

    def _run(self, loop) -> None:
        with self.app.app_context():
            loop(self.stop)


def init_app(app: Flask) -> None:
    config = app.config["PETITION"]
    if not config.OUTBOX_IN_PROCESS or app.config.get("TESTING"):
        return
    sender = InProcessWorkers(app)
    app.extensions["petition.workers"] = sender

    @app.before_request
    def _start_sender():
        # Started by the first request, so CLI commands (db upgrade, outbox drain) never
        # start a second sender in their process.
        sender.ensure_started()
