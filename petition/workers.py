"""The in-process background workers and their wake-ups.

Areas register a loop (`add`): the outbox sender (petition.mail.worker) and the job runner
(petition.jobs.runner) each do, and neither imports the other. In the embedded default
(OUTBOX_IN_PROCESS) each loop runs in a daemon thread of the web process, started by its
first request, so one `flask run` is a whole working site; in production the same loops
run as `flask outbox work` and `flask jobs work`.

A loop sleeps in `Waiter.wait` between rounds, and any commit that queued work for a
worker (`wake_after_commit`) wakes every waiter once it is visible. Wake-ups are a
generation counter, not a shared event that the first waiter to wake would clear: each
waiter remembers the last generation it saw, so a wake-up that arrives while a loop is
busy, or that another loop saw first, makes that loop's next wait return at once.
"""
from __future__ import annotations

import signal
import threading
from collections.abc import Callable

from flask import Flask
from sqlalchemy import event
from sqlalchemy.orm import Session

# A loop runs until its stop event is set.
Loop = Callable[[threading.Event], None]

_WAKE_FLAG = "petition.wake_workers"
_changed = threading.Condition()
_generation = [0]


def wake() -> None:
    """Wake every waiting loop (and make the next wait of every busy one return at once)."""
    with _changed:
        _generation[0] += 1
        _changed.notify_all()


def stop_on_signals() -> threading.Event:
    """The stop event of a worker run as its own process (`flask outbox work`, `flask jobs
    work`): set by SIGTERM or SIGINT, which also wake the loop so that it stops at once
    instead of after its current wait."""
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: (stop.set(), wake()))
    return stop


class Waiter:
    """One loop's side of the wake-ups: the last generation it has seen."""

    def __init__(self) -> None:
        with _changed:
            self.seen = _generation[0]

    def wait(self, seconds: float) -> bool:
        """Sleep until woken since the previous wait, or seconds pass. Returns whether it
        was woken."""
        with _changed:
            woken = _changed.wait_for(lambda: _generation[0] != self.seen, seconds)
            self.seen = _generation[0]
        return woken


def wake_after_commit(session: Session) -> None:
    """Wake the workers once the session's transaction commits (the queued rows are then
    visible to them); nothing happens if it rolls back."""
    session.info[_WAKE_FLAG] = True


@event.listens_for(Session, "after_commit")
def _wake_after_commit(session: Session) -> None:
    if session.info.pop(_WAKE_FLAG, False):
        wake()


@event.listens_for(Session, "after_transaction_end")
def _forget_after_rollback(session: Session, transaction) -> None:
    # Runs after after_commit; a transaction that ends otherwise (rolled back, closed)
    # took what it queued with it. A savepoint's end changes nothing: its transaction
    # goes on and may still commit what it queued before.
    if transaction.parent is None:
        session.info.pop(_WAKE_FLAG, None)


class InProcessWorkers:
    """The app's registered loops as daemon threads, all stopped by one event."""

    def __init__(self, app: Flask):
        self.app = app
        self.loops: list[tuple[str, Loop]] = []
        self.stop = threading.Event()
        self.threads: dict[str, threading.Thread] = {}
        self.lock = threading.Lock()

    def _all_alive(self) -> bool:
        return len(self.threads) == len(self.loops) and all(t.is_alive() for t in self.threads.values())

    def ensure_started(self) -> None:
        """Start every loop whose thread is not running (never started, or died)."""
        if self._all_alive():
            return
        with self.lock:
            for name, loop in self.loops:
                thread = self.threads.get(name)
                if thread is None or not thread.is_alive():
                    thread = self.threads[name] = threading.Thread(target=self._run, args=(loop,), name=name, daemon=True)
                    thread.start()

    def _run(self, loop: Loop) -> None:
        with self.app.app_context():
            loop(self.stop)


EXTENSION_KEY = "petition.workers"


def add(app: Flask, name: str, loop: Loop) -> None:
    """Run loop(stop) in a thread of the web process when the site runs its workers in
    process (OUTBOX_IN_PROCESS, never under TESTING). Started by the first request, so CLI
    commands (db upgrade, outbox drain) never start a second worker in their process."""
    if not app.config["PETITION"].OUTBOX_IN_PROCESS or app.config.get("TESTING"):
        return
    workers = app.extensions.get(EXTENSION_KEY)
    if workers is None:
        workers = app.extensions[EXTENSION_KEY] = InProcessWorkers(app)
        app.before_request(workers.ensure_started)
    workers.loops.append((name, loop))
