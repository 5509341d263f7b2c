"""Receipt check page, deliveries on the letter page, console pages and the build job."""
from __future__ import annotations

import json
import re
import time
from datetime import date

import pytest
from sqlalchemy import select

from petition.audit import AuditEntry
from petition.bundles import services
from petition.bundles.models import Bundle
from petition.console import auth
from petition.extensions import db
from petition.jobs import runner
from petition.jobs.models import Job
from petition.letters import services as letters
from tests.bundles.conftest import add_signature, pdf_text
from tests.helpers import confirm_from_mail, csrf_token, outbox_messages, sign_letter

LANGS = ["en", "fr", "ar", "el"]


def delivered_bundle(app):
    row = letters.letter_row("secure-our-socials")
    built = services.build(db.session, row, "en")
    from petition.deliveries import services as deliveries

    recorded = deliveries.record(db.session, row, built.bundle, company="Meta", delivered_on=date.today(),
                                 channel="email", recipient="the policy team", actor=None)
    deliveries.respond(db.session, recorded.delivery, "We will look into it.")
    deliveries.publish(db.session, row, recorded.delivery, None)
    db.session.commit()
    return built


def check(client, lang, code):
    page = client.get(f"/{lang}/receipt")
    assert page.status_code == 200
    return client.post(f"/{lang}/receipt", data={"csrf_token": csrf_token(page.text), "code": code})


@pytest.mark.parametrize("lang", LANGS)
def test_receipt_check_page(bundle_app, lang):
    included = add_signature("Amal Haddad")
    counted = add_signature("Omar Saleh", bundle="counted")
    built = delivered_bundle(bundle_app)
    client = bundle_app.test_client()

    for code in (included.code, counted.code.lower().replace("-", " ")):
        response = check(client, lang, code)
        assert response.status_code == 200
        assert built.bundle.sha256 in response.text
        assert "Meta" in response.text
        assert 'name="code"' in response.text and code not in response.text  # the code is not echoed back
    assert f'lang="{lang}"' in response.text

    unknown = check(client, lang, "ABCD-EFGH-JKLM")
    assert unknown.status_code == 200 and built.bundle.sha256 not in unknown.text
    # the page says nothing about the person: not their name, not their choices
    assert "Amal" not in check(client, lang, included.code).text
    empty = check(client, lang, "")
    assert empty.status_code == 400
    assert response.headers["Cache-Control"].startswith("no-store")


def test_receipt_of_an_undelivered_bundle_is_not_found(bundle_app):
    signer = add_signature("Amal Haddad")
    built = services.build(db.session, letters.letter_row("secure-our-socials"), "en")
    db.session.commit()
    response = check(bundle_app.test_client(), "en", signer.code)
    assert response.status_code == 200 and built.bundle.sha256 not in response.text
    assert "Not found" in response.text


def test_receipt_code_from_the_real_confirmation_email(bundle_app):
    client = bundle_app.test_client()
    assert sign_letter(client, "secure-our-socials", "ar", name="سارة خليل", email="sara@example.org").status_code == 303
    message = outbox_messages(bundle_app)[-1]
    code = re.search(r"[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}", message.text).group(0)
    assert confirm_from_mail(client, bundle_app).status_code == 200
    built = delivered_bundle(bundle_app)
    assert "سارة خليل" in " ".join(pdf_text(built.pdf))
    response = check(client, "ar", code)
    assert built.bundle.sha256 in response.text


@pytest.mark.parametrize("lang", LANGS)
def test_letter_page_shows_deliveries(bundle_app, lang):
    add_signature("Amal Haddad")
    built = delivered_bundle(bundle_app)
    page = bundle_app.test_client().get(f"/{lang}/letters/secure-our-socials/")
    assert page.status_code == 200
    assert built.bundle.sha256 in page.text and "Meta" in page.text
    assert "We will look into it." in page.text
    assert letters.letter_row("secure-our-socials").status == "open"


# ---- console ----------------------------------------------------------------------------

def login(client, app, slugs=("secure-our-socials",), role="lead"):
    user, _secret = auth.create_user(db.session, email=f"{role}@example.org", name="Lina Lead", role=role,
                                     password="correct horse battery staple")
    for slug in slugs:
        user.letters.append(letters.letter_row(slug))
    db.session.commit()
    with client.session_transaction() as session:
        session["_user_id"] = f"{user.id}:{user.session_version}"
        session["_fresh"] = True
        session["console_auth_at"] = time.time()
    return user


def test_console_pages_need_login(bundle_app):
    client = bundle_app.test_client()
    for path in ("/en/console/bundles", "/en/console/letters/secure-our-socials/bundles"):
        response = client.get(path)
        assert response.status_code in (302, 401)
    assert client.post("/en/console/letters/secure-our-socials/bundles/build", data={"lang": "en"}).status_code in (302, 400, 401)
    assert db.session.scalar(select(Job.id)) is None


def test_lead_of_another_letter_gets_404(bundle_app):
    client = bundle_app.test_client()
    login(client, bundle_app, slugs=("protect-women-hrds",))
    assert client.get("/en/console/letters/secure-our-socials/bundles").status_code == 404


@pytest.mark.parametrize("lang", ["en", "ar"])
def test_build_job_download_and_delivery_from_the_console(bundle_app, lang):
    add_signature("Amal Haddad")
    client = bundle_app.test_client()
    user = login(client, bundle_app)
    base = f"/{lang}/console/letters/secure-our-socials/bundles"
    overview = client.get(f"/{lang}/console/bundles")
    assert overview.status_code == 200 and base in overview.text
    page = client.get(base)
    assert page.status_code == 200 and f'lang="{lang}"' in page.text

    response = client.post(f"{base}/build", data={"csrf_token": csrf_token(page.text), "lang": "ar"})
    assert response.status_code == 303
    job = db.session.scalar(select(Job).where(Job.kind == "bundle.build"))
    assert job.status == "queued" and json.loads(job.payload) == {"slug": "secure-our-socials", "lang": "ar"}
    busy = client.get(base)
    assert 'http-equiv="refresh"' in busy.text

    done = runner.run_one()
    assert done.status == "done", done.message
    bundle = db.session.scalar(select(Bundle))
    assert json.loads(done.result)["bundle_id"] == bundle.id and bundle.lang == "ar" and bundle.built_by == user.id
    page = client.get(base)
    assert bundle.sha256 in page.text and 'http-equiv="refresh"' not in page.text

    pdf = client.get(f"{base}/{bundle.id}.pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf" and pdf.data.startswith(b"%PDF")
    assert "attachment" in pdf.headers["Content-Disposition"]
    manifest = client.get(f"{base}/{bundle.id}.manifest.json")
    assert json.loads(manifest.data)["pdf_sha256"] == bundle.sha256
    actions = [e.action for e in db.session.scalars(select(AuditEntry).order_by(AuditEntry.id))]
    assert actions.count("bundle.download") == 2 and "bundle.request" in actions and "bundle.build" in actions
    assert client.get(f"{base}/not-a-bundle.pdf").status_code == 404

    # deliveries are recorded on their own page (tests/deliveries)
    assert f"/{lang}/console/letters/secure-our-socials/deliveries" in page.text


def test_failed_build_job_is_reported(bundle_app):
    client = bundle_app.test_client()
    login(client, bundle_app)
    row = letters.letter_row("protect-women-hrds")
    runner.enqueue(db.session, "bundle.build", {"slug": "protect-women-hrds", "lang": "el"}, letter_id=row.id)
    db.session.commit()
    job = runner.run_one()
    assert job.status in ("queued", "failed") and "BundleError" in job.message
