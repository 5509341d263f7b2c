"""Property-based tests: arbitrary text through every field of every public form and
through query parameters and path arguments of every GET route, arbitrary paths under
the API. Whatever comes in:

* never a 5xx;
* never unescaped markup in the answer;
* never a mail header made from user input (queued messages are inspected, and built
  into real email messages the way the sender does);
* never a bidirectional override or other invisible control stored in the database.
"""
from __future__ import annotations

import re
import urllib.parse
from email import message_from_bytes, policy

import pytest
from hypothesis import HealthCheck, assume, given, settings, strategies as st
from sqlalchemy import select

from petition import create_app
from petition.extensions import db
from petition.text import BIDI_CONTROLS, ZERO_WIDTH
from tests.helpers import form_values, make_config, reset_database, process_intake

SLUG = "secure-our-socials"
MARKER = "<hyp-x>"  # markup the response must never contain as-is
INJECTED_HEADER = "X-Injected"
SETTINGS = settings(max_examples=60, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

# Text as hostile as it gets: any code point a browser can send (no lone surrogates, which
# cannot be encoded as UTF-8 at all), plus the classics.
any_text = st.text(st.characters(exclude_categories=("Cs",)), max_size=300)
nasty = st.sampled_from([
    MARKER, f"\"'>{MARKER}", f"</textarea>{MARKER}", "\u202eevil\u202c", "\u2067x\u2069", "a\u200bb",
    f"x\r\n{INJECTED_HEADER}: 1", f"x\n{INJECTED_HEADER}: 1", "\x00", "%00", "../../etc/passwd",
    "{{7*7}}", "{% raw %}", "' OR 1=1 --", "${jndi:ldap://x}", "\ufeff", "A" * 5000, "",
    "javascript:alert(1)", "https://example.org/\r\nX: y", "𝕳𝖊𝖑𝖑𝖔", "سارة\u202eابو", "e\u0301",
])
hostile = st.one_of(any_text, nasty, st.builds(lambda a, b: a + MARKER + b, any_text, any_text),
                    st.builds(lambda a, b: a + b, nasty, any_text))
valid_email = st.sampled_from(["prop@example.org", "Prop.Test+x@gmail.com", "user@xn--bcher-kva.example",
                               "مستخدم@example.org", "p@example.org"])
email_values = st.one_of(valid_email, valid_email, hostile, st.builds(lambda v, h: v + h, valid_email, nasty))
choice = lambda *values: st.one_of(st.sampled_from(values), st.sampled_from(values), hostile)  # noqa: E731
empty_or_hostile = st.one_of(st.just(""), st.just(""), st.just(""), hostile)  # the honeypot
# A plausible value or a hostile one (or a plausible one with something hostile added), so
# that a good share of the examples pass validation and reach storage and mail.
person = choice("Amal Haddad", "سارة أبو علي", "Ζωή Παπαδοπούλου", "Zoé Martin")
organisation = choice("SMEX", "Digital Rights Group", "جمعية الحقوق الرقمية")
mixed = lambda plausible: st.one_of(plausible, plausible, st.builds(lambda p, h: p + h, plausible, hostile))  # noqa: E731


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    # The per-mailbox cap is shared by both forms: hundreds of generated requests to a
    # few addresses would exhaust it, and these tests are about input, not the cap.
    app = create_app(make_config(tmp_path_factory.mktemp("hostile"), MAIL_PER_ADDRESS_PER_DAY=100000))
    reset_database(app)
    return app


def assert_safe_response(response, sent: list[str]) -> None:
    assert response.status_code < 500, response.status_code
    body = response.get_data(as_text=True)
    assert MARKER not in body
    for value in sent:
        if "<" in value and len(value) > 3:
            assert value not in body, value[:80]


def assert_nothing_bad_stored(app) -> None:
    from petition.mail.models import OutboxMessage
    from petition.mail.mime import to_email
    from petition.mail.outbox import payload
    from petition.organisations.models import Organisation
    from petition.crypto import decrypt
    from petition.signing.models import Signature

    forbidden = BIDI_CONTROLS | ZERO_WIDTH | {"\x00", "\r"}
    process_intake(app)
    with app.app_context():
        for sig in db.session.scalars(select(Signature)):
            for value in (sig.public_name, sig.public_affiliation, decrypt(sig.name_enc), decrypt(sig.affiliation_enc),
                          decrypt(sig.email_enc), sig.country, sig.lang, decrypt(sig.email_domain_enc)):
                assert not (set(value or "") & forbidden), repr(value)
                assert "\n" not in (value or "")
        for org in db.session.scalars(select(Organisation)):
            for value in (org.name, org.website, org.statement, org.country, decrypt(org.contact_name_enc),
                          decrypt(org.contact_email_enc)):
                assert not (set(value or "") & forbidden), repr(value)
        sender = app.config["PETITION"].MAIL_DEFAULT_SENDER
        for row in db.session.scalars(select(OutboxMessage)):
            message = payload(row)
            for value in [message.to, message.subject, message.sender or "", *message.headers, *message.headers.values()]:
                assert "\n" not in value and "\r" not in value, repr(value)
            # Built the way the sender builds it, then parsed back: exactly our headers.
            email = message_from_bytes(to_email(message, sender).as_bytes(), policy=policy.default)
            assert INJECTED_HEADER not in email
            assert len(email.get_all("To")) == 1 and len(email.get_all("Subject")) == 1
            assert email.get("Bcc") is None and email.get("Cc") is None
        db.session.remove()


class Browser:
    def __init__(self, app, path: str):
        self.client = app.test_client()
        self.path = path
        page = self.client.get(path)
        assert page.status_code == 200, (path, page.status_code)
        self.hidden = form_values(page.text)

    def post(self, fields: dict[str, str]):
        return self.client.post(self.path, data={**self.hidden, **fields})


@SETTINGS
@given(name=mixed(person), email=email_values, country=choice("LB", "ZZ", "EG"), affiliation=mixed(organisation),
       public=choice("full", "initials", "none"), bundle=choice("named", "counted"), updates=choice("y", ""),
       version=hostile, homepage=empty_or_hostile, lang=st.sampled_from(["en", "fr", "ar", "el"]))
def test_sign_form(site, name, email, country, affiliation, public, bundle, updates, version, homepage, lang):
    browser = Browser(site, f"/{lang}/letters/{SLUG}/sign")
    sent = [name, email, country, affiliation, public, bundle, updates, version, homepage]
    response = browser.post(dict(name=name, email=email, country=country, affiliation=affiliation,
                                 public_visibility=public, bundle_visibility=bundle, updates=updates,
                                 version=version, homepage=homepage))
    assert response.status_code in (303, 400, 413), response.status_code
    assert_safe_response(response, sent)
    assert_nothing_bad_stored(site)


def _fresh_links(app, name: str = "Nadia Farouk", affiliation: str = "") -> tuple[str, str]:
    """A new pending signature through the service; its confirm and withdraw paths."""
    import secrets

    from petition.letters import services as letters
    from petition.mail.models import OutboxMessage
    from petition.mail.outbox import payload
    from petition.signing import services
    from tests.helpers import links_in

    with app.test_request_context("/en/"):
        row = letters.letter_row(SLUG)
        text = letters.loaded(SLUG).text_for("en")
        services.sign(db.session, row, services.SignatureRequest(
            name=name, email=f"links-{secrets.token_hex(6)}@example.org", country="LB", affiliation=affiliation,
            public_visibility="full", bundle_visibility="named", updates_opt_in=True, lang="en",
            version_hash=text.version_hash))
        db.session.commit()
        process_intake(app)
        message = payload(db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id.desc())).first())
        db.session.remove()
    return links_in(message.text, "confirm")[0], links_in(message.text, "withdraw")[0]


