"""The base form and the validators shared by every area's forms."""
from __future__ import annotations

from functools import lru_cache

from babel import support
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms.fields.choices import SelectChoice
from wtforms.i18n import messages_path
from wtforms.validators import ValidationError

from petition import countries
from petition.text import TextRejected, clean_line


def cleaned(max_length: int, *, required: bool = True, multiline: bool = False):
    """A WTForms validator: NFC, invisible characters removed, control characters refused
    with a message, a length bound; the field keeps the cleaned value."""
    def validator(form, field):
        try:
            value = clean_line(field.data, allow_newlines=multiline)
        except TextRejected:
            raise ValidationError(_l("Please remove the invisible control characters from this field.")) from None
        if required and not value:
            raise ValidationError(_l("This field is required."))
        if len(value) > max_length:
            raise ValidationError(_l("Please keep this under %(n)d characters.", n=max_length))
        field.data = value
    return validator


def options(pairs) -> list[SelectChoice]:
    """(value, label) pairs as the choices of a select or radio field (WTForms 3.3
    deprecated plain tuples, and 3.4 drops them)."""
    return [SelectChoice(value, label) for value, label in pairs]


@lru_cache(maxsize=16)
def _countries(lang: str) -> tuple[SelectChoice, ...]:
    return tuple(options(countries.choices(lang)))


def country_options(lang: str) -> list[SelectChoice]:
    """The country select: "Choose…" and "Prefer not to say" in the interface's language,
    then every country named in `lang` (the letter's language), built once per language."""
    return [SelectChoice("", _l("Choose…")), SelectChoice(countries.UNKNOWN, _l("Prefer not to say")), *_countries(lang)]


def known_country(form, field) -> None:
    """The country field's inline validator (validate_country) in every form that offers
    country_options(): checked against the country codes, not by scanning ~250 choices."""
    if field.data not in countries.codes():
        raise ValidationError(_l("Please choose a country from the list."))


@lru_cache(maxsize=16)
def _wtforms_catalogue(locale: str) -> support.Translations:
    return support.Translations.load(messages_path(), [locale], domain="wtforms")


class _WTFormsTranslations:
    """WTForms' own messages ("Field cannot be longer than ...") in the page's language.

    Flask-WTF reads and parses WTForms' catalogue from disk on every request that
    builds a form; the catalogues never change while the process runs, so one per
    language is kept."""

    def gettext(self, string: str) -> str:
        return _wtforms_catalogue(str(get_locale())).ugettext(string)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return _wtforms_catalogue(str(get_locale())).ungettext(singular, plural, n)


_translations = _WTFormsTranslations()


class Form(FlaskForm):
    """Every form of the site: Flask-WTF's (CSRF, request data) with cached catalogues."""

    class Meta:
        def get_translations(self, form):
            return _translations
