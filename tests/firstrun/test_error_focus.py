"""After a refused form, the error summary is the page's landing point: every form that can
show one posts to …#error-summary (no JavaScript needed), the summary is that target and
can take focus, and the site script focuses it."""
from __future__ import annotations

import re

import pytest

from petition.config import ROOT
from tests.bundles.test_web import login as console_login
from tests.helpers import LANGS, csrf_token

SUMMARY = re.compile(r'<div class="error-summary" id="error-summary" role="alert" tabindex="-1"')


def form_actions(page: str) -> list[str]:
    return re.findall(r'<form method="post" action="([^"]+)"', page)


def assert_lands_on_summary(response, action_path: str):
    assert response.status_code == 400
    assert SUMMARY.search(response.text), response.text[:2000]
    assert f"{action_path}#error-summary" in form_actions(response.text)
    assert 'src="/static/js/site.js"' in response.text


@pytest.mark.parametrize("lang", LANGS)
def test_signing_form(client, lang):
    path = f"/{lang}/letters/secure-our-socials/sign"
    page = client.get(path)
    assert f"{path}#error-summary" in form_actions(page.text)
    assert not SUMMARY.search(page.text)  # no summary before anything was sent
    refused = client.post(path, data={"csrf_token": csrf_token(page.text), "name": "", "email": "not-an-address"})
    assert_lands_on_summary(refused, path)


@pytest.mark.parametrize("lang", ["en", "ar"])
def test_organisation_form(client, lang):
    path = f"/{lang}/letters/secure-our-socials/organisations/sign"
    page = client.get(path)
    if page.status_code == 404:
        pytest.skip("no organisation form at this address")
    refused = client.post(path, data={"csrf_token": csrf_token(page.text)})
    assert_lands_on_summary(refused, path)


@pytest.mark.parametrize("lang", ["en", "ar"])
def test_receipt_form(client, lang):
    path = f"/{lang}/receipt"
    page = client.get(path)
    refused = client.post(path, data={"csrf_token": csrf_token(page.text), "code": ""})
    assert_lands_on_summary(refused, path)


@pytest.mark.parametrize("lang", ["en", "ar"])
def test_console_login_form(app, client, lang):
    path = f"/{lang}/console/login"
    page = client.get(path)
    refused = client.post(path, data={"csrf_token": csrf_token(page.text), "email": "", "password": ""})
    assert_lands_on_summary(refused, path)


@pytest.mark.parametrize("lang", ["en", "ar"])
def test_console_update_form(app, client, lang):
    console_login(client, app)
    updates = f"/{lang}/console/letters/secure-our-socials/updates"
    page = client.get(updates)
    refused = client.post(updates, data={"csrf_token": csrf_token(page.text), "subject": "", "body": ""})
    assert_lands_on_summary(refused, updates)


def test_site_script_focuses_the_summary_and_nothing_else():
    script = (ROOT / "static" / "js" / "site.js").read_text()
    assert 'getElementById("error-summary")' in script and ".focus()" in script
    assert "innerHTML" not in script and "fetch(" not in script
