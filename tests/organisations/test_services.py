"""The organisation rules without HTTP: sign, confirm, approve/reject, withdraw."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from petition import tokens
from petition.audit import AuditEntry
from petition.extensions import db
from petition.letters import services as letters
from petition.organisations import queries, services
from petition.organisations.models import Organisation
from petition.signing import withdraw_codes
from tests.console.support import make_user
from tests.helpers import links_in, outbox_messages, process_intake

SLUG = "secure-our-socials"


def request(**overrides):
    values = dict(name="Sawt Association", country="LB", website="https://www.sawt.org.lb/", contact_name="Rania Saleh",
                  contact_email="rania@sawt.org.lb", statement="We stand with them.", lang="en")
    values.update(overrides)
    return services.OrganisationRequest(**values)


def _token(app, kind: str, index: int = -1) -> str:
    """The link of that kind in the index-th of the messages that have one."""
    found = [links_in(m.text, f"organisations/{kind}") for m in outbox_messages(app)]
    return [links for links in found if links][index][0].rsplit("/", 1)[1]


def _signed_and_confirmed(app, **overrides) -> Organisation:
    row = letters.letter_row(SLUG)
    services.sign(db.session, row, request(**overrides))
    db.session.commit()
    org, code = services.confirm(db.session, _token(app, "confirm"))
    db.session.commit()
    assert withdraw_codes.normalise(code)
    return org


def test_sign_stores_contact_encrypted_and_queues_a_confirm_mail(app):
    row = letters.letter_row(SLUG)
    services.sign(db.session, row, request())
    db.session.commit()
    assert db.session.scalar(select(Organisation)) is None  # decided by the intake, not the request
    process_intake(app)
    org = db.session.scalar(select(Organisation))
    assert org.status == "pending"
    assert org.contact_domain_matches is True
    assert "rania" not in (org.contact_email_enc or "") and "Rania" not in (org.contact_name_enc or "")
    assert org.contact_email_hash and "rania" not in org.contact_email_hash
    assert services.contact(org).email == "rania@sawt.org.lb"
    [message] = outbox_messages(app)
    assert message.to == "rania@sawt.org.lb"
    assert links_in(message.text, "organisations/confirm") and links_in(message.text, "organisations/withdraw")
    # Not counted, not listed.
    assert queries.approved_count(row.id) == 0 and queries.awaiting_count(row.id) == 0


def test_domain_mismatch_is_recorded(app):
    services.sign(db.session, letters.letter_row(SLUG), request(contact_email="someone@gmail.com"))
    db.session.commit()
    process_intake(app)
    assert db.session.scalar(select(Organisation)).contact_domain_matches is False
    services.sign(db.session, letters.letter_row(SLUG), request(contact_email="x@example.net", website=""))
    db.session.commit()
    process_intake(app)
    assert db.session.scalar(select(Organisation).where(Organisation.website.is_(None))).contact_domain_matches is None


def test_confirm_is_single_use_and_waits_for_a_lead(app):
    org = _signed_and_confirmed(app)
    assert org.status == "awaiting" and org.confirmed_at is not None
    with pytest.raises(services.AlreadySigned):  # its holder is told it is done
        services.confirm(db.session, _token(app, "confirm", 0))
    db.session.rollback()
    row = letters.letter_row(SLUG)
    assert queries.approved_count(row.id) == 0
    assert queries.awaiting_count(row.id) == 1
    assert letters.counts(row)["organizations"] == len(letters.loaded(SLUG).meta.initiators)


def test_confirmation_tells_the_letters_leads(app):
    make_user(app, "lead@example.org", slugs=(SLUG,))
    make_user(app, "other@example.org", slugs=("protect-women-hrds",))
    make_user(app, "admin@example.org", role="admin")
    _signed_and_confirmed(app)
    notices = [m for m in outbox_messages(app) if "console" in m.text]
    assert [m.to for m in notices] == ["lead@example.org"]
    assert "Rania" not in notices[0].text and "rania@" not in notices[0].text


def test_resigning_sends_the_same_kind_of_mail_without_branching(app):
    row = letters.letter_row(SLUG)
    _signed_and_confirmed(app)
    before = len(outbox_messages(app))
    services.sign(db.session, row, request(name="Another name", contact_email="RANIA@sawt.org.lb"))
    db.session.commit()
    messages = outbox_messages(app)
    assert len(messages) == before + 1
    assert "co-signed it already" in messages[-1].text and "Another name" not in messages[-1].text
    org = db.session.scalar(select(Organisation))
    assert org.name == "Sawt Association" and org.status == "awaiting"  # unchanged by the second request
    assert db.session.scalar(select(db.func.count()).select_from(Organisation)) == 1


def test_mail_cap_per_address_and_day(app):
    row = letters.letter_row(SLUG)
    cap = app.config["PETITION"].MAIL_PER_ADDRESS_PER_DAY
    for _ in range(cap + 3):
        services.sign(db.session, row, request())
        db.session.commit()
    assert len(outbox_messages(app)) == cap


def test_approval_gating_and_order(app):
    lead = make_user(app, slugs=(SLUG,))
    from petition.accounts import User

    actor = db.session.get(User, lead.id)
    first = _signed_and_confirmed(app, name="First Org", contact_email="a@first.org", website="first.org")
    second = _signed_and_confirmed(app, name="Second Org", contact_email="b@second.org", website="second.org")
    row = letters.letter_row(SLUG)
    assert queries.approved(row.id) == []
    services.approve(db.session, second, actor)
    db.session.commit()
    services.approve(db.session, first, actor)
    db.session.commit()
    assert [o.name for o in queries.approved(row.id)] == ["Second Org", "First Org"]
    listed = queries.listed(row.id, letters.loaded(SLUG).meta.initiators)
    initiators = [i.name for i in letters.loaded(SLUG).meta.initiators]
    assert [o.name for o in listed] == initiators + ["Second Org", "First Org"]
    assert [o.initiator for o in listed] == [True] * len(initiators) + [False, False]
    assert letters.counts(row)["organizations"] == len(initiators) + 2
    actions = list(db.session.scalars(select(AuditEntry.action)))
    assert actions.count("organisations.approve") == 2
    decision = outbox_messages(app)[-1]
    assert decision.to == "a@first.org" and links_in(decision.text, "organisations/withdraw")


def test_pending_cannot_be_approved(app):
    row = letters.letter_row(SLUG)
    services.sign(db.session, row, request())
    db.session.commit()
    process_intake(app)
    org = db.session.scalar(select(Organisation))
    with pytest.raises(services.NotDecidable):
        services.approve(db.session, org, None)


def test_reject_with_reason_in_the_contacts_language(app):
    org = _signed_and_confirmed(app, lang="ar")
    services.reject(db.session, org, None, "لم نتمكن من التحقق من المنظمة")
    db.session.commit()
    message = outbox_messages(app)[-1]
    assert message.lang == "ar" and "لم نتمكن من التحقق من المنظمة" in message.text
    assert 'dir="rtl"' in message.html
    # Nothing of it is kept (issue 13, item 6), and no link to delete what is gone.
    assert db.session.scalar(select(db.func.count()).select_from(Organisation)) == 0
    assert "/withdraw/" not in message.text and "/withdraw/" not in message.html
    # A rejected organisation may ask again: a new pending request, with a new link.
    services.sign(db.session, letters.letter_row(SLUG), request(lang="ar"))
    db.session.commit()
    process_intake(app)
    again = db.session.scalar(select(Organisation))
    assert again.status == "pending" and again.rejection_reason is None


def test_approval_can_be_taken_back(app):
    org = _signed_and_confirmed(app)
    services.approve(db.session, org, None)
    services.reject(db.session, org, None, "Asked by the initiators")
    db.session.commit()
    assert queries.approved(org.letter_id) == []


def test_withdraw_deletes_everything(app):
    org = _signed_and_confirmed(app)
    services.approve(db.session, org, None)
    db.session.commit()
    token = _token(app, "withdraw")
    services.withdraw(db.session, token)
    db.session.commit()
    assert db.session.scalar(select(db.func.count()).select_from(Organisation)) == 0
    with pytest.raises(tokens.InvalidLink):
        services.withdraw(db.session, token)


def test_closed_letter_refuses(app):
    row = letters.letter_row(SLUG)
    letters.set_status(row, "closed")
    with pytest.raises(services.LetterNotOpen):
        services.sign(db.session, row, request())
