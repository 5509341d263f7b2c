"""Console pages for bundles (login + TOTP). Deliveries, and the public receipt check,
are petition.deliveries'."""
from __future__ import annotations

import itertools
import json

from flask import Blueprint, Response, abort, redirect, render_template, stream_with_context, url_for
from flask_babel import get_locale, gettext as _
from flask_login import current_user
from sqlalchemy import select

from petition import audit
from petition.bundles import services
from petition.bundles.forms import BuildForm
from petition.bundles.jobs import BUILD_JOB
from petition.bundles.signing_keys import SigningKeyMissing
from petition.extensions import db
from petition.forms import options
from petition.i18n import LANGUAGES
from petition.jobs import runner
from petition.jobs.models import Job
from petition.lead_pages.guard import guard_console_pages
from petition.lead_pages.notices import done
from petition.lead_pages.permissions import can_access, letter_for_current_user, visible_letters
from petition.letters import services as letters
from petition.letters.models import Letter


def _title(row: Letter, lang: str) -> str:
    loaded = letters.loaded(row.slug)
    return loaded.text_for(lang).front.title if loaded else row.slug


def _jobs(row: Letter, limit: int = 10) -> list[dict]:
    jobs = db.session.scalars(
        select(Job).where(Job.kind == BUILD_JOB, Job.letter_id == row.id).order_by(Job.id.desc()).limit(limit))
    out = []
    for job in jobs:
        payload = json.loads(job.payload or "{}")
        result = json.loads(job.result) if job.result else {}
        out.append({"job": job, "lang": payload.get("lang"), "bundle_id": result.get("bundle_id"),
                    "failure": _failure(job)})
    return out


def _failure(job: Job) -> str | None:
    """What a lead reads about a failed build: a sentence, never an exception name or a
    server path (those are in the worker's log, for the operator)."""
    if job.status != "failed":
        return None
    if (job.message or "").startswith(SigningKeyMissing.__name__ + ":"):
        return _("Bundles cannot be signed yet: the server has no signing key. Ask the site's operator "
                 "to install one (BUNDLE_PKCS12_PATH, described in README).")
    return _("The build failed on the server; its log has the details. Try again, or ask the site's operator.")


bp = Blueprint("bundles", __name__)
guard_console_pages(bp)


def _page(row: Letter, *, build_form=None, status=200):
    lang = str(get_locale())
    bundles = services.bundles_of(db.session, row.id)
    letter = letters.loaded(row.slug)
    languages = letter.languages if letter else []
    build_form = build_form or BuildForm(formdata=None)
    build_form.lang.choices = options((code, LANGUAGES[code]["name"]) for code in languages if code in LANGUAGES)
    if not build_form.lang.data:
        build_form.lang.data = lang if lang in languages else (languages[0] if languages else None)
    jobs = _jobs(row)
    busy = any(item["job"].status in ("queued", "running") for item in jobs)
    return render_template(
        "bundles/console_letter.html", row=row, title=_title(row, lang), bundles=bundles, jobs=jobs, busy=busy,
        build_form=build_form,
    ), status


@bp.get("/<lang>/console/bundles", defaults={"slug": None})
@bp.get("/<lang>/console/letters/<slug>/bundles")
def console_index(slug: str | None):
    if slug is None:
        lang = str(get_locale())
        rows = [row for row in visible_letters(current_user) if can_access(current_user, row)]
        summaries = [{"row": row, "title": _title(row, lang), "bundles": len(services.bundles_of(db.session, row.id))}
                     for row in rows]
        return render_template("bundles/console_index.html", summaries=summaries)
    return _page(letter_for_current_user(slug))

# The console's letter menu links to this name.
bp.add_url_rule("/<lang>/console/letters/<slug>/bundles", endpoint="console_letter", view_func=console_index)


@bp.post("/<lang>/console/letters/<slug>/bundles/build")
def request_build(slug: str):
    row = letter_for_current_user(slug)
    form = BuildForm()
    letter = letters.loaded(row.slug)
    form.lang.choices = options((code, code) for code in (letter.languages if letter else []))
    if not form.validate_on_submit():
        return _page(row, build_form=form, status=400)
    # A second request for the same bundle while one is queued or running gets that job.
    job = runner.enqueue(db.session, BUILD_JOB, {"slug": row.slug, "lang": form.lang.data},
                         letter_id=row.id, requested_by=current_user.id,
                         coalesce_key=f"{BUILD_JOB}:{row.id}:{form.lang.data}")
    audit.record(db.session, current_user, "bundle.request", row.id, lang=form.lang.data)
    db.session.commit()
    done(_("Bundle requested: this page shows its progress."))
    return redirect(url_for("bundles.console_index", slug=row.slug, _anchor=f"job-{job.id}"), code=303)


def _downloaded(slug: str, bundle_id: str, part: str):
    """The letter and bundle a lead downloads a part of; the download is in the audit log
    before a byte is sent."""
    row = letter_for_current_user(slug)
    bundle = services.bundle_of(db.session, row.id, bundle_id) or abort(404)
    audit.record(db.session, current_user, "bundle.download", row.id, bundle=bundle.id, part=part)
    db.session.commit()
    return row, bundle


@bp.get("/<lang>/console/letters/<slug>/bundles/<bundle_id>.pdf")
def download_pdf(slug: str, bundle_id: str):
    row, bundle = _downloaded(slug, bundle_id, "pdf")
    # Decrypted as it is sent, a chunk at a time; the first one before the answer
    # starts, so that a missing key is an error page, not a cut-off file.
    chunks = services.pdf_chunks(db.session, bundle)
    first = next(chunks)
    body = stream_with_context(itertools.chain((first,), chunks))
    response = _attachment(body, "application/pdf", services.file_name(row, bundle))
    response.content_length = bundle.size_bytes
    return response


@bp.get("/<lang>/console/letters/<slug>/bundles/<bundle_id>.manifest.json")
def download_manifest(slug: str, bundle_id: str):
    row, bundle = _downloaded(slug, bundle_id, "manifest")
    return _attachment(stream_with_context(services.manifest_chunks(db.session, bundle)), "application/json",
                       services.file_name(row, bundle, ".pdf.manifest.json"))


def _attachment(data, mimetype: str, name: str) -> Response:
    response = Response(data, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    response.headers["Cache-Control"] = "no-store"
    return response
