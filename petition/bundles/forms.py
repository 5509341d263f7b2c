from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import DateField, SelectField, StringField, TextAreaField
from wtforms.validators import InputRequired, Optional, ValidationError

from petition.forms import Form, cleaned

CHANNEL_MAX = 200
RESPONSE_MAX = 5000




class BuildForm(Form):
    lang = SelectField(_l("Language of the bundle"), validators=[InputRequired(_l("Please choose a language."))])


class DeliveryForm(Form):
    bundle_id = SelectField(_l("Bundle delivered"), validators=[InputRequired(_l("Please choose the bundle."))])
    addressee = SelectField(_l("Delivered to"), validators=[InputRequired(_l("Please choose the addressee."))])
    delivered_on = DateField(_l("Date of delivery"), validators=[InputRequired(_l("Please enter a date (YYYY-MM-DD)."))])
    channel = StringField(_l("How it was delivered (email, meeting, post…)"),
                          validators=[cleaned(CHANNEL_MAX, required=True)])
    response = TextAreaField(_l("Their response, if any (shown publicly)"), validators=[Optional(), cleaned(RESPONSE_MAX, required=False, multiline=True)])

    def validate_delivered_on(self, field):
        from datetime import date, timedelta

        if field.data and field.data > date.today() + timedelta(days=1):
            raise ValidationError(_l("A delivery cannot be recorded in the future."))


class ResponseForm(Form):
    response = TextAreaField(_l("Their response (shown publicly)"), validators=[cleaned(RESPONSE_MAX, required=True, multiline=True)])


class ReceiptForm(Form):
    code = StringField(_l("Your receipt code"), validators=[InputRequired(_l("Please enter the receipt code from your email.")),
                                                           cleaned(40, required=True)])
