"""The console's pages: roles, every page in four languages, moderation, export, audit."""
from __future__ import annotations

import csv
import io
import re

import pytest
from sqlalchemy import func, select

from petition.audit import AuditEntry
from petition.extensions import db
from petition.letters import services as letters
from petition.organisations import services as org_services
from petition.signing import counters
from petition.signing import intake
from petition.signing.models import Signature
from petition.signing.synthetic import fake
from tests.console.support import confirm, logged_in, make_user
from tests.helpers import csrf_token

SLUG = "secure-our-socials"
OTHER = "protect-women-hrds"
LANGS = ["en", "fr", "ar", "el"]


def seed(app, count=40):
    with app.app_context():
        fake(db.session, letters.letter_row(SLUG), count, seed=7)
        org_services.sign(db.session, letters.letter_row(SLUG), org_services.OrganisationRequest(
            name="Sawt", country="LB", website="https://sawt.org", contact_name="Rania", contact_email="r@sawt.org",
            statement="", lang="en"))
        db.session.commit()
        intake.drain()  # what the sender's loop does with the request


def first_signature_id(app) -> int:
    with app.app_context():
        return db.session.scalar(select(Signature.id).where(Signature.public_name.is_not(None)).order_by(Signature.id))


def audit_actions(app) -> list[str]:
    with app.app_context():
        return list(db.session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))


def letter_urls(slug: str, lang: str, sig_id: int = 1) -> list[str]:
    base = f"/{lang}/console/letters/{slug}"
    return [f"{base}/", f"{base}/organisations", f"{base}/signatures", f"{base}/signatures/{sig_id}", f"{base}/updates"]


@pytest.mark.parametrize("lang", LANGS)
def test_every_console_page_in_each_language(bare_app, lang):
    seed(bare_app)
    admin = make_user(bare_app, "admin@example.org", role="admin")
    client = logged_in(bare_app.test_client(), bare_app, admin, lang)
    sig_id = first_signature_id(bare_app)
    for url in [f"/{lang}/console/", f"/{lang}/console/audit", f"/{lang}/console/users"] + letter_urls(SLUG, lang, sig_id):
        page = client.get(url)
        assert page.status_code == 200, url
        assert f'<html lang="{lang}" dir="{"rtl" if lang == "ar" else "ltr"}">' in page.text, url
        assert page.headers["Cache-Control"] == "no-store"
        assert " style=" not in page.text and "<script>" not in page.text, url
    if lang == "ar":
        page = client.get(f"/ar/console/letters/{SLUG}/")
        assert "لوحة" in page.text or "الرسائل" in page.text  # translated, not English


def test_dashboard_shows_an_inline_svg_chart_and_grouped_countries(bare_app):
    seed(bare_app, 200)
    admin = make_user(bare_app, "admin@example.org", role="admin")
    client = logged_in(bare_app.test_client(), bare_app, admin)
    page = client.get(f"/en/console/letters/{SLUG}/").text
    svg = re.search(r"<svg[^>]*>.*?</svg>", page, re.S).group(0)
    assert "<polyline" in svg and 'role="img"' in svg and "style" not in svg
    assert "200 confirmed signatures" in page
    with bare_app.app_context():
        per_country = dict(db.session.execute(
            select(Signature.country, func.count()).group_by(Signature.country)).all())
    small = [c for c, n in per_country.items() if n < 5 and c != "ZZ"]
    assert small, "the seed should produce some small countries"
    assert "Other countries" in page
    from petition.countries import name

    for code in small:
        assert f"<td>{name(code, 'en')}</td>" not in page


def test_a_lead_sees_only_their_letters_even_by_url(bare_app):
    seed(bare_app)
    lead = make_user(bare_app, "lead@example.org", slugs=(OTHER,))
    client = logged_in(bare_app.test_client(), bare_app, lead)
    index = client.get("/en/console/").text
    assert f"/en/console/letters/{OTHER}/" in index and f"/en/console/letters/{SLUG}/" not in index
    sig_id = first_signature_id(bare_app)
    for url in letter_urls(SLUG, "en", sig_id):
        assert client.get(url).status_code == 404, url
    for url in letter_urls("no-such-letter", "en"):
        assert client.get(url).status_code == 404, url
    token = csrf_token(client.get(f"/en/console/letters/{OTHER}/").text)
    for url, data in [
        (f"/en/console/letters/{SLUG}/status", {"status": "closed"}),
        (f"/en/console/letters/{SLUG}/export.csv", {}),
        (f"/en/console/letters/{SLUG}/signatures/{sig_id}", {"reason": "x"}),
        (f"/en/console/letters/{SLUG}/signatures/{sig_id}/unhide", {}),
        (f"/en/console/letters/{SLUG}/organisations/1/approve", {}),
        (f"/en/console/letters/{SLUG}/organisations/1/reject", {"r1-reason": "x"}),
        (f"/en/console/letters/{SLUG}/updates", {"subject": "s", "body": "b"}),
    ]:
        assert client.post(url, data={"csrf_token": token, **data}).status_code == 404, url
    # A signature of one letter cannot be reached through another letter's URL either.
    assert client.get(f"/en/console/letters/{OTHER}/signatures/{sig_id}").status_code == 404
    # Administrators' pages.
    assert client.get("/en/console/audit").status_code == 403
    assert client.get("/en/console/users").status_code == 403
    with bare_app.app_context():
        assert letters.letter_row(SLUG).status == "open"
        assert db.session.scalar(select(func.count()).select_from(Signature).where(Signature.hidden.is_(True))) == 0


