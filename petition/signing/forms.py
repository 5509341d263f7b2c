from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, HiddenField, RadioField, SelectField, StringField
from wtforms.validators import InputRequired, Length, ValidationError

from petition import countries
from petition.security.quiet import QuietFields
from petition.signing.addresses import AddressRejected, check_syntax
from petition.text import TextRejected, clean_line

NAME_MAX = 100
AFFILIATION_MAX = 120


def _cleaned(max_length: int, required: bool):
    def validator(form, field):
        try:
            value = clean_line(field.data)
        except TextRejected:
            raise ValidationError(_l("Please remove the invisible control characters from this field.")) from None
        if required and not value:
            raise ValidationError(_l("This field is required."))
        if len(value) > max_length:
            raise ValidationError(_l("Please keep this under %(n)d characters.", n=max_length))
        field.data = value
    return validator


def _email(form, field):
    try:
        field.data = check_syntax(field.data or "")
    except AddressRejected:
        raise ValidationError(_l("This does not look like an email address. Please check it.")) from None


class SignForm(QuietFields, FlaskForm):
    """The signing form; QuietFields adds the honeypot and the signed start time."""

    name = StringField(_l("Your name"), validators=[InputRequired(_l("Please enter your name.")), _cleaned(NAME_MAX, True)])
    email = EmailField(_l("Email address"), validators=[InputRequired(_l("Please enter your email address.")), Length(max=254), _email])
    country = SelectField(_l("Country"), validators=[InputRequired(_l("Please choose a country, or “Prefer not to say”."))])
    affiliation = StringField(_l("Affiliation or occupation (optional)"), validators=[_cleaned(AFFILIATION_MAX, False)])
    public_visibility = RadioField(
        _l("On the public page"),
        choices=[
            ("full", _l("My full name")),
            ("initials", _l("My initials only")),
            ("none", _l("Not listed: count me only")),
        ],
    )
    bundle_visibility = RadioField(
        _l("In the letter delivered to the companies"),
        choices=[("named", _l("Name me")), ("counted", _l("Count me only"))],
    )
    updates = BooleanField(_l("Email me updates about this letter (at most a few)"))
    version = HiddenField()

    def __init__(self, *args, lang: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.country.choices = [("", _l("Choose…")), (countries.UNKNOWN, _l("Prefer not to say"))] + list(countries.choices(lang))

    def validate_country(self, field):
        if field.data not in countries.codes():
            raise ValidationError(_l("Please choose a country from the list."))


class ConfirmForm(FlaskForm):
    # Not validated as choices: the service only ever lowers the stored choice, so a
    # missing or forged value simply changes nothing.
    public_visibility = RadioField(_l("On the public page"), validate_choice=False)
    bundle_visibility = RadioField(_l("In the letter delivered to the companies"), validate_choice=False)
    updates = BooleanField(_l("Email me updates about this letter"))
    version = HiddenField()


class WithdrawForm(FlaskForm):
    pass
