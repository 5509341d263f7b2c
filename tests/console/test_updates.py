"""Updates to signers: queued as a job, one email per opted-in signer in their language,
one-click unsubscribe (RFC 8058), discreet mail respected, audit log."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from petition.audit import AuditEntry
from petition.extensions import db
from petition.jobs import runner
from petition.jobs.models import Job
from petition.letters import services as letters
from petition.mail.models import OutboxMessage
from petition.mail.worker import drain
from petition.signing.models import Signature
from petition.updates import services as updates
from tests.console.support import confirm, logged_in, make_user
from tests.helpers import confirm_from_mail, csrf_token, outbox_messages, plain_body, sign_letter

SLUG = "secure-our-socials"


def add_signers(app, client):
    """Three real signatures: two asked for updates (English, Arabic), one did not."""
    for lang, email, wants in [("en", "amal@example.org", True), ("ar", "sara@example.org", True),
                               ("fr", "luc@example.org", False)]:
        fields = {"updates": "y"} if wants else {}
        assert sign_letter(client, SLUG, lang, email=email, **fields).status_code == 303
        assert confirm_from_mail(client, app, **fields).status_code == 200
    with app.app_context():
        db.session.execute(db.delete(OutboxMessage))
        db.session.commit()


def run_jobs(app):
    with app.app_context():
        while (job := runner.run_one()) is not None:
            assert job.status == "done", job.message


@pytest.fixture
def smtp_app(make_app, smtp_server):
    return make_app(MAIL_SERVER=smtp_server.host, MAIL_PORT=smtp_server.port)


def test_update_reaches_opted_in_signers_in_their_language(smtp_app, smtp_server):
    public = smtp_app.test_client()
    add_signers(smtp_app, public)
    lead = make_user(smtp_app, "lead@example.org", slugs=(SLUG,))
    client = logged_in(smtp_app.test_client(), smtp_app, lead)
    page = client.get(f"/en/console/letters/{SLUG}/updates")
    assert "2 signers asked for updates" in page.text
    assert "discreet mail" in page.text
    data = {"csrf_token": csrf_token(page.text), "subject": "Meta answered", "body": "First paragraph.\n\nSecond <b>one</b>."}
    asked = client.post(f"/en/console/letters/{SLUG}/updates", data=data)
    assert asked.status_code == 200 and "It is emailed to the 2 signers who asked for updates." in asked.text
    with smtp_app.app_context():
        assert db.session.scalar(select(Job.id)) is None  # nothing is queued before the confirmation
    response = confirm(client, f"/en/console/letters/{SLUG}/updates", data)
    assert response.status_code == 303
    with smtp_app.app_context():
        job = db.session.scalar(select(Job))
        assert job.kind == "updates.send" and job.status == "queued"
        entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "updates.send"))
        assert json.loads(entry.detail) == {"job": job.id, "recipients": 2}
        assert db.session.scalar(select(func.count()).select_from(OutboxMessage)) == 0  # the job does the work

    run_jobs(smtp_app)
    with smtp_app.app_context():
        drain()
    messages = {m["To"]: m for m in smtp_server.wait_for(2)}
    assert set(messages) == {"amal@example.org", "sara@example.org"}
    with smtp_app.app_context():
        title = letters.loaded(SLUG).text_for("en").front.title
    for address, lang in [("amal@example.org", "en"), ("sara@example.org", "ar")]:
        message = messages[address]
        assert message["Content-Language"] == lang
        # Discreet letter: neutral subject and sender; the lead's subject is inside only.
        assert "Meta answered" not in message["Subject"] and title not in message["Subject"]
        assert message["From"].startswith("Notifications")
        assert "Meta answered" in plain_body(message)
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert message["List-Unsubscribe"].startswith("<http://petition.test/")
        html = message.get_body(("html",)).get_content()
        assert "Second &lt;b&gt;one&lt;/b&gt;." in html  # the lead's text is escaped
    assert "مرحب" in plain_body(messages["sara@example.org"]) or "السلام" in plain_body(messages["sara@example.org"])

    # One click from the mail client: a POST with no cookie and no CSRF token.
    one_click = messages["sara@example.org"]["List-Unsubscribe"].strip("<>").replace("http://petition.test", "")
    assert smtp_app.test_client().get(one_click).status_code == 303  # a GET only shows the page
    response = smtp_app.test_client().post(one_click, data={"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    with smtp_app.app_context():
        assert db.session.scalar(select(Signature.updates_opt_in).where(Signature.lang == "ar")) is False
        assert db.session.scalar(select(Signature.status).where(Signature.lang == "ar")) == "confirmed"
    assert smtp_app.test_client().post(one_click, data={"List-Unsubscribe": "One-Click"}).status_code == 200

    # The link in the text: GET shows a button, POST (with CSRF) unsubscribes.
    path = next(line for line in plain_body(messages["amal@example.org"]).split() if "/updates/unsubscribe/" in line)
    path = path.replace("http://petition.test", "")
    browser = smtp_app.test_client()
    page = browser.get(path)
    assert page.status_code == 200
    with smtp_app.app_context():
        assert db.session.scalar(select(Signature.updates_opt_in).where(Signature.lang == "en")) is True
    assert browser.post(path, data={"csrf_token": csrf_token(page.text)}).status_code == 200
    with smtp_app.app_context():
        assert db.session.scalar(select(Signature.updates_opt_in).where(Signature.lang == "en")) is False
        assert updates.recipient_count(db.session, letters.letter_row(SLUG).id) == 0


def test_non_discreet_letter_uses_the_leads_subject(app):
    row = letters.letter_row(SLUG)
    row.discreet_mail = False
    sig = Signature(id=5, letter_id=row.id, status="confirmed", lang="fr", email_hash="h")
    from petition.crypto import encrypt

    sig.email_enc = encrypt("x@example.org")
    message = updates.build_message(row, sig, updates.Update(subject="Du nouveau", body="Texte"))
    assert message.subject.startswith("Du nouveau")
    assert message.sender == app.config["PETITION"].MAIL_DEFAULT_SENDER


def test_bad_links_and_bad_one_click_bodies(app, client):
    assert client.get("/en/updates/unsubscribe/garbage").status_code == 404
    assert client.post("/en/updates/unsubscribe/garbage/one-click", data={"List-Unsubscribe": "One-Click"}).status_code == 404
    assert client.post("/en/updates/unsubscribe/garbage/one-click", data={}).status_code == 400


def test_a_failed_job_resumes_without_mailing_anyone_twice(bare_app, monkeypatch):
    client = bare_app.test_client()
    for i in range(3):
        assert sign_letter(client, SLUG, "en", email=f"s{i}@example.org", updates="y").status_code == 303
        assert confirm_from_mail(client, bare_app, updates="y").status_code == 200
    with bare_app.app_context():
        db.session.execute(db.delete(OutboxMessage))
        updates.request_send(db.session, letters.letter_row(SLUG), None, updates.Update("S", "B"))
        db.session.commit()
    monkeypatch.setattr(updates, "BATCH", 1)
    real = updates.build_message
    calls = {"n": 0}

    def flaky(row, sig, update):
        calls["n"] += 1
        if calls["n"] == 2:
            raise ConnectionError("database went away")
        return real(row, sig, update)

    monkeypatch.setattr(updates, "build_message", flaky)
    with bare_app.app_context():
        job = runner.run_one()
        assert job.status == "queued" and job.attempts == 1
    run_jobs(bare_app)
    recipients = [m.to for m in outbox_messages(bare_app)]
    assert sorted(recipients) == ["s0@example.org", "s1@example.org", "s2@example.org"]
