from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from petition.extensions import db
from petition.models_common import BigId, UTCDateTime, utcnow


class PaperImport(db.Model):
    """One CSV file of paper signatures, imported as a whole by a lead, with the consent
    statement they confirmed (in the words the console showed them)."""

    __tablename__ = "paper_imports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    letter_id: Mapped[int] = mapped_column(ForeignKey("letters.id", ondelete="CASCADE"), index=True)
    imported_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    rows: Mapped[int] = mapped_column(Integer)
    file_sha256: Mapped[str] = mapped_column(String(64))
    consent_statement: Mapped[str] = mapped_column(Text)


class PaperSignature(db.Model):
    """One signature collected on paper or offline. The name (or initials) as written is
    personal data: a Fernet token like signers' names. The country, the day and the place
    of collection are its provenance, printed in the bundle's paper section."""

    __tablename__ = "paper_signatures"
    __table_args__ = (Index("ix_paper_signatures_letter", "letter_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    letter_id: Mapped[int] = mapped_column(ForeignKey("letters.id", ondelete="CASCADE"))
    import_id: Mapped[int] = mapped_column(ForeignKey("paper_imports.id", ondelete="CASCADE"), index=True)
    name_enc: Mapped[str] = mapped_column(Text)
    country: Mapped[str] = mapped_column(String(2), default="ZZ")
    bundle_visibility: Mapped[str] = mapped_column(String(10))  # named | counted
    collected_on: Mapped[date] = mapped_column(Date)
    place: Mapped[str] = mapped_column(String(200))
