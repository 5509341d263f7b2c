"""Privacy operations: purge after retention, export and erase on request, key rotation.

Plain services over an explicit session; the `privacy` CLI group (privacy/cli.py) calls
them and commits. Every operation writes an audit entry that says what was done and to
which letter, never whose data.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import flag_modified

from petition import audit
from petition.accounts import User
from petition.bundles.models import Bundle
from petition.crypto import decrypt, rotate
from petition.deliveries.models import Delivery
from petition.letters.models import Letter
from petition.mail.models import OutboxMessage
from petition.models_common import utcnow
from petition.organisations.models import Organisation
from petition.organisations.services import contact_hash
from petition.paper.models import PaperSignature
from petition.signing import counters
from petition.signing.addresses import AddressRejected, canonical, check_syntax
from petition.signing.models import Signature, SignRequest
from petition.signing.services import email_hash

PURGEABLE_STATUSES = ("closed", "delivered")

# What a purge clears on a confirmed signature. Kept: status, country, the public name
# and affiliation the signer chose to show, receipt and version hashes, dates, counts.
SIGNATURE_PERSONAL = dict(
    email_enc=None, name_enc=None, affiliation_enc=None, email_hash=None, email_domain_hash=None,
    email_domain_enc=None, confirm_nonce_hash=None, manage_nonce_hash=None, manage_nonce_enc=None, hidden_reason=None,
    updates_opt_in=False,
)
ORGANISATION_CONTACT = dict(
    contact_name_enc=None, contact_email_enc=None, contact_email_hash=None, rejection_reason=None,
    confirm_nonce_hash=None, manage_nonce_hash=None, manage_nonce_enc=None,
)


# ---- purge ----------------------------------------------------------------------------

@dataclass
class PurgeReport:
    slug: str
    done: bool = False
    reason: str = ""
    signatures_scrubbed: int = 0
    pending_deleted: int = 0
    organisations_scrubbed: int = 0
    organisations_deleted: int = 0
    outbox_deleted: int = 0
    paper_names_scrubbed: int = 0

    def removed(self) -> dict[str, int]:
        return {k: v for k, v in asdict(self).items() if isinstance(v, int) and not isinstance(v, bool)}

    def lines(self) -> list[str]:
        if not self.done:
            return [f"{self.slug}: not purged ({self.reason})"]
        r = self
        return [
            f"{r.slug}: personal data removed from {r.signatures_scrubbed} confirmed signature(s)",
            f"{r.slug}: {r.pending_deleted} unconfirmed signature(s) deleted",
            f"{r.slug}: contact details removed from {r.organisations_scrubbed} approved organisation(s), "
            f"{r.organisations_deleted} other organisation request(s) deleted",
            f"{r.slug}: {r.outbox_deleted} unsent email(s) deleted",
            f"{r.slug}: names removed from {r.paper_names_scrubbed} paper signature(s)",
            f"{r.slug}: kept counts, public names signers chose to show, receipt hashes",
        ]


def purge_due_at(row: Letter) -> datetime | None:
    """When the letter's personal data becomes due for deletion (None: not closed)."""
    if row.status not in PURGEABLE_STATUSES or row.closed_at is None:
        return None
    return row.closed_at + timedelta(days=row.retention_days)


