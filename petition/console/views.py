"""The campaign leads' console. Server-rendered, no JavaScript needed, every page behind
login + TOTP, every letter URL checked with permissions.letter_for_current_user."""
from __future__ import annotations

import time
from datetime import datetime, timezone

from flask import (Blueprint, Response, abort, current_app, g, redirect, render_template, request, session,
                   stream_with_context, url_for)
from flask_babel import get_locale, gettext as _, ngettext
from flask_login import current_user, login_user, logout_user
from sqlalchemy import select

from petition import audit, disclosure
from petition.accounts import User
from petition.audit import AuditEntry
from petition.console import auth, exports, signatures as lead_signatures, stats
from petition.console.forms import CodeForm, HideForm, LoginForm, PlainForm, StatusForm, UpdateForm
from petition.extensions import db
from petition.lead_pages.confirm import confirmation_page, confirmed
from petition.lead_pages.guard import AUTH_AT, guard_console_pages
from petition.lead_pages.notices import done
from petition.lead_pages.permissions import letter_for_current_user, require_admin, visible_letters
from petition.letters import services as letters
from petition.letters.models import Letter
from petition.organisations import queries as org_queries, services as org_services
from petition.organisations.forms import RejectForm
from petition.security.keys import client_key
from petition.security.numbers import int_arg
from petition.security.redirects import local_path
from petition.signing import services as signing
from petition.updates import services as updates

PENDING = "console_pending"
PUBLIC_ENDPOINTS = {"console.login", "console.login_totp"}


def _title(row: Letter) -> str:
    loaded = letters.loaded(row.slug)
    return loaded.text_for(str(get_locale())).front.title if loaded else row.slug


bp = Blueprint("console", __name__)
guard_console_pages(bp, public=PUBLIC_ENDPOINTS)


@bp.app_context_processor
def _console_context():
    return {"console_letter_title": _title}


# ---- logging in -----------------------------------------------------------------------

