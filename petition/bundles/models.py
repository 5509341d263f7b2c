from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from petition.extensions import db
from petition.models_common import UTCDateTime, utcnow


class Bundle(db.Model):
    """A built, signed PDF of a letter and its signatories, kept in the database so that
    every app server can serve it (no instance-local files). The PDF names people who
    are not named publicly, so it is stored encrypted, in BundleChunk rows
    (petition/bundles/storage.py); sha256 is that of the plain PDF, as delivered."""

    __tablename__ = "bundles"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # public bundle identifier
    letter_id: Mapped[int] = mapped_column(ForeignKey("letters.id", ondelete="CASCADE"), index=True)
    lang: Mapped[str] = mapped_column(String(8))
    version_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    built_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    sha256: Mapped[str] = mapped_column(String(64))
    pages: Mapped[int] = mapped_column(Integer)
    size_bytes: Mapped[int] = mapped_column(Integer)
    manifest: Mapped[str] = mapped_column(Text)  # JSON, as written beside the PDF (receipts: see services.manifest_chunks)
    # The signature's PAdES level (PAdES-B-B, -B-T, -B-LTA) and, from B-T on, the time its
    # RFC 3161 timestamp vouches for and the authority that issued it.
    signature_level: Mapped[str | None] = mapped_column(String(16))
    timestamped_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    timestamp_authority: Mapped[str | None] = mapped_column(String(300))
    # The PDF's own key, Fernet-wrapped under DATA_KEYS (set by storage.store for every bundle;
    # nullable only because SQLite cannot add a NOT NULL column to a table with rows).
    pdf_key: Mapped[str | None] = mapped_column(Text)


class BundleChunk(db.Model):
    """One sealed chunk (AES-256-GCM, about 1 MB) of a bundle's PDF, in order."""

    __tablename__ = "bundle_chunks"

    bundle_id: Mapped[str] = mapped_column(ForeignKey("bundles.id", ondelete="CASCADE"), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class BundleReceipt(db.Model):
    """One receipt hash per signature included in a bundle: lets a signer check, with the
    code from their email, that they were in it, and nothing else."""

    __tablename__ = "bundle_receipts"

    bundle_id: Mapped[str] = mapped_column(ForeignKey("bundles.id", ondelete="CASCADE"), primary_key=True)
    receipt_hash: Mapped[str] = mapped_column(String(64), primary_key=True, index=True)

