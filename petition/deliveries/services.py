"""Deliveries: the rules. No Flask request in here; every function takes the session and
leaves the commit to its caller.

- One delivery per addressee: a company, or one of the platforms the letter names for
  it (letters/*/letter.yaml, `addressees`). Recording one never changes the letter's
  status: closing a letter is the console's separate, confirmed action.
- Every public fact about a delivery is an entry of the letter's delivery log, inserted
  and never updated (chain.py): delivered, acknowledged, response received (its SHA-256
  only), response published (the text, which must hash to what was received: the lead
  chooses whether to publish, never what the company said). The public page and the API
  are built from the log alone, so what they show is what the chain covers.
- The company's link is a capability: 32 random bytes (token_urlsafe), shown once, of
  which only the SHA-256 is stored. Any token that does not match (wrong, altered,
  malformed, for a removed delivery) takes the same path to the same 404.
- Signers who asked for updates get one mail per acknowledgement and per published
  response: the updates area hears of the entry (events.delivery_logged) and mails
  notice_text() as it mails a lead's update (same unsubscribe, same discreet subject and
  sender). Nothing here imports it.
"""
from __future__ import annotations

import hashlib
import io
import json
import re
import secrets
from dataclasses import dataclass, field
from datetime import date, datetime

from flask_babel import force_locale, format_date, gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from petition import audit, events
from petition.accounts import User
from petition.bundles import services as bundles, signing_keys
from petition.bundles.models import Bundle, BundleReceipt
from petition.crypto import decrypt, encrypt
from petition.deliveries import chain
from petition.deliveries.models import Delivery, DeliveryEvent
from petition.letters import services as letters
from petition.letters.models import Letter
from petition.models_common import utcnow
from petition.signing.services import normalise_receipt, receipt_hash

NOT_STATED = "not stated"
RESPONSE_MAX = 10000
CHANNEL_MAX = 200
RECIPIENT_MAX = 200
TOKEN_BYTES = 32
_TOKEN_SHAPE = re.compile(r"^[A-Za-z0-9_-]{20,100}$")

DELIVERED = "delivered"
ACKNOWLEDGED = "acknowledged"
RESPONSE_RECEIVED = "response_received"
RESPONSE_PUBLISHED = "response_published"


class DeliveryError(ValueError):
    """A delivery that cannot be recorded or changed as asked; str() says why, in the
    language of the request (or English on the command line)."""


# ---- addressees -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Addressee:
    company: str
    platform: str = ""  # "" when the delivery is to the company as a whole

    @property
    def label(self) -> str:
        return f"{self.company} ({self.platform})" if self.platform else self.company


def addressees(row: Letter) -> list[Addressee]:
    """Whom this letter can be delivered to: each company, and each platform the letter
    names for it (a platform named like its company is the company)."""
    letter = letters.loaded(row.slug)
    out = []
    for addressee in letter.meta.addressees if letter else []:
        out.append(Addressee(addressee.company))
        out.extend(Addressee(addressee.company, platform) for platform in addressee.named_platforms)
    return out


# ---- the bundle's facts ---------------------------------------------------------------------------

def bundle_timestamp(bundle: Bundle) -> str | None:
    """The bundle's trusted time (RFC 3161, ISO 8601 UTC) as the bundle records it, or None
    for a bundle signed without a timestamp authority (the log then says so)."""
    stamp = bundles.timestamp_of(bundle)
    return stamp["time"] if stamp else None


# ---- the log --------------------------------------------------------------------------------------

def _append(session: Session, row: Letter, delivery: Delivery, kind: str, data: dict,
            at: datetime | None = None) -> DeliveryEvent:
    """Insert the next entry of row's log. The letter's row is locked first (PostgreSQL),
    so two entries written at once are chained one after the other, not both after the
    same predecessor; the unique (letter, seq) catches anything that slips through."""
    _lock(session, row)
    last = session.scalar(select(DeliveryEvent).where(DeliveryEvent.letter_id == row.id)
                          .order_by(DeliveryEvent.seq.desc()).limit(1))
    seq = last.seq + 1 if last else 1
    prev = last.entry_hash if last else chain.GENESIS
    at_text = (at or utcnow()).isoformat(timespec="seconds")
    data = {"delivery": delivery.id, "company": delivery.company, "platform": delivery.platform, **data}
    event = DeliveryEvent(letter_id=row.id, seq=seq, delivery_id=delivery.id, kind=kind, at=at_text,
                          data=chain.data_text(data), prev_hash=prev,
                          entry_hash=chain.entry_hash(letter=row.slug, seq=seq, kind=kind, at=at_text, data=data,
                                                      prev=prev))
    session.add(event)
    session.flush()
    events.delivery_logged.send(kind, session=session, letter_id=row.id, delivery_id=delivery.id, entry_id=event.id)
    return event


