"""Batched publication of public names, so a name cannot be tied to a moment.

A list that showed each name as soon as it was confirmed would let someone watching the
page match a name to the moment a person was seen using their phone. So a confirmed
public name waits: the publication job publishes a letter's waiting names together once
there are at least PUBLICATION_BATCH_OTHERS + 1 of them (each name with at least that
many others), or once the oldest has waited PUBLICATION_MAX_DELAY_HOURS, whichever comes
first. A batch's names take the next places of the letter's public list (public_rank)
in random order, and carry the day of publication (published_on), never a time.

This module holds every rule of when and in which order a name becomes public; the
public queries (signing/queries.py) show only rows that have a place. Counts stay live.

The job worker runs publish_due() every PUBLICATION_CHECK_SECONDS (registered with
jobs.runner.periodic below); `flask signatures publish` runs it once. Several workers may
run it at once: rows are locked (PostgreSQL) and every UPDATE re-checks that its row is
still waiting, and a batch is committed only if all its rows were placed.
"""
from __future__ import annotations

import logging
import secrets
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from petition.extensions import db
from petition.jobs.runner import periodic
from petition.models_common import utcnow
from petition.signing.models import Signature

log = logging.getLogger("petition.signing")

# The most names placed in one round; more waiting names go in the next rounds.
MAX_BATCH = 5000

_random = secrets.SystemRandom()


def _public_name_conditions() -> tuple:
    """A confirmed, not hidden signature with a public name: one the list may carry."""
    return (
        Signature.counted,
        Signature.public_name.is_not(None),
    )


def waiting_conditions() -> tuple:
    """A public name that has no place in the list yet."""
    return (*_public_name_conditions(), Signature.public_rank.is_(None))


def published_conditions() -> tuple:
    """What a public list may show: a public name that has its place (is published)."""
    return (*_public_name_conditions(), Signature.public_rank.is_not(None))


def batch_size() -> int:
    """How many waiting names a batch needs before the delay runs out."""
    return current_app.config["PETITION"].PUBLICATION_BATCH_OTHERS + 1


def max_delay() -> timedelta:
    return timedelta(hours=current_app.config["PETITION"].PUBLICATION_MAX_DELAY_HOURS)


def publish_due(session: Session, now: datetime | None = None) -> int:
    """Publish every letter's batch that is due; commits per batch. Returns how many
    names were published. now: the clock, for tests."""
    now = now or utcnow()
    waiting = session.execute(
        select(Signature.letter_id, func.count(), func.min(Signature.confirmed_at))
        .where(*waiting_conditions())
        .group_by(Signature.letter_id)
    ).all()
    session.commit()  # end the read before the batches' own transactions
    published = 0
    for letter_id, count, oldest in waiting:
        if count >= batch_size() or oldest <= now - max_delay():
            published += _publish_batch(session, letter_id, now)
    return published


def _publish_batch(session: Session, letter_id: int, now: datetime) -> int:
    """Place the letter's waiting names (the oldest MAX_BATCH) at the end of its public
    list, in random order, all dated today. All or nothing."""
    ids = list(session.scalars(
        select(Signature.id)
        .where(Signature.letter_id == letter_id, *waiting_conditions())
        .order_by(Signature.confirmed_at, Signature.id)
        .limit(MAX_BATCH)
        .with_for_update()
    ))
    # Checked again after taking the locks: another worker may have published some.
    if not ids or (len(ids) < batch_size() and not _oldest_is_overdue(session, letter_id, now)):
        session.rollback()
        return 0
    _random.shuffle(ids)
    last = session.scalar(select(func.max(Signature.public_rank)).where(Signature.letter_id == letter_id)) or 0
    placed = 0
    for offset, sig_id in enumerate(ids, start=1):
        placed += session.execute(
            update(Signature)
            .where(Signature.id == sig_id, *waiting_conditions())
            .values(public_rank=last + offset, published_on=now.date())
            .execution_options(synchronize_session=False)
        ).rowcount
    if placed != len(ids):
        # A row was withdrawn or hidden meanwhile: a partial batch could be smaller than
        # the threshold, so none of it is published; the next round tries again.
        session.rollback()
        return 0
    session.commit()
    log.info("published a batch of %d public names on letter %d", placed, letter_id)
    return placed


def _oldest_is_overdue(session: Session, letter_id: int, now: datetime) -> bool:
    oldest = session.scalar(
        select(func.min(Signature.confirmed_at)).where(Signature.letter_id == letter_id, *waiting_conditions())
    )
    return oldest is not None and oldest <= now - max_delay()


@periodic("PUBLICATION_CHECK_SECONDS")
def _publication_job() -> None:
    publish_due(db.session)
