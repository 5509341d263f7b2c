"""The signing form comes from the page cache: same page, fresh secrets every time."""
from __future__ import annotations

import re

import pytest

from petition import caching, page_cache
from petition.extensions import db
from petition.letters import services as letters
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


@pytest.mark.parametrize("lang", LANGS)
def test_confirm_pages_share_a_frame_but_show_each_signer_their_own_details(bare_app, lang):
    """Two signers with the same choices get the same cached page with their own name,
    initials, affiliation, country and link, never the other's."""
    app = bare_app
    people = [
        ("نور <b>الهدى</b> & خليل", "nour@example.org", "Reporter \"A\"", "LB"),
        ("Amal O'Haddad", "amal@example.org", "", "ZZ"),
    ]
    pages, paths = [], []
    for name, email, affiliation, country in people:
        visitor = app.test_client()
        assert sign_letter(visitor, lang=lang, name=name, email=email, affiliation=affiliation, country=country,
                           public_visibility="full", bundle_visibility="named").status_code == 303
        message = outbox_messages(app)[-1]
        path = re.search(r"https?://[^/\s]+(/[a-z]{2}/confirm/[^\s\"<]+)", message.text).group(1)
        page = visitor.get(path)
        assert page.status_code == 200
        pages.append(page.text)
        paths.append(path)
    first, second = pages
    token_1, token_2 = (p.rsplit("/", 1)[1] for p in paths)
    assert "pagecache-" not in first + second
    assert "نور &lt;b&gt;الهدى&lt;/b&gt; &amp; خليل" in first and "Reporter &#34;A&#34;" in first
    assert "Amal O&#39;Haddad" in second and "A. O." in second
    assert "Amal" not in first and "نور" not in second and "Reporter" not in second
    assert f'action="/{lang}/confirm/{token_1}"' in first and token_2 not in first
    assert f'action="/{lang}/confirm/{token_2}"' in second and token_1 not in second
    assert f'href="/ar/confirm/{token_2}"' in second  # the language switcher keeps the link
    with app.test_request_context(f"/{lang}/"):
        from petition import countries
        assert countries.name("LB", lang) in first
    # And the page still confirms.
    visitor = app.test_client()
    again = visitor.get(paths[1])
    data = form_values(again.text) | {"public_visibility": "initials", "bundle_visibility": "counted"}
    assert visitor.post(paths[1], data=data).status_code == 200  # the answer with the withdrawal code


@pytest.mark.parametrize("lang", LANGS)
def test_confirmation_mails_share_a_frame_but_carry_their_own_links_and_codes(app, lang):
    client = app.test_client()
    for email in ("first@example.org", "second@example.org"):
        assert sign_letter(client, lang=lang, email=email).status_code == 303
    first, second = outbox_messages(app)
    for message in (first, second):
        assert "pagecache-" not in message.text + message.html
        [confirm] = re.findall(r"https?://\S+/confirm/\S+", message.text)
        assert f'href="{confirm}"' in message.html  # the same link in both bodies
        assert f'dir="{"rtl" if lang == "ar" else "ltr"}"' in message.html
    codes = [re.search(r"[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}", m.text).group(0) for m in (first, second)]
    assert codes[0] != codes[1]
    assert re.findall(r"/confirm/\S+", first.text) != re.findall(r"/confirm/\S+", second.text)
    assert re.findall(r"/withdraw/\S+", first.text) != re.findall(r"/withdraw/\S+", second.text)
    # The frames around the links and codes are the same.
    strip = lambda m, c: re.sub(r"/(confirm|withdraw)/\S+", "", m.text).replace(c, "")  # noqa: E731
    assert strip(first, codes[0]) == strip(second, codes[1])


def test_plain_text_values_are_not_escaped(app):
    with app.test_request_context():
        text = page_cache.fill("plain", lambda value: f"code: {value}", escape_values=False, value="A&B <x>")
    assert text == "code: A&B <x>"


@pytest.mark.parametrize("lang", ["en", "ar"])
def test_the_letter_page_is_rendered_at_most_once_per_count_period(make_app, lang, monkeypatch):
    app = make_app(COUNT_CACHE_SECONDS=2.0)
    client = app.test_client()
    clock = [1000.0]
    monkeypatch.setattr(caching.time, "monotonic", lambda: clock[0])
    renders = []
    from petition.signing import queries

    real = queries.recent_public
    monkeypatch.setattr(queries, "recent_public", lambda *a, **k: renders.append(1) or real(*a, **k))
    path = f"/{lang}/letters/secure-our-socials/"
    first = client.get(path)
    assert first.status_code == 200 and f'<html lang="{lang}"' in first.text
    assert client.get(path).text == first.text and len(renders) == 1  # from the cache
    other = client.get(path.replace(f"/{lang}/", "/fr/"))
    assert '<html lang="fr"' in other.text and len(renders) == 2  # each language its own page
    clock[0] += 2.5
    assert client.get(path).status_code == 200 and len(renders) == 3  # stale: rendered again


def test_a_zero_period_never_caches(app):
    calls = []
    with app.test_request_context():
        for _ in range(2):
            page_cache.recent("k", 0, lambda: calls.append(1) or "page")
    assert len(calls) == 2
