"""Trusted time on bundles: PAdES B-T with an RFC 3161 timestamp from a local authority
(served over HTTP, as BUNDLE_TSA_URL would be), B-LTA with trust roots, the honest
"no timestamp" without one, a TSA that fails; the tagged front part and its language."""
from __future__ import annotations

import io
import json
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from petition.bundles import services, signing_keys
from petition.bundles.models import Bundle
from petition.extensions import db
from petition.letters import services as letters
from tests.bundles import tsa
from tests.bundles.conftest import add_signature, pdf_text, squash


@pytest.fixture
def authority(tmp_path):
    local, stop = tsa.start(tmp_path)
    yield local
    stop()


@pytest.fixture
def tsa_app(make_app, tmp_path, authority):
    def factory(**overrides):
        app = make_app(BUNDLE_PKCS12_PATH=str(tmp_path / "keys" / "signing.p12"), BUNDLE_WORKERS=0,
                       BUNDLE_TSA_URL=authority.url, **overrides)
        ctx = app.app_context()
        ctx.push()
        signing_keys.init_keys(app.config["PETITION"], "Test campaign signer", "Test campaign")
        return app, ctx

    contexts = []

    def make(**overrides):
        app, ctx = factory(**overrides)
        contexts.append(ctx)
        return app

    yield make
    for ctx in contexts:
        db.session.remove()
        ctx.pop()


def build(lang="en"):
    built = services.build(db.session, letters.letter_row("secure-our-socials"), lang)
    db.session.commit()
    return built


def validate(pdf: bytes, app, authority):
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext

    signer = signing_keys.load_signer(app.config["PETITION"])
    reader = PdfFileReader(io.BytesIO(pdf))
    status = validate_pdf_signature(
        reader.embedded_signatures[0],
        signer_validation_context=ValidationContext(trust_roots=[signer.signing_cert]),
        ts_validation_context=ValidationContext(trust_roots=[authority.root]))
    return reader, status


def test_bundle_carries_a_trusted_timestamp_from_the_tsa(tsa_app, authority):
    app = tsa_app()
    add_signature("Amal Haddad")
    before = datetime.now(timezone.utc) - timedelta(seconds=1)
    built = build()
    after = datetime.now(timezone.utc) + timedelta(seconds=1)
    assert authority.requests, "the TSA was never asked"

    reader, status = validate(built.pdf, app, authority)
    assert status.intact and status.valid and status.trusted
    stamp = status.timestamp_validity
    assert stamp is not None and stamp.intact and stamp.valid and stamp.trusted
    assert before <= stamp.timestamp <= after

    # the manifest, the bundle row and timestamp_of() (for the delivery log) agree with the token
    manifest = json.loads(built.manifest)
    assert manifest["signature_level"] == "PAdES-B-T"
    assert datetime.fromisoformat(manifest["timestamp"]["time"]) == stamp.timestamp.replace(microsecond=0)
    assert manifest["timestamp"]["authority"] == authority.url
    bundle = db.session.get(Bundle, built.bundle.id)
    assert abs(bundle.timestamped_at - stamp.timestamp) < timedelta(seconds=1)
    assert services.timestamp_of(bundle) == {"time": manifest["timestamp"]["time"], "authority": authority.url,
                                             "level": "PAdES-B-T"}
    cover = squash(pdf_text(built.pdf)[0])
    assert "trusted timestamp (RFC 3161)" in cover and authority.url in cover.replace(" ", ""), cover


def test_a_tampered_timestamped_bundle_fails_validation(tsa_app, authority):
    app = tsa_app()
    add_signature("Amal Haddad")
    pdf = bytearray(build().pdf)
    index = pdf.index(b"Amal") if b"Amal" in pdf else len(pdf) // 3
    pdf[index] ^= 0x01
    _reader, status = validate(bytes(pdf), app, authority)
    assert not status.intact


def test_with_trust_roots_the_bundle_is_b_lta(tsa_app, authority):
    app = tsa_app(BUNDLE_TRUST_ROOTS=str(authority.root_pem))
    add_signature("Amal Haddad")
    built = build()
    reader, status = validate(built.pdf, app, authority)
    assert status.intact and status.valid and status.timestamp_validity.trusted
    assert "/DSS" in reader.root  # the chains (and any revocation data) are in the document
    assert len(reader.embedded_signatures) == 2  # the signature, then the document timestamp
    assert json.loads(built.manifest)["signature_level"] == "PAdES-B-LTA"


def test_without_a_tsa_the_bundle_says_so(bundle_app):
    add_signature("Amal Haddad")
    built = build()
    manifest = json.loads(built.manifest)
    assert manifest["timestamp"] is None and manifest["signature_level"] == "PAdES-B-B"
    assert services.timestamp_of(built.bundle) is None
    assert "No trusted timestamp" in squash(pdf_text(built.pdf)[0])


def test_a_tsa_that_fails_stores_no_bundle(tsa_app, authority):
    tsa_app()
    add_signature("Amal Haddad")
    authority.fail = True
    with pytest.raises(services.BundleError, match="timestamp authority"):
        build()
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Bundle)) == 0


@pytest.mark.parametrize("lang", ["en", "ar"])
def test_the_bundle_is_tagged_and_has_a_language(bundle_app, lang):
    import pypdf

    add_signature("Amal Haddad")
    built = build(lang)
    reader = pypdf.PdfReader(io.BytesIO(built.pdf))
    root = reader.trailer["/Root"]
    assert bool(root["/MarkInfo"]["/Marked"]) is True
    tree = root["/StructTreeRoot"].get_object()
    assert tree["/K"]  # a structure tree with content
    assert root["/Lang"] == lang
    assert bool(root["/ViewerPreferences"]["/DisplayDocTitle"]) is True
    titles = [item.title for item in reader.outline if not isinstance(item, list)]
    assert "Individual signatories" in titles or len(titles) >= 2
