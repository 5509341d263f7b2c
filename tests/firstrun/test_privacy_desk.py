"""The console's privacy desk: an administrator looks up, exports or erases a person's data
by email, as the CLI does. Attacked: the address must not reach a URL, the session
cookie, a log line or the audit log; a lead must not reach the desk at all."""
from __future__ import annotations

import json
import logging
import re

import pytest
from sqlalchemy import select

from petition.audit import AuditEntry
from petition.extensions import db
from petition.letters import services as letters
from petition.signing import counters
from petition.signing.models import Signature
from tests.bundles.conftest import add_signature
from tests.console.support import logged_in, make_user
from tests.firstrun.test_console_notices import NOTICE, cookie_text
from tests.helpers import csrf_token

SLUG = "secure-our-socials"


def person(app) -> str:
    """A confirmed, counted signature; returns its address (add_signature's scheme)."""
    with app.app_context():
        before = db.session.scalar(select(Signature.id).order_by(Signature.id.desc()))
        add_signature("Amal Haddad")
        sig = db.session.scalar(select(Signature).order_by(Signature.id.desc()))
        assert sig.id != before
        from petition.crypto import decrypt

        return decrypt(sig.email_enc)


def admin_client(app, lang="en"):
    admin = make_user(app, "admin@example.org", role="admin")
    return logged_in(app.test_client(), app, admin, lang)


def count(app) -> int:
    with app.app_context():
        letter_id = letters.letter_row(SLUG).id
        counters.forget(letter_id)
        return counters.confirmed_count(letter_id)


@pytest.mark.parametrize("lang", ["en", "ar"])
def test_lookup_export_then_erase(bare_app, lang, caplog):
    caplog.set_level(logging.DEBUG)
    address = person(bare_app)
    client = admin_client(bare_app, lang)
    desk = client.get(f"/{lang}/console/privacy")
    assert desk.status_code == 200 and desk.headers["Cache-Control"] == "no-store"
    token = csrf_token(desk.text)
    responses = []

    found = client.post(f"/{lang}/console/privacy", data={"csrf_token": token, "email": address.upper()})
    responses.append(found)
    assert found.status_code == 200 and SLUG in found.text
    exported = client.post(f"/{lang}/console/privacy/export", data={"csrf_token": token, "email": address})
    responses.append(exported)
    data = json.loads(exported.data)
    assert data["signatures"][0]["name"] == "Amal Haddad" and data["signatures"][0]["letter"] == SLUG
    assert address not in exported.headers["Content-Disposition"]

    before = count(bare_app)
    unconfirmed = client.post(f"/{lang}/console/privacy/erase", data={"csrf_token": token, "email": address})
    responses.append(unconfirmed)
    assert unconfirmed.status_code == 400 and count(bare_app) == before  # nothing without the tick
    erased = client.post(f"/{lang}/console/privacy/erase", data={"csrf_token": token, "email": address, "confirm": "y"})
    responses.append(erased)
    assert erased.status_code == 303 and count(bare_app) == before - 1
    after = client.get(erased.headers["Location"])
    said = NOTICE.search(after.text).group(1)
    assert {"en": "1 signature,", "ar": "توقيع واحد"}[lang] in said, said
    with bare_app.app_context():
        assert db.session.scalar(select(Signature.id).where(Signature.name_enc.is_not(None))) is None
        entries = list(db.session.scalars(select(AuditEntry).where(AuditEntry.action.like("privacy.%"))))
    actions = [e.action for e in entries]
    assert {"privacy.lookup", "privacy.export", "privacy.erase"} <= set(actions)
    assert all(e.actor_label != "command line" for e in entries)  # the administrator, by name

    # Where the address must never be:
    local = address.split("@")[0]
    for response in responses + [after]:
        assert local not in response.headers.get("Location", "")
        assert local not in response.request.url
    assert local not in cookie_text(client) and local.upper() not in cookie_text(client)
    assert not [r for r in caplog.records if local in r.getMessage().lower()]
    assert all(local not in (e.detail or "") for e in entries)
    assert local not in " ".join(re.findall(r'action="([^"]*)"', found.text))  # posted in bodies only


def test_the_address_in_a_url_is_not_used(bare_app):
    address = person(bare_app)
    client = admin_client(bare_app)
    page = client.get("/en/console/privacy", query_string={"email": address})
    assert page.status_code == 200 and address not in page.text and SLUG not in page.text
    with bare_app.app_context():
        assert db.session.scalar(select(AuditEntry.id).where(AuditEntry.action == "privacy.lookup")) is None


def test_an_address_held_nowhere_and_bad_input(bare_app):
    client = admin_client(bare_app)
    token = csrf_token(client.get("/ar/console/privacy").text)
    nothing = client.post("/ar/console/privacy", data={"csrf_token": token, "email": "nobody@example.org"})
    assert nothing.status_code == 200 and SLUG not in nothing.text
    for bad in ("", "not-an-address", "a@" + "x" * 300):
        refused = client.post("/ar/console/privacy", data={"csrf_token": token, "email": bad})
        assert refused.status_code == 400 and 'id="error-summary"' in refused.text


def test_only_administrators_reach_the_desk(bare_app):
    address = person(bare_app)
    lead = make_user(bare_app, "lead@example.org", slugs=(SLUG,))
    client = logged_in(bare_app.test_client(), bare_app, lead)
    token = csrf_token(client.get(f"/en/console/letters/{SLUG}/").text)
    assert client.get("/en/console/privacy").status_code == 403
    before = count(bare_app)
    for path in ("/en/console/privacy", "/en/console/privacy/export", "/en/console/privacy/erase"):
        response = client.post(path, data={"csrf_token": token, "email": address, "confirm": "y"})
        assert response.status_code == 403 and "Amal" not in response.text
    assert count(bare_app) == before
    anonymous = bare_app.test_client().post("/en/console/privacy/erase", data={"email": address, "confirm": "y"})
    assert anonymous.status_code in (302, 400, 401) and count(bare_app) == before
