"""Building signatures and organisations the way the site does, for the privacy tests."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from petition.extensions import db
from petition.signing import intake
from petition.letters import services as letters
from petition.models_common import utcnow
from petition.signing.models import Signature
from tests.helpers import confirm_from_mail, outbox_messages, publish_names, sign_letter

SLUG = "secure-our-socials"
OTHER = "protect-women-hrds"


def signed(app, client, email: str, name: str, *, slug: str = SLUG, public: str = "full", bundle: str = "named",
           confirm: bool = True, lang: str = "en", affiliation: str = "") -> None:
    response = sign_letter(client, slug, lang, email=email, name=name, public_visibility=public,
                           bundle_visibility=bundle, affiliation=affiliation)
    assert response.status_code == 303, response.status_code
    if confirm:
        done = confirm_from_mail(client, app, outbox_messages(app)[-1], public_visibility=public, bundle_visibility=bundle)
        assert done.status_code == 200, done.status_code
        publish_names(app)  # listed at once, as if its batch were due


def organisation(app, slug: str, name: str, contact_email: str, *, approve: bool) -> None:
    """An organisation co-signature through the organisations service (pending, or
    confirmed and approved)."""
    from petition.organisations import services as orgs
    from petition.organisations.models import Organisation

    with app.test_request_context("/en/"):
        row = letters.letter_row(slug)
        orgs.sign(db.session, row, orgs.OrganisationRequest(
            name=name, country="LB", website="https://example.org", contact_name="Contact Person",
            contact_email=contact_email, statement="We stand with this letter.", lang="en"))
        db.session.commit()
        intake.drain()
        if approve:
            # Names are encrypted at rest: found in Python, not in SQL.
            [org] = [o for o in db.session.scalars(select(Organisation)) if o.name == name]
            org.status = "approved"
            org.confirmed_at = org.approved_at = utcnow()
            org.confirm_nonce_hash = None
            db.session.commit()
        db.session.remove()


def close(app, slug: str, days_ago: int) -> None:
    with app.app_context():
        row = letters.letter_row(slug)
        letters.set_status(row, "closed")
        row.closed_at = utcnow() - timedelta(days=days_ago)
        db.session.commit()
        db.session.remove()


def count(app, *where) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Signature).where(*where))
