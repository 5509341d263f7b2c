from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from petition.extensions import db
from petition.models_common import UTCDateTime, utcnow


class Job(db.Model):
    """Long work (bundle builds, update mailings) queued by a request, run by a worker."""

    __tablename__ = "jobs"
    __table_args__ = (
        # At most one queued or running job per coalesce key (a bundle of one letter in one
        # language): a second request made meanwhile gets the first one's job.
        Index("uq_jobs_active_coalesce_key", "coalesce_key", unique=True,
              sqlite_where=text("status IN ('queued', 'running')"),
              postgresql_where=text("status IN ('queued', 'running')")),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(40), index=True)
    payload: Mapped[str] = mapped_column(Text, default="{}")  # JSON, no personal data
    status: Mapped[str] = mapped_column(String(10), default="queued", index=True)
    progress: Mapped[int] = mapped_column(Integer, default=0)  # 0..100
    message: Mapped[str | None] = mapped_column(String(300))
    result: Mapped[str | None] = mapped_column(Text)  # JSON
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    letter_id: Mapped[int | None] = mapped_column(ForeignKey("letters.id", ondelete="CASCADE"), index=True)
    requested_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)  # the lease, renewed while it runs
    coalesce_key: Mapped[str | None] = mapped_column(String(120))
