from __future__ import annotations

import json
from datetime import date

from flask_babel import lazy_gettext as _l
from wtforms import DateField, SelectField, StringField, TextAreaField
from wtforms.validators import InputRequired, ValidationError

from petition.deliveries.services import CHANNEL_MAX, RECIPIENT_MAX, RESPONSE_MAX, Addressee
from petition.forms import Form, cleaned, options


def addressee_value(addressee: Addressee) -> str:
    return json.dumps([addressee.company, addressee.platform], ensure_ascii=False)


def addressee_from(value: str) -> Addressee | None:
    try:
        company, platform = json.loads(value)
    except (TypeError, ValueError):
        return None
    return Addressee(company, platform) if isinstance(company, str) and isinstance(platform, str) else None


class RecordForm(Form):
    bundle_id = SelectField(_l("Bundle delivered"), validators=[InputRequired(_l("Please choose the bundle."))])
    addressee = SelectField(_l("Delivered to"), validators=[InputRequired(_l("Please choose the addressee."))])
    delivered_on = DateField(_l("Date of delivery"), validators=[InputRequired(_l("Please enter a date (YYYY-MM-DD)."))])
    channel = StringField(_l("How it was delivered (email, meeting, post…)"), validators=[cleaned(CHANNEL_MAX)])
    recipient = StringField(_l("The person or office it went to (not shown publicly)"),
                            validators=[cleaned(RECIPIENT_MAX)])

    def fill_choices(self, bundles, addressees) -> None:
        self.bundle_id.choices = options(
            (b.id, f"{b.created_at:%Y-%m-%d %H:%M} · {b.lang} · {b.id[:8]}") for b in bundles)
        self.addressee.choices = options((addressee_value(a), a.label) for a in addressees)

    def validate_delivered_on(self, field):
        if field.data and field.data > date.today():
            raise ValidationError(_l("A delivery cannot be recorded in the future."))


class ResponseForm(Form):
    response = TextAreaField(_l("Your response"), validators=[cleaned(RESPONSE_MAX, multiline=True)])


class ButtonForm(Form):
    """A button that only needs CSRF protection (acknowledge, publish, new link)."""


class ReceiptForm(Form):
    code = StringField(_l("Your receipt code"), validators=[InputRequired(_l("Please enter the receipt code from your email.")),
                                                           cleaned(40, required=True)])
