from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, EmailField, HiddenField, PasswordField, StringField, TextAreaField
from wtforms.validators import AnyOf, InputRequired, Length

from petition.forms import Form, cleaned
from petition.updates.services import BODY_MAX, SUBJECT_MAX


class LoginForm(Form):
    email = EmailField(_l("Email address"), validators=[InputRequired(_l("Please enter your email address.")), Length(max=254)])
    password = PasswordField(_l("Password"), validators=[InputRequired(_l("Please enter your password.")), Length(max=1024)])


class CodeForm(Form):
    # Phones show the digit keypad and offer the code from the authenticator or an SMS.
    code = StringField(_l("Six-digit code from your authenticator app"),
                       validators=[InputRequired(_l("Please enter the code.")), Length(max=12)],
                       render_kw={"inputmode": "numeric", "autocomplete": "one-time-code"})


class PlainForm(Form):
    """A button that only needs CSRF protection (log out, approve, export, unhide)."""


class StatusForm(Form):
    status = HiddenField(validators=[AnyOf(("open", "closed"))])


class HideForm(Form):
    reason = TextAreaField(_l("Reason (kept for the campaign team; the signer is not told who asked)"),
                           validators=[InputRequired(_l("Please give a reason.")), cleaned(500, multiline=True)])


class UpdateForm(Form):
    subject = StringField(_l("Subject"), validators=[InputRequired(_l("Please write a subject.")), cleaned(SUBJECT_MAX)])
    body = TextAreaField(_l("Text"), validators=[InputRequired(_l("Please write the text of the update.")),
                                                 cleaned(BODY_MAX, multiline=True)])
    publish = BooleanField(_l("Also publish this update in the letter's public feed"), default=False)


class PrivacyRequestForm(Form):
    """A person's request about their data, found by the address they wrote from. The
    address only ever travels in POST bodies: never in a URL, the session or a log."""
    email = EmailField(_l("Their email address"), validators=[InputRequired(_l("Please enter the email address.")),
                                                              Length(max=254)])


class PrivacyEraseForm(PrivacyRequestForm):
    confirm = BooleanField(_l("I have checked that the request comes from this address, and I want to delete it all"),
                           validators=[InputRequired(_l("Please tick the box to confirm the deletion."))])
