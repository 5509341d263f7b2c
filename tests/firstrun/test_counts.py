"""Counts read as each language says them: real plural forms (Arabic has six), the number
inside the phrase, the language's own list separators."""
from __future__ import annotations

import html
import re

import pytest
from flask import g, render_template_string

from petition.extensions import db
from petition.letters import services as letters
from petition.signing import counters
from tests.bundles.test_web import login as console_login
from tests.helpers import LANGS, confirm_from_mail, sign_letter

NUMBERS = (0, 1, 2, 3, 11, 100)

# What a reader sees, per language and number: the public pages' "N people have signed".
SIGNED = {
    "en": {0: "0 people have signed", 1: "1 person has signed", 2: "2 people have signed",
           3: "3 people have signed", 11: "11 people have signed", 100: "100 people have signed"},
    "fr": {0: "0 personne a signé", 1: "1 personne a signé", 2: "2 personnes ont signé",
           3: "3 personnes ont signé", 11: "11 personnes ont signé", 100: "100 personnes ont signé"},
    "el": {0: "0 άτομα έχουν υπογράψει", 1: "1 άτομο έχει υπογράψει", 2: "2 άτομα έχουν υπογράψει",
           3: "3 άτομα έχουν υπογράψει", 11: "11 άτομα έχουν υπογράψει", 100: "100 άτομα έχουν υπογράψει"},
    "ar": {0: "لم يوقّع أحد بعد", 1: "وقّع شخص واحد", 2: "وقّع شخصان",
           3: "وقّع 3 أشخاص", 11: "وقّع 11 شخصًا", 100: "وقّع 100 شخص"},
}
# The list of public signatures: "In all, N people have signed."
IN_ALL = {
    "en": {0: "In all, 0 people have signed.", 1: "In all, 1 person has signed.", 2: "In all, 2 people have signed.",
           3: "In all, 3 people have signed.", 11: "In all, 11 people have signed.", 100: "In all, 100 people have signed."},
    "fr": {0: "En tout, 0 personne a signé.", 1: "En tout, 1 personne a signé.", 2: "En tout, 2 personnes ont signé.",
           3: "En tout, 3 personnes ont signé.", 11: "En tout, 11 personnes ont signé.",
           100: "En tout, 100 personnes ont signé."},
    "el": {0: "Συνολικά έχουν υπογράψει 0 άτομα.", 1: "Συνολικά έχει υπογράψει 1 άτομο.",
           2: "Συνολικά έχουν υπογράψει 2 άτομα.", 3: "Συνολικά έχουν υπογράψει 3 άτομα.",
           11: "Συνολικά έχουν υπογράψει 11 άτομα.", 100: "Συνολικά έχουν υπογράψει 100 άτομα."},
    "ar": {0: "لم يوقّع أحد بعد.", 1: "وقّع شخص واحد حتى الآن.", 2: "وقّع شخصان حتى الآن.",
           3: "وقّع 3 أشخاص في المجموع.", 11: "وقّع 11 شخصًا في المجموع.", 100: "وقّع 100 شخص في المجموع."},
}
# The console's letter page: "N confirmed signatures".
CONFIRMED = {
    "en": {0: "0 confirmed signatures", 1: "1 confirmed signature", 2: "2 confirmed signatures",
           3: "3 confirmed signatures", 11: "11 confirmed signatures", 100: "100 confirmed signatures"},
    "fr": {0: "0 signature confirmée", 1: "1 signature confirmée", 2: "2 signatures confirmées",
           3: "3 signatures confirmées", 11: "11 signatures confirmées", 100: "100 signatures confirmées"},
    "el": {0: "0 επιβεβαιωμένες υπογραφές", 1: "1 επιβεβαιωμένη υπογραφή", 2: "2 επιβεβαιωμένες υπογραφές",
           3: "3 επιβεβαιωμένες υπογραφές", 11: "11 επιβεβαιωμένες υπογραφές", 100: "100 επιβεβαιωμένες υπογραφές"},
    "ar": {0: "لا توجد توقيعات مؤكدة", 1: "توقيع واحد مؤكد", 2: "توقيعان مؤكدان",
           3: "3 توقيعات مؤكدة", 11: "11 توقيعًا مؤكدًا", 100: "100 توقيع مؤكد"},
}
ORGANISATIONS = {
    "en": {0: "0 organisations", 1: "1 organisation", 2: "2 organisations", 3: "3 organisations",
           11: "11 organisations", 100: "100 organisations"},
    "fr": {0: "0 organisation", 1: "1 organisation", 2: "2 organisations", 3: "3 organisations",
           11: "11 organisations", 100: "100 organisations"},
    "el": {0: "0 οργανώσεις", 1: "1 οργάνωση", 2: "2 οργανώσεις", 3: "3 οργανώσεις",
           11: "11 οργανώσεις", 100: "100 οργανώσεις"},
    "ar": {0: "لا منظمات بعد", 1: "منظمة واحدة", 2: "منظمتان", 3: "3 منظمات", 11: "11 منظمةً", 100: "100 منظمة"},
}


