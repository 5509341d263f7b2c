"""The rules of signing: sign -> confirm -> (withdraw). No Flask request in here.

sign() is deliberately shaped so that its outcome is invisible to the person submitting:
whatever the address's state (new, pending, confirmed, withdrawn), it does one lookup,
one write, renders one email, and the caller shows the same page. Only the mailbox owner
learns anything, from the email itself.
"""
from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

from flask import current_app
from sqlalchemy import Connection, Row, bindparam, delete, func, select, update
from sqlalchemy.orm import Session

from petition import tokens
from petition.database import autocommit, single_statement_writes
from petition.letters import services as letters
from petition.letters.models import Letter
from petition.mail import services as mail
from petition.models_common import utcnow
from petition.privacy.crypto import decrypt, digest, encrypt, keyed_hash
from petition.signing import counters, withdraw_codes
from petition.signing.addresses import canonical, domain_of
from petition.signing.models import BUNDLE_CHOICES, PUBLIC_CHOICES, Signature, SignatureCounter
from petition.text import initials
from petition.web.urls import public_url

log = logging.getLogger("petition.signing")

CONFIRM = "confirm-signature"
MANAGE = "manage-signature"
MANAGE_MAX_AGE_DAYS = 3650  # the withdraw link in every email works for as long as the data exists

# Lower index = shows less. A signer can only ever move down these scales at confirmation.
PUBLIC_ORDER = ("none", "initials", "full")
BUNDLE_ORDER = ("counted", "named")


class LetterNotOpen(Exception):
    pass


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
    if choice in PUBLIC_CHOICES:
        return choice
    return default if default in PUBLIC_CHOICES else "none"


def safest_bundle(choice: str | None, default: str) -> str:
    if choice in BUNDLE_CHOICES:
        return choice
    return default if default in BUNDLE_CHOICES else "counted"


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


def sign(session: Session, letter_row: Letter, request: SignatureRequest) -> None:
    """Record a pending signature (or refresh one) and queue the right email, in the
    caller's transaction. Returns nothing on purpose: the caller must not branch."""
    if not letters.is_signable(letter_row):
        raise LetterNotOpen(letter_row.slug)
    today = date.today()
    hashed = email_hash(letter_row.id, request.email)
    confirm_nonce, confirm_nonce_hash = tokens.new_nonce()
    manage_nonce, manage_nonce_hash = tokens.new_nonce()
    code = receipt_code()
    pending = _pending_values(request, confirm_nonce_hash, manage_nonce_hash, code)

    # A new address, the common case in a surge, is one statement. The unique pair
    # (letter, email hash) decides races: of two requests for one address exactly one
    # inserts, and the other waits for it and then takes the existing-row path.
    new_id = session.execute(
        _insert_new_signature(session.get_bind().dialect.name),
        dict(letter_id=letter_row.id, status="pending", email_hash=hashed, mail_day=today, mail_count=1, **pending),
    ).scalar()
    if new_id is not None:
        message = _build_mail(letter_row, new_id, "pending", request, confirm_nonce, manage_nonce, code)
        mail.queue(session, message, purpose="confirm", letter_id=letter_row.id)
        return

    sig = session.scalar(select(Signature).where(Signature.letter_id == letter_row.id, Signature.email_hash == hashed))
    if sig.status == "pending":
        for name, value in pending.items():
            setattr(sig, name, value)
    allowed = mail.take_daily_quota(sig, today)
    if sig.status != "pending":
        # Already confirmed: the mail gives the owner the way out. The stored manage
        # nonce cannot be recovered (only its hash is kept), so a fresh one replaces it.
        sig.manage_nonce_hash = manage_nonce_hash
    message = _build_mail(letter_row, sig.id, sig.status, request, confirm_nonce, manage_nonce, code)
    if allowed:
        mail.queue(session, message, purpose="confirm" if sig.status == "pending" else "already", letter_id=letter_row.id)
    session.flush()


