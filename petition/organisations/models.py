from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from petition.extensions import db
from petition.models_common import UTCDateTime, utcnow

# pending: the contact has not confirmed their address yet
# awaiting: confirmed, waiting for a campaign lead
# approved / rejected: decided by a lead
ORG_STATUSES = ("pending", "awaiting", "approved", "rejected")


class Organisation(db.Model):
    """An organisation co-signing a letter. Its contact person and address are never public."""

    __tablename__ = "organisations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    letter_id: Mapped[int] = mapped_column(ForeignKey("letters.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(10), default="pending")
    name: Mapped[str] = mapped_column(String(200))
    country: Mapped[str] = mapped_column(String(2))
    website: Mapped[str | None] = mapped_column(String(300))
    statement: Mapped[str | None] = mapped_column(Text)
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
    # Keyed hash of the one-time withdrawal code shown after confirming (signing/withdraw_codes.py).
    withdraw_code_hash: Mapped[str | None] = mapped_column(String(64), index=True, unique=True)
    mail_day: Mapped[date | None] = mapped_column(Date)
    mail_count: Mapped[int] = mapped_column(Integer, default=0)
