"""The error summary is where a refused form lands: in view without JavaScript (the form
posts to …#error-summary), focused with it (static/js/site.js)."""
from __future__ import annotations

import pytest

SLUG = "secure-our-socials"


def submit_bad_form(page, base: str, lang: str) -> None:
    page.goto(f"{base}/{lang}/letters/{SLUG}/sign")
    page.fill("#email", "not-an-address")
    page.locator("form.sign-form button[type=submit]").click()
    page.wait_for_load_state()


def summary_in_view(page) -> bool:
    return page.evaluate("""() => {
        const box = document.getElementById("error-summary").getBoundingClientRect();
        return box.top > -2 && box.top < window.innerHeight;  // scrolled to, give or take a sub-pixel
    }""")


@pytest.mark.parametrize("lang", ["en", "ar"])
def test_summary_in_view_without_javascript(site, page, lang):
    page.set_viewport_size({"width": 390, "height": 700})
    submit_bad_form(page, site.base, lang)
    assert page.url.endswith("#error-summary")
    assert summary_in_view(page)


@pytest.mark.parametrize("lang", ["en", "ar"])
def test_summary_focused_with_javascript(site, browser, lang):
    context = browser.new_context(java_script_enabled=True, viewport={"width": 390, "height": 700})
    page = context.new_page()
    try:
        submit_bad_form(page, site.base, lang)
        page.wait_for_function("() => document.activeElement && document.activeElement.id === 'error-summary'")
        assert summary_in_view(page)
        # Tab goes on to the summary's first link, which leads to the field
        page.keyboard.press("Tab")
        assert page.evaluate("() => document.activeElement.closest('#error-summary') !== null")
    finally:
        context.close()


@pytest.mark.parametrize("lang", ["en", "ar"])
@pytest.mark.parametrize("width", [1280, 390])
def test_console_header_and_body_share_one_width(site, page, lang, width):
    page.set_viewport_size({"width": width, "height": 800})
    page.goto(f"{site.base}/{lang}/console/login")
    boxes = [page.locator(selector).bounding_box() for selector in (".site-header .wrap", "main", ".site-footer .wrap")]
    assert {round(b["x"]) for b in boxes} == {round(boxes[0]["x"])}
    assert {round(b["width"]) for b in boxes} == {round(boxes[0]["width"])}
    if width == 1280:
        assert boxes[0]["width"] > 1000  # the console's width, not the reading measure
