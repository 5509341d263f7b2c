from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from petition.extensions import db
from petition.models_common import EncryptedText, UTCDateTime, utcnow

# pending: the contact has not confirmed their address yet
# awaiting: confirmed, waiting for a campaign lead
# approved / rejected: decided by a lead
ORG_STATUSES = ("pending", "awaiting", "approved", "rejected")
SIGNED_SQL = "status IN ('awaiting', 'approved')"


class Organisation(db.Model):
    """An organisation co-signing a letter. Its contact person and address are never public."""

    __tablename__ = "organisations"
    __table_args__ = (
        # One confirmed co-signature per contact address per letter; pending requests are
        # one row each, with the details their own request typed.
        Index("uq_organisations_signed_contact", "letter_id", "contact_email_hash", unique=True,
              sqlite_where=text(SIGNED_SQL), postgresql_where=text(SIGNED_SQL)),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    letter_id: Mapped[int] = mapped_column(ForeignKey("letters.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(10), default="pending")
    # What the contact typed is encrypted at rest: a pending, waiting or rejected
    # organisation is not public, and a dump must not show more than the site.
    name: Mapped[str] = mapped_column(EncryptedText)
    country: Mapped[str] = mapped_column(String(2))
    website: Mapped[str | None] = mapped_column(EncryptedText)
    statement: Mapped[str | None] = mapped_column(EncryptedText)
    contact_name_enc: Mapped[str | None] = mapped_column(Text)
    contact_email_enc: Mapped[str | None] = mapped_column(Text)
    contact_email_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    contact_domain_matches: Mapped[bool | None] = mapped_column()
    lang: Mapped[str] = mapped_column(String(8))
    rejection_reason: Mapped[str | None] = mapped_column(Text)
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    confirm_nonce_hash: Mapped[str | None] = mapped_column(String(64))
    manage_nonce_hash: Mapped[str | None] = mapped_column(String(64))
    # As for signatures: the manage link's nonce, encrypted, so that later mails repeat it.
    manage_nonce_enc: Mapped[str | None] = mapped_column(Text)
    # Keyed hash of the one-time withdrawal code shown after confirming (signing/withdraw_codes.py).
    withdraw_code_hash: Mapped[str | None] = mapped_column(String(64), index=True, unique=True)
