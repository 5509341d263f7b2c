"""Organisations end to end: the real pages, a real SMTP server, a lead's approval."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from petition.extensions import db
from petition.letters import services as letters
from petition.mail.worker import drain
from petition.organisations.models import Organisation
from tests.console.support import confirm, logged_in, make_user
from tests.helpers import csrf_token, plain_body, withdraw_code_in
from tests.organisations.support import ORG, sign_org

SLUG = "secure-our-socials"
LANGS = ["en", "fr", "ar", "el"]


@pytest.fixture
def smtp_app(make_app, smtp_server):
    # No app context held around the test: with several clients, each request must get
    # its own (Flask-WTF and Flask-Login cache per-user things on flask.g).
    return make_app(MAIL_SERVER=smtp_server.host, MAIL_PORT=smtp_server.port)


def deliver(app, smtp_server, expected_total):
    with app.app_context():
        drain()
    return smtp_server.wait_for(expected_total)


def link(message, kind: str) -> str:
    return re.search(rf"https?://[^/\s]+(/\w\w/organisations/{kind}/\S+)", plain_body(message)).group(1)


def org_state(app):
    with app.app_context():
        org = db.session.scalar(select(Organisation))
        return None if org is None else (org.status, org.confirmed_at, org.approved_at)


@pytest.mark.parametrize("lang", LANGS)
def test_organisation_cosigns_end_to_end(smtp_app, smtp_server, lang):
    client = smtp_app.test_client()
    lead_client = smtp_app.test_client()
    lead = make_user(smtp_app, "lead@example.org", slugs=(SLUG,))

    letter_page = client.get(f"/{lang}/letters/{SLUG}/")
    assert f"/{lang}/letters/{SLUG}/organisations/sign" in letter_page.text
    form = client.get(f"/{lang}/letters/{SLUG}/organisations/sign")
    assert f'lang="{lang}"' in form.text and form.headers["Cache-Control"] == "no-store"
    if lang == "ar":
        assert 'dir="rtl"' in form.text

    response = sign_org(client, SLUG, lang)
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/{lang}/letters/{SLUG}/organisations/check-your-inbox")
    assert client.get(response.headers["Location"]).status_code == 200

    [message] = deliver(smtp_app, smtp_server, 1)
    assert message["To"] == ORG["contact_email"]
    assert message["Content-Language"] == lang
    with smtp_app.app_context():
        title = letters.loaded(SLUG).text_for(lang).front.title
        initiators = len(letters.loaded(SLUG).meta.initiators)
    assert title not in message["Subject"]  # discreet mail
    confirm_path = link(message, "confirm")

    # Opening the link shows; it does not confirm (mail scanners open links).
    page = client.get(confirm_path)
    assert page.status_code == 200 and ORG["name"] in page.text
    assert org_state(smtp_app)[0] == "pending"
    assert client.post(confirm_path, data={}).status_code == 400  # no CSRF token
    assert org_state(smtp_app)[0] == "pending"
    response = client.post(confirm_path, data={"csrf_token": csrf_token(page.text)})
    assert response.status_code == 200
    withdraw_code_in(response.text)  # shown in this answer only
    assert org_state(smtp_app)[0] == "awaiting"
    again = client.get(confirm_path)  # single use: its holder is told it is done
    assert again.status_code == 200 and "csrf_token" not in again.text

    # Waiting for a lead: nowhere public yet.
    assert ORG["name"] not in client.get(f"/{lang}/letters/{SLUG}/").text
    assert client.get(f"/api/v1/letters/{SLUG}").get_json()["counts"]["organizations"] == initiators

    messages = deliver(smtp_app, smtp_server, 2)  # the lead's notice
    notice = messages[1]
    assert notice["To"] == "lead@example.org" and "/console/letters/" in plain_body(notice)

    logged_in(lead_client, smtp_app, lead, lang)
    queue = lead_client.get(f"/{lang}/console/letters/{SLUG}/organisations")
    assert queue.status_code == 200
    assert ORG["name"] in queue.text and ORG["contact_email"] in queue.text
    with smtp_app.app_context():
        org_id = db.session.scalar(select(Organisation.id))
    approve_url = f"/{lang}/console/letters/{SLUG}/organisations/{org_id}/approve"
    assert lead_client.post(approve_url, data={"csrf_token": csrf_token(queue.text)}).status_code == 200
    assert org_state(smtp_app)[0] == "awaiting"  # only asked to confirm
    approve = confirm(lead_client, approve_url, {"csrf_token": csrf_token(queue.text)})
    assert approve.status_code == 303
    assert org_state(smtp_app)[0] == "approved"

    page = client.get(f"/{lang}/letters/{SLUG}/")
    assert ORG["name"] in page.text and ORG["statement"] in page.text
    assert ORG["contact_email"] not in page.text and ORG["contact_name"] not in page.text
    assert client.get(f"/api/v1/letters/{SLUG}").get_json()["counts"]["organizations"] == initiators + 1

    approved_mail = deliver(smtp_app, smtp_server, 3)[2]
    assert approved_mail["To"] == ORG["contact_email"] and approved_mail["Content-Language"] == lang
    withdraw_path = link(approved_mail, "withdraw")
    page = client.get(withdraw_path)
    assert page.status_code == 200 and org_state(smtp_app)[0] == "approved"
    withdrawn = client.post(withdraw_path, data={"csrf_token": csrf_token(page.text)})
    assert withdrawn.status_code == 303  # redirected after the POST
    assert client.get(withdrawn.headers["Location"]).status_code == 200
    assert org_state(smtp_app) is None
    assert ORG["name"] not in client.get(f"/{lang}/letters/{SLUG}/").text
    assert client.get(withdraw_path).status_code == 404


@pytest.mark.parametrize("lang", ["en", "ar"])
def test_bad_input_gets_localised_errors(app, client, lang):
    response = sign_org(client, SLUG, lang, name="", contact_email="not an address", website="javascript:alert(1)",
                        country="XX", statement="one\n\ntwo")
    assert response.status_code == 400
    assert 'class="error-summary"' in response.text
    assert db.session.scalar(select(db.func.count()).select_from(Organisation)) == 0
    if lang == "ar":
        assert 'dir="rtl"' in response.text


def test_same_response_whatever_the_state(app, client):
    first = sign_org(client)
    second = sign_org(client)  # the same contact again, still pending
    assert first.status_code == second.status_code == 303
    assert first.headers["Location"] == second.headers["Location"]


def test_closed_letter_shows_no_form(app, client):
    token = csrf_token(client.get(f"/en/letters/{SLUG}/organisations/sign").text)
    letters.set_status(letters.letter_row(SLUG), "closed")
    db.session.commit()
    page = client.get(f"/en/letters/{SLUG}/organisations/sign")
    assert page.status_code == 200 and "<form" not in page.text.split("<main", 1)[1]
    assert client.post(f"/en/letters/{SLUG}/organisations/sign", data={"csrf_token": token}).status_code == 409


def test_unknown_and_draft_letters_404(app, client):
    assert client.get("/en/letters/nope/organisations/sign").status_code == 404
    assert client.get("/en/organisations/confirm/garbage").status_code == 404
    assert client.get("/en/organisations/withdraw/garbage").status_code == 404
