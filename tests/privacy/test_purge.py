"""`flask privacy purge`: once a closed or delivered letter's retention period has passed,
its signers' personal data goes; counts, chosen public names and receipt hashes stay."""
from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import select, text

from petition.audit import AuditEntry
from petition.extensions import db
from petition.letters import services as letters
from petition.mail.models import OutboxMessage
from petition.models_common import utcnow
from petition.organisations.models import Organisation
from petition.signing.models import Signature
from tests.helpers import sign_letter
from tests.privacy.support import OTHER, SLUG, close, count, organisation, signed

PEOPLE = [
    ("amal@example.org", "Amal Haddad", "full"),
    ("sami@example.org", "Sami Nasser", "initials"),
    ("hidden@example.org", "Rana Khoury", "none"),
]


def populate(app, client):
    for email, name, public in PEOPLE:
        signed(app, client, email, name, public=public, affiliation="Beirut Digital Collective")
    signed(app, client, "pending@example.org", "Pending Person", confirm=False)
    organisation(app, SLUG, "Approved Org", "contact@approved.example", approve=True)
    organisation(app, SLUG, "Pending Org", "contact@pending.example", approve=False)


def personal_values(app) -> list[str]:
    """Every personal column of every signature and organisation, as stored."""
    with app.app_context():
        values = []
        for sig in db.session.scalars(select(Signature)):
            values += [sig.email_enc, sig.name_enc, sig.affiliation_enc, sig.email_hash, sig.email_domain_hash, sig.email_domain_enc,
                       sig.confirm_nonce_hash, sig.manage_nonce_hash]
        for org in db.session.scalars(select(Organisation)):
            values += [org.contact_name_enc, org.contact_email_enc, org.contact_email_hash]
        return [v for v in values if v is not None]


def test_purge_removes_personal_data_and_keeps_counts_public_names_and_receipts(app, client, runner):
    populate(app, client)
    with app.app_context():
        row = letters.letter_row(SLUG)
        before_counts = letters.counts(row)
        receipts = sorted(db.session.scalars(select(Signature.receipt_hash).where(Signature.status == "confirmed")))
        public = sorted(filter(None, db.session.scalars(select(Signature.public_name))))
        db.session.remove()
    assert before_counts["individuals"] == 3
    assert public == ["Amal Haddad", "S. N."]
    # The outbox still holds an unsent message for this letter (the pending one's).
    close(app, SLUG, days_ago=181)  # retention_days is 180 for this letter

    result = runner.invoke(args=["privacy", "purge", SLUG])
    assert result.exit_code == 0, result.output
    assert "personal data removed from 3 confirmed signature(s)" in result.output
    assert "1 unconfirmed signature(s) deleted" in result.output
    assert "contact details removed from 1 approved organisation(s), 1 other organisation request(s) deleted" in result.output

    assert personal_values(app) == []
    with app.app_context():
        row = letters.letter_row(SLUG)
        assert letters.counts(row) == before_counts
        assert row.purged_at is not None
        sigs = db.session.scalars(select(Signature)).all()
        assert {s.status for s in sigs} == {"confirmed"}
        assert sorted(s.receipt_hash for s in sigs) == receipts
        assert sorted(filter(None, (s.public_name for s in sigs))) == public
        assert all(s.version_hash and s.country for s in sigs)
        assert all(not s.updates_opt_in for s in sigs)
        [org] = db.session.scalars(select(Organisation)).all()
        assert org.name == "Approved Org" and org.status == "approved"
        assert db.session.scalar(select(OutboxMessage).where(OutboxMessage.letter_id == row.id)) is None
        [entry] = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "privacy.purge")).all()
        assert entry.actor_id is None and entry.actor_label == "command line" and entry.letter_id == row.id
        detail = json.loads(entry.detail)
        assert detail["signatures_scrubbed"] == 3 and detail["pending_deleted"] == 1
        assert "@" not in entry.detail
        db.session.remove()

    # The public list and the counts on the letter page are unchanged.
    page = client.get(f"/en/letters/{SLUG}/signatures")
    assert page.status_code == 200
    assert "Amal Haddad" in page.text and "S. N." in page.text and "Rana" not in page.text

    # Nothing personal in a dump of the database.
    with app.app_context():
        dump = []
        for table in db.metadata.sorted_tables:
            for r in db.session.execute(text(f'SELECT * FROM "{table.name}"')):
                dump.append(" ".join(str(v) for v in r))
        dump = "\n".join(dump)
    for email, _name, _public in PEOPLE:
        assert email not in dump
    assert "Rana Khoury" not in dump and "Sami Nasser" not in dump
    # Only the signer who chose to show their full name keeps a public affiliation.
    assert dump.count("Beirut Digital Collective") == 1


def test_purge_runs_again_harmlessly(app, client, runner):
    populate(app, client)
    close(app, SLUG, days_ago=400)
    assert runner.invoke(args=["privacy", "purge", SLUG]).exit_code == 0
    again = runner.invoke(args=["privacy", "purge", SLUG])
    assert again.exit_code == 0
    assert "personal data removed from 0 confirmed signature(s)" in again.output


