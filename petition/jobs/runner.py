"""A small job queue on the application database (no extra service to run).

    @handler("bundle.build")
    def build(job: Job, progress: Callable[[int, str], None]) -> dict: ...

enqueue() adds a row in the caller's transaction (or returns the queued or running job
with the same coalesce key); run_one() claims the oldest queued job (SKIP LOCKED on
PostgreSQL, a lease everywhere), runs its handler, stores the result.
Workers: `flask --app wsgi jobs work` (production), or the in-process thread of the
embedded default (petition.workers). Each area registers its own handlers, periodic work
and start-up work with the decorators below, in its own module; the runner imports none.

Leases: a claimed job is leased for LEASE (45 s) and a heartbeat thread renews the
lease every HEARTBEAT (10 s) while the handler runs, so a worker killed mid-job (SIGKILL,
out of memory, power) leaves a lease that runs out within a minute, and the next worker
to look takes the job over. Every claim counts an attempt, and the attempt number is the
claim's fence: a worker whose lease was taken over can no longer renew it, report
progress or finish the job (its progress() raises JobLost before it stores anything).
A job whose worker died MAX_ATTEMPTS times is failed, not retried for ever.
"""
from __future__ import annotations

import json
import logging
import threading
import time
from datetime import timedelta
from typing import Callable

from flask import Flask, current_app
from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from petition import workers
from petition.database import checkpoint_if_erased, writing
from petition.extensions import db
from petition.jobs.models import Job
from petition.models_common import utcnow

log = logging.getLogger("petition.jobs")

Progress = Callable[[int, str], None]
HANDLERS: dict[str, Callable[[Job, Progress], dict | None]] = {}
# Housekeeping a worker does between jobs (the milestone sweep, publishing names):
# (every seconds, or the name of the config setting that says how many, function).
PERIODIC: list[tuple[float | str, Callable[[], None]]] = []
# What a worker does once when it starts (clearing what stopped workers left behind).
AT_START: list[Callable[[], None]] = []
LEASE = timedelta(seconds=45)
HEARTBEAT = timedelta(seconds=10)
MAX_ATTEMPTS = 3
ACTIVE = ("queued", "running")


class JobLost(RuntimeError):
    """This worker's lease ran out and another worker took the job over."""


def handler(kind: str):
    def register(func):
        HANDLERS[kind] = func
        return func
    return register


def periodic(seconds: float | str):
    """Run the decorated function from each worker at most every `seconds` (a number,
    or the name of a config setting); it must be safe to run from several workers at once."""
    def register(func):
        PERIODIC.append((seconds, func))
        return func
    return register


def at_start(func: Callable[[], None]):
    """Run the decorated function once when a worker starts; a failing one is logged."""
    if func not in AT_START:
        AT_START.append(func)
    return func


def run_periodic(last_run: dict, now: float | None = None) -> None:
    """Run the periodic functions that are due; a failing one is logged, never fatal."""
    now = time.monotonic() if now is None else now
    for seconds, func in PERIODIC:
        if isinstance(seconds, str):
            seconds = getattr(current_app.config["PETITION"], seconds)
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
            requested_by: int | None = None, coalesce_key: str | None = None) -> Job:
    """Queue a job in the caller's transaction. With a coalesce_key, a job with the same
    key that is still queued or running is returned instead of a second one (a unique
    index over active jobs decides, so two requests at the same instant make one job)."""
    def new_job() -> Job:
        return Job(kind=kind, payload=json.dumps(payload or {}, sort_keys=True), letter_id=letter_id,
                   requested_by=requested_by, status="queued", coalesce_key=coalesce_key)

    workers.wake_after_commit(session)
    if coalesce_key is None:
        job = new_job()
        session.add(job)
        return job
    for _attempt in range(3):
        existing = session.scalar(select(Job).where(Job.coalesce_key == coalesce_key, Job.status.in_(ACTIVE)))
        if existing is not None:
            return existing
        job = new_job()
        try:
            with session.begin_nested():
                session.add(job)
        except IntegrityError:
            continue  # another request's job got in first; its transaction has committed by now
        return job
    raise RuntimeError(f"could not queue or find a job for {coalesce_key!r}")


