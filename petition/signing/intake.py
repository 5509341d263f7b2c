"""The intake: the one way in for every signing request, of every kind of signer.

The web request does the same work whatever the address it was given: it checks the form,
then writes one encrypted row here (one INSERT) and answers "check your inbox". Whether
the address is new, waiting for its confirmation, already signed, withdrawn or over its
mail cap is decided later by the worker (process_due), which nobody can time: that is
what keeps the sign form from being an oracle of who signed.

Each kind of signer (a person, an organisation, ...) registers a handler that the worker
calls with the decrypted details; the handler decides what to store and what to mail, in
the same transaction that deletes the request. The caps on what a stranger can make the
platform send live here too, so that they hold for every kind together:

* per mailbox: MAIL_PER_ADDRESS_PER_DAY mails per letter per day, counted on the mailbox
  (case and "+tags" folded at every domain), individual and organisation forms together;
* per letter: INTAKE_PER_LETTER_PER_MINUTE requests handled a minute. A flood is not
  refused (the form keeps accepting everyone): its requests wait their turn here, other
  letters go on, and the letter's leads are told once an hour while it lasts.
"""
from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import asdict
from datetime import date, timedelta
from functools import lru_cache

from flask import current_app
from flask_babel import force_locale, gettext as _
from sqlalchemy import Connection, Row, Select, bindparam, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from petition import tokens, workers
from petition.accounts import leads_of
from petition.crypto import decrypt, encrypt, keyed_hash
from petition.database import writing
from petition.extensions import db
from petition.letters import services as letters
from petition.letters.models import Letter
from petition.mail import services as mail, worker as mail_worker
from petition.models_common import utcnow
from petition.signing.addresses import mailbox
from petition.signing.models import MailQuota, SignRequest
from petition.urls import public_url

log = logging.getLogger("petition.intake")

BATCH = 100
Handler = Callable[[Session, Letter, dict], None]
_handlers: dict[str, Handler] = {}
_after_round: list[Callable[[Session], None]] = []


def register(kind: str, handler: Handler) -> None:
    """A kind of signer: handler(session, letter_row, details) runs in the worker."""
    _handlers[kind] = handler


def every_round(task: Callable[[Session], None]) -> None:
    """Work to do after each round of the intake (digests for leads, say), in its own
    transaction, at most once a minute."""
    if task not in _after_round:
        _after_round.append(task)


class LetterNotOpen(Exception):
    """The letter takes no signatures now (of any kind of signer)."""


class AlreadySigned(Exception):
    """A genuine confirm link whose address (or contact) has signed this letter already,
    through this link or another request's. Only the link's holder (the mailbox) can
    learn this."""

    def __init__(self, letter_id: int):
        super().__init__(letter_id)
        self.letter_id = letter_id


# The withdraw link in every mail works for as long as the data it withdraws exists.
MANAGE_MAX_AGE_DAYS = 3650


# ---- the web request's side: one statement ---------------------------------------------

@lru_cache(maxsize=1)
def _insert():
    return SignRequest.__table__.insert()


def submit(session: Session, kind: str, letter_row: letters.LetterFacts, request) -> None:
    """Record a request (a dataclass of what the form gave) in the caller's transaction:
    one INSERT whatever the address's state, so the request takes the same time for
    everyone. Returns nothing on purpose: the caller must not branch."""
    if not letters.is_signable(letter_row):
        raise LetterNotOpen(letter_row.slug)
    session.execute(_insert(), {
        "kind": kind, "letter_id": letter_row.id, "created_at": utcnow(),
        "payload_enc": encrypt(json.dumps(asdict(request), ensure_ascii=False)),
    })
    workers.wake_after_commit(session)


# ---- caps --------------------------------------------------------------------------------

@lru_cache(maxsize=2)
def _bump_statement(dialect: str):
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    table = MailQuota.__table__
    statement = insert(table).values(key=bindparam("key"), day=bindparam("day"), count=1)
    return statement.on_conflict_do_update(
        index_elements=["key"], set_={"count": table.c.count + 1},
    ).returning(table.c.count)


def _bump(session: Session, key: str, day: date) -> int:
    """Count one more against key; returns the count including this one."""
    statement = _bump_statement(session.get_bind().dialect.name)
    return session.execute(statement, {"key": key, "day": day}).scalar_one()


