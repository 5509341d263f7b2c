"""Jobs under faults: a dead worker's job is taken over within a minute, a worker that
lost its lease cannot finish the job, and two requests for one bundle make one job."""
from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from petition.database import writing
from petition.extensions import db
from petition.jobs import runner
from petition.jobs.models import Job
from petition.models_common import utcnow


@pytest.fixture
def recorded(app):
    calls: list[int] = []

    @runner.handler("test.record")
    def record(job, progress):
        calls.append(job.id)
        progress(50, "half")
        return {"ok": True}

    yield calls
    runner.HANDLERS.pop("test.record", None)


def test_a_lease_runs_out_within_a_minute_and_is_renewed_while_working():
    assert runner.LEASE <= timedelta(minutes=1)
    assert runner.HEARTBEAT * 3 <= runner.LEASE  # two missed beats still keep the lease


def test_a_dead_workers_job_is_taken_over_once_its_lease_runs_out(app, recorded):
    job = runner.enqueue(db.session, "test.record")
    db.session.commit()
    claimed, attempt = runner._claim(db.session)  # a worker claims it, then dies (nothing more runs)
    assert claimed.id == job.id and attempt == 1
    assert runner.run_one() is None  # the lease holds while it is fresh
    db.session.execute(update(Job).values(locked_until=utcnow() - timedelta(seconds=1)))
    db.session.commit()
    finished = runner.run_one()
    assert finished.id == job.id and finished.status == "done" and finished.attempts == 2
    assert recorded == [job.id]


def test_a_worker_whose_job_was_taken_over_cannot_finish_it(app):
    seen: list[str] = []

    @runner.handler("test.slow")
    def slow(job, progress):
        # Meanwhile the lease ran out and another worker claimed the job.
        db.session.execute(update(Job).where(Job.id == job.id).values(locked_until=utcnow() - timedelta(seconds=1)))
        db.session.commit()
        other = db.session.get(Job, job.id)
        assert runner._claim(db.session)[0].id == other.id
        try:
            progress(95, "storing")
        except runner.JobLost:
            seen.append("lost")
            raise
        seen.append("went on")  # pragma: no cover - the defect this test catches
        return {}

    try:
        job = runner.enqueue(db.session, "test.slow")
        db.session.commit()
        runner.run_one()
        row = db.session.get(Job, job.id, populate_existing=True)
        assert seen == ["lost"]
        assert row.status == "running" and row.attempts == 2  # left to the second worker, untouched
    finally:
        runner.HANDLERS.pop("test.slow", None)


def test_the_heartbeat_renews_the_lease_and_notices_a_takeover(app, monkeypatch):
    monkeypatch.setattr(runner, "HEARTBEAT", timedelta(seconds=0.05))
    job = runner.enqueue(db.session, "updates.send")
    db.session.commit()
    db.session.execute(update(Job).values(status="running", attempts=1, locked_until=utcnow()))
    db.session.commit()
    beat = runner._Heartbeat(db.engine, job.id, 1)
    beat.start()
    try:
        deadline = utcnow() + timedelta(seconds=10)
        while db.session.scalar(select(Job.locked_until).where(Job.id == job.id)) <= utcnow() + timedelta(seconds=30):
            assert utcnow() < deadline, "the lease was not renewed"
            db.session.commit()
        db.session.execute(update(Job).values(attempts=2))  # another worker took it over
        db.session.commit()
        assert beat.lost.wait(10)
    finally:
        beat.stop()


def test_a_job_that_killed_its_worker_three_times_fails_instead_of_looping(app, recorded):
    job = runner.enqueue(db.session, "test.record")
    db.session.commit()
    db.session.execute(update(Job).values(status="running", attempts=runner.MAX_ATTEMPTS,
                                          locked_until=utcnow() - timedelta(seconds=1)))
    db.session.commit()
    assert runner.run_one() is None
    row = db.session.get(Job, job.id, populate_existing=True)
    assert row.status == "failed" and "stopped" in row.message and recorded == []


# ---- coalescing ---------------------------------------------------------------------------

def test_a_second_request_for_the_same_bundle_gets_the_first_job(app):
    first = runner.enqueue(db.session, "bundle.build", {"slug": "x", "lang": "en"}, coalesce_key="bundle.build:1:en")
    db.session.commit()
    second = runner.enqueue(db.session, "bundle.build", {"slug": "x", "lang": "en"}, coalesce_key="bundle.build:1:en")
    other = runner.enqueue(db.session, "bundle.build", {"slug": "x", "lang": "fr"}, coalesce_key="bundle.build:1:fr")
    db.session.commit()
    assert second.id == first.id and other.id != first.id
    db.session.execute(update(Job).where(Job.id == first.id).values(status="running"))
    db.session.commit()
    assert runner.enqueue(db.session, "bundle.build", {}, coalesce_key="bundle.build:1:en").id == first.id
    db.session.execute(update(Job).where(Job.id == first.id).values(status="done"))
    db.session.commit()
    # Once it is done, a new request builds a new bundle (new signatures came in).
    third = runner.enqueue(db.session, "bundle.build", {}, coalesce_key="bundle.build:1:en")
    db.session.commit()
    assert third.id != first.id


def test_simultaneous_build_requests_make_one_job(app):
    """The race: N requests at the same instant, each in its own session and transaction."""
    from petition.letters import services as letters

    row_id = letters.letter_row("secure-our-socials").id
    db.session.remove()
    barrier = threading.Barrier(6)
    ids: list[int] = []
    errors: list[BaseException] = []

    def request_build():
        with app.app_context(), writing():  # as in a POST request (SQLite: BEGIN IMMEDIATE)
            try:
                barrier.wait()
                job = runner.enqueue(db.session, "bundle.build", {"slug": "secure-our-socials", "lang": "en"},
                                     letter_id=row_id, coalesce_key=f"bundle.build:{row_id}:en")
                db.session.commit()
                ids.append(job.id)
            except BaseException as exc:  # noqa: BLE001
                errors.append(exc)
            finally:
                db.session.remove()

    for _round in range(5):
        db.session.execute(update(Job).values(status="done"))
        db.session.commit()
        ids.clear()
        threads = [threading.Thread(target=request_build) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert not errors, errors
        assert len(ids) == 6 and len(set(ids)) == 1, ids
        active = db.session.scalar(select(func.count()).select_from(Job).where(Job.status.in_(runner.ACTIVE)))
        assert active == 1
        db.session.commit()


def test_the_console_build_button_coalesces(app):
    from tests.bundles.test_web import login
    from tests.helpers import csrf_token

    client = app.test_client()
    login(client, app)
    base = "/en/console/letters/secure-our-socials/bundles"
    for _twice in range(2):
        page = client.get(base)
        assert client.post(f"{base}/build", data={"csrf_token": csrf_token(page.text), "lang": "en"}).status_code == 303
    assert db.session.scalar(select(func.count()).select_from(Job).where(Job.kind == "bundle.build")) == 1
