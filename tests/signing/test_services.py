"""The signing rules, exercised without HTTP."""
from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from petition import disclosure
from petition.extensions import db
from petition.letters import services as letters
from petition.signing import intake, services
from petition.signing.models import MailQuota, SignRequest, Signature
from petition.text import TextRejected, clean_line, initials
from tests.helpers import outbox_messages


def req(**overrides) -> services.SignatureRequest:
    values = dict(name="Leila Mansour", email="leila@example.org", country="TN", affiliation="Nurse",
                  public_visibility="full", bundle_visibility="named", updates_opt_in=True, lang="fr",
                  version_hash=letters.loaded("secure-our-socials").texts["fr"].version_hash)
    values.update(overrides)
    return services.SignatureRequest(**values)


def test_sign_stores_an_encrypted_request_and_the_intake_makes_the_pending_row_and_its_mail(app):
    row = letters.letter_row("secure-our-socials")
    services.sign(db.session, row, req())
    db.session.rollback()  # nothing committed: no request, so no row and no email later
    assert db.session.scalars(select(SignRequest)).all() == [] and outbox_messages(app) == []
    services.sign(db.session, row, req())
    db.session.commit()
    [request] = db.session.scalars(select(SignRequest)).all()
    assert "leila" not in request.payload_enc.lower() and "Leila" not in request.payload_enc
    assert db.session.scalars(select(Signature)).all() == []  # nothing decided in the web request
    assert intake.drain() == 1
    assert db.session.scalars(select(SignRequest)).all() == []  # handled, and gone
    sig = db.session.scalar(select(Signature))
    assert sig.status == "pending" and sig.public_name is None
    assert "leila" not in (sig.email_enc or "") and sig.email_hash and len(sig.email_hash) == 64
    [message] = outbox_messages(app)
    assert message.to == "leila@example.org" and message.lang == "fr"


def test_mail_cap_per_address_per_letter_per_day(app):
    row = letters.letter_row("secure-our-socials")
    limit = app.config["PETITION"].MAIL_PER_ADDRESS_PER_DAY
    for _ in range(limit + 4):
        services.sign(db.session, row, req(email="Flooded@Example.org"))
        db.session.commit()
    assert len(outbox_messages(app)) == limit
    # Tomorrow the owner can ask again: today's count is under another key.
    db.session.execute(MailQuota.__table__.delete())
    db.session.commit()
    services.sign(db.session, row, req(email="flooded@example.org"))
    db.session.commit()
    assert len(outbox_messages(app)) == limit + 1


def test_closed_letter_refuses_signatures(app):
    row = letters.letter_row("secure-our-socials")
    letters.set_status(row, "closed")
    with pytest.raises(services.LetterNotOpen):
        services.sign(db.session, row, req())
    letters.set_status(row, "open")
    row.closes_on = date.today() - timedelta(days=1)
    assert not letters.is_signable(row)


def test_one_signer_per_letter_whatever_the_spelling(app):
    row = letters.letter_row("secure-our-socials")
    for email in ("a.lice+petition@gmail.com", "ALICE@googlemail.com", "alice@GMAIL.com"):
        services.sign(db.session, row, req(email=email))
        db.session.commit()
    intake.drain()
    # One person: every request has the same hash (each pending request keeps its own row).
    assert len({s.email_hash for s in db.session.scalars(select(Signature))}) == 1
    # Another letter is another signature, and its hash differs (no cross-letter linking).
    other = letters.letter_row("protect-women-hrds")
    services.sign(db.session, other, req(email="alice@gmail.com", version_hash=letters.loaded("protect-women-hrds").texts["fr"].version_hash))
    db.session.commit()
    intake.drain()
    hashes = {s.email_hash for s in db.session.scalars(select(Signature))}
    assert len(hashes) == 2


@pytest.mark.parametrize(
    "current, requested, expected",
    [("full", "initials", "initials"), ("initials", "full", "initials"), ("none", "full", "none"),
     ("full", None, "full"), ("full", "bogus", "full")],
)
def test_lower_only(current, requested, expected):
    assert services.lower_only(current, requested, disclosure.PUBLIC_ORDER) == expected


def test_safest_defaults():
    assert services.safest_public(None, "initials") == "initials"
    assert services.safest_public(None, "nonsense") == "none"
    assert services.safest_bundle("bogus", "nonsense") == "counted"


def test_receipt_codes():
    code = services.receipt_code()
    assert re.fullmatch(r"[A-HJ-NP-Z2-9]{4}-[A-HJ-NP-Z2-9]{4}-[A-HJ-NP-Z2-9]{4}", code)
    assert services.receipt_hash(code) == services.receipt_hash(code.lower().replace("-", " "))


@pytest.mark.parametrize(
    "name, expected",
    [("Amal Haddad", "A. H."), ("سارة الحداد", "س. ا."), ("Μαρία Παπαδοπούλου", "Μ. Π."), ("jean-luc picard", "J. L. P."), ("?!", "—")],
)
def test_initials(name, expected):
    assert initials(name) == expected


def test_clean_line():
    assert clean_line("  a\u200b  b \u202e c ") == "a b c"
    with pytest.raises(TextRejected):
        clean_line("a\nb")
    with pytest.raises(TextRejected):
        clean_line("bell\x07")
    assert clean_line("line one\r\n\n\n\nline two", allow_newlines=True) == "line one\n\nline two"


def test_hide_and_unhide_adjust_the_count(app):
    from petition.signing import counters
    from petition.signing.synthetic import fake

    row = letters.letter_row("secure-our-socials")
    fake(db.session, row, 3, seed=5)
    db.session.commit()
    sig = db.session.scalars(select(Signature)).first()
    services.hide(db.session, sig, "fake name")
    db.session.commit()
    assert counters.confirmed_count(row.id) == 2
    services.hide(db.session, sig, "twice")  # idempotent
    services.unhide(db.session, sig)
    db.session.commit()
    assert counters.confirmed_count(row.id) == 3


def test_confirming_counts_once_and_a_hidden_signature_not_at_all(app):
    """On PostgreSQL the confirmation and its count are one statement, on SQLite two;
    both must agree on what counts."""
    from petition import tokens
    from petition.signing import counters

    row = letters.letter_row("secure-our-socials")
    links = {}
    for address in ("shown@example.org", "hidden@example.org"):
        services.sign(db.session, row, req(email=address))
        db.session.commit()
        intake.drain()
        sig = db.session.scalar(select(Signature).where(Signature.email_hash == services.email_hash(row.id, address)))
        nonce, sig.confirm_nonce_hash = tokens.new_nonce()
        links[address] = tokens.make(services.CONFIRM, sig.id, nonce)
        if address.startswith("hidden"):
            services.hide(db.session, sig, "spam wave")
        db.session.commit()
    for token in links.values():
        services.confirm(db.session, token, public_visibility=None, bundle_visibility=None, updates_opt_in=False,
                         version_hash=None)
        db.session.commit()
        with pytest.raises(services.AlreadySigned):  # single use: the holder is told it is done
            services.confirm(db.session, token, public_visibility=None, bundle_visibility=None, updates_opt_in=False,
                             version_hash=None)
        db.session.rollback()
    db.session.expire_all()
    assert {s.status for s in db.session.scalars(select(Signature))} == {"confirmed"}
    counters.forget(row.id)
    assert counters.confirmed_count(row.id) == 1
    shown = db.session.scalar(select(Signature).where(Signature.hidden.is_(False)))
    assert shown.public_name == "Leila Mansour" and shown.confirmed_at is not None and shown.status == "confirmed"
