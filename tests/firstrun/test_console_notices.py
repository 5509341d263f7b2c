"""Every console action says, in the lead's language, that it was done; the line travels in
the cookie session, so it must carry nothing personal."""
from __future__ import annotations

import base64
import re

import pytest
from sqlalchemy import select

from petition.extensions import db
from petition.letters import services as letters
from petition.models_common import utcnow
from petition.organisations.models import Organisation
from tests.console.support import logged_in, make_user
from tests.console.test_console import SLUG, first_signature_id, seed
from tests.helpers import csrf_token

NOTICE = re.compile(r'<div class="console-notice" role="status">\s*<p>([^<]+)</p>')


def notice_after(client, response) -> str:
    assert response.status_code == 303, response.status_code
    page = client.get(response.headers["Location"])
    match = NOTICE.search(page.text)
    assert match, page.text[:3000]
    # shown once: gone on the next page
    assert not NOTICE.search(client.get(response.headers["Location"]).text)
    return match.group(1)


def cookie_text(client) -> str:
    """Everything the session cookie holds, decoded as far as a stranger could."""
    cookie = client.get_cookie("session")
    payload = cookie.value.split(".")[0] if cookie else ""
    return base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)).decode("utf-8", "replace")


def awaiting_organisation(app) -> int:
    with app.app_context():
        # Names are encrypted at rest: found in Python, not in SQL.
        [org] = [o for o in db.session.scalars(select(Organisation)) if o.name == "Sawt"]
        org.status, org.confirmed_at = "awaiting", utcnow()
        db.session.commit()
        return org.id


@pytest.mark.parametrize("lang, expect", [
    ("en", ["closed", "open for signatures", "approved", "hidden", "shown again", "Update queued"]),
    ("ar", ["مغلقة", "مفتوحة للتوقيع", "قُبلت", "أُخفي", "أُعيد", "وُضع التحديث"]),
])
def test_each_action_says_it_was_done(bare_app, lang, expect):
    seed(bare_app)
    org_id = awaiting_organisation(bare_app)
    lead = make_user(bare_app, "lead@example.org", slugs=(SLUG,))
    client = logged_in(bare_app.test_client(), bare_app, lead, lang)
    base = f"/{lang}/console/letters/{SLUG}"
    token = csrf_token(client.get(f"{base}/").text)
    said = [
        # Irreversible actions are confirmed on a page of their own (lead_pages/confirm.py).
        notice_after(client, client.post(f"{base}/status", data={"csrf_token": token, "status": "closed",
                                                                  "confirmed": "yes"})),
        notice_after(client, client.post(f"{base}/status", data={"csrf_token": token, "status": "open"})),
        notice_after(client, client.post(f"{base}/organisations/{org_id}/approve",
                                         data={"csrf_token": token, "confirmed": "yes"})),
    ]
    sig_id = first_signature_id(bare_app)
    said.append(notice_after(client, client.post(f"{base}/signatures/{sig_id}",
                                                 data={"csrf_token": token, "reason": "Rania Haddad asked"})))
    assert "Rania" not in cookie_text(client)  # the reason a lead typed is not in the cookie
    said.append(notice_after(client, client.post(f"{base}/signatures/{sig_id}/unhide", data={"csrf_token": token})))
    said.append(notice_after(client, client.post(f"{base}/updates", data={
        "csrf_token": token, "subject": "Meta answered", "body": "Thank you, Sawt and everyone.",
        "confirmed": "yes"})))
    for text, word in zip(said, expect):
        assert word in text, (text, word)
    with bare_app.app_context():
        org = db.session.get(Organisation, org_id)
        assert org.status == "approved" and letters.letter_row(SLUG).status == "open"


def test_a_refused_action_says_nothing_was_done(bare_app):
    seed(bare_app)
    lead = make_user(bare_app, "lead@example.org", slugs=(SLUG,))
    client = logged_in(bare_app.test_client(), bare_app, lead)
    sig_id = first_signature_id(bare_app)
    page = client.get(f"/en/console/letters/{SLUG}/signatures/{sig_id}")
    refused = client.post(page.request.path, data={"csrf_token": csrf_token(page.text), "reason": ""})
    assert refused.status_code == 400 and not NOTICE.search(refused.text)


@pytest.mark.parametrize("lang, word", [("en", "Bundle requested"), ("ar", "طُلبت الحزمة")])
def test_bundle_request_says_it_was_done(bare_app, lang, word):
    lead = make_user(bare_app, "lead@example.org", slugs=(SLUG,))
    client = logged_in(bare_app.test_client(), bare_app, lead, lang)
    base = f"/{lang}/console/letters/{SLUG}/bundles"
    token = csrf_token(client.get(base).text)
    assert word in notice_after(client, client.post(f"{base}/build", data={"csrf_token": token, "lang": lang}))


@pytest.mark.parametrize("lang", ["en", "ar"])
def test_totp_field_brings_the_digit_keypad_and_the_code(bare_app, lang):
    lead = make_user(bare_app, "lead@example.org", slugs=(SLUG,))
    client = bare_app.test_client()
    page = client.get(f"/{lang}/console/login")
    client.post(f"/{lang}/console/login", data={"csrf_token": csrf_token(page.text), "email": lead.email,
                                                "password": lead.password})
    field = re.search(r'<input[^>]*id="code"[^>]*>', client.get(f"/{lang}/console/login/totp").text).group(0)
    assert 'inputmode="numeric"' in field and 'autocomplete="one-time-code"' in field
