from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, HiddenField

from petition.forms import Form

CONSENT_STATEMENT = _l(
    "I confirm that every person in this file signed this letter on paper or in person, agreed that their "
    "signature is delivered to the letter's addressees, and chose, as the file says, whether their name is "
    "printed in the delivered bundle or they are only counted.")


class UploadForm(Form):
    file = FileField(_l("CSV file of paper signatures"), validators=[FileRequired(_l("Please choose a CSV file."))])


class ImportForm(Form):
    # The checked file travels back with the confirmation in the form's body (never in
    # the session cookie or a URL) and is checked again before anything is stored.
    csv_data = HiddenField()
    consent = BooleanField(CONSENT_STATEMENT)
