"""Milestones: when a letter's count reaches its goal, the signers who asked for updates
get one email (per milestone, ever), and with auto_goal the goal moves to the next round
number.

Nothing of this runs on the signing path: the sweep runs in the job worker every
SWEEP_SECONDS (and from `letters sync` / `jobs run-pending`), reads each open letter's
count from its shards, and records a reached goal as a row whose (letter, goal) pair is
unique, so two workers sweeping at once still write one milestone and queue one mailing.
A reached goal is announced (events.milestone_reached, in the transaction that records
it); the updates area mails it (petition/updates/milestones.py) exactly like a lead's
update: batched, resumable, in each signer's language (milestone_text), discreet subject
and sender when the letter asks for them, one-click unsubscribe.

The count a goal is measured against is signing's (confirmed online signatures, from
their shards); letters sit below signing, so signing registers it (register_goal_count).
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from flask_babel import force_locale, format_number, gettext as _
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from petition import events
from petition.extensions import db
from petition.jobs import runner
from petition.letters import services, share_image
from petition.letters.models import Letter, Milestone
from petition.letters.progress import next_round

log = logging.getLogger("petition.letters")

SWEEP_SECONDS = 30.0
_goal_count: Callable[[Session, int], int] | None = None


@dataclass
class SweepReport:
    milestones: list[str] = field(default_factory=list)
    images: list[str] = field(default_factory=list)


def register_goal_count(count: Callable[[Session, int], int]) -> None:
    """Called by signing when it is imported: count(session, letter_id) reads the count
    a goal is measured against in session, not from a per-process cache."""
    global _goal_count
    _goal_count = count


def fresh_count(session: Session, letter_id: int) -> int:
    """The count from the shards themselves, not the per-process cache."""
    if _goal_count is None:
        raise LookupError("no area registered the count goals are measured against (create_app imports signing)")
    return _goal_count(session, letter_id)


def check_letter(session: Session, row: Letter, count: int) -> Milestone | None:
    """Record the goal as reached and announce it (events.milestone_reached: the updates
    area queues its mailing), once; move an auto goal on.
    Commits (or rolls back a lost race) on its own."""
    goal = row.goal
    if goal is None:
        if row.auto_goal:  # no first goal in the file: the round number above today's count
            session.execute(update(Letter).where(Letter.id == row.id, Letter.goal.is_(None))
                            .values(goal=next_round(count)))
            session.commit()
            services.forget_rows()
        return None
    if count < goal:
        return None
    if session.scalar(select(Milestone.id).where(Milestone.letter_id == row.id, Milestone.goal == goal)) is not None:
        return None  # reached before (a goal that stays put): nothing to do, no failed insert every sweep
    milestone = Milestone(letter_id=row.id, goal=goal)
    session.add(milestone)
    try:
        session.flush()
    except IntegrityError:  # another worker recorded it first, or it was reached before
        session.rollback()
        milestone = None
    if milestone is not None:
        events.milestone_reached.send(session=session, letter_id=row.id, milestone_id=milestone.id)
    if row.auto_goal:
        # Only if nobody moved it meanwhile (another worker, a sync of an edited file).
        session.execute(update(Letter).where(Letter.id == row.id, Letter.goal == goal).values(goal=next_round(count)))
    session.commit()
    services.forget_rows()
    if milestone is not None:
        log.info("letter %s reached its goal of %s signatures", row.slug, goal)
    return milestone


def sweep(session: Session, images: bool = True) -> SweepReport:
    """One pass over the open letters: milestones, then share images whose band moved."""
    report = SweepReport()
    letter_ids = list(session.scalars(select(Letter.id).where(Letter.status.in_(services.PUBLIC_STATUSES))))
    for letter_id in letter_ids:
        row = session.get(Letter, letter_id)
        if row is None or services.loaded(row.slug) is None:
            continue
        count = fresh_count(session, row.id)
        if row.status == "open":
            milestone = check_letter(session, row, count)
            if milestone is not None:
                report.milestones.append(f"{row.slug}: {milestone.goal}")
        if images:
            row = session.get(Letter, letter_id)
            report.images += share_image.refresh(session, row, count)
    return report


@runner.periodic(SWEEP_SECONDS)
def _periodic_sweep() -> None:
    sweep(db.session)


# ---- the mailing's text ---------------------------------------------------------------------------

def milestone_text(goal: int, lang: str) -> tuple[str, str]:
    """The milestone mail's subject and text in the signer's language (the updates area
    mails it in an update's layout)."""
    with force_locale(lang):
        number = format_number(goal)
        subject = _("The letter has reached %(number)s signatures", number=number)
        body = "\n\n".join([
            _("Thank you: together we have reached %(number)s signatures, the goal the campaign set for this letter.", number=number),
            _("Every new name makes the letter harder to ignore. If you can, share the letter's address with people you trust."),
        ])
    return subject, body


def reached(session: Session, letter_id: int) -> list[Milestone]:
    return list(session.scalars(select(Milestone).where(Milestone.letter_id == letter_id).order_by(Milestone.goal)))