def _lock(session: Session, row: Letter) -> None:
    """Serialise writers of one letter's deliveries and log (PostgreSQL; SQLite has one
    writer at a time anyway)."""
    session.execute(select(Letter.id).where(Letter.id == row.id).with_for_update())


def details_digest(channel: str, recipient: str) -> str:
    """The delivery's private details (how, and to whom at the company) are not public,
    but their SHA-256 is in the chain, so they cannot be changed quietly either."""
    return hashlib.sha256(chain.canonical({"channel": channel, "recipient": recipient})).hexdigest()


def response_digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


# ---- recording a delivery ------------------------------------------------------------------------

@dataclass(frozen=True)
class Recorded:
    delivery: Delivery
    token: str  # the company's capability; shown once, never stored


def record(session: Session, row: Letter, bundle: Bundle, *, company: str, platform: str = "",
           delivered_on: date, channel: str, recipient: str, actor: User | None) -> Recorded:
    """Record that bundle was handed to one addressee. The letter's status is left as it is."""
    platform = platform or ""
    if bundle.letter_id != row.id:
        raise DeliveryError(_("This bundle belongs to another letter."))
    if Addressee(company, platform) not in addressees(row):
        raise DeliveryError(_("%(name)s is not an addressee of this letter.", name=Addressee(company, platform).label))
    if delivered_on > date.today():
        raise DeliveryError(_("A delivery cannot be recorded in the future."))
    if delivered_on < bundle.created_at.date():
        raise DeliveryError(_("This bundle was built after that date."))
    channel, recipient = channel.strip(), recipient.strip()
    if not channel or not recipient or len(channel) > CHANNEL_MAX or len(recipient) > RECIPIENT_MAX:
        raise DeliveryError(_("Please say how the bundle was delivered and to whom."))
    _lock(session, row)
    if _existing(session, row, company, platform) is not None:
        raise DeliveryError(_("A delivery to %(name)s is already recorded.", name=Addressee(company, platform).label))
    token = secrets.token_urlsafe(TOKEN_BYTES)
    delivery = Delivery(letter_id=row.id, bundle_id=bundle.id, company=company, platform=platform,
                        delivered_on=delivered_on, channel=channel,
                        recipient_enc=encrypt(recipient) if recipient != NOT_STATED else None,
                        token_hash=token_digest(token), recorded_by=actor.id if actor else None)
    session.add(delivery)
    session.flush()
    _append(session, row, delivery, DELIVERED, {
        "delivered_on": delivered_on.isoformat(),
        "bundle_id": bundle.id,
        "bundle_sha256": bundle.sha256,
        "bundle_timestamp": bundle_timestamp(bundle),
        "details_sha256": details_digest(channel, recipient),
    })
    audit.record(session, actor, "delivery.record", row.id, delivery=delivery.id, bundle=bundle.id,
                 company=company, platform=platform, delivered_on=delivered_on.isoformat())
    return Recorded(delivery, token)


def _existing(session: Session, row: Letter, company: str, platform: str) -> Delivery | None:
    return session.scalar(select(Delivery).where(Delivery.letter_id == row.id, Delivery.company == company,
                                                 Delivery.platform == platform))


def recipient_of(delivery: Delivery) -> str:
    return decrypt(delivery.recipient_enc) if delivery.recipient_enc else NOT_STATED


def new_link(session: Session, row: Letter, delivery: Delivery, actor: User | None) -> str:
    """A fresh capability for the company (the old link stops working): for a lost link,
    or for deliveries recorded before links existed."""
    if delivery.letter_id != row.id:
        raise DeliveryError(_("This delivery belongs to another letter."))
    token = secrets.token_urlsafe(TOKEN_BYTES)
    delivery.token_hash = token_digest(token)
    audit.record(session, actor, "delivery.new_link", row.id, delivery=delivery.id)
    return token


def deliveries_of(session: Session, row: Letter) -> list[Delivery]:
    return list(session.scalars(select(Delivery).where(Delivery.letter_id == row.id)
                                .order_by(Delivery.delivered_on, Delivery.id)))


def delivery_of(session: Session, row: Letter, delivery_id: int) -> Delivery | None:
    delivery = session.get(Delivery, delivery_id)
    return delivery if delivery is not None and delivery.letter_id == row.id else None


def find(session: Session, row: Letter, company: str, platform: str = "") -> Delivery | None:
    return _existing(session, row, company, platform or "")


