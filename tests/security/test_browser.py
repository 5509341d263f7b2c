"""In Debian's Chromium: the honeypot is invisible and out of the tab order, a person who
takes a moment signs normally with JavaScript off, and "Exit this page" leaves at once,
by the link without JavaScript and by Escape pressed three times with it."""
from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import free_port
from tests.production.servers import BIN, ROOT, app_env, start_gunicorn

pytestmark = pytest.mark.e2e

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]
SLUG = "secure-our-socials"


@pytest.fixture(scope="module")
def browser():
    if not shutil.which(CHROMIUM) and not Path(CHROMIUM).exists():
        pytest.skip(f"Chromium is not installed at {CHROMIUM}")
    api = pytest.importorskip("playwright.sync_api")
    with api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("security-browser")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = app_env(f"sqlite:///{tmp / 'site.db'}", tmp, PUBLIC_URL=base, MIN_FILL_SECONDS="5",
                  RATELIMIT_ENABLED="0", EXIT_URL=f"{base}/healthz")
    upgrade = subprocess.run([str(BIN / "flask"), "--app", "wsgi", "db", "upgrade"], cwd=ROOT, env=env,
                             capture_output=True, text=True, timeout=120)
    assert upgrade.returncode == 0, upgrade.stderr
    server = start_gunicorn(env, tmp, "security-web", port=port)
    yield server, env
    server.stop()


def _queued(env) -> int:
    """Sign requests filed: the web request files one, the mail comes later from the intake."""
    result = subprocess.run(
        [str(BIN / "python"), "-c",
         "from petition import create_app; from petition.extensions import db; "
         "from petition.signing.models import SignRequest; app = create_app(); ctx = app.app_context(); ctx.push(); "
         "print(db.session.query(SignRequest).count())"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return int(result.stdout.strip().splitlines()[-1])


def test_honeypot_is_invisible_untabbable_and_a_person_signs(browser, site):
    server, env = site
    context = browser.new_context(java_script_enabled=False, locale="ar")
    page = context.new_page()
    page.goto(f"{server.base}/ar/letters/{SLUG}/sign")
    # Clipped away by .visually-hidden: nothing of it can be seen or clicked.
    wrapper = page.locator("div.visually-hidden:has(#homepage)").bounding_box()
    assert wrapper["width"] <= 1 and wrapper["height"] <= 1
    box = page.locator("#homepage").bounding_box()
    hit = page.evaluate("([x, y]) => { const e = document.elementFromPoint(x, y); return e && e.id; }",
                        [box["x"] + box["width"] / 2, box["y"] + box["height"] / 2])
    assert hit != "homepage"
    assert page.locator("label[for=homepage]").text_content().strip()  # still has an accessible name
    # Walking the form with the keyboard never lands on the honeypot.
    page.locator("#name").focus()
    for _ in range(25):
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement && document.activeElement.id") != "homepage"

    before = _queued(env)
    page.fill("#name", "سارة أحمد")
    page.fill("#email", "sara.browser@example.org")
    page.select_option("#country", "JO")
    time.sleep(5.2)  # a person takes longer than MIN_FILL_SECONDS (5 s here: robust on a busy machine)
    page.locator("form.sign-form button[type=submit]").click()
    page.wait_for_url(f"**/ar/letters/{SLUG}/sign/check-your-inbox*")  # the form's #error-summary fragment carries over the redirect
    assert _queued(env) == before + 1
    context.close()


def test_a_form_sent_too_fast_is_dropped_but_looks_the_same(browser, site):
    server, env = site
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(f"{server.base}/en/letters/{SLUG}/sign")
    before = _queued(env)
    page.fill("#name", "Fast Script")
    page.fill("#email", "fast.script@example.org")
    page.select_option("#country", "ZZ")
    page.locator("form.sign-form button[type=submit]").click()  # at once
    page.wait_for_url(f"**/en/letters/{SLUG}/sign/check-your-inbox*")
    assert _queued(env) == before
    context.close()


def test_exit_link_without_javascript(browser, site):
    server, _env = site
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(f"{server.base}/en/letters/{SLUG}/")
    page.locator("#exit-this-page").click()
    page.wait_for_url(f"{server.base}/healthz")
    context.close()


@pytest.mark.parametrize("lang", ["en", "ar"])
def test_escape_three_times_leaves_and_replaces_the_history_entry(browser, site, lang):
    server, _env = site
    context = browser.new_context(java_script_enabled=True)
    page = context.new_page()
    page.goto(f"{server.base}/{lang}/")
    page.goto(f"{server.base}/{lang}/letters/{SLUG}/sign")
    for _ in range(3):
        page.keyboard.press("Escape")
    page.wait_for_url(f"{server.base}/healthz")
    # location.replace: "back" does not return to the sign page.
    page.go_back()
    assert "/sign" not in page.url
    context.close()


def test_two_escapes_do_not_leave(browser, site):
    server, _env = site
    context = browser.new_context(java_script_enabled=True)
    page = context.new_page()
    page.goto(f"{server.base}/en/about")
    page.keyboard.press("Escape")
    page.keyboard.press("Escape")
    time.sleep(0.3)
    assert page.url.endswith("/en/about")
    context.close()