@lru_cache(maxsize=4)
def _insert_new_signature(dialect: str):
    """INSERT ... ON CONFLICT (letter_id, email_hash) DO NOTHING RETURNING id, in the
    dialect at hand. Built once: the values come as parameters, so a request does not
    pay for building and hashing a twenty-column statement."""
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    table = Signature.__table__
    return insert(table).on_conflict_do_nothing(index_elements=["letter_id", "email_hash"]).returning(table.c.id)


def _pending_values(request: SignatureRequest, confirm_nonce_hash: str, manage_nonce_hash: str, code: str) -> dict:
    """The columns a pending signature takes from a submission."""
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
        "receipt_hash": receipt_hash(code),
        "email_domain": domain_of(request.email),
        "created_at": utcnow(),
    }


def _build_mail(letter_row: Letter, sig_id: int, status: str, request: SignatureRequest, confirm_nonce: str,
                manage_nonce: str, code: str) -> mail.Message:
    from flask_babel import force_locale, gettext as _

    loaded = letters.loaded(letter_row.slug)
    lang = request.lang
    title = loaded.text_for(lang).front.title
    withdraw_url = public_url("signing.withdraw", lang=lang, token=tokens.make(MANAGE, sig_id, manage_nonce))
    letter_url = public_url("letters.show", lang=lang, slug=letter_row.slug)
    with force_locale(lang):
        if status == "pending":
            subject = mail.subject_for(letter_row.discreet_mail, title, _("Please confirm your request"), _("Confirm your signature"))
            # The busiest mail of a surge: its bodies come from the frame cache, with the
            # links and the receipt code filled in.
            return mail.build(
                "signing/confirm", to=request.email, lang=lang, subject=subject,
                sender=mail.default_sender(letter_row.discreet_mail),
                title=title, letter_url=letter_url, max_age_days=current_app.config["PETITION"].TOKEN_MAX_AGE_DAYS,
                fresh={
                    "receipt": code,
                    "confirm_url": public_url("signing.confirm", lang=lang, token=tokens.make(CONFIRM, sig_id, confirm_nonce)),
                    "withdraw_url": withdraw_url,
                },
            )
        subject = mail.subject_for(letter_row.discreet_mail, title, _("About your request"), _("You have already signed"))
        return mail.build(
            "signing/already", to=request.email, lang=lang, subject=subject,
            sender=mail.default_sender(letter_row.discreet_mail), title=title,
            withdraw_url=withdraw_url, letter_url=letter_url,
        )


def bundle_name(full_name: str, public_visibility: str) -> str:
    """How a signer who chose "name me" appears in the delivered bundle: the full name,
    or the initials if that is all they were willing to show publicly."""
    return initials(full_name) if public_visibility == "initials" else full_name


def preview(sig: Signature | Row) -> dict[str, str | None]:
    """Exactly what each choice would publish or deliver, for the confirm page."""
    name = decrypt(sig.name_enc) or ""
    affiliation = decrypt(sig.affiliation_enc) if sig.affiliation_enc else None
    return {
        "full": name,
        "initials": initials(name),
        "affiliation": affiliation,
        "country": sig.country,
        "bundle_full": name,
        "bundle_initials": initials(name),
    }


_BY_ID = select(Signature.__table__).where(Signature.__table__.c.id == bindparam("sig_id"))


def pending_for_token(session: Session | Connection, token: str) -> Row:
    """The pending signature a confirm link is for, as a read-only row (the confirm page
    and the confirmation only read it; the confirmation writes with one UPDATE)."""
    sig_id, nonce = tokens.read(CONFIRM, token)
    sig = session.execute(_BY_ID, {"sig_id": sig_id}).first()
    if sig is None or sig.status != "pending" or not tokens.nonce_matches(nonce, sig.confirm_nonce_hash):
        raise tokens.InvalidLink()
    return sig


