from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, request, url_for
from flask_babel import get_locale

from petition import tokens
from petition.extensions import db
from petition.letters import services as letters
from petition.letters.models import Letter
from petition.organisations import services
from petition.organisations.forms import ConfirmForm, OrganisationForm, WithdrawForm
from petition.security.headers import mark_sensitive
from petition.security.quiet import quiet_rejection


def _public_letter(slug: str):
    row = letters.letter_row(slug)
    letter = letters.loaded(slug)
    if row is None or letter is None or row.status not in letters.PUBLIC_STATUSES:
        abort(404)
    return row, letter


def _already_confirmed(letter_id: int):
    """A genuine confirm link whose contact has co-signed already: said plainly, with a
    200, to the link's holder (the only one who can reach this)."""
    row = db.session.get(Letter, letter_id)
    letter = letters.loaded(row.slug)
    return render_template("organisations/already_confirmed.html", row=row, letter=letter,
                           text=letter.text_for(str(get_locale())))


def make_blueprint() -> Blueprint:
    bp = Blueprint("organisations", __name__)

    @bp.route("/<lang>/letters/<slug>/organisations/sign", methods=["GET", "POST"])
    def sign(slug: str):
        mark_sensitive()
        row, letter = _public_letter(slug)
        lang = str(get_locale())
        text = letter.text_for(lang)
        if not letters.is_signable(row):
            status = 409 if request.method == "POST" else 200
            return render_template("organisations/sign.html", row=row, letter=letter, text=text, form=None,
                                   signable=False), status
        form = OrganisationForm(lang=lang)
        if request.method == "GET":
            form.stamp()
        if request.method == "POST":
            if quiet_rejection(form, "organisations.sign"):
                # A script: the same answer a person gets, and nothing stored or sent.
                return redirect(url_for("organisations.sent", slug=slug), code=303)
            if form.validate_on_submit():
                services.sign(db.session, row, services.OrganisationRequest(
                    name=form.name.data,
                    country=form.country.data,
                    website=form.website.data or "",
                    contact_name=form.contact_name.data,
                    contact_email=form.contact_email.data,
                    statement=form.statement.data or "",
                    lang=lang,
                ))
                db.session.commit()
                return redirect(url_for("organisations.sent", slug=slug), code=303)
            return render_template("organisations/sign.html", row=row, letter=letter, text=text, form=form,
                                   signable=True), 400
        return render_template("organisations/sign.html", row=row, letter=letter, text=text, form=form, signable=True)

    @bp.get("/<lang>/letters/<slug>/organisations/check-your-inbox")
    def sent(slug: str):
        row, letter = _public_letter(slug)
        return render_template("organisations/sent.html", row=row, letter=letter, text=letter.text_for(str(get_locale())))

    @bp.route("/<lang>/organisations/confirm/<token>", methods=["GET", "POST"])
    def confirm(token: str):
        # GET only shows: mail scanners open links.
        mark_sensitive()
        try:
            org = services.pending_for_token(db.session, token)
        except tokens.InvalidLink:
            return render_template("organisations/link_invalid.html"), 404
        except services.AlreadySigned as already:
            return _already_confirmed(already.letter_id)
        row = db.session.get(Letter, org.letter_id)
        letter = letters.loaded(row.slug)
        text = letter.text_for(org.lang)
        if not letters.is_signable(row):
            return render_template("organisations/sign.html", row=row, letter=letter, text=text, form=None,
                                   signable=False), 409
        form = ConfirmForm()
        if request.method == "POST":
            if form.validate_on_submit():
                try:
                    _org, withdraw_code = services.confirm(db.session, token)
                except services.AlreadySigned:
                    db.session.rollback()
                    return _already_confirmed(row.id)
                db.session.commit()
                # The withdrawal code exists only in this answer (see signing.views.confirm).
                return render_template("organisations/confirmed.html", row=row, letter=letter,
                                       text=letter.text_for(str(get_locale())), withdraw_code=withdraw_code)
            status = 400
        else:
            status = 200
        return render_template("organisations/confirm.html", row=row, letter=letter, text=text, form=form, org=org,
                               contact=services.contact(org)), status

    @bp.get("/<lang>/letters/<slug>/organisations/confirmed")
    def confirmed(slug: str):
        row, letter = _public_letter(slug)
        return render_template("organisations/confirmed.html", row=row, letter=letter,
                               text=letter.text_for(str(get_locale())))

    @bp.get("/<lang>/letters/<slug>/organisations/withdrawn")
    def withdrawn(slug: str):
        mark_sensitive()
        row, letter = _public_letter(slug)
        return render_template("organisations/withdrawn.html", row=row, letter=letter,
                               text=letter.text_for(str(get_locale())))

    @bp.route("/<lang>/organisations/withdraw/<token>", methods=["GET", "POST"])
    def withdraw(token: str):
        mark_sensitive()
        try:
            org = services.for_manage_token(db.session, token)
        except tokens.InvalidLink:
            return render_template("organisations/link_invalid.html", withdrawn=True), 404
        row = db.session.get(Letter, org.letter_id)
        letter = letters.loaded(row.slug)
        text = letter.text_for(str(get_locale()))
        form = WithdrawForm()
        if request.method == "POST":
            if form.validate_on_submit():
                try:
                    services.withdraw(db.session, token)
                except tokens.InvalidLink:
                    db.session.rollback()
                    return render_template("organisations/link_invalid.html", withdrawn=True), 404
                db.session.commit()
                # Redirect after the POST, so that a refresh does not send it again.
                return redirect(url_for("organisations.withdrawn", slug=row.slug), code=303)
            status = 400
        else:
            status = 200
        return render_template("organisations/withdraw.html", row=row, letter=letter, text=text, form=form, org=org), status

    return bp
