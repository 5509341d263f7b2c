from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Date, ForeignKey, Integer, LargeBinary, String, Text, UniqueConstraint
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
    # The signature goal shown with the progress bar: the file's `goal`, moved to the next
    # round number by the milestone sweep when `auto_goal` is on (so it can differ from
    # file_goal, which is what the files said at the last sync: an edit there wins).
    goal: Mapped[int | None] = mapped_column(Integer)
    file_goal: Mapped[int | None] = mapped_column(Integer)
    auto_goal: Mapped[bool] = mapped_column(Boolean, default=False)
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


class Milestone(db.Model):
    """A goal the letter reached: written once by the milestone sweep (the unique pair is
    what makes "one mail per milestone" hold with several workers), shown in the feeds."""

    __tablename__ = "letter_milestones"
    __table_args__ = (UniqueConstraint("letter_id", "goal"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    letter_id: Mapped[int] = mapped_column(ForeignKey("letters.id", ondelete="CASCADE"), index=True)
    goal: Mapped[int] = mapped_column(Integer)
    reached_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ShareImage(db.Model):
    """The 1200 x 630 preview image of a letter in one language, rendered by a job at
    sync time and again when the count enters another band; served with a long cache
    under its digest, so a new image is a new address."""

    __tablename__ = "share_images"
    __table_args__ = (UniqueConstraint("letter_id", "lang"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    letter_id: Mapped[int] = mapped_column(ForeignKey("letters.id", ondelete="CASCADE"), index=True)
    lang: Mapped[str] = mapped_column(String(8))
    band: Mapped[int] = mapped_column(Integer)
    # share_image.design_key(): a hash of everything the picture shows and its stylesheet
    version_hash: Mapped[str] = mapped_column(String(64))
    digest: Mapped[str] = mapped_column(String(32))
    png: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PublishedUpdate(db.Model):
    """An update a lead chose to publish in the letter's public feed (updates are mailed
    to opted-in signers only unless the lead ticks "publish")."""

    __tablename__ = "published_updates"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    letter_id: Mapped[int] = mapped_column(ForeignKey("letters.id", ondelete="CASCADE"), index=True)
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    published_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
