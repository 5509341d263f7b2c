from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Date, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from petition.extensions import db
from petition.models_common import UTCDateTime, utcnow


class Letter(db.Model):
    """A letter as the database knows it: its files' shared facts and its live status.

    The texts stay in letters/<slug>/ and are served from memory; the database keeps
    what signatures point to and what campaign leads change (status).
    """

    __tablename__ = "letters"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    status: Mapped[str] = mapped_column(String(12))
    # The status the files said at the last sync: a lead's change in the console
    # stands until someone edits the status in the files.
    file_status: Mapped[str] = mapped_column(String(12))
    opens_on: Mapped[date | None] = mapped_column(Date)
    closes_on: Mapped[date | None] = mapped_column(Date)
    default_language: Mapped[str] = mapped_column(String(8))
    languages: Mapped[str] = mapped_column(String(64))  # comma-separated, file order
    public_visibility_default: Mapped[str] = mapped_column(String(10))
    bundle_default: Mapped[str] = mapped_column(String(10))
    retention_days: Mapped[int] = mapped_column(Integer)
    discreet_mail: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    purged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def language_list(self) -> list[str]:
        return [code for code in self.languages.split(",") if code]


class LetterVersion(db.Model):
    """Every text a signer may have read: the hash a signature records."""

    __tablename__ = "letter_versions"
    __table_args__ = (UniqueConstraint("letter_id", "lang", "version_hash"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    letter_id: Mapped[int] = mapped_column(ForeignKey("letters.id", ondelete="CASCADE"), index=True)
    lang: Mapped[str] = mapped_column(String(8))
    version_hash: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
