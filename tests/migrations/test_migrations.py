"""Migrations run on SQLite and on PostgreSQL alike: every revision upgrades, downgrades
and upgrades again, and the migrated schema matches the models exactly."""
from __future__ import annotations

import os
import uuid
from contextlib import contextmanager

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from flask_migrate import downgrade, upgrade
from sqlalchemy import create_engine, inspect, text

from petition import create_app
from petition.config import ROOT
from petition.extensions import db
from tests.helpers import make_config

DROP_EVERYTHING = "drop-everything=yes"  # the flag the first revision's downgrade asks for
SCRIPTS = ScriptDirectory(str(ROOT / "migrations"))
REVISIONS = list(reversed(list(SCRIPTS.walk_revisions())))  # oldest first


@contextmanager
def fresh_database(tmp_path, backend: str):
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'migrations.db'}"
        return
    base = os.environ.get("TEST_DATABASE_URL", "")
    if not base.startswith("postgresql"):
        pytest.skip("PostgreSQL run only (set TEST_DATABASE_URL)")
    name = f"migrations_{uuid.uuid4().hex[:10]}"
    admin_url = base.replace("postgresql://", "postgresql+psycopg://", 1) if base.startswith("postgresql://") else base
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin_url.rsplit("/", 1)[0] + "/" + name
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def migration_app(request, tmp_path):
    with fresh_database(tmp_path, request.param) as url:
        app = create_app(make_config(tmp_path, DATABASE_URL=url))
        with app.app_context():
            yield app
            db.session.remove()
            db.engine.dispose()


def tables() -> set[str]:
    return set(inspect(db.engine).get_table_names()) - {"alembic_version"}


def test_there_is_one_head():
    assert len(SCRIPTS.get_heads()) == 1


def test_initial_schema_creates_every_table(migration_app):
    upgrade(revision="0001")
    assert {"letters", "letter_versions", "signatures", "signature_counters", "organisations", "users",
            "letter_leads", "audit_log", "outbox", "jobs", "bundles", "bundle_receipts", "deliveries"} <= tables()
    columns = {c["name"] for c in inspect(db.engine).get_columns("signatures")}
    assert {"email_hash", "email_enc", "public_name", "version_hash", "receipt_hash"} <= columns
    assert not {"ip", "ip_address", "user_agent", "remote_addr"} & columns
    downgrade(revision="base", x_arg=DROP_EVERYTHING)
    assert tables() == set()


@pytest.mark.parametrize("revision", [r.revision for r in REVISIONS])
def test_each_revision_upgrades_downgrades_and_upgrades_again(migration_app, revision):
    script = SCRIPTS.get_revision(revision)
    upgrade(revision=revision)
    with_revision = tables()
    downgrade(revision=script.down_revision or "base", x_arg=DROP_EVERYTHING)
    upgrade(revision=revision)
    assert tables() == with_revision


def test_migrated_schema_matches_the_models(migration_app):
    upgrade()
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": False})
        differences = compare_metadata(context, db.metadata)
    assert differences == [], differences


def test_db_upgrade_command(migration_app):
    runner = migration_app.test_cli_runner()
    result = runner.invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert "signatures" in tables()


def test_growth_0002_adds_goals_milestones_share_images_and_keeps_letters(migration_app):
    upgrade(revision="0001")
    db.session.execute(text(
        "INSERT INTO letters (slug, status, file_status, default_language, languages, public_visibility_default,"
        " bundle_default, retention_days, discreet_mail, created_at, updated_at)"
        " VALUES ('kept', 'open', 'open', 'en', 'en', 'none', 'counted', 180, true, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"))
    db.session.commit()
    upgrade(revision="growth_0002")
    assert {"letter_milestones", "share_images", "published_updates"} <= tables()
    row = db.session.execute(text("SELECT slug, goal, file_goal, auto_goal FROM letters")).one()
    db.session.commit()  # end the read's transaction: on PostgreSQL it would block the downgrade's DROP TABLE
    assert row.slug == "kept" and row.goal is None and row.file_goal is None and not row.auto_goal
    downgrade(revision="0001")
    assert not {"letter_milestones", "share_images", "published_updates"} & tables()
    assert "goal" not in {c["name"] for c in inspect(db.engine).get_columns("letters")}
    assert db.session.execute(text("SELECT slug FROM letters")).scalar_one() == "kept"
    db.session.commit()


