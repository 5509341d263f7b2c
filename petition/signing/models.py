from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Boolean, Date, ForeignKey, Index, Integer, String, Text, and_, text
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import Mapped, mapped_column

from petition.extensions import db
from petition.models_common import BigId, UTCDateTime, utcnow


class Signature(db.Model):
    """One person's signature on one letter.

    Only what the signer chose to show is stored in the clear (public_name,
    public_affiliation, country). The address, full name and affiliation are Fernet
    tokens; email_hash is an HMAC of the canonical address. A pending row is one request
    (with the details that request typed); the unique pair (letter, email_hash) among
    confirmed rows is what makes "one signature per person per letter" race-safe.
    """

    __tablename__ = "signatures"
    __table_args__ = (
        # One confirmed signature per person per letter; pending rows are one per request
        # (each keeps the details its own request typed), so the unique pair holds only
        # among confirmed rows and decides races between two confirmations.
        Index("uq_signatures_confirmed_email", "letter_id", "email_hash", unique=True,
              sqlite_where=text("status = 'confirmed'"), postgresql_where=text("status = 'confirmed'")),
        Index("ix_signatures_email", "letter_id", "email_hash"),
        Index("ix_signatures_public", "letter_id", "status", "confirmed_at"),
        # The public lists read published names in this order (signing/publication.py).
        Index("ix_signatures_published", "letter_id", "public_rank", unique=True),
        # What the publication job looks for: confirmed public names not yet published.
        Index("ix_signatures_unpublished", "letter_id", "confirmed_at",
              sqlite_where=text("public_rank IS NULL AND public_name IS NOT NULL"),
              postgresql_where=text("public_rank IS NULL AND public_name IS NOT NULL")),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    letter_id: Mapped[int] = mapped_column(ForeignKey("letters.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(10), default="pending")  # pending | confirmed
    email_hash: Mapped[str | None] = mapped_column(String(64))
    email_enc: Mapped[str | None] = mapped_column(Text)
    name_enc: Mapped[str | None] = mapped_column(Text)
    affiliation_enc: Mapped[str | None] = mapped_column(Text)
    public_name: Mapped[str | None] = mapped_column(String(200))
    public_affiliation: Mapped[str | None] = mapped_column(String(200))
    country: Mapped[str] = mapped_column(String(2), default="ZZ")
    lang: Mapped[str] = mapped_column(String(8))
    public_visibility: Mapped[str] = mapped_column(String(10))
    bundle_visibility: Mapped[str] = mapped_column(String(10))
    updates_opt_in: Mapped[bool] = mapped_column(Boolean, default=False)
    version_hash: Mapped[str] = mapped_column(String(64))
    hidden: Mapped[bool] = mapped_column(Boolean, default=False)
    hidden_reason: Mapped[str | None] = mapped_column(Text)
    hidden_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    confirm_nonce_hash: Mapped[str | None] = mapped_column(String(64))
    manage_nonce_hash: Mapped[str | None] = mapped_column(String(64))

    # What a letter counts: its public count, the bundle's annex, the console's figures
    # and exports, who may be mailed its updates. A confirmed signature that no lead has
    # hidden (a withdrawn one is deleted). Written once, for SQL and for Python.
    @hybrid_property
    def counted(self) -> bool:
        return is_counted(self)

    @counted.inplace.expression
    @classmethod
    def _counted_in_sql(cls):
        return and_(cls.status == "confirmed", cls.hidden.is_(False))
    receipt_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    # The manage (withdraw) link's nonce, encrypted, so that a later "you have already
    # signed" mail repeats the same link instead of replacing the one already mailed.
    manage_nonce_enc: Mapped[str | None] = mapped_column(Text)
    # The address's domain, for spike detection: grouped by a keyed hash, shown to leads
    # from the encrypted copy, so a dump does not say which provider anyone uses.
    email_domain_hash: Mapped[str | None] = mapped_column(String(64))
    email_domain_enc: Mapped[str | None] = mapped_column(Text)
    synthetic: Mapped[bool] = mapped_column(Boolean, default=False)
    # Keyed hash of the one-time withdrawal code shown after confirming (withdraw_codes.py).
    withdraw_code_hash: Mapped[str | None] = mapped_column(String(64), index=True, unique=True)
    # Set when the public name is published in a batch (publication.py): the day shown,
    # and the place in the public list (batches in turn, random order within a batch).
    published_on: Mapped[date | None] = mapped_column(Date)
    public_rank: Mapped[int | None] = mapped_column(BigInteger)



def is_counted(signature) -> bool:
    """Signature.counted for an ORM object or a Core row with status and hidden."""
    return signature.status == "confirmed" and not signature.hidden

class SignatureCounter(db.Model):
    """Confirmed signatures per letter, spread over shards.

    A surge of confirmations on one letter would serialise on a single counter row (the
    failure that took the UK petitions site down in 2019); with SHARDS rows per letter
    concurrent confirmations mostly touch different rows, and a read is a SUM of SHARDS
    small rows, cached for a couple of seconds. `flask signatures reconcile` recomputes
    them from the signatures table.
    """

    __tablename__ = "signature_counters"

    SHARDS = 16

    letter_id: Mapped[int] = mapped_column(ForeignKey("letters.id", ondelete="CASCADE"), primary_key=True)
    shard: Mapped[int] = mapped_column(Integer, primary_key=True)
    confirmed: Mapped[int] = mapped_column(BigId, default=0)


class SignRequest(db.Model):
    """A signing request as the form posted it, before anyone has looked at it.

    The web request writes this one row, whatever the address's state, so that it takes
    the same time for an address that never signed as for one that did (no timing
    oracle). The intake worker reads it later, decides what to mail and deletes it. All
    of it but the kind and the letter is one Fernet token."""

    __tablename__ = "sign_requests"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    letter_id: Mapped[int] = mapped_column(ForeignKey("letters.id", ondelete="CASCADE"))
    payload_enc: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class MailQuota(db.Model):
    """How many mails one mailbox (or one letter's intake) had on one day or minute: the
    caps on mail a stranger can make the platform send. The key is a keyed hash of the
    scope, so a dump does not name the mailbox."""

    __tablename__ = "mail_quotas"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    day: Mapped[date] = mapped_column(Date, index=True)
    count: Mapped[int] = mapped_column(Integer, default=0)
