"""Sign and confirm through the real pages in headless Chromium, JavaScript off, in
English and in Arabic; screenshots of the Arabic letter and confirm pages are kept."""
from __future__ import annotations

import re
import secrets

import pytest

from tests.e2e.layout import overlaps, text_right_aligned
from tests.helpers import plain_body


def individuals(site) -> int:
    """The letter's count as the site publishes it (the API), whatever words a language
    puts around the number on the page."""
    import json
    import urllib.request

    with urllib.request.urlopen(f"{site.base}/api/v1/letters/{SLUG}", timeout=10) as response:
        return json.load(response)["counts"]["individuals"]

SLUG = "secure-our-socials"

PEOPLE = {
    "en": {"name": "Claire Martin", "initials": "C. M.", "affiliation": "Teacher", "country": "FR"},
    "ar": {"name": "ليلى حداد", "initials": "ل. ح.", "affiliation": "صحفية", "country": "LB"},
}


def confirm_url(message, base: str, lang: str) -> str:
    body = plain_body(message)
    match = re.search(rf"({re.escape(base)}/{lang}/confirm/\S+)", body)
    assert match, body
    return match.group(1)


@pytest.mark.parametrize("lang", ["en", "ar"])
def test_sign_and_confirm(site, mail_sink, page, artifacts, lang):
    person = PEOPLE[lang]
    email = f"signer-{secrets.token_hex(4)}@example.org"
    direction = "rtl" if lang == "ar" else "ltr"

    # The letter page, and its "Add your name" link (a plain link: no script needed).
    page.goto(f"{site.base}/{lang}/letters/{SLUG}/")
    assert page.locator("html").get_attribute("lang") == lang
    assert page.locator("html").get_attribute("dir") == direction
    count_before = individuals(site)
    page.locator(f"a.button.primary[href='/{lang}/letters/{SLUG}/sign']").first.click()  # top, middle and end of the letter
    assert page.url.endswith(f"/{lang}/letters/{SLUG}/sign")

    # The form, filled like a person would, sent by the browser's own form submission.
    page.fill("#name", person["name"])
    page.fill("#email", email)
    page.select_option("#country", person["country"])
    page.fill("#affiliation", person["affiliation"])
    page.check("input[name=public_visibility][value=full]")
    page.check("input[name=bundle_visibility][value=named]")
    page.locator("form.sign-form button[type=submit]").click()
    assert page.url.split("#")[0].endswith(  # a redirect keeps the form's #error-summary
        f"/{lang}/letters/{SLUG}/sign/check-your-inbox"), page.url
    assert page.locator("html").get_attribute("dir") == direction

    # The email, delivered over SMTP by the site's sender, in the signer's language.
    message = mail_sink.wait_for_mail_to(email)
    assert message["Content-Language"] == lang
    link = confirm_url(message, site.base, lang)

    # The confirm page shows exactly what each choice would publish.
    page.goto(link)
    assert page.locator("html").get_attribute("dir") == direction
    preview = page.locator("section.preview").inner_text()
    assert person["name"] in preview and person["initials"] in preview
    if lang == "ar":
        page.screenshot(path=str(artifacts / "ar-confirm.png"), full_page=True)
        assert text_right_aligned(page, "main h1")
        assert overlaps(page) == []
    page.locator("form.confirm-form button[type=submit]").click()
    # The answer to confirming shows the one-time withdrawal code.
    assert re.fullmatch(r"[A-Z2-9]{4}(-[A-Z2-9]{4}){3}", page.locator(".withdraw-code code").inner_text())
    if lang == "ar":
        page.screenshot(path=str(artifacts / "ar-confirmed.png"), full_page=True)
        assert overlaps(page) == []

    # Published as chosen once its batch is (here each name is a batch): full name on
    # the letter page, and counted once.
    assert site.flask("signatures", "publish").returncode == 0
    page.goto(f"{site.base}/{lang}/letters/{SLUG}/")
    assert person["name"] in page.locator("section.recent").inner_text()
    assert individuals(site) == count_before + 1
    if lang == "ar":
        page.screenshot(path=str(artifacts / "ar-letter.png"), full_page=True)
        page.screenshot(path=str(artifacts / "ar-letter-top.png"))
        assert text_right_aligned(page, "main h1")
        assert overlaps(page) == []

    # The link is single-use.
    page.goto(link)
    assert person["name"] not in page.content()


def test_form_errors_without_javascript(site, page):
    """Bad input gets a clear, localised error and the page keeps what was typed."""
    page.goto(f"{site.base}/ar/letters/{SLUG}/sign")
    page.fill("#name", "سارة")
    page.fill("#email", "not-an-address")
    page.locator("form.sign-form button[type=submit]").click()
    assert page.url.endswith(f"/ar/letters/{SLUG}/sign#error-summary")  # the summary is in view
    summary = page.locator(".error-summary")
    assert summary.is_visible()
    assert page.locator("#name").input_value() == "سارة"
    assert page.locator("html").get_attribute("dir") == "rtl"
    assert overlaps(page, "main") == []
