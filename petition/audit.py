"""The audit log: every lead action that touches signers' data. Written in the same
transaction as the action, readable by administrators. Never holds personal data."""
from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, Session, mapped_column

from petition.accounts import User
from petition.extensions import db
from petition.models_common import BigId, UTCDateTime, utcnow


class AuditEntry(db.Model):
    """What a lead did to signers' data. Says what and which letter, never whose data."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    actor_label: Mapped[str] = mapped_column(String(120))  # the user's name, or "command line"
    action: Mapped[str] = mapped_column(String(60))
    letter_id: Mapped[int | None] = mapped_column(ForeignKey("letters.id", ondelete="SET NULL"), index=True)
    detail: Mapped[str | None] = mapped_column(Text)  # JSON, no personal data


def record(session: Session, actor: User | None, action: str, letter_id: int | None = None, **detail) -> AuditEntry:
    """actor None means the command line (purges, exports run by an operator)."""
    entry = AuditEntry(
        actor_id=actor.id if actor else None,
        actor_label=actor.display_name if actor else "command line",
        action=action,
        letter_id=letter_id,
        detail=json.dumps(detail, ensure_ascii=False, sort_keys=True, default=str) if detail else None,
    )
    session.add(entry)
    return entry