def take_mailbox_quota(session: Session, letter_id: int, address: str) -> bool:
    """Count one mail to the mailbox behind address for this letter today; False once
    MAIL_PER_ADDRESS_PER_DAY is reached (then nothing may be sent)."""
    today = date.today()
    key = keyed_hash("mailbox-quota", f"{letter_id}:{mailbox(address)}:{today.isoformat()}")
    return _bump(session, key, today) <= current_app.config["PETITION"].MAIL_PER_ADDRESS_PER_DAY


def held_manage_nonce(session: Session, model, row_id: int, manage_nonce_enc: str | None) -> str:
    """The nonce of the withdraw link the holder of a signed row (a model with
    manage_nonce_hash and manage_nonce_enc) already holds, so that a mail can repeat
    that link rather than make a new one. A row from before the nonce was kept gets one
    now, once."""
    if manage_nonce_enc:
        return decrypt(manage_nonce_enc)
    nonce, nonce_hash = tokens.new_nonce()
    session.execute(update(model).where(model.id == row_id).values(manage_nonce_hash=nonce_hash,
                                                                   manage_nonce_enc=encrypt(nonce)))
    return nonce


def link_holder(session: Session, model, purpose: str, token: str):
    """The row a withdraw link (of purpose) is for; InvalidLink unless the link is
    genuine and its row still holds the link's nonce."""
    row_id, nonce = tokens.read(purpose, token, max_age_days=MANAGE_MAX_AGE_DAYS)
    row = session.get(model, row_id)
    if row is None or not tokens.nonce_matches(nonce, row.manage_nonce_hash):
        raise tokens.InvalidLink()
    return row


def pending_for_link(session: Session | Connection, purpose: str, token: str, by_id: Select,
                     signed: Callable[[Session | Connection, Row], bool]) -> Row:
    """The pending row a confirm link (of purpose) is for, as a read-only row: by_id
    selects its table's row by the bound row_id. InvalidLink for a link that is not
    genuine (or whose request is gone); AlreadySigned for a genuine one whose address has
    signed already, through this link or another request's (signed(session, row))."""
    row_id, nonce = tokens.read(purpose, token)
    row = session.execute(by_id, {"row_id": row_id}).first()
    if row is None or not tokens.nonce_matches(nonce, row.confirm_nonce_hash):
        raise tokens.InvalidLink()
    if row.status != "pending" or signed(session, row):
        raise AlreadySigned(row.letter_id)
    return row