def purge_letter(session: Session, row: Letter, *, now: datetime | None = None, force: bool = False) -> PurgeReport:
    """Delete the personal data of a closed or delivered letter whose retention period has
    passed. force skips the date check (never the status check: an open letter is never
    purged). Safe to run again: a second run finds nothing left to remove."""
    now = now or utcnow()
    report = PurgeReport(slug=row.slug)
    due = purge_due_at(row)
    if due is None:
        report.reason = f"status is {row.status}; only closed or delivered letters are purged"
        return report
    if due > now and not force:
        report.reason = f"retention period runs until {due:%Y-%m-%d %H:%M} UTC"
        return report

    report.pending_deleted = session.execute(
        delete(Signature).where(Signature.letter_id == row.id, Signature.status == "pending")
        .execution_options(synchronize_session=False)
    ).rowcount
    report.signatures_scrubbed = session.execute(
        update(Signature)
        .where(Signature.letter_id == row.id, Signature.email_enc.is_not(None) | Signature.email_hash.is_not(None)
               | Signature.name_enc.is_not(None) | Signature.manage_nonce_hash.is_not(None))
        .values(**SIGNATURE_PERSONAL)
        .execution_options(synchronize_session=False)
    ).rowcount
    # Only approved organisations are public co-signers; the others (unconfirmed, never
    # decided, rejected) have nothing left to keep.
    report.organisations_deleted = session.execute(
        delete(Organisation).where(Organisation.letter_id == row.id, Organisation.status != "approved")
        .execution_options(synchronize_session=False)
    ).rowcount
    report.organisations_scrubbed = session.execute(
        update(Organisation)
        .where(Organisation.letter_id == row.id,
               Organisation.contact_email_enc.is_not(None) | Organisation.contact_name_enc.is_not(None)
               | Organisation.contact_email_hash.is_not(None))
        .values(**ORGANISATION_CONTACT)
        .execution_options(synchronize_session=False)
    ).rowcount
    report.outbox_deleted = session.execute(
        delete(OutboxMessage).where(OutboxMessage.letter_id == row.id).execution_options(synchronize_session=False)
    ).rowcount
    # Paper signatures stay counted (with their country, day and place); their names go.
    report.paper_names_scrubbed = session.execute(
        update(PaperSignature).where(PaperSignature.letter_id == row.id, PaperSignature.name_enc != "")
        .values(name_enc="").execution_options(synchronize_session=False)
    ).rowcount
    row.purged_at = now
    report.done = True
    audit.record(session, None, "privacy.purge", row.id, **report.removed())
    session.flush()
    session.expire_all()  # loaded signatures must not write their old values back
    return report


@dataclass
class StaleReport:
    slug: str
    pending_deleted: int = 0
    organisations_deleted: int = 0

    def lines(self) -> list[str]:
        return [f"{self.slug}: {self.pending_deleted} expired unconfirmed signature(s) and "
                f"{self.organisations_deleted} expired unconfirmed organisation(s) deleted"]


def purge_stale_pending(session: Session, row: Letter, max_age_days: int, *, now: datetime | None = None) -> StaleReport:
    """Unconfirmed requests whose confirmation link has expired can never be confirmed:
    they are only someone's address waiting for nothing."""
    cutoff = (now or utcnow()) - timedelta(days=max_age_days)
    report = StaleReport(slug=row.slug)
    report.pending_deleted = session.execute(
        delete(Signature).where(Signature.letter_id == row.id, Signature.status == "pending", Signature.created_at < cutoff)
        .execution_options(synchronize_session=False)
    ).rowcount
    report.organisations_deleted = session.execute(
        delete(Organisation).where(Organisation.letter_id == row.id, Organisation.status == "pending",
                                   Organisation.created_at < cutoff)
        .execution_options(synchronize_session=False)
    ).rowcount
    if report.pending_deleted or report.organisations_deleted:
        audit.record(session, None, "privacy.purge_stale", row.id,
                     pending_deleted=report.pending_deleted, organisations_deleted=report.organisations_deleted)
    return report


def purge_old_outbox(session: Session, max_age_days: int, *, now: datetime | None = None) -> int:
    """Emails that could not be delivered within the links' lifetime are useless to their
    recipient and still hold an address: delete them."""
    cutoff = (now or utcnow()) - timedelta(days=max_age_days)
    removed = session.execute(
        delete(OutboxMessage).where(OutboxMessage.created_at < cutoff).execution_options(synchronize_session=False)
    ).rowcount
    if removed:
        audit.record(session, None, "privacy.purge_outbox", None, outbox_deleted=removed)
    return removed


