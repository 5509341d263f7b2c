"""Preview cards (Open Graph, Twitter Card), the share image (size, type, cache, Arabic,
bands, a missing rasteriser), the count badge and its snippet, the Atom feeds."""
from __future__ import annotations

import io
import xml.etree.ElementTree as ET
from datetime import date

import feedparser
import pytest
from PIL import Image
from sqlalchemy import select, text

from petition.extensions import db
from petition.letters import services, share_image
from petition.letters.models import Milestone, ShareImage
from petition.security.headers import CSP
from tests.growth.support import OTHER, SLUG, meta, set_count, set_goal, sweep, tags
from tests.helpers import LANGS

ATOM = "{http://www.w3.org/2005/Atom}"


def image_rows(app, slug=SLUG) -> dict[str, ShareImage]:
    with app.app_context():
        row = services.letter_row(slug)
        return {i.lang: i for i in db.session.scalars(select(ShareImage).where(ShareImage.letter_id == row.id))}


@pytest.fixture
def rendered(app):
    set_count(app, SLUG, 1234)
    report = sweep(app, images=True)
    assert f"{SLUG}/ar 1000" in report.images and f"{OTHER}/ar 0" in report.images
    return app


@pytest.mark.parametrize("lang", LANGS)
def test_letter_page_has_preview_card_tags(rendered, client, lang):
    html = client.get(f"/{lang}/letters/{SLUG}/").text
    tags_ = meta(html)
    text = services.loaded(SLUG).text_for(lang)
    url = f"http://petition.test/{lang}/letters/{SLUG}/"
    assert tags_["og:title"] == [text.front.title] and tags_["twitter:title"] == [text.front.title]
    assert tags_["og:description"] == [text.front.summary] == tags_["twitter:description"]
    assert tags_["og:url"] == [url]
    assert [attrs["href"] for tag, attrs in tags(html) if tag == "link" and attrs.get("rel") == "canonical"] == [url]
    locales = {"en": "en_GB", "fr": "fr_FR", "ar": "ar_AR", "el": "el_GR"}
    assert tags_["og:locale"] == [locales[lang]]
    assert sorted(tags_["og:locale:alternate"]) == sorted(v for k, v in locales.items() if k != lang)
    assert tags_["twitter:card"] == ["summary_large_image"]
    digest = image_rows(rendered)[text.lang].digest
    assert tags_["og:image"] == [f"http://petition.test/{text.lang}/letters/{SLUG}/share/{digest}.png"] == tags_["twitter:image"]
    assert tags_["og:image:width"] == ["1200"] and tags_["og:image:height"] == ["630"]
    assert tags_["og:image:alt"][0].startswith(text.front.title)


def test_locale_alternates_follow_the_pages_hreflang_alternates(rendered, client):
    html = client.get(f"/en/letters/{OTHER}/").text
    hreflang = {attrs["hreflang"] for tag, attrs in tags(html) if tag == "link" and attrs.get("hreflang")}
    locales = {"en": "en_GB", "fr": "fr_FR", "ar": "ar_AR", "el": "el_GR"}
    assert sorted(meta(html)["og:locale:alternate"]) == sorted(locales[code] for code in hreflang - {"en"})


@pytest.mark.parametrize("lang", LANGS)
def test_home_page_has_preview_card_tags(client, lang):
    html = client.get(f"/{lang}/").text
    tags_ = meta(html)
    assert tags_["og:url"] == [f"http://petition.test/{lang}/"] and tags_["og:type"] == ["website"]
    assert tags_["og:title"][0] and tags_["og:description"][0] and tags_["twitter:card"] == ["summary"]
    assert len(tags_["og:locale:alternate"]) == 3


@pytest.mark.parametrize("lang", ["en", "fr", "ar", "el"])
def test_share_image_is_a_1200_by_630_png_with_a_long_cache_and_no_cookie(rendered, client, lang):
    image = image_rows(rendered)[lang]
    response = client.get(f"/{lang}/letters/{SLUG}/share/{image.digest}.png")
    assert response.status_code == 200 and response.mimetype == "image/png"
    assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert "Set-Cookie" not in response.headers
    assert response.headers["Content-Security-Policy"] == CSP
    picture = Image.open(io.BytesIO(response.data))
    assert picture.format == "PNG" and picture.size == (1200, 630)
    assert image.band == 1000