@lru_cache(maxsize=1)
def _confirm_pending_statement():
    """The single-use confirmation as one conditional UPDATE, built once (Core, values as
    parameters): it matches only while the row is pending with this link's nonce."""
    t = Signature.__table__
    return (
        update(t)
        .where(t.c.id == bindparam("sig_id"), t.c.status == "pending", t.c.confirm_nonce_hash == bindparam("nonce_hash"))
        .values(
            status="confirmed", confirmed_at=bindparam("now"), confirm_nonce_hash=None,
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

    One statement is one transaction, so it needs no BEGIN and COMMIT around it, and the
    count can still never drift from a committed confirmation. Returns 1, or 0 when the
    link was already used (or raced another click)."""
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
    conditional UPDATE both checks the nonce hash and clears it, so of two clicks (or two
    app servers) exactly one wins, on SQLite and PostgreSQL alike.

    On PostgreSQL the confirmation and its count are one statement that commits by itself
    (database.autocommit); on SQLite they are two, in the caller's transaction.

    pending: what pending_for_token(token) returned, if the caller has it already.
    Returns the one-time withdrawal code (withdraw_codes.py), to be shown once."""
    sig = pending if pending is not None else pending_for_token(session, token)
    letter_row = letters.public_row_by_id(sig.letter_id)
    if not letters.is_signable(letter_row):
        raise LetterNotOpen(letter_row.slug)
    public = lower_only(sig.public_visibility, public_visibility, PUBLIC_ORDER)
    bundle = lower_only(sig.bundle_visibility, bundle_visibility, BUNDLE_ORDER)
    version = sig.version_hash
    if version_hash and letters.known_version(letter_row, sig.lang, version_hash):
        version = version_hash
    name = decrypt(sig.name_enc) or ""
    public_name = public_affiliation = None
    if public == "full":
        public_name = name
        public_affiliation = decrypt(sig.affiliation_enc) if sig.affiliation_enc else None
    elif public == "initials":
        public_name = initials(name)
    code = withdraw_codes.new_code()
    values = {
        "sig_id": sig.id, "nonce_hash": sig.confirm_nonce_hash, "now": utcnow(), "public": public, "bundle": bundle,
        "updates": sig.updates_opt_in and bool(updates_opt_in), "version": version,
        "public_name_value": public_name, "public_affiliation_value": public_affiliation,
        "withdraw_code_hash": withdraw_codes.code_hash(code),
    }
    if single_statement_writes(session):
        with autocommit(session) as connection:
            if connection.execute(_confirm_and_count_statement(), values).scalar() != 1:
                raise tokens.InvalidLink()
        counters.forget(sig.letter_id)
        return code
    if session.execute(_confirm_pending_statement(), values).rowcount != 1:
        raise tokens.InvalidLink()
    if not sig.hidden:
        counters.add(session, sig.letter_id, sig.id, +1)
    return code


def for_manage_token(session: Session, token: str) -> Signature:
    sig_id, nonce = tokens.read(MANAGE, token, max_age_days=MANAGE_MAX_AGE_DAYS)
    sig = session.get(Signature, sig_id)
    if sig is None or not tokens.nonce_matches(nonce, sig.manage_nonce_hash):
        raise tokens.InvalidLink()
    return sig


def withdraw(session: Session, token: str) -> Letter:
    """Delete the signature and every piece of personal data with it, at once."""
    sig_id, nonce = tokens.read(MANAGE, token, max_age_days=MANAGE_MAX_AGE_DAYS)
    sig = session.get(Signature, sig_id)
    if sig is None or not tokens.nonce_matches(nonce, sig.manage_nonce_hash):
        raise tokens.InvalidLink()
    return remove_signature(session, sig)


def remove_signature(session: Session, sig: Signature) -> Letter:
    """What withdrawing does, by mailed link or by code: the row (and so every piece of
    personal data) goes, and the count with it. Raises InvalidLink if it changed meanwhile."""
    letter_row = session.get(Letter, sig.letter_id)
    counted = sig.status == "confirmed" and not sig.hidden
    result = session.execute(
        delete(Signature)
        .where(Signature.id == sig.id, Signature.status == sig.status, Signature.manage_nonce_hash == sig.manage_nonce_hash)
        .execution_options(synchronize_session=False)
    )
    session.expunge(sig)
    if result.rowcount != 1:
        raise tokens.InvalidLink()
    if counted:
        counters.add(session, sig.letter_id, sig.id, -1)
    return letter_row


def unsubscribe(session: Session, token: str) -> Signature:
    sig = for_manage_token(session, token)
    sig.updates_opt_in = False
    return sig


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
