"""The services announce confirmations, withdrawals, delivery log entries and reached
goals (petition/events.py): a subscriber hears each one once, with ids and the session only,
never a name, an address or anything a person typed."""
from __future__ import annotations

from contextlib import contextmanager
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session, scoped_session

from petition import events
from petition.bundles.models import Bundle
from petition.deliveries import services as deliveries
from petition.deliveries.models import Delivery
from petition.extensions import db
from petition.letters import services as letters
from petition.letters.models import Milestone
from petition.organisations import services as organisations
from petition.organisations.models import Organisation
from petition.signing import services as signing
from petition.signing.models import Signature
from tests.deliveries.conftest import SLUG, build_bundle, database, delivery_app  # noqa: F401  (a fixture)
from tests.growth.support import set_count, set_goal, sweep
from tests.helpers import confirm_from_mail, links_in, outbox_messages, sign_letter
from tests.organisations.support import sign_org

IDS = {"letter_id", "signer_id", "delivery_id", "entry_id", "milestone_id"}


@contextmanager
def heard(signal):
    """[(sender, payload)] of every send of signal while the block runs."""
    calls: list[tuple[str, dict]] = []

    def receiver(sender, **payload):
        calls.append((sender, payload))

    signal.connect(receiver)
    try:
        yield calls
    finally:
        signal.disconnect(receiver)


def only_ids(payload: dict) -> dict:
    """The payload without its session, checked to hold ids (ints) and nothing else."""
    assert isinstance(payload.pop("session"), (Session, scoped_session))
    assert set(payload) <= IDS and all(type(value) is int for value in payload.values()), payload
    return payload


def test_an_individual_confirming_then_withdrawing_is_heard_once_each(app, client):
    with heard(events.signature_confirmed) as confirmed, heard(events.signature_withdrawn) as withdrawn:
        assert sign_letter(client, email="heard@example.org").status_code == 303
        message = outbox_messages(app)[-1]
        assert confirm_from_mail(client, app, message).status_code in (200, 303)
        sig = db.session.scalar(select(Signature).where(Signature.status == "confirmed"))
        assert len(confirmed) == 1 and not withdrawn
        assert confirmed[0][0] == events.INDIVIDUAL
        assert only_ids(confirmed[0][1]) == {"letter_id": sig.letter_id, "signer_id": sig.id}

        signing.withdraw(db.session, links_in(message.text, "withdraw")[0].rsplit("/", 1)[1])
        db.session.commit()
        assert len(confirmed) == 1 and len(withdrawn) == 1
        assert withdrawn[0][0] == events.INDIVIDUAL
        assert only_ids(withdrawn[0][1]) == {"letter_id": sig.letter_id, "signer_id": sig.id}


def test_an_organisation_confirming_then_withdrawing_is_heard_once_each(app, client):
    assert sign_org(client).status_code == 303
    message = outbox_messages(app)[-1]
    token = links_in(message.text, "organisations/confirm")[0].rsplit("/", 1)[1]
    with heard(events.signature_confirmed) as confirmed, heard(events.signature_withdrawn) as withdrawn:
        org, _code = organisations.confirm(db.session, token)
        db.session.commit()
        assert [kind for kind, _payload in confirmed] == [events.ORGANISATION] and not withdrawn
        assert only_ids(confirmed[0][1]) == {"letter_id": org.letter_id, "signer_id": org.id}
        manage = links_in(message.text, "organisations/withdraw")[0].rsplit("/", 1)[1]
        organisations.withdraw(db.session, manage)
        db.session.commit()
        assert len(confirmed) == 1 and [kind for kind, _payload in withdrawn] == [events.ORGANISATION]
        assert only_ids(withdrawn[0][1]) == {"letter_id": org.letter_id, "signer_id": org.id}
        assert db.session.scalar(select(Organisation)) is None


def test_each_delivery_log_entry_is_heard_once_with_its_kind(delivery_app):
    bundle = build_bundle(delivery_app)
    with heard(events.delivery_logged) as logged, database(delivery_app) as session:
        row = letters.letter_row(SLUG)
        recorded = deliveries.record(session, row, session.get(Bundle, bundle.id), company="X",
                                     delivered_on=date.today(), channel="email", recipient="legal@x.example",
                                     actor=None)
        session.commit()
        delivery = session.get(Delivery, recorded.delivery.id)
        deliveries.acknowledge(session, delivery)
        deliveries.respond(session, delivery, "We read it.")
        deliveries.publish(session, row, delivery, None)
        session.commit()
        assert [kind for kind, _payload in logged] == [
            deliveries.DELIVERED, deliveries.ACKNOWLEDGED, deliveries.RESPONSE_RECEIVED, deliveries.RESPONSE_PUBLISHED]
        entries = [only_ids(payload) for _kind, payload in logged]
        assert all(entry["letter_id"] == row.id and entry["delivery_id"] == delivery.id for entry in entries)
        assert len({entry["entry_id"] for entry in entries}) == 4


def test_a_reached_goal_is_heard_once_however_often_the_sweep_runs(app):
    set_goal(app, SLUG, 3)
    set_count(app, SLUG, 5)
    with heard(events.milestone_reached) as reached:
        sweep(app)
        sweep(app)
    with app.app_context():
        milestone = db.session.scalar(select(Milestone))
        assert len(reached) == 1
        assert only_ids(reached[0][1]) == {"letter_id": milestone.letter_id, "milestone_id": milestone.id}