@SETTINGS
@given(public=choice("full", "initials", "none"), bundle=choice("named", "counted"), updates=choice("y", ""),
       version=hostile, extra=hostile)
def test_confirm_form(site, public, bundle, updates, version, extra):
    confirm_path, _withdraw = _fresh_links(site)
    browser = Browser(site, confirm_path)
    response = browser.post(dict(public_visibility=public, bundle_visibility=bundle, updates=updates,
                                 version=version, unexpected=extra))
    assert response.status_code in (200, 400), response.status_code  # 200: the answer with the withdrawal code
    assert_safe_response(response, [public, bundle, updates, version, extra])
    assert_nothing_bad_stored(site)


@SETTINGS
@given(code=hostile, confirm=hostile, lang=st.sampled_from(["en", "ar"]))
def test_withdraw_with_a_code_form(site, code, confirm, lang):
    """Whatever is typed as a code: a 4xx with a clear error, nothing reflected unsafely,
    no signature touched."""
    before = _signature_count(site)
    browser = Browser(site, f"/{lang}/withdraw-with-code")
    response = browser.post({"code": code, "confirm": confirm})
    assert response.status_code in (400, 413), response.status_code
    assert_safe_response(response, [code, confirm])
    assert _signature_count(site) == before


def _signature_count(app) -> int:
    from sqlalchemy import func

    from petition.signing.models import Signature

    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Signature))


