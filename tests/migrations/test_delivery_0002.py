"""delivery_0002: deliveries recorded before the log keep their facts, get a log entry
each (and two for a response the lead had typed in), and the chain verifies."""
from __future__ import annotations

from flask_migrate import downgrade, upgrade
from sqlalchemy import text

from petition.deliveries import chain
from petition.extensions import db
from tests.migrations.test_migrations import SCRIPTS, migration_app  # noqa: F401  (the fixture)

BEFORE = SCRIPTS.get_revision("delivery_0002").down_revision

NOW = "2026-03-01 10:00:00+00:00"


def _old_rows() -> None:
    statements = [
        "INSERT INTO letters (id, slug, status, file_status, default_language, languages, public_visibility_default,"
        " bundle_default, retention_days, discreet_mail, created_at, updated_at)"
        " VALUES (1, 'protect-women-hrds', 'delivered', 'present', 'en', 'en', 'none', 'counted', 180, true, :now, :now)",
        "INSERT INTO bundles (id, letter_id, lang, version_hash, created_at, sha256, pages, size_bytes, manifest)"
        " VALUES ('b-1', 1, 'en', 'v', :now, :sha, 6, 100, '{}')",
        "INSERT INTO deliveries (id, letter_id, bundle_id, addressee, delivered_on, channel, response, created_at)"
        " VALUES (1, 1, 'b-1', 'Meta', '2026-03-02', 'email', NULL, '2026-03-02 09:00:00+00:00')",
        "INSERT INTO deliveries (id, letter_id, bundle_id, addressee, delivered_on, channel, response, created_at)"
        " VALUES (2, 1, 'b-1', 'X', '2026-03-04', 'meeting', 'We will reply — بالعربية أيضاً.', '2026-03-04 12:30:00+00:00')",
    ]
    for statement in statements:
        db.session.execute(text(statement), {"now": NOW, "sha": "a" * 64})
    db.session.commit()


def test_old_deliveries_enter_the_chained_log(migration_app):  # noqa: F811
    upgrade(revision=BEFORE)
    _old_rows()
    upgrade(revision="delivery_0002")

    deliveries = db.session.execute(text(
        "SELECT id, company, platform, recipient_enc, token_hash, response, response_at, published_at"
        " FROM deliveries ORDER BY id")).all()
    assert [(d.company, d.platform, d.recipient_enc) for d in deliveries] == [("Meta", "", None), ("X", "", None)]
    assert all(len(d.token_hash) == 64 for d in deliveries) and deliveries[0].token_hash != deliveries[1].token_hash
    assert deliveries[0].published_at is None and deliveries[1].published_at is not None

    entries = db.session.execute(text(
        "SELECT seq, kind, at, data, prev_hash, entry_hash FROM delivery_log ORDER BY seq")).all()
    assert [e.kind for e in entries] == ["delivered", "delivered", "response_received", "response_published"]
    assert entries[0].at == "2026-03-02T09:00:00+00:00"
    assert chain.check("protect-women-hrds", entries) == []
    assert "بالعربية" in entries[3].data and '"bundle_sha256":"' + "a" * 64 in entries[0].data

    db.session.commit()  # end the read transaction (SQLite WAL would keep its snapshot)
    downgrade(revision=BEFORE)
    rows = db.session.execute(text("SELECT addressee, response FROM deliveries ORDER BY id")).all()
    assert [tuple(r) for r in rows] == [("Meta", None), ("X", "We will reply — بالعربية أيضاً.")]
