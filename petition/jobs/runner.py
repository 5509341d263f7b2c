"""A small job queue on the application database (no extra service to run).

    @handler("bundle.build")
    def build(job: Job, progress: Callable[[int, str], None]) -> dict: ...

enqueue() adds a row in the caller's transaction; run_one() claims the oldest queued
job (SKIP LOCKED on PostgreSQL, a lease everywhere), runs its handler, stores the result.
Workers: `flask --app wsgi jobs work` (production), or the in-process thread of the
embedded default, which shares the outbox sender's thread.
"""
from __future__ import annotations

import json
import logging
import threading
from datetime import timedelta
from typing import Callable

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from petition.extensions import db
from petition.jobs.models import Job
from petition.models_common import utcnow

log = logging.getLogger("petition.jobs")

Progress = Callable[[int, str], None]
HANDLERS: dict[str, Callable[[Job, Progress], dict | None]] = {}
# Housekeeping a worker does between jobs (the milestone sweep): (every seconds, function).
PERIODIC: list[tuple[float, Callable[[], None]]] = []
LEASE = timedelta(minutes=30)
MAX_ATTEMPTS = 3


def handler(kind: str):
    def register(func):
        HANDLERS[kind] = func
        return func
    return register


def periodic(seconds: float):
    """Run the decorated function from each worker at most every `seconds`; it must be
    safe to run from several workers at once."""
    def register(func):
        PERIODIC.append((seconds, func))
        return func
    return register


def run_periodic(last_run: dict, now: float | None = None) -> None:
    """Run the periodic functions that are due; a failing one is logged, never fatal."""
    import time

    from petition.jobs import handlers  # noqa: F401  (registers the areas' functions)

    now = time.monotonic() if now is None else now
    for seconds, func in PERIODIC:
        if now - last_run.get(func, float("-inf")) < seconds:
            continue
        last_run[func] = now
        try:
            func()
        except Exception:
            log.exception("periodic %s failed", func.__name__)
            db.session.rollback()
        finally:
            db.session.remove()


def enqueue(session: Session, kind: str, payload: dict | None = None, *, letter_id: int | None = None,
            requested_by: int | None = None) -> Job:
    job = Job(kind=kind, payload=json.dumps(payload or {}, sort_keys=True), letter_id=letter_id,
              requested_by=requested_by, status="queued")
    session.add(job)
    session.info["outbox_queued"] = True  # wakes the in-process worker after commit
    return job


def _claim(session: Session) -> Job | None:
    now = utcnow()
    job_id = session.scalar(
        select(Job.id)
        .where(or_(Job.status == "queued",
                   (Job.status == "running") & (Job.locked_until < now)))
        .where(Job.kind.in_(list(HANDLERS)))
        .order_by(Job.id)
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    if job_id is None:
        session.commit()
        return None
    claimed = session.execute(
        update(Job)
        .where(Job.id == job_id, or_(Job.status == "queued", Job.locked_until < now))
        .values(status="running", started_at=now, locked_until=now + LEASE, attempts=Job.attempts + 1,
                progress=0, message=None)
        .execution_options(synchronize_session=False)
    ).rowcount
    session.commit()
    return session.get(Job, job_id) if claimed else None


def run_one() -> Job | None:
    """Run the oldest due job, if any. Returns it (finished or failed)."""
    from petition.jobs import handlers  # noqa: F401  (registers the areas' handlers)

    session = db.session
    job = _claim(session)
    if job is None:
        return None
    job_id = job.id

    def progress(percent: int, message: str = "") -> None:
        # Its own short transaction, so the console can show progress while the job runs.
        session.execute(update(Job).where(Job.id == job_id).values(
            progress=max(0, min(100, int(percent))), message=message[:300] or None,
            locked_until=utcnow() + LEASE))
        session.commit()

    try:
        result = HANDLERS[job.kind](job, progress)
    except Exception as exc:  # a failed job must not kill the worker
        session.rollback()
        log.exception("job %s (%s) failed", job_id, job.kind)
        final = session.get(Job, job_id)
        failed_for_good = final.attempts >= MAX_ATTEMPTS
        final.status = "failed" if failed_for_good else "queued"
        final.message = f"{exc.__class__.__name__}: {str(exc)[:200]}"
        final.finished_at = utcnow() if failed_for_good else None
        final.locked_until = None
        session.commit()
        return final
    final = session.get(Job, job_id)
    final.status = "done"
    final.progress = 100
    final.result = json.dumps(result or {}, sort_keys=True, default=str)
    final.finished_at = utcnow()
    final.locked_until = None
    session.commit()
    return final


def work(stop: threading.Event, idle_seconds: float = 2.0) -> None:
    from petition.mail.sender import wait_for_work

    last_run: dict = {}
    while not stop.is_set():
        run_periodic(last_run)
        try:
            job = run_one()
        except Exception:
            log.exception("job worker error")
            db.session.rollback()
            job = None
        finally:
            db.session.remove()
        if job is None:
            wait_for_work(idle_seconds)
