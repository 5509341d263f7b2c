"""Updates to the signers who asked for them: a lead writes one text in the console, a
background job ("updates.send") queues one outbox email per opted-in signer, in batches,
each framed in the signer's language, with a one-click unsubscribe (RFC 8058). The
deliveries' notices and the milestone mails (this area's delivery_notices.py and
milestones.py) go out through queue_to_opted_in the same way.

Unsubscribe links carry their own token (purpose "unsubscribe-updates"): its nonce is
derived from HASH_KEY and the signature, so no per-signer secret has to be stored and
the signer's withdraw link (whose nonce only exists as a hash) stays valid.
"""
from __future__ import annotations

import hmac
import json
from dataclasses import dataclass
from typing import Callable

from flask_babel import force_locale, gettext as _
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from petition import audit, tokens
from petition.accounts import User
from petition.crypto import decrypt, keyed_hash
from petition.extensions import db
from petition.jobs import runner
from petition.jobs.models import Job
from petition.letters import services as letters
from petition.letters.models import Letter, PublishedUpdate
from petition.mail import services as mail
from petition.signing.models import Signature
from petition.urls import public_url

KIND = "updates.send"
UNSUBSCRIBE = "unsubscribe-updates"
UNSUBSCRIBE_MAX_AGE_DAYS = 3650
BATCH = 200
SUBJECT_MAX = 150
BODY_MAX = 5000


@dataclass(frozen=True)
class Update:
    subject: str
    body: str


def _recipients(letter_id: int):
    return (Signature.letter_id == letter_id, Signature.counted,
            Signature.updates_opt_in.is_(True))


def recipient_count(session: Session, letter_id: int) -> int:
    return session.scalar(select(func.count()).select_from(Signature).where(*_recipients(letter_id))) or 0


def request_send(session: Session, row: Letter, actor: User | None, update: Update, publish: bool = False) -> Job:
    """Queue the mailing as a job and write it to the audit log, in the caller's transaction.
    publish: the lead also chose to show it in the letter's public Atom feed (off by
    default: a lead writing to signers may say what is not meant for everyone)."""
    if publish:
        session.add(PublishedUpdate(letter_id=row.id, subject=update.subject, body=update.body))
    job = runner.enqueue(session, KIND, {"subject": update.subject, "body": update.body, "after": 0, "queued": 0},
                         letter_id=row.id, requested_by=actor.id if actor else None)
    session.flush()
    audit.record(session, actor, "updates.send", row.id, job=job.id, recipients=recipient_count(session, row.id))
    return job


def recent_jobs(session: Session, letter_id: int, limit: int = 10) -> list[Job]:
    return list(session.scalars(select(Job).where(Job.letter_id == letter_id, Job.kind == KIND)
                                .order_by(Job.id.desc()).limit(limit)))


def job_subject(job: Job) -> str:
    try:
        return json.loads(job.payload).get("subject", "")
    except ValueError:
        return ""


# ---- unsubscribe links ---------------------------------------------------------------------

def _nonce(sig: Signature) -> str:
    return keyed_hash("unsubscribe-updates", f"{sig.id}:{sig.email_hash}")[:32]


def unsubscribe_token(sig: Signature) -> str:
    return tokens.make(UNSUBSCRIBE, sig.id, _nonce(sig))


def for_unsubscribe_token(session: Session, token: str) -> Signature:
    sig_id, nonce = tokens.read(UNSUBSCRIBE, token, max_age_days=UNSUBSCRIBE_MAX_AGE_DAYS)
    sig = session.get(Signature, sig_id)
    if sig is None or not hmac.compare_digest(nonce, _nonce(sig)):
        raise tokens.InvalidLink()
    return sig


def unsubscribe(session: Session, token: str) -> Signature:
    """Stop updates for this signature. Idempotent: a second click changes nothing."""
    sig = for_unsubscribe_token(session, token)
    sig.updates_opt_in = False
    return sig


# ---- the job ------------------------------------------------------------------------------------

def build_message(row: Letter, sig: Signature, update: Update) -> mail.Message:
    lang = sig.lang
    loaded = letters.loaded(row.slug)
    title = loaded.text_for(lang).front.title if loaded else row.slug
    token = unsubscribe_token(sig)
    page_url = public_url("updates.unsubscribe", lang=lang, token=token)
    one_click = public_url("updates.one_click", lang=lang, token=token)
    with force_locale(lang):
        subject = _("News about your request") if row.discreet_mail else f"{update.subject} · {title}"
        return mail.build(
            "updates/update", to=decrypt(sig.email_enc), lang=lang, subject=subject,
            sender=mail.default_sender(row.discreet_mail),
            headers={"List-Unsubscribe": f"<{one_click}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"},
            title=title, heading=update.subject, paragraphs=[p for p in update.body.split("\n\n") if p.strip()],
            body=update.body, unsubscribe_url=page_url,
            letter_url=public_url("letters.show", lang=lang, slug=row.slug),
        )


@runner.handler(KIND)
def send_updates(job: Job, progress) -> dict:
    payload = json.loads(job.payload)
    update = Update(subject=payload["subject"], body=payload["body"])
    return queue_to_opted_in(job, progress, lambda _lang: update)


def queue_to_opted_in(job: Job, progress, update_in: Callable[[str], Update]) -> dict:
    """Queue one email per opted-in signer of the job's letter, BATCH at a time, each
    batch in its own transaction; the cursor is kept in the job's payload so a retried
    job resumes where it stopped instead of mailing anyone twice. update_in(lang) gives
    the text in one language (a milestone mail is written in each signer's), asked once
    per language, not once per signer."""
    session = db.session
    payload = json.loads(job.payload)
    row = session.get(Letter, job.letter_id)
    if row is None:
        return {"queued": 0}
    after, queued = int(payload.get("after", 0)), int(payload.get("queued", 0))
    total = max(recipient_count(session, row.id) + queued, 1)
    job_id = job.id
    texts: dict[str, Update] = {}
    while True:
        batch = list(session.scalars(select(Signature).where(*_recipients(row.id), Signature.id > after)
                                     .order_by(Signature.id).limit(BATCH)))
        if not batch:
            break
        for sig in batch:
            if sig.email_enc:
                if sig.lang not in texts:
                    texts[sig.lang] = update_in(sig.lang)
                mail.queue(session, build_message(row, sig, texts[sig.lang]), purpose="update", letter_id=row.id)
                queued += 1
        after = batch[-1].id
        payload.update(after=after, queued=queued)
        session.get(Job, job_id).payload = json.dumps(payload, sort_keys=True)
        session.commit()
        row = session.get(Letter, job.letter_id)
        progress(min(99, int(queued * 100 / total)), "")
    return {"queued": queued}
