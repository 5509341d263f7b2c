from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import SelectField
from wtforms.validators import InputRequired

from petition.forms import Form


class BuildForm(Form):
    lang = SelectField(_l("Language of the bundle"), validators=[InputRequired(_l("Please choose a language."))])
