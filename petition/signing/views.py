from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, request, url_for
from flask_babel import get_locale

from petition import countries, tokens
from petition.database import autocommit
from petition.extensions import db
from petition.letters import services as letters
from petition.letters.models import Letter
from petition.security.headers import mark_sensitive
from petition.security.quiet import issue_stamp, quiet_rejection
from petition.security.signed import csrf_token
from petition.signing import services
from petition.signing.forms import (
    BUNDLE_VISIBILITY_CHOICES, PUBLIC_VISIBILITY_CHOICES, ConfirmForm, SignForm, WithdrawForm,
)
from petition.web import page_cache


def _open_letter(slug: str):
    row = letters.public_row(slug)
    letter = letters.loaded(slug)
    if row is None or letter is None or row.status not in letters.PUBLIC_STATUSES:
        abort(404)
    return row, letter


def _visibility_choices(form_field, allowed_order: tuple[str, ...], current: str, all_choices):
    """Offer only the options that show as much as, or less than, the current choice."""
    allowed = set(allowed_order[: allowed_order.index(current) + 1])
    form_field.choices = [choice for choice in all_choices if choice.value in allowed]


def _blank_form_page(row, letter, text, lang: str) -> str:
    """The empty signing form: the same for everyone on this path but for the CSRF
    token and the fill-time stamp, so it comes from the page cache."""

    def render(csrf: str, stamp: str) -> str:
        form = SignForm(lang=lang)
        form.public_visibility.data = services.safest_public(None, row.public_visibility_default)
        form.bundle_visibility.data = services.safest_bundle(None, row.bundle_default)
        form.version.data = text.version_hash
        form.csrf_token.current_token = csrf
        form.started.data = stamp
        return render_template("signing/sign.html", row=row, letter=letter, text=text, form=form, signable=True)

    key = ("signing.sign", request.path, row, text.version_hash, id(letter))
    return page_cache.fill(key, render, csrf=csrf_token(), stamp=issue_stamp())


def _confirm_form(sig) -> ConfirmForm:
    """The confirm form, offering only choices that show as much as before, or less."""
    form = ConfirmForm()
    _visibility_choices(form.public_visibility, services.PUBLIC_ORDER, sig.public_visibility, PUBLIC_VISIBILITY_CHOICES)
    _visibility_choices(form.bundle_visibility, services.BUNDLE_ORDER, sig.bundle_visibility, BUNDLE_VISIBILITY_CHOICES)
    return form


def _shown(preview: dict) -> dict:
    """The confirm page's preview with the country's name in the page's language."""
    code = preview["country"]
    return preview | {"country_name": countries.name(code, str(get_locale())) if code != countries.UNKNOWN else None}


def _confirm_page(row, letter, text, sig, token: str) -> str:
    """The confirm page as first shown. Apart from the signer's own details and link it
    depends only on the letter and the signer's current choices, so it comes from the
    page cache with the details filled in."""
    preview = _shown(services.preview(sig))
    values = {"csrf": csrf_token(), "token": token, "full": preview["full"], "initials": preview["initials"]}
    if preview["affiliation"]:
        values["affiliation"] = preview["affiliation"]
    if preview["country_name"]:
        values["country"] = preview["country_name"]

    def render(csrf: str, token: str, full: str, initials: str, affiliation: str | None = None, country: str | None = None) -> str:
        form = _confirm_form(sig)
        form.public_visibility.data = sig.public_visibility
        form.bundle_visibility.data = sig.bundle_visibility
        form.updates.data = sig.updates_opt_in
        form.version.data = text.version_hash
        form.csrf_token.current_token = csrf
        shown = {"full": full, "initials": initials, "bundle_full": full, "bundle_initials": initials,
                 "affiliation": affiliation, "country": preview["country"], "country_name": country}
        # The link's token is in the form's action and the language switcher, which
        # both read it from the request's view arguments.
        real_token = request.view_args["token"]
        request.view_args["token"] = token
        try:
            return render_template("signing/confirm.html", row=row, letter=letter, text=text, form=form, sig=sig, preview=shown)
        finally:
            request.view_args["token"] = real_token

    key = ("signing.confirm", str(get_locale()), row, text.version_hash, id(letter), sig.public_visibility,
           sig.bundle_visibility, sig.updates_opt_in, tuple(values))
    return page_cache.fill(key, render, **values)


def _already_confirmed(letter_id: int):
    """A genuine confirm link whose address has signed already: said plainly, with a 200,
    to the link's holder (the only one who can reach this)."""
    row = letters.public_row_by_id(letter_id)
    letter = letters.loaded(row.slug)
    return render_template("signing/already_confirmed.html", row=row, letter=letter,
                           text=letter.text_for(str(get_locale())))


