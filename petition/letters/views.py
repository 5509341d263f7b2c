from __future__ import annotations

from flask import Blueprint, abort, current_app, render_template, request
from flask_babel import get_locale

from petition.bundles import queries as bundle_queries
from petition.letters import services
from petition.organisations.queries import approved as approved_organisations
from petition.signing import queries as signatures
from petition.web import page_cache


def make_blueprint() -> Blueprint:
    bp = Blueprint("letters", __name__)

    def _public_letter(slug: str):
        row = services.public_row(slug)
        letter = services.loaded(slug)
        if row is None or letter is None or row.status not in services.PUBLIC_STATUSES:
            abort(404)
        return row, letter

    @bp.get("/<lang>/letters/<slug>/")
    def show(slug: str):
        row, letter = _public_letter(slug)
        lang = str(get_locale())

        def render() -> str:
            return render_template(
                "letters/show.html",
                row=row,
                letter=letter,
                text=letter.text_for(lang),
                counts=services.counts(row),
                signable=services.is_signable(row),
                organisations=approved_organisations(row.id),
                recent=signatures.recent_public(row.id, limit=10),
                deliveries=bundle_queries.deliveries(row.id),
            )

        # The page a viral letter's visitors all open: the same for each of them.
        seconds = current_app.config["PETITION"].COUNT_CACHE_SECONDS
        return page_cache.recent(("letters.show", request.path, row, id(letter)), seconds, render)

    @bp.get("/<lang>/letters/<slug>/signatures")
    def signature_list(slug: str):
        row, letter = _public_letter(slug)
        before = request.args.get("before", type=int)
        page = signatures.public_page(row.id, before=before)
        return render_template(
            "letters/signatures.html",
            row=row,
            letter=letter,
            text=letter.text_for(str(get_locale())),
            page=page,
            counts=services.counts(row),
        )

    return bp
