"""petition.disclosure's rules one by one: what the public list and the bundle show for a
signer, the confirm page's preview, the export row, the grouping of small countries;
and the bundle's rows must be exactly printed()'s output."""
from __future__ import annotations

from datetime import datetime

import pytest

from petition import disclosure
from petition.bundles import services
from petition.extensions import db
from petition.letters import services as letters
from tests.bundles.conftest import add_signature, bundle_app, pdf_text, squash  # noqa: F401 (bundle_app: a fixture)


def test_each_choice():
    assert disclosure.printed("Amal Haddad", "Journalist", "full", "named", "LB", "en") == \
        disclosure.Shown("Amal Haddad", "Journalist", "Lebanon")
    # initials, and no affiliation beside them
    assert disclosure.printed("Karim Mansour", "Secret Ministry", "initials", "named", "JO", "en") == \
        disclosure.Shown("K. M.", "", "Jordan")
    # named in the bundle only: the name, without affiliation
    assert disclosure.printed("Claire Dubois", "Employer", "none", "named", "FR", "fr") == \
        disclosure.Shown("Claire Dubois", "", "France")
    assert disclosure.printed("Omar Saleh", "X", "full", "counted", "EG", "en") is None
    assert disclosure.printed("Omar Saleh", None, "full", "named", "ZZ", "en").country == ""
    assert disclosure.printed("سارة خليل", None, "full", "named", "LB", "ar").country == "لبنان"


def test_the_public_list_shows_the_chosen_fields():
    assert disclosure.listed("Amal Haddad", "Journalist", "full") == ("Amal Haddad", "Journalist")
    assert disclosure.listed("Amal Haddad", "", "full") == ("Amal Haddad", None)
    assert disclosure.listed("Karim Mansour", "Secret Ministry", "initials") == ("K. M.", None)
    assert disclosure.listed("Claire Dubois", "Employer", "none") == (None, None)


def test_preview_gives_the_country_the_bundle_adds():
    shown = disclosure.preview("Amal Haddad", "Journalist", "LB", "fr")
    assert shown["bundle"]["full"] == disclosure.Shown("Amal Haddad", "Journalist", "Liban")
    assert shown["bundle"]["initials"] == disclosure.Shown("A. H.", "", "Liban")
    assert shown["bundle"]["none"] == disclosure.Shown("Amal Haddad", "", "Liban")
    assert shown["public"] == {"full": disclosure.Shown("Amal Haddad", "Journalist", "Liban"),
                               "initials": disclosure.Shown("A. H.", "", "Liban"), "none": None}


def test_the_export_row_holds_the_stored_public_fields_only():
    assert disclosure.exported("K. M.", None, "JO", datetime(2024, 5, 1, 13, 5)) == ("K. M.", "", "JO", "2024-05-01")
    assert disclosure.exported("Amal Haddad", "Journalist", "ZZ", None) == ("Amal Haddad", "Journalist", "", "")


def test_group_small_counts_buckets_countries_under_the_threshold():
    counts = {"LB": 120, "FR": 5, "GR": 4, "JO": 1, "ZZ": 3, "EG": 0}
    assert disclosure.SMALL_GROUP == 5
    assert disclosure.group_small_counts(counts) == [("LB", 120), ("FR", 5), ("other", 8)]
    assert disclosure.group_small_counts(counts, threshold=2) == [("LB", 120), ("FR", 5), ("GR", 4), ("ZZ", 3),
                                                                  ("other", 1)]
    assert disclosure.group_small_counts({}) == []
    assert disclosure.group_small_counts({"LB": 10, "FR": 10}) == [("FR", 10), ("LB", 10)]
    # No single small country can be read off the result.
    grouped = dict(disclosure.group_small_counts({"LB": 50, "IR": 1}))
    assert "IR" not in grouped and grouped["other"] == 1


@pytest.mark.parametrize("lang", ["fr", "ar"])
def test_the_bundle_prints_exactly_what_the_preview_shows(bundle_app, lang):
    people = [("Amal Haddad", "Journalist", "full", "LB"), ("Karim Mansour", "Secret Ministry", "initials", "JO"),
              ("Claire Dubois", "Hidden Employer", "none", "FR")]
    for name, affiliation, public, country in people:
        add_signature(name, public=public, affiliation=affiliation, country=country)
    built = services.build(db.session, letters.letter_row("secure-our-socials"), lang)
    db.session.commit()
    annex = squash(" ".join(p for p in pdf_text(built.pdf) if "Amal" in p or "K. M." in p))
    for name, affiliation, public, country in people:
        line = disclosure.preview(name, affiliation, country, lang)["bundle"][public]
        assert line.name in annex and line.country in annex
        if line.affiliation:
            assert line.affiliation in annex
        else:
            assert affiliation not in annex
    assert "Karim" not in annex and "Mansour" not in annex
