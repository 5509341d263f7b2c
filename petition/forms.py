"""Validators shared by every area's forms."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms.validators import ValidationError

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
