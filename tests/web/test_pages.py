"""Public pages in every language: lang/dir, hreflang, the language switcher, no asset
from another site, and content that matches the letter files."""
from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from petition.letters.loader import load_all
from petition.config import ROOT

LANGS = ["en", "fr", "ar", "el"]
LETTERS = load_all(ROOT / "letters")
LETTER_PAGES = [(slug, lang) for slug in LETTERS for lang in LANGS]


class Assets(HTMLParser):
    """Collects every URL a browser would load or follow from a page."""

    def __init__(self):
        super().__init__()
        self.loaded: list[str] = []
        self.links: list[str] = []
        self.html_attrs: dict[str, str] = {}
        self.alternates: dict[str, str] = {}
        self.inline_scripts = 0
        self.style_attributes = 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "html":
            self.html_attrs = attrs
        if "style" in attrs:
            self.style_attributes += 1
        if tag == "script":
            if attrs.get("src"):
                self.loaded.append(attrs["src"])
            else:
                self.inline_scripts += 1
        if tag == "style":
            self.inline_scripts += 1
        if tag in {"img", "iframe", "audio", "video", "source", "embed"} and attrs.get("src"):
            self.loaded.append(attrs["src"])
        if tag == "link":
            if attrs.get("rel") == "alternate" and attrs.get("hreflang"):
                self.alternates[attrs["hreflang"]] = attrs["href"]
            elif attrs.get("rel") in ("canonical", "alternate"):  # addresses of pages and feeds, not loaded
                self.links.append(attrs["href"])
            elif attrs.get("href"):
                self.loaded.append(attrs["href"])
        if tag == "a" and attrs.get("href"):
            self.links.append(attrs["href"])
        if tag == "form" and attrs.get("action"):
            self.links.append(attrs["action"])


def parse(html: str) -> Assets:
    parser = Assets()
    parser.feed(html)
    return parser


def assert_frame(html: str, lang: str) -> Assets:
    page = parse(html)
    assert page.html_attrs.get("lang") == lang
    assert page.html_attrs.get("dir") == ("rtl" if lang == "ar" else "ltr")
    for url in page.loaded:
        # This site's own files, or its own generated images (the count badge's preview).
        assert url.startswith("/") and not url.startswith("//"), f"asset from elsewhere: {url}"
    assert page.inline_scripts == 0 and page.style_attributes == 0
    assert set(page.alternates) == set(LANGS)
    return page


@pytest.mark.parametrize("lang", LANGS)
def test_home_lists_open_letters_with_counts(client, lang):
    response = client.get(f"/{lang}/")
    assert response.status_code == 200
    page = assert_frame(response.text, lang)
    for slug in LETTERS:
        assert f"/{lang}/letters/{slug}/" in page.links
    assert response.text.count('class="counts"') == 2


@pytest.mark.parametrize("slug, lang", LETTER_PAGES)
def test_letter_page_in_every_language(client, slug, lang):
    response = client.get(f"/{lang}/letters/{slug}/")
    assert response.status_code == 200
    page = assert_frame(response.text, lang)
    letter = LETTERS[slug]
    text = letter.texts.get(lang) or letter.texts[letter.meta.default_language]
    body = response.text
    assert text.front.title in body.replace("&#39;", "'").replace("&quot;", '"').replace("&amp;", "&")
    for addressee in letter.meta.addressees:
        assert addressee.company in body
    for initiator in letter.meta.initiators:
        assert initiator.name.replace("&", "&amp;") in body
    assert 'id="before-you-sign"' in body
    assert body.count("<details>") == len(text.front.faq)
    assert f'<section class="letter-body" aria-labelledby="text-heading" lang="{text.lang}">' in body
    assert f"/{lang}/letters/{slug}/sign" in page.links
    if lang not in letter.texts:
        assert 'class="notice" role="note"' in body  # "shown in English"
    # Every language version is linked, from the switcher and hreflang alike.
    for code in LANGS:
        assert page.alternates[code] == f"/{code}/letters/{slug}/"


@pytest.mark.parametrize("lang", LANGS)
def test_addressees_are_listed_with_the_languages_comma(client, lang):
    body = client.get(f"/{lang}/letters/protect-women-hrds/").text
    comma = "، " if lang == "ar" else ", "
    expected = (f'<span class="addressee">Meta <span class="platforms">(Facebook{comma}Instagram{comma}WhatsApp)</span></span>'
                f'{comma}<span class="addressee">X</span>{comma}<span class="addressee">Telegram</span>')
    assert expected in body  # and no "X (X)": a platform named like its company is not repeated


@pytest.mark.parametrize("lang", LANGS)
def test_about_page_explains_storage_and_retention(client, lang):
    response = client.get(f"/{lang}/about")
    assert response.status_code == 200
    assert_frame(response.text, lang)
    assert "180" in response.text  # each letter's retention period is stated


def test_root_redirects_by_accept_language(client):
    response = client.get("/", headers={"Accept-Language": "ar,en;q=0.5"})
    assert response.status_code == 302 and response.headers["Location"].endswith("/ar/")
    response = client.get("/", headers={"Accept-Language": "de"})
    assert response.headers["Location"].endswith("/en/")


@pytest.mark.parametrize("path", ["/de/", "/xx/letters/secure-our-socials/", "/en/letters/no-such-letter/", "/en/nothing"])
def test_unknown_pages_are_localised_404s(client, path):
    response = client.get(path)
    assert response.status_code == 404
    assert "<html" in response.text


def test_arabic_404_is_in_arabic(client):
    response = client.get("/ar/letters/no-such-letter/")
    assert response.status_code == 404
    assert 'lang="ar" dir="rtl"' in response.text


def test_draft_letters_are_not_public(app, client):
    from petition.extensions import db
    from petition.letters import services

    row = services.letter_row("protect-women-hrds")
    services.set_status(row, "draft")
    db.session.commit()
    assert client.get("/en/letters/protect-women-hrds/").status_code == 404
    assert "protect-women-hrds" not in client.get("/en/").text
    assert client.get("/api/v1/letters/protect-women-hrds").status_code == 404


def test_closed_letter_cannot_be_signed(app, client):
    from petition.extensions import db
    from petition.letters import services

    services.set_status(services.letter_row("secure-our-socials"), "closed")
    db.session.commit()
    page = client.get("/ar/letters/secure-our-socials/")
    assert page.status_code == 200
    assert "/ar/letters/secure-our-socials/sign" not in page.text
    form = client.get("/ar/letters/secure-our-socials/sign")
    assert form.status_code == 200 and "<form" not in form.text.split("<main", 1)[1]
    posted = client.post("/ar/letters/secure-our-socials/sign", data={"name": "x"})
    assert posted.status_code in (400, 409)


def test_static_assets_are_served(client):
    assert client.get("/static/css/site.css").status_code == 200
    assert client.get("/static/js/exit.js").status_code == 200


def test_stylesheet_uses_logical_properties_only():
    css = re.sub(r"/\*.*?\*/", "", (ROOT / "static" / "css" / "site.css").read_text(), flags=re.S)
    physical = re.findall(r"(?<![-\w])(margin|padding|border)-(left|right)\b|(?<![-\w])(left|right)\s*:|text-align:\s*(left|right)|float:\s*(left|right)", css)
    assert physical == []
