"""Read-only queries on signatures for public pages: only what signers chose to show."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from petition.extensions import db
from petition.signing.models import Signature

PAGE_SIZE = 50  # the cap on one page of the public list; there is no bulk endpoint


@dataclass(frozen=True)
class PublicSignature:
    id: int
    name: str
    affiliation: str | None
    country: str
    confirmed_at: object


@dataclass(frozen=True)
class PublicPage:
    rows: list[PublicSignature]
    next_before: int | None


def _public_query(letter_id: int):
    return (
        select(Signature.id, Signature.public_name, Signature.public_affiliation, Signature.country, Signature.confirmed_at)
        .where(
            Signature.letter_id == letter_id,
            Signature.status == "confirmed",
            Signature.hidden.is_(False),
            Signature.public_name.is_not(None),
        )
        .order_by(Signature.confirmed_at.desc(), Signature.id.desc())
    )


def _rows(query) -> list[PublicSignature]:
    return [PublicSignature(id=r.id, name=r.public_name, affiliation=r.public_affiliation, country=r.country,
                            confirmed_at=r.confirmed_at) for r in db.session.execute(query)]


def recent_public(letter_id: int, limit: int = 10) -> list[PublicSignature]:
    return _rows(_public_query(letter_id).limit(limit))


def public_page(letter_id: int, before: int | None = None, size: int = PAGE_SIZE) -> PublicPage:
    """Keyset pagination (by id, newest first): page 10,000 costs what page 1 costs."""
    size = max(1, min(size, PAGE_SIZE))
    query = _public_query(letter_id).order_by(None).order_by(Signature.id.desc()).limit(size + 1)
    if before is not None:
        query = query.where(Signature.id < before)
    rows = _rows(query)
    next_before = rows[size - 1].id if len(rows) > size else None
    return PublicPage(rows=rows[:size], next_before=next_before)
