"""A person's signing pages: the double opt-in flow (signing/optin.py) for the kind
"person", and what only a person's pages have (visibility choices, the cached confirm
page)."""
from __future__ import annotations

from flask import Blueprint
from flask_babel import get_locale
from flask_wtf.csrf import generate_csrf

from petition import disclosure, page_cache
from petition.letters import services as letters
from petition.signing import optin, services
from petition.signing.forms import BUNDLE_VISIBILITY_CHOICES, PUBLIC_VISIBILITY_CHOICES, ConfirmForm, SignForm
from petition.signing.models import Signature

bp = Blueprint("signing", __name__)


def _visibility_choices(form_field, allowed_order: tuple[str, ...], current: str, all_choices):
    """Offer only the options that show as much as, or less than, the current choice."""
    allowed = set(allowed_order[: allowed_order.index(current) + 1])
    form_field.choices = [choice for choice in all_choices if choice.value in allowed]


def _blank_form(form: SignForm, row, text) -> None:
    form.public_visibility.data = services.safest_public(None, row.public_visibility_default)
    form.bundle_visibility.data = services.safest_bundle(None, row.bundle_default)
    form.version.data = text.version_hash


def _request_from(form: SignForm, row, text, lang: str) -> services.SignatureRequest:
    version = form.version.data if letters.known_version(row, text.lang, form.version.data or "") else text.version_hash
    return services.SignatureRequest(
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


def _confirm_form(sig) -> ConfirmForm:
    """The confirm form, offering only choices that show as much as before, or less."""
    form = ConfirmForm()
    _visibility_choices(form.public_visibility, disclosure.PUBLIC_ORDER, sig.public_visibility, PUBLIC_VISIBILITY_CHOICES)
    _visibility_choices(form.bundle_visibility, disclosure.BUNDLE_ORDER, sig.bundle_visibility, BUNDLE_VISIBILITY_CHOICES)
    return form


def _confirm(session, token: str, form: ConfirmForm, sig) -> str:
    return services.confirm(
        session, token,
        public_visibility=form.public_visibility.data,
        bundle_visibility=form.bundle_visibility.data,
        updates_opt_in=bool(form.updates.data),
        version_hash=form.version.data,
        pending=sig,
    )


def _text_key(place: str, choice: str, field: str) -> str:
    return f"{place}_{choice}_{field}"


def _preview_texts(preview: dict) -> dict[str, str]:
    """The preview's non-empty texts, each under its own key: the page cache's values."""
    return {_text_key(place, choice, field): text
            for place, lines in preview.items() for choice, line in lines.items() if line
            for field, text in zip(line._fields, line) if text}


def _preview_filled(preview: dict, texts: dict[str, str]) -> dict:
    """The preview with each non-empty text replaced by texts[its key] (a placeholder)."""
    return {place: {choice: line and line._replace(**{field: texts[_text_key(place, choice, field)]
                                                      for field, text in zip(line._fields, line) if text})
                    for choice, line in lines.items()}
            for place, lines in preview.items()}


def _confirm_details(sig) -> dict:
    return {"sig": sig, "preview": services.preview(sig, str(get_locale()))}


def _cached_confirm_page(kind: optin.SignerKind, row, letter, text, sig, token: str) -> str:
    """The confirm page as first shown. Apart from the signer's own details and link it
    depends only on the letter and the signer's current choices, so it comes from the
    page cache with the details filled in."""
    preview = services.preview(sig, str(get_locale()))
    values = {"csrf": generate_csrf(), "token": token, **_preview_texts(preview)}

    def render(csrf: str, token: str, **texts: str) -> str:
        form = _confirm_form(sig)
        form.public_visibility.data = sig.public_visibility
        form.bundle_visibility.data = sig.bundle_visibility
        form.updates.data = sig.updates_opt_in
        form.version.data = text.version_hash
        form.csrf_token.current_token = csrf
        return optin.confirm_page(kind, row, letter, text, token, form,
                                  {"sig": sig, "preview": _preview_filled(preview, texts)})

    key = ("signing.confirm", str(get_locale()), row, text.version_hash, id(letter), sig.public_visibility,
           sig.bundle_visibility, sig.updates_opt_in, tuple(values))
    return page_cache.fill(key, render, **values)


def _counts(row) -> dict:
    return {"counts": letters.counts(row)}


PERSON = optin.register(optin.SignerKind(
    area="signing",
    form=SignForm,
    blank_form=_blank_form,
    request_from=_request_from,
    sign=services.sign,
    pending_for_token=services.pending_for_token,
    confirm_form=_confirm_form,
    confirm=_confirm,
    confirm_details=_confirm_details,
    confirm_page=_cached_confirm_page,
    confirmed_details=_counts,
    link_holder=services.for_manage_token,
    withdraw=services.withdraw,
    code_holder=Signature,
    remove=services.remove_signature,
))


# The person's URL map: the flow's pages (optin.add_pages) at these paths.
optin.add_pages(bp, PERSON, sign="/<lang>/letters/<slug>/sign", sent="/<lang>/letters/<slug>/sign/check-your-inbox",
                confirm="/<lang>/confirm/<token>", withdraw="/<lang>/withdraw/<token>",
                confirmed="/<lang>/letters/<slug>/confirmed", withdrawn="/<lang>/letters/<slug>/withdrawn")
