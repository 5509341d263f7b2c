from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from petition.extensions import db
from petition.models_common import UTCDateTime, utcnow


class Delivery(db.Model):
    """A bundle handed to one addressee (a company, or one of its platforms the letter
    names); one per addressee (services.record checks, under the letter's lock). The working state the company's page and the console read; what the public
    sees comes from DeliveryEvent, the chained log, never from these columns."""

    __tablename__ = "deliveries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    letter_id: Mapped[int] = mapped_column(ForeignKey("letters.id", ondelete="CASCADE"), index=True)
    bundle_id: Mapped[str] = mapped_column(ForeignKey("bundles.id", ondelete="RESTRICT"))
    company: Mapped[str] = mapped_column(String(300))
    platform: Mapped[str] = mapped_column(String(300), default="")  # "" when the company as a whole
    delivered_on: Mapped[date] = mapped_column(Date)
    channel: Mapped[str] = mapped_column(String(200))
    # The person or office it went to: console only, and encrypted like signers' details
    # (a name at the company is personal data); None when not stated.
    recipient_enc: Mapped[str | None] = mapped_column(Text)
    # SHA-256 of the company's capability token; the token itself is shown once.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    recorded_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    response: Mapped[str | None] = mapped_column(Text)  # the company's words, exactly as sent
    response_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class DeliveryEvent(db.Model):
    """One entry of a letter's public delivery log. Rows are only ever inserted; each
    one's entry_hash covers its content and the previous entry's hash (see chain.py), so
    a changed, removed or reordered row breaks every hash after it."""

    __tablename__ = "delivery_log"
    __table_args__ = (UniqueConstraint("letter_id", "seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    letter_id: Mapped[int] = mapped_column(ForeignKey("letters.id", ondelete="CASCADE"), index=True)
    seq: Mapped[int] = mapped_column(Integer)  # 1, 2, 3... per letter
    delivery_id: Mapped[int] = mapped_column(ForeignKey("deliveries.id", ondelete="RESTRICT"), index=True)
    kind: Mapped[str] = mapped_column(String(32))  # delivered, acknowledged, response_received, response_published
    at: Mapped[str] = mapped_column(String(32))  # ISO 8601 text, hashed as stored
    data: Mapped[str] = mapped_column(Text)  # canonical JSON, hashed as stored
    prev_hash: Mapped[str] = mapped_column(String(64))
    entry_hash: Mapped[str] = mapped_column(String(64), unique=True)
