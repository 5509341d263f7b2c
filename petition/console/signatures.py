"""What a lead sees of individual signatures: the public fields, the id, and whether the
signature is hidden. Never the address or the full name behind "initials only"."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from petition.signing.models import Signature

PAGE = 50


@dataclass(frozen=True)
class LeadView:
    id: int
    name: str | None  # public_name: None for "not listed"
    affiliation: str | None
    country: str
    lang: str
    confirmed_at: datetime | None
    hidden: bool
    hidden_reason: str | None


def _view(sig) -> LeadView:
    return LeadView(id=sig.id, name=sig.public_name, affiliation=sig.public_affiliation, country=sig.country,
                    lang=sig.lang, confirmed_at=sig.confirmed_at, hidden=sig.hidden, hidden_reason=sig.hidden_reason)


def search(session: Session, letter_id: int, query: str = "", signature_id: int | None = None,
           hidden_only: bool = False, before: int | None = None, size: int = PAGE) -> tuple[list[LeadView], int | None]:
    """Confirmed signatures newest first, optionally by id, by public name (substring,
    case-insensitive) or hidden only. Returns (rows, id to continue before)."""
    stmt = select(Signature).where(Signature.letter_id == letter_id, Signature.status == "confirmed")
    if signature_id is not None:
        stmt = stmt.where(Signature.id == signature_id)
    if query:
        escaped = query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        stmt = stmt.where(Signature.public_name.ilike(f"%{escaped}%", escape="\\"))
    if hidden_only:
        stmt = stmt.where(Signature.hidden.is_(True))
    if before is not None:
        stmt = stmt.where(Signature.id < before)
    rows = list(session.scalars(stmt.order_by(Signature.id.desc()).limit(size + 1)))
    more = rows[size - 1].id if len(rows) > size else None
    return [_view(sig) for sig in rows[:size]], more


def get(session: Session, letter_id: int, signature_id: int) -> Signature | None:
    return session.scalar(select(Signature).where(Signature.letter_id == letter_id, Signature.id == signature_id,
                                                  Signature.status == "confirmed"))