def test_downgrade_past_the_first_schema_is_refused_and_says_what_would_be_lost(migration_app):
    """`flask db downgrade` after one upgrade used to exit 0 having dropped every table."""
    runner = migration_app.test_cli_runner()
    assert runner.invoke(args=["db", "upgrade", "0001"]).exit_code == 0
    db.session.execute(text("INSERT INTO letters (slug, status, file_status, default_language, languages, "
                            "public_visibility_default, bundle_default, discreet_mail, retention_days, "
                            "created_at, updated_at) VALUES ('kept', 'open', 'ok', 'en', 'en', 'none', 'counted', "
                            "false, 30, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"))
    db.session.commit()
    before = tables()
    result = runner.invoke(args=["db", "downgrade"])
    assert result.exit_code == 1
    # What it says (Flask-Migrate logs the same text as "Error: ...").
    with pytest.raises(CommandError) as refused:
        command.downgrade(migration_app.extensions["migrate"].migrate.get_config(), "base")
    said = str(refused.value)
    assert "Refusing to downgrade below the first schema" in said
    assert "1 letters, 0 signatures" in said and "-x drop-everything=yes" in said
    assert tables() == before
    assert db.session.scalar(text("SELECT count(*) FROM letters")) == 1
    db.session.rollback()  # PostgreSQL: no lock of ours may stand in the DROP's way below
    with pytest.raises(SystemExit):
        downgrade(revision="base")
    assert tables() == before
    # With the explicit flag it does what it says.
    result = runner.invoke(args=["db", "-x", DROP_EVERYTHING, "downgrade", "base"])
    assert result.exit_code == 0, result.output
    assert tables() == set()


def test_migrating_up_and_down_keeps_the_rows_that_reference_a_letter(migration_app):
    """On SQLite a batch migration rebuilds a table; with foreign keys on, dropping the
    old letters table deleted every signature, organisation and bundle (ON DELETE
    CASCADE). Every revision, up and down, must keep them."""
    upgrade(revision="0001")
    db.session.execute(text(
        "INSERT INTO letters (id, slug, status, file_status, default_language, languages, public_visibility_default,"
        " bundle_default, retention_days, discreet_mail, created_at, updated_at)"
        " VALUES (1, 'kept', 'open', 'open', 'en', 'en', 'none', 'counted', 180, true, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"))
    db.session.execute(text(
        "INSERT INTO signatures (id, letter_id, status, country, lang, public_visibility, bundle_visibility, updates_opt_in,"
        " version_hash, hidden, created_at, mail_count, synthetic)"
        " VALUES (1, 1, 'confirmed', 'LB', 'en', 'none', 'counted', false, 'v', false, CURRENT_TIMESTAMP, 0, false)"))
    db.session.execute(text(
        "INSERT INTO organisations (letter_id, status, name, country, lang, created_at, mail_count)"
        " VALUES (1, 'approved', 'Kept Org', 'LB', 'en', CURRENT_TIMESTAMP, 0)"))
    db.session.commit()

    def counts():
        found = tuple(db.session.execute(text(f"SELECT count(*) FROM {t}")).scalar()
                      for t in ("letters", "signatures", "organisations"))
        db.session.commit()
        return found

    for script in REVISIONS[1:]:
        upgrade(revision=script.revision)
        assert counts() == (1, 1, 1), f"rows lost upgrading to {script.revision}"
    for script in reversed(REVISIONS[1:]):
        downgrade(revision=script.down_revision)
        assert counts() == (1, 1, 1), f"rows lost downgrading {script.revision}"


def test_pub_0002_keeps_names_already_public_and_adds_the_new_columns(migration_app):
    """Names public before batched publication stay public in their old order, dated by
    day; names not public (none, pending) get no place in the list."""
    upgrade(revision="jobsdump_0003")
    zone = "+00" if db.engine.dialect.name == "postgresql" else ""  # SQLite keeps UTC without a zone
    with db.engine.begin() as connection:
        connection.execute(text(
            "INSERT INTO letters (id, slug, status, file_status, default_language, languages, "
            "public_visibility_default, bundle_default, discreet_mail, retention_days, created_at, updated_at) "
            "VALUES (1, 'l', 'open', 'ok', 'en', 'en', 'initials', 'counted', false, 30, "
            f"'2026-01-01 00:00:00{zone}', '2026-01-01 00:00:00{zone}')"))
        for sig_id, status, name in ((1, "confirmed", "A. B."), (2, "confirmed", None), (3, "pending", None),
                                     (4, "confirmed", "C. D.")):
            connection.execute(text(
                "INSERT INTO signatures (id, letter_id, status, email_hash, public_name, country, lang, "
                "public_visibility, bundle_visibility, updates_opt_in, version_hash, hidden, created_at, "
                "confirmed_at, mail_count, synthetic) VALUES (:id, 1, :status, :hash, :name, 'ZZ', 'en', "
                f"'initials', 'counted', false, 'v', false, '2026-03-04 10:00:00{zone}', "
                + (f"'2026-03-04 23:30:00{zone}'" if status == "confirmed" else "NULL") + ", 0, false)"),
                {"id": sig_id, "status": status, "hash": f"h{sig_id}", "name": name})
    upgrade(revision="pub_0002")
    columns = {c["name"] for c in inspect(db.engine).get_columns("signatures")}
    assert {"withdraw_code_hash", "published_on", "public_rank"} <= columns
    assert "withdraw_code_hash" in {c["name"] for c in inspect(db.engine).get_columns("organisations")}
    with db.engine.connect() as connection:
        rows = connection.execute(text("SELECT id, public_rank, published_on FROM signatures ORDER BY id")).all()
    assert [(r[0], r[1]) for r in rows] == [(1, 1), (2, None), (3, None), (4, 4)]
    assert str(rows[0][2]) == "2026-03-04" and rows[1][2] is None
    downgrade(revision="jobsdump_0003")
    assert "public_rank" not in {c["name"] for c in inspect(db.engine).get_columns("signatures")}
