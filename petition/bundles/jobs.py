"""The "bundle.build" background job: what the console's build button queues."""
from __future__ import annotations

import json
import logging

from petition import audit
from petition.accounts import User
from petition.bundles import services, spool
from petition.extensions import db
from petition.jobs.models import Job
from petition.jobs.runner import Progress, at_start, handler
from petition.letters.models import Letter

log = logging.getLogger("petition.jobs")

BUILD_JOB = "bundle.build"


@handler(BUILD_JOB)
def build_bundle(job: Job, progress: Progress) -> dict:
    payload = json.loads(job.payload or "{}")
    row = db.session.get(Letter, job.letter_id) if job.letter_id else None
    if row is None or row.slug != payload.get("slug"):
        raise services.BundleError("the job's letter does not exist any more")
    user = db.session.get(User, job.requested_by) if job.requested_by else None
    built = services.build(db.session, row, payload.get("lang", ""), built_by=user, progress=progress)
    audit.record(db.session, user, "bundle.build", row.id, bundle=built.bundle.id, lang=built.bundle.lang)
    db.session.commit()
    return {"bundle_id": built.bundle.id, "sha256": built.bundle.sha256, "pages": built.bundle.pages,
            "timestamp": services.timestamp_of(built.bundle)}


@at_start
def remove_abandoned_spools() -> None:
    removed = spool.remove_abandoned()
    if removed:
        log.info("removed %s spool folder(s) left by workers that had stopped", removed)
