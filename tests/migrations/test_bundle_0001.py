"""bundle_0001: paper signatures (names only as Fernet tokens) and the bundle's
signature level and timestamp columns."""
from __future__ import annotations

from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect

from petition.extensions import db
from tests.migrations.test_migrations import migration_app, tables  # noqa: F401 - fixture


def columns(table: str) -> set[str]:
    return {c["name"] for c in inspect(db.engine).get_columns(table)}


def test_bundle_0001_adds_paper_tables_and_timestamp_columns(migration_app):  # noqa: F811
    upgrade(revision="delivery_0002")
    assert "paper_signatures" not in tables()
    upgrade(revision="bundle_0001")
    assert {"paper_signatures", "paper_imports"} <= tables()
    paper = columns("paper_signatures")
    assert {"name_enc", "country", "bundle_visibility", "collected_on", "place", "import_id"} <= paper
    assert not {"name", "full_name", "email", "ip"} & paper  # the name is never stored in the clear
    assert {"signature_level", "timestamped_at", "timestamp_authority"} <= columns("bundles")
    db.session.commit()  # end the read's transaction: on PostgreSQL it would block the downgrade's DROP TABLE
    downgrade(revision="delivery_0002")
    assert not {"paper_signatures", "paper_imports"} & tables()
    assert not {"signature_level", "timestamped_at"} & columns("bundles")
