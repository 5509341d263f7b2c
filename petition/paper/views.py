"""Console pages for paper signatures: upload a CSV, see the preview, confirm the import."""
from __future__ import annotations

import base64
import binascii

from flask import Blueprint, redirect, render_template, url_for
from flask_babel import get_locale
from flask_login import current_user

from petition import disclosure
from petition.extensions import db
from petition.lead_pages.guard import guard_console_pages
from petition.lead_pages.permissions import letter_for_current_user
from petition.letters import services as letters
from petition.paper import services
from petition.paper.forms import CONSENT_STATEMENT, ImportForm, UploadForm

PREVIEW_ROWS = 200


def _title(row) -> str:
    loaded = letters.loaded(row.slug)
    return loaded.text_for(str(get_locale())).front.title if loaded else row.slug


bp = Blueprint("paper", __name__)
guard_console_pages(bp)


def _page(row, form=None, status=200):
    return render_template("paper/console.html", row=row, title=_title(row), form=form or UploadForm(formdata=None),
                           imports=services.imports_of(db.session, row.id),
                           total=services.paper_count(db.session, row.id), columns=services.COLUMNS), status


def _preview(row, parsed, form=None, status=200, consent_error=False):
    form = form or ImportForm(formdata=None)
    return render_template("paper/preview.html", row=row, title=_title(row), parsed=parsed, form=form,
                           rows=parsed.rows[:PREVIEW_ROWS], hidden_rows=max(0, len(parsed.rows) - PREVIEW_ROWS),
                           named=sum(1 for r in parsed.rows if disclosure.named_in_bundle(r.bundle_visibility)),
                           consent_error=consent_error), status


@bp.get("/<lang>/console/letters/<slug>/paper")
def console(slug: str):
    return _page(letter_for_current_user(slug))


@bp.post("/<lang>/console/letters/<slug>/paper/preview")
def preview(slug: str):
    row = letter_for_current_user(slug)
    upload = UploadForm()
    if not upload.validate_on_submit():
        return _page(row, upload, 400)
    data = upload.file.data.read(services.MAX_BYTES + 1)
    parsed = services.parse(data)
    form = ImportForm(formdata=None)
    form.csv_data.data = base64.b64encode(data).decode("ascii") if parsed.ok else ""
    return _preview(row, parsed, form, 200 if parsed.ok else 400)


@bp.post("/<lang>/console/letters/<slug>/paper/import")
def import_file(slug: str):
    row = letter_for_current_user(slug)
    form = ImportForm()
    try:
        data = base64.b64decode(form.csv_data.data or "", validate=True)
    except (binascii.Error, ValueError):
        data = b""
    parsed = services.parse(data)
    if not form.validate_on_submit() or not parsed.ok or not form.consent.data:
        return _preview(row, parsed, form, 400, consent_error=parsed.ok and not form.consent.data)
    services.import_rows(db.session, row.id, parsed, actor=current_user, consent_statement=str(CONSENT_STATEMENT),
                         consent_given=True)
    db.session.commit()
    return redirect(url_for("paper.console", slug=row.slug, _anchor="imports"), code=303)
