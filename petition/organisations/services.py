"""The rules of co-signing as an organisation: sign -> confirm -> lead decides (-> withdraw).

Shaped like petition.signing.services: sign() does one lookup, one write and renders one
email whatever the state of the contact address, and the caller always shows the same
"check your inbox" page. No Flask request in here.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date

from flask import current_app
from flask_babel import force_locale, gettext as _
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from petition import tokens
from petition.console import audit
from petition.console.models import User
from petition.letters import services as letters
from petition.letters.models import Letter
from petition.mail import services as mail
from petition.models_common import utcnow
from petition.organisations.domains import contact_matches
from petition.organisations.models import Organisation
from petition.privacy.crypto import decrypt, digest, encrypt, keyed_hash
from petition.signing import withdraw_codes
from petition.signing.addresses import canonical, domain_of
from petition.web.urls import public_url

log = logging.getLogger("petition.organisations")

CONFIRM = "confirm-organisation"
MANAGE = "manage-organisation"
MANAGE_MAX_AGE_DAYS = 3650


class LetterNotOpen(Exception):
    pass


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


def sign(session: Session, letter_row: Letter, request: OrganisationRequest) -> None:
    """Record a pending co-signature (or refresh one) and queue the right email, in the
    caller's transaction. Returns nothing on purpose: the caller must not branch."""
    if not letters.is_signable(letter_row):
        raise LetterNotOpen(letter_row.slug)
    today = date.today()
    hashed = contact_hash(letter_row.id, request.contact_email)
    confirm_nonce, confirm_nonce_hash = tokens.new_nonce()
    manage_nonce, manage_nonce_hash = tokens.new_nonce()

    org = session.scalar(
        select(Organisation).where(Organisation.letter_id == letter_row.id, Organisation.contact_email_hash == hashed)
        .order_by(Organisation.id).limit(1)
    )
    if org is None:
        org = Organisation(letter_id=letter_row.id, contact_email_hash=hashed, mail_day=today, mail_count=0)
        session.add(org)
        _fill_pending(org, request, confirm_nonce_hash, manage_nonce_hash)
    elif org.status in ("pending", "rejected"):
        # Not yet confirmed, or turned down: this is a new request that starts over.
        _fill_pending(org, request, confirm_nonce_hash, manage_nonce_hash)
    session.flush()
    allowed = mail.take_daily_quota(org, today)
    message = _build_mail(letter_row, org, request, confirm_nonce, manage_nonce)
    if allowed:
        mail.queue(session, message, purpose="org-confirm" if org.status == "pending" else "org-already",
                   letter_id=letter_row.id)
    session.flush()


def _fill_pending(org: Organisation, request: OrganisationRequest, confirm_nonce_hash: str, manage_nonce_hash: str) -> None:
    org.status = "pending"
    org.name = request.name
    org.country = request.country
    org.website = request.website or None
    org.statement = request.statement or None
    org.contact_name_enc = encrypt(request.contact_name)
    org.contact_email_enc = encrypt(request.contact_email)
    org.contact_domain_matches = contact_matches(domain_of(request.contact_email), request.website)
    org.lang = request.lang
    org.rejection_reason = None
    org.decided_by = None
    org.approved_at = None
    org.confirmed_at = None
    org.confirm_nonce_hash = confirm_nonce_hash
    org.manage_nonce_hash = manage_nonce_hash
    org.created_at = utcnow()


def _manage_url(org: Organisation, lang: str, manage_nonce: str) -> str:
    return public_url("organisations.withdraw", lang=lang, token=tokens.make(MANAGE, org.id, manage_nonce))


def _build_mail(letter_row: Letter, org: Organisation, request: OrganisationRequest, confirm_nonce: str,
                manage_nonce: str) -> mail.Message:
    lang = request.lang
    title = _title(letter_row, lang)
    sender = mail.default_sender(letter_row.discreet_mail)
    letter_url = public_url("letters.show", lang=lang, slug=letter_row.slug)
    with force_locale(lang):
        if org.status == "pending":
            subject = mail.subject_for(letter_row.discreet_mail, title, _("Please confirm your request"), _("Confirm your organisation's co-signature"))
            return mail.build(
                "organisations/confirm", to=request.contact_email, lang=lang, subject=subject, sender=sender,
                title=title, organisation=request.name, contact_name=request.contact_name,
                confirm_url=public_url("organisations.confirm", lang=lang, token=tokens.make(CONFIRM, org.id, confirm_nonce)),
                withdraw_url=_manage_url(org, lang, manage_nonce), letter_url=letter_url,
                max_age_days=current_app.config["PETITION"].TOKEN_MAX_AGE_DAYS,
            )
        # Already confirmed (waiting or approved): tell the contact, give them the way out.
        org.manage_nonce_hash = digest(manage_nonce)
        subject = mail.subject_for(letter_row.discreet_mail, title, _("About your request"), _("Your organisation has already co-signed"))
        return mail.build(
            "organisations/already", to=request.contact_email, lang=lang, subject=subject, sender=sender,
            title=title, organisation=org.name, approved=org.status == "approved",
            withdraw_url=_manage_url(org, lang, manage_nonce), letter_url=letter_url,
        )


