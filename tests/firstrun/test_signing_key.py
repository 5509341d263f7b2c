"""The first bundle build on a fresh clone: a development key is made on first need; in
production a missing key is a plain sentence for the lead, never an exception name or a path."""
from __future__ import annotations

import stat
import threading

import pytest
from sqlalchemy import select

from petition.bundles import signing_keys
from petition.bundles.models import Bundle
from petition.extensions import db
from petition.jobs import runner
from petition.letters import services as letters
from tests.bundles.test_web import login


@pytest.fixture
def keyless_app(make_app, tmp_path, monkeypatch):
    """An app whose default key location (instance/) is an empty temporary directory."""
    instance = tmp_path / "instance"
    monkeypatch.setattr(signing_keys, "INSTANCE", instance)
    app = make_app(BUNDLE_WORKERS=0)
    with app.app_context():
        yield app, instance
        db.session.remove()


def queue_build(lang="en"):
    row = letters.letter_row("secure-our-socials")
    runner.enqueue(db.session, "bundle.build", {"slug": "secure-our-socials", "lang": lang}, letter_id=row.id)
    db.session.commit()


def test_development_creates_the_key_on_the_first_build(keyless_app):
    app, instance = keyless_app
    app.config["PETITION"].ENV = "development"
    assert not (instance / signing_keys.DEFAULT_P12).exists()
    queue_build()
    job = runner.run_one()
    assert job.status == "done", job.message
    assert db.session.scalar(select(Bundle.id)) is not None
    for name in (signing_keys.DEFAULT_P12, signing_keys.DEFAULT_PASS):
        mode = stat.S_IMODE((instance / name).stat().st_mode)
        assert mode == 0o600, (name, oct(mode))
    # the second build signs with the same key, not a new one
    first = (instance / signing_keys.DEFAULT_P12).read_bytes()
    queue_build("ar")
    assert runner.run_one().status == "done"
    assert (instance / signing_keys.DEFAULT_P12).read_bytes() == first


def test_two_first_builds_at_once_make_one_usable_key(keyless_app):
    app, instance = keyless_app
    config = app.config["PETITION"]
    config.ENV = "development"
    errors = []

    def load():
        try:
            signing_keys.load_signer(config)
        except Exception as exc:  # noqa: BLE001  (the assertion below shows it)
            errors.append(exc)

    threads = [threading.Thread(target=load) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert signing_keys.load_signer(config) is not None  # the passphrase on disk opens the key on disk


@pytest.mark.parametrize("env", ["production", "testing"])
def test_no_key_is_invented_outside_development(keyless_app, env):
    app, instance = keyless_app
    app.config["PETITION"].ENV = env
    with pytest.raises(signing_keys.SigningKeyMissing):
        signing_keys.load_signer(app.config["PETITION"])
    assert not instance.exists() or not any(instance.iterdir())


def test_a_configured_path_that_is_missing_is_reported_not_replaced(keyless_app, tmp_path):
    app, instance = keyless_app
    config = app.config["PETITION"]
    config.ENV = "development"
    config.BUNDLE_PKCS12_PATH = str(tmp_path / "elsewhere" / "real.p12")
    with pytest.raises(signing_keys.SigningKeyMissing):
        signing_keys.load_signer(config)
    assert not (tmp_path / "elsewhere").exists()


@pytest.mark.parametrize("lang", ["en", "ar"])
def test_production_lead_reads_a_plain_sentence(keyless_app, lang):
    app, instance = keyless_app
    app.config["PETITION"].ENV = "production"
    client = app.test_client()
    login(client, app)
    queue_build()
    for _ in range(runner.MAX_ATTEMPTS):
        job = runner.run_one()
    assert job.status == "failed" and job.message.startswith("SigningKeyMissing")
    page = client.get(f"/{lang}/console/letters/secure-our-socials/bundles")
    assert page.status_code == 200
    assert "SigningKeyMissing" not in page.text
    assert str(instance) not in page.text and "bundle-signing.p12" not in page.text
    assert "BUNDLE_PKCS12_PATH" in page.text  # what the operator has to set
