"""Deliveries: one per addressee with the letter still open, the public hash-chained log
(page, API, CLI verify), the company's capability link, publication and signers' mail."""
from __future__ import annotations

import hashlib
import json
import re
from datetime import date, timedelta

import pytest
from sqlalchemy import select, text, update

from petition.audit import AuditEntry
from petition.bundles.models import Bundle
from petition.deliveries import chain, services
from petition.deliveries.models import Delivery, DeliveryEvent
from petition.extensions import db
from petition.jobs import runner
from petition.letters import services as letters
from petition.mail.models import OutboxMessage
from petition.mail.worker import drain
from tests.console.support import logged_in, make_user
from tests.deliveries.conftest import SLUG, build_bundle, database
from tests.helpers import confirm_from_mail, csrf_token, form_values, plain_body, sign_letter


def record(app, company: str, bundle, on: date, platform: str = "") -> str:
    """`deliveries record` on the command line; returns the company link's path."""
    args = ["deliveries", "record", SLUG, "--company", company, "--bundle", bundle.id, "--on", on.isoformat()]
    if platform:
        args += ["--platform", platform]
    result = cli(app, *args)
    assert result.exit_code == 0, result.output
    link = result.output.strip()
    assert re.fullmatch(r"http://[^/]+/en/company/[A-Za-z0-9_-]{43}", link), link
    return "/" + link.split("/", 3)[3]


def cli(app, *args):
    # Inside this app's context: Flask's with_appcontext uses whatever app context is
    # current, and an earlier test of the session may have left one of its own behind.
    with app.app_context():
        return app.test_cli_runner().invoke(args=list(args))


# ---- per addressee, letter still open -------------------------------------------------------------

def test_three_addressees_on_different_days_with_the_letter_still_open(delivery_app):
    first = date.today() - timedelta(days=20)
    bundle = build_bundle(delivery_app, built_on=first)
    record(delivery_app, "Meta", bundle, first)
    record(delivery_app, "X", bundle, first + timedelta(days=3))
    record(delivery_app, "Telegram", bundle, first + timedelta(days=9))

    with database(delivery_app) as session:
        row = letters.letter_row(SLUG)
        assert row.status == "open" and letters.is_signable(row)  # delivering never closes the letter
        deliveries = services.deliveries_of(session, row)
        assert [(d.company, d.delivered_on) for d in deliveries] == [
            ("Meta", first), ("X", first + timedelta(days=3)), ("Telegram", first + timedelta(days=9))]
        assert all(len(d.token_hash) == 64 for d in deliveries)  # only the hash of each link's token
        entries = services.log_entries(session, row.id)
        assert [e.kind for e in entries] == ["delivered"] * 3
        assert entries[0].prev_hash == chain.GENESIS
        assert entries[1].prev_hash == entries[0].entry_hash and entries[2].prev_hash == entries[1].entry_hash
        last_hash = entries[2].entry_hash

    # a second delivery to the same addressee, a stranger, a platform of another company,
    # and a delivery before the bundle existed are refused
    for args in (["--company", "Meta"], ["--company", "TikTok"], ["--company", "X", "--platform", "Instagram"],
                 ["--company", "Meta", "--platform", "Instagram", "--on", (first - timedelta(days=1)).isoformat()]):
        result = cli(delivery_app, "deliveries", "record", SLUG, *args, "--bundle", bundle.id)
        assert result.exit_code != 0 and "Error" in result.output, result.output
    assert "built after" in result.output
    # a platform the letter names is an addressee of its own
    record(delivery_app, "Meta", bundle, first + timedelta(days=10), platform="Instagram")

    # the letter page, its log page and the API show each delivery, and the silence so far
    client = delivery_app.test_client()
    page = client.get(f"/en/letters/{SLUG}/")
    assert page.status_code == 200
    assert page.text.count(bundle.sha256) == 4
    assert "No response after 20 days." in page.text and "No response after 10 days." in page.text
    assert "Meta (Instagram)" in page.text and "Add your name" in page.text
    log_page = client.get(f"/en/letters/{SLUG}/deliveries")
    assert log_page.status_code == 200 and last_hash in log_page.text
    api = client.get(f"/api/v1/letters/{SLUG}").get_json()
    assert api["status"] == "open"
    assert [(d["company"], d["platform"], d["delivered_on"]) for d in api["deliveries"]] == [
        ("Meta", None, first.isoformat()), ("X", None, (first + timedelta(days=3)).isoformat()),
        ("Telegram", None, (first + timedelta(days=9)).isoformat()),
        ("Meta", "Instagram", (first + timedelta(days=10)).isoformat())]
    assert all(d["bundle_sha256"] == bundle.sha256 and d["acknowledged_on"] is None
               and d["response_status"] == "none" for d in api["deliveries"])
    assert api["deliveries"][0]["days_without_response"] == 20
    assert "not stated" not in json.dumps(api)  # the private details are not public, only their digest
    # anyone can recompute the chain from the API alone
    prev = chain.GENESIS
    for entry in api["delivery_log"]:
        assert entry["prev_hash"] == prev
        assert chain.entry_hash(letter=SLUG, seq=entry["seq"], kind=entry["kind"], at=entry["at"],
                                data=entry["data"], prev=prev) == entry["entry_hash"]
        prev = entry["entry_hash"]
    assert len(api["delivery_log"]) == 4

    listed = cli(delivery_app, "deliveries", "list", SLUG)
    assert listed.exit_code == 0 and listed.output.count("no response after") == 4
    verified = cli(delivery_app, "deliveries", "verify", SLUG)
    assert verified.exit_code == 0, verified.output
    assert "chain intact, 1 bundle(s) verified" in verified.output


