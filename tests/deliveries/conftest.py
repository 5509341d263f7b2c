"""Fixtures for deliveries: an app with its own bundle-signing key that mails through the
real SMTP server of tests/conftest.py, and a built bundle."""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timezone

import pytest

from petition.extensions import db
from petition.letters import services as letters

SLUG = "protect-women-hrds"  # to Meta, X and Telegram


@pytest.fixture
def delivery_app(make_app, tmp_path, smtp_server):
    """No application context is held around the test: each request gets its own, with
    its own flask.g and locale, as in production. Use `with database(app)` for direct
    database work."""
    from petition.bundles import signing_keys

    app = make_app(BUNDLE_PKCS12_PATH=str(tmp_path / "keys" / "signing.p12"), BUNDLE_WORKERS=0,
                   MAIL_SERVER=smtp_server.host, MAIL_PORT=smtp_server.port)
    with app.app_context():
        signing_keys.init_keys(app.config["PETITION"], "Test campaign signer", "Test campaign")
    return app


@contextmanager
def database(app):
    with app.app_context():
        try:
            yield db.session
        finally:
            db.session.remove()


@dataclass(frozen=True)
class BuiltBundle:
    id: str
    sha256: str


def build_bundle(app, slug: str = SLUG, lang: str = "en", built_on: date | None = None) -> BuiltBundle:
    """A real signed bundle; built_on backdates it (a delivery cannot predate its bundle)."""
    from petition.bundles import services as bundles
    from petition.bundles.models import Bundle

    with database(app) as session:
        built = bundles.build(session, letters.letter_row(slug), lang)
        if built_on:
            built.bundle.created_at = datetime(built_on.year, built_on.month, built_on.day, 9, tzinfo=timezone.utc)
        session.commit()
        bundle = session.get(Bundle, built.bundle.id)
        return BuiltBundle(bundle.id, bundle.sha256)