def get(client, path: str) -> str:
    """A page's text; the fixture's app context outlives requests, and with it Flask-Babel's
    remembered locale, which must not carry over from the previous request."""
    from flask_babel import refresh

    refresh()
    page = client.get(path)
    assert page.status_code == 200, (path, page.status_code)
    return visible(page.text)


def visible(page: str) -> str:
    text = re.sub(r"<[^>]+>", " ", page)
    return re.sub(r"\s+", " ", html.unescape(text))


def wrong_forms(table: dict[int, str], n: int) -> list[str]:
    """The other numbers' phrases with this number put in: none may appear."""
    return [text.replace(str(m), str(n)) for m, text in table.items() if m != n and text.replace(str(m), str(n)) != table[n]]


def set_count(n: int) -> None:
    """Every letter's count at n (the home page lists them all), through the real counters."""
    for slug in ("secure-our-socials", "protect-women-hrds"):
        row = letters.letter_row(slug)
        counters.add(db.session, row.id, 0, n - counters.confirmed_count(row.id))
        db.session.commit()
        counters.forget(row.id)


@pytest.mark.parametrize("lang", LANGS)
def test_public_pages_say_each_count_in_its_own_form(app, lang):
    client = app.test_client()
    for n in NUMBERS:
        set_count(n)
        for path in (f"/{lang}/", f"/{lang}/letters/secure-our-socials/"):
            text = get(client, path)
            assert SIGNED[lang][n] in text, (path, n, text[:3000])
            for wrong in wrong_forms(SIGNED[lang], n):
                assert not re.search(re.escape(wrong) + r"(?=[\s·.،]|$)", text), (path, n, wrong)
        text = get(client, f"/{lang}/letters/secure-our-socials/signatures")
        assert IN_ALL[lang][n] in text, (n, text[:2000])


@pytest.mark.parametrize("lang", LANGS)
def test_console_letter_page_says_each_count_in_its_own_form(app, lang):
    client = app.test_client()
    console_login(client, app)
    for n in NUMBERS:
        set_count(n)
        text = get(client, f"/{lang}/console/letters/secure-our-socials/")
        assert CONFIRMED[lang][n] in text, (n, text[:3000])


@pytest.mark.parametrize("lang", LANGS)
def test_organisation_counts_in_every_form(app, lang):
    template = '{% from "macros/letters.html" import organisations_count %}{{ organisations_count(n) }}'
    for n in NUMBERS:
        with app.test_request_context(f"/{lang}/"):
            g.lang = lang
            text = visible(render_template_string(template, n=n))
        assert text.strip() == ORGANISATIONS[lang][n], (n, text)


def test_large_counts_are_grouped_in_the_readers_convention(app):
    set_count(1234567)
    assert "1,234,567 people have signed" in get(app.test_client(), "/en/")
    assert re.search(r"1 234 567 personnes ont signé", get(app.test_client(), "/fr/"))


def test_home_page_joins_addressees_with_the_languages_comma(app):
    loaded = letters.loaded("protect-women-hrds")
    companies = [a.company for a in loaded.meta.addressees]
    assert len(companies) > 1
    arabic = get(app.test_client(), "/ar/")
    assert "، ".join(companies) in arabic and ", ".join(companies) not in arabic
    assert ", ".join(companies) in get(app.test_client(), "/en/")


def test_the_confirmed_page_groups_the_count_too(app):
    set_count(1234566)
    client = app.test_client()
    sign_letter(client, email="grouped.count@example.org")
    confirmed = confirm_from_mail(client, app)
    assert confirmed.status_code == 200
    assert "1,234,567 people have signed this letter." in visible(confirmed.text)