# ---- the company's side --------------------------------------------------------------------------

def add_signers(app):
    """Real signatures: two asked for updates (English, Arabic), one did not."""
    for lang, email, wants in [("en", "amal@example.org", True), ("ar", "sara@example.org", True),
                               ("fr", "luc@example.org", False)]:
        client = app.test_client()
        fields = {"updates": "y"} if wants else {}
        assert sign_letter(client, SLUG, lang, email=email, **fields).status_code == 303
        assert confirm_from_mail(client, app, **fields).status_code == 200
    with database(app) as session:
        session.execute(db.delete(OutboxMessage))
        session.commit()


def run_jobs_and_send(app):
    with app.app_context():
        while (job := runner.run_one()) is not None:
            assert job.status == "done", job.message
        drain()
        db.session.remove()


def log_kinds(app) -> list[str]:
    with database(app) as session:
        return [e.kind for e in services.log_entries(session, letters.letter_row(SLUG).id)]


def the_delivery(app) -> Delivery:
    with database(app) as session:
        delivery = session.scalar(select(Delivery))
        session.expunge(delivery)
        return delivery


def test_company_link_acknowledge_respond_publish_and_signers_mail(delivery_app, smtp_server):
    add_signers(delivery_app)
    bundle = build_bundle(delivery_app)
    path = record(delivery_app, "X", bundle, date.today())
    company = delivery_app.test_client()

    page = company.get(path)
    assert page.status_code == 200
    assert bundle.sha256 in page.text and "pyhanko sign validate" in page.text
    assert page.headers["Cache-Control"].startswith("no-store")
    assert "noindex" in page.headers["X-Robots-Tag"]
    download = company.get(f"{path}/bundle.pdf")
    assert download.status_code == 200 and download.data.startswith(b"%PDF")
    assert hashlib.sha256(download.data).hexdigest() == bundle.sha256

    # acknowledge: one POST, redirect after POST; a second one changes nothing
    ack = company.post(f"{path}/acknowledge", data={"csrf_token": csrf_token(page.text)})
    assert ack.status_code == 303 and ack.headers["Location"].endswith(f"{path}#receipt")
    assert company.post(f"{path}/acknowledge", data={"csrf_token": csrf_token(page.text)}).status_code == 303
    assert log_kinds(delivery_app) == ["delivered", "acknowledged"]
    assert "You acknowledged receipt" in company.get(path).text

    # one mail per opted-in signer, through the real SMTP server, in their language, with the updates' unsubscribe
    run_jobs_and_send(delivery_app)
    messages = smtp_server.wait_for(2)
    assert sorted(m["To"] for m in messages) == ["amal@example.org", "sara@example.org"]
    english = next(m for m in messages if m["To"] == "amal@example.org")
    assert "X acknowledged receipt of the letter" in plain_body(english)
    assert "/en/updates/unsubscribe/" in plain_body(english) and "one-click" in english["List-Unsubscribe"]
    # a discreet letter: the subject and sender say nothing of the letter or the company
    assert " X " not in f" {english['Subject']} " and english["From"].startswith("Notifications")
    arabic = next(m for m in messages if m["To"] == "sara@example.org")
    assert arabic["Content-Language"] == "ar" and "/ar/updates/unsubscribe/" in plain_body(arabic)

    # respond: bad input is a localised 400, nothing is saved
    arabic_path = "/ar" + path[3:]
    page = company.get(arabic_path)
    too_long = company.post(f"{path}/respond", data={"csrf_token": csrf_token(page.text), "response": "x" * 10001})
    assert too_long.status_code == 400 and "10000" in too_long.text
    empty = company.post(f"{arabic_path}/respond", data={"csrf_token": csrf_token(page.text), "response": " "})
    assert empty.status_code == 400 and 'lang="ar"' in empty.text and "This field is required." not in empty.text
    assert the_delivery(delivery_app).response is None
    words = "We received the letter.\r\n\r\nOur safety team will answer each demand by June."
    sent = company.post(f"{path}/respond", data={"csrf_token": csrf_token(page.text), "response": words})
    assert sent.status_code == 303 and sent.headers["Location"].endswith("#response")
    second = company.post(f"{path}/respond", data={"csrf_token": csrf_token(page.text), "response": "Changed mind"})
    assert second.status_code == 400
    delivery = the_delivery(delivery_app)
    assert "Our safety team will answer each demand by June." in delivery.response and "Changed" not in delivery.response

    # before publication the public sees that a response came, not what it says
    public = delivery_app.test_client().get(f"/en/letters/{SLUG}/")
    assert "Response received on" in public.text and "safety team" not in public.text
    assert "No response after" not in public.text

    # the lead publishes it, after a confirmation page of its own
    lead = make_user(delivery_app, "lead@example.org", slugs=(SLUG,))
    console = logged_in(delivery_app.test_client(), delivery_app, lead)
    listing = console.get(f"/en/console/letters/{SLUG}/deliveries")
    assert listing.status_code == 200 and "safety team" in listing.text
    publish_url = f"/en/console/letters/{SLUG}/deliveries/{delivery.id}/publish"
    ask = console.post(publish_url, data={"csrf_token": csrf_token(listing.text)})
    assert ask.status_code == 200 and "Publish this response?" in ask.text and 'value="yes"' in ask.text
    assert the_delivery(delivery_app).published_at is None  # nothing happened yet
    assert console.post(publish_url, data=form_values(ask.text)).status_code == 303
    assert log_kinds(delivery_app) == ["delivered", "acknowledged", "response_received", "response_published"]
    with database(delivery_app) as session:
        assert session.scalar(select(AuditEntry).where(AuditEntry.action == "delivery.publish")) is not None

    shown = delivery_app.test_client().get(f"/en/letters/{SLUG}/")
    assert "Our safety team will answer each demand by June." in shown.text
    [entry] = delivery_app.test_client().get(f"/api/v1/letters/{SLUG}").get_json()["deliveries"]
    assert entry["response_status"] == "published" and entry["response"] == delivery.response
    assert entry["acknowledged_on"] == date.today().isoformat() and entry["days_without_response"] is None

    run_jobs_and_send(delivery_app)
    messages = smtp_server.wait_for(4)
    responded = [m for m in messages[2:] if m["To"] == "amal@example.org"]
    assert len(responded) == 1 and "Our safety team will answer each demand by June." in plain_body(responded[0])
    assert "X responded to the letter" in plain_body(responded[0])
    assert not [m for m in messages if m["To"] == "luc@example.org"]

    # publishing twice is refused; the company's page says it is published; the chain holds
    assert console.post(publish_url, data=form_values(ask.text)).status_code == 409
    assert "It was published on" in company.get(path).text
    assert cli(delivery_app, "deliveries", "verify", SLUG).exit_code == 0


