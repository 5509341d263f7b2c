"""A person's requests: `privacy export <email>` and `privacy erase <email>` across all
letters; and `privacy rotate-keys` for the operators."""
from __future__ import annotations

import json

from cryptography.fernet import Fernet
from sqlalchemy import select

from petition import create_app
from petition.audit import AuditEntry
from petition.crypto import decrypt, keyed_hash
from petition.extensions import db
from petition.letters import services as letters
from petition.mail.models import OutboxMessage
from petition.organisations.models import Organisation
from petition.privacy import services as privacy
from petition.signing import counters
from petition.signing.models import Signature
from tests.helpers import DATA_KEY, make_config, sign_letter
from tests.privacy.support import OTHER, SLUG, count, organisation, signed


def two_letters_one_person(app, client):
    # The same mailbox, spelled two ways, on two letters; plus a bystander.
    signed(app, client, "Nour.Khalil@gmail.com", "Nour Khalil", slug=SLUG, public="initials")
    signed(app, client, "nourkhalil+letters@googlemail.com", "نور خليل", slug=OTHER, public="none", lang="ar",
           confirm=False)
    signed(app, client, "bystander@example.org", "Bystander Person", slug=SLUG, public="full")
    organisation(app, SLUG, "Nour's Collective", "nour.khalil@gmail.com", approve=True)
    organisation(app, OTHER, "Unapproved Collective", "NOURKHALIL@gmail.com", approve=False)


def test_export_prints_everything_held_about_an_address(app, client, runner):
    two_letters_one_person(app, client)
    result = runner.invoke(args=["privacy", "export", "nourkhalil@gmail.com"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    by_letter = {s["letter"]: s for s in data["signatures"]}
    assert set(by_letter) == {SLUG, OTHER}
    assert by_letter[SLUG]["name"] == "Nour Khalil" and by_letter[SLUG]["status"] == "confirmed"
    assert by_letter[SLUG]["email"] == "Nour.Khalil@gmail.com"  # as typed
    assert by_letter[SLUG]["public_name"] == "N. K."
    assert by_letter[OTHER]["name"] == "نور خليل" and by_letter[OTHER]["status"] == "pending"
    assert {o["organisation"] for o in data["organisations"]} == {"Nour's Collective", "Unapproved Collective"}
    assert all(o["contact_name"] == "Contact Person" for o in data["organisations"])
    assert data["queued_emails"] >= 1
    assert "Bystander" not in result.output and "bystander@" not in result.output
    with app.app_context():
        [entry] = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "privacy.export")).all()
        assert "@" not in (entry.detail or "") and "Nour" not in (entry.detail or "")


def test_an_organisation_contact_is_found_by_the_hash_its_sign_up_stored(app, client):
    # The organisations area stores the contact address's keyed hash under the label
    # "org-contact"; a privacy request must look it up under that very label (it once
    # had a fallback under another, which would have found nothing).
    organisation(app, SLUG, "Hash Check Collective", "Hash.Check@Example.org", approve=False)
    with app.app_context():
        [org] = [o for o in db.session.scalars(select(Organisation)) if o.name == "Hash Check Collective"]
        assert org.contact_email_hash == keyed_hash("org-contact", f"{org.letter_id}:hash.check@example.org")
        assert org.contact_email_hash != keyed_hash("organisation-contact", f"{org.letter_id}:hash.check@example.org")
        held = privacy.lookup(db.session, "hash.check@example.org")
        assert [(h.letter, h.organisations) for h in held] == [(SLUG, 1)]
        db.session.rollback()


def test_export_of_an_unknown_or_invalid_address(runner):
    empty = runner.invoke(args=["privacy", "export", "nobody@example.org"])
    assert empty.exit_code == 0
    assert json.loads(empty.output)["signatures"] == []
    bad = runner.invoke(args=["privacy", "export", "not an address"])
    assert bad.exit_code == 1 and "not an email address" in bad.output


def test_erase_removes_a_person_from_every_letter_and_the_counts(app, client, runner):
    two_letters_one_person(app, client)
    with app.app_context():
        row = letters.letter_row(SLUG)
        assert counters.confirmed_count(row.id) == 2
        db.session.remove()

    refused = runner.invoke(args=["privacy", "erase", "nourkhalil@gmail.com"], input="n\n")
    assert refused.exit_code == 1 and count(app) == 3

    result = runner.invoke(args=["privacy", "erase", "nourkhalil@gmail.com", "--yes"])
    assert result.exit_code == 0, result.output
    assert f"2 signature(s) deleted (letters: {OTHER}, {SLUG})" in result.output or \
        f"2 signature(s) deleted (letters: {SLUG}, {OTHER})" in result.output
    assert "1 unapproved organisation co-signature(s) deleted, contact details removed from 1 approved one(s)" in result.output

    with app.app_context():
        row = letters.letter_row(SLUG)
        counters.forget(row.id)
        assert counters.confirmed_count(row.id) == 1
        assert letters.counts(row)["individuals"] == 1
        remaining = db.session.scalars(select(Signature)).all()
        assert [decrypt(s.email_enc) for s in remaining] == ["bystander@example.org"]
        [org] = db.session.scalars(select(Organisation)).all()
        assert org.name == "Nour's Collective" and org.contact_email_enc is None and org.contact_email_hash is None
        for message in db.session.scalars(select(OutboxMessage)):
            to = json.loads(decrypt(message.payload_enc))["to"]
            assert "khalil" not in to.lower()
        entries = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "privacy.erase")).all()
        assert len(entries) == 2 and all("@" not in (e.detail or "") for e in entries)
    assert "N. K." not in client.get(f"/en/letters/{SLUG}/signatures").text

    # Afterwards the address can sign again, as anyone can.
    assert sign_letter(client, SLUG, "en", email="nourkhalil@gmail.com").status_code == 303


def test_rotate_keys_re_encrypts_everything_under_the_newest_key(app, client, runner, tmp_path):
    two_letters_one_person(app, client)
    new_key = Fernet.generate_key().decode()
    rotated_app = create_app(make_config(tmp_path, DATA_KEYS=[new_key, DATA_KEY]))
    with rotated_app.app_context():  # the fixture's app context would otherwise be used
        result = rotated_app.test_cli_runner().invoke(args=["privacy", "rotate-keys"])
    assert result.exit_code == 0, result.output
    # Three signatures (address, name, withdraw-link nonce and address domain each; no
    # affiliations), two organisations (contact name and address, withdraw-link nonce,
    # and the name, website and statement they typed), and the queued emails.
    assert "signatures: 12 value(s) re-encrypted" in result.output
    assert "organisations: 12 value(s) re-encrypted" in result.output

    # The old key can now go: an app that knows only the new key reads everything.
    only_new = create_app(make_config(tmp_path, DATA_KEYS=[new_key]))
    with only_new.app_context():
        for sig in db.session.scalars(select(Signature)):
            assert decrypt(sig.email_enc) and decrypt(sig.name_enc)
        for org in db.session.scalars(select(Organisation)):
            assert decrypt(org.contact_email_enc)
        for message in db.session.scalars(select(OutboxMessage)):
            assert json.loads(decrypt(message.payload_enc))["to"]
        assert db.session.scalars(select(AuditEntry).where(AuditEntry.action == "privacy.rotate_keys")).all()
