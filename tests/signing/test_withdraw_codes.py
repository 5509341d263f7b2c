"""Withdrawing without the mailbox (issue 13, item 3): the one-time withdrawal code.

Attacks tried here: a stranger guessing codes (from one address and from many), someone
holding a code that was already used (seen over a shoulder, say) trying to learn from the
answer whether it ever worked, and a raw read of the database for the codes themselves.
"""
from __future__ import annotations

import dataclasses
import math
import re

import pytest
from sqlalchemy import event, func, select

from petition import caching
from petition.crypto import keyed_hash
from petition.extensions import db
from petition.signing import counters, optin, services, withdraw_codes
from petition.signing.models import Signature
from petition.signing.views import PERSON
from tests.helpers import (
    process_intake,
    LANGS, TEST_DATABASE_URL, confirm_from_mail, form_values, links_in, outbox_messages, publish_names, sign_letter,
    withdraw_code_in,
)

SLUG = "secure-our-socials"


def signed_and_confirmed(app, client, email: str, name: str = "Nour Khalil", lang: str = "en") -> str:
    """Sign and confirm through the pages; returns the withdrawal code the page showed."""
    assert sign_letter(client, SLUG, lang, name=name, email=email).status_code == 303
    confirmed = confirm_from_mail(client, app, public_visibility="full")
    assert confirmed.status_code == 200
    return withdraw_code_in(confirmed.text)


def enter_code(client, code: str, lang: str = "en", confirm: bool = False, environ=None):
    environ = environ or {}
    page = client.get(f"/{lang}/withdraw-with-code", environ_base=environ)
    data = form_values(page.text) | {"code": code}
    if confirm:
        data["confirm"] = "1"
    return client.post(f"/{lang}/withdraw-with-code", data=data, environ_base=environ)


def without_csrf(html: str) -> str:
    return re.sub(r'name="csrf_token" type="hidden" value="[^"]*"', "", html)


def signature_count() -> int:
    return db.session.scalar(select(func.count()).select_from(Signature))


# ---- the code itself -------------------------------------------------------------------

def test_codes_are_80_bits_grouped_and_without_look_alikes():
    codes = {withdraw_codes.new_code() for _ in range(2000)}
    assert len(codes) == 2000
    for code in list(codes)[:200]:
        assert re.fullmatch(r"[A-Z2-9]{4}(-[A-Z2-9]{4}){3}", code), code
        assert not set(code) & set("01OI")
    assert withdraw_codes.LENGTH * math.log2(len(withdraw_codes.ALPHABET)) >= 80
    # Every symbol of the alphabet turns up: the code uses all of its entropy.
    assert set("".join(codes)) - {"-"} == set(withdraw_codes.ALPHABET)


def test_typing_is_forgiven_but_a_wrong_length_or_character_is_not():
    code = "ABCD-EFGH-JKMN-2345"
    assert withdraw_codes.normalise(code) == "ABCDEFGHJKMN2345"
    assert withdraw_codes.normalise(" abcd efgh jkmn 2345 ") == "ABCDEFGHJKMN2345"
    assert withdraw_codes.normalise("abcd–efgh—jkmn‑2345") == "ABCDEFGHJKMN2345"  # dashes of every kind
    assert withdraw_codes.normalise("ΑΒCD-ΕFGΗ-JΚΜΝ-2345") == "ABCDEFGHJKMN2345"  # Greek capitals
    assert withdraw_codes.normalise("ABCD-EFGH-JKMN-٢٣٤٥") == "ABCDEFGHJKMN2345"  # Arabic-Indic digits
    assert withdraw_codes.normalise("ABCD-EFGH-JKMN-234") == ""
    assert withdraw_codes.normalise("ABCD-EFGH-JKMN-2340") == ""  # 0 is not in the alphabet
    assert withdraw_codes.normalise("") == ""


# ---- issued once, stored as a keyed hash ------------------------------------------------

