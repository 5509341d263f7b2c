"""Attacks on the signing flow by someone who knows (or guesses) a signer's address.

Each test plays the attacker: a state agent probing whether an address signed, a
harasser trying to kill the links a signer holds or to put words in the platform's mail.
"""
from __future__ import annotations

import re

import pytest
from sqlalchemy import event, func, select

from petition.extensions import db
from petition.letters import services as letters
from petition.organisations.models import Organisation
from petition.signing import intake
from petition.signing.models import Signature
from tests.console.support import make_user
from tests.helpers import form_values, links_in, outbox_messages, process_intake, sign_letter
from tests.organisations.support import ORG, sign_org

SLUG = "secure-our-socials"


@pytest.fixture
def app(make_app):
    # The per-client limits would stop the attacker's script first; these tests are
    # about what gets through them. The letter row is read on every request (no cache
    # window): on a slow machine a 1 s window could expire between two probes and add a
    # letter SELECT to one of them, a difference of the clock, not of the address.
    app = make_app(RATELIMIT_ENABLED=False, LETTER_CACHE_SECONDS=0)
    with app.app_context():
        yield app
        db.session.remove()


@pytest.fixture
def client(app):
    return app.test_client()


class StatementLog:
    """Every SQL statement the app's engine executes, parameters left out."""

    def __init__(self, engine):
        self.engine = engine
        self.statements: list[str] = []

    def __enter__(self):
        event.listen(self.engine, "before_cursor_execute", self._record)
        return self

    def __exit__(self, *exc):
        event.remove(self.engine, "before_cursor_execute", self._record)

    def _record(self, _conn, _cursor, statement, _parameters, _context, _executemany):
        self.statements.append(" ".join(statement.split()))


def _confirm(client, message):
    path = links_in(message.text, "confirm")[0]
    return client.post(path, data=form_values(client.get(path).text))


def _withdraw(client, message):
    path = links_in(message.text, "withdraw")[0]
    return client.post(path, data=form_values(client.get(path).text))


def _states_of_addresses(app, client) -> dict[str, str]:
    """One address in each state a prober could hope to tell apart."""
    cap = app.config["PETITION"].MAIL_PER_ADDRESS_PER_DAY
    sign_letter(client, email="pending@example.org")
    sign_letter(client, email="confirmed@example.org")
    assert _confirm(client, outbox_messages(app)[-1]).status_code == 200
    sign_letter(client, email="withdrawn@example.org")
    message = outbox_messages(app)[-1]
    _confirm(client, message)
    assert _withdraw(client, message).status_code == 303
    for _ in range(cap + 1):
        sign_letter(client, email="capped@example.org")
    process_intake(app)
    return {"new": "new-person@example.org", "pending": "pending@example.org", "confirmed": "confirmed@example.org",
            "withdrawn": "withdrawn@example.org", "over-quota": "capped@example.org"}


def test_a_sign_request_runs_the_same_sql_whatever_the_address(app, client):
    """The timing oracle, structurally: a known address must not cost one statement
    more (or other) than a new one. Same sequence for every state, on either database."""
    addresses = _states_of_addresses(app, client)
    sequences = {}
    for state, address in addresses.items():
        page = client.get(f"/en/letters/{SLUG}/sign")
        data = form_values(page.text) | dict(name="Probe", email=address, country="LB", affiliation="",
                                             public_visibility="full", bundle_visibility="named")
        with StatementLog(db.engine) as log:
            response = client.post(f"/en/letters/{SLUG}/sign", data=data)
        assert response.status_code == 303
        sequences[state] = log.statements
    assert sequences["new"], "nothing was recorded"
    assert any("INSERT INTO sign_requests" in s for s in sequences["new"])
    for state, statements in sequences.items():
        assert statements == sequences["new"], state
    # And the request wrote nothing else: no signature, no mail, in the request itself.
    assert not any("signatures" in s or "outbox" in s for s in sequences["new"])


