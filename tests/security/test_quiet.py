"""Quiet defences on the signing form: a honeypot with an accessible label and a minimum
fill time carried in a signed timestamp. A script that trips them gets exactly the page a
person gets, and nothing is stored or sent."""
from __future__ import annotations

import time

import pytest
from itsdangerous import TimestampSigner
from sqlalchemy import func, select

from petition.extensions import db
from petition.mail.models import OutboxMessage
from petition.security import quiet
from petition.signing.models import SignRequest, Signature
from tests.helpers import LANGS, form_values, process_intake

SLUG = "secure-our-socials"


def stamp_from(app, seconds_ago: float) -> str:
    """A genuine stamp, as if the form had been shown seconds_ago."""
    real_stamp, real_time = TimestampSigner.get_timestamp, quiet.time.time
    then = time.time() - seconds_ago
    with app.test_request_context():
        TimestampSigner.get_timestamp = lambda self: int(then)
        quiet.time.time = lambda: then
        try:
            return quiet.issue_stamp()
        finally:
            TimestampSigner.get_timestamp = real_stamp
            quiet.time.time = real_time


def fields(page_html: str, **overrides) -> dict[str, str]:
    data = form_values(page_html)
    data.update(name="Layla Mansour", email="layla@example.org", country="TN", affiliation="",
                public_visibility="initials", bundle_visibility="counted")
    data.update(overrides)
    return data


def stored(app) -> tuple[int, int]:
    process_intake(app)  # what the sender's loop does with what the forms filed
    with app.app_context():
        return (db.session.scalar(select(func.count()).select_from(Signature)),
                db.session.scalar(select(func.count()).select_from(OutboxMessage)))


@pytest.fixture
def quiet_app(make_app):
    return make_app(MIN_FILL_SECONDS=3, FORM_MAX_AGE_HOURS=6)


@pytest.mark.parametrize("lang", LANGS)
def test_honeypot_has_an_accessible_label_and_stays_out_of_the_way(quiet_app, lang):
    page = quiet_app.test_client().get(f"/{lang}/letters/{SLUG}/sign")
    html = page.text
    assert '<div class="visually-hidden">' in html
    assert '<label for="homepage">' in html
    field = html[html.index('id="homepage"') - 120: html.index('id="homepage"') + 120]
    assert 'tabindex="-1"' in field and 'autocomplete="off"' in field and 'type="text"' in field
    assert 'name="started" type="hidden"' in html
    if lang == "en":
        assert "Leave this field empty" in html
    else:
        assert "Leave this field empty" not in html  # translated


def test_a_person_who_takes_their_time_signs(quiet_app):
    client = quiet_app.test_client()
    page = client.get(f"/en/letters/{SLUG}/sign")
    response = client.post(f"/en/letters/{SLUG}/sign", data=fields(page.text, started=stamp_from(quiet_app, 20)))
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/en/letters/{SLUG}/sign/check-your-inbox")
    assert stored(quiet_app) == (1, 1)


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("trap", ["honeypot", "too-fast", "missing", "tampered", "stale", "other-purpose"])
def test_a_tripped_form_gets_the_same_answer_and_nothing_is_kept(quiet_app, lang, trap):
    client = quiet_app.test_client()
    page = client.get(f"/{lang}/letters/{SLUG}/sign")
    data = fields(page.text, started=stamp_from(quiet_app, 20))
    if trap == "honeypot":
        data["homepage"] = "http://spam.example"
    elif trap == "too-fast":
        data["started"] = form_values(page.text)["started"]  # posted at once after the GET
    elif trap == "missing":
        del data["started"]
    elif trap == "tampered":
        data["started"] = data["started"][:-3] + ("AAA" if not data["started"].endswith("AAA") else "BBB")
    elif trap == "stale":
        data["started"] = stamp_from(quiet_app, 7 * 3600)
    elif trap == "other-purpose":
        # A validly signed value from another part of the site (a CSRF token) is no stamp.
        data["started"] = data["csrf_token"]
    response = client.post(f"/{lang}/letters/{SLUG}/sign", data=data)
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/{lang}/letters/{SLUG}/sign/check-your-inbox")
    assert client.get(response.headers["Location"]).status_code == 200
    assert stored(quiet_app) == (0, 0)