def purge_all(session: Session, max_age_days: int, *, now: datetime | None = None) -> list[str]:
    """What the daily timer runs: every letter due, expired unconfirmed requests, and
    undeliverable emails older than the links they carry."""
    lines: list[str] = []
    old_mail = purge_old_outbox(session, max_age_days, now=now)
    if old_mail:
        lines.append(f"{old_mail} undelivered email(s) older than {max_age_days} days deleted")
    for row in session.scalars(select(Letter).order_by(Letter.slug)).all():
        stale = purge_stale_pending(session, row, max_age_days, now=now)
        if stale.pending_deleted or stale.organisations_deleted:
            lines += stale.lines()
        due = purge_due_at(row)
        if due is not None and due <= (now or utcnow()):
            lines += purge_letter(session, row, now=now).lines()
    return lines or ["nothing to purge"]


# ---- export and erase ----------------------------------------------------------------

def _normalised(address: str) -> str:
    try:
        return check_syntax(address)
    except AddressRejected:
        raise ValueError("not an email address") from None


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _matching(session: Session, address: str):
    letters = session.scalars(select(Letter).order_by(Letter.slug)).all()
    for row in letters:
        sig = session.scalar(select(Signature).where(Signature.letter_id == row.id,
                                                     Signature.email_hash == email_hash(row.id, address)))
        orgs = session.scalars(select(Organisation).where(
            Organisation.letter_id == row.id,
            Organisation.contact_email_hash == contact_hash(row.id, address))).all()
        yield row, sig, list(orgs)


def _outbox_for(session: Session, address: str) -> list[OutboxMessage]:
    """Queued emails addressed to this person (the outbox is short-lived and small)."""
    wanted = canonical(address)
    found = []
    for message in session.scalars(select(OutboxMessage)):
        try:
            to = json.loads(decrypt(message.payload_enc) or "{}").get("to", "")
            if to and canonical(to) == wanted:
                found.append(message)
        except Exception:  # noqa: BLE001  an unreadable row is not this person's
            continue
    return found


@dataclass
class Export:
    address: str
    signatures: list[dict] = field(default_factory=list)
    organisations: list[dict] = field(default_factory=list)
    queued_emails: int = 0

    def as_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, indent=2, sort_keys=True)


@dataclass(frozen=True)
class Held:
    """What one letter holds about an address: enough for an administrator to confirm
    a request before answering it, no decrypted value."""
    letter: str
    signature_status: str | None
    organisations: int


def lookup(session: Session, address: str, actor: User | None = None) -> list[Held]:
    """Per letter, whether an address has a signature or an organisation contact there.
    Written to the audit log (counts only): a lookup is itself a use of personal data."""
    address = _normalised(address)
    found = [Held(row.slug, sig.status if sig is not None else None, len(orgs))
             for row, sig, orgs in _matching(session, address) if sig is not None or orgs]
    audit.record(session, actor, "privacy.lookup", None, letters=len(found))
    return found


def export(session: Session, address: str, actor: User | None = None) -> Export:
    """Everything held about an address, across all letters, decrypted for its owner."""
    address = _normalised(address)
    result = Export(address=address)
    for row, sig, orgs in _matching(session, address):
        if sig is not None:
            result.signatures.append({
                "letter": row.slug,
                "status": sig.status,
                "email": decrypt(sig.email_enc),
                "name": decrypt(sig.name_enc),
                "affiliation": decrypt(sig.affiliation_enc),
                "country": sig.country,
                "language": sig.lang,
                "public_visibility": sig.public_visibility,
                "bundle_visibility": sig.bundle_visibility,
                "public_name": sig.public_name,
                "public_affiliation": sig.public_affiliation,
                "updates": sig.updates_opt_in,
                "hidden_by_campaign_team": sig.hidden,
                "letter_version": sig.version_hash,
                "created_at": _iso(sig.created_at),
                "confirmed_at": _iso(sig.confirmed_at),
            })
        for org in orgs:
            result.organisations.append({
                "letter": row.slug,
                "organisation": org.name,
                "status": org.status,
                "contact_name": decrypt(org.contact_name_enc),
                "contact_email": decrypt(org.contact_email_enc),
                "country": org.country,
                "website": org.website,
                "statement": org.statement,
                "created_at": _iso(org.created_at),
                "confirmed_at": _iso(org.confirmed_at),
            })
    result.queued_emails = len(_outbox_for(session, address))
    audit.record(session, actor, "privacy.export", None, signatures=len(result.signatures),
                 organisations=len(result.organisations))
    return result