# ---- the company's side -----------------------------------------------------------------------------

def for_token(session: Session, token: str) -> Delivery | None:
    """The delivery this capability opens, or None. Every token is hashed and looked up
    the same way, whatever its shape, so a wrong one costs what a right one does."""
    candidate = token if _TOKEN_SHAPE.match(token or "") else "-"
    return session.scalar(select(Delivery).where(Delivery.token_hash == token_digest(candidate)))


def letter_of(session: Session, delivery: Delivery) -> Letter:
    return session.get(Letter, delivery.letter_id)


def acknowledge(session: Session, delivery: Delivery) -> bool:
    """The company confirms receipt. Only the first one counts (and is logged); True if
    this call was it."""
    if delivery.acknowledged_at is not None:
        return False
    now = utcnow()
    claimed = session.execute(
        Delivery.__table__.update()
        .where(Delivery.id == delivery.id, Delivery.acknowledged_at.is_(None))
        .values(acknowledged_at=now)).rowcount
    if not claimed:
        return False
    session.refresh(delivery)
    row = letter_of(session, delivery)
    _append(session, row, delivery, ACKNOWLEDGED, {}, at=now)
    return True


def respond(session: Session, delivery: Delivery, text: str) -> None:
    """The company's written response, kept as sent. One per delivery: the log holds its
    SHA-256 from now on, and the lead can publish it, never change it."""
    text = (text or "").strip()
    if not text:
        raise DeliveryError(_("Please write your response."))
    if len(text) > RESPONSE_MAX:
        raise DeliveryError(_("Please keep your response under %(n)s characters.", n=RESPONSE_MAX))
    if delivery.response is not None:
        raise DeliveryError(_("A response to this delivery has already been received."))
    now = utcnow()
    claimed = session.execute(
        Delivery.__table__.update()
        .where(Delivery.id == delivery.id, Delivery.response.is_(None))
        .values(response=text, response_at=now)).rowcount
    if not claimed:
        raise DeliveryError(_("A response to this delivery has already been received."))
    session.refresh(delivery)
    _append(session, letter_of(session, delivery), delivery, RESPONSE_RECEIVED,
            {"response_sha256": response_digest(text), "response_chars": len(text)}, at=now)


def publish(session: Session, row: Letter, delivery: Delivery, actor: User | None) -> DeliveryEvent:
    """The lead makes the company's response public, word for word."""
    if delivery.letter_id != row.id:
        raise DeliveryError(_("This delivery belongs to another letter."))
    if delivery.response is None:
        raise DeliveryError(_("There is no response to publish."))
    if delivery.published_at is not None:
        raise DeliveryError(_("This response is already published."))
    now = utcnow()
    delivery.published_at = now
    event = _append(session, row, delivery, RESPONSE_PUBLISHED,
                    {"response_sha256": response_digest(delivery.response), "text": delivery.response}, at=now)
    audit.record(session, actor, "delivery.publish", row.id, delivery=delivery.id)
    return event


# ---- what the public sees ----------------------------------------------------------------------------

@dataclass
class Summary:
    """One delivery as the public log shows it, built from the log's entries alone."""

    delivery_id: int
    company: str
    platform: str
    delivered_on: date
    bundle_id: str
    bundle_sha256: str
    bundle_timestamp: str | None
    acknowledged_on: date | None = None
    response_received_on: date | None = None
    response_published_on: date | None = None
    response: str | None = None
    entries: list[int] = field(default_factory=list)

    @property
    def label(self) -> str:
        return Addressee(self.company, self.platform).label

    @property
    def response_status(self) -> str:
        """"none", "received" (under review) or "published"."""
        if self.response_published_on:
            return "published"
        return "received" if self.response_received_on else "none"

    def silent_days(self, today: date) -> int | None:
        """Days without a response since the delivery (None once one was received)."""
        return None if self.response_received_on else max(0, (today - self.delivered_on).days)


def log_entries(session: Session, letter_id: int) -> list[DeliveryEvent]:
    return list(session.scalars(select(DeliveryEvent).where(DeliveryEvent.letter_id == letter_id)
                                .order_by(DeliveryEvent.seq)))