@bp.route("/<lang>/console/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("console.index"))
    form = LoginForm()
    error = None
    if request.method == "POST":
        if form.validate_on_submit():
            result = auth.check_password(db.session, form.email.data, form.password.data, client_key())
            db.session.commit()
            if result.pending is not None:
                session.pop(PENDING, None)
                session[PENDING] = {
                    "who": result.pending,
                    "exp": int(time.time()) + auth.PENDING_SECONDS,  # whole seconds: a fixed width
                    "next": local_path(request.args.get("next")),
                }
                return redirect(url_for("console.login_totp"), code=303)
            error = _("The email address, password or code is not right, or the account is locked for a while after too many attempts. Please try again in a few minutes.")
        return render_template("console/login.html", form=form, error=error), 401 if error else 400
    return render_template("console/login.html", form=form, error=None)


@bp.route("/<lang>/console/login/totp", methods=["GET", "POST"])
def login_totp():
    pending = session.get(PENDING)
    who = auth.read_pending(pending.get("who")) if isinstance(pending, dict) else None
    if who is None or pending.get("exp", 0) < time.time():
        session.pop(PENDING, None)
        return redirect(url_for("console.login"), code=303)
    # Whether the password was right stays unsaid here when the password step
    # withheld its verdict: the same page, the same answer either way.
    user = db.session.get(User, who.user_id) if who.user_id else None
    usable = (who.password_ok and user is not None and user.active
              and user.session_version == who.session_version)
    if not who.withheld and not usable:
        session.pop(PENDING, None)
        return redirect(url_for("console.login"), code=303)
    form = CodeForm()
    if request.method == "POST":
        if form.validate_on_submit():
            if who.withheld:
                ok = auth.check_withheld_code(db.session, user if usable else None, usable, form.code.data)
            else:
                ok = auth.check_code(db.session, user, form.code.data)
            db.session.commit()
            if ok:
                target = pending.get("next")
                auth.forget_failures(user, client_key())
                session.clear()  # a fresh session at the privilege change
                g.pop("csrf_token", None)  # Flask-WTF caches the old session's token here
                login_user(user)
                session.permanent = True
                session[AUTH_AT] = time.time()
                return redirect(local_path(target) or url_for("console.index"), code=303)
            if who.withheld or auth.is_locked(user):
                # A withheld verdict is good for one code: the next try starts with
                # the password again (and is counted again).
                session.pop(PENDING, None)
            error = _("The email address, password or code is not right, or the account is locked for a while after too many attempts. Please try again in a few minutes.")
            return render_template("console/login_totp.html", form=form, error=error), 401
        return render_template("console/login_totp.html", form=form, error=None), 400
    return render_template("console/login_totp.html", form=form, error=None)


@bp.post("/<lang>/console/logout")
def logout():
    form = PlainForm()
    if not form.validate_on_submit():
        abort(400)
    if current_user.is_authenticated:
        # End it on the server: a copy of this cookie (taken from a shared computer,
        # a backup, a proxy) stops matching the account's session version.
        auth.end_sessions(current_user)
        db.session.commit()
    logout_user()
    session.clear()
    g.pop("csrf_token", None)
    return redirect(url_for("console.login"), code=303)


# ---- overview -------------------------------------------------------------------------

@bp.get("/<lang>/console/")
def index():
    rows = visible_letters(current_user)
    summaries = [{
        "row": row,
        "title": _title(row),
        "counts": letters.counts(row),
        "awaiting": org_queries.awaiting_count(row.id),
    } for row in rows]
    return render_template("console/index.html", summaries=summaries)


@bp.get("/<lang>/console/letters/<slug>/")
def letter(slug: str):
    row = letter_for_current_user(slug)
    countries = disclosure.group_small_counts(stats.by_country(db.session, row.id))
    languages = sorted(stats.by_language(db.session, row.id).items(), key=lambda p: (-p[1], p[0]))
    hourly = stats.hourly_rates(db.session, row.id)
    daily = stats.daily_confirmed(db.session, row.id)
    spike_min = getattr(current_app.config["PETITION"], "SPIKE_MIN_COUNT", stats.SPIKE_MIN)
    return render_template(
        "console/letter.html", row=row, title=_title(row), counts=letters.counts(row),
        chart=stats.over_time(daily), chart_narrow=stats.over_time(daily, width=340, height=300),
        countries=countries, by_language=languages, hourly=hourly,
        last_day={"requests": sum(h.requests for h in hourly[-24:]), "confirmed": sum(h.confirmed for h in hourly[-24:])},
        spikes=stats.domain_spikes(db.session, row.id, min_count=spike_min),
        spike_min=spike_min,
        awaiting=org_queries.awaiting_count(row.id), status_form=StatusForm(),
        signable=letters.is_signable(row), threshold=disclosure.SMALL_GROUP, other_key=disclosure.OTHER,
    )


@bp.post("/<lang>/console/letters/<slug>/status")
def set_status(slug: str):
    row = letter_for_current_user(slug)
    form = StatusForm()
    if not form.validate_on_submit():
        abort(400)
    before = row.status
    if row.status == "delivered" or before == form.status.data:
        return redirect(url_for("console.letter", slug=slug), code=303)
    if form.status.data == "closed" and not confirmed():
        return confirmation_page(
            title=_("Close this letter?"),
            message=_("The letter stops taking signatures at once, and people who signed but have not "
                      "confirmed yet can no longer confirm. Deliveries are not affected."),
            action=url_for("console.set_status", slug=slug), back=url_for("console.letter", slug=slug),
            button=_("Close the letter"), fields={"status": "closed"}, row=row, letter_title=_title(row))
    letters.set_status(row, form.status.data)
    audit.record(db.session, current_user, "letter.status", row.id, before=before, after=row.status)
    db.session.commit()
    done(_("The letter is open for signatures.") if row.status == "open"
         else _("The letter is closed: it takes no new signatures."))
    return redirect(url_for("console.letter", slug=slug), code=303)


# ---- organisations ----------------------------------------------------------------------

def _organisations_page(row: Letter, failed: RejectForm | None = None, failed_id: int | None = None,
                        status: int = 200):
    awaiting = org_queries.by_status(row.id, "awaiting")
    audit.record(db.session, current_user, "organisations.view", row.id, count=len(awaiting))
    db.session.commit()

    def reject_form(org):
        return failed if failed is not None and org.id == failed_id else RejectForm(prefix=f"r{org.id}")

    return render_template(
        "console/organisations.html", row=row, title=_title(row),
        awaiting=[(org, org_services.contact(org)) for org in awaiting],
        approved=org_queries.by_status(row.id, "approved"),
        rejected=org_queries.by_status(row.id, "rejected"),
        plain=PlainForm(), reject_form=reject_form,
    ), status


@bp.get("/<lang>/console/letters/<slug>/organisations")
def organisations(slug: str):
    return _organisations_page(letter_for_current_user(slug))


@bp.post("/<lang>/console/letters/<slug>/organisations/<int:org_id>/approve")
def approve_organisation(slug: str, org_id: int):
    row = letter_for_current_user(slug)
    org = org_queries.get(row.id, org_id) or abort(404)
    if not PlainForm().validate_on_submit():
        abort(400)
    if not confirmed():
        return confirmation_page(
            title=_("Approve this organisation?"),
            message=_("%(name)s then appears on the letter's public page and in its bundles, and its contact "
                      "is told by email. This cannot be undone from the console.", name=org.name),
            action=url_for("console.approve_organisation", slug=slug, org_id=org.id),
            back=url_for("console.organisations", slug=slug), button=_("Approve"), row=row,
            letter_title=_title(row))
    return _decided(slug, lambda: org_services.approve(db.session, org, current_user),
                    _("Organisation approved: it now appears on the letter."))


@bp.post("/<lang>/console/letters/<slug>/organisations/<int:org_id>/reject")
def reject_organisation(slug: str, org_id: int):
    row = letter_for_current_user(slug)
    org = org_queries.get(row.id, org_id) or abort(404)
    form = RejectForm(prefix=f"r{org.id}")
    if not form.validate_on_submit():
        return _organisations_page(row, form, org.id, 400)
    if not confirmed():
        return confirmation_page(
            title=_("Reject this organisation?"),
            message=_("%(name)s is not added to the letter, and its contact is sent this reason by email. "
                      "This cannot be undone.", name=org.name),
            details=[form.reason.data], fields={form.reason.name: form.reason.data},
            action=url_for("console.reject_organisation", slug=slug, org_id=org.id),
            back=url_for("console.organisations", slug=slug), button=_("Reject"), row=row,
            letter_title=_title(row))
    return _decided(slug, lambda: org_services.reject(db.session, org, current_user, form.reason.data),
                    _("Organisation rejected."))


def _decided(slug: str, decide, notice: str):
    """Carry out a confirmed decision on an organisation and go back to the list; 409 if
    it was decided meanwhile (another lead, another tab)."""
    try:
        decide()
    except org_services.NotDecidable:
        db.session.rollback()
        abort(409)
    db.session.commit()
    done(notice)
    return redirect(url_for("console.organisations", slug=slug), code=303)


# ---- individual signatures --------------------------------------------------------------

@bp.get("/<lang>/console/letters/<slug>/signatures")
def signatures(slug: str):
    row = letter_for_current_user(slug)
    query = (request.args.get("q") or "").strip()[:100]
    raw_id = (request.args.get("id") or "").strip()[:40]
    signature_id = int_arg("id")
    hidden_only = request.args.get("hidden") == "1"
    before = int_arg("before")
    rows, more = lead_signatures.search(db.session, row.id, query=query, signature_id=signature_id,
                                        hidden_only=hidden_only, before=before)
    audit.record(db.session, current_user, "signatures.view", row.id, shown=len(rows),
                 search=bool(query or signature_id), hidden_only=hidden_only)
    db.session.commit()
    return render_template("console/signatures.html", row=row, title=_title(row), rows=rows, more=more,
                           query=query, signature_id=signature_id if signature_id is not None else "", hidden_only=hidden_only,
                           export_form=PlainForm(), bad_id=bool(raw_id) and signature_id is None)


@bp.route("/<lang>/console/letters/<slug>/signatures/<int:sig_id>", methods=["GET", "POST"])
def signature(slug: str, sig_id: int):
    row = letter_for_current_user(slug)
    sig = lead_signatures.get(db.session, row.id, sig_id) or abort(404)
    form = HideForm()
    status = 200
    if request.method == "POST":
        if form.validate_on_submit():
            signing.hide(db.session, sig, form.reason.data)
            audit.record(db.session, current_user, "signatures.hide", row.id, signature=sig.id)
            db.session.commit()
            done(_("Signature hidden: it is no longer listed or counted."))
            return redirect(url_for("console.signature", slug=slug, sig_id=sig.id), code=303)
        status = 400
    else:
        audit.record(db.session, current_user, "signatures.view", row.id, signature=sig.id)
        db.session.commit()
    return render_template("console/signature.html", row=row, title=_title(row), sig=sig, form=form,
                           unhide_form=PlainForm()), status


@bp.post("/<lang>/console/letters/<slug>/signatures/<int:sig_id>/unhide")
def unhide_signature(slug: str, sig_id: int):
    row = letter_for_current_user(slug)
    sig = lead_signatures.get(db.session, row.id, sig_id) or abort(404)
    if not PlainForm().validate_on_submit():
        abort(400)
    signing.unhide(db.session, sig)
    audit.record(db.session, current_user, "signatures.unhide", row.id, signature=sig.id)
    db.session.commit()
    done(_("Signature shown again: it is listed and counted as its signer chose."))
    return redirect(url_for("console.signature", slug=slug, sig_id=sig.id), code=303)


@bp.post("/<lang>/console/letters/<slug>/export.csv")
def export(slug: str):
    row = letter_for_current_user(slug)
    if not PlainForm().validate_on_submit():
        abort(400)
    audit.record(db.session, current_user, "signatures.export", row.id, format="csv")
    db.session.commit()
    letter_id = row.id

    def generate():
        yield "\ufeff"  # so spreadsheets read the file as UTF-8 (Arabic names)
        yield from exports.csv_lines(db.session, letter_id)

    stamp = datetime.now(timezone.utc).strftime("%Y%m%d")
    return Response(stream_with_context(generate()), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{slug}-public-signatures-{stamp}.csv"'})


# ---- updates to signers -------------------------------------------------------------------

@bp.route("/<lang>/console/letters/<slug>/updates", methods=["GET", "POST"])
def send_update(slug: str):
    row = letter_for_current_user(slug)
    form = UpdateForm()
    status = 200
    if request.method == "POST":
        if form.validate_on_submit() and not confirmed():
            recipients = updates.recipient_count(db.session, row.id)
            return confirmation_page(
                title=_("Send this update?"),
                message=ngettext("It is emailed to %(num)s signer who asked for updates. Sent mail cannot be "
                                 "recalled.", "It is emailed to the %(num)s signers who asked for updates. Sent "
                                 "mail cannot be recalled.", recipients),
                details=[form.subject.data, form.body.data],
                fields={"subject": form.subject.data, "body": form.body.data},
                action=url_for("console.send_update", slug=slug), back=url_for("console.send_update", slug=slug),
                button=_("Send the update"), row=row, letter_title=_title(row))
        if form.validate_on_submit():
            job = updates.request_send(db.session, row, current_user,
                                       updates.Update(subject=form.subject.data, body=form.body.data),
                                       publish=bool(form.publish.data))
            db.session.commit()
            done(_("Update queued: it goes to the signers who asked for updates."))
            return redirect(url_for("console.send_update", slug=slug, queued=job.id), code=303)
        status = 400
    jobs = updates.recent_jobs(db.session, row.id)
    return render_template("console/updates.html", row=row, title=_title(row), form=form, jobs=jobs,
                           recipients=updates.recipient_count(db.session, row.id), job_subject=updates.job_subject,
                           queued=int_arg("queued")), status


# ---- administrators --------------------------------------------------------------------------

@bp.get("/<lang>/console/audit")
def audit_log():
    require_admin()
    before = int_arg("before")
    slug = request.args.get("letter") or ""
    stmt = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(101)
    if before:
        stmt = stmt.where(AuditEntry.id < before)
    letter_row = letters.letter_row(slug) if slug else None
    if slug and letter_row is None:
        abort(404)
    if letter_row is not None:
        stmt = stmt.where(AuditEntry.letter_id == letter_row.id)
    entries = list(db.session.scalars(stmt))
    more = entries[99].id if len(entries) > 100 else None
    slugs = {r.id: r.slug for r in db.session.scalars(select(Letter))}
    return render_template("console/audit.html", entries=entries[:100], more=more, slugs=slugs, letter_slug=slug)


@bp.get("/<lang>/console/users")
def users():
    require_admin()
    rows = list(db.session.scalars(select(User).order_by(User.role, User.email)))
    return render_template("console/users.html", users=rows, now=datetime.now(timezone.utc))
