"""Wake-ups of the in-process workers: a commit that queued work wakes every loop, and a
wake-up is never lost to another loop or to a loop that was busy when it came."""
from __future__ import annotations

import threading
import time

import pytest

from petition import workers
from petition.extensions import db
from petition.jobs import runner
from petition.mail import worker
from petition.mail import services as mail
from tests.mail.fake_smtp import FakeSMTP

IDLE = 30.0  # far longer than any test here waits: a loop that returns sooner was woken


def test_a_wake_up_reaches_a_loop_that_was_busy_while_another_loop_saw_it_first():
    waiting, busy = workers.Waiter(), workers.Waiter()
    woken = []
    thread = threading.Thread(target=lambda: woken.append(waiting.wait(IDLE)))
    thread.start()
    time.sleep(0.1)  # the first loop is waiting; the other is busy with a round
    workers.wake()
    thread.join(5)
    assert woken == [True]
    started = time.monotonic()
    assert busy.wait(IDLE) is True  # its next wait returns at once: the wake-up was kept for it
    assert time.monotonic() - started < 1


def test_a_wake_up_is_used_once_per_loop():
    waiter = workers.Waiter()
    workers.wake()
    assert waiter.wait(IDLE) is True
    assert waiter.wait(0.05) is False  # nothing new since


def test_many_wake_ups_while_busy_make_one_early_round():
    waiter = workers.Waiter()
    for _ in range(5):
        workers.wake()
    assert waiter.wait(IDLE) is True
    assert waiter.wait(0.05) is False


def test_no_wake_up_before_the_commit_nor_after_a_rollback(app):
    waiter = workers.Waiter()
    runner.enqueue(db.session, "test.never")
    assert waiter.wait(0.05) is False  # queued, not yet visible to a worker
    db.session.rollback()
    db.session.commit()
    assert waiter.wait(0.05) is False


@pytest.fixture
def smtp_server():
    fake = FakeSMTP().start()
    yield fake
    fake.stop()


def test_one_commit_queueing_a_mail_and_a_job_wakes_both_loops(make_app, smtp_server):
    app = make_app(MAIL_SERVER="127.0.0.1", MAIL_PORT=smtp_server.port)
    ran = threading.Event()

    @runner.handler("test.woken")
    def woken(job, progress):
        ran.set()

    stop = threading.Event()

    def loop(work):
        with app.app_context():
            work(stop, idle_seconds=IDLE)

    threads = [threading.Thread(target=loop, args=(work,)) for work in (worker.work, runner.work)]
    try:
        with app.app_context():
            for thread in threads:
                thread.start()
            time.sleep(0.5)  # both loops have done their first round and sleep for IDLE
            mail.queue(db.session, mail.Message(to="someone@example.org", subject="S", text="t\n"), purpose="test")
            runner.enqueue(db.session, "test.woken")
            db.session.commit()
            assert ran.wait(10), "the job loop was not woken"
            assert len(smtp_server.wait_for(1)) == 1, "the outbox loop was not woken"
    finally:
        stop.set()
        workers.wake()
        for thread in threads:
            thread.join(10)
        runner.HANDLERS.pop("test.woken", None)
    assert not any(thread.is_alive() for thread in threads)
