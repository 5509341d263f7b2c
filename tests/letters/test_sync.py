"""letters sync: files reach the database, text versions are kept, a lead's status change
stands until the file's status is edited."""
from __future__ import annotations

import dataclasses

from sqlalchemy import select

from petition.extensions import db
from petition.letters import services
from petition.letters.models import Letter, LetterVersion


def test_sync_creates_letters_and_versions(app):
    rows = {row.slug: row for row in db.session.scalars(select(Letter))}
    assert set(rows) == {"secure-our-socials", "protect-women-hrds"}
    assert rows["secure-our-socials"].languages == "en,fr,ar,el"
    versions = db.session.scalars(select(LetterVersion).where(LetterVersion.letter_id == rows["secure-our-socials"].id)).all()
    assert {v.lang for v in versions} == {"en", "fr", "ar", "el"}


def test_sync_is_idempotent_and_keeps_old_versions(app):
    report = services.sync(db.session, services.registry())
    assert report.lines() == ["letters already in sync"]
    letter = services.loaded("secure-our-socials")
    edited_text = dataclasses.replace(letter.texts["en"], version_hash="f" * 64)
    edited = dataclasses.replace(letter, texts={**letter.texts, "en": edited_text})
    report = services.sync(db.session, {**services.registry(), "secure-our-socials": edited})
    assert any("secure-our-socials/en ffffffffffff" in line for line in report.new_versions)
    row = services.letter_row("secure-our-socials")
    hashes = set(db.session.scalars(select(LetterVersion.version_hash).where(LetterVersion.letter_id == row.id, LetterVersion.lang == "en")))
    assert {"f" * 64, letter.texts["en"].version_hash} <= hashes


def test_console_status_survives_sync_until_the_file_changes(app):
    row = services.letter_row("secure-our-socials")
    services.set_status(row, "closed")
    db.session.commit()
    services.sync(db.session, services.registry())
    assert services.letter_row("secure-our-socials").status == "closed"
    letter = services.loaded("secure-our-socials")
    delivered = dataclasses.replace(letter, meta=letter.meta.model_copy(update={"status": "delivered"}))
    services.sync(db.session, {**services.registry(), "secure-our-socials": delivered})
    row = services.letter_row("secure-our-socials")
    assert row.status == "delivered" and row.closed_at is not None


def test_sync_command(runner):
    result = runner.invoke(args=["letters", "sync"])
    assert result.exit_code == 0
    assert "letters already in sync" in result.output
