"""Read-only queries on signatures for public pages: only what signers chose to show,
and only once published (signing/publication.py): in the order of the public list
(batch after batch, random within a batch), dated by day."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select

from petition.extensions import db
from petition.signing.models import Signature
from petition.signing.publication import published_conditions

PAGE_SIZE = 50  # the cap on one page of the public list; there is no bulk endpoint


@dataclass(frozen=True)
class PublicSignature:
    rank: int  # the place in the public list, newest batch highest
    name: str
    affiliation: str | None
    country: str
    published_on: date  # a day, never a time: the day its batch was published


@dataclass(frozen=True)
class PublicPage:
    rows: list[PublicSignature]
    next_before: int | None


def _public_query(letter_id: int):
    return (
        select(Signature.public_rank, Signature.public_name, Signature.public_affiliation, Signature.country,
               Signature.published_on)
        .where(Signature.letter_id == letter_id, *published_conditions())
        .order_by(Signature.public_rank.desc())
    )


def _rows(query) -> list[PublicSignature]:
    return [PublicSignature(rank=r.public_rank, name=r.public_name, affiliation=r.public_affiliation, country=r.country,
                            published_on=r.published_on) for r in db.session.execute(query)]


def recent_public(letter_id: int, limit: int = 10) -> list[PublicSignature]:
    return _rows(_public_query(letter_id).limit(limit))


def public_page(letter_id: int, before: int | None = None, size: int = PAGE_SIZE) -> PublicPage:
    """Keyset pagination by place in the list, newest first: page 10,000 costs what
    page 1 costs."""
    size = max(1, min(size, PAGE_SIZE))
    query = _public_query(letter_id).limit(size + 1)
    if before is not None:
        query = query.where(Signature.public_rank < before)
    rows = _rows(query)
    next_before = rows[size - 1].rank if len(rows) > size else None
    return PublicPage(rows=rows[:size], next_before=next_before)
