"""Bundle content, languages, page numbers, signatures, manifests."""
from __future__ import annotations

import hashlib
import io
import json
import re
import shutil
import subprocess

import pytest
from sqlalchemy import func, select

from petition.bundles import services
from petition.bundles.models import Bundle, BundleReceipt
from petition.extensions import db
from petition.letters import services as letters
from tests.bundles.conftest import add_signature, pdf_text, squash


def build(lang="en", slug="secure-our-socials", **kwargs):
    built = services.build(db.session, letters.letter_row(slug), lang, **kwargs)
    db.session.commit()
    return built


def test_each_visibility_choice(bundle_app):
    full = add_signature("Amal Haddad", public="full", affiliation="Journalist", country="LB")
    named_initials = add_signature("Karim Mansour", public="initials", affiliation="Secret Ministry", country="JO")
    named_unlisted = add_signature("Claire Dubois", public="none", affiliation="Hidden Employer", country="FR")
    counted = add_signature("Omar Saleh", public="full", bundle="counted", country="EG")
    hidden = add_signature("Spam Bot", public="full", hidden=True)
    pending = add_signature("Pending Person", status="pending")

    built = build()
    text = squash(" ".join(pdf_text(built.pdf)))
    assert "Amal Haddad" in text and "Journalist" in text
    # initials as chosen, and no affiliation beside initials
    assert "K. M." in text and "Karim" not in text and "Secret Ministry" not in text
    # named in the bundle but not on the public page: the name, without affiliation
    assert "Claire Dubois" in text and "Hidden Employer" not in text
    for absent in ("Omar", "Saleh", "Spam Bot", "Pending Person"):
        assert absent not in text
    assert "and 1 more signatory who asked not to be named" in text
    assert "Lebanon" in text and "Jordan" in text
    manifest = json.loads(built.manifest)
    assert manifest["counts"] == {"individuals": 4, "online": 4, "named": 3, "counted_only": 1, "paper": 0,
                                  "paper_named": 0, "organisations": 5, "countries": 4}
    receipts = set(manifest["receipts"])
    from petition.signing.services import receipt_hash

    assert {receipt_hash(s.code) for s in (full, named_initials, named_unlisted, counted)} == receipts
    assert receipt_hash(hidden.code) not in receipts and receipt_hash(pending.code) not in receipts
    stored = set(db.session.scalars(select(BundleReceipt.receipt_hash).where(BundleReceipt.bundle_id == built.bundle.id)))
    assert stored == receipts


def test_cover_and_letter(bundle_app):
    add_signature("Amal Haddad")
    built = build()
    pages = pdf_text(built.pdf)
    cover = squash(pages[0])
    loaded = letters.loaded("secure-our-socials")
    assert squash(loaded.texts["en"].front.title)[:30] in cover
    assert "Meta" in cover and built.bundle.id in cover
    assert "(Facebook, Instagram)" in cover
    assert loaded.texts["en"].version_hash in cover
    assert "Test campaign signer" in cover
    body = squash(" ".join(pages[1:]))
    assert "What we ask" in body and "Initiators" in body and "Damj Association" in body
    # initiators come before approved organisations, which come before the individuals
    assert body.index("Damj Association") < body.index("Individual signatories")


def test_arabic_bundle_text_extracts_in_logical_order(bundle_app):
    add_signature("سارة خليل", public="full", affiliation="صحفية", country="LB")
    add_signature("Amal Haddad", public="full", country="FR")
    add_signature("Μαρία Γεωργίου", public="full", country="GR")
    add_signature("محمد Haddad", public="full", country="SA")
    built = build("ar")
    text = " ".join(pdf_text(built.pdf))
    assert "سارة خليل" in text and "Amal Haddad" in text and "Μαρία Γεωργίου" in text
    assert "صحفية" in text
    # every country name right, also after a mixed-script cell (a font switch)
    for name in ("لبنان", "فرنسا", "اليونان", "المملكة العربية السعودية"):
        assert name in text
    loaded = letters.loaded("secure-our-socials")
    assert loaded.texts["ar"].front.title[:12] in text
    pages = pdf_text(built.pdf)
    # The addressees' platforms are listed with the Arabic comma, not a Latin one.
    assert re.search(r"Facebook\s*،\s*Instagram", pages[0]) and not re.search(r"Facebook\s*,", pages[0])
    assert all("صفحة" in page for page in pages)  # "page X of Y" in Arabic on every page
    assert "الموقّعون الأفراد" in text and "التواقيع حسب البلد" in text


@pytest.mark.skipif(not shutil.which("pdftotext"), reason="poppler-utils not installed")
def test_pdftotext_finds_latin_and_arabic_names(bundle_app, tmp_path):
    add_signature("سارة خليل", public="full")
    add_signature("Julien Martin", public="full")
    built = build("ar")
    path = tmp_path / "bundle.pdf"
    path.write_bytes(built.pdf)
    out = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True).stdout
    assert "Julien Martin" in out
    assert "خليل" in out and "سارة" in out