@pytest.mark.parametrize("lang", LANGS)
def test_the_confirm_answer_shows_the_code_once_and_only_its_keyed_hash_is_stored(app, client, lang):
    assert sign_letter(client, SLUG, lang, email="nour@example.org").status_code == 303
    message = outbox_messages(app)[-1]
    path = links_in(message.text, "confirm")[0]
    data = form_values(client.get(path).text) | {"public_visibility": "full", "bundle_visibility": "named"}
    confirmed = client.post(path, data=data)
    assert confirmed.status_code == 200
    assert confirmed.headers["Cache-Control"] == "no-store"
    code = withdraw_code_in(confirmed.text)
    assert f'lang="{lang}"' in confirmed.text and ('dir="rtl"' in confirmed.text) == (lang == "ar")
    assert 'href="/%s/withdraw-with-code"' % lang in confirmed.text

    sig = db.session.scalar(select(Signature))
    assert sig.withdraw_code_hash == keyed_hash("withdraw-code", withdraw_codes.normalise(code))
    assert code not in repr([getattr(sig, c.key) for c in Signature.__table__.columns])
    assert withdraw_codes.normalise(code) not in repr([getattr(sig, c.key) for c in Signature.__table__.columns])

    # Shown once: sending the form again (a reload) meets the used link ("already
    # confirmed", for the link's holder), and no code.
    resent = client.post(path, data=data)
    assert resent.status_code == 200 and 'name="public_visibility"' not in resent.text
    assert not re.search(r"[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}", resent.text)
    # The plain "confirmed" page (old bookmarks) has no code either.
    plain = client.get(f"/{lang}/letters/{SLUG}/confirmed")
    assert plain.status_code == 200 and "withdraw-code-heading" not in plain.text


def test_a_raw_read_of_the_database_file_finds_no_code(make_app, tmp_path):
    if TEST_DATABASE_URL:
        pytest.skip("reads the SQLite file")
    app = make_app()
    client = app.test_client()
    with app.app_context():
        code = signed_and_confirmed(app, client, "raw@example.org")
        db.session.remove()
        db.engine.dispose()
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("test.db*"))
    assert raw, "no database file"
    assert code.encode() not in raw and withdraw_codes.normalise(code).encode() not in raw


# ---- withdrawing with it ---------------------------------------------------------------

@pytest.mark.parametrize("lang", LANGS)
def test_withdraw_with_a_code_asks_first_then_deletes_like_the_link(app, client, lang, monkeypatch):
    code = signed_and_confirmed(app, client, "nour@example.org", lang=lang)
    other = signed_and_confirmed(app, client, "other@example.org", name="Sami Aziz", lang=lang)
    assert other != code
    publish_names(app)
    letter_row = db.session.scalar(select(Signature.letter_id))
    assert counters.confirmed_count(letter_row) == 2

    form = client.get(f"/{lang}/withdraw-with-code")
    assert form.status_code == 200 and form.headers["Cache-Control"] == "no-store"
    assert ('dir="rtl"' in form.text) == (lang == "ar")

    # The code withdraws through the person's kind, whose remove is what the mailed link's
    # withdraw does too.
    assert PERSON.remove is services.remove_signature
    removed = []
    monkeypatch.setitem(optin.KINDS, PERSON.area, dataclasses.replace(
        PERSON, remove=lambda session, sig: removed.append(sig.id) or services.remove_signature(session, sig)))

    # First POST: what it withdraws, and a button; nothing deleted yet.
    asked = enter_code(client, code.lower().replace("-", " "), lang)
    assert asked.status_code == 200
    assert 'name="confirm" type="hidden" value="1"' in asked.text
    assert f'/{lang}/letters/{SLUG}/' in asked.text
    assert signature_count() == 2 and removed == []

    # Second POST: withdrawn through the same service as the mailed link, then a redirect.
    done = client.post(f"/{lang}/withdraw-with-code", data=form_values(asked.text) | {"code": code, "confirm": "1"})
    assert done.status_code == 303
    assert done.headers["Location"].endswith(f"/{lang}/withdraw-with-code/done")
    assert client.get(done.headers["Location"]).status_code == 200
    assert len(removed) == 1
    db.session.expire_all()
    assert signature_count() == 1
    counters.forget(letter_row)
    assert counters.confirmed_count(letter_row) == 1
    letter_page = client.get(f"/{lang}/letters/{SLUG}/").text
    assert "Nour Khalil" not in letter_page and "Sami Aziz" in letter_page
    assert "Nour Khalil" not in client.get(f"/{lang}/letters/{SLUG}/signatures").text
    assert client.get("/api/v1/letters/" + SLUG).json["counts"]["individuals"] == 1

    # Used: the code no longer does anything.
    used = enter_code(client, code, lang)
    assert used.status_code == 400
    assert signature_count() == 1


