from __future__ import annotations

from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from markupsafe import Markup, escape
from wtforms import (
    BooleanField,
    EmailField,
    HiddenField,
    RadioField,
    SelectField,
    StringField,
)
from wtforms.validators import InputRequired, Length, ValidationError
from wtforms.widgets import Select, html_params

from petition.forms import Form, cleaned, country_options, known_country, options
from petition.security.quiet import QuietFields
from petition.signing.addresses import AddressRejected, check_syntax

NAME_MAX = 100
AFFILIATION_MAX = 120




def _email(form, field):
    try:
        field.data = check_syntax(field.data or "")
    except AddressRejected:
        raise ValidationError(_l("This does not look like an email address. Please check it.")) from None


PUBLIC_VISIBILITY_CHOICES = options([
    ("full", _l("My full name")),
    ("initials", _l("My initials only")),
    ("none", _l("Not listed: count me only")),
])
BUNDLE_VISIBILITY_CHOICES = options([("named", _l("Name me")), ("counted", _l("Count me only"))])


class CountrySelect(Select):
    """The country list: the same ~250 options for every signer reading one language,
    rendered once per language and process (rendering them was most of the form's
    cost); the chosen option is marked on the cached markup."""

    _options: dict[tuple, str] = {}

    def __call__(self, field, **kwargs):
        key = getattr(field, "cache_key", None)
        if key is None:
            return super().__call__(field, **kwargs)
        options = self._options.get(key)
        if options is None:
            render = type(self)._dispatch_render_option()
            options = "".join(render(choice._replace(selected=False)) for choice in field._iter_choices_normalized())
            self._options[key] = options
        kwargs.setdefault("id", field.id)
        if field.flags.required and "required" not in kwargs:
            kwargs["required"] = True
        if field.data is not None:
            chosen = escape(field.data)
            options = options.replace(f'<option value="{chosen}">', f'<option selected value="{chosen}">', 1)
        return Markup(f"<select {html_params(name=field.name, **kwargs)}>{options}</select>")


class SignForm(QuietFields, Form):
    """The signing form; QuietFields adds the honeypot and the signed start time."""

    name = StringField(_l("Your name"), validators=[InputRequired(_l("Please enter your name.")), cleaned(NAME_MAX)])
    email = EmailField(_l("Email address"), validators=[InputRequired(_l("Please enter your email address.")), Length(max=254), _email])
    # Checked against the country codes by validate_country, not by scanning the choices.
    country = SelectField(_l("Country"), validators=[InputRequired(_l("Please choose a country, or “Prefer not to say”."))],
                          widget=CountrySelect(), validate_choice=False)
    affiliation = StringField(_l("Affiliation or occupation (optional)"), validators=[cleaned(AFFILIATION_MAX, required=False)])
    public_visibility = RadioField(_l("On the public page"), choices=PUBLIC_VISIBILITY_CHOICES)
    bundle_visibility = RadioField(_l("In the letter delivered to the companies"), choices=BUNDLE_VISIBILITY_CHOICES)
    updates = BooleanField(_l("Email me updates about this letter (at most a few)"))
    version = HiddenField()

    def __init__(self, *args, lang: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.country.choices = country_options(lang)
        # Country names follow `lang`; the two first labels follow the interface language.
        self.country.cache_key = (lang, str(get_locale()))

    validate_country = known_country


class ConfirmForm(Form):
    # Not validated as choices: the service only ever lowers the stored choice, so a
    # missing or forged value simply changes nothing.
    public_visibility = RadioField(_l("On the public page"), validate_choice=False)
    bundle_visibility = RadioField(_l("In the letter delivered to the companies"), validate_choice=False)
    updates = BooleanField(_l("Email me updates about this letter"))
    version = HiddenField()


class WithdrawForm(Form):
    """The withdraw page's button, for every kind of signer: a POST with its CSRF token."""
