"""The signing form comes from the page cache: same page, fresh secrets every time."""
from __future__ import annotations

import re

import pytest

from petition.extensions import db
from petition.letters import services as letters
from petition.web import page_cache
from tests.helpers import form_values, outbox_messages, sign_letter

LANGS = ["en", "fr", "ar", "el"]


def _without_secrets(html: str, values: dict[str, str]) -> str:
    for name in ("csrf_token", "started"):
        html = html.replace(values[name], "")
    return html


@pytest.fixture
def bare_app(make_app):
    """No app context held open around the requests, so that each request has its own
    `g` as in production (Flask-WTF keeps the request's CSRF token there)."""
    return make_app()


@pytest.mark.parametrize("lang", LANGS)
def test_each_visitor_gets_the_same_page_with_their_own_secrets(bare_app, lang):
    app = bare_app
    first_visitor, second_visitor = app.test_client(), app.test_client()
    first = first_visitor.get(f"/{lang}/letters/secure-our-socials/sign")
    second = second_visitor.get(f"/{lang}/letters/secure-our-socials/sign")
    assert first.status_code == second.status_code == 200
    a, b = form_values(first.text), form_values(second.text)
    assert a["csrf_token"] != b["csrf_token"]
    assert a["started"] and b["started"]
    assert _without_secrets(first.text, a) == _without_secrets(second.text, b)
    assert "pagecache-" not in first.text and "pagecache-" not in second.text
    assert f'<html lang="{lang}" dir="{"rtl" if lang == "ar" else "ltr"}">' in second.text
    assert second.headers["Cache-Control"] == "no-store"

    # The second visitor's token is theirs: it works for them and not for the first.
    assert sign_letter(second_visitor, lang=lang, email="second@example.org").status_code == 303
    stolen = b | {"name": "Amal Haddad", "email": "first@example.org", "country": "LB",
                  "public_visibility": "full", "bundle_visibility": "named"}
    refused = first_visitor.post(f"/{lang}/letters/secure-our-socials/sign", data=stolen)
    assert refused.status_code == 400
    assert [m.to for m in outbox_messages(app)] == ["second@example.org"]


def _checked(page: str, name: str) -> str:
    for tag in re.findall(rf'<input\b[^>]*name="{name}"[^>]*>', page):
        if " checked" in tag:
            return re.search(r'value="([^"]*)"', tag).group(1)
    return ""


@pytest.mark.parametrize("lang", ["en", "ar"])
def test_a_change_to_the_letter_row_shows_at_once(app, client, lang):
    """The key holds the row's public snapshot: new defaults make a new page."""
    assert _checked(client.get(f"/{lang}/letters/secure-our-socials/sign").text, "public_visibility") != "none"
    row = letters.letter_row("secure-our-socials")
    row.public_visibility_default = "none"
    db.session.commit()
    letters.forget_rows()
    page = client.get(f"/{lang}/letters/secure-our-socials/sign").text
    assert _checked(page, "public_visibility") == "none"


def test_a_template_that_loses_a_placeholder_is_not_cached(app):
    calls = []

    def render(token):
        calls.append(token)
        return "<p>no token here</p>"

    with app.test_request_context():
        assert page_cache.fill("key", render, token="abc") == "<p>no token here</p>"
        assert page_cache.fill("key", render, token="def") == "<p>no token here</p>"
    assert len(calls) == 4  # rendered twice per request: the placeholder was missing


def test_values_are_escaped(app):
    with app.test_request_context():
        page = page_cache.fill("escape", lambda value: f'<input value="{value}">', value='"><script>')
    assert page == '<input value="&#34;&gt;&lt;script&gt;">'
