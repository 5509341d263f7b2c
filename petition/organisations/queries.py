"""Read-only queries about organisations that other areas (letter page, API, bundle) use."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from petition.extensions import db
from petition.letters import services as letters
from petition.organisations.models import Organisation


def approved_count(letter_id: int) -> int:
    return db.session.scalar(
        select(func.count()).select_from(Organisation).where(
            Organisation.letter_id == letter_id, Organisation.status == "approved"
        )
    ) or 0


letters.register_signer_count("organizations", approved_count)


def approved(letter_id: int) -> list[Organisation]:
    """Approved co-signers in the order they were approved (initiators come from the file)."""
    return list(db.session.scalars(
        select(Organisation)
        .where(Organisation.letter_id == letter_id, Organisation.status == "approved")
        .order_by(Organisation.approved_at, Organisation.id)
    ))


def awaiting_count(letter_id: int) -> int:
    """Organisations that confirmed their address and wait for a lead."""
    return db.session.scalar(
        select(func.count()).select_from(Organisation).where(
            Organisation.letter_id == letter_id, Organisation.status == "awaiting"
        )
    ) or 0


def by_status(letter_id: int, status: str) -> list[Organisation]:
    """For the console's moderation queue: oldest first (approved: in approval order)."""
    order = (Organisation.approved_at, Organisation.id) if status == "approved" else (Organisation.confirmed_at, Organisation.id)
    return list(db.session.scalars(
        select(Organisation).where(Organisation.letter_id == letter_id, Organisation.status == status).order_by(*order)
    ))


def get(letter_id: int, organisation_id: int) -> Organisation | None:
    """One organisation of one letter (None if it belongs to another letter)."""
    return db.session.scalar(
        select(Organisation).where(Organisation.letter_id == letter_id, Organisation.id == organisation_id)
    )


@dataclass(frozen=True)
class ListedOrganisation:
    name: str
    country: str | None
    website: str | None
    statement: str | None
    initiator: bool


def listed(letter_id: int, initiators) -> list[ListedOrganisation]:
    """Every organisation shown with a letter, in the one order used everywhere (letter
    page, API, delivered bundle): the initiators from the letter's file first, in file
    order, then the approved co-signers in the order they were approved.

    `initiators` is LoadedLetter.meta.initiators (objects with .name and .website)."""
    out = [ListedOrganisation(name=i.name, country=None, website=str(i.website) if getattr(i, "website", None) else None,
                              statement=None, initiator=True) for i in initiators]
    out += [ListedOrganisation(name=o.name, country=o.country, website=o.website, statement=o.statement, initiator=False)
            for o in approved(letter_id)]
    return out