def _claim(session: Session) -> tuple[Job, int] | None:
    now = utcnow()
    # A job whose worker died MAX_ATTEMPTS times would most likely kill the next one too.
    session.execute(
        update(Job)
        .where(Job.status == "running", Job.locked_until < now, Job.attempts >= MAX_ATTEMPTS)
        .values(status="failed", finished_at=now, locked_until=None,
                message=f"its worker stopped during each of {MAX_ATTEMPTS} attempts")
        .execution_options(synchronize_session=False)
    )
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
        .where(Job.id == job_id, or_(Job.status == "queued", (Job.status == "running") & (Job.locked_until < now)))
        .values(status="running", started_at=now, locked_until=now + LEASE, attempts=Job.attempts + 1,
                progress=0, message=None)
        .execution_options(synchronize_session=False)
    ).rowcount
    session.commit()
    if not claimed:
        return None
    job = session.get(Job, job_id, populate_existing=True)
    if job.attempts > 1:
        log.warning("job %s (%s) taken over: attempt %s", job.id, job.kind, job.attempts)
    return job, job.attempts


def _ours(job_id: int, attempt: int):
    """The WHERE of every write a claimant makes: still running, still its claim."""
    return (Job.id == job_id, Job.attempts == attempt, Job.status == "running")


class _Heartbeat(threading.Thread):
    """Renews the lease on a connection of its own while the handler works (a handler
    may spend minutes without calling progress(), e.g. waiting on its render pool)."""

    def __init__(self, engine, job_id: int, attempt: int):
        super().__init__(name=f"job-{job_id}-heartbeat", daemon=True)
        self.engine = engine
        self.job_id = job_id
        self.attempt = attempt
        self.stopped = threading.Event()
        self.lost = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(HEARTBEAT.total_seconds()):
            try:
                with self.engine.begin() as connection:
                    renewed = connection.execute(
                        update(Job).where(*_ours(self.job_id, self.attempt)).values(locked_until=utcnow() + LEASE)
                    ).rowcount
            except Exception:  # noqa: BLE001 - a database blip: try again at the next beat
                log.warning("job %s: lease renewal failed, will retry", self.job_id)
                continue
            if not renewed:
                self.lost.set()
                return

    def stop(self) -> None:
        self.stopped.set()
        self.join(timeout=HEARTBEAT.total_seconds() + 5)


def run_one() -> Job | None:
    """Run the oldest due job, if any. Returns it (finished or failed)."""
    session = db.session
    claim = _claim(session)
    if claim is None:
        return None
    job, attempt = claim
    job_id = job.id
    heartbeat = _Heartbeat(db.engine, job_id, attempt)

    def progress(percent: int, message: str = "") -> None:
        # Its own short transaction, so the console can show progress while the job runs.
        # The handler's reads are ended first: on SQLite a transaction that read and then
        # writes fails at once if another writer (the heartbeat) committed in between.
        if heartbeat.lost.is_set():
            raise JobLost(f"job {job_id}: another worker took it over")
        session.commit()
        with writing():
            done = session.execute(update(Job).where(*_ours(job_id, attempt)).values(
                progress=max(0, min(100, int(percent))), message=message[:300] or None,
                locked_until=utcnow() + LEASE).execution_options(synchronize_session=False)).rowcount
            session.commit()
        if not done:
            raise JobLost(f"job {job_id}: another worker took it over")

    heartbeat.start()
    try:
        result = HANDLERS[job.kind](job, progress)
    except JobLost:
        session.rollback()
        log.warning("job %s (%s): lease lost, left to the worker that took it over", job_id, job.kind)
        return session.get(Job, job_id, populate_existing=True)
    except Exception as exc:  # a failed job must not kill the worker
        session.rollback()
        log.exception("job %s (%s) failed", job_id, job.kind)
        failed_for_good = attempt >= MAX_ATTEMPTS
        session.execute(update(Job).where(*_ours(job_id, attempt)).values(
            status="failed" if failed_for_good else "queued",
            message=f"{exc.__class__.__name__}: {str(exc)[:200]}",
            finished_at=utcnow() if failed_for_good else None,
            locked_until=None).execution_options(synchronize_session=False))
        session.commit()
        return session.get(Job, job_id, populate_existing=True)
    finally:
        heartbeat.stop()
    session.execute(update(Job).where(*_ours(job_id, attempt)).values(
        status="done", progress=100, result=json.dumps(result or {}, sort_keys=True, default=str),
        finished_at=utcnow(), locked_until=None).execution_options(synchronize_session=False))
    session.commit()
    return session.get(Job, job_id, populate_existing=True)


def work(stop: threading.Event, idle_seconds: float = 2.0) -> None:
    """Run jobs until stop is set: at once when woken, otherwise every idle_seconds."""
    waiter = workers.Waiter()
    for func in AT_START:
        try:
            func()
        except Exception:
            log.exception("start-up work %s failed", func.__name__)
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
        checkpoint_if_erased(db.engine)
        if job is None:
            waiter.wait(idle_seconds)


def init_app(app: Flask) -> None:
    workers.add(app, "job-worker", work)
