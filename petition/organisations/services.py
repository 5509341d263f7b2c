"""The rules of co-signing as an organisation: sign -> confirm -> lead decides (-> withdraw).

Shaped like petition.signing.services and through the same intake: sign() writes one
encrypted request whatever the state of the contact address, the caller always shows the
same "check your inbox" page, and the intake worker decides what to store and mail
(handle_request). No Flask request in here.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from flask_babel import force_locale, gettext as _, lazy_gettext as _l
from sqlalchemy import Connection, Row, bindparam, delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased
from sqlalchemy.orm import Session

from petition import audit, events, tokens
from petition.accounts import User, leads_of
from petition.crypto import decrypt, encrypt, keyed_hash
from petition.letters import services as letters
from petition.letters.models import Letter
from petition.mail import services as mail
from petition.models_common import utcnow
from petition.organisations.domains import contact_matches
from petition.organisations.models import Organisation
from petition.signing import intake, withdraw_codes
from petition.signing.intake import AlreadySigned, LetterNotOpen  # noqa: F401  the flow's answers, for callers
from petition.signing.addresses import canonical, domain_of
from petition.urls import public_url

log = logging.getLogger("petition.organisations")

CONFIRM = "confirm-organisation"
MANAGE = "manage-organisation"


class NotDecidable(Exception):
    """The organisation is not in a state a lead can decide on (withdrawn, unconfirmed)."""


@dataclass(frozen=True)
class OrganisationRequest:
    name: str
    country: str
    website: str
    contact_name: str
    contact_email: str
    statement: str
    lang: str


@dataclass(frozen=True)
class Contact:
    name: str
    email: str
    domain: str


def contact_hash(letter_id: int, address: str) -> str:
    return keyed_hash("org-contact", f"{letter_id}:{canonical(address)}")


def _title(letter_row: Letter, lang: str) -> str:
    loaded = letters.loaded(letter_row.slug)
    return loaded.text_for(lang).front.title if loaded else letter_row.slug


KIND = "organisation"
SIGNED = ("awaiting", "approved")


def sign(session: Session, letter_row: Letter, request: OrganisationRequest) -> None:
    """Record the request for the intake worker (intake.submit: one INSERT, whatever the
    state of the contact address)."""
    intake.submit(session, KIND, letter_row, request)


def handle_request(session: Session, letter_row: Letter, details: dict) -> None:
    """The intake worker's part: within the mailbox's cap (shared with the individual
    form), a new pending co-signature with this request's own details and links, or,
    when this contact's organisation has co-signed already, a mail that repeats its
    withdraw link. Nothing stored or mailed before is changed."""
    request = OrganisationRequest(**details)
    if not intake.take_mailbox_quota(session, letter_row.id, request.contact_email):
        return
    hashed = contact_hash(letter_row.id, request.contact_email)
    signed = session.scalar(
        select(Organisation).where(Organisation.letter_id == letter_row.id, Organisation.contact_email_hash == hashed,
                                   Organisation.status.in_(SIGNED))
    )
    if signed is not None:
        mail.queue(session, _already_mail(letter_row, signed, request.lang, _manage_nonce_of(session, signed)),
                   purpose="org-already", letter_id=letter_row.id)
        return
    confirm_nonce, confirm_nonce_hash = tokens.new_nonce()
    manage_nonce, manage_nonce_hash = tokens.new_nonce()
    org = Organisation(
        letter_id=letter_row.id, contact_email_hash=hashed, status="pending",
        name=request.name, country=request.country, website=request.website or None,
        statement=request.statement or None, contact_name_enc=encrypt(request.contact_name),
        contact_email_enc=encrypt(request.contact_email),
        contact_domain_matches=contact_matches(domain_of(request.contact_email), request.website),
        lang=request.lang, confirm_nonce_hash=confirm_nonce_hash, manage_nonce_hash=manage_nonce_hash,
        manage_nonce_enc=encrypt(manage_nonce), created_at=utcnow(),
    )
    session.add(org)
    session.flush()
    mail.queue(session, _confirm_mail(letter_row, org, request, confirm_nonce, manage_nonce),
               purpose="org-confirm", letter_id=letter_row.id)


intake.register(KIND, handle_request)


def _manage_nonce_of(session: Session, org: Organisation) -> str:
    """The nonce of the withdraw link this organisation's contact holds, to repeat it."""
    return intake.held_manage_nonce(session, Organisation, org.id, org.manage_nonce_enc)


