"""Links in emails: GET never changes anything (mail scanners open links), tokens are
single use, expire, and cannot be forged or moved between purposes."""
from __future__ import annotations

from sqlalchemy import select

from petition import tokens
from petition.extensions import db
from petition.signing import services
from petition.signing.models import Signature
from tests.helpers import form_values, links_in, outbox_messages, sign_letter, process_intake


def test_get_on_confirm_and_withdraw_links_changes_nothing(app, client):
    sign_letter(client, email="scanner@example.org")
    message = outbox_messages(app)[-1]
    confirm_path = links_in(message.text, "confirm")[0]
    withdraw_path = links_in(message.text, "withdraw")[0]
    before = db.session.execute(select(Signature.__table__)).all()
    for _ in range(3):
        assert client.get(confirm_path).status_code == 200
        assert client.get(withdraw_path).status_code == 200
        assert client.head(confirm_path).status_code == 200
    db.session.expire_all()
    assert db.session.execute(select(Signature.__table__)).all() == before
    assert db.session.scalar(select(Signature.status)) == "pending"


def test_confirm_link_is_single_use(app, client):
    sign_letter(client, email="once@example.org")
    path = links_in(outbox_messages(app)[-1].text, "confirm")[0]
    data = form_values(client.get(path).text)
    assert client.post(path, data=data).status_code == 200  # the answer with the withdrawal code
    # Used: its holder (only they have it) is told plainly that it is done, and nothing changes.
    for response in (client.post(path, data=data), client.get(path)):
        assert response.status_code == 200
        assert "already confirmed" in response.text and 'name="public_visibility"' not in response.text


def test_resubmitting_keeps_every_link_already_mailed(app, client):
    sign_letter(client, email="again@example.org", name="First Typist")
    first = links_in(outbox_messages(app)[-1].text, "confirm")[0]
    sign_letter(client, email="again@example.org", name="Second Typist")
    second = links_in(outbox_messages(app)[-1].text, "confirm")[0]
    # Each link still works, and shows the details its own request typed.
    assert "First Typist" in client.get(first).text and "Second Typist" not in client.get(first).text
    assert "Second Typist" in client.get(second).text
    # Confirming one: the other's holder (the same mailbox) is told it is done already.
    assert client.post(first, data=form_values(client.get(first).text)).status_code == 200
    assert "already confirmed" in client.get(second).text


def test_tokens_expire_and_cannot_be_forged(app, client):
    sign_letter(client, email="expiry@example.org")
    process_intake(app)
    sig = db.session.scalar(select(Signature))
    nonce, nonce_hash = tokens.new_nonce()
    sig.confirm_nonce_hash = nonce_hash
    db.session.commit()
    good = tokens.make(services.CONFIRM, sig.id, nonce)
    assert client.get(f"/en/confirm/{good}").status_code == 200
    # Expired: read it back with a zero-day window.
    import pytest

    with pytest.raises(tokens.InvalidLink):
        tokens.read(services.CONFIRM, good, max_age_days=-1)
    # A withdraw token is not a confirm token, even for the same row and nonce.
    other_purpose = tokens.make(services.MANAGE, sig.id, nonce)
    assert client.get(f"/en/confirm/{other_purpose}").status_code == 404
    # Wrong nonce, tampered signature, garbage.
    assert client.get(f"/en/confirm/{tokens.make(services.CONFIRM, sig.id, 'guess')}").status_code == 404
    assert client.get(f"/en/confirm/{good[:-2]}xx").status_code == 404
    assert client.get("/en/confirm/%00%FF<script>").status_code == 404
    assert client.get("/ar/withdraw/" + "A" * 500).status_code == 404
    # The database keeps only the nonce's hash.
    assert nonce not in str(db.session.execute(select(Signature.__table__)).all())


def test_someone_elses_address_is_never_signed_without_the_owner(app, client):
    """The owner of an address typed by someone else gets an email that says nothing is
    published; without their click, nothing is."""
    sign_letter(client, email="victim@example.org", name="Typed By Someone Else")
    message = outbox_messages(app)[-1]
    assert "Nothing is published unless you confirm" in message.text
    assert "Typed By Someone Else" not in client.get("/en/letters/secure-our-socials/").text
    assert client.get("/api/v1/letters/secure-our-socials").json["counts"]["individuals"] == 0