def make_blueprint() -> Blueprint:
    bp = Blueprint("signing", __name__)

    @bp.route("/<lang>/letters/<slug>/sign", methods=["GET", "POST"])
    def sign(slug: str):
        mark_sensitive()
        row, letter = _open_letter(slug)
        lang = str(get_locale())
        text = letter.text_for(lang)
        signable = letters.is_signable(row)
        if not signable:
            status = 409 if request.method == "POST" else 200
            return render_template("signing/sign.html", row=row, letter=letter, text=text, form=None, signable=False), status
        if request.method != "POST":  # GET, HEAD
            return _blank_form_page(row, letter, text, lang)
        form = SignForm(lang=lang)
        if quiet_rejection(form, "signing.sign"):
            # A script: the same answer a person gets, and nothing stored or sent.
            return redirect(url_for("signing.sent", slug=slug), code=303)
        if form.validate_on_submit():
            version = form.version.data if letters.known_version(row, text.lang, form.version.data or "") else text.version_hash
            signature_request = services.SignatureRequest(
                name=form.name.data,
                email=form.email.data,
                country=form.country.data,
                affiliation=form.affiliation.data or "",
                public_visibility=services.safest_public(form.public_visibility.data, row.public_visibility_default),
                bundle_visibility=services.safest_bundle(form.bundle_visibility.data, row.bundle_default),
                updates_opt_in=bool(form.updates.data),
                lang=lang,
                version_hash=version,
            )
            services.sign(db.session, row, signature_request)
            db.session.commit()
            return redirect(url_for("signing.sent", slug=slug), code=303)
        return render_template("signing/sign.html", row=row, letter=letter, text=text, form=form, signable=True), 400

    @bp.get("/<lang>/letters/<slug>/sign/check-your-inbox")
    def sent(slug: str):
        row, letter = _open_letter(slug)
        return render_template("signing/sent.html", row=row, letter=letter, text=letter.text_for(str(get_locale())))

    @bp.route("/<lang>/confirm/<token>", methods=["GET", "POST"])
    def confirm(token: str):
        # GET only shows: mail scanners open links, and a person whose address someone
        # else typed must not end up signed by a scanner.
        mark_sensitive()
        try:
            # One read, outside any transaction: the confirmation below re-checks the
            # row's state itself, in the statement that changes it.
            with autocommit(db.engine) as connection:
                sig = services.pending_for_token(connection, token)
        except tokens.InvalidLink:
            return render_template("signing/link_invalid.html"), 404
        except services.AlreadySigned as already:
            return _already_confirmed(already.letter_id)
        row = letters.public_row_by_id(sig.letter_id)
        letter = letters.loaded(row.slug)
        text = letter.text_for(sig.lang)
        if not letters.is_signable(row):
            return render_template("signing/sign.html", row=row, letter=letter, text=text, form=None, signable=False), 409
        if request.method != "POST":  # GET, HEAD
            return _confirm_page(row, letter, text, sig, token)
        form = _confirm_form(sig)
        if form.validate_on_submit():
            try:
                withdraw_code = services.confirm(
                    db.session, token,
                    public_visibility=form.public_visibility.data,
                    bundle_visibility=form.bundle_visibility.data,
                    updates_opt_in=bool(form.updates.data),
                    version_hash=form.version.data,
                    pending=sig,
                )
            except services.AlreadySigned:
                db.session.rollback()
                return _already_confirmed(row.id)
            db.session.commit()
            # Shown in the answer itself, not after a redirect: the withdrawal code exists
            # only here, once (a reload meets the used link, not the code).
            return render_template("signing/confirmed.html", row=row, letter=letter, text=letter.text_for(str(get_locale())),
                                   counts=letters.counts(row), withdraw_code=withdraw_code)
        preview = _shown(services.preview(sig))
        return render_template("signing/confirm.html", row=row, letter=letter, text=text, form=form, sig=sig, preview=preview), 400

    @bp.get("/<lang>/letters/<slug>/confirmed")
    def confirmed(slug: str):
        row, letter = _open_letter(slug)
        return render_template("signing/confirmed.html", row=row, letter=letter, text=letter.text_for(str(get_locale())),
                               counts=letters.counts(row))

    @bp.get("/<lang>/letters/<slug>/withdrawn")
    def withdrawn(slug: str):
        mark_sensitive()
        row, letter = _open_letter(slug)
        return render_template("signing/withdrawn.html", row=row, letter=letter, text=letter.text_for(str(get_locale())))

    @bp.route("/<lang>/withdraw/<token>", methods=["GET", "POST"])
    def withdraw(token: str):
        mark_sensitive()
        try:
            sig = services.for_manage_token(db.session, token)
        except tokens.InvalidLink:
            return render_template("signing/link_invalid.html", withdrawn=True), 404
        row = db.session.get(Letter, sig.letter_id)
        letter = letters.loaded(row.slug)
        form = WithdrawForm()
        if request.method == "POST" and form.validate_on_submit():
            try:
                services.withdraw(db.session, token)
            except tokens.InvalidLink:
                db.session.rollback()
                return render_template("signing/link_invalid.html", withdrawn=True), 404
            db.session.commit()
            # Redirect after the POST, so that a refresh does not send it again.
            return redirect(url_for("signing.withdrawn", slug=row.slug), code=303)
        status = 400 if request.method == "POST" else 200
        return render_template("signing/withdraw.html", row=row, letter=letter, text=letter.text_for(str(get_locale())),
                               form=form, sig=sig), status

    return bp