@SETTINGS
@given(extra=hostile, token=hostile)
def test_withdraw_form_and_link_tokens(site, extra, token):
    _confirm, withdraw_path = _fresh_links(site)
    browser = Browser(site, withdraw_path)
    response = browser.post({"unexpected": extra})
    assert response.status_code == 303  # withdrawn, and redirected after the POST
    assert_safe_response(response, [extra])
    assert_safe_response(browser.client.get(response.headers["Location"]), [extra])
    quoted = urllib.parse.quote(token, safe="")
    for kind in ("confirm", "withdraw"):
        response = browser.client.get(f"/ar/{kind}/{quoted}")
        assert response.status_code in (404, 308), response.status_code
        assert_safe_response(response, [token])
        response = browser.client.post(f"/en/{kind}/{quoted}", data={**browser.hidden, "x": extra})
        assert response.status_code in (400, 404, 308), response.status_code
        assert_safe_response(response, [token, extra])


@SETTINGS
@given(name=mixed(organisation), country=choice("LB", "FR"), website=choice("https://example.org", "example.org", ""),
       contact_name=mixed(person), contact_email=email_values, statement=mixed(organisation),
       homepage=empty_or_hostile,
       lang=st.sampled_from(["en", "ar"]))
def test_organisation_form(site, name, country, website, contact_name, contact_email, statement, homepage, lang):
    if "organisations.sign" not in site.view_functions:
        pytest.skip("the organisations area is not registered")
    browser = Browser(site, f"/{lang}/letters/{SLUG}/organisations/sign")
    sent = [name, country, website, contact_name, contact_email, statement, homepage]
    response = browser.post(dict(name=name, country=country, website=website, contact_name=contact_name,
                                 contact_email=contact_email, statement=statement, homepage=homepage))
    assert response.status_code in (303, 400, 413), response.status_code
    assert_safe_response(response, sent)
    assert_nothing_bad_stored(site)


@SETTINGS
@given(email=email_values, password=hostile, code=hostile, lang=st.sampled_from(["en", "ar"]))
def test_console_login_form(site, email, password, code, lang):
    if "console.login" not in site.view_functions:
        pytest.skip("the console area is not registered")
    browser = Browser(site, f"/{lang}/console/login")
    response = browser.post(dict(email=email, password=password))
    assert response.status_code in (200, 303, 400, 401, 403, 413, 429), response.status_code
    assert_safe_response(response, [email, password])
    response = browser.client.post(f"/{lang}/console/login/totp", data={**browser.hidden, "code": code})
    assert_safe_response(response, [code])


def _get_routes(app) -> list[tuple[str, list[str]]]:
    routes = []
    for rule in app.url_map.iter_rules():
        if "GET" in (rule.methods or ()):
            routes.append((rule.endpoint, sorted(rule.arguments)))
    return sorted(routes)


@SETTINGS
@given(data=st.data())
def test_query_parameters_and_path_arguments_of_every_get_route(site, data):
    from flask import url_for

    routes = _get_routes(site)
    endpoint, arguments = data.draw(st.sampled_from(routes), label="route")
    values = {"lang": data.draw(st.sampled_from(["en", "ar", "fr", "el"])), "slug": SLUG}
    for name in arguments:
        if name not in values or data.draw(st.booleans(), label=f"hostile {name}"):
            values[name] = data.draw(hostile, label=name)
    if endpoint == "static":
        values["filename"] = data.draw(st.one_of(st.just("css/site.css"), hostile), label="filename")
    query = data.draw(st.dictionaries(hostile, hostile, max_size=4), label="query")
    try:
        with site.test_request_context():
            path = url_for(endpoint, **{k: v for k, v in values.items() if k in arguments})
    except Exception:  # noqa: BLE001  a value that no URL can carry (e.g. int converter)
        assume(False)
    client = site.test_client()
    response = client.get(path, query_string=query)
    assert_safe_response(response, list(values.values()) + list(query) + list(query.values()))


@SETTINGS
@given(tail=st.one_of(hostile, st.binary(max_size=100).map(lambda b: urllib.parse.quote(b, safe="/%"))),
       raw=st.booleans())
