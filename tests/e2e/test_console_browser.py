"""An organisation co-signs through the real pages; a campaign lead logs in with a
password and a TOTP code and approves it; the letter then lists it. JavaScript off."""
from __future__ import annotations

import re
import secrets

import pyotp

from tests.e2e.layout import overlaps
from tests.helpers import plain_body

SLUG = "secure-our-socials"


def link_in(message, base: str, kind: str) -> str:
    body = plain_body(message)
    match = re.search(rf"({re.escape(base)}/[a-z]{{2}}/{kind}/\S+)", body)
    assert match, body
    return match.group(1)


def create_lead(site, email: str, password: str) -> str:
    done = site.flask("users", "create", "--email", email, "--name", "Lead Tester", "--role", "lead",
                      "--letter", SLUG, "--password-stdin", input=password + "\n")
    assert done.returncode == 0, done.stderr
    return re.search(r"secret:\s+([A-Z2-7]+)", done.stdout).group(1)


def test_organisation_signs_and_lead_approves(site, mail_sink, page, browser, artifacts):
    org_name = f"Damj Test Collective {secrets.token_hex(2)}"
    contact = f"contact-{secrets.token_hex(4)}@collective.example"

    # The organisation's form, reached from the letter page.
    page.goto(f"{site.base}/en/letters/{SLUG}/")
    page.locator(f"a.button[href='/en/letters/{SLUG}/organisations/sign']").first.click()  # top, middle and end of the letter
    page.fill("#name", org_name)
    page.select_option("#country", "LB")
    page.fill("#website", "https://collective.example")
    page.fill("#contact_name", "Karim Nasser")
    page.fill("#contact_email", contact)
    page.fill("#statement", "We stand with the signers of this letter.")
    page.locator("form.org-form button[type=submit]").click()
    assert page.url.split("#")[0].endswith(f"/en/letters/{SLUG}/organisations/check-your-inbox"), page.url

    # The contact confirms from the email.
    message = mail_sink.wait_for_mail_to(contact)
    page.goto(link_in(message, site.base, "organisations/confirm"))
    assert org_name in page.content()
    page.locator("main form button[type=submit]").first.click()
    # The answer to confirming shows the organisation's one-time withdrawal code.
    assert re.fullmatch(r"[A-Z2-9]{4}(-[A-Z2-9]{4}){3}", page.locator(".withdraw-code code").inner_text())
    # Not public before a lead approves it.
    page.goto(f"{site.base}/en/letters/{SLUG}/")
    assert org_name not in page.locator("section.signatories").inner_text()

    # A lead logs in: password, then the code from their authenticator.
    lead_email = f"lead-{secrets.token_hex(3)}@example.org"
    password = "correct horse battery staple " + secrets.token_hex(4)
    secret = create_lead(site, lead_email, password)
    lead = browser.new_context(java_script_enabled=False, locale="en-GB").new_page()
    try:
        lead.goto(f"{site.base}/en/console/login")
        lead.fill("#email", lead_email)
        lead.fill("#password", "not the password")
        lead.locator("form.console-form button[type=submit]").click()
        assert "/console/login" in lead.url and "totp" not in lead.url  # refused, same words for every cause
        lead.fill("#email", lead_email)
        lead.fill("#password", password)
        lead.locator("form.console-form button[type=submit]").click()
        assert lead.url.split("#")[0].endswith("/en/console/login/totp"), lead.url
        lead.fill("#code", pyotp.TOTP(secret).now())
        lead.locator("form.console-form button[type=submit]").click()
        assert lead.url.split("#")[0].endswith("/en/console/"), lead.url

        # Approve the organisation.
        lead.goto(f"{site.base}/en/console/letters/{SLUG}/organisations")
        request = lead.locator("article.org-request", has_text=org_name)
        assert request.count() == 1
        assert contact in request.inner_text()  # the lead sees the contact to check it
        with lead.expect_navigation():
            request.locator("form.inline-form button[type=submit]").click()
        # Approving is irreversible: a confirmation page of its own, without JavaScript.
        assert lead.locator("section.confirm h1").count() == 1
        with lead.expect_response(lambda r: r.url.endswith("/approve")) as approval:
            with lead.expect_navigation():
                lead.locator("section.confirm button[type=submit]").click()
        assert approval.value.status == 303, approval.value.status
        assert lead.url.split("#")[0].endswith(f"/en/console/letters/{SLUG}/organisations"), lead.url
        assert lead.locator("article.org-request", has_text=org_name).count() == 0
        assert org_name in lead.content()
        assert overlaps(lead, "main") == []
    finally:
        lead.context.close()

    # Public now, without the contact's details.
    page.goto(f"{site.base}/ar/letters/{SLUG}/")
    signatories = page.locator("section.signatories").inner_text()
    assert org_name in signatories
    assert contact not in page.content() and "Karim Nasser" not in page.content()


def test_console_login_in_arabic_reads_right_to_left(site, page, artifacts):
    page.goto(f"{site.base}/ar/console/login")
    assert page.locator("html").get_attribute("dir") == "rtl"
    assert page.locator("#email").get_attribute("dir") == "ltr"  # addresses stay left to right
    page.screenshot(path=str(artifacts / "ar-console-login.png"), full_page=True)
    assert overlaps(page) == []
