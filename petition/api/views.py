from __future__ import annotations

from datetime import date

from flask import Blueprint, abort, jsonify

from petition.deliveries import chain, services as deliveries
from petition.extensions import db
from petition.i18n import DEFAULT_LANGUAGE
from petition.letters import services
from petition.urls import public_url


def _letter_json(row) -> dict:
    letter = services.loaded(row.slug)
    meta = letter.meta
    return {
        "slug": row.slug,
        "status": row.status,
        "title": {lang: text.front.title for lang, text in letter.texts.items()},
        "summary": {lang: text.front.summary for lang, text in letter.texts.items()},
        "languages": letter.languages,
        "default_language": meta.default_language,
        "addressees": [{"company": a.company, "platforms": list(a.platforms)} for a in meta.addressees],
        "initiators": [{"name": i.name, "website": str(i.website) if i.website else None} for i in meta.initiators],
        "opens": meta.opens.isoformat() if meta.opens else None,
        "closes": meta.closes.isoformat() if meta.closes else None,
        "url": public_url("letters.show", slug=row.slug, lang=meta.default_language or DEFAULT_LANGUAGE),
        "urls": {lang: public_url("letters.show", slug=row.slug, lang=lang) for lang in letter.languages},
        "counts": services.counts(row),
        # The signature goal the progress bar fills towards (null: none); with auto_goal
        # it moves to the next round number once reached.
        "goal": row.goal,
    }


def _cached(response, seconds: int = 15):
    # Counts move: a short public cache absorbs bursts without showing stale numbers for long.
    response.headers["Cache-Control"] = f"public, max-age={seconds}, stale-while-revalidate={seconds * 2}"
    return response


bp = Blueprint("api", __name__, url_prefix="/api/v1")


@bp.get("/letters")
def letters():
    return _cached(jsonify({"letters": [_letter_json(row) for row in services.public_rows()]}))


@bp.get("/letters/<slug>")
def letter(slug: str):
    row = services.letter_row(slug)
    if row is None or row.status not in services.PUBLIC_STATUSES or services.loaded(slug) is None:
        abort(404)
    entries = deliveries.log_entries(db.session, row.id)
    log = deliveries.api_entries(deliveries.summaries(entries), entries, date.today())
    log["delivery_log_format"] = chain.DESCRIPTION
    return _cached(jsonify({**_letter_json(row), **log}))