def test_purge_refuses_before_the_retention_period_and_on_open_letters(app, client, runner):
    populate(app, client)
    result = runner.invoke(args=["privacy", "purge", SLUG])
    assert result.exit_code == 1 and "only closed or delivered letters are purged" in result.output
    forced = runner.invoke(args=["privacy", "purge", SLUG, "--force"])
    assert forced.exit_code == 1  # an open letter is never purged, force or not

    close(app, SLUG, days_ago=10)
    early = runner.invoke(args=["privacy", "purge", SLUG])
    assert early.exit_code == 1 and "retention period runs until" in early.output
    assert count(app) == 4 and personal_values(app)

    forced = runner.invoke(args=["privacy", "purge", SLUG, "--force"])
    assert forced.exit_code == 0, forced.output
    assert personal_values(app) == []


def test_withdraw_links_stop_working_after_a_purge_but_nothing_breaks(app, client, runner):
    from tests.helpers import links_in, outbox_messages

    sign_letter(client, SLUG, "ar", email="late@example.org", name="سارة")
    [message] = outbox_messages(app)
    withdraw = links_in(message.text, "withdraw")[0]
    close(app, SLUG, days_ago=365)
    assert runner.invoke(args=["privacy", "purge", SLUG]).exit_code == 0
    page = client.get(withdraw)
    assert page.status_code == 404
    assert '<html lang="ar" dir="rtl">' in page.text


def test_purge_all_is_the_daily_run(app, client, runner):
    # One letter past retention, another open one with a fresh and an expired request.
    populate(app, client)
    close(app, SLUG, days_ago=200)
    signed(app, client, "fresh@example.org", "Fresh Person", slug=OTHER, confirm=False)
    signed(app, client, "stale@example.org", "Stale Person", slug=OTHER, confirm=False)
    signed(app, client, "kept@example.org", "Kept Person", slug=OTHER, confirm=True)
    with app.app_context():
        other = letters.letter_row(OTHER)
        stale_hash = None
        from petition.signing.services import email_hash

        stale_hash = email_hash(other.id, "stale@example.org")
        stale = db.session.scalar(select(Signature).where(Signature.email_hash == stale_hash))
        stale.created_at = utcnow() - timedelta(days=8)
        old_mail = db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).first()
        old_mail.created_at = utcnow() - timedelta(days=30)
        db.session.commit()
        db.session.remove()

    result = runner.invoke(args=["privacy", "purge", "--all"])
    assert result.exit_code == 0, result.output
    assert f"{SLUG}: personal data removed from 3 confirmed signature(s)" in result.output
    assert f"{OTHER}: 1 expired unconfirmed signature(s)" in result.output
    assert "undelivered email(s) older than 7 days deleted" in result.output

    with app.app_context():
        other = letters.letter_row(OTHER)
        rows = db.session.scalars(select(Signature).where(Signature.letter_id == other.id)).all()
        assert len(rows) == 2 and all(r.email_enc for r in rows)  # the open letter keeps its signers
        assert db.session.scalar(select(Signature).where(Signature.email_hash == stale_hash)) is None
        assert letters.letter_row(SLUG).purged_at is not None and other.purged_at is None
        actions = set(db.session.scalars(select(AuditEntry.action)))
        assert {"privacy.purge", "privacy.purge_stale", "privacy.purge_outbox"} <= actions

    quiet = runner.invoke(args=["privacy", "purge", "--all"])
    assert quiet.exit_code == 0


def test_purge_needs_a_slug_or_all(runner):
    assert runner.invoke(args=["privacy", "purge"]).exit_code == 2
    assert runner.invoke(args=["privacy", "purge", SLUG, "--all"]).exit_code == 2
    assert runner.invoke(args=["privacy", "purge", "no-such-letter"]).exit_code == 1


def test_purge_removes_the_names_of_paper_signatures_and_keeps_their_count(app, client, runner):
    from petition.paper import services as paper
    from petition.paper.models import PaperSignature

    with app.app_context():
        row = letters.letter_row(SLUG)
        parsed = paper.parse(b"name,country,bundle,collected_on,place\nNadia Rahal,LB,named,2026-03-08,Beirut\n"
                             b"Omar,JO,counted,2026-03-08,Amman\n")
        paper.import_rows(db.session, row.id, parsed, actor=None, consent_statement="x", consent_given=True)
        db.session.commit()
        db.session.remove()
    close(app, SLUG, days_ago=400)
    result = runner.invoke(args=["privacy", "purge", SLUG])
    assert result.exit_code == 0 and "names removed from 2 paper signature(s)" in result.output
    with app.app_context():
        rows = list(db.session.scalars(select(PaperSignature)))
        assert len(rows) == 2 and all(r.name_enc == "" for r in rows)
        assert letters.counts(letters.letter_row(SLUG))["paper"] == 2
        db.session.remove()
