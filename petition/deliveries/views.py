"""Deliveries on the web: the console's page (record, publish, new link; each confirmed on
a page of its own), the company's capability pages, the public delivery log and the
receipt check (was my signature in a delivered bundle?)."""
from __future__ import annotations

import json
from datetime import date

from flask import Blueprint, Response, abort, redirect, render_template, request, url_for
from flask_babel import get_locale, gettext as _
from flask_login import current_user

from petition.bundles import services as bundles
from petition.bundles.models import Bundle
from petition.deliveries import services
from petition.deliveries.forms import ButtonForm, ReceiptForm, RecordForm, ResponseForm, addressee_from
from petition.deliveries.models import Delivery
from petition.extensions import db
from petition.lead_pages.confirm import confirmation_page, confirmed
from petition.lead_pages.guard import guard_console_pages
from petition.lead_pages.permissions import letter_for_current_user
from petition.letters import services as letters
from petition.letters.models import Letter
from petition.security.headers import mark_sensitive
from petition.urls import public_url

# The company's capability pages, the public log and the receipt check: no console login.
PUBLIC_ENDPOINTS = {"deliveries.company", "deliveries.company_bundle", "deliveries.acknowledge",
                    "deliveries.respond", "deliveries.log", "deliveries.receipt"}
# The path under which a company's capability token travels (see petition.logs).
COMPANY_PATH = "company"


def _title(row, lang: str) -> str:
    loaded = letters.loaded(row.slug)
    return loaded.text_for(lang).front.title if loaded else row.slug


def company_url(row: Letter, token: str) -> str:
    """The link handed to the company, in the letter's default language."""
    return public_url("deliveries.company", lang=row.default_language, token=token)


bp = Blueprint("deliveries", __name__)
guard_console_pages(bp, public=PUBLIC_ENDPOINTS, indexed={"deliveries.log", "deliveries.receipt"})


# ---- console --------------------------------------------------------------------------

def _console_page(row: Letter, form: RecordForm | None = None, status: int = 200, error: str | None = None):
    built = bundles.bundles_of(db.session, row.id)
    form = form or RecordForm(formdata=None)
    form.fill_choices(built, services.addressees(row))
    if form.delivered_on.data is None and request.method == "GET":
        form.delivered_on.data = date.today()
    deliveries = services.deliveries_of(db.session, row)
    entries = services.log_entries(db.session, row.id)
    return render_template(
        "deliveries/console.html", row=row, title=_title(row, str(get_locale())), form=form, error=error,
        deliveries=deliveries, recipients={d.id: services.recipient_of(d) for d in deliveries}, summaries={s.delivery_id: s for s in services.summaries(entries)},
        problems=services.chain.check(row.slug, entries), entries=len(entries), bundles=built,
        button=ButtonForm(formdata=None), today=date.today(),
    ), status


@bp.get("/<lang>/console/letters/<slug>/deliveries")
def console(slug: str):
    return _console_page(letter_for_current_user(slug))


@bp.post("/<lang>/console/letters/<slug>/deliveries")
def record(slug: str):
    row = letter_for_current_user(slug)
    form = RecordForm()
    form.fill_choices(bundles.bundles_of(db.session, row.id), services.addressees(row))
    if not form.validate_on_submit():
        return _console_page(row, form, 400)
    addressee = addressee_from(form.addressee.data)
    bundle = bundles.bundle_of(db.session, row.id, form.bundle_id.data) or abort(404)
    if not confirmed():
        return confirmation_page(
            title=_("Record this delivery?"),
            message=_("The delivery becomes an entry of the letter's public delivery log, which can never be "
                      "changed or removed. The letter stays open: closing it is a separate action."),
            details=[_("Delivered to: %(name)s", name=addressee.label),
                     _("On: %(date)s", date=form.delivered_on.data.isoformat()),
                     _("Bundle SHA-256: %(sha)s", sha=bundle.sha256),
                     _("Channel: %(channel)s", channel=form.channel.data),
                     _("Person or office: %(recipient)s", recipient=form.recipient.data)],
            action=url_for("deliveries.record", slug=row.slug), back=url_for("deliveries.console", slug=row.slug),
            button=_("Record the delivery"), row=row, letter_title=_title(row, row.default_language),
            fields={"bundle_id": form.bundle_id.data, "addressee": form.addressee.data,
                    "delivered_on": form.delivered_on.data.isoformat(), "channel": form.channel.data,
                    "recipient": form.recipient.data})
    try:
        recorded = services.record(db.session, row, bundle, company=addressee.company, platform=addressee.platform,
                                   delivered_on=form.delivered_on.data, channel=form.channel.data,
                                   recipient=form.recipient.data, actor=current_user)
    except services.DeliveryError as exc:
        db.session.rollback()
        return _console_page(row, form, 400, error=str(exc))
    db.session.commit()
    return _link_page(row, recorded.delivery, recorded.token)


def _link_page(row: Letter, delivery: Delivery, token: str):
    # The token exists only in this response: never cached, never stored.
    mark_sensitive()
    return render_template("deliveries/link.html", row=row, title=_title(row, row.default_language),
                           delivery=delivery, label=services.Addressee(delivery.company, delivery.platform).label,
                           link=company_url(row, token))


def _posted_delivery(slug: str, delivery_id: int) -> tuple[Letter, Delivery]:
    """The letter and delivery a button of the console page acts on: 404 for a letter the
    lead may not manage or a delivery of another letter, 400 for an expired form."""
    row = letter_for_current_user(slug)
    delivery = services.delivery_of(db.session, row, delivery_id) or abort(404)
    if not ButtonForm().validate_on_submit():
        abort(400)
    return row, delivery