def test_arabic_image_is_typeset_right_to_left_in_an_arabic_font(rendered):
    """The PDF behind the Arabic image uses the Arabic font (shaped by Pango/HarfBuzz) and
    starts its lines at the right edge; the English one does neither."""
    from pypdf import PdfReader
    from weasyprint import CSS, HTML
    from flask import render_template
    from flask_babel import force_locale

    def pdf(lang):
        letter = services.loaded(SLUG)
        with rendered.test_request_context(), force_locale(lang):
            html = render_template("letters/share_image.html", letter=letter, text=letter.texts[lang], band=1000,
                                   lang=lang, lang_dir="rtl" if lang == "ar" else "ltr", comma=", ")
        return PdfReader(io.BytesIO(HTML(string=html).write_pdf(
            stylesheets=[CSS(string=share_image.CSS_FILE.read_text())])))

    def fonts(reader):
        return {str(f["/BaseFont"]) for f in reader.pages[0]["/Resources"]["/Font"].values()
                for f in [f.get_object()]}

    assert any("Noto-Naskh-Arabic" in f for f in fonts(pdf("ar")))
    assert not any("Arabic" in f for f in fonts(pdf("en")))
    # Right-aligned: the Arabic title's ink is on the right half, the English one's on the left.
    ar = Image.open(io.BytesIO(image_rows(rendered)["ar"].png)).convert("L")
    en = Image.open(io.BytesIO(image_rows(rendered)["en"].png)).convert("L")
    title_band = (0, 130, 1200, 200)
    assert ar.crop(title_band).point(lambda v: 255 if v > 200 else 0).getbbox()[2] > 1100
    assert en.crop(title_band).point(lambda v: 255 if v > 200 else 0).getbbox()[0] < 100


def test_the_image_changes_with_the_band_not_with_each_signature(rendered, client):
    before = image_rows(rendered)["en"].digest
    set_count(rendered, SLUG, 1999)
    assert sweep(rendered, images=True).images == []  # still the 1,000 band: nothing rendered
    set_count(rendered, SLUG, 2000)
    assert sorted(sweep(rendered, images=True).images) == [f"{SLUG}/{lang} 2000" for lang in ["ar", "el", "en", "fr"]]
    after = image_rows(rendered)["en"].digest
    assert after != before
    old = client.get(f"/en/letters/{SLUG}/share/{before}.png")
    assert old.status_code == 302 and old.headers["Location"].endswith(f"/share/{after}.png")
    assert client.get(f"/en/letters/{SLUG}/share/nothing.png").status_code == 302


def test_without_pdftoppm_there_is_no_image_and_no_error(app, client, monkeypatch, caplog):
    monkeypatch.setattr(share_image.shutil, "which", lambda name: None)
    report = sweep(app, images=True)
    assert report.images == [] and "pdftoppm is not installed" in caplog.text
    response = client.get(f"/en/letters/{SLUG}/")
    assert response.status_code == 200
    tags_ = meta(response.text)
    assert "og:image" not in tags_ and tags_["twitter:card"] == ["summary"]
    with app.app_context():
        assert client.get(f"/en/letters/{SLUG}/share/x.png").status_code == 404


# ---- the badge and the snippet ----------------------------------------------------------------

@pytest.mark.parametrize("lang", LANGS)
def test_badge_is_an_svg_with_the_live_count_cached_and_cookieless(app, client, lang):
    set_count(app, SLUG, 4321)
    client.set_cookie("session", "whatever-a-visitor-had", domain="localhost")
    response = client.get(f"/{lang}/letters/{SLUG}/badge.svg")
    assert response.status_code == 200 and response.mimetype == "image/svg+xml"
    assert response.headers["Cache-Control"] == "public, max-age=300"
    assert "Set-Cookie" not in response.headers
    # Another site may show it in an <img>; it may not frame or script anything.
    assert response.headers["Cross-Origin-Resource-Policy"] == "cross-origin"
    assert response.headers["Content-Security-Policy"] == CSP
    svg = ET.fromstring(response.data)
    assert svg.tag == "{http://www.w3.org/2000/svg}svg"
    texts = "".join(svg.itertext())
    assert any(number in texts for number in ("4,321", "4.321", "4\u202f321", "4 321", "٤٬٣٢١", "4321"))
    assert not [el for el in svg.iter() if el.tag.endswith(("script", "image", "foreignObject"))]
    assert not any("href" in key for el in svg.iter() for key in el.attrib)
    if lang == "ar":
        assert 'direction="rtl"' in response.text


