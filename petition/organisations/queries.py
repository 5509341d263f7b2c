"""Read-only queries about organisations that other areas (letter page, API, bundle) use."""
from __future__ import annotations

from sqlalchemy import func, select

from petition.extensions import db
from petition.organisations.models import Organisation


def approved_count(letter_id: int) -> int:
    return db.session.scalar(
        select(func.count()).select_from(Organisation).where(
            Organisation.letter_id == letter_id, Organisation.status == "approved"
        )
    ) or 0


def approved(letter_id: int) -> list[Organisation]:
    """Approved co-signers in the order they were approved (initiators come from the file)."""
    return list(db.session.scalars(
        select(Organisation)
        .where(Organisation.letter_id == letter_id, Organisation.status == "approved")
        .order_by(Organisation.approved_at, Organisation.id)
    ))
