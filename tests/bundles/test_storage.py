"""Stored bundles are sealed: chunked AES-256-GCM under a per-bundle key wrapped by
DATA_KEYS. Tampering is detected, memory stays a chunk or two whatever the size, key
rotation re-wraps the key, and the migration seals bundles stored before."""
from __future__ import annotations

import hashlib
import io
import os
import tracemalloc

import pytest
from sqlalchemy import select, text, update

from petition import crypto
from petition.bundles import services, storage
from petition.bundles.models import Bundle, BundleChunk
from petition.extensions import db
from petition.letters import services as letters
from petition.models_common import utcnow


def stored_bundle(data: bytes) -> Bundle:
    row = letters.letter_row("secure-our-socials")
    bundle = Bundle(id="00000000-0000-4000-8000-000000000001", letter_id=row.id, lang="en", version_hash="v" * 64,
                    created_at=utcnow(), sha256=hashlib.sha256(data).hexdigest(), pages=1, size_bytes=len(data),
                    manifest="{}")
    storage.store(db.session, bundle, io.BytesIO(data))
    db.session.commit()
    return bundle


def test_round_trip_of_sizes_around_the_chunk(app):
    for size in (0, 1, crypto.STREAM_CHUNK - 1, crypto.STREAM_CHUNK, crypto.STREAM_CHUNK + 1, 3 * crypto.STREAM_CHUNK):
        key, _wrapped = crypto.new_stream_key()
        data = os.urandom(size)
        sealed = list(crypto.seal_stream(key, [data[i:i + crypto.STREAM_CHUNK] for i in range(0, size, crypto.STREAM_CHUNK)], b"id"))
        assert b"".join(crypto.open_stream(key, sealed, b"id")) == data


@pytest.mark.parametrize("attack", ["flip", "swap", "drop_last", "drop_first", "append", "other_owner", "other_key"])
def test_tampering_is_detected(app, attack):
    key, _wrapped = crypto.new_stream_key()
    pieces = [b"a" * 100, b"b" * 100, b"c" * 100]
    sealed = list(crypto.seal_stream(key, pieces, b"bundle-1"))
    owner = b"bundle-1"
    if attack == "flip":
        sealed[1] = sealed[1][:5] + bytes([sealed[1][5] ^ 1]) + sealed[1][6:]
    elif attack == "swap":
        sealed[0], sealed[1] = sealed[1], sealed[0]
    elif attack == "drop_last":
        sealed = sealed[:-1]
    elif attack == "drop_first":
        sealed = sealed[1:]
    elif attack == "append":
        sealed = sealed + list(crypto.seal_stream(key, [b"more"], b"bundle-1"))
    elif attack == "other_owner":
        owner = b"bundle-2"
    elif attack == "other_key":
        key = crypto.new_stream_key()[0]
    with pytest.raises(crypto.StreamDamaged):
        b"".join(crypto.open_stream(key, sealed, owner))


def test_stored_bundle_is_sealed_and_comes_back_whole(app):
    data = b"%PDF-1.7 Qx7 a name only the bundle shows " + os.urandom(2 * crypto.STREAM_CHUNK + 10)
    bundle = stored_bundle(data)
    chunks = db.session.scalars(select(BundleChunk.data).where(BundleChunk.bundle_id == bundle.id)
                                .order_by(BundleChunk.seq)).all()
    assert len(chunks) == 3
    assert not any(b"%PDF-1.7" in bytes(c) or b"a name only the bundle shows" in bytes(c) for c in chunks)
    assert services.pdf_bytes(db.session, bundle) == data
    # A chunk moved from one bundle to another does not decrypt.
    db.session.execute(update(BundleChunk).where(BundleChunk.seq == 1).values(data=chunks[2]))
    db.session.commit()
    with pytest.raises(crypto.StreamDamaged):
        services.pdf_bytes(db.session, bundle)


def test_rotating_data_keys_rewraps_the_bundle_key_only(app):
    from cryptography.fernet import Fernet

    from petition.privacy.services import rotate_keys

    data = os.urandom(1000)
    bundle = stored_bundle(data)
    chunks_before = db.session.scalars(select(BundleChunk.data)).all()
    config = app.config["PETITION"]
    old = list(config.DATA_KEYS)
    config.DATA_KEYS = [Fernet.generate_key().decode()] + old
    try:
        done = rotate_keys(db.session)
        db.session.commit()
        assert done["bundles"] == 1
        assert db.session.scalars(select(BundleChunk.data)).all() == chunks_before
        config.DATA_KEYS = config.DATA_KEYS[:1]  # the old key is dropped
        db.session.expire_all()
        assert services.pdf_bytes(db.session, db.session.get(Bundle, bundle.id)) == data
    finally:
        config.DATA_KEYS = old