def test_a_tripped_form_is_dropped_even_when_its_fields_are_invalid(quiet_app):
    """A bot learns nothing from validation messages either."""
    client = quiet_app.test_client()
    page = client.get(f"/en/letters/{SLUG}/sign")
    response = client.post(f"/en/letters/{SLUG}/sign", data=fields(page.text, email="not an address", homepage="x"))
    assert response.status_code == 303
    assert stored(quiet_app) == (0, 0)


def test_the_stamp_survives_a_validation_error(quiet_app):
    """A person who mistyped keeps the original start time and can send again at once."""
    client = quiet_app.test_client()
    page = client.get(f"/en/letters/{SLUG}/sign")
    first = client.post(f"/en/letters/{SLUG}/sign", data=fields(page.text, email="nope", started=stamp_from(quiet_app, 30)))
    assert first.status_code == 400
    again = client.post(f"/en/letters/{SLUG}/sign", data=fields(first.text))
    assert again.status_code == 303
    assert stored(quiet_app) == (1, 1)


def test_check_reasons(quiet_app):
    with quiet_app.test_request_context():
        assert quiet.check("", quiet.issue_stamp(), now=time.time() + 10) is None
        assert quiet.check("", quiet.issue_stamp()) == "too-fast"
        assert quiet.check("filled", quiet.issue_stamp(), now=time.time() + 10) == "honeypot"
        assert quiet.check("", None) == "missing"
        assert quiet.check("", "x" * 500) == "missing"
        assert quiet.check("", "garbage.value.sig") == "tampered"


def test_fill_time_check_can_be_switched_off_but_the_honeypot_cannot(make_app):
    app = make_app(MIN_FILL_SECONDS=0)
    with app.test_request_context():
        assert quiet.check("", None) is None
        assert quiet.check("spam", None) == "honeypot"


def test_quiet_rejections_are_logged_without_anything_typed(quiet_app, caplog):
    client = quiet_app.test_client()
    page = client.get(f"/en/letters/{SLUG}/sign")
    with caplog.at_level("INFO", logger="petition.security"):
        client.post(f"/en/letters/{SLUG}/sign", data=fields(page.text, homepage="spam-marker-123"),
                    environ_base={"REMOTE_ADDR": "203.0.113.77"})
    text = caplog.text
    assert "quiet rejection on signing.sign: honeypot" in text
    for secret in ("spam-marker-123", "layla@example.org", "Layla", "203.0.113.77"):
        assert secret not in text


def org_fields(page_html: str, **overrides) -> dict[str, str]:
    data = form_values(page_html)
    data.update(name="Beirut Digital Collective", country="LB", website="https://example.org",
                contact_name="Karim Saad", contact_email="karim@example.org", statement="")
    data.update(overrides)
    return data


@pytest.mark.parametrize("lang", ["en", "ar"])
def test_the_organisation_form_has_the_same_quiet_defences(quiet_app, lang):
    from petition.organisations.models import Organisation

    if "organisations.sign" not in quiet_app.view_functions:
        pytest.skip("the organisations area is not registered")
    client = quiet_app.test_client()
    path = f"/{lang}/letters/{SLUG}/organisations/sign"
    page = client.get(path)
    assert '<label for="homepage">' in page.text and 'name="started" type="hidden"' in page.text
    sent = f"/{lang}/letters/{SLUG}/organisations/check-your-inbox"

    for tripped in (org_fields(page.text),  # too fast
                    org_fields(page.text, started=stamp_from(quiet_app, 30), homepage="https://spam.example")):
        response = client.post(path, data=tripped)
        assert response.status_code == 303 and response.headers["Location"].endswith(sent)
    with quiet_app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Organisation)) == 0
        assert db.session.scalar(select(func.count()).select_from(OutboxMessage)) == 0
        assert db.session.scalar(select(func.count()).select_from(SignRequest)) == 0

    response = client.post(path, data=org_fields(page.text, started=stamp_from(quiet_app, 30)))
    assert response.status_code == 303 and response.headers["Location"].endswith(sent)
    process_intake(quiet_app)
    with quiet_app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Organisation)) == 1
        assert db.session.scalar(select(func.count()).select_from(OutboxMessage)) == 1


