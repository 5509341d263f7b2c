"""The audit log: every lead action that touches signers' data. Written in the same
transaction as the action, readable by administrators. Never holds personal data."""
from __future__ import annotations

import json

from sqlalchemy.orm import Session

from petition.console.models import AuditEntry, User


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
