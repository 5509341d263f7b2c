"""Sharing a letter without a tracker: plain links built on the server, a QR code drawn
on the server, a Mastodon hand-off that remembers nothing, the badge and its snippet,
and the preview-card tags.

Every link carries the letter's canonical address and nothing else (no utm_*, no
referral code): the same address anyone would copy from the address bar. Nothing here
is loaded from another site; the share links are ordinary links the reader chooses to
follow, with no referrer sent (Referrer-Policy: no-referrer on every page).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import quote, urlencode

import segno
from flask import current_app
from flask_babel import gettext as _
from markupsafe import escape

from petition.letters import services
from petition.urls import public_url

# og:locale wants language_TERRITORY; the territory is a convention, not a claim about readers.
OG_LOCALES = {"en": "en_GB", "fr": "fr_FR", "ar": "ar_AR", "el": "el_GR"}

# A Mastodon instance as a reader types it: a host name, optionally with a port; no
# user part, no path, no scheme other than the one we add.
_HOST = re.compile(r"(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}(?::[0-9]{1,5})?")


@dataclass(frozen=True)
class ShareLink:
    key: str  # also the CSS class and the test's handle
    label: str
    href: str


def share_links(url: str, title: str) -> list[ShareLink]:
    """The share panel's links, in the panel's order (Mastodon is a form, see below)."""
    text = f"{title} {url}"
    return [
        ShareLink("email", _("Email"), "mailto:?" + urlencode({"subject": title, "body": text}, quote_via=quote)),
        ShareLink("whatsapp", "WhatsApp", "https://wa.me/?" + urlencode({"text": text}, quote_via=quote)),
        ShareLink("telegram", "Telegram", "https://t.me/share/url?" + urlencode({"url": url, "text": title}, quote_via=quote)),
        # Signal has no web address that opens a chat with a text: the link goes to the
        # copy field, and the hint says to paste it into Signal (the Web Share API, when
        # JavaScript is on, offers Signal directly on phones).
        ShareLink("signal", "Signal", "#share-copy"),
        ShareLink("x", "X", "https://x.com/intent/post?" + urlencode({"text": title, "url": url}, quote_via=quote)),
        ShareLink("facebook", "Facebook", "https://www.facebook.com/sharer/sharer.php?" + urlencode({"u": url}, quote_via=quote)),
        ShareLink("linkedin", "LinkedIn", "https://www.linkedin.com/sharing/share-offsite/?" + urlencode({"url": url}, quote_via=quote)),
    ]


class BadInstance(ValueError):
    pass


def mastodon_instance(value: str | None) -> str:
    """The reader's Mastodon instance as a bare host ("mastodon.social"); accepts what
    people paste ("https://mastodon.social/", "@me@mastodon.social"). Raises BadInstance."""
    host = (value or "").strip().lower()
    host = re.sub(r"^https?://", "", host).split("/", 1)[0]
    if "@" in host:
        host = host.rsplit("@", 1)[1]
    if not _HOST.fullmatch(host):
        raise BadInstance(host)
    return host


def mastodon_url(instance: str, url: str, title: str) -> str:
    return f"https://{instance}/share?" + urlencode({"text": f"{title} {url}"}, quote_via=quote)


@lru_cache(maxsize=256)
def qr_svg(url: str) -> str:
    """The QR code of url as an inline <svg> (no XML declaration, no size attributes:
    the stylesheet sizes it). Cached: the same letter address gives the same picture."""
    code = segno.make(url, error="m", micro=False)
    return code.svg_inline(scale=1, border=2, dark="#000", light="#fff", omitsize=True,
                           title=None, svgclass="qr-code", lineclass=None)


def short_address(url: str) -> str:
    """The address to print under a QR code: without the scheme."""
    return re.sub(r"^https?://", "", url).rstrip("/")


def embed_snippet(url: str, badge_url: str, alt: str) -> str:
    """The HTML a partner pastes: a link around our badge, no script, nothing else."""
    return f'<a href="{escape(url)}"><img src="{escape(badge_url)}" alt="{escape(alt)}" height="40"></a>'


@dataclass(frozen=True)
class Panel:
    """Everything the share panel, the confirm page's block and the poster show for one
    letter in one language: built once per process and text version, since none of it
    changes with the count."""

    url: str
    title: str
    summary: str
    text_lang: str
    links: list[ShareLink]
    qr: str
    short: str
    badge_url: str
    snippet: str
    feed_url: str


_PANELS_KEY = "petition.letters.share_panels"


def panel(slug: str, lang: str) -> Panel | None:
    letter = services.loaded(slug)
    if letter is None:
        return None
    text = letter.text_for(lang)
    key = (slug, lang, text.version_hash)
    panels: dict = current_app.extensions.setdefault(_PANELS_KEY, {})
    found = panels.get(key)
    if found is None:
        url = public_url("letters.show", slug=slug, lang=lang)
        badge_url = public_url("letters.badge", slug=slug, lang=lang)
        found = Panel(
            url=url, title=text.front.title, summary=text.front.summary, text_lang=text.lang,
            links=share_links(url, text.front.title), qr=qr_svg(url), short=short_address(url),
            badge_url=badge_url, snippet=embed_snippet(url, badge_url, _("Sign the open letter: %(title)s", title=text.front.title)),
            feed_url=public_url("letters.feed", slug=slug, lang=lang),
        )
        panels[key] = found
    return found