def pending_for_token(session: Session, token: str) -> Organisation:
    org_id, nonce = tokens.read(CONFIRM, token)
    org = session.get(Organisation, org_id)
    if org is None or org.status != "pending" or not tokens.nonce_matches(nonce, org.confirm_nonce_hash):
        raise tokens.InvalidLink()
    return org


def confirm(session: Session, token: str) -> tuple[Organisation, str]:
    """The contact confirms their address: the organisation now waits for a lead. Single
    use, race-safe (one conditional UPDATE checks and clears the nonce). Returns the
    organisation and its one-time withdrawal code (signing/withdraw_codes.py), to be
    shown once."""
    org = pending_for_token(session, token)
    letter_row = session.get(Letter, org.letter_id)
    if not letters.is_signable(letter_row):
        raise LetterNotOpen(letter_row.slug)
    code = withdraw_codes.new_code()
    result = session.execute(
        update(Organisation)
        .where(Organisation.id == org.id, Organisation.status == "pending",
               Organisation.confirm_nonce_hash == org.confirm_nonce_hash)
        .values(status="awaiting", confirmed_at=utcnow(), confirm_nonce_hash=None,
                withdraw_code_hash=withdraw_codes.code_hash(code))
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise tokens.InvalidLink()
    session.refresh(org)
    _notify_leads(session, letter_row, org)
    return org, code


def _notify_leads(session: Session, letter_row: Letter, org: Organisation) -> None:
    """Tell the letter's leads (or, if it has none, the administrators) that an
    organisation waits for them. The email names no one: it links to the console."""
    from petition.console.models import letter_leads

    leads = list(session.scalars(
        select(User).join(letter_leads, letter_leads.c.user_id == User.id)
        .where(letter_leads.c.letter_id == letter_row.id, User.active.is_(True))
    ))
    if not leads:
        leads = list(session.scalars(select(User).where(User.role == "admin", User.active.is_(True))))
    lang = letter_row.default_language or "en"
    title = _title(letter_row, lang)
    for lead in leads:
        with force_locale(lang):
            message = mail.build(
                "console/organisation_waiting", to=lead.email, lang=lang,
                subject=_("An organisation is waiting for approval"),
                title=title, queue_url=public_url("console.organisations", lang=lang, slug=letter_row.slug),
            )
        mail.queue(session, message, purpose="lead-notice", letter_id=letter_row.id)


def for_manage_token(session: Session, token: str) -> Organisation:
    org_id, nonce = tokens.read(MANAGE, token, max_age_days=MANAGE_MAX_AGE_DAYS)
    org = session.get(Organisation, org_id)
    if org is None or not tokens.nonce_matches(nonce, org.manage_nonce_hash):
        raise tokens.InvalidLink()
    return org


def withdraw(session: Session, token: str) -> Letter:
    """The contact withdraws the organisation: the row and its contact data go at once."""
    return remove_organisation(session, for_manage_token(session, token))


def remove_organisation(session: Session, org: Organisation) -> Letter:
    """What withdrawing does, by mailed link or by code (signing/withdraw_codes.py)."""
    letter_row = session.get(Letter, org.letter_id)
    result = session.execute(
        delete(Organisation)
        .where(Organisation.id == org.id, Organisation.manage_nonce_hash == org.manage_nonce_hash)
        .execution_options(synchronize_session=False)
    )
    session.expunge(org)
    if result.rowcount != 1:
        raise tokens.InvalidLink()
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


def _queue_decision(session: Session, org: Organisation, template: str) -> None:
    letter_row = session.get(Letter, org.letter_id)
    lang = org.lang
    title = _title(letter_row, lang)
    manage_nonce, manage_nonce_hash = tokens.new_nonce()
    org.manage_nonce_hash = manage_nonce_hash
    details = contact(org)
    with force_locale(lang):
        if template.endswith("approved"):
            subject = mail.subject_for(letter_row.discreet_mail, title, _("About your request"), _("Your organisation's co-signature is published"))
        else:
            subject = mail.subject_for(letter_row.discreet_mail, title, _("About your request"), _("Your organisation's co-signature was not accepted"))
        message = mail.build(
            template, to=details.email, lang=lang, subject=subject,
            sender=mail.default_sender(letter_row.discreet_mail),
            title=title, organisation=org.name, reason=org.rejection_reason,
            withdraw_url=_manage_url(org, lang, manage_nonce),
            letter_url=public_url("letters.show", lang=lang, slug=letter_row.slug),
        )
    mail.queue(session, message, purpose="org-decision", letter_id=org.letter_id)
