from __future__ import annotations

from flask import Blueprint, current_app, redirect, render_template, request, url_for

from petition.i18n import best_language
from flask_babel import get_locale

from petition import page_cache
from petition.letters import services as letters
from petition.urls import public_url


bp = Blueprint("web", __name__)


@bp.get("/")
def root():
    response = redirect(url_for("web.home", lang=best_language()), code=302)
    response.headers["Vary"] = "Accept-Language"
    return response


@bp.get("/<lang>/")
def home():
    def render() -> str:
        return render_template("web/home.html", letters=letters.public_summaries(),
                               card_url=public_url("web.home", lang=str(get_locale())))

    # The same for every visitor, and since the letters' cards show their progress, its
    # figures change no faster than the counts it shows: rendered once per count period.
    seconds = current_app.config["PETITION"].COUNT_CACHE_SECONDS
    return page_cache.recent(("web.home", request.path), seconds, render)


@bp.get("/<lang>/about")
def about():
    return render_template("web/about.html", retention=letters.retention_overview())
