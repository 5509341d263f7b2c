"""The rules of signing: sign -> confirm -> (withdraw). No Flask request in here.

sign() is deliberately shaped so that its outcome is invisible to the person submitting:
whatever the address's state (new, pending, confirmed, withdrawn, over its cap), it
writes one encrypted intake row and the caller shows the same page; the intake worker
decides later what to store and mail (handle_request). Only the mailbox owner learns
anything, from the email itself. Each request keeps its own details and links: nothing
a later request does changes what someone else typed or invalidates a link already sent.
"""
from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from functools import lru_cache

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import Connection, Row, bindparam, delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from petition import disclosure, events, tokens
from petition.crypto import decrypt, digest, encrypt, keyed_hash
from petition.database import single_statement_writes
from petition.letters import services as letters
from petition.letters.models import Letter
from petition.mail import services as mail
from petition.models_common import utcnow
from petition.signing import counters, intake, withdraw_codes
from petition.signing.intake import AlreadySigned, LetterNotOpen  # noqa: F401  the flow's answers, for callers
from petition.signing.addresses import canonical, domain_of
from petition.signing.models import Signature, SignatureCounter, is_counted
from petition.urls import public_url

log = logging.getLogger("petition.signing")

CONFIRM = "confirm-signature"
MANAGE = "manage-signature"


@dataclass(frozen=True)
class SignatureRequest:
    name: str
    email: str
    country: str
    affiliation: str
    public_visibility: str
    bundle_visibility: str
    updates_opt_in: bool
    lang: str
    version_hash: str


def safest_public(choice: str | None, default: str) -> str:
    """The signer's choice if valid, else the letter's default, else the safest."""
    if choice in disclosure.PUBLIC_ORDER:
        return choice
    return default if default in disclosure.PUBLIC_ORDER else disclosure.PUBLIC_ORDER[0]


def safest_bundle(choice: str | None, default: str) -> str:
    if choice in disclosure.BUNDLE_ORDER:
        return choice
    return default if default in disclosure.BUNDLE_ORDER else disclosure.BUNDLE_ORDER[0]


def lower_only(current: str, requested: str | None, order: tuple[str, ...]) -> str:
    if requested not in order:
        return current
    return order[min(order.index(current), order.index(requested))]


def email_hash(letter_id: int, address: str) -> str:
    # Per letter, so a database dump cannot link one person's signatures across letters.
    return keyed_hash("signer-email", f"{letter_id}:{canonical(address)}")


def receipt_code() -> str:
    """Twelve characters from an alphabet without look-alikes, grouped for reading aloud."""
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    raw = "".join(secrets.choice(alphabet) for _ in range(12))
    return f"{raw[0:4]}-{raw[4:8]}-{raw[8:12]}"


def normalise_receipt(code: str) -> str:
    return "".join(ch for ch in code.upper() if ch.isalnum())


def receipt_hash(code: str) -> str:
    return digest("receipt:" + normalise_receipt(code))


KIND = "person"


def sign(session: Session, letter_row: letters.LetterFacts, request: SignatureRequest) -> None:
    """Record the request for the intake worker (intake.submit: one INSERT, whatever the
    address's state)."""
    intake.submit(session, KIND, letter_row, request)


def handle_request(session: Session, letter_row: Letter, details: dict) -> None:
    """The intake worker's part (nobody waits on it, so it may branch): within the
    mailbox's cap, a new pending signature with this request's own details and its own
    links, or, for an address that has signed already, a mail that repeats the
    withdraw link it holds. Nothing already stored or mailed is changed."""
    request = SignatureRequest(**details)
    if not intake.take_mailbox_quota(session, letter_row.id, request.email):
        return
    hashed = email_hash(letter_row.id, request.email)
    signed = session.execute(
        select(Signature.id, Signature.manage_nonce_enc)
        .where(Signature.letter_id == letter_row.id, Signature.email_hash == hashed, Signature.status == "confirmed")
    ).first()
    if signed is not None:
        manage_nonce = intake.held_manage_nonce(session, Signature, signed.id, signed.manage_nonce_enc)
        message = _already_mail(letter_row, signed.id, request, manage_nonce)
        mail.queue(session, message, purpose="already", letter_id=letter_row.id)
        return
    confirm_nonce, confirm_nonce_hash = tokens.new_nonce()
    manage_nonce, manage_nonce_hash = tokens.new_nonce()
    code = receipt_code()
    new_id = session.execute(_insert_pending(), dict(
        letter_id=letter_row.id, status="pending", email_hash=hashed,
        **_pending_values(request, confirm_nonce_hash, manage_nonce_hash, manage_nonce, code),
    )).scalar_one()
    message = _confirm_mail(letter_row, new_id, request, confirm_nonce, manage_nonce, code)
    mail.queue(session, message, purpose="confirm", letter_id=letter_row.id)