def test_storing_and_reading_a_large_bundle_holds_a_few_chunks_in_memory(app, tmp_path):
    """A million-signature bundle is 100+ MB: it is never all in memory at once here."""
    size = 40 * crypto.STREAM_CHUNK
    path = tmp_path / "big.pdf"
    digest = hashlib.sha256()
    with open(path, "wb") as handle:
        for _ in range(40):
            piece = os.urandom(crypto.STREAM_CHUNK)
            digest.update(piece)
            handle.write(piece)
    row = letters.letter_row("secure-our-socials")
    bundle = Bundle(id="00000000-0000-4000-8000-000000000002", letter_id=row.id, lang="en", version_hash="v" * 64,
                    created_at=utcnow(), sha256=digest.hexdigest(), pages=1, size_bytes=size, manifest="{}")
    tracemalloc.start()
    try:
        with open(path, "rb") as source:
            storage.store(db.session, bundle, source)
        db.session.commit()
        _current, peak_write = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        check = hashlib.sha256()
        for chunk in services.pdf_chunks(db.session, bundle):
            check.update(chunk)
        _current, peak_read = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert check.hexdigest() == bundle.sha256
    assert peak_write < 8 * crypto.STREAM_CHUNK, peak_write
    assert peak_read < 8 * crypto.STREAM_CHUNK, peak_read


def test_download_streams_the_decrypted_pdf(app):
    from tests.bundles.test_web import login

    data = b"%PDF-1.7\n" + os.urandom(crypto.STREAM_CHUNK + 5)
    bundle = stored_bundle(data)
    client = app.test_client()
    login(client, app)
    response = client.get(f"/en/console/letters/secure-our-socials/bundles/{bundle.id}.pdf")
    assert response.status_code == 200 and response.is_streamed
    assert response.data == data and int(response.headers["Content-Length"]) == len(data)


def test_the_migration_seals_bundles_stored_in_the_clear_and_the_downgrade_restores_them(tmp_path):
    from flask_migrate import downgrade, upgrade

    from petition import create_app
    from tests.helpers import make_config

    app = create_app(make_config(tmp_path, DATABASE_URL=f"sqlite:///{tmp_path / 'm.db'}"))
    pdf = b"%PDF-1.7 Qx7Legacy " + os.urandom(crypto.STREAM_CHUNK + 3)
    with app.app_context():
        upgrade(revision="0001")
        db.session.execute(text(
            "INSERT INTO letters (id, slug, status, file_status, default_language, languages, public_visibility_default,"
            " bundle_default, discreet_mail, retention_days, created_at, updated_at) VALUES (1, 'l', 'open', 'ok', 'en',"
            " 'en', 'none', 'counted', 0, 30, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"))
        db.session.execute(text(
            "INSERT INTO bundles (id, letter_id, lang, version_hash, created_at, sha256, pages, size_bytes, manifest, pdf)"
            " VALUES ('b-1', 1, 'en', 'v', CURRENT_TIMESTAMP, :sha, 1, :size, '{}', :pdf)"),
            {"sha": hashlib.sha256(pdf).hexdigest(), "size": len(pdf), "pdf": pdf})
        db.session.execute(text(
            "INSERT INTO organisations (letter_id, status, name, country, website, statement, lang, created_at, mail_count)"
            " VALUES (1, 'rejected', 'Qx7Rejected', 'LB', 'https://qx7.example', 'Qx7', 'en', CURRENT_TIMESTAMP, 0)"))
        db.session.commit()
        db.session.remove()
        upgrade(revision="jobsdump_0003")
        # Not session.get: the model has columns later revisions add (bundle_0001).
        key = db.session.execute(text("SELECT pdf_key FROM bundles WHERE id = 'b-1'")).scalar()
        assert services.pdf_bytes(db.session, Bundle(id="b-1", pdf_key=key)) == pdf
        assert all(b"Qx7Legacy" not in bytes(c) for c in db.session.scalars(select(BundleChunk.data)))
        assert db.session.execute(text("SELECT count(*) FROM organisations")).scalar() == 0
        db.session.remove()
        downgrade(revision="growth_0002")
        assert db.session.execute(text("SELECT pdf FROM bundles")).scalar() == pdf
        db.session.remove()
        db.engine.dispose()
