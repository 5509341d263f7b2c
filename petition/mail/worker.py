"""The outbox worker: claim due rows, write them, send them, mark each as the server
answers. At least once, and twice only for what was in flight (see petition.mail.outbox
for the leases).

Before each batch the worker runs the registered stages: work that produces mail (the
signing intake registers one), so that one worker (in-process or `flask outbox work`) is
all a site needs. A long-running worker keeps its database connection and its SMTP
connection from one batch to the next; `drain()` sends everything due and returns.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import timedelta

from flask import Flask, current_app

from petition import outages, workers
from petition.extensions import db
from petition.mail import transport
from petition.mail.mime import render
from petition.mail.outbox import Claim, LeaseLost, MarkingFailed, Outbox, message_from

log = logging.getLogger("petition.mail")

BATCH = 200
# When this process's worker last made progress (time.monotonic()): see stuck_for().
_progress = [time.monotonic()]


def stuck_for() -> float:
    """Seconds since the worker last made progress. Every SMTP step has a timeout and
    every wait a limit, but libpq has no read timeout: a database server that hangs with
    its connection open holds a worker forever. `flask outbox work` exits when this grows
    past a few leases (its rows are the next worker's when its lease ends) and systemd
    starts it again."""
    return time.monotonic() - _progress[0]


# Work that produces mail and runs in the worker's loop just before each batch: each is a
# factory of a per-worker callable returning how much it did.
Stage = Callable[[], int]
_stages: list[Callable[[], Stage]] = []


def register_stage(factory: Callable[[], Stage]) -> None:
    if factory not in _stages:
        _stages.append(factory)


def _run_stages(stages: list[Stage]) -> int:
    done = 0
    for stage in stages:
        try:
            done += stage()
            outages.recovered("outbox stage", log)
        except Exception as exc:  # the database went away: the stage retries next round
            outages.report("outbox stage", exc, log)
            db.session.rollback()
    return done


class Sender:
    """One worker's outbox connection and mail backend, kept from batch to batch."""

    def __init__(self, config=None):
        self.config = config or current_app.config["PETITION"]
        self.backend = transport.backend(self.config)
        self.outbox = Outbox(db.engine, timedelta(seconds=self.config.OUTBOX_LEASE_SECONDS))

    def deliver_due(self, limit: int = BATCH) -> tuple[int, int]:
        """Send one batch of due messages. Returns (sent, failed)."""
        claim = self.outbox.claim(limit)
        if claim is None:
            return 0, 0
        default_sender = self.config.MAIL_DEFAULT_SENDER
        batch = []
        for row_id, payload_enc, _attempts in claim.rows:
            try:
                batch.append(render(message_from(payload_enc), default_sender, row_id))
            except Exception as exc:  # a key removed too early, a malformed row: retried later
                claim.unsent.discard(row_id)
                claim.errors[row_id] = f"build: {exc.__class__.__name__}"
        self.backend.deadline = claim.deadline
        try:
            if batch:
                self.backend.send_batch(batch, lambda row_id, error: self._result(claim, row_id, error))
        except MarkingFailed:
            self.outbox.mark_until_deadline(claim)
        except LeaseLost:
            log.warning("outbox: a lease was lost (this sender was held up); its rows are left to the other sender")
        finally:
            self.backend.deadline = None
        self.outbox.reschedule(claim)
        if claim.errors:
            log.warning("outbox: %d sent, %d failed and rescheduled", len(claim.accepted), len(claim.errors))
        return len(claim.accepted), len(claim.errors)

    def _result(self, claim: Claim, row_id: int, error: str | None) -> None:
        """Called as the server answers each message, before the next one goes."""
        _progress[0] = time.monotonic()
        claim.unsent.discard(row_id)
        if error is None:
            self.outbox.mark_sent(claim, row_id)
        else:
            claim.errors[row_id] = error
        if claim.unsent and time.monotonic() >= claim.renew_at:
            try:
                self.outbox.renew(claim)
            finally:
                self.backend.deadline = claim.deadline

    def idle(self) -> None:
        self.backend.close_if_idle()

    def close_database(self) -> None:
        self.outbox.close()

    def close(self) -> None:
        self.backend.close()
        self.outbox.close()


def deliver_due(limit: int = BATCH) -> tuple[int, int]:
    """Send one batch of due messages over a connection of its own. Returns (sent, failed)."""
    sender = Sender()
    try:
        return sender.deliver_due(limit)
    finally:
        sender.close()


def drain(max_rounds: int = 10_000) -> tuple[int, int]:
    """Send everything due now, in batches. Returns totals (sent, failed)."""
    total_sent = total_failed = 0
    sender = Sender()
    stages = [factory() for factory in _stages]
    try:
        for _ in range(max_rounds):
            produced = _run_stages(stages)
            sent, failed = sender.deliver_due()
            total_sent += sent
            total_failed += failed
            if produced == 0 and (sent + failed == 0 or sent == 0):
                break
    finally:
        sender.close()
    return total_sent, total_failed


def work(stop: threading.Event, idle_seconds: float = 1.0) -> None:
    """Run until stop is set: send as soon as woken, otherwise poll every idle_seconds."""
    sender = Sender()
    stages = [factory() for factory in _stages]
    waiter = workers.Waiter()
    try:
        while not stop.is_set():
            produced = _run_stages(stages)
            _progress[0] = time.monotonic()
            try:
                sent, failed = sender.deliver_due()
                outages.recovered("outbox database", log)
            except Exception as exc:  # the database went away: keep the worker alive and retry
                outages.report("outbox database", exc, log)
                sender.close_database()
                sent = failed = 0
            # A full batch means more may be due: go on at once. Otherwise (or when nothing
            # could be sent: the SMTP server is down) wait to be woken or for the next poll.
            if produced == 0 and (sent == 0 or sent + failed < BATCH):
                sender.idle()
                waiter.wait(idle_seconds)
    finally:
        sender.close()
        db.session.remove()


def init_app(app: Flask) -> None:
    workers.add(app, "outbox-sender", work)
