"""Hostile and mistaken input gets a clear, localised 4xx and the form back, never a 5xx."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from petition.extensions import db
from petition.signing.models import Signature
from tests.helpers import form_values, outbox_messages, sign_letter, process_intake
from tests.organisations.support import sign_org


@pytest.mark.parametrize("lang", ["en", "fr", "ar", "el"])
def test_errors_are_localised_and_keep_what_was_typed(client, lang):
    response = sign_letter(client, lang=lang, name="", email="not-an-address", affiliation="Kept Affiliation")
    assert response.status_code == 400
    assert 'class="error-summary"' in response.text
    assert 'value="not-an-address"' in response.text and 'value="Kept Affiliation"' in response.text
    assert f'lang="{lang}"' in response.text
    assert db.session.scalar(select(func.count()).select_from(Signature)) == 0


# The country select and its check are shared by both forms (petition.forms), and so
# are their messages: one catalogue (web) must carry them in every language.
COUNTRY_TEXTS = {
    "en": ("Choose…", "Prefer not to say", "Please choose a country from the list."),
    "fr": ("Choisir…", "Je préfère ne pas le dire", "Veuillez choisir un pays dans la liste."),
    "ar": ("اختر…", "أفضّل عدم الإفصاح", "يرجى اختيار بلد من القائمة."),
    "el": ("Επιλέξτε…", "Προτιμώ να μην το πω", "Επιλέξτε μια χώρα από τη λίστα."),
}


@pytest.mark.parametrize("lang", ["en", "fr", "ar", "el"])
@pytest.mark.parametrize("send", [sign_letter, sign_org], ids=["individual", "organisation"])
def test_country_select_and_its_error_are_localised(client, lang, send):
    choose, not_say, error = COUNTRY_TEXTS[lang]
    response = send(client, lang=lang, country="XX")
    assert response.status_code == 400
    assert error in response.text
    assert f'<option value="">{choose}</option>' in response.text
    assert f'<option value="ZZ">{not_say}</option>' in response.text


def test_arabic_error_messages_are_arabic(client):
    response = sign_letter(client, lang="ar", name="", email="x")
    assert response.status_code == 400
    assert "يرجى" in response.text  # "please" in the Arabic messages


@pytest.mark.parametrize(
    "fields",
    [
        {"email": "a@b.c\r\nBcc: everyone@example.org"},
        {"email": "victim@example.org\nSubject: hi"},
        {"email": "x" * 300 + "@example.org"},
        {"email": "<script>@example.org"},
        {"name": "Evil\r\nBcc: x@example.org"},
        {"name": "Nul\x00byte"},
        {"name": "x" * 101},
        {"affiliation": "y" * 121},
        {"country": "XX"},
        {"country": "'; DROP TABLE signatures; --"},
        {"name": "   "},
    ],
)
def test_hostile_values_are_refused_with_a_message(client, app, fields):
    response = sign_letter(client, **fields)
    assert response.status_code == 400
    assert 'class="field-errors"' in response.text
    assert outbox_messages(app) == []


def test_invisible_characters_are_removed_from_names(app, client):
    sneaky = "\u202eAmal\u200b Haddad\u2066\ufeff"
    assert sign_letter(client, name=sneaky, email="bidi@example.org").status_code == 303
    process_intake(app)
    from petition.crypto import decrypt

    sig = db.session.scalar(select(Signature))
    assert decrypt(sig.name_enc) == "Amal Haddad"


def test_names_are_nfc(app, client):
    decomposed = "Zoe\u0301 Cafe\u0301"
    sign_letter(client, name=decomposed, email="nfc@example.org")
    process_intake(app)
    from petition.crypto import decrypt

    assert decrypt(db.session.scalar(select(Signature.name_enc))) == "Zoé Café"


def test_missing_csrf_token_is_a_localised_400(client):
    response = client.post("/ar/letters/secure-our-socials/sign", data={"name": "x", "email": "x@example.org"})
    assert response.status_code == 400
    assert 'dir="rtl"' in response.text


def test_oversized_body_is_413_not_500(client):
    response = client.post("/en/letters/secure-our-socials/sign", data={"name": "x" * 100_000})
    assert response.status_code == 413


def test_radio_values_outside_the_choices_fall_back_safely(app, client):
    page = client.get("/en/letters/secure-our-socials/sign")
    data = form_values(page.text) | dict(name="A B", email="radio@example.org", country="LB",
                                          public_visibility="everything", bundle_visibility="shout")
    response = client.post("/en/letters/secure-our-socials/sign", data=data)
    assert response.status_code == 400