def test_badge_of_a_draft_or_unknown_letter_is_404(app, client):
    with app.app_context():
        services.letter_row(SLUG).status = "draft"
        db.session.commit()
        services.forget_rows()
    assert client.get(f"/en/letters/{SLUG}/badge.svg").status_code == 404
    assert client.get("/en/letters/nope/badge.svg").status_code == 404


def test_snippet_on_the_letter_page_is_a_link_around_the_badge_and_no_script(client):
    html = client.get(f"/en/letters/{SLUG}/").text
    [area] = [attrs for tag, attrs in tags(html) if tag == "textarea" and "embed-code" in attrs.get("class", "")]
    snippet = html.split('class="embed-code"', 1)[1].split(">", 1)[1].split("</textarea>", 1)[0]
    import html as html_lib

    code = html_lib.unescape(snippet)
    assert code.startswith(f'<a href="http://petition.test/en/letters/{SLUG}/"><img src="http://petition.test/en/letters/{SLUG}/badge.svg"')
    assert "<script" not in code and "<iframe" not in code and code.endswith("></a>")


def test_snippet_in_the_console(app):
    from tests.console.support import logged_in, make_user

    lead = make_user(app, "lead@example.org", slugs=(SLUG,))
    client = logged_in(app.test_client(), app, lead)
    html = client.get(f"/en/console/letters/{SLUG}/").text
    assert "embed-code" in html and f"/en/letters/{SLUG}/badge.svg" in html


# ---- Atom feeds --------------------------------------------------------------------------------

def assert_valid_atom(data: bytes) -> ET.Element:
    parsed = feedparser.parse(data)
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.version == "atom10"
    root = ET.fromstring(data)
    assert root.tag == f"{ATOM}feed"
    for name in ("id", "title", "updated"):
        assert root.find(f"{ATOM}{name}") is not None and root.find(f"{ATOM}{name}").text
    assert root.find(f"{ATOM}author/{ATOM}name").text
    assert root.find(f"{ATOM}link[@rel='self']") is not None
    ids = []
    for entry in root.findall(f"{ATOM}entry"):
        for name in ("id", "title", "updated"):
            assert entry.find(f"{ATOM}{name}").text, name
        assert entry.find(f"{ATOM}link[@rel='alternate']").get("href").startswith("http://petition.test/")
        ids.append(entry.find(f"{ATOM}id").text)
    assert len(ids) == len(set(ids))
    return root


def test_letter_feed_has_milestones_published_updates_and_deliveries(app, client, tmp_path):
    from petition.bundles import signing_keys
    from petition.updates import services as updates
    from tests.deliveries.conftest import build_bundle

    config = app.config["PETITION"]
    config.BUNDLE_PKCS12_PATH, config.BUNDLE_WORKERS = str(tmp_path / "keys" / "signing.p12"), 0
    signing_keys.init_keys(config, "Test campaign signer", "Test campaign")

    set_goal(app, SLUG, 10)
    set_count(app, SLUG, 12)
    sweep(app)
    with app.app_context():
        row = services.letter_row(SLUG)
        updates.request_send(db.session, row, None, updates.Update("Meta answered", "Public <news> & more"), publish=True)
        updates.request_send(db.session, row, None, updates.Update("Secret meeting", "Only for signers"))
        db.session.commit()
    bundle = build_bundle(app, SLUG, built_on=date(2026, 2, 27))
    recorded = app.test_cli_runner().invoke(args=["deliveries", "record", SLUG, "--company", "Meta",
                                                  "--bundle", bundle.id, "--on", "2026-03-01"])
    assert recorded.exit_code == 0, recorded.output
    response = client.get(f"/ar/letters/{SLUG}/feed.atom")
    assert response.status_code == 200 and response.mimetype == "application/atom+xml"
    assert "Set-Cookie" not in response.headers and response.headers["Cache-Control"] == "public, max-age=300"
    root = assert_valid_atom(response.data)
    titles = [e.find(f"{ATOM}title").text for e in root.findall(f"{ATOM}entry")]
    assert "Meta answered" in titles
    assert any("Meta" in t and t != "Meta answered" for t in titles)  # the delivery
    assert any("10" in t for t in titles)  # the milestone
    body = response.get_data(as_text=True)
    assert "Public &lt;news&gt; &amp; more" in body
    # Not published by the lead: nowhere in public.
    assert "Secret meeting" not in body and "Only for signers" not in body
    assert "Secret meeting" not in client.get("/en/feed.atom").get_data(as_text=True)
    assert root.get("{http://www.w3.org/XML/1998/namespace}lang") == "ar"