def test_the_mailed_link_and_the_code_remove_the_same_things(app, client):
    """Withdrawn one by the link, one by the code: both leave nothing of the signer."""
    code = signed_and_confirmed(app, client, "bycode@example.org", name="By Code")
    signed_and_confirmed(app, client, "bylink@example.org", name="By Link")
    link_mail = [m for m in outbox_messages(app) if "bylink" in m.to][-1]
    withdraw_path = links_in(link_mail.text, "withdraw")[0]
    page = client.get(withdraw_path)
    assert client.post(withdraw_path, data=form_values(page.text)).status_code == 303  # redirected after the POST
    asked = enter_code(client, code)
    assert client.post("/en/withdraw-with-code", data=form_values(asked.text) | {"code": code, "confirm": "1"}).status_code == 303
    db.session.expire_all()
    assert signature_count() == 0
    caching.clear()  # the API's count as another process would read it
    assert client.get("/api/v1/letters/" + SLUG).json["counts"]["individuals"] == 0


def test_a_code_withdrawn_by_its_link_between_the_two_steps_answers_as_a_wrong_code(app, client, monkeypatch):
    """Fault injected: the signature goes (its link, another tab) after the code was
    accepted and before the confirming POST runs its DELETE."""
    from petition import tokens

    code = signed_and_confirmed(app, client, "race@example.org")
    asked = enter_code(client, code)

    def gone(session, sig):
        raise tokens.InvalidLink()

    monkeypatch.setitem(optin.KINDS, PERSON.area, dataclasses.replace(PERSON, remove=gone))
    answer = client.post("/en/withdraw-with-code", data=form_values(asked.text) | {"code": code, "confirm": "1"})
    wrong = enter_code(client, "ZZZZ-ZZZZ-ZZZZ-ZZZZ")
    assert answer.status_code == wrong.status_code == 400
    assert without_csrf(answer.text) == without_csrf(wrong.text)
    assert signature_count() == 1  # the rolled-back attempt deleted nothing


def test_a_pending_signature_has_no_code_and_a_code_does_not_reach_another_signature(app, client):
    code = signed_and_confirmed(app, client, "mine@example.org", name="Mine")
    assert sign_letter(client, SLUG, "en", name="Pending", email="pending@example.org").status_code == 303
    process_intake(app)
    pending = db.session.scalar(select(Signature).where(Signature.status == "pending"))
    assert pending.withdraw_code_hash is None
    asked = enter_code(client, code)
    client.post("/en/withdraw-with-code", data=form_values(asked.text) | {"code": code, "confirm": "1"})
    db.session.expire_all()
    assert [s.status for s in db.session.scalars(select(Signature))] == ["pending"]


# ---- a wrong code and a used code answer alike ------------------------------------------

class Statements:
    """The SQL a request runs, with its parameters' shapes but not their values."""

    def __init__(self, engine):
        self.engine = engine
        self.seen: list[str] = []

    def __enter__(self):
        event.listen(self.engine, "before_cursor_execute", self._record)
        return self

    def __exit__(self, *exc):
        event.remove(self.engine, "before_cursor_execute", self._record)

    def _record(self, conn, cursor, statement, parameters, context, executemany):
        self.seen.append(statement)


@pytest.mark.parametrize("lang", LANGS)
def test_wrong_used_and_malformed_codes_get_the_same_status_body_and_statements(app, client, lang):
    used = signed_and_confirmed(app, client, "used@example.org", lang=lang)
    signed_and_confirmed(app, client, "stays@example.org", name="Stays", lang=lang)
    asked = enter_code(client, used, lang)
    assert client.post(f"/{lang}/withdraw-with-code",
                       data=form_values(asked.text) | {"code": used, "confirm": "1"}).status_code == 303

    answers = {}
    for label, code, confirm in (("used", used, False), ("used-confirm", used, True),
                                 ("wrong", withdraw_codes.new_code(), False),
                                 ("wrong-confirm", withdraw_codes.new_code(), True),
                                 ("malformed", "hello", False)):
        page = client.get(f"/{lang}/withdraw-with-code")
        data = form_values(page.text) | {"code": code}
        if confirm:
            data["confirm"] = "1"
        with Statements(db.engine) as statements:
            response = client.post(f"/{lang}/withdraw-with-code", data=data)
        answers[label] = (response.status_code, without_csrf(response.text), statements.seen)
    first = answers["used"]
    assert first[0] == 400
    assert len(first[2]) >= 1 and "withdraw_code_hash" in " ".join(first[2])
    for label, answer in answers.items():
        assert answer == first, label
    assert signature_count() == 1


