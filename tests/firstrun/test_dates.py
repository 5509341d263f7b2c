"""One date and time format across the console and public pages: Babel's, in the reader's
language and in the time zone of the letter the page is about."""
from __future__ import annotations

import re
from datetime import datetime, timezone

import pytest
from pydantic import ValidationError
from sqlalchemy import select

from petition.audit import AuditEntry
from petition.extensions import db
from petition.letters import services as letters
from petition.letters.schema import LetterMeta
from petition.signing.models import Signature
from tests.console.support import logged_in, make_user
from tests.console.test_console import SLUG, first_signature_id, seed

ISO_LIKE = re.compile(r"\b\d{4}-\d\d-\d\d[ T]\d\d:\d\d")
# 2026-11-29 22:14 UTC is 00:14 on the 30th in Beirut (UTC+2 in winter).
EXPECTED = {"en": "Nov 30, 2026, 00:14", "fr": "30 nov. 2026, 00:14", "ar": "30 نوفمبر 2026، 00:14",
            "el": "30 Νοε 2026, 00:14"}


@pytest.fixture
def beirut_letter(bare_app, monkeypatch):
    import dataclasses

    with bare_app.app_context():
        loaded = letters.loaded(SLUG)
        monkeypatch.setitem(letters.registry(), SLUG, dataclasses.replace(
            loaded, meta=loaded.meta.model_copy(update={"timezone": "Asia/Beirut"})))
    return bare_app


@pytest.mark.parametrize("lang", ["en", "fr", "ar", "el"])
def test_console_pages_show_times_in_the_letters_zone_and_the_readers_language(beirut_letter, lang):
    app = beirut_letter
    seed(app, 10)
    sig_id = first_signature_id(app)
    with app.app_context():
        db.session.get(Signature, sig_id).confirmed_at = datetime(2026, 11, 29, 22, 14, tzinfo=timezone.utc)
        db.session.commit()
    admin = make_user(app, "admin@example.org", role="admin")
    client = logged_in(app.test_client(), app, admin, lang)
    page = client.get(f"/{lang}/console/letters/{SLUG}/signatures/{sig_id}").text
    assert EXPECTED[lang] in page
    for path in (f"/{lang}/console/letters/{SLUG}/", f"/{lang}/console/audit", f"/{lang}/console/users",
                 f"/{lang}/console/letters/{SLUG}/signatures/{sig_id}"):
        text = client.get(path).text
        assert not ISO_LIKE.search(text), (path, ISO_LIKE.search(text))


def test_pages_about_no_letter_use_utc(bare_app):
    seed(bare_app, 1)
    admin = make_user(bare_app, "admin@example.org", role="admin")
    client = logged_in(bare_app.test_client(), bare_app, admin)
    with bare_app.app_context():
        db.session.add(AuditEntry(at=datetime(2026, 11, 29, 22, 14, tzinfo=timezone.utc), actor_label="command line", action="test"))
        db.session.commit()
    assert "Nov 29, 2026, 22:14" in client.get("/en/console/audit").text


def test_a_letter_names_a_real_time_zone():
    base = {"status": "open", "addressees": [{"company": "Meta"}]}
    assert LetterMeta(**base).timezone == "UTC"
    assert LetterMeta(**base, timezone="Asia/Beirut").timezone == "Asia/Beirut"
    for bad in ("Mars/Olympus", "../../etc/passwd", ""):
        with pytest.raises(ValidationError):
            LetterMeta(**base, timezone=bad)