def test_arbitrary_api_paths(site, tail, raw):
    client = site.test_client()
    path = "/api/v1/" + (tail if raw and tail.isascii() and tail.isprintable() else urllib.parse.quote(tail, safe="/"))
    response = client.get(path)
    assert response.status_code < 500
    if response.status_code >= 400:
        assert response.is_json, (path, response.status_code, response.mimetype)
    assert MARKER not in response.get_data(as_text=True)


@SETTINGS
@given(path=st.lists(hostile, min_size=1, max_size=4))
def test_arbitrary_paths(site, path):
    client = site.test_client()
    response = client.get("/" + "/".join(urllib.parse.quote(p, safe="") for p in path))
    assert_safe_response(response, path)


@pytest.mark.parametrize("path, status", [
    ("/en/letters/a%00b/", 404), ("/ar/letters/a%00b/sign", 404), ("/api/v1/letters/a%00b", 404),
    ("/en/letters/a%00b/signatures", 404), ("/en/letters/a%00b/organisations/sign", 404), ("/en/confirm/a%00b", 404),
    ("/el/withdraw/%00", 404), ("/en/console/letters/a%00b/", 404), ("/en/receipt?code=%00", 400),
    ("/en/letters/secure-our-socials/signatures?q=%00", 400), ("/en/console/login?next=%00", 400),
])
def test_nul_characters_in_addresses_are_refused_with_a_4xx(site, path, status):
    """PostgreSQL refuses NUL in text: found by this file's properties on PostgreSQL."""
    response = site.test_client().get(path)
    assert response.status_code == status
    if path.startswith("/api/"):
        assert response.is_json
    else:
        assert '<html lang="' + path[1:3] + '"' in response.text


def test_nul_in_form_fields_gets_a_field_error_or_is_harmless(site):
    browser = Browser(site, f"/en/letters/{SLUG}/sign")
    named = browser.post({"name": "Amal\x00", "email": "nul-name@example.org", "country": "LB",
                          "public_visibility": "none", "bundle_visibility": "counted"})
    assert named.status_code == 400 and 'class="field-errors"' in named.text
    version = browser.post({"name": "Amal", "email": "nul-version@example.org", "country": "LB", "version": "\x00",
                            "public_visibility": "none", "bundle_visibility": "counted"})
    assert version.status_code == 303  # an unknown version falls back to the current text
    if "console.login" in site.view_functions:
        login = Browser(site, "/en/console/login")
        assert login.post({"email": "lead\x00@example.org", "password": "x"}).status_code in (400, 401)
    assert_nothing_bad_stored(site)


def test_known_header_injection_attempts_never_reach_a_header(site):
    """The classic, written out: a newline in the name and in the address."""
    browser = Browser(site, f"/en/letters/{SLUG}/sign")
    for name, email in [("Amal\r\nBcc: victim@example.org", "amal@example.org"),
                        ("Amal", "amal@example.org\r\nBcc: victim@example.org"),
                        ("Amal", "amal@example.org%0d%0aBcc:victim@example.org")]:
        response = browser.post(dict(name=name, email=email, country="LB", affiliation="",
                                     public_visibility="none", bundle_visibility="counted"))
        assert response.status_code == 400
    assert_nothing_bad_stored(site)


def test_bidi_overrides_are_removed_before_storage(site):
    browser = Browser(site, f"/en/letters/{SLUG}/sign")
    response = browser.post(dict(name="\u202eAmal\u202c Haddad\u2066", email="bidi-test@example.org", country="LB",
                                 affiliation="\u200fNGO\u200e", public_visibility="full", bundle_visibility="named"))
    assert response.status_code == 303
    assert_nothing_bad_stored(site)
    assert re.search("Amal", "Amal Haddad")


def test_the_properties_reached_the_success_paths(site):
    """Guard against a vacuous run: the generated input did get stored and mailed, so the
    storage and header checks above looked at real rows."""
    from petition.mail.models import OutboxMessage
    from petition.organisations.models import Organisation
    from petition.signing.models import Signature

    from petition.crypto import decrypt

    process_intake(site)
    with site.app_context():
        from_form = sum(1 for sig in db.session.scalars(select(Signature))
                        if not decrypt(sig.email_enc).startswith("links-"))
        confirmed = db.session.scalar(select(db.func.count()).select_from(Signature).where(Signature.status == "confirmed"))
        mails = db.session.scalar(select(db.func.count()).select_from(OutboxMessage))
        orgs = db.session.scalar(select(db.func.count()).select_from(Organisation))
    assert from_form > 0, from_form
    assert confirmed > 0, confirmed
    assert mails > 0, mails
    if "organisations.sign" in site.view_functions:
        assert orgs > 0
