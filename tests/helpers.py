"""Helpers for tests: build configs, reset the database, drive forms, read mail."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

from cryptography.fernet import Fernet
from sqlalchemy import inspect, text

from petition import caching
from petition.config import Config
from petition.extensions import db
from petition.letters import services as letters

LANGS = ["en", "fr", "ar", "el"]  # Arabic always in
TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "")
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "")
DATA_KEY = Fernet.generate_key().decode()

_migrated: set[str] = set()


def make_config(tmp_path: Path, **overrides) -> Config:
    database_url = overrides.pop("DATABASE_URL", None) or TEST_DATABASE_URL or f"sqlite:///{tmp_path / 'test.db'}"
    values = dict(
        ENV="testing",
        SECRET_KEY="test-secret-key-" + "x" * 40,
        HASH_KEY="test-hash-key-" + "y" * 40,
        DATA_KEYS=[DATA_KEY],
        DATABASE_URL=database_url,
        PUBLIC_URL="http://petition.test",
        OUTBOX_IN_PROCESS=False,
        OUTBOX_DIR=str(tmp_path / "outbox"),
        RATELIMIT_ENABLED=False,
        COUNT_CACHE_SECONDS=0.0,
        MIN_FILL_SECONDS=0,  # the quiet fill-time check; tests/security turns it on
    )
    values.update(overrides)
    return Config.from_env(env={}, **values)


def reset_database(app) -> None:
    """Migrate once per database URL, then empty every table before each test."""
    from flask_migrate import upgrade

    url = app.config["SQLALCHEMY_DATABASE_URI"]
    with app.app_context():
        if url not in _migrated or not inspect(db.engine).has_table("letters"):
            upgrade()
            _migrated.add(url)
        tables = [t.name for t in reversed(db.metadata.sorted_tables)]
        if db.engine.dialect.name == "postgresql":
            db.session.execute(text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                db.session.execute(text(f'DELETE FROM "{table}"'))
        db.session.commit()
        letters.sync(db.session, letters.registry())
        caching.clear()
        db.session.remove()


CSRF_RE = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
VERSION_RE = re.compile(r'name="version" type="hidden" value="([^"]*)"')


def csrf_token(html: str) -> str:
    match = CSRF_RE.search(html)
    assert match, "no CSRF token in the page"
    return match.group(1)


HIDDEN_RE = re.compile(r'<input\b[^>]*\btype="hidden"[^>]*>')
ATTR_RE = re.compile(r'\b(name|value)="([^"]*)"')


def form_values(html: str) -> dict[str, str]:
    """Every hidden input of the page (CSRF token, version, form timestamp...), like a
    browser would send them."""
    import html as html_lib

    values: dict[str, str] = {}
    for tag in HIDDEN_RE.findall(html):
        attrs = dict(ATTR_RE.findall(tag))
        if "name" in attrs:
            values[attrs["name"]] = html_lib.unescape(attrs.get("value", ""))
    assert "csrf_token" in values, "no CSRF token in the page"
    return values


def outbox_messages(app) -> list:
    """Queued messages, decrypted (what the sender would send), once the intake worker
    has handled every waiting signing request (as the sender's loop does first)."""
    from petition.mail.models import OutboxMessage
    from petition.mail.outbox import payload

    process_intake(app)
    with app.app_context():
        return [payload(row) for row in db.session.scalars(db.select(OutboxMessage).order_by(OutboxMessage.id))]


def process_intake(app) -> int:
    """Run the intake worker over every waiting signing request (what the sender's loop
    does in production)."""
    from flask import current_app

    from petition.signing import intake

    try:
        same_app = current_app._get_current_object() is app
    except RuntimeError:  # no app context
        same_app = False
    if same_app:
        # In the caller's session, so that what it reads next is not an older snapshot.
        return intake.drain()
    with app.app_context():
        return intake.drain()


def links_in(text_body: str, kind: str) -> list[str]:
    """Paths of the links of one kind (confirm, withdraw, unsubscribe...) in an email body."""
    return [m.group(1) for m in re.finditer(rf"https?://[^/\s]+(/[a-z]{{2}}/{kind}/[^\s\"<]+)", text_body)]


def plain_body(message) -> str:
    part = message.get_body(("plain",))
    return part.get_content() if part else ""


def sign_letter(client, slug: str = "secure-our-socials", lang: str = "en", **fields):
    """Fill and send the signing form like a browser; returns the POST response."""
    page = client.get(f"/{lang}/letters/{slug}/sign")
    assert page.status_code == 200, page.status_code
    data = form_values(page.text)
    data.update(
        name="Amal Haddad", email="amal@example.org", country="LB", affiliation="",
        public_visibility="full", bundle_visibility="named",
    )
    data.update(fields)
    return client.post(f"/{lang}/letters/{slug}/sign", data=data)


def confirm_from_mail(client, app, message=None, **choices):
    """Open the newest confirm link in the outbox and press the button."""
    message = message or outbox_messages(app)[-1]
    path = links_in(message.text, "confirm")[0]
    page = client.get(path)
    assert page.status_code == 200, page.status_code
    data = form_values(page.text)
    data.setdefault("public_visibility", choices.pop("public_visibility", "full"))
    data.setdefault("bundle_visibility", choices.pop("bundle_visibility", "named"))
    data.update(choices)
    return client.post(path, data=data)


def publish_names(app, hours_later: float | None = None) -> int:
    """Run the publication job (signing/publication.py) as if hours_later hours had passed
    (default: the whole delay), so every confirmed public name is published."""
    from datetime import timedelta

    from petition.models_common import utcnow
    from petition.signing.publication import publish_due

    with app.app_context():
        hours = app.config["PETITION"].PUBLICATION_MAX_DELAY_HOURS if hours_later is None else hours_later
        published = publish_due(db.session, now=utcnow() + timedelta(hours=hours, seconds=1))
        db.session.remove()
        return published


WITHDRAW_CODE_RE = re.compile(r'<code dir="ltr">([A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4})</code>')


def withdraw_code_in(html: str) -> str:
    """The one-time withdrawal code on the page shown after confirming."""
    match = WITHDRAW_CODE_RE.search(html)
    assert match, "no withdrawal code on the page"
    return match.group(1)


def database_dump(app) -> bytes:
    """What a stolen copy of the database holds: the SQLite file with its WAL and journal,
    or pg_dump's data on PostgreSQL (every table's rows as text). Commits first."""
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    db.session.commit()
    if url.startswith("sqlite"):
        path = Path(url.split("sqlite:///", 1)[1])
        db.engine.dispose()
        data = path.read_bytes()
        for extra in (path.with_name(path.name + "-wal"), path.with_name(path.name + "-journal")):
            if extra.exists():
                data += extra.read_bytes()
        return data
    pg_dump = shutil.which("pg_dump")
    if not pg_dump:
        import pytest

        pytest.skip("pg_dump is not installed")
    plain = url.replace("postgresql+psycopg://", "postgresql://")
    return subprocess.run([pg_dump, "--data-only", plain], check=True, capture_output=True, env=os.environ).stdout
