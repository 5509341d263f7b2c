"""A letter's public pages and feeds: the letter with its signatures, co-signers and
deliveries, the signature list, poster, share pages, share image, badge and Atom feeds.

Web glue, not part of the letters area: a letter's page composes several areas
(signing, organisations, deliveries), which all stand above letters. The blueprint
keeps the name "letters", so its endpoints are letters.show, letters.feed, ...
"""
from __future__ import annotations

from datetime import date

from flask import Blueprint, Response, abort, current_app, redirect, render_template, request, url_for
from flask_babel import get_locale

from petition import page_cache
from petition.deliveries import services as deliveries
from petition.extensions import db
from petition.letters import services, share_image, sharing
from petition.organisations.queries import approved as approved_organisations
from petition.security.headers import mark_sensitive
from petition.security.numbers import int_arg
from petition.signing import queries as signatures
from petition.urls import public_url
from petition.web import feeds

# Long enough for a partner page's visitors to share one fetch; short enough to move.
BADGE_MAX_AGE = 300
FEED_MAX_AGE = 300
IMAGE_MAX_AGE = 365 * 24 * 3600  # the address changes with the picture (its digest)


def _embeddable(response: Response, max_age: int, immutable: bool = False) -> Response:
    """A response any site may load (the badge, the share image, the feeds): public
    cache, and a Cross-Origin-Resource-Policy that lets another page show it. It never
    reads or writes the session, so it sets no cookie."""
    response.headers["Cache-Control"] = f"public, max-age={max_age}" + (", immutable" if immutable else "")
    response.headers["Cross-Origin-Resource-Policy"] = "cross-origin"
    return response


def share_panel(slug: str):
    """The share panel of a letter in the page's language (templates call it)."""
    return sharing.panel(slug, str(get_locale()))


bp = Blueprint("letters", __name__)
bp.add_app_template_global(share_panel, "share_panel")
bp.add_app_template_global(sharing.OG_LOCALES, "og_locales")


def _public_letter(slug: str):
    found = services.public_letter(slug)
    if found is None:
        abort(404)
    return found


@bp.get("/<lang>/letters/<slug>/")
def show(slug: str):
    row, letter = _public_letter(slug)
    lang = str(get_locale())

    def render() -> str:
        text = letter.text_for(lang)
        counts = services.counts(row)
        digest = share_image.digests(row.id).get(text.lang)
        image_url = (public_url("letters.share_image", slug=row.slug, lang=text.lang, digest=digest)
                     if digest else None)
        return render_template(
            "letters/show.html",
            row=row,
            letter=letter,
            text=text,
            counts=counts,
            progress=services.progress(row, counts),
            signable=services.is_signable(row),
            organisations=approved_organisations(row.id),
            recent=signatures.recent_public(row.id, limit=10),
            deliveries=deliveries.public_summaries(db.session, row.id),
            today=date.today(),
            share=share_panel(row.slug),
            image_url=image_url,
        )

    # The page a viral letter's visitors all open: the same for each of them.
    seconds = current_app.config["PETITION"].COUNT_CACHE_SECONDS
    return page_cache.recent(("letters.show", request.path, row, id(letter)), seconds, render)


@bp.get("/<lang>/letters/<slug>/signatures")
def signature_list(slug: str):
    row, letter = _public_letter(slug)
    before = int_arg("before")
    page = signatures.public_page(row.id, before=before)
    return render_template(
        "letters/signatures.html",
        row=row,
        letter=letter,
        text=letter.text_for(str(get_locale())),
        page=page,
        counts=services.counts(row),
    )


@bp.get("/<lang>/letters/<slug>/poster")
def poster(slug: str):
    """An A4 page to print: title, summary, QR code, short address."""
    row, letter = _public_letter(slug)
    return render_template("letters/poster.html", row=row, letter=letter,
                           text=letter.text_for(str(get_locale())), share=share_panel(row.slug))


@bp.get("/<lang>/letters/<slug>/share/mastodon")
def share_mastodon(slug: str):
    """Hands the letter to the reader's Mastodon instance, built here from the server
    they typed, which is neither stored, logged nor set in a cookie.

    Not a 303: the CSP's form-action 'self' also covers where a form's redirect
    leads, so browsers refuse a redirect to another site after this form (Chromium
    reports it as a form-action violation). The answer is a page that moves on by
    itself (meta refresh, no script) and carries the same address as a link."""
    row, letter = _public_letter(slug)
    panel = share_panel(row.slug)
    text = letter.text_for(str(get_locale()))
    try:
        instance = sharing.mastodon_instance(request.args.get("instance"))
    except sharing.BadInstance:
        return render_template("letters/mastodon.html", row=row, text=text, share=panel, target=None), 400
    mark_sensitive()  # never cached: the next reader types another server
    return render_template("letters/mastodon.html", row=row, text=text, share=panel, instance=instance,
                           target=sharing.mastodon_url(instance, panel.url, panel.title))


@bp.get("/<lang>/letters/<slug>/share/<digest>.png", endpoint="share_image")
def share_image_png(slug: str, digest: str):
    row, _letter = _public_letter(slug)
    image = share_image.stored(db.session, row.id, str(get_locale()))
    if image is None:
        abort(404)
    if image.digest != digest:  # an older picture: send the reader to the current one
        response = redirect(url_for("letters.share_image", slug=slug, digest=image.digest), code=302)
        response.headers["Cache-Control"] = "public, max-age=60"
        return response
    return _embeddable(Response(image.png, mimetype="image/png"), IMAGE_MAX_AGE, immutable=True)


@bp.get("/<lang>/letters/<slug>/badge.svg")
def badge(slug: str):
    row, letter = _public_letter(slug)

    def render() -> str:
        count = services.counts(row)["individuals"]
        return render_template("letters/badge.svg", count=count, signable=services.is_signable(row))

    seconds = current_app.config["PETITION"].COUNT_CACHE_SECONDS
    svg = page_cache.recent(("letters.badge", request.path, row), seconds, render)
    return _embeddable(Response(svg, mimetype="image/svg+xml"), BADGE_MAX_AGE)


@bp.get("/<lang>/letters/<slug>/feed.atom")
def feed(slug: str):
    row, _letter = _public_letter(slug)
    full = services.letter_row(slug)
    body = feeds.letter_feed(full, str(get_locale()))
    return _embeddable(Response(body, mimetype="application/atom+xml"), FEED_MAX_AGE)


@bp.get("/<lang>/feed.atom")
def site_feed():
    body = feeds.site_feed(str(get_locale()))
    return _embeddable(Response(body, mimetype="application/atom+xml"), FEED_MAX_AGE)