@bp.post("/<lang>/console/letters/<slug>/deliveries/<int:delivery_id>/publish")
def publish(slug: str, delivery_id: int):
    row, delivery = _posted_delivery(slug, delivery_id)
    label = services.Addressee(delivery.company, delivery.platform).label
    if not confirmed():
        return confirmation_page(
            title=_("Publish this response?"),
            message=_("The response of %(name)s is published word for word on the letter's page and in its "
                      "delivery log, and signers who asked for updates get an email. This cannot be undone.",
                      name=label),
            details=[delivery.response or ""],
            action=url_for("deliveries.publish", slug=row.slug, delivery_id=delivery.id),
            back=url_for("deliveries.console", slug=row.slug), button=_("Publish the response"),
            row=row, letter_title=_title(row, row.default_language))
    try:
        services.publish(db.session, row, delivery, current_user)
    except services.DeliveryError as exc:
        db.session.rollback()
        return _console_page(row, status=409, error=str(exc))
    db.session.commit()
    return redirect(url_for("deliveries.console", slug=row.slug, _anchor=f"delivery-{delivery.id}"), code=303)


@bp.post("/<lang>/console/letters/<slug>/deliveries/<int:delivery_id>/link")
def new_link(slug: str, delivery_id: int):
    row, delivery = _posted_delivery(slug, delivery_id)
    if not confirmed():
        return confirmation_page(
            title=_("Make a new link for the company?"),
            message=_("The link given to %(name)s stops working at once; send them the new one.",
                      name=services.Addressee(delivery.company, delivery.platform).label),
            action=url_for("deliveries.new_link", slug=row.slug, delivery_id=delivery.id),
            back=url_for("deliveries.console", slug=row.slug), button=_("Make a new link"),
            row=row, letter_title=_title(row, row.default_language))
    token = services.new_link(db.session, row, delivery, current_user)
    db.session.commit()
    return _link_page(row, delivery, token)


# ---- the company's side ----------------------------------------------------------------------

def _company_delivery(token: str) -> tuple[Delivery, Letter]:
    """The delivery a token opens; any other token gets the one same 404 page."""
    mark_sensitive()
    delivery = services.for_token(db.session, token)
    if delivery is None:
        abort(404)
    return delivery, services.letter_of(db.session, delivery)


def _company_page(token: str, delivery: Delivery, row: Letter, form: ResponseForm | None = None,
                  status: int = 200, error: str | None = None):
    lang = str(get_locale())
    loaded = letters.loaded(row.slug)
    bundle = db.session.get(Bundle, delivery.bundle_id)
    manifest = json.loads(bundle.manifest or "{}")
    return render_template(
        "deliveries/company.html", token=token, row=row, delivery=delivery, bundle=bundle,
        label=services.Addressee(delivery.company, delivery.platform).label,
        text=loaded.text_for(lang) if loaded else None, title=_title(row, lang),
        certificate_sha256=manifest.get("signing_certificate_sha256"),
        timestamp=services.bundle_timestamp(bundle),
        form=form or ResponseForm(formdata=None), button=ButtonForm(formdata=None), error=error,
        max_chars=services.RESPONSE_MAX,
    ), status


@bp.get(f"/<lang>/{COMPANY_PATH}/<token>")
def company(token: str):
    delivery, row = _company_delivery(token)
    return _company_page(token, delivery, row)


@bp.get(f"/<lang>/{COMPANY_PATH}/<token>/bundle.pdf")
def company_bundle(token: str):
    delivery, row = _company_delivery(token)
    bundle = db.session.get(Bundle, delivery.bundle_id)
    response = Response(bundles.pdf_bytes(db.session, bundle), mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'attachment; filename="{bundles.file_name(row, bundle)}"'
    return response


@bp.post(f"/<lang>/{COMPANY_PATH}/<token>/acknowledge")
def acknowledge(token: str):
    delivery, row = _company_delivery(token)
    if not ButtonForm().validate_on_submit():
        return _company_page(token, delivery, row, status=400,
                             error=_("The form had expired. Please try again."))
    services.acknowledge(db.session, delivery)
    db.session.commit()
    return redirect(url_for("deliveries.company", token=token, _anchor="receipt"), code=303)


@bp.post(f"/<lang>/{COMPANY_PATH}/<token>/respond")
def respond(token: str):
    delivery, row = _company_delivery(token)
    form = ResponseForm()
    if not form.validate_on_submit():
        return _company_page(token, delivery, row, form, 400)
    try:
        services.respond(db.session, delivery, form.response.data)
    except services.DeliveryError as exc:
        db.session.rollback()
        return _company_page(token, delivery, row, form, 400, error=str(exc))
    db.session.commit()
    return redirect(url_for("deliveries.company", token=token, _anchor="response"), code=303)


# ---- public ------------------------------------------------------------------------------

@bp.get("/<lang>/letters/<slug>/deliveries")
def log(slug: str):
    row, letter = letters.public_letter(slug) or abort(404)
    entries = services.log_entries(db.session, row.id)
    return render_template("deliveries/log.html", row=row, letter=letter,
                           text=letter.text_for(str(get_locale())), entries=entries,
                           summaries=services.summaries(entries), today=date.today(),
                           parsed={e.seq: json.loads(e.data) for e in entries})


@bp.route("/<lang>/receipt", methods=["GET", "POST"])
def receipt():
    form = ReceiptForm()
    matches = None
    status = 200
    if request.method == "POST":
        if form.validate_on_submit():
            matches = services.check_receipt(db.session, form.code.data, str(get_locale()))
            form.code.data = ""
        else:
            status = 400
    return render_template("deliveries/receipt.html", form=form, matches=matches), status
