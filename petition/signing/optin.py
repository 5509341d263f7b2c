"""The double opt-in pages, once for every kind of signer.

    sign (form) -> check your inbox -> confirm (GET shows, POST confirms) -> confirmed
    withdraw (GET asks, POST removes) -> withdrawn

A kind of signer (a person, an organisation; a group or a paper batch would be one more)
is a SignerKind: its area (blueprint and template folder), its forms, and the service
functions that file its request, read and confirm its link and remove it (by its link,
or by its withdrawal code). Everything else is here, the same for every kind: the status
codes, the quiet rejection of scripts, one read of a confirm link outside any
transaction, confirmation in the request's transaction (committed here), and the
withdrawal's redirect. Each area's views.py registers its kind (register: the
withdraw-with-a-code page reaches every kind's rows through it, without importing the
areas) and gives its URLs to add_pages; its templates extend templates/signing/optin/.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from flask import Blueprint, abort, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_wtf.csrf import generate_csrf
from sqlalchemy import Connection, Row
from sqlalchemy.orm import Session

from petition import page_cache, tokens
from petition.database import autocommit
from petition.extensions import db
from petition.forms import Form
from petition.letters import services as letters
from petition.letters.models import Letter
from petition.security.headers import mark_sensitive
from petition.security.quiet import issue_stamp, quiet_rejection
from petition.signing.forms import WithdrawForm
from petition.signing.intake import AlreadySigned


def _nothing(*_args) -> dict:
    return {}


@dataclass(frozen=True)
class SignerKind:
    """What differs between kinds of signer; see the module's docstring for the rest."""

    area: str  # blueprint name and template folder: "signing" -> signing.confirm, signing/confirm.html
    form: Callable[..., Form]  # the sign form, built with lang=
    request_from: Callable[[Form, object, object, str], object]  # (form, letter row, text, lang) -> what the intake files
    sign: Callable[[Session, Letter, object], None]  # files it (services.sign)
    pending_for_token: Callable[[Session | Connection, str], Row]  # a confirm link's pending row
    confirm_form: Callable[[Row], Form]  # the confirm page's form for that row
    confirm: Callable[[Session, str, Form, Row], str]  # confirms; returns the one-time withdrawal code
    confirm_details: Callable[[Row], dict]  # what the confirm page shows of the row
    link_holder: Callable[[Session, str], object]  # a withdraw link's row (services.for_manage_token)
    withdraw: Callable[[Session, str], Letter]  # removes what the withdraw link holds
    # The model whose rows keep a withdrawal code's hash (withdraw_code_hash, see
    # withdraw_codes.py): a link's or a code's holder is one of its rows.
    code_holder: type
    remove: Callable[[Session, object], Letter]  # what withdraw does, for a code's holder
    # The empty sign form's defaults, set on a blank form (a person's visibility choices).
    blank_form: Callable[[Form, object, object], None] = _nothing
    # The confirm page as first shown (GET), if the kind has a quicker way than rendering it.
    confirm_page: Callable | None = None
    # Further values for the confirmed page (a person's sees the count).
    confirmed_details: Callable[[object], dict] = field(default=_nothing)
    # What the withdraw-with-a-code page says of the row a code withdraws (an
    # organisation's name).
    code_details: Callable[[object], dict] = field(default=_nothing)

    def template(self, page: str) -> str:
        return f"{self.area}/{page}.html"

    def endpoint(self, view: str) -> str:
        return f"{self.area}.{view}"


# The kinds the areas serve, by area: the pages every kind shares that are not the
# kind's own (withdraw_code_views.py) look here instead of importing the areas.
KINDS: dict[str, SignerKind] = {}


def register(kind: SignerKind) -> SignerKind:
    KINDS[kind.area] = kind
    return kind


def _render(kind: SignerKind, page: str, **values) -> str:
    """The kind's template for page; every page gets the kind (its templates build their
    own URLs with kind.endpoint)."""
    return render_template(kind.template(page), kind=kind, **values)


def _open_letter(slug: str):
    found = letters.public_letter(slug)
    if found is None:
        abort(404)
    return found


def _page_text(letter):
    return letter.text_for(str(get_locale()))


def _closed(kind: SignerKind, row, letter, text, status: int):
    return _render(kind, "sign", row=row, letter=letter, text=text, form=None, signable=False), status


def _blank_form_page(kind: SignerKind, row, letter, text, lang: str) -> str:
    """The empty sign form: the same for everyone on this path but for the CSRF token and
    the fill-time stamp, so it comes from the page cache."""

    def render(csrf: str, stamp: str) -> str:
        form = kind.form(lang=lang)
        kind.blank_form(form, row, text)
        form.csrf_token.current_token = csrf
        form.started.data = stamp
        return _render(kind, "sign", row=row, letter=letter, text=text, form=form, signable=True)

    key = (kind.endpoint("sign"), request.path, row, text.version_hash, id(letter))
    return page_cache.fill(key, render, csrf=generate_csrf(), stamp=issue_stamp())


def sign(kind: SignerKind, slug: str):
    mark_sensitive()
    row, letter = _open_letter(slug)
    lang = str(get_locale())
    text = letter.text_for(lang)
    if not letters.is_signable(row):
        return _closed(kind, row, letter, text, 409 if request.method == "POST" else 200)
    if request.method != "POST":  # GET, HEAD
        return _blank_form_page(kind, row, letter, text, lang)
    form = kind.form(lang=lang)
    if quiet_rejection(form, kind.endpoint("sign")):
        # A script: the same answer a person gets, and nothing stored or sent.
        return redirect(url_for(kind.endpoint("sent"), slug=slug), code=303)
    if form.validate_on_submit():
        kind.sign(db.session, row, kind.request_from(form, row, text, lang))
        db.session.commit()
        return redirect(url_for(kind.endpoint("sent"), slug=slug), code=303)
    return _render(kind, "sign", row=row, letter=letter, text=text, form=form, signable=True), 400