def test_signers_who_unsubscribed_get_no_notice(delivery_app, smtp_server):
    from petition.signing.models import Signature

    add_signers(delivery_app)
    with database(delivery_app) as session:
        session.execute(update(Signature).values(updates_opt_in=False))
        session.commit()
    path = record(delivery_app, "Meta", build_bundle(delivery_app), date.today())
    client = delivery_app.test_client()
    page = client.get(path)
    assert client.post(f"{path}/acknowledge", data={"csrf_token": csrf_token(page.text)}).status_code == 303
    run_jobs_and_send(delivery_app)
    with database(delivery_app) as session:
        assert session.scalar(select(OutboxMessage.id)) is None


# ---- strangers ---------------------------------------------------------------------------------------

def unlinked(html: str) -> str:
    return re.sub(r'href="[^"]*"', 'href=""', html)


def test_a_wrong_or_altered_token_gets_the_same_404_as_a_missing_one(delivery_app):
    path = record(delivery_app, "Telegram", build_bundle(delivery_app), date.today())
    token = path.rsplit("/", 1)[1]
    client = delivery_app.test_client()
    assert client.get(path).status_code == 200

    altered = token[:-1] + ("A" if token[-1] != "A" else "B")
    candidates = [altered, token[:-1], token + "x", "x" * 43, "short", "a" * 300, token.upper(), "..", "%2e%2e"]
    baseline = client.get("/en/company/")
    # the stranger has a valid CSRF token for their own session (any form of the site gives one)
    stranger_csrf = csrf_token(client.get(f"/en/letters/{SLUG}/sign").text)
    bodies = set()
    for candidate in candidates:
        for suffix, method in (("", "get"), ("/bundle.pdf", "get"), ("/acknowledge", "post"), ("/respond", "post")):
            data = {"csrf_token": stranger_csrf, "response": "hi"} if method == "post" else None
            response = getattr(client, method)(f"/en/company/{candidate}{suffix}", data=data)
            assert response.status_code == 404, (candidate, suffix, response.status_code)
            assert response.headers["Cache-Control"].startswith("no-store")
            bodies.add(unlinked(response.text))
    # one and the same page for every wrong token, whatever its shape, and for no token at
    # all (only the language switcher's links echo the address that was asked for)
    assert bodies == {unlinked(baseline.text)} and baseline.status_code == 404
    # without a CSRF token, a POST is refused before the capability is even looked at:
    # the same 400 for the right link and a wrong one
    refused = {unlinked(client.post(f"/en/company/{t}/acknowledge").text) for t in (token, altered)}
    assert len(refused) == 1 and client.post(f"/en/company/{altered}/acknowledge").status_code == 400
    with database(delivery_app) as session:
        delivery = session.scalar(select(Delivery))
        assert delivery.acknowledged_at is None and delivery.response is None
        assert len(services.log_entries(session, delivery.letter_id)) == 1


