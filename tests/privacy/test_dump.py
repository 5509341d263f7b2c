"""A copy of the database files, taken while the site runs, reveals nothing more than the
site (issue 13, item 6): the raw SQLite files (main file and -wal) are read byte by byte,
as someone who copied them would, after a withdrawal, an erasure, a rejection and a
bundle build. Every secret is a distinctive marker, so any trace of it is found."""
from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from petition.extensions import db
from petition.letters import services as letters
from petition.organisations import services as org_services
from petition.organisations.models import Organisation
from tests.helpers import confirm_from_mail, csrf_token, form_values, links_in, outbox_messages, sign_letter
from tests.organisations.support import sign_org

SLUG = "secure-our-socials"


@pytest.fixture
def sqlite_app(make_app, tmp_path):
    app = make_app(DATABASE_URL=f"sqlite:///{tmp_path / 'site.db'}")
    with app.app_context():
        yield app
        db.session.remove()


def raw_files(app) -> bytes:
    """The database file and its write-ahead log as they are on disk right now (no
    connection closed first: closing the last one would checkpoint and hide the WAL)."""
    path = Path(app.config["SQLALCHEMY_DATABASE_URI"].split("sqlite:///", 1)[1])
    data = b""
    for part in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-journal")):
        if part.exists():
            data += part.read_bytes()
    return data


def readable(raw: bytes, secrets: list[str]) -> list[str]:
    found = []
    for secret in secrets:
        for form in (secret.encode("utf-8"), secret.encode("utf-16-le")):
            if form in raw or form.lower() in raw.lower():
                found.append(secret)
                break
    return found


class Worker:
    """The in-process job worker of the embedded default, as a thread of the test."""

    def __init__(self, app):
        from petition.jobs import runner

        self.stop = threading.Event()

        def run():
            with app.app_context():
                runner.work(self.stop, idle_seconds=0.5)

        self.thread = threading.Thread(target=run, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(30)


def gone_within(app, secrets: list[str], seconds: float) -> float:
    """Seconds until none of secrets is readable in the raw files (fails after seconds)."""
    start = time.monotonic()
    while True:
        left = readable(raw_files(app), secrets)
        if not left:
            return time.monotonic() - start
        if time.monotonic() - start > seconds:
            raise AssertionError(f"still readable after {seconds} s: {left}")
        time.sleep(0.25)


def test_a_withdrawn_signer_is_gone_from_the_files_wal_included_within_a_minute(sqlite_app):
    app = sqlite_app
    client = app.test_client()
    secrets = ["Qx7Withdrawn Nasreen", "Qx7Employer Holdings"]
    sign_letter(client, name=secrets[0], email="qx7.withdrawn@example.org", affiliation=secrets[1],
                public_visibility="full", bundle_visibility="named")
    confirm_from_mail(client, app, public_visibility="full", bundle_visibility="named")
    # The public name is shown (and so stored in the clear) while the signature stands.
    assert readable(raw_files(app), secrets[:1]) == secrets[:1]
    path = [p for m in outbox_messages(app) for p in links_in(m.text, "withdraw")][-1]
    page = client.get(path)
    assert client.post(path, data=form_values(page.text)).status_code == 303  # redirected after the POST
    assert not client.get(f"/en/letters/{SLUG}/").text.count(secrets[0])
    with Worker(app):
        took = gone_within(app, secrets, 60)
    assert took <= 60


def test_an_erased_person_is_gone_from_the_files_at_once(sqlite_app):
    app = sqlite_app
    client = app.test_client()
    secrets = ["Qx7Erased Karima"]
    sign_letter(client, name=secrets[0], email="qx7.erased@example.org", public_visibility="full")
    confirm_from_mail(client, app, public_visibility="full")
    assert readable(raw_files(app), secrets) == secrets
    result = app.test_cli_runner().invoke(args=["privacy", "erase", "qx7.erased@example.org", "--yes"])
    assert result.exit_code == 0, result.output
    assert "checkpointed" in result.output
    assert readable(raw_files(app), secrets) == []


def test_a_rejected_organisation_is_gone_from_the_files(sqlite_app):
    app = sqlite_app
    client = app.test_client()
    org = dict(name="Qx7Rejected Collective", website="https://qx7-rejected.example/",
               statement="Qx7Statement of a rejected group", contact_name="Qx7Contact Person",
               contact_email="qx7.contact@qx7-rejected.example")
    assert sign_org(client, SLUG, "en", **org).status_code == 303
    path = links_in(outbox_messages(app)[-1].text, "organisations/confirm")[0]
    page = client.get(path)
    assert client.post(path, data={"csrf_token": csrf_token(page.text)}).status_code == 200  # the answer with the withdrawal code
    row = db.session.scalar(select(Organisation))
    assert row.status == "awaiting"
    org_services.reject(db.session, row, None, "Qx7Reason not verifiable")
    db.session.commit()
    secrets = [org["name"], "qx7-rejected.example", org["statement"], org["contact_name"], "Qx7Reason"]
    with Worker(app):
        gone_within(app, secrets, 60)
    assert db.session.scalar(select(Organisation)) is None


def test_a_built_bundle_is_not_readable_in_the_files(sqlite_app, tmp_path):
    from petition.bundles import services, signing_keys
    from tests.bundles.conftest import add_signature

    app = sqlite_app
    app.config["PETITION"].BUNDLE_PKCS12_PATH = str(tmp_path / "keys" / "signing.p12")
    app.config["PETITION"].BUNDLE_WORKERS = 0
    signing_keys.init_keys(app.config["PETITION"], "Test campaign signer", "Test campaign")
    hidden = add_signature("Qx7Hidden Bundlenamed", public="none", bundle="named", affiliation="Qx7Hidden Employer")
    add_signature("Qx7Public Person", public="full")
    built = services.build(db.session, letters.letter_row(SLUG), "en")
    db.session.commit()
    from tests.bundles.conftest import pdf_text

    assert hidden.name in " ".join(pdf_text(built.pdf))  # the bundle does name them
    raw = raw_files(app)
    assert b"%PDF-" not in raw, "a PDF is stored in the clear"
    assert readable(raw, [hidden.name, "Qx7Hidden Employer", "Qx7Hidden"]) == []
    # What a lead downloads is the signed PDF whose hash the manifest states.
    import hashlib

    assert hashlib.sha256(services.pdf_bytes(db.session, built.bundle)).hexdigest() == built.bundle.sha256


def test_checkpoints_wait_for_a_deletion_and_are_spaced(sqlite_app):
    """Only after personal data was deleted, and at most once per CHECKPOINT_SPACING."""
    from petition import database

    engine = db.engine
    database._erasure.pending = False
    assert database.checkpoint_if_erased(engine) is False  # nothing deleted: nothing done
    database.erased()
    database._erasure.last_checkpoint = time.monotonic()  # one just ran
    assert database.checkpoint_if_erased(engine) is False
    database._erasure.last_checkpoint -= database.CHECKPOINT_SPACING
    assert database.checkpoint_if_erased(engine) is True
    assert database.CHECKPOINT_SPACING < 60
    wal = Path(app_db(sqlite_app) + "-wal")
    assert not wal.exists() or wal.stat().st_size == 0


def test_every_connection_zeroes_what_it_deletes(sqlite_app):
    with db.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA secure_delete").scalar() == 1


def app_db(app) -> str:
    return app.config["SQLALCHEMY_DATABASE_URI"].split("sqlite:///", 1)[1]