def _manage_url(org: Organisation, lang: str, manage_nonce: str) -> str:
    return public_url("organisations.withdraw", lang=lang, token=tokens.make(MANAGE, org.id, manage_nonce))


def _confirm_mail(letter_row: Letter, org: Organisation, request: OrganisationRequest, confirm_nonce: str,
                  manage_nonce: str) -> mail.Message:
    """The confirmation mail. It carries nothing the requester typed (a stranger may have
    typed this contact address): the page behind the link shows the details."""
    lang = request.lang
    return intake.signer_mail(
        letter_row, "organisations/confirm", to=request.contact_email, lang=lang,
        subjects=(_l("Please confirm your request"), _l("Confirm your organisation's co-signature")),
        confirm_url=public_url("organisations.confirm", lang=lang, token=tokens.make(CONFIRM, org.id, confirm_nonce)),
        withdraw_url=_manage_url(org, lang, manage_nonce),
        max_age_days=current_app.config["PETITION"].TOKEN_MAX_AGE_DAYS,
    )


def _already_mail(letter_row: Letter, org: Organisation, lang: str, manage_nonce: str) -> mail.Message:
    """This contact's organisation has co-signed already: the mail names it (the contact
    confirmed that name themselves), never what the new request typed."""
    return intake.signer_mail(
        letter_row, "organisations/already", to=decrypt(org.contact_email_enc), lang=lang,
        subjects=(_l("About your request"), _l("Your organisation has already co-signed")),
        organisation=org.name, approved=org.status == "approved",
        withdraw_url=_manage_url(org, lang, manage_nonce),
    )


_BY_ID = select(Organisation.__table__).where(Organisation.__table__.c.id == bindparam("row_id"))


def pending_for_token(session: Session | Connection, token: str) -> Row:
    """The pending co-signature a confirm link is for, as a read-only row (the confirm
    page and the confirmation only read it; the confirmation writes with one UPDATE).
    InvalidLink for a link that is not genuine; AlreadySigned for a genuine one whose
    contact has co-signed already."""
    return intake.pending_for_link(session, CONFIRM, token, _BY_ID, _contact_signed)


def _contact_signed(session: Session | Connection, org: Row) -> bool:
    table = Organisation.__table__
    return session.execute(
        select(table.c.id).where(table.c.letter_id == org.letter_id,
                                 table.c.contact_email_hash == org.contact_email_hash,
                                 table.c.status.in_(SIGNED)).limit(1)
    ).first() is not None


def confirm(session: Session, token: str, pending: Row | None = None) -> tuple[Organisation, str]:
    """The contact confirms their address: the organisation now waits for a lead. Single
    use and race-safe: one conditional UPDATE checks the state and the nonce (kept, so
    the link's holder can later be told it is confirmed already), and the unique index
    on signed contacts settles two requests of one contact confirmed at once. Returns the
    organisation and its one-time withdrawal code (signing/withdraw_codes.py), to be
    shown once. Runs in the caller's transaction: the caller commits, or rolls back after
    AlreadySigned (as signing.services.confirm).

    pending: what pending_for_token(token) returned, if the caller has it already."""
    org = pending if pending is not None else pending_for_token(session, token)
    letter_row = letters.public_row_by_id(org.letter_id)
    if not letters.is_signable(letter_row):
        raise LetterNotOpen(letter_row.slug)
    other = aliased(Organisation)
    code = withdraw_codes.new_code()
    try:
        result = session.execute(
            update(Organisation)
            .where(Organisation.id == org.id, Organisation.status == "pending",
                   Organisation.confirm_nonce_hash == org.confirm_nonce_hash,
                   ~select(other.id).where(other.letter_id == Organisation.letter_id,
                                           other.contact_email_hash == Organisation.contact_email_hash,
                                           other.status.in_(SIGNED)).exists())
            .values(status="awaiting", confirmed_at=utcnow(), withdraw_code_hash=withdraw_codes.code_hash(code))
            .execution_options(synchronize_session=False)
        )
        confirmed = result.rowcount == 1
    except IntegrityError:
        confirmed = False
    if not confirmed:
        raise AlreadySigned(org.letter_id)
    events.signature_confirmed.send(events.ORGANISATION, session=session, letter_id=org.letter_id, signer_id=org.id)
    return session.get(Organisation, org.id, populate_existing=True), code