@dataclass
class EraseReport:
    signatures_deleted: int = 0
    organisations_deleted: int = 0
    organisations_scrubbed: int = 0
    queued_emails_deleted: int = 0
    letters: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        return [
            f"{self.signatures_deleted} signature(s) deleted"
            + (f" (letters: {', '.join(self.letters)})" if self.letters else ""),
            f"{self.organisations_deleted} unapproved organisation co-signature(s) deleted, "
            f"contact details removed from {self.organisations_scrubbed} approved one(s)",
            f"{self.queued_emails_deleted} queued email(s) deleted",
        ]


def erase(session: Session, address: str, actor: User | None = None) -> EraseReport:
    """Delete a person's signatures and contact details across all letters. Confirmed,
    counted signatures come off the counters; an approved organisation stays (it is the
    organisation's co-signature) without its contact person."""
    address = _normalised(address)
    report = EraseReport()
    for row, sig, orgs in _matching(session, address):
        touched = False
        if sig is not None:
            counted = sig.counted
            session.delete(sig)
            session.flush()
            if counted:
                counters.add(session, row.id, sig.id, -1)
            report.signatures_deleted += 1
            touched = True
        for org in orgs:
            touched = True
            if org.status == "approved":
                for column, value in ORGANISATION_CONTACT.items():
                    setattr(org, column, value)
                report.organisations_scrubbed += 1
            else:
                session.delete(org)
                report.organisations_deleted += 1
        if touched:
            report.letters.append(row.slug)
            audit.record(session, actor, "privacy.erase", row.id,
                         signature=sig is not None, organisations=len(orgs))
    for message in _outbox_for(session, address):
        session.delete(message)
        report.queued_emails_deleted += 1
    session.flush()
    return report


# ---- key rotation ---------------------------------------------------------------------

def rotate_keys(session: Session, batch: int = 500) -> dict[str, int]:
    """Re-encrypt every Fernet token under the newest DATA_KEYS key, so older keys can
    then be removed from the configuration. A bundle's PDF is sealed under a key of its
    own: only that key, wrapped by DATA_KEYS, is re-encrypted."""
    columns = [
        (Signature, ("email_enc", "name_enc", "affiliation_enc", "manage_nonce_enc", "email_domain_enc")),
        (Organisation, ("contact_name_enc", "contact_email_enc", "manage_nonce_enc")),
        (User, ("totp_secret_enc",)),
        (OutboxMessage, ("payload_enc",)),
        (SignRequest, ("payload_enc",)),
        (Bundle, ("pdf_key",)),
        (Delivery, ("recipient_enc",)),
        (PaperSignature, ("name_enc",)),
    ]
    # Columns encrypted by their type (EncryptedText): written again, they are encrypted
    # under the newest key.
    rewritten = {Organisation: ("name", "website", "statement")}
    done: dict[str, int] = {}
    for model, names in columns:
        count = 0
        last_id = None
        while True:
            query = select(model).order_by(model.id).limit(batch)
            if last_id is not None:
                query = query.where(model.id > last_id)
            rows = session.scalars(query).all()
            if not rows:
                break
            for obj in rows:
                for name in names:
                    value = getattr(obj, name)
                    if value is not None:
                        setattr(obj, name, rotate(value))
                        count += 1
                for name in rewritten.get(model, ()):
                    if getattr(obj, name) is not None:
                        flag_modified(obj, name)
                        count += 1
            last_id = rows[-1].id
            session.flush()
        done[model.__tablename__] = count
    audit.record(session, None, "privacy.rotate_keys", None, **done)
    return done
