"""Signers who asked for updates hear of an acknowledgement and of a published response:
the deliveries area logs the entry and says what it means (deliveries.services.notice_text),
this module hears of it (events.delivery_logged) and mails it like a lead's update.
Deliveries does not import this area."""
from __future__ import annotations

import json

from sqlalchemy.orm import Session

from petition import events
from petition.deliveries import services as deliveries
from petition.deliveries.models import DeliveryEvent
from petition.extensions import db
from petition.jobs import runner
from petition.jobs.models import Job
from petition.updates.services import Update, queue_to_opted_in, recipient_count

# The job's name predates this area; queued jobs of that kind must still run.
KIND = "deliveries.notify"


@events.delivery_logged.connect_via(deliveries.ACKNOWLEDGED)
@events.delivery_logged.connect_via(deliveries.RESPONSE_PUBLISHED)
def _queue_notices(_kind, *, session: Session, letter_id: int, entry_id: int, **_ids) -> None:
    """A job, queued in the transaction that logged the entry, mails the notices."""
    if recipient_count(session, letter_id):
        runner.enqueue(session, KIND, {"event": entry_id, "after": 0, "queued": 0}, letter_id=letter_id)


@runner.handler(KIND)
def send_notices(job: Job, progress) -> dict:
    """One mail per opted-in signer for one log entry, batched and resumable as a lead's
    update is (queue_to_opted_in)."""
    event = db.session.get(DeliveryEvent, json.loads(job.payload)["event"])
    if event is None:
        return {"queued": 0}
    return queue_to_opted_in(job, progress, lambda lang: Update(*deliveries.notice_text(event, lang)))
