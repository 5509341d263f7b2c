from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select

from petition.bundles.models import Bundle, Delivery
from petition.extensions import db


@dataclass(frozen=True)
class PublicDelivery:
    addressee: str
    delivered_on: date
    channel: str
    response: str | None
    bundle_id: str
    sha256: str


def deliveries(letter_id: int) -> list[PublicDelivery]:
    """Recorded deliveries of a letter, newest first, with the delivered bundle's hash."""
    rows = db.session.execute(
        select(Delivery, Bundle.sha256)
        .join(Bundle, Bundle.id == Delivery.bundle_id)
        .where(Delivery.letter_id == letter_id)
        .order_by(Delivery.delivered_on.desc(), Delivery.id.desc())
    )
    return [
        PublicDelivery(d.addressee, d.delivered_on, d.channel, d.response, d.bundle_id, sha)
        for d, sha in rows
    ]
