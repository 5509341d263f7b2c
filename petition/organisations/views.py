"""An organisation's co-signing pages: the double opt-in flow (signing/optin.py) for the
kind "organisation"."""
from __future__ import annotations

from flask import Blueprint

from petition.organisations import services
from petition.organisations.forms import ConfirmForm, OrganisationForm
from petition.organisations.models import Organisation
from petition.signing import optin

bp = Blueprint("organisations", __name__)


def _request_from(form: OrganisationForm, _row, _text, lang: str) -> services.OrganisationRequest:
    return services.OrganisationRequest(
        name=form.name.data,
        country=form.country.data,
        website=form.website.data or "",
        contact_name=form.contact_name.data,
        contact_email=form.contact_email.data,
        statement=form.statement.data or "",
        lang=lang,
    )


def _confirm(session, token: str, _form: ConfirmForm, org) -> str:
    _confirmed, withdraw_code = services.confirm(session, token, pending=org)
    return withdraw_code


def _confirm_details(org) -> dict:
    return {"org": org, "contact": services.contact(org)}


ORGANISATION = optin.register(optin.SignerKind(
    area="organisations",
    form=OrganisationForm,
    request_from=_request_from,
    sign=services.sign,
    pending_for_token=services.pending_for_token,
    confirm_form=lambda _org: ConfirmForm(),
    confirm=_confirm,
    confirm_details=_confirm_details,
    link_holder=services.for_manage_token,
    withdraw=services.withdraw,
    code_holder=Organisation,
    remove=services.remove_organisation,
    code_details=lambda org: {"organisation": org.name},
))


# An organisation's URL map: the flow's pages (optin.add_pages) at these paths.
optin.add_pages(bp, ORGANISATION, sign="/<lang>/letters/<slug>/organisations/sign",
                sent="/<lang>/letters/<slug>/organisations/check-your-inbox",
                confirm="/<lang>/organisations/confirm/<token>", withdraw="/<lang>/organisations/withdraw/<token>",
                confirmed="/<lang>/letters/<slug>/organisations/confirmed",
                withdrawn="/<lang>/letters/<slug>/organisations/withdrawn")