def summaries(entries: list[DeliveryEvent]) -> list[Summary]:
    out: dict[int, Summary] = {}
    for entry in entries:
        data = json.loads(entry.data)
        on = datetime.fromisoformat(entry.at).date()
        if entry.kind == DELIVERED:
            out[entry.delivery_id] = Summary(
                entry.delivery_id, data["company"], data.get("platform", ""),
                date.fromisoformat(data["delivered_on"]), data["bundle_id"], data["bundle_sha256"],
                data.get("bundle_timestamp"))
        summary = out.get(entry.delivery_id)
        if summary is None:
            continue
        summary.entries.append(entry.seq)
        if entry.kind == ACKNOWLEDGED:
            summary.acknowledged_on = on
        elif entry.kind == RESPONSE_RECEIVED:
            summary.response_received_on = on
        elif entry.kind == RESPONSE_PUBLISHED:
            summary.response_published_on = on
            summary.response = data.get("text")
    return sorted(out.values(), key=lambda s: (s.delivered_on, s.delivery_id))


def public_summaries(session: Session, letter_id: int) -> list[Summary]:
    return summaries(log_entries(session, letter_id))


def api_entries(summaries_: list[Summary], entries: list[DeliveryEvent], today: date) -> dict:
    """`deliveries` and `delivery_log` for GET /api/v1/letters/<slug>."""
    return {
        "deliveries": [{
            "company": s.company,
            "platform": s.platform or None,
            "delivered_on": s.delivered_on.isoformat(),
            "bundle_sha256": s.bundle_sha256,
            "bundle_timestamp": s.bundle_timestamp,
            "acknowledged_on": s.acknowledged_on.isoformat() if s.acknowledged_on else None,
            "response_status": s.response_status,
            "response_received_on": s.response_received_on.isoformat() if s.response_received_on else None,
            "response_published_on": s.response_published_on.isoformat() if s.response_published_on else None,
            "response": s.response,
            "days_without_response": s.silent_days(today),
        } for s in summaries_],
        "delivery_log": [{
            "seq": e.seq, "kind": e.kind, "at": e.at, "data": json.loads(e.data),
            "prev_hash": e.prev_hash, "entry_hash": e.entry_hash,
        } for e in entries],
    }


# ---- verification ----------------------------------------------------------------------------------

@dataclass
class BundleCheck:
    bundle_id: str
    ok: bool
    detail: str


@dataclass
class Verification:
    entries: int
    problems: list[chain.Problem]
    bundles: list[BundleCheck]

    @property
    def ok(self) -> bool:
        return not self.problems and all(b.ok for b in self.bundles)


def verify(session: Session, row: Letter, config) -> Verification:
    """The chain, each delivery's private details against its digest, and each delivered
    bundle: its stored PDF hashes to what the log says, and its PDF signature validates."""
    entries = log_entries(session, row.id)
    problems = chain.check(row.slug, entries)
    bundles: dict[str, str] = {}
    for entry in entries:
        if entry.kind != DELIVERED:
            continue
        data = _data(entry)
        bundles.setdefault(data.get("bundle_id", ""), data.get("bundle_sha256", ""))
        delivery = session.get(Delivery, entry.delivery_id)
        if delivery is None or details_digest(delivery.channel, recipient_of(delivery)) != data.get("details_sha256"):
            problems.append(chain.Problem(entry.seq, "the delivery's channel or recipient changed since it was logged"))
    for entry in entries:
        if entry.kind in (RESPONSE_RECEIVED, RESPONSE_PUBLISHED):
            delivery = session.get(Delivery, entry.delivery_id)
            data = _data(entry)
            if delivery is None or delivery.response is None or \
                    response_digest(delivery.response) != data.get("response_sha256"):
                problems.append(chain.Problem(entry.seq, "the stored response differs from the one logged"))
            if entry.kind == RESPONSE_PUBLISHED and response_digest(data.get("text") or "") != data.get("response_sha256"):
                problems.append(chain.Problem(entry.seq, "the published text is not the response received"))
    checks = [check_bundle(session, bundle_id, sha256, config) for bundle_id, sha256 in bundles.items()]
    return Verification(len(entries), problems, checks)


