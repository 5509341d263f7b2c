"""Milestone mails: when a goal is reached, one email per opted-in signer, in their
language, through a real SMTP server (aiosmtpd); once per milestone however often the
sweep runs or races; discreet letters stay discreet; unsubscribe as for updates."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from petition.extensions import db
from petition.jobs.models import Job
from petition.letters import milestones, services
from petition.letters.models import Milestone
from petition.mail.models import OutboxMessage
from petition.mail.worker import drain
from petition.signing.models import Signature
from petition.updates import milestones as milestone_mail, services as updates
from tests.growth.support import SLUG, run_jobs, set_count, set_goal, sweep
from tests.helpers import confirm_from_mail, plain_body, sign_letter


def add_signers(app, client):
    """Three signers asked for updates (English, Arabic, Greek), one did not, one withdrew."""
    people = [("en", "amal@example.org", True), ("ar", "sara@example.org", True), ("el", "eleni@example.org", True),
              ("fr", "luc@example.org", False)]
    for lang, email, wants in people:
        fields = {"updates": "y"} if wants else {}
        assert sign_letter(client, SLUG, lang, email=email, **fields).status_code == 303
        assert confirm_from_mail(client, app, **fields).status_code == 200
    with app.app_context():
        # One opted-in signer is hidden by a lead: no mail for them either.
        from petition.signing.services import hide

        hide(db.session, db.session.scalar(select(Signature).where(Signature.lang == "el")), "test")
        db.session.execute(db.delete(OutboxMessage))
        db.session.commit()


@pytest.fixture
def smtp_app(make_app, smtp_server):
    return make_app(MAIL_SERVER=smtp_server.host, MAIL_PORT=smtp_server.port)


def milestone_count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Milestone))


def test_reaching_the_goal_mails_opted_in_signers_once_through_smtp(smtp_app, smtp_server):
    add_signers(smtp_app, smtp_app.test_client())
    set_goal(smtp_app, SLUG, 4, auto=True)
    assert sweep(smtp_app).milestones == []  # four confirmed, one of them hidden: 3 counted
    set_goal(smtp_app, SLUG, 3, auto=True)
    report = sweep(smtp_app)
    assert report.milestones == [f"{SLUG}: 3"]
    with smtp_app.app_context():
        job = db.session.scalar(select(Job).where(Job.kind == milestone_mail.KIND))
        assert json.loads(job.payload)["goal"] == 3
        assert services.letter_row(SLUG).goal == 10  # auto_goal: the next round number above the count
        # The mailing is a job: nothing is queued by the sweep itself.
        assert db.session.scalar(select(func.count()).select_from(OutboxMessage)) == 0
    assert run_jobs(smtp_app) == [milestone_mail.KIND]
    with smtp_app.app_context():
        drain()
    messages = {m["To"]: m for m in smtp_server.wait_for(2)}
    assert set(messages) == {"amal@example.org", "sara@example.org"}  # not luc (no opt-in), not eleni (hidden)
    with smtp_app.app_context():
        title = services.loaded(SLUG).text_for("en").front.title
    english, arabic = messages["amal@example.org"], messages["sara@example.org"]
    assert english["Content-Language"] == "en" and arabic["Content-Language"] == "ar"
    # Discreet letter: neutral subject and sender; the milestone is inside only.
    for message in (english, arabic):
        assert title not in message["Subject"] and "signatures" not in message["Subject"]
        assert message["From"].startswith("Notifications")
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "The letter has reached 3 signatures" in plain_body(english)
    assert "بلغت الرسالة" in plain_body(arabic)

    # Sweeping again, however often, sends nothing more for this milestone.
    for _ in range(3):
        assert sweep(smtp_app).milestones == []
    assert run_jobs(smtp_app) == []
    assert milestone_count(smtp_app) == 1

    # The next (automatic) goal is its own milestone.
    set_count(smtp_app, SLUG, 10)
    assert sweep(smtp_app).milestones == [f"{SLUG}: 10"]
    with smtp_app.app_context():
        assert services.letter_row(SLUG).goal == 20


def test_an_unsubscribed_signer_gets_no_milestone_mail(smtp_app, smtp_server):
    client = smtp_app.test_client()
    add_signers(smtp_app, client)
    with smtp_app.app_context():
        sig = db.session.scalar(select(Signature).where(Signature.lang == "ar"))
        updates.unsubscribe(db.session, updates.unsubscribe_token(sig))
        db.session.commit()
    set_goal(smtp_app, SLUG, 1)
    sweep(smtp_app)
    run_jobs(smtp_app)
    with smtp_app.app_context():
        drain()
    assert [m["To"] for m in smtp_server.wait_for(1)] == ["amal@example.org"]


def test_a_lost_race_records_one_milestone_and_queues_one_mailing(app, monkeypatch):
    """Two workers sweep at once: the second one's insert hits the unique pair."""
    set_goal(app, SLUG, 5)
    set_count(app, SLUG, 7)
    with app.app_context():
        row = services.letter_row(SLUG)
        db.session.add(Milestone(letter_id=row.id, goal=5))  # the other worker won
        db.session.commit()
        assert milestones.check_letter(db.session, services.letter_row(SLUG), 7) is None
        # ... even when it won between our look-up and our insert.
        real_scalar = db.session.scalar
        monkeypatch.setattr(db.session, "scalar", lambda stmt, *a, **k: None if "letter_milestones" in str(stmt)
                            else real_scalar(stmt, *a, **k))
        assert milestones.check_letter(db.session, services.letter_row(SLUG), 7) is None
        monkeypatch.undo()
        assert db.session.scalar(select(func.count()).select_from(Job)) == 0
    assert milestone_count(app) == 1


def test_no_goal_or_not_reached_or_closed_sends_nothing(app):
    set_goal(app, SLUG, None)
    set_count(app, SLUG, 10_000)
    assert sweep(app).milestones == []
    set_goal(app, SLUG, 20_000)
    assert sweep(app).milestones == []
    set_goal(app, SLUG, 100)
    with app.app_context():
        services.letter_row(SLUG).status = "closed"
        db.session.commit()
        services.forget_rows()
    assert sweep(app).milestones == []
    assert milestone_count(app) == 0


def test_auto_goal_without_a_first_goal_starts_above_the_count(app):
    set_goal(app, SLUG, None, auto=True)
    set_count(app, SLUG, 1234)
    assert sweep(app).milestones == []
    with app.app_context():
        assert services.letter_row(SLUG).goal == 2000


def test_a_failing_sweep_does_not_stop_the_worker(app, monkeypatch, caplog):
    from petition.jobs import runner

    def broken():
        raise ConnectionError("database went away")

    monkeypatch.setattr(runner, "PERIODIC", [(30.0, broken)])
    with app.app_context():
        last: dict = {}
        runner.run_periodic(last, now=100.0)
        runner.run_periodic(last, now=110.0)  # not due again yet
    assert caplog.text.count("periodic broken failed") == 1
