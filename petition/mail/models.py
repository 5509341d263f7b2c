from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from petition.extensions import db
from petition.models_common import BigId, UTCDateTime, utcnow


class OutboxMessage(db.Model):
    """An email waiting to be sent, written in the same transaction as what caused it.

    The whole message (recipient, subject, bodies, headers) is one Fernet token: the
    confirmation links inside are capabilities and the address is personal data. A row is
    deleted once the SMTP server has accepted it.
    """

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_due", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    payload_enc: Mapped[str] = mapped_column(Text)
    purpose: Mapped[str] = mapped_column(String(20))
    letter_id: Mapped[int | None] = mapped_column(ForeignKey("letters.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(String(300))