def once_per(session: Session, scope: str, period: timedelta) -> bool:
    """True the first time scope is asked about in the current period (an hour, a day):
    for notices that must not repeat, whichever worker or server asks."""
    now = utcnow()
    slot = int(now.timestamp() // period.total_seconds())
    return _bump(session, keyed_hash("once", f"{scope}:{slot}"), now.date()) == 1


# ---- the worker's side -------------------------------------------------------------------

@lru_cache(maxsize=2)
def _claim(dialect: str):
    table = SignRequest.__table__
    statement = (select(table.c.id, table.c.kind, table.c.letter_id, table.c.payload_enc)
                 .where(table.c.letter_id.not_in(bindparam("paced", expanding=True)))
                 .order_by(table.c.id).limit(bindparam("limit")))
    if dialect == "postgresql":
        # Several workers share the queue: each takes rows nobody else holds.
        statement = statement.with_for_update(skip_locked=True)
    return statement


class Intake:
    """One worker's view of the intake: which letters it is pacing this minute, and when
    it last ran the after-round tasks."""

    def __init__(self):
        self.minute = None
        self.paced: set[int] = set()
        self.tasks_due_at = 0.0

    def _letter_may_go(self, session: Session, letter_row: Letter) -> bool:
        minute = int(time.time() // 60)
        if minute != self.minute:
            self.minute, self.paced = minute, set()
        if letter_row.id in self.paced:
            return False
        limit = current_app.config["PETITION"].INTAKE_PER_LETTER_PER_MINUTE
        count = _bump(session, keyed_hash("intake-pace", f"{letter_row.id}:{minute}"), date.today())
        if count <= limit:
            return True
        self.paced.add(letter_row.id)
        if once_per(session, f"surge-notice:{letter_row.id}", timedelta(hours=1)):
            _tell_leads_of_surge(session, letter_row, limit)
        log.warning("intake: letter %s is paced this minute (more than %d requests)", letter_row.id, limit)
        return False

    def __call__(self) -> int:
        return self.process_due()

    def process_due(self, limit: int = BATCH) -> int:
        """Handle up to limit waiting requests in one transaction; returns how many."""
        session = db.session
        handled: list[int] = []
        with writing():
            try:
                rows = session.execute(_claim(session.get_bind().dialect.name),
                                       {"limit": limit, "paced": sorted(self.paced) or [-1]}).all()
                for row in rows:
                    letter_row = session.get(Letter, row.letter_id)
                    if letter_row is not None and letters.is_signable(letter_row):
                        if not self._letter_may_go(session, letter_row):
                            continue  # waits for a later minute, in its place in the queue
                        if not self._handle(session, row, letter_row):
                            continue  # kept for a later round
                    handled.append(row.id)  # a closed letter's requests are dropped
                if handled:
                    session.execute(delete(SignRequest).where(SignRequest.id.in_(handled))
                                    .execution_options(synchronize_session=False))
                session.commit()
            except Exception:
                session.rollback()
                raise
        if time.monotonic() >= self.tasks_due_at:
            self.tasks_due_at = time.monotonic() + 60
            self.run_tasks()
        return len(handled)

    def _handle(self, session: Session, row, letter_row: Letter) -> bool:
        """Run the kind's handler in a savepoint; False (the request stays queued) when it
        fails, so one bad row neither blocks the others nor is lost."""
        handler = _handlers.get(row.kind)
        if handler is None:
            log.error("intake: no handler for kind %r; request %s kept", row.kind, row.id)
            return False
        try:
            with session.begin_nested():
                handler(session, letter_row, json.loads(decrypt(row.payload_enc)))
        except Exception:  # noqa: BLE001  logged without the request's content
            log.exception("intake: request %s could not be handled; kept for a later round", row.id)
            return False
        return True

    def run_tasks(self) -> None:
        session = db.session
        for task in _after_round:
            with writing():
                try:
                    task(session)
                    session.commit()
                except Exception:
                    session.rollback()
                    log.exception("intake: after-round task %s failed", task.__name__)


def mail_context(letter_row: Letter, lang: str) -> dict:
    """What every mail to a signer or a contact of this letter may show. A discreet
    letter's mails name neither the letter nor its address (the link's page does, once
    opened), so nothing on a lock screen or in a preview gives its topic away."""
    loaded = letters.loaded(letter_row.slug)
    return {
        "title": loaded.text_for(lang).front.title if loaded else letter_row.slug,
        "discreet": letter_row.discreet_mail,
        "letter_url": None if letter_row.discreet_mail else public_url("letters.show", lang=lang, slug=letter_row.slug),
    }


def signer_mail(letter_row: Letter, template: str, *, to: str, lang: str, subjects: tuple[str, str],
                **values) -> mail.Message:
    """A mail about a request, to a signer or an organisation's contact: in their
    language, from the letter's sender, with what mail_context lets it show.
    subjects: (for a discreet letter, for another), lazy strings translated here."""
    context = mail_context(letter_row, lang)
    discreet_subject, plain_subject = subjects
    with force_locale(lang):
        subject = mail.subject_for(letter_row.discreet_mail, context["title"], str(discreet_subject), str(plain_subject))
        return mail.build(template, to=to, lang=lang, subject=subject, sender=mail.default_sender(letter_row.discreet_mail),
                          **context, **values)


def _tell_leads_of_surge(session: Session, letter_row: Letter, limit: int) -> None:
    """One mail an hour to the letter's leads while its requests are being paced."""
    lang = letter_row.default_language or "en"
    loaded = letters.loaded(letter_row.slug)
    title = loaded.text_for(lang).front.title if loaded else letter_row.slug
    for lead in leads_of(session, letter_row.id):
        with force_locale(lang):
            message = mail.build(
                "console/surge", to=lead.email, lang=lang, subject=_("Many signing requests at once"),
                title=title, limit=limit,
                console_url=public_url("console.letter", lang=lang, slug=letter_row.slug),
            )
        mail.queue(session, message, purpose="lead-notice", letter_id=letter_row.id)


def _forget_old_counts(session: Session) -> None:
    """Caps of days gone by are dropped (kept a day longer for clocks that disagree)."""
    session.execute(delete(MailQuota).where(MailQuota.day < date.today() - timedelta(days=1)))


every_round(_forget_old_counts)


mail_worker.register_stage(Intake)


def drain(max_rounds: int = 1000) -> int:
    """Handle everything waiting now (CLI, tests). Returns how many requests."""
    intake, total = Intake(), 0
    for _ in range(max_rounds):
        done = intake.process_due()
        total += done
        if done == 0:
            break
    intake.run_tasks()
    return total
