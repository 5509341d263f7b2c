from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import SelectField, StringField
from wtforms.validators import InputRequired

from petition.forms import Form, cleaned


class BuildForm(Form):
    lang = SelectField(_l("Language of the bundle"), validators=[InputRequired(_l("Please choose a language."))])


class ReceiptForm(Form):
    code = StringField(_l("Your receipt code"), validators=[InputRequired(_l("Please enter the receipt code from your email.")),
                                                           cleaned(40, required=True)])
