"""Every irreversible console action asks first, on a page of its own (no JavaScript):
the first POST changes nothing and answers with console/confirm.html; only the POST
from that page's button acts."""
from __future__ import annotations

from sqlalchemy import func, select

from petition.crypto import encrypt
from petition.extensions import db
from petition.jobs.models import Job
from petition.letters import services as letters
from petition.mail.models import OutboxMessage
from petition.models_common import utcnow
from petition.organisations.models import Organisation
from tests.console.support import confirm, logged_in, make_user
from tests.helpers import csrf_token

SLUG = "secure-our-socials"


def awaiting_organisations(app, count: int) -> list[int]:
    with app.app_context():
        row = letters.letter_row(SLUG)
        orgs = [Organisation(letter_id=row.id, status="awaiting", name=f"Association {i}", country="LB", lang="en",
                             contact_email_enc=encrypt(f"contact{i}@example.org"), contact_name_enc=encrypt("Rania"),
                             confirmed_at=utcnow()) for i in range(count)]
        db.session.add_all(orgs)
        db.session.commit()
        return [org.id for org in orgs]


def state(app):
    with app.app_context():
        return (letters.letter_row(SLUG).status,
                sorted(tuple(r) for r in db.session.execute(select(Organisation.id, Organisation.status))),
                db.session.scalar(select(func.count()).select_from(OutboxMessage)),
                db.session.scalar(select(func.count()).select_from(Job)))


def test_irreversible_actions_ask_on_a_page_of_their_own(bare_app):
    approve_id, reject_id = awaiting_organisations(bare_app, 2)
    lead = make_user(bare_app, "lead@example.org", slugs=(SLUG,))
    client = logged_in(bare_app.test_client(), bare_app, lead, "ar")
    token = csrf_token(client.get(f"/ar/console/letters/{SLUG}/organisations").text)
    base = f"/ar/console/letters/{SLUG}"
    actions = [
        (f"{base}/status", {"status": "closed"}),
        (f"{base}/organisations/{approve_id}/approve", {}),
        (f"{base}/organisations/{reject_id}/reject", {f"r{reject_id}-reason": "Not an organisation.\nSorry."}),
        (f"{base}/updates", {"subject": "News", "body": "One.\n\nTwo."}),
    ]
    before = state(bare_app)
    for action, data in actions:
        asked = client.post(action, data={"csrf_token": token, **data})
        assert asked.status_code == 200, action
        assert 'lang="ar"' in asked.text and 'name="confirmed" type="hidden" value="yes"' in asked.text
        assert "<form" in asked.text and "onclick" not in asked.text
    assert state(bare_app) == before  # asking changed nothing

    for action, data in actions:
        assert confirm(client, action, {"csrf_token": token, **data}).status_code == 303, action
    status, orgs, mails, jobs = state(bare_app)
    # (a rejected organisation's row may be deleted at once: only its absence is checked)
    assert status == "closed" and dict(orgs).get(approve_id) == "approved"
    assert dict(orgs).get(reject_id) in (None, "rejected")
    assert mails == 2 and jobs == 1  # the two decisions' emails, the update's job