def test_the_organisation_form_runs_the_same_sql_whatever_the_contact(app, client):
    sign_org(client, contact_email="known@ngo.example")
    messages = outbox_messages(app)
    path = links_in(messages[-1].text, "organisations/confirm")[0]
    assert client.post(path, data=form_values(client.get(path).text)).status_code == 200
    sequences = {}
    for state, address in {"new": "unknown@ngo.example", "confirmed": "known@ngo.example"}.items():
        page = client.get(f"/en/letters/{SLUG}/organisations/sign")
        data = form_values(page.text) | ORG | {"contact_email": address}
        with StatementLog(db.engine) as log:  # the POST only: the form page is read before
            assert client.post(f"/en/letters/{SLUG}/organisations/sign", data=data).status_code == 303
        sequences[state] = log.statements
    assert any("INSERT INTO sign_requests" in s for s in sequences["new"])
    assert sequences["new"] == sequences["confirmed"]
    # And the request wrote nothing else: no organisation, no mail, in the request itself.
    assert not any("organisations" in s or "outbox" in s for s in sequences["new"])


def test_a_stranger_cannot_kill_the_links_a_signer_holds(app, client):
    """Submitting someone's address again and again neither rotates their withdraw link
    nor their confirm link, nor changes what they typed."""
    sign_letter(client, email="victim@example.org", name="Victim Own Name", public_visibility="none",
                bundle_visibility="counted")
    pending_mail = outbox_messages(app)[-1]
    confirm_path = links_in(pending_mail.text, "confirm")[0]
    withdraw_path = links_in(pending_mail.text, "withdraw")[0]
    for attempt in range(5):
        sign_letter(client, email="Victim@Example.org", name=f"Attacker {attempt}", public_visibility="full",
                    bundle_visibility="named")
    process_intake(app)
    page = client.get(confirm_path)
    assert page.status_code == 200
    assert "Victim Own Name" in page.text and "Attacker" not in page.text
    assert client.get(withdraw_path).status_code == 200
    assert _confirm(client, pending_mail).status_code == 200
    sig = db.session.scalar(select(Signature).where(Signature.status == "confirmed"))
    assert sig.public_visibility == "none" and sig.bundle_visibility == "counted" and sig.public_name is None
    # Confirmed now: more requests in the attacker's name, another day's cap included.
    for attempt in range(5):
        sign_letter(client, email="victim@example.org", name=f"Attacker {attempt}", public_visibility="full")
    db.session.execute(intake.MailQuota.__table__.delete())
    db.session.commit()
    sign_letter(client, email="victim@example.org", name="Attacker again", public_visibility="full")
    messages = outbox_messages(app)
    # The "already signed" mails repeat the withdraw link the signer holds (same row, same
    # nonce; only the link's signing time differs), and it keeps working.
    already = [m for m in messages if "already signed" in m.text]
    assert already
    for message in already:
        path = links_in(message.text, "withdraw")[0]
        assert client.get(path).status_code == 200
        assert client.get(withdraw_path).status_code == 200
    db.session.rollback()
    sig = db.session.scalar(select(Signature).where(Signature.status == "confirmed"))
    assert sig.public_name is None and sig.public_visibility == "none" and sig.bundle_visibility == "counted"
    assert client.get(withdraw_path).status_code == 200


def test_the_same_for_an_organisations_links(app, client):
    sign_org(client, contact_email="contact@sawt.example", name="Real Org")
    first = outbox_messages(app)[-1]
    withdraw_path = links_in(first.text, "organisations/withdraw")[0]
    confirm_path = links_in(first.text, "organisations/confirm")[0]
    for attempt in range(4):
        sign_org(client, contact_email="CONTACT@sawt.example", name=f"Fake Org {attempt}")
    process_intake(app)
    page = client.get(confirm_path)
    assert page.status_code == 200 and "Real Org" in page.text and "Fake Org" not in page.text
    assert client.post(confirm_path, data=form_values(page.text)).status_code == 200
    sign_org(client, contact_email="contact@sawt.example", name="Fake Org again")
    process_intake(app)
    assert client.get(withdraw_path).status_code == 200
    signed = [o for o in db.session.scalars(select(Organisation)) if o.status == "awaiting"]
    assert [o.name for o in signed] == ["Real Org"]


def test_the_mail_cap_holds_for_the_mailbox_at_every_domain(app, client):
    cap = app.config["PETITION"].MAIL_PER_ADDRESS_PER_DAY
    for n in range(12):
        sign_letter(client, email=f"x+{n}@ngo.example")
    for n in range(8):
        sign_org(client, contact_email=f"X+org{n}@NGO.example")
    to_mailbox = [m for m in outbox_messages(app) if m.to.lower().startswith("x+")]
    assert len(to_mailbox) == cap
    # Another mailbox at the same domain is not affected.
    sign_letter(client, email="y@ngo.example")
    assert outbox_messages(app)[-1].to == "y@ngo.example"