intake.register(KIND, handle_request)


@lru_cache(maxsize=1)
def _insert_pending():
    """The pending row's INSERT, built once (values come as parameters)."""
    table = Signature.__table__
    return table.insert().returning(table.c.id)


def domain_columns(address: str) -> dict[str, str]:
    """The address's domain as stored for spike detection: grouped by a keyed hash,
    named for leads by an encrypted copy."""
    domain = domain_of(address)
    return {"email_domain_hash": keyed_hash("email-domain", domain), "email_domain_enc": encrypt(domain)}


def _pending_values(request: SignatureRequest, confirm_nonce_hash: str, manage_nonce_hash: str, manage_nonce: str,
                    code: str) -> dict:
    """The columns a pending signature takes from its request."""
    return {
        "email_enc": encrypt(request.email),
        "name_enc": encrypt(request.name),
        "affiliation_enc": encrypt(request.affiliation) if request.affiliation else None,
        "country": request.country,
        "lang": request.lang,
        "public_visibility": request.public_visibility,
        "bundle_visibility": request.bundle_visibility,
        "updates_opt_in": request.updates_opt_in,
        "version_hash": request.version_hash,
        "confirm_nonce_hash": confirm_nonce_hash,
        "manage_nonce_hash": manage_nonce_hash,
        "manage_nonce_enc": encrypt(manage_nonce),
        "receipt_hash": receipt_hash(code),
        "created_at": utcnow(),
        "hidden": False,
        "synthetic": False,
        **domain_columns(request.email),
    }


def _confirm_mail(letter_row: Letter, sig_id: int, request: SignatureRequest, confirm_nonce: str,
                  manage_nonce: str, code: str) -> mail.Message:
    """The confirmation mail. It carries nothing the requester typed (this address may
    have been typed by a stranger): the page behind the link shows their details."""
    lang = request.lang
    # The busiest mail of a surge: its bodies come from the frame cache, with the links
    # and the receipt code filled in.
    return intake.signer_mail(
        letter_row, "signing/confirm", to=request.email, lang=lang,
        subjects=(_l("Please confirm your request"), _l("Confirm your signature")),
        max_age_days=current_app.config["PETITION"].TOKEN_MAX_AGE_DAYS,
        fresh={
            "receipt": code,
            "confirm_url": public_url("signing.confirm", lang=lang, token=tokens.make(CONFIRM, sig_id, confirm_nonce)),
            "withdraw_url": _manage_url(sig_id, lang, manage_nonce),
        },
    )


def _already_mail(letter_row: Letter, sig_id: int, request: SignatureRequest, manage_nonce: str) -> mail.Message:
    return intake.signer_mail(
        letter_row, "signing/already", to=request.email, lang=request.lang,
        subjects=(_l("About your request"), _l("You have already signed")),
        withdraw_url=_manage_url(sig_id, request.lang, manage_nonce),
    )


def _manage_url(sig_id: int, lang: str, manage_nonce: str) -> str:
    return public_url("signing.withdraw", lang=lang, token=tokens.make(MANAGE, sig_id, manage_nonce))


def preview(sig: Row, lang: str) -> dict[str, dict[str, disclosure.Shown | None]]:
    """Exactly what each choice would publish or deliver, for the confirm page (sig: the
    read-only row pending_for_token() gives; disclosure.preview, the country named in lang)."""
    affiliation = decrypt(sig.affiliation_enc) if sig.affiliation_enc else None
    return disclosure.preview(decrypt(sig.name_enc) or "", affiliation, sig.country, lang)