# ---- one use per stamp -----------------------------------------------------------------------

def test_a_stamp_and_csrf_token_cannot_be_replayed_by_a_script(quiet_app, caplog):
    """Attack: fetch the form once, then post its stamp and CSRF token again and again
    (for six hours) with a new address each time. Only the first post counts; the rest
    get the same answer a person gets and nothing is stored or sent."""
    import logging

    caplog.set_level(logging.INFO, logger="petition.security")
    client = quiet_app.test_client()
    page = client.get(f"/en/letters/{SLUG}/sign")
    stamp = stamp_from(quiet_app, 30)
    answers = []
    for i in range(5):
        response = client.post(f"/en/letters/{SLUG}/sign", data=fields(page.text, email=f"victim{i}@example.org",
                                                                       started=stamp))
        answers.append((response.status_code, response.headers.get("Location")))
    assert len(set(answers)) == 1 and answers[0][0] == 303
    assert stored(quiet_app) == (1, 1)
    assert caplog.text.count("quiet rejection on signing.sign: replayed") == 4
    # A fresh page gives a fresh stamp.
    page = client.get(f"/en/letters/{SLUG}/sign")
    fresh = form_values(page.text)["started"]
    with quiet_app.test_request_context():
        assert quiet.check("", fresh, now=time.time() + 10) is None
        assert quiet.check("", fresh, now=time.time() + 10) == "replayed"


def test_the_organisation_stamp_is_one_use_too(quiet_app):
    from petition.organisations.models import Organisation

    client = quiet_app.test_client()
    path = f"/en/letters/{SLUG}/organisations/sign"
    page = client.get(path)
    stamp = stamp_from(quiet_app, 30)
    for i in range(3):
        assert client.post(path, data=org_fields(page.text, started=stamp, contact_email=f"c{i}@example.org",
                                                 name=f"Org {i}")).status_code == 303
    process_intake(quiet_app)
    with quiet_app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Organisation)) == 1


def test_a_restamped_form_cannot_outlive_the_first_showing(quiet_app):
    """The fresh stamp a corrected form carries keeps the original start time, so
    validation errors cannot stretch a stamp's life past FORM_MAX_AGE_HOURS."""
    with quiet_app.test_request_context():
        old = quiet.issue_stamp(time.time() - 7 * 3600)
        assert quiet.check("", old) == "stale"


def test_used_stamps_fail_open_when_the_storage_is_down(quiet_app, caplog):
    """Fault: the limiter's storage (Redis) is unreachable: people still sign."""
    class Down:
        def __getattr__(self, name):
            def fail(*args, **kwargs):
                raise ConnectionError("storage down")
            return fail

    quiet_app.extensions["petition.ephemeral"] = Down()
    client = quiet_app.test_client()
    page = client.get(f"/en/letters/{SLUG}/sign")
    response = client.post(f"/en/letters/{SLUG}/sign", data=fields(page.text, started=stamp_from(quiet_app, 30)))
    assert response.status_code == 303
    assert stored(quiet_app) == (1, 1)
    assert "short-lived counters unavailable" in caplog.text


def test_the_storage_holds_no_nonce_in_the_clear(quiet_app):
    import json

    from itsdangerous import URLSafeTimedSerializer

    with quiet_app.test_request_context():
        stamp = quiet.issue_stamp(time.time() - 30)
        nonce = URLSafeTimedSerializer(quiet_app.config["SECRET_KEY"], salt=quiet.SALT).loads(stamp)[1]
        assert quiet.check("", stamp) is None
        keys = list(quiet_app.extensions["petition.ephemeral"].storage)
    assert keys and not any(nonce in key for key in keys)
    assert json.dumps(keys).count("form-stamp") == 1
