"""The signer's side of updates: the unsubscribe page its link opens, and the RFC 8058
one-click unsubscribe a mail client posts."""
from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, request, url_for

from petition import tokens
from petition.extensions import csrf, db
from petition.forms import Form
from petition.letters import services as letters
from petition.letters.models import Letter
from petition.security.headers import mark_sensitive
from petition.signing.models import Signature
from petition.updates.services import for_unsubscribe_token, unsubscribe

bp = Blueprint("updates", __name__)


def _page(sig: Signature, done: bool, form=None, status: int = 200):
    row = db.session.get(Letter, sig.letter_id)
    loaded = letters.loaded(row.slug)
    title = loaded.text_for(sig.lang).front.title if loaded else row.slug
    return render_template("updates/unsubscribe.html", row=row, title=title, done=done, form=form), status


@bp.route("/<lang>/updates/unsubscribe/<token>", methods=["GET", "POST"], endpoint="unsubscribe")
def unsubscribe_page(token: str):
    mark_sensitive()
    form = Form()
    try:
        sig = for_unsubscribe_token(db.session, token)
    except tokens.InvalidLink:
        return render_template("updates/unsubscribe_invalid.html"), 404
    if request.method == "POST":
        if not form.validate_on_submit():
            return _page(sig, False, form, 400)
        unsubscribe(db.session, token)
        db.session.commit()
        return _page(sig, True)
    return _page(sig, not sig.updates_opt_in, form)


@bp.route("/<lang>/updates/unsubscribe/<token>/one-click", methods=["GET", "POST"])
@csrf.exempt
def one_click(token: str):
    """RFC 8058: the mail client POSTs List-Unsubscribe=One-Click, with no cookie and
    no CSRF token (the signed token is the capability). A GET only shows the page."""
    mark_sensitive()
    if request.method == "GET":
        return redirect(url_for("updates.unsubscribe", token=token), code=303)
    if request.form.get("List-Unsubscribe") != "One-Click":
        abort(400)
    try:
        unsubscribe(db.session, token)
    except tokens.InvalidLink:
        db.session.rollback()
        abort(404)
    db.session.commit()
    return "unsubscribed\n", 200, {"Content-Type": "text/plain; charset=utf-8"}