def test_a_guessing_stranger_withdraws_nothing_and_learns_nothing(app, client):
    """A stranger who knows a person signed, trying codes: every answer is the same
    'no', and the person's signature stays."""
    signed_and_confirmed(app, client, "target@example.org", name="Target Person")
    bodies = set()
    for _ in range(40):
        response = enter_code(client, withdraw_codes.new_code(), confirm=True)
        assert response.status_code == 400
        bodies.add(without_csrf(response.text))
    assert len(bodies) == 1
    assert signature_count() == 1
    assert "Target Person" not in next(iter(bodies))


# ---- rate limits -----------------------------------------------------------------------

def test_codes_are_rate_limited_per_client(make_app):
    app = make_app(RATELIMIT_ENABLED=True, RATELIMIT_WITHDRAW_CODE="3/minute")
    client = app.test_client()
    environ = {"REMOTE_ADDR": "203.0.113.7"}
    with app.app_context():
        statuses = [enter_code(client, withdraw_codes.new_code(), environ=environ).status_code for _ in range(5)]
        assert statuses == [400, 400, 400, 429, 429]
        # The form itself stays reachable, and another client is not affected.
        assert client.get("/en/withdraw-with-code", environ_base=environ).status_code == 200
        assert enter_code(client, withdraw_codes.new_code(), environ={"REMOTE_ADDR": "198.51.100.4"}).status_code == 400


def test_codes_are_rate_limited_for_all_clients_together(make_app):
    """A guessing run spread over many addresses meets the global ceiling."""
    app = make_app(RATELIMIT_ENABLED=True, RATELIMIT_WITHDRAW_CODE="100/minute", RATELIMIT_WITHDRAW_CODE_GLOBAL="4/minute")
    client = app.test_client()
    with app.app_context():
        statuses = [enter_code(client, withdraw_codes.new_code(), environ={"REMOTE_ADDR": f"192.0.2.{i}"}).status_code
                    for i in range(1, 7)]
    assert statuses == [400, 400, 400, 400, 429, 429]
    assert app.extensions["petition.limits"]["withdraw_codes.enter"] == "RATELIMIT_WITHDRAW_CODE"


# ---- where it is found -------------------------------------------------------------------

@pytest.mark.parametrize("lang", LANGS)
def test_the_code_page_is_linked_from_every_footer_and_the_about_page(client, lang):
    link = f'href="/{lang}/withdraw-with-code"'
    assert link in client.get(f"/{lang}/letters/{SLUG}/").text
    assert client.get(f"/{lang}/about").text.count(link) >= 2  # the page's text and the footer


# ---- organisations ---------------------------------------------------------------------

@pytest.mark.parametrize("lang", ["en", "ar"])
def test_an_organisation_withdraws_its_co_signature_with_its_code(app, client, lang):
    """The contact's mailbox is watched too: the answer to confirming an organisation
    gives a code, and the same page withdraws it (organisations.services.remove_organisation)."""
    from petition.organisations.models import Organisation
    from tests.organisations.support import ORG, sign_org

    assert sign_org(client, SLUG, lang, name="<b>Sawt</b> Association").status_code == 303
    path = links_in(outbox_messages(app)[-1].text, "organisations/confirm")[0]
    answer = client.post(path, data=form_values(client.get(path).text))
    assert answer.status_code == 200
    code = withdraw_code_in(answer.text)
    org = db.session.scalar(select(Organisation))
    assert org.status == "awaiting"
    assert org.withdraw_code_hash == keyed_hash("withdraw-code", withdraw_codes.normalise(code))

    asked = enter_code(client, code, lang)
    assert asked.status_code == 200
    assert "&lt;b&gt;Sawt&lt;/b&gt; Association" in asked.text and "<b>Sawt</b>" not in asked.text
    done = client.post(f"/{lang}/withdraw-with-code", data=form_values(asked.text) | {"code": code, "confirm": "1"})
    assert done.status_code == 303
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(Organisation)) == 0
    assert ORG["contact_email"] not in repr(db.session.execute(select(Organisation.__table__)).all())
    again = enter_code(client, code, lang)
    wrong = enter_code(client, withdraw_codes.new_code(), lang)
    assert again.status_code == wrong.status_code == 400
    assert without_csrf(again.text) == without_csrf(wrong.text)


def test_a_signature_code_and_an_organisation_code_cost_the_same_when_wrong(app, client):
    """One statement looks in both tables, so a wrong code cannot tell which kinds exist."""
    with Statements(db.engine) as statements:
        enter_code(client, withdraw_codes.new_code())
    lookups = [s for s in statements.seen if "withdraw_code_hash" in s]
    assert len(lookups) == 1 and "signatures" in lookups[0] and "organisations" in lookups[0]
