"""Sharded counters of confirmed signatures (see SignatureCounter for why).

Writes: a confirmation adds 1 to shard (signature id % SHARDS) inside its own
transaction, so the count can never drift from a committed confirmation. Reads: the SUM
of the shards, cached per process for COUNT_CACHE_SECONDS, so a page view costs no
COUNT over the signatures table and a million signatures cost the same as none.
"""
from __future__ import annotations

from flask import current_app
from sqlalchemy import bindparam, func, literal_column, select, update
from sqlalchemy.orm import Session

from petition import caching, events
from petition.extensions import db
from petition.letters import milestones, services as letters
from petition.signing.models import Signature, SignatureCounter

_COUNTS = "signing.confirmed_counts"


@letters.synced.connect
def _shards_for_synced_letter(session: Session, letter_id: int) -> None:
    ensure_shards(session, letter_id)


def ensure_shards(session: Session, letter_id: int) -> None:
    have = set(session.scalars(select(SignatureCounter.shard).where(SignatureCounter.letter_id == letter_id)))
    for shard in range(SignatureCounter.SHARDS):
        if shard not in have:
            session.add(SignatureCounter(letter_id=letter_id, shard=shard, confirmed=0))


def shard_of(signature_id):
    """The counter shard a signature counts in, as SQL (a column or expression). The
    modulus is inline, not a bound parameter: PostgreSQL only accepts a GROUP BY on it
    when it is the very same expression as the selected one ($1 and $2 are not)."""
    return signature_id % literal_column(str(SignatureCounter.SHARDS))


_shards = SignatureCounter.__table__
# Core, built once, values as parameters: this runs with every confirmation.
_ADD = (
    update(_shards)
    .where(_shards.c.letter_id == bindparam("letter"), _shards.c.shard == bindparam("shard_no"))
    .values(confirmed=_shards.c.confirmed + bindparam("delta"))
)


def add(session: Session, letter_id: int, signature_id: int, delta: int) -> None:
    session.execute(_ADD, {"letter": letter_id, "shard_no": signature_id % SignatureCounter.SHARDS, "delta": delta})
    forget(letter_id)


def summed_count(session: Session, letter_id: int) -> int:
    """The letter's confirmed signatures, summed from the shards now (no cache)."""
    return int(session.scalar(
        select(func.coalesce(func.sum(SignatureCounter.confirmed), 0)).where(SignatureCounter.letter_id == letter_id)
    ) or 0)


def confirmed_count(letter_id: int) -> int:
    """The letter's confirmed signatures, as summed at most COUNT_CACHE_SECONDS ago."""
    seconds = current_app.config["PETITION"].COUNT_CACHE_SECONDS
    return caching.cache(_COUNTS).get(letter_id, seconds, lambda: summed_count(db.session, letter_id))


def forget(letter_id: int) -> None:
    """Drop this process's copy of the letter's count (after this process changed it)."""
    caching.cache(_COUNTS).forget(letter_id)


@events.signature_confirmed.connect_via(events.INDIVIDUAL)
def _forget_on_confirmation(_kind, *, letter_id: int, **_ids) -> None:
    # On PostgreSQL the confirmation counts itself in SQL (signing.services.confirm):
    # the count cached here is stale from then on.
    forget(letter_id)


def reconcile(session: Session, letter_id: int) -> tuple[int, int]:
    """Recompute the shards from the signatures table. Returns (before, after).

    Exact while confirmations and withdrawals go on, because each of those changes a
    signature and adds to its shard in one transaction: the letter's shard rows are
    locked first (FOR UPDATE; on SQLite the caller's write transaction is the lock), and
    only then are the signatures counted, in a statement of its own (a fresh snapshot
    under READ COMMITTED). A confirmation committed before the lock is in the count; one
    not yet committed waits for the lock to add its 1 to the value written here, and is
    not in the count. Counting first and writing after, as before, lost whatever was
    confirmed in between. The caller commits."""
    ensure_shards(session, letter_id)
    session.flush()
    held = dict(session.execute(
        select(SignatureCounter.shard, SignatureCounter.confirmed)
        .where(SignatureCounter.letter_id == letter_id)
        .order_by(SignatureCounter.shard)  # one order for every locker: no deadlock
        .with_for_update()
    ).all())
    shard = shard_of(Signature.id)
    per_shard = dict(session.execute(
        select(shard, func.count())
        .where(Signature.letter_id == letter_id, Signature.counted)
        .group_by(shard)
    ).all())
    for number, value in held.items():
        counted = int(per_shard.get(number, 0))
        if counted != value:
            session.execute(
                update(SignatureCounter)
                .where(SignatureCounter.letter_id == letter_id, SignatureCounter.shard == number)
                .values(confirmed=counted)
            )
    forget(letter_id)
    return sum(int(v) for v in held.values()), sum(int(v) for v in per_shard.values())


letters.register_signer_count("online", confirmed_count)
# A goal is reached when the shards say so, whatever this process cached.
milestones.register_goal_count(summed_count)
