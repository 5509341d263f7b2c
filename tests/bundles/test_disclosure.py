"""disclosure.printed(): the one rule for what the bundle prints for a signer, which the
confirm page's preview calls too; the bundle's rows must be exactly its output."""
from __future__ import annotations

import pytest

from petition.bundles import disclosure
from petition.extensions import db
from petition.letters import services as letters
from tests.bundles.conftest import add_signature, pdf_text, squash


def test_each_choice():
    assert disclosure.printed("Amal Haddad", "Journalist", "full", "named", "LB", "en") == \
        disclosure.Printed("Amal Haddad", "Journalist", "Lebanon")
    # initials, and no affiliation beside them
    assert disclosure.printed("Karim Mansour", "Secret Ministry", "initials", "named", "JO", "en") == \
        disclosure.Printed("K. M.", "", "Jordan")
    # named in the bundle only: the name, without affiliation
    assert disclosure.printed("Claire Dubois", "Employer", "none", "named", "FR", "fr") == \
        disclosure.Printed("Claire Dubois", "", "France")
    assert disclosure.printed("Omar Saleh", "X", "full", "counted", "EG", "en") is None
    assert disclosure.printed("Omar Saleh", None, "full", "named", "ZZ", "en").country == ""
    assert disclosure.printed("سارة خليل", None, "full", "named", "LB", "ar").country == "لبنان"


def test_preview_gives_the_country_the_bundle_adds():
    shown = disclosure.preview("Amal Haddad", "Journalist", "LB", "fr")
    assert shown["full"] == disclosure.Printed("Amal Haddad", "Journalist", "Liban")
    assert shown["initials"] == disclosure.Printed("A. H.", "", "Liban")
    assert shown["none"] == disclosure.Printed("Amal Haddad", "", "Liban")


@pytest.mark.parametrize("lang", ["fr", "ar"])
def test_the_bundle_prints_exactly_what_the_preview_shows(bundle_app, lang):
    from petition.bundles import services

    people = [("Amal Haddad", "Journalist", "full", "LB"), ("Karim Mansour", "Secret Ministry", "initials", "JO"),
              ("Claire Dubois", "Hidden Employer", "none", "FR")]
    for name, affiliation, public, country in people:
        add_signature(name, public=public, affiliation=affiliation, country=country)
    built = services.build(db.session, letters.letter_row("secure-our-socials"), lang)
    db.session.commit()
    annex = squash(" ".join(p for p in pdf_text(built.pdf) if "Amal" in p or "K. M." in p))
    for name, affiliation, public, country in people:
        line = disclosure.preview(name, affiliation, country, lang)[public]
        assert line.name in annex and line.country in annex
        if line.affiliation:
            assert line.affiliation in annex
        else:
            assert affiliation not in annex
    assert "Karim" not in annex and "Mansour" not in annex
