"""The site's frame: language in the URL, the layout's context, home, about, errors, and
a letter's public pages and feeds (letter_pages.py)."""
from __future__ import annotations

from flask import Flask, abort, g, has_request_context, request, url_for
from flask_babel import get_locale

from petition import caching, countries, events
from petition.i18n import LANGUAGES, format_when, separators, text_direction


@events.signature_confirmed.connect
@events.signature_withdrawn.connect
def _own_change_read_afresh(_kind, **_ids) -> None:
    """The visitor whose request confirmed or withdrew a signature (any kind, by link or
    by code) sees it counted on their next pages, whichever worker serves them
    (caching.after_own_change). Sent inside the service's transaction: were it rolled
    back, the mark would only make a few seconds of their pages fresher."""
    if has_request_context():
        caching.after_own_change()


def init_app(app: Flask) -> None:
    @app.url_value_preprocessor
    def _pull_lang(endpoint, values):
        if values and "lang" in values:
            lang = values.pop("lang")
            if lang not in LANGUAGES:
                abort(404)
            g.lang = lang
        if values and "slug" in values:
            # Dates and times on a letter's pages (public and console) in its time zone
            # (i18n.select_timezone looks it up if the page formats one).
            g.letter_slug = values["slug"]

    @app.url_defaults
    def _add_lang(endpoint, values):
        if "lang" in values or not getattr(g, "lang", None):
            return
        if app.url_map.is_endpoint_expecting(endpoint, "lang"):
            values["lang"] = g.lang

    @app.context_processor
    def _layout():
        lang = str(get_locale())
        return {
            "lang": lang,
            "lang_dir": text_direction(lang),
            "languages": LANGUAGES,
            "alternates": _alternates,
            "exit_url": app.config["PETITION"].EXIT_URL,
            "has_endpoint": lambda name: name in app.view_functions,
            **separators(lang),
        }

    app.add_template_filter(format_when, "when")

    @app.template_filter("skeleton_date")
    def _skeleton_date(day, skeleton: str = "yMMMd") -> str:
        """A date in the reader's language from a CLDR skeleton ("MMMd": "29 Nov",
        "29 نوفمبر"): the fields are chosen here, their order and words by the language."""
        from babel.dates import format_skeleton

        return format_skeleton(skeleton, day, locale=str(get_locale()))

    @app.template_filter("country_name")
    def _country_name(code: str) -> str:
        return countries.name(code, str(get_locale()))

    from petition.web import letter_pages, views
    from petition.web.errors import register_error_handlers

    register_error_handlers(app)
    app.register_blueprint(views.bp)
    app.register_blueprint(letter_pages.bp)


def _alternates(available: list[str] | None = None, page_args: dict | None = None) -> list[tuple[str, str]]:
    """(language, URL) of this page in each language, for hreflang and the switcher.
    page_args: URL arguments the page gives itself, over the request's (a cached page
    gives a placeholder for its link's token)."""
    endpoint = request.endpoint
    if not endpoint or not request.url_rule or "lang" not in request.url_rule.arguments:
        return [(code, url_for("web.home", lang=code)) for code in LANGUAGES]
    args = dict(request.view_args or {}) | (page_args or {})
    codes = available or list(LANGUAGES)
    return [(code, url_for(endpoint, **args, lang=code)) for code in LANGUAGES if code in codes]
