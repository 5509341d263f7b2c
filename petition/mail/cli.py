from __future__ import annotations

import logging
import os
import threading

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import func, select

from petition import workers
from petition.database import require_schema
from petition.extensions import db
from petition.mail import worker
from petition.mail.models import OutboxMessage
from petition.models_common import utcnow
from petition.process import freeze_loaded_heap


@click.group("outbox", help="Send queued mail.")
def outbox_cli() -> None:
    pass


@outbox_cli.command("drain")
@with_appcontext
def drain() -> None:
    """Send every message that is due, then exit."""
    require_schema()
    sent, failed = worker.drain()
    click.echo(f"sent {sent}, failed {failed} (rescheduled)")
    if failed:
        raise SystemExit(1)


@outbox_cli.command("work")
@click.option("--idle", default=1.0, show_default=True, help="Seconds between polls when idle.")
@with_appcontext
def work(idle: float) -> None:
    """Run a sender until SIGTERM/SIGINT. Several may run at once, on several machines."""
    require_schema()
    stop = workers.stop_on_signals()
    freeze_loaded_heap()
    config = current_app.config["PETITION"]
    # Every step of a sender has a timeout well inside this (see worker.stuck_for).
    stuck_limit = 3 * config.OUTBOX_LEASE_SECONDS + 2 * config.MAIL_TIMEOUT + idle
    threading.Thread(target=_watchdog, args=(stop, stuck_limit), name="outbox-watchdog", daemon=True).start()
    click.echo("outbox sender running")
    worker.work(stop, idle_seconds=idle)
    click.echo("outbox sender stopped")


def _watchdog(stop: threading.Event, limit: float) -> None:
    """Exit (for systemd to restart the sender) when it has been stuck for a few leases:
    a dependency hangs where no timeout reaches (see worker.stuck_for)."""
    while not stop.wait(1.0):
        if worker.stuck_for() > limit:
            logging.getLogger("petition.mail").error(
                "outbox sender made no progress for %d s (a dependency hangs); exiting to be restarted", limit)
            os._exit(75)


@outbox_cli.command("status")
@with_appcontext
def status() -> None:
    """How many messages wait, how many are due, how many have failed before."""
    now = utcnow()
    total = db.session.scalar(select(func.count()).select_from(OutboxMessage))
    due = db.session.scalar(select(func.count()).select_from(OutboxMessage).where(OutboxMessage.next_attempt_at <= now))
    retrying = db.session.scalar(select(func.count()).select_from(OutboxMessage).where(OutboxMessage.attempts > 0))
    click.echo(f"queued {total}, due {due}, retrying {retrying}")
