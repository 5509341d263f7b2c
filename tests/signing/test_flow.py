"""The whole signing flow through the real pages and a real SMTP server."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from petition.extensions import db
from petition.letters import services as letters
from petition.mail.worker import drain
from petition.signing.models import Signature
from tests.helpers import form_values, links_in, plain_body, publish_names, sign_letter, withdraw_code_in

LANGS = ["en", "fr", "ar", "el"]


@pytest.fixture
def smtp_app(make_app, smtp_server):
    app = make_app(MAIL_SERVER=smtp_server.host, MAIL_PORT=smtp_server.port)
    with app.app_context():
        yield app


def deliver(app, smtp_server, expected_total):
    with app.app_context():
        drain()
    return smtp_server.wait_for(expected_total)


@pytest.mark.parametrize("lang", LANGS)
def test_sign_confirm_withdraw(smtp_app, smtp_server, lang):
    client = smtp_app.test_client()
    response = sign_letter(client, "secure-our-socials", lang, name="Nour Khalil", email="Nour.Khalil@Example.org",
                           public_visibility="full", bundle_visibility="named", affiliation="Journalist")
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/{lang}/letters/secure-our-socials/sign/check-your-inbox")
    assert client.get(response.headers["Location"]).status_code == 200

    [message] = deliver(smtp_app, smtp_server, 1)
    assert message["To"] == "Nour.Khalil@example.org"  # local part as typed, not canonicalised
    assert message["Content-Language"] == lang
    # Discreet mail: the subject and sender say nothing about the letter.
    title = letters.loaded("secure-our-socials").text_for(lang).front.title
    assert title not in message["Subject"] and "Meta" not in message["Subject"]
    assert message["From"].startswith("Notifications")
    body = plain_body(message)
    assert message.get_body(("html",)) is not None
    confirm_path = re.search(r"https?://[^/\s]+(/\w\w/confirm/\S+)", body).group(1)
    withdraw_path = re.search(r"https?://[^/\s]+(/\w\w/withdraw/\S+)", body).group(1)
    receipt = re.search(r"[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}", body).group(0)
    assert receipt

    # Nothing is public before confirmation.
    assert "Nour Khalil" not in client.get(f"/{lang}/letters/secure-our-socials/").text

    page = client.get(confirm_path)
    assert page.status_code == 200
    assert "Nour Khalil" in page.text and "N. K." in page.text
    # Lists in running text take the language's own comma (Arabic has "،").
    comma = "، " if lang == "ar" else ", "
    assert f"<bdi>Nour Khalil</bdi>{comma}<bdi>Journalist</bdi>" in page.text
    assert page.headers["Cache-Control"] == "no-store"
    data = form_values(page.text) | {"public_visibility": "full", "bundle_visibility": "named"}
    confirmed = client.post(confirm_path, data=data)
    assert confirmed.status_code == 200
    withdraw_code_in(confirmed.text)
    # Counted at once; listed with its publication batch (signing/publication.py).
    assert "Nour Khalil" not in client.get(f"/{lang}/letters/secure-our-socials/").text
    assert publish_names(smtp_app) == 1
    letter_page = client.get(f"/{lang}/letters/secure-our-socials/")
    assert f"<bdi>Nour Khalil</bdi>{comma}<bdi>Journalist</bdi>" in letter_page.text
    assert f"(Facebook{comma}Instagram)" in letter_page.text
    assert client.get("/api/v1/letters/secure-our-socials").json["counts"]["individuals"] == 1

    # The link is single use; its holder is told the signature is already confirmed.
    again = client.get(confirm_path)
    assert again.status_code == 200 and 'name="public_visibility"' not in again.text

    page = client.get(withdraw_path)
    assert page.status_code == 200
    withdrawn = client.post(withdraw_path, data=form_values(page.text))
    # Redirected after the POST, so a refresh does not send it again.
    assert withdrawn.status_code == 303
    assert client.get(withdrawn.headers["Location"]).status_code == 200
    assert "Nour Khalil" not in client.get(f"/{lang}/letters/secure-our-socials/").text
    assert client.get("/api/v1/letters/secure-our-socials").json["counts"]["individuals"] == 0
    assert db.session.scalar(select(func.count()).select_from(Signature)) == 0

    # A person who withdrew may sign again.
    assert sign_letter(client, "secure-our-socials", lang, email="nour.khalil@example.org").status_code == 303
    messages = deliver(smtp_app, smtp_server, 2)
    assert links_in(plain_body(messages[-1]), "confirm")


def test_confirmation_can_only_lower_choices(smtp_app, smtp_server):
    client = smtp_app.test_client()
    sign_letter(client, name="Sami Aziz", email="sami@example.org", public_visibility="initials", bundle_visibility="counted")
    [message] = deliver(smtp_app, smtp_server, 1)
    path = links_in(plain_body(message), "confirm")[0]
    page = client.get(path)
    # Only options that show as much or less are offered.
    assert 'value="full"' not in page.text and 'value="initials"' in page.text and 'value="none"' in page.text
    assert 'value="named"' not in page.text
    # A forged request for more than was first chosen is confirmed at the first choice.
    client.post(path, data=form_values(page.text) | {"public_visibility": "full", "bundle_visibility": "named"})
    sig = db.session.scalar(select(Signature))
    assert sig.status == "confirmed"
    assert sig.public_visibility == "initials" and sig.public_name == "S. A."
    assert sig.bundle_visibility == "counted"


def test_not_listed_signer_is_counted_but_not_shown(smtp_app, smtp_server):
    client = smtp_app.test_client()
    sign_letter(client, name="Hidden Person", email="hidden@example.org", public_visibility="none")
    [message] = deliver(smtp_app, smtp_server, 1)
    path = links_in(plain_body(message), "confirm")[0]
    page = client.get(path)
    client.post(path, data=form_values(page.text) | {"public_visibility": "none"})
    sig = db.session.scalar(select(Signature))
    assert sig.public_name is None and sig.public_affiliation is None
    assert "Hidden Person" not in client.get("/en/letters/secure-our-socials/signatures").text
    assert client.get("/api/v1/letters/secure-our-socials").json["counts"]["individuals"] == 1


def test_already_signed_address_gets_a_withdraw_link(smtp_app, smtp_server):
    client = smtp_app.test_client()
    sign_letter(client, email="twice@example.org")
    [first] = deliver(smtp_app, smtp_server, 1)
    path = links_in(plain_body(first), "confirm")[0]
    client.post(path, data=form_values(client.get(path).text))
    sign_letter(client, email="Twice@example.org")
    second = deliver(smtp_app, smtp_server, 2)[-1]
    body = plain_body(second)
    assert links_in(body, "withdraw") and not links_in(body, "confirm")
    assert db.session.scalar(select(func.count()).select_from(Signature)) == 1


def test_signature_records_the_version_its_signer_confirmed(smtp_app, smtp_server):
    client = smtp_app.test_client()
    sign_letter(client, "secure-our-socials", "ar", email="reader@example.org")
    [message] = deliver(smtp_app, smtp_server, 1)
    path = links_in(plain_body(message), "confirm")[0]
    client.post(path, data=form_values(client.get(path).text))
    sig = db.session.scalar(select(Signature))
    assert sig.version_hash == letters.loaded("secure-our-socials").texts["ar"].version_hash
    assert sig.lang == "ar"


def test_public_list_is_paginated_and_capped(app, client):
    from petition.signing.synthetic import fake

    fake(db.session, letters.letter_row("secure-our-socials"), 130, seed=1)
    db.session.commit()
    first = client.get("/en/letters/secure-our-socials/signatures")
    assert first.status_code == 200
    assert first.text.count("<li><bdi>") == 50
    following = re.search(r'href="(/en/letters/secure-our-socials/signatures\?before=\d+)"', first.text).group(1)
    second = client.get(following)
    assert second.status_code == 200 and second.text.count("<li><bdi>") <= 50
    assert client.get("/en/letters/secure-our-socials/signatures?before=notanumber").status_code == 200