def test_not_logged_in_is_sent_to_login(bare_app):
    client = bare_app.test_client()
    for url in letter_urls(SLUG, "ar") + ["/ar/console/", "/ar/console/audit"]:
        response = client.get(url)
        assert response.status_code == 302 and "/ar/console/login" in response.headers["Location"], url


def test_get_never_changes_state(bare_app):
    seed(bare_app)
    admin = make_user(bare_app, "admin@example.org", role="admin")
    client = logged_in(bare_app.test_client(), bare_app, admin)

    def snapshot():
        with bare_app.app_context():
            from petition.jobs.models import Job
            from petition.mail.models import OutboxMessage
            from petition.organisations.models import Organisation

            return (
                [tuple(r) for r in db.session.execute(select(Signature.id, Signature.hidden, Signature.status,
                                                             Signature.updates_opt_in).order_by(Signature.id))],
                [tuple(r) for r in db.session.execute(select(Organisation.id, Organisation.status))],
                letters.letter_row(SLUG).status,
                db.session.scalar(select(func.count()).select_from(OutboxMessage)),
                db.session.scalar(select(func.count()).select_from(Job)),
                counters.confirmed_count(letters.letter_row(SLUG).id),
            )

    before = snapshot()
    sig_id = first_signature_id(bare_app)
    for url in letter_urls(SLUG, "en", sig_id) + [f"/en/console/letters/{SLUG}/export.csv",
                                                  f"/en/console/letters/{SLUG}/status",
                                                  "/en/console/logout"]:
        client.get(url)
    assert snapshot() == before
    assert client.get("/en/console/").status_code == 200  # still logged in


def test_open_and_close_a_letter(bare_app):
    lead = make_user(bare_app, "lead@example.org", slugs=(SLUG,))
    client = logged_in(bare_app.test_client(), bare_app, lead, "ar")
    page = client.get(f"/ar/console/letters/{SLUG}/")
    asked = client.post(f"/ar/console/letters/{SLUG}/status", data={"csrf_token": csrf_token(page.text), "status": "closed"})
    assert asked.status_code == 200 and 'dir="rtl"' in asked.text  # a confirmation page of its own, in Arabic
    with bare_app.app_context():
        assert letters.letter_row(SLUG).status == "open"
    assert confirm(client, f"/ar/console/letters/{SLUG}/status",
                   {"csrf_token": csrf_token(page.text), "status": "closed"}).status_code == 303
    with bare_app.app_context():
        assert letters.letter_row(SLUG).status == "closed"
    assert "Co-sign" not in client.get(f"/en/letters/{SLUG}/").text
    assert client.post(f"/ar/console/letters/{SLUG}/status",
                       data={"csrf_token": csrf_token(page.text), "status": "draft"}).status_code == 400
    assert client.post(f"/ar/console/letters/{SLUG}/status",
                       data={"csrf_token": csrf_token(page.text), "status": "open"}).status_code == 303
    with bare_app.app_context():
        assert letters.letter_row(SLUG).status == "open"
    assert audit_actions(bare_app).count("letter.status") == 2


def test_hide_and_unhide_a_signature(bare_app):
    seed(bare_app)
    lead = make_user(bare_app, "lead@example.org", slugs=(SLUG,))
    client = logged_in(bare_app.test_client(), bare_app, lead)
    sig_id = first_signature_id(bare_app)
    with bare_app.app_context():
        name = db.session.get(Signature, sig_id).public_name
        before = counters.confirmed_count(letters.letter_row(SLUG).id)
    shown_before = bare_app.test_client().get(f"/en/letters/{SLUG}/signatures").text.count(f">{name}<")
    # Found by public name search, as a lead would.
    found = client.get(f"/en/console/letters/{SLUG}/signatures", query_string={"q": name})
    assert f"/signatures/{sig_id}" in found.text
    page = client.get(f"/en/console/letters/{SLUG}/signatures/{sig_id}")
    assert client.post(page.request.path, data={"csrf_token": csrf_token(page.text), "reason": ""}).status_code == 400
    response = client.post(page.request.path, data={"csrf_token": csrf_token(page.text), "reason": "Fake: a troll name"})
    assert response.status_code == 303
    with bare_app.app_context():
        sig = db.session.get(Signature, sig_id)
        assert sig.hidden and sig.hidden_reason == "Fake: a troll name"
        assert counters.confirmed_count(letters.letter_row(SLUG).id) == before - 1
    public = bare_app.test_client().get(f"/en/letters/{SLUG}/signatures").text
    assert public.count(f">{name}<") == shown_before - 1
    hidden_list = client.get(f"/en/console/letters/{SLUG}/signatures?hidden=1")
    assert f"/signatures/{sig_id}" in hidden_list.text
    page = client.get(f"/en/console/letters/{SLUG}/signatures/{sig_id}")
    assert client.post(f"/en/console/letters/{SLUG}/signatures/{sig_id}/unhide",
                       data={"csrf_token": csrf_token(page.text)}).status_code == 303
    with bare_app.app_context():
        assert not db.session.get(Signature, sig_id).hidden
        assert counters.confirmed_count(letters.letter_row(SLUG).id) == before
    actions = audit_actions(bare_app)
    assert "signatures.hide" in actions and "signatures.unhide" in actions and "signatures.view" in actions