def _data(entry: DeliveryEvent) -> dict:
    """An entry's data, or {} if it is not a JSON object any more (chain.check reports that)."""
    try:
        data = json.loads(entry.data)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def check_bundle(session: Session, bundle_id: str, expected_sha256: str, config) -> BundleCheck:
    """The stored PDF is the one logged, and its PAdES signature is intact and valid.

    Trust root: the site's current signing certificate, and the certificate embedded in
    the PDF when its fingerprint is the one the bundle's manifest recorded (bundles signed
    before a key change stay checkable)."""
    # Here, not at the top: pyHanko takes a second to import and only this check needs it.
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext

    bundle = session.get(Bundle, bundle_id)
    if bundle is None:
        return BundleCheck(bundle_id, False, "the bundle is missing from the database")
    try:
        pdf = bundles.pdf_bytes(session, bundle)
    except Exception:  # noqa: BLE001 - a sealed chunk changed or is missing: say so, do not crash
        return BundleCheck(bundle_id, False, "the stored PDF cannot be read back (its sealed chunks were changed)")
    actual = hashlib.sha256(pdf).hexdigest()
    if actual != expected_sha256:
        return BundleCheck(bundle_id, False, f"the stored PDF's SHA-256 is {actual}, the log says {expected_sha256}")
    # A PAdES B-LTA bundle also carries a document timestamp after the signature.
    try:
        [embedded] = PdfFileReader(io.BytesIO(pdf), strict=False).embedded_regular_signatures
    except ValueError:
        return BundleCheck(bundle_id, False, "the PDF does not carry exactly one signature")
    roots = []
    try:
        roots.append(signing_keys.load_signer(config).signing_cert)
    except signing_keys.SigningKeyMissing:
        pass
    recorded = json.loads(bundle.manifest or "{}").get("signing_certificate_sha256")
    if embedded.signer_cert is not None and hashlib.sha256(embedded.signer_cert.dump()).hexdigest() == recorded:
        roots.append(embedded.signer_cert)
    status = validate_pdf_signature(embedded, ValidationContext(trust_roots=roots))
    if not (status.intact and status.valid):
        return BundleCheck(bundle_id, False, "the PDF signature does not validate (the file changed after signing)")
    if not status.trusted:
        return BundleCheck(bundle_id, False, "the PDF is signed by a certificate this site does not know")
    # Whole file, or (B-LTA) whole revision followed only by validation data and the
    # document timestamp, which pyHanko's difference analysis calls LTA_UPDATES.
    lta_only = status.coverage.name == "ENTIRE_REVISION" and status.modification_level is not None \
        and status.modification_level.name == "LTA_UPDATES"
    if status.coverage.name != "ENTIRE_FILE" and not lta_only:
        return BundleCheck(bundle_id, False, "the signature does not cover the whole file")
    when = bundle_timestamp(bundle)
    return BundleCheck(bundle_id, True, f"signature valid, sha256 {actual}" + (f", timestamp {when}" if when else ""))


# ---- signers' notices ------------------------------------------------------------------------------

def notice_text(event: DeliveryEvent, lang: str) -> tuple[str, str]:
    """The subject and text of the signers' notice about a log entry (an acknowledgement
    or a published response), in lang. The updates area mails it to the signers who asked
    for updates (petition/updates/delivery_notices.py, on events.delivery_logged)."""
    data = json.loads(event.data)
    name = Addressee(data["company"], data.get("platform", "")).label
    with force_locale(lang):
        on = format_date(datetime.fromisoformat(event.at).date(), "long")
        if event.kind == ACKNOWLEDGED:
            return (_("%(company)s acknowledged receipt of the letter", company=name),
                    _("On %(date)s, %(company)s confirmed that it received the letter and its signatures. "
                      "The delivery log on the letter's page shows every step.", date=on, company=name))
        return (_("%(company)s responded to the letter", company=name),
                _("%(company)s responded to the letter. Its response, word for word:", company=name)
                + "\n\n" + data.get("text", ""))


# ---- receipts --------------------------------------------------------------------------------

@dataclass(frozen=True)
class ReceiptMatch:
    title: str
    title_lang: str
    addressee: str
    delivered_on: date
    sha256: str


def check_receipt(session: Session, code: str, lang: str) -> list[ReceiptMatch]:
    """The deliveries whose bundle included the signature with this receipt code.

    The same one query runs whatever the code (also malformed ones, hashed as typed), so
    a known and an unknown code cost the same; only delivered bundles are answered for."""
    hashed = receipt_hash(code if normalise_receipt(code) else "-")
    rows = session.execute(
        select(Delivery.company, Delivery.platform, Delivery.delivered_on, Bundle.sha256, Letter.slug)
        .join(Bundle, Bundle.id == Delivery.bundle_id)
        .join(BundleReceipt, BundleReceipt.bundle_id == Bundle.id)
        .join(Letter, Letter.id == Delivery.letter_id)
        .where(BundleReceipt.receipt_hash == hashed)
        .order_by(Delivery.delivered_on, Delivery.id)
    ).all()
    matches = []
    for company, platform, delivered_on, sha256, slug in rows:
        letter = letters.loaded(slug)
        text = letter.text_for(lang) if letter else None
        matches.append(ReceiptMatch(text.front.title if text else slug, text.lang if text else lang,
                                    Addressee(company, platform).label, delivered_on, sha256))
    return matches
