"""The milestone mail: when letters' sweep records a reached goal (events.milestone_reached),
the signers who asked for updates get one email, in their language, exactly as a lead's
update goes out (queue_to_opted_in)."""
from __future__ import annotations

import json

from sqlalchemy.orm import Session

from petition import events
from petition.jobs import runner
from petition.jobs.models import Job
from petition.letters.milestones import milestone_text
from petition.letters.models import Milestone
from petition.updates.services import Update, queue_to_opted_in

KIND = "milestones.send"


@events.milestone_reached.connect
def _queue_mailing(_sender, *, session: Session, letter_id: int, milestone_id: int, **_ids) -> None:
    """Queued in the transaction that records the milestone, so a lost race queues nothing."""
    goal = session.get(Milestone, milestone_id).goal
    runner.enqueue(session, KIND, {"milestone": milestone_id, "goal": goal, "after": 0, "queued": 0},
                   letter_id=letter_id)


@runner.handler(KIND)
def send_milestone(job: Job, progress) -> dict:
    goal = int(json.loads(job.payload)["goal"])
    return queue_to_opted_in(job, progress, lambda lang: Update(*milestone_text(goal, lang)))
