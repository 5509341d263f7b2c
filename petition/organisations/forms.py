from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import EmailField, SelectField, StringField, TextAreaField
from wtforms.validators import InputRequired, Length, ValidationError

from petition.forms import Form, cleaned, country_options, known_country
from petition.organisations.domains import WebsiteRejected, normalise_website
from petition.security.quiet import QuietFields
from petition.signing.addresses import AddressRejected, check_syntax

NAME_MAX = 200
CONTACT_MAX = 100
STATEMENT_MAX = 1000  # one paragraph
REASON_MAX = 500




def _one_paragraph(form, field):
    if field.data and "\n\n" in field.data:
        raise ValidationError(_l("Please write the statement as one paragraph."))
    if field.data:
        field.data = " ".join(field.data.split())


def _email(form, field):
    try:
        field.data = check_syntax(field.data or "")
    except AddressRejected:
        raise ValidationError(_l("This does not look like an email address. Please check it.")) from None


def _website(form, field):
    try:
        field.data = normalise_website(field.data or "")
    except WebsiteRejected:
        raise ValidationError(_l("This does not look like a website address. Please check it (for example https://example.org).")) from None


class OrganisationForm(QuietFields, Form):
    """QuietFields adds the honeypot and the signed start time (petition/security/quiet.py)."""

    name = StringField(_l("Name of the organisation"),
                       validators=[InputRequired(_l("Please enter the organisation's name.")), cleaned(NAME_MAX)])
    country = SelectField(_l("Country where it is based"),
                          validators=[InputRequired(_l("Please choose a country, or “Prefer not to say”."))])
    website = StringField(_l("Website (optional)"), validators=[Length(max=300), _website])
    contact_name = StringField(_l("Contact person"),
                               validators=[InputRequired(_l("Please enter a contact person.")), cleaned(CONTACT_MAX)])
    contact_email = EmailField(_l("Contact email address"),
                               validators=[InputRequired(_l("Please enter the contact's email address.")), Length(max=254), _email])
    statement = TextAreaField(_l("Statement (optional, one paragraph)"),
                              validators=[cleaned(STATEMENT_MAX, required=False, multiline=True), _one_paragraph])

    def __init__(self, *args, lang: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.country.choices = country_options(lang)

    validate_country = known_country


class ConfirmForm(Form):
    pass


class RejectForm(Form):
    reason = TextAreaField(_l("Reason (sent to the organisation's contact)"),
                           validators=[InputRequired(_l("Please give a reason.")), cleaned(REASON_MAX, multiline=True)])

