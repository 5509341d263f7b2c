"""Shared steps for the issue-17 tests: set a letter's goal or count, sweep, run jobs."""
from __future__ import annotations

import re
from html.parser import HTMLParser

from sqlalchemy import update

from petition.extensions import db
from petition.jobs import runner
from petition.letters import milestones, services
from petition.letters.models import Letter
from petition.signing import counters
from petition.signing.models import SignatureCounter

SLUG = "secure-our-socials"
OTHER = "protect-women-hrds"


def set_goal(app, slug: str, goal: int | None, auto: bool = False) -> None:
    with app.app_context():
        db.session.execute(update(Letter).where(Letter.slug == slug).values(goal=goal, auto_goal=auto))
        db.session.commit()
        services.forget_rows()


def set_count(app, slug: str, count: int) -> None:
    """Put `count` in the letter's counter shards (as `signatures fake` would, without rows)."""
    with app.app_context():
        row = services.letter_row(slug)
        db.session.execute(update(SignatureCounter).where(SignatureCounter.letter_id == row.id).values(confirmed=0))
        db.session.execute(update(SignatureCounter).where(SignatureCounter.letter_id == row.id,
                                                          SignatureCounter.shard == 0).values(confirmed=count))
        db.session.commit()
        counters.forget(row.id)
        services.forget_rows()


def sweep(app, images: bool = False):
    with app.app_context():
        try:
            return milestones.sweep(db.session, images=images)
        finally:
            db.session.remove()


def run_jobs(app) -> list:
    done = []
    with app.app_context():
        while (job := runner.run_one()) is not None:
            assert job.status == "done", job.message
            done.append(job.kind)
    return done


class Tags(HTMLParser):
    """Every start tag of a page with its attributes."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, {k: (v or "") for k, v in attrs}))

    handle_startendtag = handle_starttag


def tags(html: str) -> list[tuple[str, dict]]:
    parser = Tags()
    parser.feed(html)
    return parser.tags


def meta(html: str) -> dict[str, list[str]]:
    """<meta property|name=... content=...> as {key: [contents]}."""
    found: dict[str, list[str]] = {}
    for tag, attrs in tags(html):
        if tag == "meta" and ("property" in attrs or "name" in attrs):
            found.setdefault(attrs.get("property") or attrs.get("name"), []).append(attrs.get("content", ""))
    return found


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))