def test_mail_to_a_typed_address_carries_no_words_the_typist_chose(app, client):
    bait = "Your mailbox is suspended go to evil.example now"
    sign_letter(client, email="target@example.org", name=bait, affiliation=bait)
    sign_org(client, contact_email="target2@example.org", name=bait, contact_name=bait, statement=bait,
             website="https://evil.example/")
    messages = outbox_messages(app)
    assert len(messages) == 2
    for message in messages:
        for part in (message.subject, message.text, message.html or ""):
            assert "suspended" not in part and "evil.example" not in part


TOPIC_WORDS = re.compile(r"LGBT|Meta|Facebook|Instagram|Telegram|socials|moderation|lockdown|مجتمع|ميتا|فيسبوك|"
                         r"إنستغرام|Μeta|LGBTQ|secure-our-socials", re.IGNORECASE)


@pytest.mark.parametrize("lang", ["en", "fr", "ar", "el"])
def test_discreet_mail_names_no_letter_where_previews_show(app, client, lang):
    row = letters.letter_row(SLUG)
    assert row.discreet_mail
    make_user(app, "lead@example.org", slugs=(SLUG,))
    title = letters.loaded(SLUG).text_for(lang).front.title
    sign_letter(client, lang=lang, email="reader@example.org")
    confirm_mail = outbox_messages(app)[-1]
    _confirm(client, confirm_mail)
    sign_letter(client, lang=lang, email="reader@example.org")  # the "already signed" mail
    sign_org(client, lang=lang, contact_email="org@example.org")
    messages = [m for m in outbox_messages(app) if m.to != "lead@example.org"]
    assert len(messages) == 3
    for message in messages:
        assert title not in message.subject and not TOPIC_WORDS.search(message.subject)
        assert not TOPIC_WORDS.search(message.sender or "")
        visible_html = re.sub(r"<[^>]+>", " ", message.html or "")
        for part in (message.text, visible_html):
            head = " ".join(part.split())[:200]
            assert title not in head and not TOPIC_WORDS.search(head), head
        # Not further down either: a discreet mail does not name the letter at all.
        assert title not in message.text and SLUG not in message.text


def test_a_flood_on_one_letter_does_not_stop_anyone_signing(app, client):
    """The old surge brake answered 429 to everyone once 3,000 requests a minute came in:
    an attacker could keep a letter closed. Now requests are paced, never refused."""
    app.config["PETITION"].INTAKE_PER_LETTER_PER_MINUTE = 5
    make_user(app, "lead@example.org", slugs=(SLUG,))
    for n in range(12):
        assert sign_letter(client, email=f"flood{n}@spam.example").status_code == 303
    # A real person on the flooded letter, and one on another letter.
    assert sign_letter(client, email="real@example.org").status_code == 303
    assert sign_letter(client, "protect-women-hrds", email="other@example.org").status_code == 303
    worker = intake.Intake()
    for _ in range(3):
        worker.process_due()
    db.session.rollback()
    handled = {m.to for m in outbox_messages_without_intake(app)}
    assert "other@example.org" in handled  # the other letter is not held up
    assert sum(1 for to in handled if to.startswith("flood")) == 5  # the flooded letter's pace
    surge_notices = [m for m in outbox_messages_without_intake(app) if m.to == "lead@example.org"]
    assert len(surge_notices) == 1
    # Nothing is lost: the next minutes handle the rest, the real person included.
    waiting = db.session.scalar(select(func.count()).select_from(intake.SignRequest))
    assert waiting == 8
    for _ in range(3):
        worker.minute = None  # a new minute
        worker.paced.clear()
        db.session.execute(intake.MailQuota.__table__.delete().where(intake.MailQuota.key.not_in([])))
        db.session.commit()
        worker.process_due()
    assert "real@example.org" in {m.to for m in outbox_messages(app)}


def outbox_messages_without_intake(app):
    from petition.mail.models import OutboxMessage
    from petition.mail.outbox import payload

    return [payload(row) for row in db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))]