def notify_leads(session: Session) -> None:
    """A digest for leads, not a mail per organisation (a stranger could otherwise fill
    their mailboxes): for each letter with organisations that confirmed since its last
    notice, at most one mail an hour to each of its leads (or, for a letter without
    leads, the administrators). The mail names no one: it links to the console."""
    waiting = session.execute(
        select(Organisation.letter_id, func.count())
        .where(Organisation.status == "awaiting").group_by(Organisation.letter_id)
    ).all()
    for letter_id, count in waiting:
        letter_row = session.get(Letter, letter_id)
        if letter_row is None or not intake.once_per(session, f"org-digest:{letter_id}", timedelta(hours=1)):
            continue
        lang = letter_row.default_language or "en"
        title = _title(letter_row, lang)
        for lead in leads_of(session, letter_row.id):
            with force_locale(lang):
                message = mail.build(
                    "console/organisation_waiting", to=lead.email, lang=lang,
                    subject=_("Organisations are waiting for approval"), title=title, count=count,
                    queue_url=public_url("console.organisations", lang=lang, slug=letter_row.slug),
                )
            mail.queue(session, message, purpose="lead-notice", letter_id=letter_row.id)


intake.every_round(notify_leads)


def for_manage_token(session: Session, token: str) -> Organisation:
    """The organisation a withdraw link is for (InvalidLink if none)."""
    return intake.link_holder(session, Organisation, MANAGE, token)


def withdraw(session: Session, token: str) -> Letter:
    """The contact withdraws: every row of this contact on this letter (the co-signature
    and any pending requests) and its contact data go at once, whichever mailed link."""
    return remove_organisation(session, for_manage_token(session, token))


def remove_organisation(session: Session, org: Organisation) -> Letter:
    """What withdrawing does, by mailed link or by code (signing/withdraw_codes.py)."""
    letter_row = session.get(Letter, org.letter_id)
    letter_id, hashed, signer_id = org.letter_id, org.contact_email_hash, org.id
    session.expunge(org)
    result = session.execute(
        delete(Organisation)
        .where(Organisation.letter_id == letter_id, Organisation.contact_email_hash == hashed,
               Organisation.manage_nonce_hash.is_not(None))
        .execution_options(synchronize_session=False)
    )
    if result.rowcount == 0:
        raise tokens.InvalidLink()
    events.signature_withdrawn.send(events.ORGANISATION, session=session, letter_id=letter_id, signer_id=signer_id)
    return letter_row


def contact(org: Organisation) -> Contact:
    """The contact's details, decrypted, for a lead deciding on the organisation."""
    email = decrypt(org.contact_email_enc) or ""
    return Contact(name=decrypt(org.contact_name_enc) or "", email=email, domain=email.rsplit("@", 1)[-1] if email else "")


def approve(session: Session, org: Organisation, actor: User | None) -> None:
    if org.status != "awaiting" and org.status != "rejected":
        raise NotDecidable(org.status)
    if org.confirmed_at is None:
        raise NotDecidable(org.status)
    org.status = "approved"
    org.approved_at = utcnow()
    org.decided_by = actor.id if actor else None
    org.rejection_reason = None
    audit.record(session, actor, "organisations.approve", org.letter_id, organisation=org.id)
    _queue_decision(session, org, "organisations/approved")


def reject(session: Session, org: Organisation, actor: User | None, reason: str) -> None:
    """Reject a waiting organisation, or take back an approval. The contact is told why,
    then the organisation is deleted: nothing of a rejected organisation is kept (its
    name, website, statement and contact would otherwise stay in every copy of the
    database). It may send a new request from the letter's page."""
    if org.status not in ("awaiting", "approved"):
        raise NotDecidable(org.status)
    org.status = "rejected"
    org.approved_at = None
    org.rejection_reason = reason
    org.decided_by = actor.id if actor else None
    audit.record(session, actor, "organisations.reject", org.letter_id, organisation=org.id)
    _queue_decision(session, org, "organisations/rejected")
    session.delete(org)
    session.flush()


# What a lead's decision tells the contact: the mail's template and its subject.
_DECISIONS = {
    "organisations/approved": _l("Your organisation's co-signature is published"),
    "organisations/rejected": _l("Your organisation's co-signature was not accepted"),
}


def _queue_decision(session: Session, org: Organisation, template: str) -> None:
    letter_row = session.get(Letter, org.letter_id)
    message = intake.signer_mail(
        letter_row, template, to=contact(org).email, lang=org.lang,
        subjects=(_l("About your request"), _DECISIONS[template]),
        organisation=org.name, reason=org.rejection_reason,
        withdraw_url=_manage_url(org, org.lang, _manage_nonce_of(session, org)),
    )
    mail.queue(session, message, purpose="org-decision", letter_id=org.letter_id)