def test_site_feed_lists_every_public_letter(app, client):
    for lang in LANGS:
        root = assert_valid_atom(client.get(f"/{lang}/feed.atom").data)
        ids = [e.find(f"{ATOM}id").text for e in root.findall(f"{ATOM}entry")]
        assert f"tag:petition.test,2024:{SLUG}/letter" in ids and f"tag:petition.test,2024:{OTHER}/letter" in ids
    with app.app_context():
        services.letter_row(OTHER).status = "draft"
        db.session.commit()
        services.forget_rows()
    assert OTHER not in client.get("/en/feed.atom").get_data(as_text=True)
    assert client.get(f"/en/letters/{OTHER}/feed.atom").status_code == 404


def test_feed_entries_keep_their_ids(app, client):
    set_goal(app, SLUG, 10)
    set_count(app, SLUG, 12)
    sweep(app)
    first = client.get(f"/en/letters/{SLUG}/feed.atom").data
    assert first == client.get(f"/en/letters/{SLUG}/feed.atom").data
    with app.app_context():
        assert db.session.scalar(select(Milestone.goal)) == 10


def test_feeds_badge_and_milestone_show_no_signer(app, client):
    """A stranger reading every public artefact of this issue learns nothing about who signed."""
    from tests.helpers import confirm_from_mail, sign_letter

    assert sign_letter(client, SLUG, "en", name="Nour Khalil", email="nour.khalil@example.org",
                       updates="y").status_code == 303
    assert confirm_from_mail(client, app, updates="y").status_code == 200
    set_goal(app, SLUG, 1)
    sweep(app, images=True)
    for path in (f"/en/letters/{SLUG}/feed.atom", "/en/feed.atom", f"/en/letters/{SLUG}/badge.svg",
                 f"/en/letters/{SLUG}/poster"):
        body = client.get(path).get_data(as_text=True)
        assert "Nour" not in body and "Khalil" not in body and "nour.khalil" not in body, path


def test_a_new_layout_or_translation_renders_the_image_again(rendered, monkeypatch):
    assert sweep(rendered, images=True).images == []  # nothing changed
    real = share_image.CSS_FILE.read_text(encoding="utf-8")
    monkeypatch.setattr(share_image, "CSS_FILE", type("F", (), {"read_text": lambda self, encoding=None: real + "\n/* v2 */"})())
    assert len(sweep(rendered, images=True).images) == 7  # every letter and language


def test_a_signer_writing_while_the_images_render_does_not_fail_the_sweep(app, monkeypatch):
    """Rendering takes seconds while signers keep writing. On SQLite a read transaction
    held across the render could not write the images afterwards ("database is locked",
    its snapshot stale): the sweep must not hold one."""
    real_render = share_image.render_png

    def render_while_someone_writes(html: str) -> bytes:
        with db.engine.begin() as other:  # another connection: a signer's request meanwhile
            other.execute(text("UPDATE signature_counters SET confirmed = confirmed + 1 WHERE shard = 0"))
        return real_render(html)

    monkeypatch.setattr(share_image, "render_png", render_while_someone_writes)
    report = sweep(app, images=True)
    assert {f"{SLUG}/{lang} 0" for lang in LANGS} <= set(report.images)
    assert set(image_rows(app)) == set(LANGS)