_BY_ID = select(Signature.__table__).where(Signature.__table__.c.id == bindparam("row_id"))
_SIGNED = select(Signature.__table__.c.id).where(
    Signature.__table__.c.letter_id == bindparam("letter_id"), Signature.__table__.c.email_hash == bindparam("email_hash"),
    Signature.__table__.c.status == "confirmed",
).limit(1)


def pending_for_token(session: Session | Connection, token: str) -> Row:
    """The pending signature a confirm link is for, as a read-only row (the confirm page
    and the confirmation only read it; the confirmation writes with one UPDATE).
    Raises InvalidLink for a link that is not genuine (or whose request is gone), and
    AlreadySigned for a genuine one whose address has signed already."""
    return intake.pending_for_link(session, CONFIRM, token, _BY_ID, _address_signed)


def _address_signed(session: Session | Connection, sig: Row) -> bool:
    return session.execute(_SIGNED, {"letter_id": sig.letter_id, "email_hash": sig.email_hash}).first() is not None


@lru_cache(maxsize=1)
def _confirm_pending_statement():
    """The single-use confirmation as one conditional UPDATE, built once (Core, values as
    parameters): it matches only while the row is pending with this link's nonce."""
    t = Signature.__table__
    signed = t.alias("signed")
    # Only while this row is pending with this link's nonce, and no other request of the
    # same address has been confirmed (the unique index on confirmed rows settles a race
    # between two). The nonce's hash stays, so the link's holder can later be told
    # "already confirmed"; it goes with the rest at purge.
    return (
        update(t)
        .where(t.c.id == bindparam("sig_id"), t.c.status == "pending", t.c.confirm_nonce_hash == bindparam("nonce_hash"),
               ~select(signed.c.id).where(signed.c.letter_id == t.c.letter_id, signed.c.email_hash == t.c.email_hash,
                                          signed.c.status == "confirmed").exists())
        .values(
            status="confirmed", confirmed_at=bindparam("now"),
            public_visibility=bindparam("public"), bundle_visibility=bindparam("bundle"),
            updates_opt_in=bindparam("updates"), version_hash=bindparam("version"),
            public_name=bindparam("public_name_value"), public_affiliation=bindparam("public_affiliation_value"),
            withdraw_code_hash=bindparam("withdraw_code_hash"),
        )
    )


@lru_cache(maxsize=1)
def _confirm_and_count_statement():
    """The confirmation and its counter shard in one statement, for PostgreSQL:

        WITH confirmed AS (UPDATE signatures ... RETURNING id, letter_id, hidden),
             counted AS (UPDATE signature_counters ... FROM confirmed WHERE NOT hidden)
        SELECT count(*) FROM confirmed

    The count can never drift from a committed confirmation, and the two cost one round
    trip. Returns 1, or 0 when the link was already used (or raced another click)."""
    confirmed = _confirm_pending_statement().returning(
        Signature.__table__.c.id, Signature.__table__.c.letter_id, Signature.__table__.c.hidden,
    ).cte("confirmed")
    shards = SignatureCounter.__table__
    counted = (
        update(shards)
        .where(shards.c.letter_id == confirmed.c.letter_id,
               shards.c.shard == counters.shard_of(confirmed.c.id),
               confirmed.c.hidden.is_(False))
        .values(confirmed=shards.c.confirmed + 1)
        .cte("counted")
    )
    return select(func.count()).select_from(confirmed).add_cte(counted)


