"""Every visibility choice in every place, through the real pages and builds.

Six signers, one per (public_visibility, bundle_visibility) pair, each with a name, an
affiliation and a country of their own, sign through the form, confirm through the
confirm page and are published; then every place that can show a signer is read as
its audience reads it: the confirm page's preview, the public list, the letter page,
the API, the feeds, the console's CSV export and the delivered bundle (spool and annex,
as PDF text). The table below says, independently of petition.disclosure, what each
place may show of each signer; each test fails if a place shows more (or less).
"""
from __future__ import annotations

import csv
import html
import io
import re
from dataclasses import dataclass

import pytest

from petition import create_app
from petition.bundles import services as bundles, signing_keys
from petition.extensions import db
from petition.letters import services as letters
from tests.bundles.conftest import pdf_text, squash
from tests.console.support import logged_in, make_user
from tests.helpers import csrf_token, form_values, links_in, make_config, outbox_messages, publish_names, reset_database, sign_letter

SLUG = "secure-our-socials"


@dataclass(frozen=True)
class Person:
    public: str
    bundle: str
    name: str
    initials: str
    affiliation: str
    country: str  # code
    country_name: str  # in English, the language every place is read in here

    @property
    def email(self) -> str:
        return f"{self.public}.{self.bundle}@example.org"


PEOPLE = [
    Person("full", "named", "Amal Haddad", "A. H.", "Alpha Radio Newsroom", "IS", "Iceland"),
    Person("full", "counted", "Basil Fakhoury", "B. F.", "Bravo Dockworkers Union", "NO", "Norway"),
    Person("initials", "named", "Chadi Ghanem", "C. G.", "Charlie Ministry Archive", "PT", "Portugal"),
    Person("initials", "counted", "Dalia Ishak", "D. I.", "Delta Hospital Ward", "CL", "Chile"),
    Person("none", "named", "Elias Jaber", "E. J.", "Echo Party Office", "NZ", "New Zealand"),
    Person("none", "counted", "Farah Khoury", "F. K.", "Foxtrot Bank Audit", "UY", "Uruguay"),
]

# What each place may show of a signer: a subset of name, initials, affiliation, country.
# The public list and the export follow the public choice; the bundle follows "name me"
# (the name, or the initials of a signer who shows only initials publicly, and the
# affiliation only beside a name that is public too); the API and the feeds name nobody.
PUBLIC_LIST = {"full": {"name", "affiliation", "country"}, "initials": {"initials", "country"}, "none": set()}
BUNDLE = {"full": {"name", "affiliation", "country"}, "initials": {"initials", "country"}, "none": {"name", "country"}}


def expected(place: str, person: Person) -> set[str]:
    if place in ("public list", "letter page", "export"):
        return PUBLIC_LIST[person.public]
    if place == "bundle":
        return BUNDLE[person.public] if person.bundle == "named" else set()
    return set()  # api, feeds


def _preview_line(person: Person, shown: set[str]) -> str:
    """The confirm page's words for a line showing `shown` of the person."""
    text = person.name if "name" in shown else person.initials
    if "affiliation" in shown:
        text += f", {person.affiliation}"
    return f"{text} · {person.country_name}"


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """Sign, confirm and publish the six people, then read every place once."""
    tmp = tmp_path_factory.mktemp("disclosure")
    app = create_app(make_config(tmp, BUNDLE_PKCS12_PATH=str(tmp / "keys" / "signing.p12"), BUNDLE_WORKERS=0))
    reset_database(app)
    client = app.test_client()
    for person in PEOPLE:
        response = sign_letter(client, SLUG, "en", name=person.name, email=person.email, country=person.country,
                               affiliation=person.affiliation, public_visibility=person.public,
                               bundle_visibility=person.bundle)
        assert response.status_code == 303
    confirm_pages = {}
    for message in outbox_messages(app):
        person = next(p for p in PEOPLE if p.email == message.to)
        [path] = links_in(message.text, "confirm")
        page = client.get(path)
        assert page.status_code == 200
        confirm_pages[person] = page.text
        data = form_values(page.text) | {"public_visibility": person.public, "bundle_visibility": person.bundle}
        assert client.post(path, data=data).status_code == 200
    assert len(confirm_pages) == len(PEOPLE)
    publish_names(app)

    lead = make_user(app, "lead@example.org", slugs=(SLUG,))
    console = logged_in(app.test_client(), app, lead)
    signatures_page = console.get(f"/en/console/letters/{SLUG}/signatures")
    export = console.post(f"/en/console/letters/{SLUG}/export.csv", data={"csrf_token": csrf_token(signatures_page.text)})
    assert export.status_code == 200

    with app.app_context():
        signing_keys.init_keys(app.config["PETITION"], "Test campaign signer", "Test campaign")
        built = bundles.build(db.session, letters.letter_row(SLUG), "en")
        db.session.commit()
        bundle_text = squash(" ".join(pdf_text(built.pdf)))
        db.session.remove()

    api = client.get(f"/api/v1/letters/{SLUG}")
    api_list = client.get("/api/v1/letters")
    yield {
        "confirm": confirm_pages,
        "public list": client.get(f"/en/letters/{SLUG}/signatures").text,
        "letter page": client.get(f"/en/letters/{SLUG}/").text,
        "api": api.get_data(as_text=True) + api_list.get_data(as_text=True),
        "api_counts": api.json["counts"],
        "feeds": client.get(f"/en/letters/{SLUG}/feed.atom").get_data(as_text=True)
        + client.get("/en/feed.atom").get_data(as_text=True),
        "export": list(csv.reader(io.StringIO(export.get_data(as_text=True).lstrip("\ufeff")))),
        "bundle": bundle_text,
    }
    with app.app_context():  # the app outlives one test: give its connections back
        db.engine.dispose()


