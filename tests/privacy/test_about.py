"""The about & privacy page states the privacy operations, limits and retention, in
each language, with the numbers the site is actually configured with."""
from __future__ import annotations

import re

import pytest
from flask_babel import force_locale, gettext, ngettext
from markupsafe import escape

from tests.helpers import LANGS


def in_catalogue(app, lang: str, message: str, plural: str | None = None, num: int | None = None) -> str:
    with app.test_request_context(f"/{lang}/"), force_locale(lang):
        return str(escape(ngettext(message, plural, num) if plural else gettext(message)))


@pytest.mark.parametrize("lang", LANGS)
def test_about_page_states_limits_retention_and_requests(make_app, lang):
    app = make_app(TOKEN_MAX_AGE_DAYS=5, MAIL_PER_ADDRESS_PER_DAY=2)
    page = app.test_client().get(f"/{lang}/about")
    assert page.status_code == 200
    html = page.text
    assert f'<html lang="{lang}"' in html
    for section in ("stored-heading", "retention-heading", "control-heading", "abuse-heading", "safety-heading"):
        assert f'id="{section}"' in html
    assert in_catalogue(app, lang, "Unconfirmed requests are deleted after %(num)s day, when their confirmation link stops working.",
                        "Unconfirmed requests are deleted after %(num)s days, when their confirmation link stops working.", 5) in html
    assert in_catalogue(app, lang, "However often an email address is entered, in whatever spelling and on either form, its mailbox receives at most %(num)s email about a letter per day, and our emails never repeat words typed by whoever entered it.",
                        "However often an email address is entered, in whatever spelling and on either form, its mailbox receives at most %(num)s emails about a letter per day, and our emails never repeat words typed by whoever entered it.", 2) in html
    for message in (
        "After this deletion we can no longer tell which signature was yours, so the withdrawal link in your emails stops working. If you chose to be listed and want your name taken off the public list after that, write to the campaign team.",
        "You may ask the campaign team for a copy of everything we hold about your email address, on every letter, or for all of it to be deleted at once. Deletion removes your signatures from the counts and from the public lists.",
        "If a letter suddenly receives a flood of requests, nobody is turned away: every request is kept, and the confirmation emails go out at a steady pace, so some people wait a few minutes for theirs. Confirming a signature from the email is never slowed down.",
        "The “Exit this page” link at the top takes you to a neutral site at once. With JavaScript on, pressing Escape three times does the same.",
    ):
        assert in_catalogue(app, lang, message) in html
    # Each public letter's retention period, in days.
    assert len(re.findall(r"<li><span dir=\"auto\">", html)) >= 2
    assert "180" in html
