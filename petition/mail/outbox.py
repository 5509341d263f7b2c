"""The outbox table: mail is queued in the caller's transaction, and senders lease it.

`queue` adds one encrypted row in the caller's transaction, so a signature is never stored
without its email, nor the reverse, and wakes the workers once that transaction commits.

On the sender's side (`Outbox`, one per sender, keeping its database connection from
batch to batch): several senders may run at once, and rows are claimed with a short lease
(locked_until; OUTBOX_LEASE_SECONDS, a minute), on PostgreSQL in one statement with FOR
UPDATE SKIP LOCKED. A lease is the sender's while locked_until still holds the value it
wrote: the lease of the rows still to send is renewed (one UPDATE, only if it is still
this sender's) once half of it has gone, and nothing is sent in its last sixth. Each
accepted message's row is deleted at once (one DELETE): a sender killed or cut from the
database at any instant sends again at most the one message the relay had accepted and it
had not yet deleted, and its other rows go to the next sender when the lease ends.
Refused rows back off (30 s, doubling, at most an hour); rows never tried are given back.
"""
from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass
from datetime import timedelta
from functools import lru_cache

from sqlalchemy import bindparam, delete, insert, or_, select, update
from sqlalchemy.orm import Session

from petition import workers
from petition.database import writing
from petition.logs import redact
from petition.mail.mime import Message
from petition.mail.models import OutboxMessage
from petition.models_common import utcnow
from petition.crypto import decrypt, encrypt

log = logging.getLogger("petition.mail")

MAX_BACKOFF = timedelta(hours=1)

_O = OutboxMessage
# Built once; each message's values come as parameters.
_INSERT = insert(_O.__table__)


def queue(session: Session, message: Message, *, purpose: str, letter_id: int | None = None) -> None:
    """Add the message to the outbox in the caller's transaction (one INSERT, no ORM
    object: nothing reads the row back before the sender claims it)."""
    session.execute(_INSERT, {
        "payload_enc": encrypt(json.dumps(asdict(message), ensure_ascii=False)),
        "purpose": purpose,
        "letter_id": letter_id,
    })
    workers.wake_after_commit(session)


def message_from(payload_enc: str) -> Message:
    """The message an outbox row's payload_enc holds (the reverse of queue())."""
    return Message(**json.loads(decrypt(payload_enc)))


def payload(row: OutboxMessage) -> Message:
    return message_from(row.payload_enc)


def backoff(attempts: int) -> timedelta:
    """30 s, 1 min, 2 min, ... capped at an hour: SMTP outages are waited out, not lost."""
    return min(timedelta(seconds=30 * 2 ** max(attempts - 1, 0)), MAX_BACKOFF)


def _due():
    return (_O.next_attempt_at <= bindparam("now"),
            or_(_O.locked_until.is_(None), _O.locked_until < bindparam("now")))


@dataclass(frozen=True)
class Statements:
    claim: object  # lease due rows nobody holds and return them
    sent: object  # delete one row whose message the server accepted
    renew: object  # extend this sender's lease on rows it still holds, returning them
    failed: object  # reschedule a refused row (only while this sender holds it)
    release: object  # give back rows never tried (only those this sender holds)


@lru_cache(maxsize=None)
def _statements(dialect: str) -> Statements:
    """The sender's statements, built once per dialect (SQLAlchemy caches their SQL).

    A lease is ours while locked_until still holds the value we wrote: another sender can
    only claim a row once that time has passed, and writes a later one."""
    columns = (_O.id, _O.payload_enc, _O.attempts)
    if dialect == "postgresql":
        # One statement: pick due rows nobody holds, lease them, return them.
        picked = (select(_O.id).where(*_due()).order_by(_O.id).limit(bindparam("limit"))
                  .with_for_update(skip_locked=True).cte("picked"))
        claim = update(_O).where(_O.id == picked.c.id).values(locked_until=bindparam("lease")).returning(*columns)
    else:
        # SQLite: one writer at a time (the transaction began with BEGIN IMMEDIATE).
        picked = select(_O.id).where(*_due()).order_by(_O.id).limit(bindparam("limit")).scalar_subquery()
        claim = update(_O).where(_O.id.in_(picked)).values(locked_until=bindparam("lease")).returning(*columns)
    ours = _O.locked_until == bindparam("held")
    return Statements(
        claim=claim,
        sent=delete(_O).where(_O.id == bindparam("row_id")),
        renew=(update(_O).where(_O.id.in_(bindparam("ids", expanding=True)), ours)
               .values(locked_until=bindparam("lease")).returning(_O.id)),
        failed=(update(_O).where(_O.id == bindparam("row_id"), ours)
                .values(attempts=bindparam("attempts"), next_attempt_at=bindparam("next_at"),
                        locked_until=None, last_error=bindparam("error"))),
        release=update(_O).where(_O.id.in_(bindparam("ids", expanding=True)), ours).values(locked_until=None),
    )


class MarkingFailed(Exception):
    """An accepted message's row could not be deleted (the database went away)."""


class LeaseLost(Exception):
    """Rows this sender claimed are no longer its own: it stops sending them."""