def test_page_numbers_across_parts(bundle_app, monkeypatch):
    from petition.bundles.pdf import annex

    monkeypatch.setattr(services, "CHUNK_PAGES", 1)  # one page per chunk: many parts to join
    for i in range(annex.ROWS_PER_PAGE * 2 + 5):
        add_signature(f"Person Number{i:03d}", public="full", country=("LB", "FR", "DE")[i % 3])
    add_signature("Counted Only", bundle="counted")
    built = build(workers=2)  # real spawn workers
    pages = pdf_text(built.pdf)
    total = len(pages)
    assert built.bundle.pages == total
    for number, text in enumerate(pages, 1):
        assert f"page {number} of {total}" in squash(text), (number, text[-200:])
    # rows are numbered on across chunks, in signing order
    annex_text = squash(" ".join(pages))
    assert "Person Number000" in annex_text and "Person Number112" in annex_text
    assert annex_text.index("Person Number053") < annex_text.index("Person Number054")


def test_signature_is_valid_and_breaks_on_change(bundle_app):
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext

    from petition.bundles import signing_keys

    add_signature("Amal Haddad")
    built = build()
    signer = signing_keys.load_signer(bundle_app.config["PETITION"])
    context = ValidationContext(trust_roots=[signer.signing_cert])
    [embedded] = PdfFileReader(io.BytesIO(built.pdf)).embedded_signatures
    status = validate_pdf_signature(embedded, context)
    assert status.intact and status.valid and status.trusted
    assert status.coverage.name == "ENTIRE_FILE"

    damaged = bytearray(built.pdf)
    position = len(damaged) // 3
    damaged[position] ^= 0x01
    [embedded] = PdfFileReader(io.BytesIO(bytes(damaged)), strict=False).embedded_signatures
    assert not validate_pdf_signature(embedded, context).intact


def test_manifest_matches_the_stored_file(bundle_app):
    add_signature("Amal Haddad")
    built = build()
    stored = db.session.get(Bundle, built.bundle.id)
    pdf = services.pdf_bytes(db.session, stored)
    manifest = json.loads(stored.manifest)
    assert manifest["pdf_sha256"] == hashlib.sha256(pdf).hexdigest() == stored.sha256
    assert manifest["pdf_bytes"] == len(pdf) == stored.size_bytes
    assert manifest["letter"] == "secure-our-socials" and manifest["lang"] == "en"
    assert manifest["version_hash"] == letters.loaded("secure-our-socials").texts["en"].version_hash
    assert manifest["bundle_id"] == stored.id and manifest["pages"] == stored.pages
    assert manifest["built_at"]


def test_withdrawal_after_delivery_is_reflected_in_the_next_bundle(bundle_app):
    from petition import tokens
    from petition.signing import services as signing
    from petition.signing.models import Signature

    stays = add_signature("Amal Haddad")
    leaves = add_signature("Rania Moreau")
    first = build()
    row = letters.letter_row("secure-our-socials")
    from petition.deliveries import services as deliveries

    deliveries.record(db.session, row, first.bundle, company="Meta", delivered_on=first.bundle.created_at.date(),
                      channel="email", recipient="policy team", actor=None)
    db.session.commit()
    assert row.status == "open"  # a delivery never closes the letter
    assert "Rania Moreau" in " ".join(pdf_text(first.pdf))

    nonce, nonce_hash = tokens.new_nonce()
    db.session.get(Signature, leaves.id).manage_nonce_hash = nonce_hash
    db.session.commit()
    signing.withdraw(db.session, tokens.make(signing.MANAGE, leaves.id, nonce))
    db.session.commit()
    second = build()
    text = " ".join(pdf_text(second.pdf))
    assert "Rania Moreau" not in text and "Amal Haddad" in text
    assert json.loads(second.manifest)["counts"]["individuals"] == 1
    # the delivered bundle itself is what it was
    assert services.pdf_bytes(db.session, first.bundle) == first.pdf
    assert stays.code


def test_unknown_language_and_missing_key(bundle_app, make_app, tmp_path):
    with pytest.raises(services.BundleError):
        build("el", slug="protect-women-hrds")
    from petition.bundles.signing_keys import SigningKeyMissing

    db.session.rollback()
    db.session.remove()  # end this app's transaction before the next app resets the database
    other = make_app(BUNDLE_PKCS12_PATH=str(tmp_path / "nowhere.p12"), BUNDLE_WORKERS=0)
    with other.app_context():
        with pytest.raises(SigningKeyMissing):
            services.build(db.session, letters.letter_row("secure-our-socials"), "en")


def test_cli_build_writes_pdf_and_manifest(bundle_app, tmp_path):
    add_signature("Amal Haddad")
    output = tmp_path / "out" / "bundle.pdf"
    output.parent.mkdir()
    result = bundle_app.test_cli_runner().invoke(args=["bundle", "build", "secure-our-socials", "--lang", "fr",
                                                       "--output", str(output)])
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "out" / "bundle.pdf.manifest.json").read_text())
    assert manifest["pdf_sha256"] == hashlib.sha256(output.read_bytes()).hexdigest()
    assert manifest["lang"] == "fr"
    assert db.session.scalar(select(func.count()).select_from(Bundle)) == 1
    bad = bundle_app.test_cli_runner().invoke(args=["bundle", "build", "no-such-letter", "--lang", "en"])
    assert bad.exit_code != 0 and "no letter" in bad.output


def test_keys_init_refuses_to_overwrite(bundle_app):
    result = bundle_app.test_cli_runner().invoke(args=["keys", "init"])
    assert result.exit_code != 0 and "exists already" in result.output
    result = bundle_app.test_cli_runner().invoke(args=["keys", "init", "--force", "--common-name", "New signer"])
    assert result.exit_code == 0, result.output
    assert "certificate SHA-256" in result.output
