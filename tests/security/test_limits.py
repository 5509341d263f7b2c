"""Rate limits: per client (hashed), per target address, per letter; never an IP kept."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select, text

from petition.extensions import db
from petition.mail.models import OutboxMessage
from petition.security.keys import keyed_digest
from petition.security.limits import limiter
from petition.signing.models import Signature
from tests.helpers import LANGS, confirm_from_mail, form_values, outbox_messages, process_intake

SLUG = "secure-our-socials"
FLOODER = "203.0.113.9"
NEIGHBOUR = "198.51.100.24"


def sign_from(client, address: str, email: str, lang: str = "en", slug: str = SLUG, headers=None, **extra):
    page = client.get(f"/{lang}/letters/{slug}/sign", environ_base={"REMOTE_ADDR": address}, headers=headers)
    data = form_values(page.text)
    data.update(name="Samir Aziz", email=email, country="EG", affiliation="",
                public_visibility="initials", bundle_visibility="counted")
    data.update(extra)
    return client.post(f"/{lang}/letters/{slug}/sign", data=data, environ_base={"REMOTE_ADDR": address},
                       headers=headers)


TOO_MANY = "Too many requests in a short time. Please wait a little and try again."


def localised(app, lang: str, message: str) -> str:
    """The message as the web catalogue has it in lang (escaped like the page)."""
    from flask_babel import force_locale, gettext
    from markupsafe import escape

    with app.test_request_context(f"/{lang}/"), force_locale(lang):
        return str(escape(gettext(message)))


def signature_count(app) -> int:
    process_intake(app)
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Signature))


def test_every_abusable_endpoint_is_limited(app):
    applied = app.extensions["petition.limits"]
    expected = {
        "signing.sign": "RATELIMIT_SIGN",
        "signing.confirm": "RATELIMIT_CONFIRM",
        "signing.withdraw": "RATELIMIT_CONFIRM",
        "api.letters": "RATELIMIT_API",
        "api.letter": "RATELIMIT_API",
    }
    optional = {  # other areas' endpoints, limited as soon as they exist
        "organisations.sign": "RATELIMIT_ORG_SIGN",
        "organisations.confirm": "RATELIMIT_CONFIRM",
        "organisations.withdraw": "RATELIMIT_CONFIRM",
        "console.login": "RATELIMIT_LOGIN",
        "console.login_totp": "RATELIMIT_LOGIN",
        "deliveries.receipt": "RATELIMIT_CONFIRM",
    }
    for endpoint, setting in expected.items():
        assert applied.get(endpoint) == setting, endpoint
    for endpoint, setting in optional.items():
        if endpoint in app.view_functions:
            assert applied.get(endpoint) == setting, endpoint
    # Every page that takes a link token is limited (probing links is probing people).
    for rule in app.url_map.iter_rules():
        if "token" in rule.arguments:
            assert rule.endpoint in applied, rule.endpoint


@pytest.mark.parametrize("lang", LANGS)
def test_a_flood_from_one_address_meets_429_while_a_neighbour_signs(make_app, lang):
    app = make_app(RATELIMIT_ENABLED=True, RATELIMIT_SIGN="3/minute")
    client = app.test_client()
    statuses = [sign_from(client, FLOODER, f"flood{i}@example.org", lang).status_code for i in range(6)]
    assert statuses == [303, 303, 303, 429, 429, 429]

    blocked = sign_from(client, FLOODER, "flood-more@example.org", lang)
    assert blocked.status_code == 429
    assert int(blocked.headers["Retry-After"]) > 0
    assert f'<html lang="{lang}"' in blocked.text
    assert localised(app, lang, TOO_MANY) in blocked.text

    other = app.test_client()
    assert sign_from(other, NEIGHBOUR, "neighbour@example.org", lang).status_code == 303
    assert signature_count(app) == 4


def test_only_submissions_are_limited_not_reading_the_form(make_app):
    app = make_app(RATELIMIT_ENABLED=True, RATELIMIT_SIGN="2/minute")
    client = app.test_client()
    for _ in range(10):
        assert client.get(f"/en/letters/{SLUG}/sign", environ_base={"REMOTE_ADDR": FLOODER}).status_code == 200


def test_x_forwarded_for_is_ignored_without_trusted_proxies(make_app):
    app = make_app(RATELIMIT_ENABLED=True, RATELIMIT_SIGN="2/minute", TRUSTED_PROXIES=0)
    client = app.test_client()
    statuses = [
        sign_from(client, FLOODER, f"xff{i}@example.org", headers={"X-Forwarded-For": f"192.0.2.{i}"}).status_code
        for i in range(4)
    ]
    assert statuses == [303, 303, 429, 429]


def test_behind_a_trusted_proxy_the_forwarded_address_counts(make_app):
    app = make_app(RATELIMIT_ENABLED=True, RATELIMIT_SIGN="2/minute", TRUSTED_PROXIES=1)
    client = app.test_client()
    proxy = "10.0.0.2"
    one = [sign_from(client, proxy, f"p{i}@example.org", headers={"X-Forwarded-For": FLOODER}).status_code
           for i in range(3)]
    assert one == [303, 303, 429]
    # A spoofed extra hop in front is not believed: only the proxy's own entry counts.
    spoofed = sign_from(client, proxy, "spoof@example.org", headers={"X-Forwarded-For": f"192.0.2.1, {FLOODER}"})
    assert spoofed.status_code == 429
    assert sign_from(client, proxy, "n@example.org", headers={"X-Forwarded-For": NEIGHBOUR}).status_code == 303


def test_link_pages_share_one_limit_and_answer_429(make_app):
    app = make_app(RATELIMIT_ENABLED=True, RATELIMIT_CONFIRM="4/minute")
    client = app.test_client()
    env = {"REMOTE_ADDR": FLOODER}
    statuses = [client.get(f"/en/{kind}/garbage-token-{i}", environ_base=env).status_code
                for i, kind in enumerate(["confirm", "withdraw", "confirm", "withdraw", "confirm"])]
    assert statuses == [404, 404, 404, 404, 429]
    blocked = client.get("/ar/withdraw/another", environ_base=env)
    assert blocked.status_code == 429 and "Retry-After" in blocked.headers
    assert '<html lang="ar" dir="rtl">' in blocked.text
    assert client.get("/en/confirm/garbage", environ_base={"REMOTE_ADDR": NEIGHBOUR}).status_code == 404


def test_api_limit_answers_json_with_retry_after(make_app):
    app = make_app(RATELIMIT_ENABLED=True, RATELIMIT_API="3/minute")
    client = app.test_client()
    env = {"REMOTE_ADDR": FLOODER}
    statuses = [client.get(path, environ_base=env).status_code
                for path in ["/api/v1/letters", f"/api/v1/letters/{SLUG}", "/api/v1/letters", "/api/v1/letters"]]
    assert statuses == [200, 200, 200, 429]
    blocked = client.get(f"/api/v1/letters/{SLUG}", environ_base=env)
    assert blocked.status_code == 429
    assert blocked.is_json and blocked.json["error"]["status"] == 429
    assert int(blocked.headers["Retry-After"]) > 0


def test_console_login_is_limited(make_app):
    app = make_app(RATELIMIT_ENABLED=True, RATELIMIT_LOGIN="3/minute")
    if "console.login" not in app.view_functions:
        pytest.skip("the console area is not registered")
    client = app.test_client()
    env = {"REMOTE_ADDR": FLOODER}
    statuses = []
    for _ in range(5):
        page = client.get("/en/console/login", environ_base=env)
        data = form_values(page.text)
        data.update(email="lead@example.org", password="wrong password")
        statuses.append(client.post("/en/console/login", data=data, environ_base=env).status_code)
    assert 429 not in statuses[:3]
    assert statuses[3:] == [429, 429]


def test_limiter_keys_are_hashes_and_no_address_is_stored_or_logged(make_app, caplog):
    app = make_app(RATELIMIT_ENABLED=True, RATELIMIT_SIGN="50/minute")
    client = app.test_client()
    with caplog.at_level("DEBUG"):
        for i in range(3):
            assert sign_from(client, FLOODER, f"k{i}@example.org").status_code == 303
        client.get("/api/v1/letters", environ_base={"REMOTE_ADDR": FLOODER})
    storage = limiter.storage
    keys = list(getattr(storage, "storage", {}).keys()) + list(getattr(storage, "events", {}).keys())
    assert keys, "the memory storage should hold the limiter's counters"
    with app.test_request_context():
        digest = keyed_digest("client", FLOODER)
    assert any(digest in key for key in keys)
    assert not any(FLOODER in key for key in keys)
    assert FLOODER not in caplog.text
    # Nowhere in the database either.
    with app.app_context():
        for table in db.metadata.sorted_tables:
            for row in db.session.execute(text(f'SELECT * FROM "{table.name}"')):
                assert FLOODER not in " ".join(str(v) for v in row), table.name


# ---- a flood on one letter ----------------------------------------------------------------

def test_a_flood_on_one_letter_is_paced_never_refused(make_app):
    """The old surge brake answered 429 to everyone once a letter had 3,000 requests a
    minute, so a flood kept a letter closed. Now every request is accepted; the intake
    paces their mail (tests/signing/test_attacks.py shows the pacing)."""
    app = make_app(RATELIMIT_ENABLED=True, RATELIMIT_SIGN="100/minute", INTAKE_PER_LETTER_PER_MINUTE=3)
    client = app.test_client()
    for i in range(8):
        assert sign_from(client, f"192.0.2.{i + 1}", f"flood{i}@example.org").status_code == 303
    assert sign_from(client, "192.0.2.50", "late-signer@example.org", name="Hala Yousef").status_code == 303


# ---- per target address ----------------------------------------------------------------------

VICTIM_VARIANTS = [
    "victim.person@gmail.com", "VictimPerson@gmail.com", "victim.person+a@gmail.com",
    "victimperson+b@googlemail.com", "V.I.C.T.I.M.P.E.R.S.O.N@GMAIL.COM",
]


def test_a_victims_address_receives_at_most_the_configured_number_of_emails(make_app, smtp_server):
    """Many requests naming one address, from many client addresses and with every
    spelling the provider treats as the same mailbox: the victim gets at most
    MAIL_PER_ADDRESS_PER_DAY emails, and every request gets the same answer."""
    from petition.mail.worker import drain

    app = make_app(MAIL_SERVER=smtp_server.host, MAIL_PORT=smtp_server.port, MAIL_PER_ADDRESS_PER_DAY=3)
    client = app.test_client()
    for i in range(25):
        response = sign_from(client, f"192.0.2.{i + 1}", VICTIM_VARIANTS[i % len(VICTIM_VARIANTS)])
        assert response.status_code == 303
    process_intake(app)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(OutboxMessage)) == 3
        drain()
    received = smtp_server.wait_for(3)
    import time

    time.sleep(0.3)
    assert len(smtp_server.messages) == 3
    # The mail goes to the address as typed, never to the canonical form.
    assert {m["To"] for m in received} <= set(VICTIM_VARIANTS)
    # One pending row per request that was mailed, all of one person.
    assert signature_count(app) == 3
    with app.app_context():
        assert len(set(db.session.scalars(select(Signature.email_hash)))) == 1


def test_the_address_cap_holds_for_organisation_contacts(make_app, smtp_server):
    app = make_app(MAIL_SERVER=smtp_server.host, MAIL_PORT=smtp_server.port, MAIL_PER_ADDRESS_PER_DAY=2)
    if "organisations.sign" not in app.view_functions:
        pytest.skip("the organisations area is not registered")
    from petition.mail.worker import drain

    client = app.test_client()
    page = client.get(f"/en/letters/{SLUG}/organisations/sign")
    assert page.status_code == 200
    for i in range(8):
        page = client.get(f"/en/letters/{SLUG}/organisations/sign", environ_base={"REMOTE_ADDR": f"192.0.2.{i + 1}"})
        data = form_values(page.text)
        data.update(name=f"Digital Rights Group {i}", country="LB", website="https://example.org",
                    contact_name="Contact Person", contact_email=VICTIM_VARIANTS[i % len(VICTIM_VARIANTS)],
                    statement="")
        response = client.post(f"/en/letters/{SLUG}/organisations/sign", data=data,
                               environ_base={"REMOTE_ADDR": f"192.0.2.{i + 1}"})
        assert response.status_code == 303, response.text[:2000]
    with app.app_context():
        drain()
    received = smtp_server.wait_for(2)
    import time

    time.sleep(0.3)
    assert len(smtp_server.messages) == 2
    assert {m["To"] for m in received} <= set(VICTIM_VARIANTS)


def test_an_unreachable_limiter_storage_never_costs_a_signature(make_app):
    """Redis down: limits are skipped (and logged), signing goes on; no 500."""
    from tests.conftest import free_port

    app = make_app(RATELIMIT_ENABLED=True, RATELIMIT_STORAGE_URI=f"redis://127.0.0.1:{free_port()}/0",
                   RATELIMIT_SIGN="1/minute")
    client = app.test_client()
    for i in range(3):
        assert sign_from(client, FLOODER, f"down{i}@example.org").status_code == 303
    assert signature_count(app) == 3


def test_requests_without_a_limit_skip_the_limiter(app):
    from petition.security.limits import _nothing_to_limit

    cases = [
        ("/en/letters/secure-our-socials/sign", "GET", True),   # the form: limited on POST only
        ("/en/letters/secure-our-socials/sign", "POST", False),
        ("/en/letters/secure-our-socials/", "GET", True),       # no limit at all
        ("/en/confirm/abc.def", "GET", False),                  # links: every method
    ]
    for path, method, skipped in cases:
        with app.test_request_context(path, method=method):  # matches the URL to its endpoint
            assert _nothing_to_limit() is skipped, (path, method)