class Claim:
    """One batch's lease: the rows claimed (id, payload_enc, attempts), the rows still to
    send, the lease value that proves they are ours, and when to renew it and when to stop
    sending (time.monotonic())."""

    def __init__(self, rows, held, started: float, lease: timedelta):
        self.rows = rows
        self.unsent = {row_id for row_id, _payload, _attempts in rows}
        self.held = held
        self.accepted: list[int] = []
        self.unmarked: list[int] = []
        self.errors: dict[int, str] = {}
        self.extend(held, started, lease)

    def extend(self, held, started: float, lease: timedelta) -> None:
        seconds = lease.total_seconds()
        self.held = held
        self.renew_at = started + seconds / 2
        self.deadline = started + seconds * 5 / 6


class Outbox:
    """One sender's database connection to the outbox, kept from batch to batch."""

    def __init__(self, engine, lease: timedelta):
        self.engine = engine
        self.postgres = engine.dialect.name == "postgresql"
        self.statements = _statements(engine.dialect.name)
        # A killed sender's rows are free again this long after its last claim or
        # renewal. Renewed once half of it has gone; nothing is sent in its last sixth
        # (clock differences between machines, the renewal's own round trip).
        self.lease = lease
        self.connection = None

    def _conn(self):
        if self.connection is None or self.connection.closed or self.connection.invalidated:
            self.close()
            connection = self.engine.connect()
            if self.postgres:
                # Every statement here stands alone (the claim is one statement), so no
                # BEGIN/COMMIT round trips. SQLite keeps transactions (BEGIN IMMEDIATE).
                connection = connection.execution_options(isolation_level="AUTOCOMMIT")
            self.connection = connection
        return self.connection

    def _execute(self, statement, params):
        """Run one statement and commit (a no-op on PostgreSQL's autocommit connection);
        a failure drops the connection, so the next call opens a new one."""
        with writing():
            try:
                conn = self._conn()
                result = conn.execute(statement, params)
                rows = result.all() if result.returns_rows else None
                conn.commit()
                return rows
            except Exception:
                self.close()
                raise

    def claim(self, limit: int) -> Claim | None:
        """Lease up to limit due rows nobody holds; None when there are none."""
        started, now = time.monotonic(), utcnow()
        rows = self._execute(self.statements.claim, {"now": now, "lease": now + self.lease, "limit": limit})
        return Claim(sorted(rows), now + self.lease, started, self.lease) if rows else None

    def mark_sent(self, claim: Claim, row_id: int) -> None:
        """The server accepted this row's message: delete the row now."""
        claim.accepted.append(row_id)
        try:
            self._execute(self.statements.sent, {"row_id": row_id})
        except Exception as exc:
            claim.unmarked.append(row_id)
            raise MarkingFailed() from exc

    def renew(self, claim: Claim) -> None:
        """Extend the lease on the rows still to send; LeaseLost if some are no longer ours."""
        started, now = time.monotonic(), utcnow()
        ids = sorted(claim.unsent)
        try:
            kept = {row_id for (row_id,) in self._execute(
                self.statements.renew, {"ids": ids, "held": claim.held, "lease": now + self.lease})}
        except Exception as exc:  # no database: stop before the lease runs out
            raise MarkingFailed() from exc
        claim.extend(now + self.lease, started, self.lease)
        if kept != claim.unsent:
            claim.unsent &= kept
            raise LeaseLost()

    def mark_until_deadline(self, claim: Claim) -> None:
        """The database went away while marking: keep trying to delete the rows of the
        accepted messages until the lease ends, so a short outage sends nothing twice."""
        while claim.unmarked:
            try:
                for row_id in list(claim.unmarked):
                    self._execute(self.statements.sent, {"row_id": row_id})
                    claim.unmarked.remove(row_id)
            except Exception:
                if time.monotonic() + 0.5 >= claim.deadline:
                    log.warning("outbox: %d sent messages could not be marked before their lease ended; "
                                "they will be sent again", len(claim.unmarked))
                    return
                time.sleep(0.25)

    def reschedule(self, claim: Claim) -> None:
        """Back off on refused rows; give back at once the rows never tried. Both only
        while the lease is ours; if the database is away they wait for the lease to end."""
        now = utcnow()
        attempts = {row_id: count for row_id, _payload, count in claim.rows}
        retry = [{"row_id": row_id, "attempts": attempts[row_id] + 1, "held": claim.held,
                  "next_at": now + backoff(attempts[row_id] + 1), "error": redact(error)[:300]}
                 for row_id, error in claim.errors.items()]
        untried = sorted(claim.unsent)
        try:
            if retry:
                self._execute(self.statements.failed, retry)
            if untried:
                self._execute(self.statements.release, {"ids": untried, "held": claim.held})
        except Exception:
            log.warning("outbox: could not reschedule %d rows; they are retried when their lease ends",
                        len(retry) + len(untried))

    def close(self) -> None:
        if self.connection is not None:
            try:
                self.connection.close()
            except Exception:  # already broken: nothing to give back
                pass
            self.connection = None