def _visible_text(page: str) -> str:
    """A page's text as a reader sees it (tags dropped, entities decoded, spaces squashed)."""
    return squash(html.unescape(re.sub(r"<[^>]+>", "", page)))


def _assert_shows(text: str, person: Person, shown: set[str], place: str) -> None:
    words = {"name": person.name, "initials": person.initials, "affiliation": person.affiliation,
             "country": person.country_name}
    for part, word in words.items():
        if part in shown:
            assert word in text, f"{place} should show the {part} of {person}"
        else:
            assert word not in text, f"{place} shows the {part} of {person}, who did not choose that"


@pytest.mark.parametrize("person", PEOPLE, ids=lambda p: f"{p.public}-{p.bundle}")
@pytest.mark.parametrize("place", ["public list", "letter page", "api", "feeds", "bundle"])
def test_each_place_shows_what_the_signer_chose(world, person, place):
    text = world[place] if place == "bundle" else _visible_text(world[place])
    _assert_shows(text, person, expected(place, person), place)


@pytest.mark.parametrize("person", PEOPLE, ids=lambda p: f"{p.public}-{p.bundle}")
def test_the_export_holds_the_public_fields_only(world, person):
    header, *rows = world["export"]
    assert header == ["public_name", "public_affiliation", "country", "confirmed"]
    shown = expected("export", person)
    mine = [row for row in rows if person.name in row or person.initials in row]
    if not shown:
        assert mine == []
        return
    [row] = mine
    assert row[:3] == [person.name if "name" in shown else person.initials,
                       person.affiliation if "affiliation" in shown else "", person.country]
    assert not any(person.name in cell for cell in row) or "name" in shown
    assert not any(person.affiliation in cell for cell in row) or "affiliation" in shown


@pytest.mark.parametrize("person", PEOPLE, ids=lambda p: f"{p.public}-{p.bundle}")
def test_the_confirm_preview_shows_what_the_list_and_the_bundle_will(world, person):
    """Issue 16: the preview's "name me" line for each public choice is the bundle's line
    for it, country included; for the signer's own choices it is what the bundle and the
    list then really show."""
    page = world["confirm"][person]
    section = page[page.index('<section class="preview"'):page.index("</section>")]
    public_part, bundle_part = section.split("<h3>")
    public_lines = dict(re.findall(r"<dt>(.*?)</dt><dd>(.*?)</dd>", public_part, re.S))
    bundle_lines = dict(re.findall(r"<dt>(.*?)</dt><dd>(.*?)</dd>",
                                   bundle_part[bundle_part.index('class="by-public-choice"'):], re.S))
    labels = {"full": "Full name", "initials": "Initials only", "none": "Not listed"}
    for choice, label in labels.items():
        assert _visible_text(bundle_lines[label]) == _preview_line(person, BUNDLE[choice])
        if PUBLIC_LIST[choice]:
            assert _visible_text(public_lines[label]) == _preview_line(person, PUBLIC_LIST[choice])
    # Nobody else's details on anyone's confirm page.
    for other in PEOPLE:
        if other is not person:
            _assert_shows(_visible_text(page), other, set(), "a confirm page")
    # What the preview announced for the signer's choice is what the bundle prints.
    if person.bundle == "named":
        announced = _preview_line(person, BUNDLE[person.public])
        printed = announced.replace(" · ", " ").replace(", ", " ")
        name = person.name if "name" in BUNDLE[person.public] else person.initials
        assert squash(f"{name} {person.country_name}") in world["bundle"]
        assert set(printed.split()) <= set(world["bundle"].split())


def test_every_signer_is_counted_whatever_they_chose(world):
    assert world["api_counts"]["individuals"] == len(PEOPLE)