def test_csv_export_is_public_fields_only_and_neutralised(bare_app):
    lead = make_user(bare_app, "lead@example.org", slugs=(SLUG,))
    with bare_app.app_context():
        row = letters.letter_row(SLUG)
        from petition.models_common import utcnow
        from petition.crypto import encrypt

        nasty = ["=HYPERLINK(\"http://evil\")", "+1+2", "-2+3", "@SUM(A1)", "\tTab", "\rCR", "سارة الحداد"]
        for i, value in enumerate(nasty):
            db.session.add(Signature(
                letter_id=row.id, status="confirmed", email_hash=f"h{i}", email_enc=encrypt(f"p{i}@example.org"),
                name_enc=encrypt("secret full name"), public_name=value, public_affiliation="=cmd|' /C calc'!A0",
                country="LB", lang="en", public_visibility="full", bundle_visibility="named", version_hash="v",
                confirmed_at=utcnow(), created_at=utcnow()))
        db.session.add(Signature(letter_id=row.id, status="confirmed", email_hash="hidden", public_name="Hidden One",
                                 country="LB", lang="en", public_visibility="full", bundle_visibility="named",
                                 version_hash="v", hidden=True, confirmed_at=utcnow(), created_at=utcnow()))
        db.session.add(Signature(letter_id=row.id, status="confirmed", email_hash="unlisted", public_name=None,
                                 country="IR", lang="en", public_visibility="none", bundle_visibility="counted",
                                 version_hash="v", confirmed_at=utcnow(), created_at=utcnow()))
        db.session.commit()
    client = logged_in(bare_app.test_client(), bare_app, lead)
    page = client.get(f"/en/console/letters/{SLUG}/signatures")
    response = client.post(f"/en/console/letters/{SLUG}/export.csv", data={"csrf_token": csrf_token(page.text)})
    assert response.status_code == 200
    assert response.mimetype == "text/csv" and "attachment" in response.headers["Content-Disposition"]
    assert response.headers["Cache-Control"] == "no-store"
    text = response.get_data(as_text=True)
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert rows[0] == ["public_name", "public_affiliation", "country", "confirmed"]
    names = [r[0] for r in rows[1:]]
    assert names == ["'=HYPERLINK(\"http://evil\")", "'+1+2", "'-2+3", "'@SUM(A1)", "'\tTab", "'\rCR", "سارة الحداد"]
    assert all(r[1] == "'=cmd|' /C calc'!A0" for r in rows[1:])
    for row in rows[1:]:
        assert not row[0].startswith(("=", "+", "-", "@", "\t", "\r"))
    assert "Hidden One" not in text and "IR" not in text
    assert "example.org" not in text and "secret full name" not in text
    assert audit_actions(bare_app)[-1] == "signatures.export"


def test_audit_log_page_for_administrators(bare_app):
    seed(bare_app)
    lead = make_user(bare_app, "lead@example.org", slugs=(SLUG,), name="Lina Lead")
    admin = make_user(bare_app, "admin@example.org", role="admin", name="Ada Admin")
    lead_client = logged_in(bare_app.test_client(), bare_app, lead)
    lead_client.get(f"/en/console/letters/{SLUG}/signatures")
    lead_client.get(f"/en/console/letters/{SLUG}/organisations")
    admin_client = logged_in(bare_app.test_client(), bare_app, admin, "ar")
    page = admin_client.get("/ar/console/audit")
    assert page.status_code == 200 and 'dir="rtl"' in page.text
    assert "Lina Lead" in page.text and "signatures.view" in page.text and "organisations.view" in page.text
    filtered = admin_client.get(f"/ar/console/audit?letter={OTHER}")
    assert "signatures.view" not in filtered.text
    assert admin_client.get("/ar/console/audit?letter=nope").status_code == 404
    # The log says what and which letter, never whose data.
    with bare_app.app_context():
        details = " ".join(d or "" for d in db.session.scalars(select(AuditEntry.detail)))
    assert "@" not in details and "Rania" not in details
