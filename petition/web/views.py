from __future__ import annotations

from flask import Blueprint, redirect, render_template, url_for

from petition.i18n import best_language
from flask_babel import get_locale

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
    return render_template("web/home.html", letters=letters.public_summaries(),
                           card_url=public_url("web.home", lang=str(get_locale())))


@bp.get("/<lang>/about")
def about():
    return render_template("web/about.html", retention=letters.retention_overview())
