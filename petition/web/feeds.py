"""Atom feeds (RFC 4287): one per letter (published updates, deliveries, milestones) and
one for the site (the letters themselves and the same events of every public letter).

Built with ElementTree, so every text is escaped by the serialiser and the document is
well-formed whatever a letter's title holds. Entry ids are tag URIs on PUBLIC_URL's
host, stable across renders (RFC 4151), so readers never see an entry twice.
"""
from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import datetime, time, timezone
from urllib.parse import urlsplit

from flask import current_app
from flask_babel import format_number, gettext as _
from sqlalchemy import select

from petition.deliveries import services as deliveries
from petition.extensions import db
from petition.letters import services
from petition.letters.models import Letter, Milestone, PublishedUpdate
from petition.urls import public_url

ATOM = "http://www.w3.org/2005/Atom"
MAX_ENTRIES = 50
ET.register_namespace("", ATOM)


@dataclass(frozen=True)
class Entry:
    key: str  # the tag URI's specific part: "<slug>/milestone/1000"
    title: str
    updated: datetime
    link: str
    summary: str


def _tag(key: str) -> str:
    host = urlsplit(current_app.config["PETITION"].PUBLIC_URL).hostname or "localhost"
    return f"tag:{host},2024:{key}"


def _stamp(value: datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def letter_entries(row: Letter, lang: str) -> list[Entry]:
    letter = services.loaded(row.slug)
    title = letter.text_for(lang).front.title
    page = public_url("letters.show", slug=row.slug, lang=lang)
    entries = []
    for milestone in db.session.scalars(select(Milestone).where(Milestone.letter_id == row.id)):
        number = format_number(milestone.goal)
        entries.append(Entry(f"{row.slug}/milestone/{milestone.goal}",
                             _("%(title)s: %(number)s signatures", title=title, number=number),
                             milestone.reached_at, page,
                             _("The letter has reached its goal of %(number)s signatures.", number=number)))
    for update in db.session.scalars(select(PublishedUpdate).where(PublishedUpdate.letter_id == row.id)):
        entries.append(Entry(f"{row.slug}/update/{update.id}", update.subject, update.published_at, page, update.body))
    # Deliveries: what the public delivery log shows (built from the log alone).
    for delivery in deliveries.public_summaries(db.session, row.id):
        on = datetime.combine(delivery.delivered_on, time(12, 0), tzinfo=timezone.utc)
        entries.append(Entry(f"{row.slug}/delivery/{delivery.delivery_id}",
                             _("%(title)s: delivered to %(addressee)s", title=title, addressee=delivery.label),
                             on, page,
                             _("Delivered to %(addressee)s on %(date)s.", addressee=delivery.label,
                               date=delivery.delivered_on.isoformat())))
    return entries


def _document(title: str, self_url: str, page_url: str, feed_key: str, entries: list[Entry], lang: str,
              fallback_updated: datetime) -> bytes:
    entries = sorted(entries, key=lambda e: e.updated, reverse=True)[:MAX_ENTRIES]
    feed = ET.Element(f"{{{ATOM}}}feed", {"{http://www.w3.org/XML/1998/namespace}lang": lang})
    ET.SubElement(feed, f"{{{ATOM}}}id").text = _tag(feed_key)
    ET.SubElement(feed, f"{{{ATOM}}}title").text = title
    ET.SubElement(feed, f"{{{ATOM}}}updated").text = _stamp(entries[0].updated if entries else fallback_updated)
    ET.SubElement(feed, f"{{{ATOM}}}link", {"rel": "self", "type": "application/atom+xml", "href": self_url})
    ET.SubElement(feed, f"{{{ATOM}}}link", {"rel": "alternate", "type": "text/html", "href": page_url})
    author = ET.SubElement(feed, f"{{{ATOM}}}author")
    ET.SubElement(author, f"{{{ATOM}}}name").text = _("Open letters")
    for entry in entries:
        node = ET.SubElement(feed, f"{{{ATOM}}}entry")
        ET.SubElement(node, f"{{{ATOM}}}id").text = _tag(entry.key)
        ET.SubElement(node, f"{{{ATOM}}}title").text = entry.title
        ET.SubElement(node, f"{{{ATOM}}}updated").text = _stamp(entry.updated)
        ET.SubElement(node, f"{{{ATOM}}}link", {"rel": "alternate", "type": "text/html", "href": entry.link})
        ET.SubElement(node, f"{{{ATOM}}}summary", {"type": "text"}).text = entry.summary
    return ET.tostring(feed, encoding="utf-8", xml_declaration=True)


def letter_feed(row: Letter, lang: str) -> bytes:
    letter = services.loaded(row.slug)
    return _document(
        title=letter.text_for(lang).front.title,
        self_url=public_url("letters.feed", slug=row.slug, lang=lang),
        page_url=public_url("letters.show", slug=row.slug, lang=lang),
        feed_key=f"{row.slug}/feed/{lang}", entries=letter_entries(row, lang), lang=lang,
        fallback_updated=row.created_at,
    )


def site_feed(lang: str) -> bytes:
    entries: list[Entry] = []
    oldest = None
    for row in services.public_rows():
        text = services.loaded(row.slug).text_for(lang)
        entries.append(Entry(f"{row.slug}/letter", text.front.title, row.created_at,
                             public_url("letters.show", slug=row.slug, lang=lang), text.front.summary))
        entries += letter_entries(row, lang)
        oldest = row.created_at if oldest is None or row.created_at < oldest else oldest
    return _document(
        title=_("Open letters"), self_url=public_url("letters.site_feed", lang=lang),
        page_url=public_url("web.home", lang=lang), feed_key=f"feed/{lang}", entries=entries, lang=lang,
        fallback_updated=oldest or datetime(2024, 1, 1, tzinfo=timezone.utc),
    )