def confirm(session: Session, token: str, *, public_visibility: str | None, bundle_visibility: str | None,
            updates_opt_in: bool, version_hash: str | None, pending: Row | None = None) -> str:
    """Confirm a pending signature. Choices can only be lowered here. Single use: one
    conditional UPDATE checks that the row is still pending with this nonce and that the
    address has not signed yet, so of two clicks (or two app servers, or two requests of
    one address) exactly one wins, on SQLite and PostgreSQL alike; the others raise
    AlreadySigned.

    It runs in the caller's transaction, on either database: the caller commits, or rolls
    back after AlreadySigned (a lost race may have left the transaction unusable). On
    PostgreSQL the confirmation and its count are one statement; on SQLite, which cannot
    write two tables in one, two.

    pending: what pending_for_token(token) returned, if the caller has it already.
    Returns the one-time withdrawal code (withdraw_codes.py), to be shown once."""
    sig = pending if pending is not None else pending_for_token(session, token)
    letter_row = letters.public_row_by_id(sig.letter_id)
    if not letters.is_signable(letter_row):
        raise LetterNotOpen(letter_row.slug)
    public = lower_only(sig.public_visibility, public_visibility, disclosure.PUBLIC_ORDER)
    bundle = lower_only(sig.bundle_visibility, bundle_visibility, disclosure.BUNDLE_ORDER)
    version = sig.version_hash
    if version_hash and letters.known_version(letter_row, sig.lang, version_hash):
        version = version_hash
    affiliation = decrypt(sig.affiliation_enc) if sig.affiliation_enc and disclosure.shows_affiliation(public) else None
    public_name, public_affiliation = disclosure.listed(decrypt(sig.name_enc) or "", affiliation, public)
    code = withdraw_codes.new_code()
    values = {
        "sig_id": sig.id, "nonce_hash": sig.confirm_nonce_hash, "now": utcnow(), "public": public, "bundle": bundle,
        "updates": sig.updates_opt_in and bool(updates_opt_in), "version": version,
        "public_name_value": public_name, "public_affiliation_value": public_affiliation,
        "withdraw_code_hash": withdraw_codes.code_hash(code),
    }
    counted_too = single_statement_writes(session)
    try:
        if counted_too:
            confirmed = session.execute(_confirm_and_count_statement(), values).scalar() == 1
        else:
            confirmed = session.execute(_confirm_pending_statement(), values).rowcount == 1
    except IntegrityError:  # another request of this address was confirmed at the same moment
        confirmed = False
    if not confirmed:
        raise AlreadySigned(sig.letter_id)
    if not counted_too and not sig.hidden:
        counters.add(session, sig.letter_id, sig.id, +1)
    events.signature_confirmed.send(events.INDIVIDUAL, session=session, letter_id=sig.letter_id, signer_id=sig.id)
    return code


def for_manage_token(session: Session, token: str) -> Signature:
    """The signature a withdraw link is for (InvalidLink if none)."""
    return intake.link_holder(session, Signature, MANAGE, token)


def withdraw(session: Session, token: str) -> Letter:
    """Delete the signature and every piece of personal data with it, at once."""
    return remove_signature(session, for_manage_token(session, token))


def remove_signature(session: Session, sig: Signature) -> Letter:
    """What withdrawing does, by mailed link or by code: every row of this address on
    this letter (the confirmed signature and any pending requests) goes, and the count
    with it. One conditional DELETE: of two clicks, one withdraws and the other finds
    nothing (InvalidLink)."""
    letter_row = session.get(Letter, sig.letter_id)
    letter_id, hashed, signer_id = sig.letter_id, sig.email_hash, sig.id
    session.expunge(sig)
    t = Signature.__table__
    gone = session.execute(
        delete(t).where(t.c.letter_id == letter_id, t.c.email_hash == hashed,
                        t.c.manage_nonce_hash.is_not(None)).returning(t.c.id, t.c.status, t.c.hidden)
    ).all()
    if not gone:
        raise tokens.InvalidLink()
    for row in gone:
        if is_counted(row):
            counters.add(session, letter_id, row.id, -1)
    events.signature_withdrawn.send(events.INDIVIDUAL, session=session, letter_id=letter_id, signer_id=signer_id)
    return letter_row


def hide(session: Session, sig: Signature, reason: str) -> None:
    """A lead hides an abusive or fake signature from the public page, counts and bundle."""
    if sig.hidden:
        return
    sig.hidden = True
    sig.hidden_reason = reason
    sig.hidden_at = utcnow()
    if sig.status == "confirmed":
        counters.add(session, sig.letter_id, sig.id, -1)


def unhide(session: Session, sig: Signature) -> None:
    if not sig.hidden:
        return
    sig.hidden = False
    sig.hidden_reason = None
    sig.hidden_at = None
    if sig.status == "confirmed":
        counters.add(session, sig.letter_id, sig.id, +1)