def sent(kind: SignerKind, slug: str):
    row, letter = _open_letter(slug)
    return _render(kind, "sent", row=row, letter=letter, text=_page_text(letter))


def _already_confirmed(kind: SignerKind, letter_id: int):
    """A genuine confirm link whose address has signed already: said plainly, with a 200,
    to the link's holder (the only one who can reach this)."""
    row = letters.public_row_by_id(letter_id)
    letter = letters.loaded(row.slug)
    return _render(kind, "already_confirmed", row=row, letter=letter, text=_page_text(letter))


def confirm(kind: SignerKind, token: str):
    # GET only shows: mail scanners open links, and a person whose address someone else
    # typed must not end up signed by a scanner.
    mark_sensitive()
    try:
        # One read, outside any transaction: the confirmation below re-checks the row's
        # state itself, in the statement that changes it.
        with autocommit(db.engine) as connection:
            pending = kind.pending_for_token(connection, token)
    except tokens.InvalidLink:
        return _render(kind, "link_invalid"), 404
    except AlreadySigned as already:
        return _already_confirmed(kind, already.letter_id)
    row = letters.public_row_by_id(pending.letter_id)
    letter = letters.loaded(row.slug)
    text = letter.text_for(pending.lang)
    if not letters.is_signable(row):
        return _closed(kind, row, letter, text, 409)
    if request.method != "POST":  # GET, HEAD
        if kind.confirm_page is not None:
            return kind.confirm_page(kind, row, letter, text, pending, token)
        return confirm_page(kind, row, letter, text, token, kind.confirm_form(pending), kind.confirm_details(pending))
    form = kind.confirm_form(pending)
    if not form.validate_on_submit():
        return confirm_page(kind, row, letter, text, token, form, kind.confirm_details(pending)), 400
    try:
        withdraw_code = kind.confirm(db.session, token, form, pending)
    except AlreadySigned:
        db.session.rollback()
        return _already_confirmed(kind, row.id)
    db.session.commit()
    # Shown in the answer itself, not after a redirect: the withdrawal code exists only
    # here, once (a reload meets the used link, not the code).
    return _render(kind, "confirmed", row=row, letter=letter, text=_page_text(letter),
                           withdraw_code=withdraw_code, **kind.confirmed_details(row))


def confirm_page(kind: SignerKind, row, letter, text, token: str, form: Form, details: dict) -> str:
    """The confirm page. The link's token is passed in (for the form's action and the
    language switcher), not read from the request, so a cached page (signing/views.py)
    can be rendered with a placeholder in its place without touching the request."""
    return _render(kind, "confirm", row=row, letter=letter, text=text, form=form, token=token,
                           page_args={"token": token}, **details)


def confirmed(kind: SignerKind, slug: str):
    row, letter = _open_letter(slug)
    return _render(kind, "confirmed", row=row, letter=letter, text=_page_text(letter),
                           **kind.confirmed_details(row))


def withdrawn(kind: SignerKind, slug: str):
    mark_sensitive()
    row, letter = _open_letter(slug)
    return _render(kind, "withdrawn", row=row, letter=letter, text=_page_text(letter))


def withdraw(kind: SignerKind, token: str):
    mark_sensitive()
    try:
        holder = kind.link_holder(db.session, token)
    except tokens.InvalidLink:
        return _render(kind, "link_invalid", withdrawn=True), 404
    row = db.session.get(Letter, holder.letter_id)
    letter = letters.loaded(row.slug)
    form = WithdrawForm()
    if request.method == "POST" and form.validate_on_submit():
        try:
            kind.withdraw(db.session, token)
        except tokens.InvalidLink:
            db.session.rollback()
            return _render(kind, "link_invalid", withdrawn=True), 404
        db.session.commit()
        # Redirect after the POST, so that a refresh does not send it again.
        return redirect(url_for(kind.endpoint("withdrawn"), slug=row.slug), code=303)
    status = 400 if request.method == "POST" else 200
    return _render(kind, "withdraw", row=row, letter=letter, text=_page_text(letter), form=form,
                           signer=holder, token=token), status


# The flow's pages: each one's view and the methods it answers (GET also answers HEAD).
_PAGES = {
    "sign": (sign, ["GET", "POST"]),
    "sent": (sent, ["GET"]),
    "confirm": (confirm, ["GET", "POST"]),
    "confirmed": (confirmed, ["GET"]),
    "withdrawn": (withdrawn, ["GET"]),
    "withdraw": (withdraw, ["GET", "POST"]),
}


def add_pages(bp: Blueprint, kind: SignerKind, **paths: str) -> None:
    """The flow's pages for kind on its blueprint, one path for each of _PAGES: sign, sent,
    confirmed and withdrawn take the letter's <slug>, confirm and withdraw the mailed
    link's <token>. Each page's endpoint is its name (signing.sign, organisations.confirm)."""
    if set(paths) != set(_PAGES):
        raise ValueError(f"{kind.area}: a path for each of {sorted(_PAGES)}, not {sorted(paths)}")
    for page, path in paths.items():
        flow_view, methods = _PAGES[page]
        bp.add_url_rule(path, page, _kind_view(kind, page, flow_view), methods=methods)


def _kind_view(kind: SignerKind, page: str, flow_view: Callable) -> Callable:
    def view(**arguments):
        return flow_view(kind, **arguments)

    # A name of its own for each kind's page: Flask-Limiter keeps a view's limits under
    # its module and name, and signing.sign and organisations.sign have different limits.
    view.__name__ = view.__qualname__ = f"{kind.area}_{page}"
    return view