def test_the_database_holds_only_the_tokens_hash(delivery_app):
    token = record(delivery_app, "Meta", build_bundle(delivery_app), date.today()).rsplit("/", 1)[1]
    with database(delivery_app) as session:
        dump = "\n".join(str(row) for table in ("deliveries", "delivery_log", "audit_log", "jobs")
                         for row in session.execute(text(f"SELECT * FROM {table}")).all())
    assert token not in dump and services.token_digest(token) in dump


# ---- tampering -----------------------------------------------------------------------------------------

def stored_pdf(session, bundle_id: str) -> bytes:
    from petition.bundles import services as bundles

    return bundles.pdf_bytes(session, session.get(Bundle, bundle_id))


def replace_pdf(session, bundle_id: str, pdf: bytes) -> None:
    """What someone holding the database and its keys could do: store another PDF."""
    import io

    from petition.bundles import storage
    from petition.bundles.models import BundleChunk

    session.execute(db.delete(BundleChunk).where(BundleChunk.bundle_id == bundle_id))
    storage.store(session, session.get(Bundle, bundle_id), io.BytesIO(pdf))


def sql(app, statement: str, **params) -> None:
    with database(app) as session:
        session.execute(text(statement), params)
        session.commit()


def test_verify_fails_after_a_row_is_changed_in_sql(delivery_app):
    day = date.today() - timedelta(days=5)
    bundle = build_bundle(delivery_app, built_on=day)
    record(delivery_app, "Meta", bundle, day)
    record(delivery_app, "X", bundle, day + timedelta(days=3))
    assert cli(delivery_app, "deliveries", "verify", SLUG).exit_code == 0

    # someone with database access moves Meta's delivery a day later
    with database(delivery_app) as session:
        first = session.scalar(select(DeliveryEvent).where(DeliveryEvent.seq == 1))
        first_kind, first_at, first_data = first.kind, first.at, first.data
    forged = first_data.replace(day.isoformat(), (day + timedelta(days=1)).isoformat())
    assert forged != first_data
    sql(delivery_app, "UPDATE delivery_log SET data = :data WHERE seq = 1", data=forged)
    result = cli(delivery_app, "deliveries", "verify", SLUG)
    assert result.exit_code == 1
    assert "entry 1: its content does not match its hash" in result.output
    assert "FAILED" in result.output

    # ... and recomputes that entry's hash as well: the next entry no longer points to it
    new_hash = chain.entry_hash(letter=SLUG, seq=1, kind=first_kind, at=first_at, data=json.loads(forged),
                                prev=chain.GENESIS)
    sql(delivery_app, "UPDATE delivery_log SET entry_hash = :h WHERE seq = 1", h=new_hash)
    result = cli(delivery_app, "deliveries", "verify", SLUG)
    assert result.exit_code == 1 and "entry 2: it does not point to the previous entry's hash" in result.output
    assert "entry 1:" not in result.output


