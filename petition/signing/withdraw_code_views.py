"""The public "withdraw with a code" pages: no email, no link, only the code.

    GET  /<lang>/withdraw-with-code        the form
    POST /<lang>/withdraw-with-code        a code: shows what it withdraws, asks to confirm;
                                           with confirm=1: withdraws, then 303 to the result
    GET  /<lang>/withdraw-with-code/done   the result

A code withdraws what it was given for, of any kind of signer its area registered
(optin.register: a signature, an organisation's co-signature). A wrong, malformed or
used code gets the same page, status and statements (see withdraw_codes.holder_for).
Rate-limited per client and for all clients together (security/limits.py). The code
travels in POST bodies only, never in a URL.
"""
from __future__ import annotations

from flask import Blueprint, redirect, render_template, url_for
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from wtforms import HiddenField, StringField
from wtforms.validators import InputRequired, Length

from petition import tokens
from petition.extensions import db
from petition.forms import Form
from petition.letters import services as letters
from petition.letters.models import Letter
from petition.security.headers import mark_sensitive
from petition.signing import optin, withdraw_codes


class WithdrawCodeForm(Form):
    code = StringField(_l("Your withdrawal code"), validators=[
        InputRequired(message=_l("Enter the withdrawal code you were given.")), Length(max=64)])
    confirm = HiddenField()


WRONG_CODE = _l("This code does not withdraw any signature. Check it and try again: "
                "a code works only once, and not after the signature has been withdrawn.")


bp = Blueprint("withdraw_codes", __name__)


@bp.route("/<lang>/withdraw-with-code", methods=["GET", "POST"])
def enter():
    mark_sensitive()
    form = WithdrawCodeForm()
    if not form.validate_on_submit():
        status = 400 if form.is_submitted() else 200
        return render_template("signing/withdraw_code.html", form=form), status
    kinds = {kind.code_holder: kind for kind in optin.KINDS.values()}
    holder = withdraw_codes.holder_for(db.session, form.code.data, tuple(kinds))
    if holder is None:
        return _wrong_code(form)
    kind = kinds[type(holder)]
    if form.confirm.data != "1":
        row = db.session.get(Letter, holder.letter_id)
        letter = letters.loaded(row.slug)
        form.confirm.data = "1"
        details = kind.code_details(holder)
        db.session.rollback()
        return render_template("signing/withdraw_code_confirm.html", form=form, row=row, letter=letter,
                               text=letter.text_for(str(get_locale())), **details)
    try:
        kind.remove(db.session, holder)
    except tokens.InvalidLink:  # withdrawn meanwhile, by its link or another click
        db.session.rollback()
        return _wrong_code(form)
    db.session.commit()
    return redirect(url_for("withdraw_codes.done"), code=303)


@bp.get("/<lang>/withdraw-with-code/done")
def done():
    return render_template("signing/withdraw_code_done.html")


def _wrong_code(form: WithdrawCodeForm):
    db.session.rollback()
    form.code.errors = [WRONG_CODE]
    form.code.data = ""
    form.confirm.data = ""
    return render_template("signing/withdraw_code.html", form=form), 400
