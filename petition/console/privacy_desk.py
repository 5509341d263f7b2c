"""The privacy desk: administrators answer a person's request (export or erase) as
`flask --app wsgi privacy export|erase` does, without a shell.

The address is typed into POST forms only: it is never in a URL (so never in an access
log or the browser's history), never in the session cookie, never in the audit log
(which records who answered, when, and counts). Looking up is a step of its own, written
to the audit log, and erasing needs a ticked confirmation on that page.
"""
from __future__ import annotations

from flask import Blueprint, Response, redirect, render_template, url_for
from flask_babel import gettext as _, ngettext
from flask_login import current_user

from petition.console.forms import PrivacyEraseForm, PrivacyRequestForm
from petition.extensions import db
from petition.lead_pages.guard import guard_console_pages
from petition.lead_pages.notices import done
from petition.lead_pages.permissions import require_admin
from petition.privacy import services

NOT_AN_ADDRESS = "not an email address"  # services' ValueError


bp = Blueprint("privacy_desk", __name__)
guard_console_pages(bp)


@bp.before_request
def _administrators_only():
    require_admin()


@bp.after_request
def _no_store(response):
    response.headers["Cache-Control"] = "no-store"
    return response


def _form_page(form, status=200):
    return render_template("console/privacy.html", form=form), status


@bp.get("/<lang>/console/privacy")
def desk():
    # Never reads the query string: an address put into the URL by hand is not used.
    return _form_page(PrivacyRequestForm(formdata=None))


def _for_address(action) -> tuple[PrivacyRequestForm, object]:
    """The posted form, and action(session, email, actor) for the address it names,
    committed; None for the result, with the reason on the form, if the form or the
    address is not valid."""
    form = PrivacyRequestForm()
    if not form.validate_on_submit():
        return form, None
    try:
        result = action(db.session, form.email.data, current_user)
    except ValueError:
        form.email.errors = [_("This is not an email address.")]
        return form, None
    db.session.commit()
    return form, result


@bp.post("/<lang>/console/privacy")
def find():
    form, held = _for_address(services.lookup)
    if held is None:
        return _form_page(form, 400)
    return render_template("console/privacy_found.html", held=held, email=form.email.data,
                           export_form=PrivacyRequestForm(formdata=None, email=form.email.data),
                           erase_form=PrivacyEraseForm(formdata=None, email=form.email.data))


@bp.post("/<lang>/console/privacy/export")
def export():
    form, result = _for_address(services.export)
    if result is None:
        return _form_page(form, 400)
    response = Response(result.as_json(), mimetype="application/json")
    # A neutral file name: the address is not in it either.
    response.headers["Content-Disposition"] = 'attachment; filename="data-request-export.json"'
    return response


@bp.post("/<lang>/console/privacy/erase")
def erase():
    form = PrivacyEraseForm()
    if not form.validate_on_submit():
        held = []
        if form.email.data and not form.email.errors:
            try:
                held = services.lookup(db.session, form.email.data, current_user)
                db.session.commit()
            except ValueError:
                return _form_page(PrivacyRequestForm(formdata=None), 400)
        return render_template("console/privacy_found.html", held=held, email=form.email.data,
                               export_form=PrivacyRequestForm(formdata=None, email=form.email.data),
                               erase_form=form), 400
    try:
        report = services.erase(db.session, form.email.data, current_user)
    except ValueError:
        return _form_page(PrivacyRequestForm(formdata=None), 400)
    db.session.commit()
    done(_("Deleted: %(signatures)s, %(organisations)s, %(emails)s.",
           signatures=ngettext("%(num)s signature", "%(num)s signatures", report.signatures_deleted),
           organisations=ngettext("%(num)s organisation contact", "%(num)s organisation contacts",
                                  report.organisations_deleted + report.organisations_scrubbed),
           emails=ngettext("%(num)s queued email", "%(num)s queued emails", report.queued_emails_deleted)))
    return redirect(url_for("privacy_desk.desk"), code=303)