def test_verify_fails_when_an_entry_is_deleted_or_details_or_the_pdf_change(delivery_app):
    bundle = build_bundle(delivery_app)
    for company in ("Meta", "X", "Telegram"):
        record(delivery_app, company, bundle, date.today())
    sql(delivery_app, "DELETE FROM delivery_log WHERE seq = 2")
    sql(delivery_app, "UPDATE deliveries SET channel = 'by hand' WHERE company = 'Meta'")
    with database(delivery_app) as session:
        pdf = bytearray(stored_pdf(session, bundle.id))
        pdf[len(pdf) // 3] ^= 0x01
        replace_pdf(session, bundle.id, bytes(pdf))
        session.commit()
    result = cli(delivery_app, "deliveries", "verify", SLUG)
    assert result.exit_code == 1
    assert "entry 3: expected entry 2 here" in result.output
    assert "entry 1: the delivery's channel or recipient changed" in result.output
    assert f"bundle {bundle.id}: FAILED: the stored PDF's SHA-256" in result.output
    lead = make_user(delivery_app, "lead@example.org", slugs=(SLUG,))
    console = logged_in(delivery_app.test_client(), delivery_app, lead)
    assert "The chain is broken" in console.get(f"/en/console/letters/{SLUG}/deliveries").text


def test_verify_checks_the_pdf_signature_not_only_its_hash(delivery_app):
    """A PDF changed in the database along with the hash the check expects still fails:
    its signature does not validate."""
    bundle = build_bundle(delivery_app)
    with database(delivery_app) as session:
        config = delivery_app.config["PETITION"]
        assert services.check_bundle(session, bundle.id, bundle.sha256, config).ok
        pdf = bytearray(stored_pdf(session, bundle.id))
        pdf[len(pdf) // 3] ^= 0x01
        replace_pdf(session, bundle.id, bytes(pdf))
        session.commit()
        check = services.check_bundle(session, bundle.id, hashlib.sha256(bytes(pdf)).hexdigest(), config)
    assert not check.ok and "signature does not validate" in check.detail


# ---- the console -----------------------------------------------------------------------------------------

LINK = re.compile(r"http://[^<\s\"]+/company/[A-Za-z0-9_-]{43}")


@pytest.mark.parametrize("lang", ["en", "ar"])
def test_console_records_after_a_confirmation_page_and_shows_the_link_once(delivery_app, lang):
    bundle = build_bundle(delivery_app)
    lead = make_user(delivery_app, "lead@example.org", slugs=(SLUG,))
    console = logged_in(delivery_app.test_client(), delivery_app, lead, lang)
    base = f"/{lang}/console/letters/{SLUG}/deliveries"
    page = console.get(base)
    assert page.status_code == 200 and f'lang="{lang}"' in page.text
    form = {"csrf_token": csrf_token(page.text), "bundle_id": bundle.id, "addressee": '["Meta", "Instagram"]',
            "delivered_on": date.today().isoformat(), "channel": "email", "recipient": "Head of public policy"}
    assert console.post(base, data={**form, "addressee": '["TikTok", ""]'}).status_code == 400
    future = (date.today() + timedelta(days=2)).isoformat()
    assert console.post(base, data={**form, "delivered_on": future}).status_code == 400
    assert console.post(base, data={**form, "recipient": ""}).status_code == 400
    ask = console.post(base, data=form)
    assert ask.status_code == 200 and 'value="yes"' in ask.text and bundle.sha256 in ask.text
    with database(delivery_app) as session:
        assert session.scalar(select(Delivery.id)) is None  # not until confirmed
    shown = console.post(base, data=form_values(ask.text))
    assert shown.status_code == 200 and shown.headers["Cache-Control"].startswith("no-store")
    link = LINK.search(shown.text).group(0)
    delivery = the_delivery(delivery_app)
    assert (delivery.company, delivery.platform) == ("Meta", "Instagram")
    # the person's name at the company is encrypted at rest, like signers' details
    with database(delivery_app) as session:
        assert services.recipient_of(delivery) == "Head of public policy"
        dump = "\n".join(str(row) for table in ("deliveries", "delivery_log", "audit_log")
                         for row in session.execute(text(f"SELECT * FROM {table}")).all())
    assert "Head of public policy" not in dump and "public policy" not in dump
    assert services.token_digest(link.rsplit("/", 1)[1]) == delivery.token_hash
    with database(delivery_app):
        assert letters.letter_row(SLUG).status == "open"
    listing = console.get(base)
    assert link not in listing.text and "Head of public policy" in listing.text  # the link is shown once only
    # a resubmitted confirmation does not record it twice
    assert console.post(base, data=form_values(ask.text)).status_code == 400
    assert len(log_kinds(delivery_app)) == 1

    # a new link, after its own confirmation page; the old one stops working
    new_url = f"{base}/{delivery.id}/link"
    ask = console.post(new_url, data={"csrf_token": csrf_token(listing.text)})
    assert ask.status_code == 200 and 'value="yes"' in ask.text
    new_link = LINK.search(console.post(new_url, data=form_values(ask.text)).text).group(0)
    client = delivery_app.test_client()
    assert client.get("/" + link.split("/", 3)[3]).status_code == 404
    assert client.get("/" + new_link.split("/", 3)[3]).status_code == 200


def test_console_deliveries_need_login_and_the_right_letter(delivery_app):
    assert delivery_app.test_client().get(f"/en/console/letters/{SLUG}/deliveries").status_code in (302, 401)
    other = make_user(delivery_app, "other@example.org", slugs=("secure-our-socials",))
    console = logged_in(delivery_app.test_client(), delivery_app, other)
    assert console.get(f"/en/console/letters/{SLUG}/deliveries").status_code == 404


def test_the_company_link_is_cut_from_log_lines():
    from petition.redaction import redact

    token = "9HTj2ia0185mwJc0_ioBBd81gSSKarANQs0GZpgn-jQ"
    for line in (f'"GET /ar/company/{token} HTTP/1.1" 200', f'"POST /en/company/{token}/respond HTTP/1.1" 303'):
        assert token not in redact(line) and "/company/<token>" in redact(line)


# ---- the bundle's trusted timestamp in the log ----------------------------------------------------

@pytest.fixture
def authority(tmp_path):
    from tests.bundles import tsa

    local, stop = tsa.start(tmp_path)
    yield local
    stop()


@pytest.mark.parametrize("level", ["PAdES-B-T", "PAdES-B-LTA"])
def test_the_log_and_verify_record_the_bundles_trusted_timestamp(make_app, tmp_path, smtp_server, authority, level):
    from petition.bundles import services as bundles, signing_keys

    extra = {"BUNDLE_TRUST_ROOTS": str(authority.root_pem)} if level == "PAdES-B-LTA" else {}
    app = make_app(BUNDLE_PKCS12_PATH=str(tmp_path / "keys" / "signing.p12"), BUNDLE_WORKERS=0,
                   MAIL_SERVER=smtp_server.host, MAIL_PORT=smtp_server.port, BUNDLE_TSA_URL=authority.url, **extra)
    with app.app_context():
        signing_keys.init_keys(app.config["PETITION"], "Test campaign signer", "Test campaign")
    bundle = build_bundle(app)
    link = record(app, "Meta", bundle, date.today())

    with database(app) as session:
        stamp = bundles.timestamp_of(session.get(Bundle, bundle.id))
        assert stamp is not None and stamp["level"] == level and stamp["authority"] == authority.url
        [entry] = services.log_entries(session, letters.letter_row(SLUG).id)
        assert json.loads(entry.data)["bundle_timestamp"] == stamp["time"]  # in the hashed, chained entry
        check = services.check_bundle(session, bundle.id, bundle.sha256, app.config["PETITION"])
    assert check.ok and f"timestamp {stamp['time']}" in check.detail, check.detail
    result = cli(app, "deliveries", "verify", SLUG)
    assert result.exit_code == 0, result.output
    assert stamp["time"] in app.test_client().get(link).text  # the company's page shows it


def test_a_bundle_without_a_timestamp_is_logged_without_one(delivery_app):
    bundle = build_bundle(delivery_app)
    record(delivery_app, "Meta", bundle, date.today())
    with database(delivery_app) as session:
        [entry] = services.log_entries(session, letters.letter_row(SLUG).id)
        assert json.loads(entry.data)["bundle_timestamp"] is None
    assert "without a timestamp authority" in delivery_app.test_client().get(
        record(delivery_app, "X", bundle, date.today())).text
